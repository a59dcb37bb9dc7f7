"""Real models for the executor and the calibration (issue 15): a device-memory pool of
parameter blocks read from safetensors files, and models built from resident tensors.

Imports torch (and, for ``transformers`` models and PEFT adapters, ``transformers``/``peft``,
lazily); the solvers never import this module.

* :class:`BlockPool` keeps blocks of a :class:`~edgeinfer.dnn.library.Library` in device memory.
  Loading a block reads each of its tensors' byte ranges from its file (``os.preadv``; with
  ``cache="cold"`` the range's pages are first dropped from the page cache with
  ``posix_fadvise(POSIX_FADV_DONTNEED)``): on the CPU straight into the pool's tensor (device
  memory is host memory, so eq. (8)'s second phase is empty), on CUDA into a pinned staging
  buffer and then copied to the device (``non_blocking``, then ``torch.cuda.synchronize``).
  A block is resident once however many models hold it; evicting drops the pool's reference.
* :func:`build_model` assembles a model from the resident tensors without copying them
  (``load_state_dict(assign=True)``): zoo architectures (``edgeinfer.dnn.zoo``, built on the
  ``meta`` device), ``transformers`` models from their ``config.json`` (built with
  ``no_init_weights``; only classes ``transformers`` itself defines, never remote code) and LoRA
  adapters applied unmerged through ``peft.inject_adapter_in_model``.
* :func:`synthetic_input` makes an input batch of the right shape (images for zoo models,
  token ids of ``seq_len`` for ``transformers`` models).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from edgeinfer.core.errors import InvalidInstanceError, InvalidOptionError
from edgeinfer.dnn.library import Library, ModelDoc, read_safetensors_header

__all__ = ["BlockPool", "LoadTiming", "ModelCache", "build_model", "run_batch", "synthetic_input", "input_shape", "resolve_device",
           "synchronize", "provenance", "check_library_files", "drop_cache_supported", "torch_dtype"]

_DTYPES = {
    "BOOL": "bool", "U8": "uint8", "I8": "int8", "I16": "int16", "U16": "uint16", "F16": "float16",
    "BF16": "bfloat16", "I32": "int32", "U32": "uint32", "F32": "float32", "I64": "int64", "U64": "uint64",
    "F64": "float64", "C64": "complex64", "F8_E4M3": "float8_e4m3fn", "F8_E5M2": "float8_e5m2",
    "F8_E8M0": "float8_e8m0fnu",
}
#: default sequence length of the synthetic token batches of ``transformers`` models
DEFAULT_SEQ_LEN = 32


def torch_dtype(name: str) -> torch.dtype:
    """The torch dtype of a safetensors dtype name (``InvalidInstanceError`` if this torch lacks it)."""
    attr = _DTYPES.get(name)
    dt = getattr(torch, attr, None) if attr else None
    if not isinstance(dt, torch.dtype):
        raise InvalidInstanceError("dtype", f"safetensors dtype {name!r} is not supported by this torch")
    return dt


def resolve_device(name: str) -> torch.device:
    """``cpu`` or ``cuda``; ``cuda`` without a usable GPU is an ``InvalidOptionError`` (exit 2)."""
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda":
        if not torch.cuda.is_available():
            raise InvalidOptionError("--device", "cuda requested but torch.cuda.is_available() is False "
                                                 "(no GPU or a CPU-only torch); use --device cpu")
        return torch.device("cuda", torch.cuda.current_device())
    raise InvalidOptionError("--device", f"must be cpu or cuda, not {name[:40]!r}")


def provenance(device: torch.device, command: Sequence[str] | None) -> dict[str, Any]:
    """Where and how a measurement was made: device name, torch and Python versions, platform,
    date (UTC), the command line, the load average and torch's intra-op threads."""
    import platform
    import sys
    from datetime import UTC, datetime

    from edgeinfer import __version__

    name = torch.cuda.get_device_name(device) if device.type == "cuda" else (platform.processor() or platform.machine()
                                                                            or "cpu")
    try:
        load: list[float] | None = [float(v) for v in os.getloadavg()]
    except OSError:
        load = None
    return {"device_name": name, "torch_version": torch.__version__, "python_version": platform.python_version(),
            "platform": platform.platform(), "date_utc": datetime.now(UTC).isoformat(timespec="seconds"),
            "command": list(command) if command is not None else list(sys.argv), "edgeinfer_version": __version__,
            "load_average": load, "threads": torch.get_num_threads()}


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work (CUDA); a no-op on the CPU."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def drop_cache_supported() -> bool:
    return hasattr(os, "posix_fadvise") and hasattr(os, "POSIX_FADV_DONTNEED")


