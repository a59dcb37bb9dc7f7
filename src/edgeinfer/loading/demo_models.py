"""Small real checkpoints made locally for the executor's demo and tests (issue 15; imports torch).

:func:`make_demo_models` writes into a folder:

* ``vit_base/model.safetensors``: the zoo's ``vit_tiny`` with seeded random weights (metadata
  ``edgeinfer.zoo = vit_tiny`` so ``edgeinfer library scan`` knows the architecture), and
  ``vit_ft{k}``: "fine-tuned" copies whose encoder blocks from ``k`` on and head are redrawn
  (the bottom ``k`` blocks and the patch embedding frozen, i.e. shared with the base: the
  backbone-sharing case of PartialLoading's Definition 2);
* with ``llama=True`` (needs ``transformers`` and ``peft``): ``llama_base`` (a tiny
  ``LlamaForCausalLM``, ``save_pretrained`` with its ``config.json``) and ``lora_a``, ``lora_b``:
  LoRA adapters over it (rank 4 on the attention projections, nonzero B), saved by ``peft``.

Nothing is downloaded. Returns the paths to scan.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

__all__ = ["make_demo_models"]


def _save_zoo(sd: dict[str, torch.Tensor], folder: Path, zoo: str) -> Path:
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "model.safetensors"
    save_file({k: v.contiguous() for k, v in sd.items()}, str(path), metadata={"edgeinfer.zoo": zoo})
    return folder


def make_demo_models(out: str | Path, *, frozen: tuple[int, ...] = (2, 4, 5), llama: bool = False,
                     seed: int = 0) -> list[Path]:
    """Write the demo checkpoints into ``out``; returns the model folders (checkpoints first)."""
    from edgeinfer.dnn.zoo import get_model

    root = Path(out)
    torch.manual_seed(seed)
    base = get_model("vit_tiny")
    base_sd = {k: v.detach().clone() for k, v in base.state_dict().items()}
    paths = [_save_zoo(base_sd, root / "vit_base", "vit_tiny")]
    for k in frozen:
        if not 0 <= k <= 6:
            raise ValueError("vit_tiny has 6 encoder blocks: frozen depths must be in [0, 6]")
        g = torch.Generator().manual_seed(seed * 1000 + k + 1)
        sd = {}
        for name, t in base_sd.items():
            parts = name.split(".")
            redraw = name.startswith("head.") or (parts[0] == "blocks" and int(parts[1]) >= k)
            sd[name] = t + 0.02 * torch.randn(t.shape, generator=g) if redraw else t
        paths.append(_save_zoo(sd, root / f"vit_ft{k}", "vit_tiny"))
    if llama:
        paths += _make_llama(root, seed)
    return paths


def _make_llama(root: Path, seed: int) -> list[Path]:
    import peft
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=256, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                      tie_word_embeddings=False)
    model = LlamaForCausalLM(cfg).eval()
    base_dir = root / "llama_base"
    model.save_pretrained(base_dir, safe_serialization=True)
    out = [base_dir]
    for j, name in enumerate(("lora_a", "lora_b")):
        torch.manual_seed(seed + 10 + j)
        pcfg = peft.LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], lora_dropout=0.0)
        pm = peft.get_peft_model(LlamaForCausalLM(cfg).eval(), pcfg)
        with torch.no_grad():
            for n, p in pm.named_parameters():
                if "lora_B" in n:
                    p.copy_(0.01 * torch.randn(p.shape))
        d = root / name
        pm.save_pretrained(str(d), safe_serialization=True)
        acfg_path = d / "adapter_config.json"
        acfg = json.loads(acfg_path.read_text())
        acfg["base_model_name_or_path"] = "llama_base"
        acfg_path.write_text(json.dumps(acfg, indent=1))
        out.append(d)
    return out


def main(argv: list[str] | None = None) -> int:
    """``python -m edgeinfer.loading.demo_models OUT [--no-llama]``: write the demo models, print
    their folders (one a line)."""
    import argparse

    p = argparse.ArgumentParser(prog="python -m edgeinfer.loading.demo_models")
    p.add_argument("out", help="folder to write the checkpoints into")
    p.add_argument("--no-llama", action="store_true", help="only the zoo ViTs (no transformers/peft needed)")
    args = p.parse_args(argv)
    for path in make_demo_models(args.out, llama=not args.no_llama):
        print(path)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
