"""The paper's §VII system set-up as an instance generator.

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
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from edgeinfer.core.rng import SeedLike, make_rng
from edgeinfer.core.units import dbm_per_hz_to_w_per_hz
from edgeinfer.system import (
    drop_uniform_disk,
    log_distance_gain,
    rayleigh_power,
    spectral_efficiency,
)

__all__ = ["ScenarioConfig", "make_instance_doc", "make_instance", "model_library", "server_constants"]

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


def make_instance_doc(cfg: ScenarioConfig, seed: SeedLike) -> dict[str, Any]:
    """One realisation (user positions, fading, requests) as an instance document."""
    rng = make_rng(seed)
    lib = model_library(cfg.case, cfg.models, float(cfg.sharing_ratio), cfg.library_seed, cfg.sharing_measure)
    consts = {a: server_constants(cfg, a) for a in set(lib.arch.values())}
    models = []
    for m, ids in lib.models.items():
        mu, beta, b = consts[lib.arch[m]]
        models.append({"id": m, "blocks": list(ids), "compute_per_sample_s": mu, "compute_fixed_s": beta,
                       "max_batch": b})
    pos = drop_uniform_disk(rng, cfg.n_users, cfg.radius_m, min_distance_m=cfg.min_distance_m)
    dist = np.hypot(pos[:, 0], pos[:, 1])
    gain = log_distance_gain(dist, cfg.pathloss_exponent) * rayleigh_power(rng, cfg.n_users)
    n0 = float(dbm_per_hz_to_w_per_hz(cfg.noise_dbm_per_hz))
    se = spectral_efficiency(cfg.tx_psd_w_per_hz * gain / n0)
    req = rng.integers(0, len(models), cfg.n_users)
    users = [{"id": f"u{k}", "model": models[int(req[k])]["id"], "data_bits": float(cfg.data_bits),
              "spectral_efficiency": float(max(se[k], 1e-9))} for k in range(cfg.n_users)]
    return {
        "problem": "partial_loading",
        "name": f"sec7-{cfg.case}-K{cfg.n_users}-B{cfg.bandwidth_hz / 1e6:g}MHz-T{cfg.deadline_s * 1e3:g}ms-"
                f"theta{cfg.sharing_ratio:g}",
        "bandwidth_hz": float(cfg.bandwidth_hz),
        "deadline_s": float(cfg.deadline_s),
        "load": {"disk_bytes_per_s": cfg.disk_bytes_per_s, "host_to_device_bytes_per_s": cfg.host_to_device_bytes_per_s},
        "blocks": [{"id": b.id, "bytes": float(b.bytes)} for b in lib.blocks],
        "models": models,
        "users": users,
    }


def make_instance(cfg: ScenarioConfig, seed: SeedLike) -> Any:
    from edgeinfer.loading.problem import load_instance

    return load_instance(make_instance_doc(cfg, seed))


def config_dict(cfg: ScenarioConfig) -> dict[str, Any]:
    return asdict(cfg)
