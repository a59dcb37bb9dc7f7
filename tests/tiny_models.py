"""Tiny local checkpoints and adapters for the library scanner, calibration and the executor.

Nothing comes from a hub: every model is built from a config with seeded random weights and
saved as safetensors. :func:`build_tiny_models` writes into ``root``:

* ``base/``: a 2-layer LLaMA (hidden 32, vocab 64) saved by ``save_pretrained`` (``config.json``
  + ``model.safetensors``);
* ``ft_mlp/``: ``base`` with layer 1's MLP and the LM head changed (the rest identical);
* ``ft_attn/``: ``base`` with layer 0's attention projections changed;
* ``renamed.safetensors``: ``base``'s tensors under other names (every tensor prefixed
  ``renamed.``), identical bytes: a name-based scanner would share nothing;
* ``lora_a/``, ``lora_b/``: PEFT LoRA adapters on ``base`` (q_proj, v_proj; r 4; random A and B so
  their tensors differ), ``base_model_name_or_path`` = ``"base"`` (a model id) and the absolute
  path of ``base/`` respectively;
* ``lora_c/`` (``n_adapters=3``): a third adapter (k_proj, o_proj; r 2), base by name;
* ``zoo_vit.safetensors``, ``zoo_vit_ft.safetensors``: the zoo's ``vit_tiny`` with random
  weights (``__metadata__`` ``edgeinfer.zoo = vit_tiny``) and a copy whose classifier head differs.

:func:`expected` describes what was built (which tensors each model shares), for tests that
check a scan against it. Reuse: ``from tiny_models import build_tiny_models`` (``tests`` is on
pytest's ``pythonpath``), or the session fixture ``tiny_models`` of tests/conftest.py (built once
per session in a temporary folder; treat it as read-only).
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TINY_LLAMA = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
              "num_key_value_heads": 2, "vocab_size": 64, "max_position_embeddings": 64, "tie_word_embeddings": False}


@dataclass
class TinyModels:
    """Paths of the tiny models (keys: model ids as the scanner names them) and what they share."""

    root: Path
    paths: dict[str, Path] = field(default_factory=dict)
    #: checkpoint id -> the names (base's names) of the tensors that differ from base
    changed: dict[str, set[str]] = field(default_factory=dict)

    def all_paths(self) -> list[str]:
        return [str(p) for p in self.paths.values()]


def _llama(seed: int) -> Any:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    return LlamaForCausalLM(LlamaConfig(**TINY_LLAMA)).eval()


def _perturb(model: Any, prefixes: tuple[str, ...], seed: int) -> set[str]:
    import torch

    g = torch.Generator().manual_seed(seed)
    changed = set()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.startswith(prefixes):
                p.add_(0.01 * torch.randn(p.shape, generator=g))
                changed.add(name)
    return changed


def build_tiny_models(root: str | os.PathLike[str], *, n_adapters: int = 2, zoo: bool = True) -> TinyModels:
    """Write the tiny models into ``root`` (created) and return their paths; about 1-3 s."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return _build(Path(root), n_adapters, zoo)


def _build(root: Path, n_adapters: int, zoo: bool) -> TinyModels:
    import torch
    from peft import LoraConfig, get_peft_model
    from safetensors.torch import save_file

    out = TinyModels(root)
    out.root.mkdir(parents=True, exist_ok=True)
    base = _llama(0)
    base.save_pretrained(out.root / "base", safe_serialization=True)
    out.paths["base"] = out.root / "base"
    sd = {k: v.detach().clone() for k, v in base.state_dict().items()}
    out.changed["base"] = set()
    for name, prefixes, seed in (("ft_mlp", ("model.layers.1.mlp.", "lm_head."), 1),
                                 ("ft_attn", ("model.layers.0.self_attn.",), 2)):
        m = _llama(0)
        m.load_state_dict(sd)
        out.changed[name] = _perturb(m, prefixes, seed)
        m.save_pretrained(out.root / name, safe_serialization=True)
        out.paths[name] = out.root / name
    save_file({f"renamed.{k}": v.contiguous() for k, v in sd.items()}, str(out.root / "renamed.safetensors"))
    out.paths["renamed"] = out.root / "renamed.safetensors"
    out.changed["renamed"] = set()
    specs = [("lora_a", ("q_proj", "v_proj"), 4, "base"),
             ("lora_b", ("q_proj", "v_proj"), 4, str((out.root / "base").resolve())),
             ("lora_c", ("k_proj", "o_proj"), 2, "base")][:n_adapters]
    for k, (name, targets, r, base_ref) in enumerate(specs):
        m = _llama(0)
        m.load_state_dict(sd)
        torch.manual_seed(100 + k)
        cfg = LoraConfig(r=r, lora_alpha=2 * r, target_modules=list(targets), init_lora_weights=False,
                         lora_dropout=0.0)
        pm = get_peft_model(m, cfg)
        pm.save_pretrained(out.root / name, safe_serialization=True)
        acfg_path = out.root / name / "adapter_config.json"
        acfg = json.loads(acfg_path.read_text())
        acfg["base_model_name_or_path"] = base_ref
        acfg_path.write_text(json.dumps(acfg, indent=1))
        out.paths[name] = out.root / name
    if zoo:
        from edgeinfer.dnn.zoo import get_model

        torch.manual_seed(3)
        vit = get_model("vit_tiny")
        vsd = {k: v.detach().clone().contiguous() for k, v in vit.state_dict().items()}
        save_file(vsd, str(out.root / "zoo_vit.safetensors"), metadata={"edgeinfer.zoo": "vit_tiny"})
        ft = dict(vsd)
        head = [k for k in vsd if k.startswith("head.")]
        g = torch.Generator().manual_seed(4)
        for k in head:
            ft[k] = vsd[k] + 0.01 * torch.randn(vsd[k].shape, generator=g)
        save_file(ft, str(out.root / "zoo_vit_ft.safetensors"), metadata={"edgeinfer.zoo": "vit_tiny"})
        out.paths["zoo_vit"] = out.root / "zoo_vit.safetensors"
        out.paths["zoo_vit_ft"] = out.root / "zoo_vit_ft.safetensors"
        out.changed["zoo_vit"] = set()
        out.changed["zoo_vit_ft"] = set(head)
    return out