def check_library_files(lib: Library, block_ids: Iterable[str]) -> None:
    """Every file holding the blocks' tensors is a safetensors file whose header lists each tensor
    with the library's dtype, shape and byte range; else an ``InvalidInstanceError`` naming the
    file (a corrupted, truncated, changed or missing file is refused before anything runs)."""
    headers: dict[str, Any] = {}
    for bid in sorted(set(block_ids)):
        b = lib.block(bid)
        for t in b.tensors:
            if t.file not in headers:
                headers[t.file] = read_safetensors_header(lib.file_path(t.file), field=f"library: {t.file}")
            entry = headers[t.file].tensors.get(t.name)
            if entry is None or (entry.dtype, list(entry.shape), entry.begin, entry.end) != (
                    t.dtype, list(t.shape), *t.offsets):
                raise InvalidInstanceError(f"library: {t.file}", f"tensor {t.name[:80]!r} of block {bid[:40]} is not "
                                                                 "where the library says (the file changed: rescan)")


def _resident(t: torch.Tensor) -> nn.Parameter:
    """A resident tensor, wrapped once as a frozen ``Parameter``: every model holding the block gets
    this very object (parameters and buffers alike)."""
    return nn.Parameter(t, requires_grad=False)


@dataclass
class LoadTiming:
    """Seconds spent by one :meth:`BlockPool.load` call: reading (disk -> host) and copying (host ->
    device), the bytes and blocks loaded."""

    read_s: float = 0.0
    copy_s: float = 0.0
    bytes: int = 0
    blocks: int = 0


@dataclass
class BlockPool:
    """Blocks resident in device memory: block id -> its tensors (in the block's tensor order)."""

    lib: Library
    device: torch.device
    cache: str = "cold"
    resident: dict[str, list[torch.Tensor]] = field(default_factory=dict)
    #: how many times each block was read from its file
    load_count: dict[str, int] = field(default_factory=dict)
    _fds: dict[str, int] = field(default_factory=dict)
    _staging: torch.Tensor | None = None

    def __post_init__(self) -> None:
        if self.cache not in ("cold", "warm"):
            raise InvalidOptionError("--cache", f"must be cold or warm, not {self.cache!r}")
        if self.cache == "cold" and not drop_cache_supported():
            raise InvalidOptionError("--cache", "cold reads need posix_fadvise (not on this OS); use --cache warm")

    def _fd(self, name: str) -> int:
        fd = self._fds.get(name)
        if fd is None:
            fd = os.open(self.lib.file_path(name), os.O_RDONLY)
            self._fds[name] = fd
        return fd

    def close(self) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()

    def __enter__(self) -> BlockPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def resident_bytes(self) -> int:
        return sum(int(t.numel() * t.element_size()) for ts in self.resident.values() for t in ts)

    def drop_cache(self, block_ids: Iterable[str]) -> None:
        """Drop the page-cache pages of the blocks' byte ranges (``cache="cold"``; else nothing)."""
        if self.cache != "cold":
            return
        for bid in block_ids:
            for t in self.lib.block(bid).tensors:
                fd = self._fd(t.file)
                begin, end = t.offsets
                if end > begin:
                    os.posix_fadvise(fd, begin, end - begin, os.POSIX_FADV_DONTNEED)

    def _read_into(self, fd: int, buf: torch.Tensor, offset: int, what: str) -> None:
        view = memoryview(buf.numpy()).cast("B")  # type: ignore[arg-type]
        done = 0
        n = len(view)
        while done < n:
            got = os.preadv(fd, [view[done:]], offset + done)
            if got <= 0:
                raise InvalidInstanceError(f"library: {what}", f"file ended after {done} of {n} bytes (truncated?)")
            done += got

    def load(self, block_ids: Sequence[str]) -> LoadTiming:
        """Load the blocks that are not resident; resident ones are skipped (loaded once)."""
        timing = LoadTiming()
        cuda = self.device.type == "cuda"
        for bid in block_ids:
            if bid in self.resident:
                continue
            block = self.lib.block(bid)
            tensors: list[torch.Tensor] = []
            if cuda:
                need = block.bytes
                if self._staging is None or self._staging.numel() < need:
                    self._staging = torch.empty(max(need, 1), dtype=torch.uint8, pin_memory=True)
                t0 = time.perf_counter()
                pos = 0
                for t in block.tensors:
                    n = t.offsets[1] - t.offsets[0]
                    if n:
                        self._read_into(self._fd(t.file), self._staging[pos:pos + n], t.offsets[0], t.file)
                    pos += n
                t1 = time.perf_counter()
                pos = 0
                for t in block.tensors:
                    n = t.offsets[1] - t.offsets[0]
                    dev = torch.empty(n, dtype=torch.uint8, device=self.device)
                    if n:
                        dev.copy_(self._staging[pos:pos + n], non_blocking=True)
                    tensors.append(_resident(dev.view(torch_dtype(t.dtype)).reshape(t.shape)))
                    pos += n
                torch.cuda.synchronize(self.device)
                t2 = time.perf_counter()
            else:
                t0 = time.perf_counter()
                for t in block.tensors:
                    n = t.offsets[1] - t.offsets[0]
                    buf = torch.empty(n, dtype=torch.uint8)
                    if n:
                        self._read_into(self._fd(t.file), buf, t.offsets[0], t.file)
                    tensors.append(_resident(buf.view(torch_dtype(t.dtype)).reshape(t.shape)))
                t1 = t2 = time.perf_counter()
            timing.read_s += t1 - t0
            timing.copy_s += t2 - t1
            timing.bytes += int(block.bytes)
            timing.blocks += 1
            self.resident[bid] = tensors
            self.load_count[bid] = self.load_count.get(bid, 0) + 1
        return timing

    def evict_except(self, keep: Iterable[str]) -> list[str]:
        """Drop every resident block not in ``keep``; returns the evicted ids."""
        keep_set = set(keep)
        gone = [b for b in self.resident if b not in keep_set]
        for b in gone:
            del self.resident[b]
        return gone

    def state_dict(self, model: ModelDoc) -> dict[str, torch.Tensor]:
        """``{tensor name in the model: resident tensor}`` (every block of the model must be resident)."""
        out: dict[str, torch.Tensor] = {}
        for bid, names in zip(model.blocks, model.tensor_names, strict=True):
            ts = self.resident.get(bid)
            if ts is None:
                raise KeyError(f"block {bid} of model {model.id} is not resident")
            out.update(zip(names, ts, strict=True))
        return out


