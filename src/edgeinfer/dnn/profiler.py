"""Layer-by-layer profiler for chain models (needs torch).

MACs come from :class:`torch.utils.flop_counter.FlopCounterMode`, which counts
the FLOPs of matrix products, convolutions and attention (``FLOPs = 2 MACs``);
element-wise operations, normalisation and pooling count as zero, the same
convention as the published MAC figures (fvcore, ptflops' conv/linear counts).
Activation sizes come from forward hooks on each logical layer.

By default the model is run on PyTorch's ``meta`` device: shapes and operation
counts are exact, no memory is allocated and no arithmetic is done, so even
VGG-16 profiles in milliseconds.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.flop_counter import FlopCounterMode

from edgeinfer.core.errors import InvalidInstanceError
from edgeinfer.dnn.profiles import LayerProfile, ModelProfile
from edgeinfer.dnn.zoo import Chain, default_input_shape, get_model, param_layers
from edgeinfer.dnn.zoo import chain as zoo_chain

__all__ = ["profile_chain", "profile_model", "profile_param_layers", "profile_command", "parse_shape",
           "format_table"]


def parse_shape(text: str, field: str = "--input") -> tuple[int, ...]:
    """Parse ``"3x224x224"`` (also ``3,224,224``) into a tuple of positive ints."""
    parts = [p for p in re.split(r"[x,\s]+", text.strip().lower()) if p]
    try:
        shape = tuple(int(p) for p in parts)
    except ValueError:
        raise InvalidInstanceError(field, f"expected a shape like 3x224x224, got {text!r}") from None
    if not shape or any(s <= 0 for s in shape):
        raise InvalidInstanceError(field, f"expected positive dimensions like 3x224x224, got {text!r}")
    return shape


def _nbytes(out: Any) -> int:
    if isinstance(out, Tensor):
        return out.numel() * out.element_size()
    if isinstance(out, (list, tuple)):
        return sum(_nbytes(o) for o in out)
    if isinstance(out, dict):
        return sum(_nbytes(o) for o in out.values())
    return 0


def profile_chain(layers: Chain, input_shape: Sequence[int], batch: int = 1, *, name: str = "model",
                  device: str | torch.device | None = None, dtype: torch.dtype = torch.float32,
                  meta: dict[str, Any] | None = None) -> ModelProfile:
    """Profile an ordered chain of ``(name, module)`` logical layers.

    Parameters
    ----------
    layers: the chain (e.g. :func:`edgeinfer.dnn.zoo.chain`); its modules must be on ``device``.
    input_shape: shape of ONE sample, e.g. ``(3, 224, 224)``.
    batch: batch size used for the run; every number reported is per sample.
    name: the profile's model name.
    device: where to run; by default that of the chain's first parameter (CPU if it has
        none). Models built with ``device="meta"`` profile without memory or arithmetic.

    Returns
    -------
    A :class:`ModelProfile` whose layers carry parameters, parameter bytes, MACs
    per sample and output-activation bytes per sample. Parameters shared by two
    logical layers are counted once, in the first.
    """
    if batch < 1:
        raise InvalidInstanceError("batch", f"must be a positive integer, got {batch}")
    shape = tuple(int(s) for s in input_shape)
    if device is None:
        first = next((p for _, m in layers for p in m.parameters()), None)
        device = first.device if first is not None else torch.device("cpu")
    x = torch.zeros((batch, *shape), device=device, dtype=dtype)
    input_bytes = _nbytes(x) / batch
    seen: set[int] = set()
    out_sizes: dict[str, int] = {}
    results: list[LayerProfile] = []
    handles = []
    for lname, module in layers:
        handles.append(module.register_forward_hook(
            lambda _m, _inp, out, lname=lname: out_sizes.__setitem__(lname, _nbytes(out))))
    try:
        with torch.no_grad():
            for lname, module in layers:
                params = [p for p in module.parameters() if id(p) not in seen]
                seen.update(id(p) for p in params)
                with FlopCounterMode(display=False) as counter:
                    x = module(x)
                results.append(LayerProfile(
                    name=lname,
                    params=int(sum(p.numel() for p in params)),
                    macs=counter.get_total_flops() / 2.0 / batch,
                    output_bytes=out_sizes.get(lname, _nbytes(x)) / batch,
                    param_bytes=float(sum(p.numel() * p.element_size() for p in params)),
                ))
    except (RuntimeError, ValueError) as exc:
        raise InvalidInstanceError("input_shape", f"the model cannot run on input {list(shape)}: "
                                   f"{str(exc).splitlines()[0]}") from None
    finally:
        for h in handles:
            h.remove()
    return ModelProfile(name=name, layers=tuple(results), input_shape=shape, input_bytes=float(input_bytes),
                        dtype_bytes=torch.tensor([], dtype=dtype).element_size(), meta=dict(meta or {}))


def profile_model(name: str, input_shape: Sequence[int] | None = None, batch: int = 1) -> ModelProfile:
    """Profile zoo model ``name`` (built on the meta device) at its default or the given input shape."""
    model = get_model(name, device="meta")
    shape = tuple(input_shape) if input_shape is not None else default_input_shape(name)
    return profile_chain(zoo_chain(model), shape, batch, name=name,
                         meta={"source": "edgeinfer.dnn.profiler (FlopCounterMode, meta device)"})


def profile_param_layers(name: str, input_shape: Sequence[int] | None = None) -> ModelProfile:
    """Fine-grained profile of zoo model ``name``: one layer per parameter layer (:func:`~edgeinfer.dnn.zoo.param_layers`).

    For model *loading* (PartialLoading counts frozen "layers" at this
    granularity): ``params``/``param_bytes`` are each parameter layer's own
    (parameters directly owned by its modules), ``macs`` the MACs of its modules,
    ``output_bytes`` the output of its last module. The layers are loading units,
    NOT split points (residual branches run in parallel); ``meta["split_points"]``
    is ``False``. Per sample; profiled on the meta device. The profile is named
    ``<name>_fine``.
    """
    model = get_model(name, device="meta")
    shape = tuple(input_shape) if input_shape is not None else default_input_shape(name)
    groups = param_layers(model)
    outputs: dict[str, int] = {}
    handles = [module.register_forward_hook(
        lambda _m, _i, out, path=path: outputs.__setitem__(path, _nbytes(out)))
        for _, members in groups for path, module in members]
    x = torch.zeros((1, *shape), device="meta")
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(x)
    except (RuntimeError, ValueError) as exc:
        raise InvalidInstanceError("input_shape", f"the model cannot run on input {list(shape)}: "
                                   f"{str(exc).splitlines()[0]}") from None
    finally:
        for h in handles:
            h.remove()
    # FlopCounterMode's per-module counts include the children; take each module's own
    # (exclusive) FLOPs and charge a module outside every group (e.g. the attention
    # products of a ViT block) to the next group in registration order.
    flops = counter.get_flop_counts()
    prefix = type(model).__name__

    modules = dict(model.named_modules())

    def children(path: str) -> list[str]:
        return [f"{path}.{c}" if path else c for c, _ in modules[path].named_children()]

    def inclusive(path: str) -> float:
        key = f"{prefix}.{path}" if path else prefix
        if key in flops:
            return float(sum(flops[key].values()))
        return sum(inclusive(c) for c in children(path))  # containers never called (ModuleList)

    group_of = {path: gi for gi, (_, members) in enumerate(groups) for path, _ in members}
    group_flops = [0.0] * len(groups)
    pending = 0.0
    for path in modules:
        own_flops = inclusive(path) - sum(inclusive(c) for c in children(path))
        if path in group_of:
            group_flops[group_of[path]] += own_flops + pending
            pending = 0.0
        else:
            pending += own_flops
    group_flops[-1] += pending
    layers = []
    for gi, (gname, members) in enumerate(groups):
        own = [p for _, m in members for p in m.parameters(recurse=False)]
        macs = group_flops[gi] / 2.0
        last_path = members[-1][0]
        layers.append(LayerProfile(
            name=gname, params=int(sum(p.numel() for p in own)), macs=float(macs),
            output_bytes=float(outputs.get(last_path, 0)),
            param_bytes=float(sum(p.numel() * p.element_size() for p in own))))
    return ModelProfile(name=f"{name}_fine", layers=tuple(layers), input_shape=shape,
                        input_bytes=float(4 * np.prod(shape)), dtype_bytes=4,
                        meta={"split_points": False, "granularity": "parameter layers", "base_model": name,
                              "source": "edgeinfer.dnn.profiler.profile_param_layers (meta device)"})


def _human(x: float, unit: str = "") -> str:
    for scale, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= scale:
            return f"{x / scale:.3f} {suffix}{unit}"
    return f"{x:.0f} {unit}".rstrip()


def format_table(profile: ModelProfile, batch: int = 1) -> str:
    """Per-layer rows (params, MACs, output activation, cumulative MACs) and totals."""
    head = f"{'#':>3}  {'layer':<14} {'params':>12} {'MACs':>12} {'output':>12} {'cum. MACs':>12}"
    lines = [f"{profile.name}: input {'x'.join(map(str, profile.input_shape))}, per sample", head,
             "-" * len(head)]
    cum = profile.cumulative_macs()
    for i, lp in enumerate(profile.layers):
        lines.append(f"{i + 1:>3}  {lp.name:<14} {lp.params:>12,d} {_human(lp.macs):>12} "
                     f"{_human(lp.output_bytes, 'B'):>12} {_human(cum[i + 1]):>12}")
    lines.append("-" * len(head))
    lines.append(f"{'':>3}  {'total':<14} {profile.params:>12,d} {_human(profile.macs):>12}")
    lines.append(f"parameters: {profile.params:,d} ({_human(profile.param_bytes, 'B')}); "
                 f"MACs: {profile.macs:,.0f} ({_human(profile.macs)}); FLOPs: {_human(profile.flops)}")
    lines.append(f"batch {batch}: MACs {_human(batch * profile.macs)}, "
                 f"peak activation memory {_human(profile.peak_activation_bytes(batch), 'B')}")
    return "\n".join(lines)


def profile_command(model: str, input_shape: str | Sequence[int] | None = None, batch: int = 1,
                    as_json: bool = False) -> int:
    """``edgeinfer profile MODEL [--input 3x224x224] [--batch N] [--json]``; returns the exit code.

    Raises :class:`~edgeinfer.core.errors.UnknownNameError` for an unknown model and
    :class:`~edgeinfer.core.errors.InvalidInstanceError` for a bad ``--input`` or ``--batch``
    (the CLI turns both into exit code 2).
    """
    default_input_shape(model)  # UnknownNameError before anything else
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise InvalidInstanceError("--batch", f"must be a positive integer, got {batch!r}")
    shape = parse_shape(input_shape) if isinstance(input_shape, str) else input_shape
    if shape is not None and len(shape) != 3:
        raise InvalidInstanceError("--input", f"expected 3 dimensions CxHxW, got {len(shape)}")
    if shape is not None and shape[0] != 3:
        raise InvalidInstanceError("--input", f"the zoo models take 3 input channels, got {shape[0]}")
    profile = profile_model(model, shape, batch)
    if as_json:
        doc = profile.to_dict()
        doc["batch"] = batch
        doc["peak_activation_bytes"] = profile.peak_activation_bytes(batch)
        print(json.dumps(doc, indent=1))
    else:
        print(format_table(profile, batch))
    return 0
