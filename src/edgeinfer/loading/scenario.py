"""Instance generators of ``partial_loading``: the paper's §VII set-up and small synthetic ones.

Both are random draws with one signature, ``f(config=None, *, seed=0 | rng=Generator,
**overrides)``, and return validated instances (:func:`make_instance`,
:func:`make_synthetic_instance`); the ``*_doc`` variants return the instance document
before validation (to edit it, e.g. another deadline, then ``load_instance``).

§VII (:class:`ScenarioConfig`, :func:`make_instance`):

Users: ``K`` uniform in a 250 m disk around the server; spectral efficiency
``R_k = log2(1 + P d^-alpha |h|^2 / N0)`` with ``P = 5e-9 W/Hz`` (transmit PSD),
``N0 = -174 dBm/Hz``, ``alpha = 4`` and Rayleigh fading ``|h|^2 ~ Exp(1)`` (one draw per user
and realisation); data ``128 x 128 x 3`` bytes; each user requests a model uniformly at random.

Library (``edgeinfer.dnn.blocks`` builders on the zoo profiles ``resnet18_fine``,
``resnet34_fine``, ``resnet50_fine``: one block per parameter layer): the backbone-sharing case
has 50 models in three clusters (one per pre-trained ResNet) with their bottom layers frozen; the
general case 25 models fine-tuned from one pre-trained ResNet-50 ("fine-tuned from the
pre-trained model", as in Fig. 2) with arbitrary frozen layers; the average
frozen fraction of the LAYERS is ``theta`` (§VII: "models share an average of theta of layers";
``sharing_measure="bytes"`` weighs layers by bytes instead). The library is drawn once per (case, theta)
(``library_seed``), the users per realisation, as the paper fine-tuned its models once.

Server constants (the paper's Fig. 1 server: i9-13900K, RTX 4090 24 GB, SATA HDD, DDR5 RAM; the
paper gives no numbers, so these are ASSUMPTIONS, documented in docs/loading.md):

* ``disk_bytes_per_s = 2e9``: model files come from the page cache after first use (64 GB RAM
  holds the whole library), deserialisation-bound; ``host_to_device_bytes_per_s = 12e9``:
  pageable copies over PCIe 4.0 x16;
* ``mu_i = 2 MACs_i(128x128) / 20e12 + 5e-5 + input_bytes / 12e9`` s per sample: 20 TFLOP/s
  effective FP32 (about a quarter of the 4090's 82.6 TFLOP/s peak), 50 us of CPU tensorisation
  per image, the input copy to the GPU; ``beta_i = 3e-3`` s per batch (launch/sync/batching);
* ``max_batch = min(32, floor((Q - params) / peak activation per sample))`` with Q = 24 GB
  (the 32 of Fig. 1 binds for every ResNet at 128x128).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from edgeinfer.core.rng import SeedLike, scenario_setup
from edgeinfer.core.units import dbm_per_hz_to_w_per_hz
from edgeinfer.loading.problem import PROBLEM, PartialLoadingInstance, load_instance
from edgeinfer.system import (
    drop_uniform_disk,
    log_distance_gain,
    rayleigh_power,
    spectral_efficiency,
)

__all__ = [
    "ScenarioConfig",
    "make_instance",
    "make_instance_doc",
    "draw_users",
    "library_instance_doc",
    "fallback_model_constants",
    "model_library",
    "server_constants",
    "SyntheticConfig",
    "make_synthetic_instance",
    "synthetic_instance_doc",
]

PROFILES = ("resnet18_fine", "resnet34_fine", "resnet50_fine")
#: §VII: "25 AI models fine-tuned from the pre-trained model" (one network; ResNet-50 as in Fig. 2)
GENERAL_PROFILES = ("resnet50_fine",)


@dataclass(frozen=True)
class ScenarioConfig:
    """§VII parameters (defaults: the paper's default point, B 200 MHz, K 80, 700 ms, theta 85%)."""

    case: str = "backbone"  # "backbone" (Fig. 6) or "general" (Fig. 7)
    n_users: int = 80
    n_models: int | None = None  # None: 50 (backbone) / 25 (general)
    bandwidth_hz: float = 200e6
    deadline_s: float = 0.7
    sharing_ratio: float = 0.85
    radius_m: float = 250.0
    min_distance_m: float = 1.0
    tx_psd_w_per_hz: float = 5e-9
    noise_dbm_per_hz: float = -174.0
    pathloss_exponent: float = 4.0
    data_bits: float = 128 * 128 * 3 * 8
    input_hw: int = 128
    disk_bytes_per_s: float = 2e9
    host_to_device_bytes_per_s: float = 12e9
    gpu_flops_per_s: float = 20e12
    per_sample_overhead_s: float = 5e-5
    fixed_overhead_s: float = 3e-3
    gpu_memory_bytes: float = 24e9
    batch_cap: int = 32
    library_seed: int = 0
    sharing_measure: str = "layers"  # theta counts layers, as §VII's text ("share ... of layers")

    @property
    def models(self) -> int:
        if self.n_models is not None:
            return self.n_models
        return 50 if self.case == "backbone" else 25

    def with_(self, **kw: Any) -> ScenarioConfig:
        return replace(self, **kw)


def _setup(cls: Any, config: Any, overrides: dict[str, Any], seed: SeedLike,
           rng: np.random.Generator | None) -> tuple[Any, np.random.Generator]:
    cfg, gen, _ = scenario_setup(cls, config, overrides, seed=seed, rng=rng, where="partial_loading scenario")
    return cfg, gen


@functools.lru_cache(maxsize=32)
def model_library(case: str, n_models: int, sharing_ratio: float, library_seed: int = 0,
                  measure: str = "layers") -> Any:
    """The block library (``edgeinfer.dnn.blocks``), cached per (case, models, theta, seed)."""
    from edgeinfer.dnn.blocks import backbone_sharing_library, general_sharing_library

    rng = np.random.default_rng([library_seed, int(round(sharing_ratio * 1000)), n_models])
    names = PROFILES if case == "backbone" else GENERAL_PROFILES
    profiles = {name.split("_")[0]: name for name in names}
    if case == "backbone":
        return backbone_sharing_library(rng, profiles, n_models, sharing_ratio, measure=measure)
    if case == "general":
        return general_sharing_library(rng, profiles, n_models, sharing_ratio, measure=measure)
    raise ValueError(f"case must be 'backbone' or 'general', not {case!r}")


def server_constants(cfg: ScenarioConfig, arch: str) -> tuple[float, float, int]:
    """``(mu, beta, max_batch)`` of a model of architecture ``arch`` (a zoo profile name)."""
    from edgeinfer.dnn import load_profile

    prof = load_profile(arch)
    scale = (cfg.input_hw * cfg.input_hw) / float(prof.input_shape[-1] * prof.input_shape[-2])
    macs = prof.macs * scale
    input_bytes = 3 * cfg.input_hw * cfg.input_hw * 4
    mu = 2.0 * macs / cfg.gpu_flops_per_s + cfg.per_sample_overhead_s + input_bytes / cfg.host_to_device_bytes_per_s
    act = prof.peak_activation_bytes(1) * scale
    by_memory = int((cfg.gpu_memory_bytes - prof.param_bytes) // max(act, 1.0))
    return float(mu), float(cfg.fixed_overhead_s), int(max(1, min(cfg.batch_cap, by_memory)))


def draw_users(cfg: ScenarioConfig, rng: np.random.Generator, model_ids: Sequence[str]) -> list[dict[str, Any]]:
    """§VII users: ``cfg.n_users`` uniform in the disk, spectral efficiency from path loss and
    Rayleigh fading, ``cfg.data_bits`` each, a model uniformly at random out of ``model_ids``."""
    pos = drop_uniform_disk(rng, cfg.n_users, cfg.radius_m, min_distance_m=cfg.min_distance_m)
    dist = np.hypot(pos[:, 0], pos[:, 1])
    gain = log_distance_gain(dist, cfg.pathloss_exponent) * rayleigh_power(rng, cfg.n_users)
    n0 = float(dbm_per_hz_to_w_per_hz(cfg.noise_dbm_per_hz))
    se = spectral_efficiency(cfg.tx_psd_w_per_hz * gain / n0)
    req = rng.integers(0, len(model_ids), cfg.n_users)
    return [{"id": f"u{k}", "model": model_ids[int(req[k])], "data_bits": float(cfg.data_bits),
             "spectral_efficiency": float(max(se[k], 1e-9))} for k in range(cfg.n_users)]


def make_instance_doc(config: ScenarioConfig | None = None, *, seed: SeedLike = None,
                      rng: np.random.Generator | None = None, **overrides: Any) -> dict[str, Any]:
    """One §VII realisation (user positions, fading, requests) as an instance document.

    ``config`` (default :class:`ScenarioConfig`) with ``overrides`` applied; ``seed`` (default 0)
    or ``rng`` draws the users (the library comes from ``config.library_seed``).
    """
    cfg, rng = _setup(ScenarioConfig, config, overrides, seed, rng)
    lib = model_library(cfg.case, cfg.models, float(cfg.sharing_ratio), cfg.library_seed, cfg.sharing_measure)
    consts = {a: server_constants(cfg, a) for a in set(lib.arch.values())}
    models = []
    for m, ids in lib.models.items():
        mu, beta, b = consts[lib.arch[m]]
        models.append({"id": m, "blocks": list(ids), "compute_per_sample_s": mu, "compute_fixed_s": beta,
                       "max_batch": b})
    users = draw_users(cfg, rng, [m["id"] for m in models])
    return {
        "problem": PROBLEM,
        "name": f"sec7-{cfg.case}-K{cfg.n_users}-B{cfg.bandwidth_hz / 1e6:g}MHz-T{cfg.deadline_s * 1e3:g}ms-"
                f"theta{cfg.sharing_ratio:g}",
        "bandwidth_hz": float(cfg.bandwidth_hz),
        "deadline_s": float(cfg.deadline_s),
        "load": {"disk_bytes_per_s": cfg.disk_bytes_per_s, "host_to_device_bytes_per_s": cfg.host_to_device_bytes_per_s},
        "blocks": [{"id": b.id, "bytes": float(b.bytes)} for b in lib.blocks],
        "models": models,
        "users": users,
    }


def make_instance(config: ScenarioConfig | None = None, *, seed: SeedLike = None,
                  rng: np.random.Generator | None = None, **overrides: Any) -> PartialLoadingInstance:
    """One §VII realisation, validated (:func:`make_instance_doc` then ``load_instance``)."""
    return load_instance(make_instance_doc(config, seed=seed, rng=rng, **overrides))


# ----------------------------------------------------------------------------- synthetic
@dataclass(frozen=True)
class SyntheticConfig:
    """Small random instances (tests, benchmarks), with every term of the same order.

    ``kind="backbone"``: ``n_clusters`` clusters, each with a backbone of up to ``n_blocks``
    blocks; model i holds the first ``l_i`` of them (0..all) plus 0-2 own blocks (at least one
    block in all). ``kind="general"``: ``n_blocks`` blocks, each model a random non-empty subset.
    Times are of order 0.01-1 s for uploads, loads and batches. ``max_batch`` and ``deadline_s``
    are the (low, high) ranges drawn from.
    """

    kind: str = "general"
    n_models: int = 4
    n_users: int = 6
    n_clusters: int = 2
    n_blocks: int = 6
    max_batch: tuple[int, int] = (1, 3)
    deadline_s: tuple[float, float] = (0.3, 3.0)
    bandwidth_hz: float = 1e6


def synthetic_instance_doc(config: SyntheticConfig | None = None, *, seed: SeedLike = None,
                           rng: np.random.Generator | None = None, **overrides: Any) -> dict[str, Any]:
    """A random synthetic instance document (:class:`SyntheticConfig`)."""
    cfg, rng = _setup(SyntheticConfig, config, overrides, seed, rng)
    blocks: list[dict[str, Any]] = []
    models: list[dict[str, Any]] = []

    def new_block(name: str) -> str:
        blocks.append({"id": name, "bytes": float(rng.uniform(0.02, 1.0) * 1e9)})
        return name

    if cfg.kind == "backbone":
        backbones = []
        for c in range(cfg.n_clusters):
            nb = int(rng.integers(1, max(cfg.n_blocks, 1) + 1))
            backbones.append([new_block(f"c{c}.bb{j}") for j in range(nb)])
        for i in range(cfg.n_models):
            c = int(rng.integers(cfg.n_clusters))
            bb = backbones[c]
            level = int(rng.integers(0, len(bb) + 1))
            own = int(rng.integers(0 if level else 1, 3))
            ids = bb[:level] + [new_block(f"m{i}.own{j}") for j in range(own)]
            models.append({"id": f"m{i}", "blocks": ids})
    elif cfg.kind == "general":
        ids_all = [new_block(f"b{j}") for j in range(cfg.n_blocks)]
        for i in range(cfg.n_models):
            size = int(rng.integers(1, cfg.n_blocks + 1))
            pick = sorted(rng.choice(cfg.n_blocks, size=size, replace=False).tolist())
            models.append({"id": f"m{i}", "blocks": [ids_all[j] for j in pick]})
    else:
        raise ValueError(f"kind must be 'backbone' or 'general', not {cfg.kind!r}")
    for m in models:
        m["compute_per_sample_s"] = float(rng.uniform(0.0, 0.15))
        m["compute_fixed_s"] = float(rng.uniform(0.0, 0.3))
        m["max_batch"] = int(rng.integers(cfg.max_batch[0], cfg.max_batch[1] + 1))
    users = []
    for k in range(cfg.n_users):
        users.append({
            "id": f"u{k}",
            "model": f"m{int(rng.integers(cfg.n_models))}",
            "data_bits": float(rng.uniform(1e4, 3e5)),
            "spectral_efficiency": float(rng.uniform(0.5, 10.0)),
        })
    return {
        "problem": PROBLEM,
        "bandwidth_hz": cfg.bandwidth_hz,
        "deadline_s": float(rng.uniform(*cfg.deadline_s)),
        "load": {"disk_bytes_per_s": 2e9, "host_to_device_bytes_per_s": 1e10},
        "blocks": blocks,
        "models": models,
        "users": users,
    }


def make_synthetic_instance(config: SyntheticConfig | None = None, *, seed: SeedLike = None,
                            rng: np.random.Generator | None = None, **overrides: Any) -> PartialLoadingInstance:
    """A random synthetic instance, validated."""
    return load_instance(synthetic_instance_doc(config, seed=seed, rng=rng, **overrides))


# ----------------------------------------------------------------------------- from a scanned library
#: Positions (tokens, or vectors) per sample of the fallback compute estimate of a model that is
#: not a zoo model: ``2 * parameters * FALLBACK_POSITIONS`` FLOPs per sample (each weight of a
#: dense layer is one multiply-add per position). An ASSUMPTION: ``edgeinfer calibrate`` replaces it.
FALLBACK_POSITIONS = 128


def fallback_model_constants(cfg: ScenarioConfig, zoo: str | None, n_params: int) -> tuple[float, float, int]:
    """``(mu, beta, max_batch)`` of a scanned model without calibration (the documented fallback).

    A zoo model with a shipped profile: :func:`server_constants` at the profile's own input size.
    Any other model: ``mu = 2 n_params FALLBACK_POSITIONS / gpu_flops_per_s + per_sample_overhead_s
    + (data_bits / 8) / host_to_device_bytes_per_s``, ``beta = fixed_overhead_s``, ``max_batch =
    batch_cap`` (no activation size is known). Constants of :class:`ScenarioConfig` (the paper's
    assumed server).
    """
    if zoo:
        from edgeinfer.dnn import list_profiles, load_profile

        if zoo in list_profiles():
            hw = int(load_profile(zoo).input_shape[-1])
            return server_constants(cfg.with_(input_hw=hw), zoo)
    mu = (2.0 * n_params * FALLBACK_POSITIONS / cfg.gpu_flops_per_s + cfg.per_sample_overhead_s
          + cfg.data_bits / 8.0 / cfg.host_to_device_bytes_per_s)
    return float(mu), float(cfg.fixed_overhead_s), int(cfg.batch_cap)


def library_instance_doc(library: Any, *, n_users: int, bandwidth_hz: float, deadline_s: float, seed: SeedLike = 0,
                         server: Any = None, config: ScenarioConfig | None = None,
                         max_fit_rel_rmse: float | None = None) -> dict[str, Any]:
    """A ``partial_loading`` instance document from a scanned library (issue 15).

    ``library``: an :class:`edgeinfer.dnn.library.Library`; its blocks and models (block ids in
    order; adapters are their base's blocks plus their own) become the instance's. Users and
    channels: :func:`draw_users` of the §VII generator (``config``, default
    :class:`ScenarioConfig`, with ``n_users``, ``bandwidth_hz``, ``deadline_s``) drawn from ``seed``.
    Server constants: from ``server`` (an :class:`edgeinfer.loading.server.ServerDoc` of
    ``edgeinfer calibrate``: loading speeds of eq. 8, eq. 9 fits and ``max_batch`` per model, every
    model calibrated, each eq. (9) fit within ``max_fit_rel_rmse`` relative RMS error when given,
    else ``edgeinfer.loading.server.MAX_FIT_REL_RMSE``), else :func:`fallback_model_constants` and the
    config's assumed speeds.
    """
    from edgeinfer.core.rng import make_rng

    cfg, _, _ = scenario_setup(ScenarioConfig, config, {"n_users": n_users, "bandwidth_hz": bandwidth_hz,
                                                        "deadline_s": deadline_s}, where="partial_loading scenario")
    rng = make_rng(0 if seed is None else seed)
    doc = library.doc
    tensors_of = {b.id: b.tensors for b in doc.blocks}
    model_ids = [m.id for m in doc.models]
    if server is not None:
        from edgeinfer.loading.server import MAX_FIT_REL_RMSE, instance_constants

        consts = instance_constants(server, model_ids, batch_cap=cfg.batch_cap,
                                    max_fit_rel_rmse=MAX_FIT_REL_RMSE if max_fit_rel_rmse is None else max_fit_rel_rmse)
        load = consts.load_doc()
        per_model = {m: (c.compute_per_sample_s, c.compute_fixed_s, c.max_batch) for m, c in consts.models.items()}
        source = f"server.json ({consts.device}, {consts.cache} disk reads)"
    else:
        load = {"disk_bytes_per_s": cfg.disk_bytes_per_s, "host_to_device_bytes_per_s": cfg.host_to_device_bytes_per_s}
        per_model = {}
        for m in doc.models:
            n_params = sum(int(np.prod(t.shape, dtype=np.int64)) for b in m.blocks for t in tensors_of[b])
            zoo = m.arch.zoo
            if zoo is None and m.base is not None:
                zoo = next(x.arch.zoo for x in doc.models if x.id == m.base)
            per_model[m.id] = fallback_model_constants(cfg, zoo, n_params)
        source = "assumed constants (no server.json: docs/loading.md, fallback)"
    models = [{"id": m.id, "blocks": list(m.blocks), "compute_per_sample_s": float(per_model[m.id][0]),
               "compute_fixed_s": float(per_model[m.id][1]), "max_batch": int(per_model[m.id][2])}
              for m in doc.models]
    return {
        "problem": PROBLEM,
        "name": f"library-K{cfg.n_users}-B{cfg.bandwidth_hz / 1e6:g}MHz-T{cfg.deadline_s * 1e3:g}ms",
        "description": f"{len(models)} scanned models ({doc.granularity} blocks); server constants: {source}",
        "bandwidth_hz": float(cfg.bandwidth_hz),
        "deadline_s": float(cfg.deadline_s),
        "load": load,
        "blocks": [{"id": b.id, "bytes": float(b.bytes)} for b in doc.blocks],
        "models": models,
        "users": draw_users(cfg, rng, model_ids),
    }