# ------------------------------------------------------------------------------------------ models
def _zoo_name(model: ModelDoc, lib: Library) -> str | None:
    if model.arch.zoo:
        return model.arch.zoo
    if model.kind == "adapter" and model.base is not None:
        return lib.model(model.base).arch.zoo
    return None


def _hf_config(model: ModelDoc, lib: Library) -> dict[str, Any] | None:
    if model.arch.config is not None:
        return model.arch.config
    if model.kind == "adapter" and model.base is not None:
        return lib.model(model.base).arch.config
    return None


def input_shape(model: ModelDoc, lib: Library, seq_len: int = DEFAULT_SEQ_LEN) -> tuple[int, ...]:
    """One sample's input shape: ``(C, H, W)`` of a zoo model, ``(seq_len,)`` token ids of a
    ``transformers`` model; ``InvalidInstanceError`` when the library says neither."""
    zoo = _zoo_name(model, lib)
    if zoo is not None:
        from edgeinfer.dnn.zoo import default_input_shape

        return tuple(default_input_shape(zoo))
    if _hf_config(model, lib) is not None:
        return (int(seq_len),)
    raise InvalidInstanceError(f"library: models[{model.id}].arch", "neither a zoo architecture nor a transformers "
                                                                    "config.json: cannot build this model")


def synthetic_input(model: ModelDoc, lib: Library, batch: int, device: torch.device, *, seq_len: int = DEFAULT_SEQ_LEN,
                    generator: torch.Generator | None = None) -> torch.Tensor:
    """A batch of synthetic inputs of the model's shape (random images, or random token ids)."""
    shape = input_shape(model, lib, seq_len)
    if _zoo_name(model, lib) is not None:
        return torch.randn((batch, *shape), generator=generator).to(device)
    cfg = _hf_config(model, lib) or {}
    vocab = int(cfg.get("vocab_size", 2) or 2)
    return torch.randint(0, max(vocab, 1), (batch, *shape), generator=generator).to(device)


def _check_materialised(module: nn.Module, model_id: str) -> None:
    for name, t in [*module.named_parameters(), *module.named_buffers()]:
        if t.is_meta:
            raise InvalidInstanceError(f"library: models[{model_id}]", f"tensor {name} is not in the checkpoint "
                                                                       "(the architecture needs it)")


