"""Instance generators for ``slide``: from the zoo's real profiles and synthetic (benchmarks).

Both are random draws with one signature, ``f(config=None, *, seed=0 | rng=Generator,
**overrides)``, returning validated instances: :func:`make_instance` (:class:`ScenarioConfig`,
zoo models and device classes) and :func:`make_synthetic_instance` (:class:`SyntheticConfig`).

Device classes (effective sustained DNN throughput, FP32, and the dynamic-power coefficient
``kappa`` of ``E = kappa f^2 F``; documented in docs/streaming.md):

=============  ==================  ==============  ==========================
class          max FLOP/s          kappa           energy budget per task
=============  ==================  ==============  ==========================
iot            5e9                 4e-33           U(0.1, 1.0) J
phone          50e9                2e-33           U(0.05, 0.5) J
tablet         200e9               5e-34           U(0.1, 1.0) J
laptop-gpu     2e12                2e-35           U(0.5, 5.0) J
=============  ==================  ==============  ==========================

A layer's download is its parameters (``param_bytes * 8`` bits); its work is ``2 * MACs``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgeinfer.core.rng import SeedLike, scenario_setup
from edgeinfer.streaming.problem import SlideInstance, validate_instance

__all__ = ["DEVICE_CLASSES", "ScenarioConfig", "make_instance", "SyntheticConfig", "make_synthetic_instance",
           "zoo_models", "library_layers", "library_instance"]

#: name -> (max FLOP/s, kappa, (budget low, budget high) J)
DEVICE_CLASSES: dict[str, tuple[float, float, tuple[float, float]]] = {
    "iot": (5e9, 4e-33, (0.1, 1.0)),
    "phone": (50e9, 2e-33, (0.05, 0.5)),
    "tablet": (200e9, 5e-34, (0.1, 1.0)),
    "laptop-gpu": (2e12, 2e-35, (0.5, 5.0)),
}


@dataclass(frozen=True)
class ScenarioConfig:
    """Users from the device classes (uniformly), spectral efficiency U(1, 8) bit/s/Hz, deadline
    U(0.5, 1.5) x ``deadline_s``, ``n_candidates`` random candidate models out of ``models`` (zoo
    profiles); ``size_scale`` scales bits and FLOPs, ``bits_scale`` the bits only (e.g. 0.25 for int8)."""

    n_users: int = 50
    models: tuple[str, ...] = ("alexnet", "resnet18", "resnet50")
    bandwidth_hz: float = 100e6
    deadline_s: float = 1.0
    size_scale: float = 1.0
    classes: tuple[str, ...] = ("phone", "tablet", "laptop-gpu")
    n_candidates: int = 2
    bits_scale: float = 1.0


@dataclass(frozen=True)
class SyntheticConfig:
    """Random models (bits ~ U(0.1, 2) Mbit, FLOPs ~ U(10, 200) MFLOP per layer) and users."""

    n_users: int = 100
    n_models: int = 3
    n_layers: int = 50
    cands_per_user: int = 3
    bandwidth_hz: float = 100e6


def _setup(cls: Any, config: Any, overrides: dict[str, Any], seed: SeedLike,
           rng: np.random.Generator | None) -> tuple[Any, np.random.Generator]:
    cfg, gen, _ = scenario_setup(cls, config, overrides, seed=seed, rng=rng, where="slide scenario")
    return cfg, gen


def zoo_models(names: Sequence[str], size_scale: float = 1.0) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]]:
    """Per-layer bits (parameters, scaled) and FLOPs of zoo profiles; layers without
    parameters keep their FLOPs with 0 bits."""
    from edgeinfer.dnn import load_profile

    bits, flops = [], []
    for n in names:
        p = load_profile(n)
        bits.append(8.0 * p.layer_param_bytes() * size_scale)
        flops.append(2.0 * p.layer_macs() * size_scale)
    return tuple(bits), tuple(flops)


def make_instance(config: ScenarioConfig | None = None, *, seed: SeedLike = None,
                  rng: np.random.Generator | None = None, **overrides: Any) -> SlideInstance:
    """A random population of :class:`ScenarioConfig` (``seed`` default 0, or ``rng``), validated."""
    cfg, rng = _setup(ScenarioConfig, config, overrides, seed, rng)
    models = tuple(cfg.models)
    bits, flops = zoo_models(models, cfg.size_scale)
    bits = tuple(b * cfg.bits_scale for b in bits)
    return _population(cfg, rng, models, bits, flops)


def _population(cfg: ScenarioConfig, rng: np.random.Generator, models: tuple[str, ...],
                bits: tuple[np.ndarray, ...], flops: tuple[np.ndarray, ...]) -> SlideInstance:
    """Users of :class:`ScenarioConfig` (device classes, channels, deadlines, candidates) over ``models``."""
    n_users, classes = cfg.n_users, tuple(cfg.classes)
    cls = rng.integers(0, len(classes), n_users)
    fmax = np.array([DEVICE_CLASSES[classes[c]][0] for c in cls])
    kappa = np.array([DEVICE_CLASSES[classes[c]][1] for c in cls])
    budget = np.array([rng.uniform(*DEVICE_CLASSES[classes[c]][2]) for c in cls])
    c = min(cfg.n_candidates, len(models))
    cands = np.argsort(rng.random((n_users, len(models))), axis=1)[:, :c]
    return validate_instance(SlideInstance(
        bandwidth_hz=cfg.bandwidth_hz, model_ids=models, model_bits=bits, model_flops=flops,
        user_ids=tuple(f"u{k}" for k in range(n_users)),
        candidates=tuple(tuple(int(x) for x in row) for row in cands),
        spectral_efficiency=rng.uniform(1.0, 8.0, n_users),
        deadline_s=cfg.deadline_s * rng.uniform(0.5, 1.5, n_users), max_flops_per_s=fmax,
        energy_coefficient=kappa, energy_budget_j=budget,
    ))


def make_synthetic_instance(config: SyntheticConfig | None = None, *, seed: SeedLike = None,
                            rng: np.random.Generator | None = None, **overrides: Any) -> SlideInstance:
    """A random synthetic instance of :class:`SyntheticConfig` (``seed`` default 0, or ``rng``), validated."""
    cfg, rng = _setup(SyntheticConfig, config, overrides, seed, rng)
    n_users, n_models, n_layers = cfg.n_users, cfg.n_models, cfg.n_layers
    bits = tuple(rng.uniform(1e5, 2e6, n_layers) for _ in range(n_models))
    flops = tuple(rng.uniform(1e7, 2e8, n_layers) for _ in range(n_models))
    c = min(cfg.cands_per_user, n_models)
    cands = np.argsort(rng.random((n_users, n_models)), axis=1)[:, :c]
    return validate_instance(SlideInstance(
        bandwidth_hz=cfg.bandwidth_hz, model_ids=tuple(f"m{m}" for m in range(n_models)), model_bits=bits,
        model_flops=flops, user_ids=tuple(f"u{k}" for k in range(n_users)),
        candidates=tuple(tuple(int(x) for x in row) for row in cands),
        spectral_efficiency=rng.uniform(1.0, 8.0, n_users), deadline_s=rng.uniform(0.2, 2.0, n_users),
        max_flops_per_s=rng.uniform(2e10, 2e11, n_users), energy_coefficient=np.full(n_users, 1e-33),
        energy_budget_j=rng.uniform(0.5, 5.0, n_users),
    ))


#: Positions per sample of the fallback per-layer work of a scanned model:
#: ``2 * parameters * FALLBACK_POSITIONS`` FLOPs (as ``edgeinfer.loading.scenario``'s fallback).
FALLBACK_POSITIONS = 128


def library_layers(library: Any, model_id: str) -> tuple[list[str], np.ndarray, np.ndarray]:
    """``(layer names, bits, FLOPs)`` of a scanned model, one entry per layer.

    The model's tensors (its own names, in block order) are regrouped by layer
    (:func:`edgeinfer.dnn.library.group_key` at ``layer`` granularity, whatever granularity the
    library was scanned at); a layer's download is its bytes x 8, its work the fallback
    ``2 * parameters * FALLBACK_POSITIONS`` FLOPs (an ASSUMPTION; no per-layer compute is
    calibrated yet). An adapter's layers are its base's followed by its own (unmerged).
    """
    from edgeinfer.dnn.library import DTYPE_BYTES, group_key

    m = library.model(model_id)
    blocks = {b.id: b for b in library.doc.blocks}
    order: dict[str, list[float]] = {}
    for bid, names in zip(m.blocks, m.tensor_names, strict=True):
        for t, name in zip(blocks[bid].tensors, names, strict=True):
            layer = group_key(name, "layer")[0]
            if m.kind == "adapter" and bid not in library.model(str(m.base)).blocks:
                layer = f"{layer} (adapter)"
            acc = order.setdefault(layer, [0.0, 0.0])
            nbytes = float(t.offsets[1] - t.offsets[0])
            acc[0] += 8.0 * nbytes
            acc[1] += 2.0 * (nbytes / DTYPE_BYTES[t.dtype]) * FALLBACK_POSITIONS
    names_out = list(order)
    return names_out, np.array([order[n][0] for n in names_out]), np.array([order[n][1] for n in names_out])


def library_instance(library: Any, *, n_users: int, bandwidth_hz: float, deadline_s: float, seed: SeedLike = 0,
                     config: ScenarioConfig | None = None) -> SlideInstance:
    """A ``slide`` instance over the models of a scanned library (issue 15): per-layer bits and
    FLOPs from :func:`library_layers`, users of :class:`ScenarioConfig` (``n_users``,
    ``bandwidth_hz``, ``deadline_s`` as the deadline scale) drawn from ``seed``, validated."""
    cfg, rng = _setup(ScenarioConfig, config, {"n_users": n_users, "bandwidth_hz": bandwidth_hz,
                                               "deadline_s": deadline_s}, seed, None)
    models = tuple(m.id for m in library.doc.models)
    layers = [library_layers(library, m) for m in models]
    return _population(cfg, rng, models, tuple(b for _, b, _ in layers), tuple(f for _, _, f in layers))