def _build_zoo(zoo: str, sd: dict[str, torch.Tensor], model_id: str) -> tuple[nn.Module, dict[str, str]]:
    from edgeinfer.dnn.zoo import get_model

    m = get_model(zoo, device="meta")
    try:
        m.load_state_dict(sd, strict=True, assign=True)
    except RuntimeError as exc:
        raise InvalidInstanceError(f"library: models[{model_id}]", f"tensors do not fit zoo model {zoo!r}: "
                                                                   f"{str(exc).splitlines()[0][:200]}") from None
    _check_materialised(m, model_id)
    m.requires_grad_(False)
    return m.eval(), {k: k for k in sd}


def _hf_class(cfg_doc: dict[str, Any], model_id: str) -> tuple[Any, Any]:
    import transformers

    if not isinstance(cfg_doc.get("model_type"), str):
        raise InvalidInstanceError(f"library: models[{model_id}].arch.config.model_type", "missing or not a string")
    if cfg_doc.get("auto_map"):
        raise InvalidInstanceError(f"library: models[{model_id}].arch.config.auto_map",
                                   "remote code is never run: only architectures transformers defines are built")
    kwargs = {k: v for k, v in cfg_doc.items() if k not in ("model_type", "transformers_version")}
    try:
        config = transformers.AutoConfig.for_model(cfg_doc["model_type"], **kwargs)
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidInstanceError(f"library: models[{model_id}].arch.config", f"not a transformers config: "
                                                                               f"{str(exc)[:200]}") from None
    archs = getattr(config, "architectures", None) or []
    cls = getattr(transformers, archs[0], None) if archs and isinstance(archs[0], str) else None
    if cls is None or not (isinstance(cls, type) and issubclass(cls, transformers.PreTrainedModel)):
        return transformers.AutoModel.from_config, config
    return cls, config


def _no_init() -> Any:
    try:
        from transformers.initialization import no_init_weights
    except ImportError:  # pragma: no cover - older transformers
        from transformers.modeling_utils import no_init_weights  # type: ignore[attr-defined,no-redef]
    return no_init_weights()


_ADAPTER_PREFIX = "base_model.model."


def _adapter_key(name: str, adapter: str) -> str:
    """A PEFT adapter file's tensor name -> its name in a model the adapter was injected into."""
    key = name[len(_ADAPTER_PREFIX):] if name.startswith(_ADAPTER_PREFIX) else name
    for part in (".lora_A.", ".lora_B."):
        if part in key:
            return key.replace(part, f"{part}{adapter}.", 1)
    for part in (".lora_embedding_A", ".lora_embedding_B"):
        if key.endswith(part):
            return f"{key}.{adapter}"
    raise InvalidInstanceError("library: adapter", f"tensor {name[:80]!r} is not a LoRA weight (only LoRA adapters "
                                                   "are applied)")


def _base_layer_key(key: str, known: set[str]) -> str:
    head, _, last = key.rpartition(".")
    cand = f"{head}.base_layer.{last}" if head else key
    return cand if cand in known else key


def _build_hf(cfg_doc: dict[str, Any], sd: dict[str, torch.Tensor], model: ModelDoc, lib: Library,
              device: torch.device) -> tuple[nn.Module, dict[str, str]]:
    cls, config = _hf_class(cfg_doc, model.id)
    with _no_init():
        m = cls(config)
    adapter_sd: dict[str, torch.Tensor] = {}
    base_sd = sd
    keymap = {k: k for k in sd}
    if model.kind == "adapter":
        import peft

        acfg = dict(model.adapter_config or {})
        if str(acfg.get("peft_type", "")).upper() != "LORA":
            raise InvalidInstanceError(f"library: models[{model.id}].adapter_config.peft_type",
                                       f"{acfg.get('peft_type')!r}: only LoRA adapters are applied")
        base = lib.model(str(model.base))
        base_names = {n for names in base.tensor_names for n in names}
        base_sd = {k: v for k, v in sd.items() if k in base_names}
        try:
            pcfg = peft.LoraConfig(**{k: v for k, v in acfg.items() if k in peft.LoraConfig.__dataclass_fields__})
        except (TypeError, ValueError) as exc:
            raise InvalidInstanceError(f"library: models[{model.id}].adapter_config", str(exc)[:200]) from None
        pcfg.inference_mode = True
        peft.inject_adapter_in_model(pcfg, m, adapter_name="default")
        known = set(m.state_dict())
        keymap = {k: _adapter_key(k, "default") for k in sd if k not in base_names}
        # an injected layer keeps its original weights as ``<module>.base_layer.<name>``
        keymap.update({k: k if k in known else _base_layer_key(k, known) for k in base_sd})
        adapter_sd = {keymap[k]: v for k, v in sd.items() if k not in base_names}
        base_sd = {keymap[k]: v for k, v in base_sd.items()}
    full = {**base_sd, **adapter_sd}
    result = m.load_state_dict(full, strict=False, assign=True)
    if result.unexpected_keys:
        raise InvalidInstanceError(f"library: models[{model.id}]", f"tensor {result.unexpected_keys[0][:80]!r} is not "
                                                                   "in the architecture")
    tied = getattr(m, "_tied_weights_keys", None) or []
    tied_names = set(tied) if isinstance(tied, list | tuple | set) else set(dict(tied))
    missing = [k for k in result.missing_keys if k not in tied_names]
    if missing:
        raise InvalidInstanceError(f"library: models[{model.id}]", f"tensor {missing[0][:80]!r} is missing from "
                                                                   "the checkpoint")
    if tied_names & set(result.missing_keys):
        m.tie_weights()
    for mod in m.modules():  # non-persistent buffers (rotary frequencies) were made on the CPU
        for name, buf in list(mod._buffers.items()):
            if buf is not None and buf.device != device:
                mod._buffers[name] = buf.to(device)
    m.requires_grad_(False)
    return m.eval(), keymap


def _build(lib: Library, model: ModelDoc, pool: BlockPool) -> tuple[nn.Module, dict[str, str]]:
    sd = pool.state_dict(model)
    zoo = _zoo_name(model, lib)
    if zoo is not None:
        if model.kind == "adapter":
            raise InvalidInstanceError(f"library: models[{model.id}]", "adapters over zoo models are not built")
        return _build_zoo(zoo, sd, model.id)
    cfg = _hf_config(model, lib)
    if cfg is None:
        raise InvalidInstanceError(f"library: models[{model.id}].arch", "neither a zoo architecture nor a "
                                                                        "transformers config.json")
    return _build_hf(cfg, sd, model, lib, pool.device)


def build_model(lib: Library, model: ModelDoc, pool: BlockPool) -> nn.Module:
    """Model ``model`` assembled from the pool's resident tensors, in eval mode; its parameters
    and buffers are the resident tensors themselves (no copy)."""
    return _build(lib, model, pool)[0]


@dataclass
class _Slot:
    module: nn.Module
    #: (owning module, attribute, is a parameter, the model's tensor name, a meta placeholder)
    targets: list[tuple[nn.Module, str, bool, str, torch.Tensor]]
    tie: bool


class ModelCache:
    """Built models kept as skeletons: the first :meth:`get` of a model builds it
    (:func:`build_model`), later ones only point its parameters and buffers at the pool's resident
    tensors again (a few microseconds per tensor instead of rebuilding the architecture);
    :meth:`release` points them at ``meta`` placeholders, so an evicted block's memory is freed."""

    def __init__(self, lib: Library) -> None:
        self.lib = lib
        self.slots: dict[str, _Slot] = {}

    def get(self, model: ModelDoc, pool: BlockPool) -> nn.Module:
        slot = self.slots.get(model.id)
        if slot is None:
            module, keymap = _build(self.lib, model, pool)
            targets = []
            for name, key in keymap.items():
                prefix, _, attr = key.rpartition(".")
                owner = module.get_submodule(prefix) if prefix else module
                is_param = attr in owner._parameters
                cur = owner._parameters[attr] if is_param else owner._buffers[attr]
                assert cur is not None
                targets.append((owner, attr, is_param, name, torch.empty_like(cur, device="meta")))
            tied = getattr(module, "_tied_weights_keys", None)
            self.slots[model.id] = _Slot(module, targets, bool(tied) and bool(getattr(
                getattr(module, "config", None), "tie_word_embeddings", False)))
            return module
        sd = pool.state_dict(model)
        for owner, attr, is_param, name, _ in slot.targets:
            if is_param:
                owner._parameters[attr] = sd[name]  # type: ignore[assignment]
            else:
                owner._buffers[attr] = sd[name]
        if slot.tie:
            slot.module.tie_weights()  # type: ignore[operator]
        return slot.module

    def release(self, model_id: str) -> None:
        slot = self.slots.get(model_id)
        if slot is None:
            return
        for owner, attr, is_param, _, meta in slot.targets:
            if is_param:
                owner._parameters[attr] = nn.Parameter(meta, requires_grad=False)
            else:
                owner._buffers[attr] = meta


def run_batch(module: nn.Module, x: torch.Tensor) -> Any:
    """One forward pass (inference mode)."""
    with torch.inference_mode():
        return module(x)
