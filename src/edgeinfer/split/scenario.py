"""§VI set-up of the ECC paper as instance generators.

Paper values (§VI-A): 5 APs, 10 MHz shared by all APs, at most 3 devices per subchannel,
device power up to 25 dBm, path-loss exponent 5, noise -174 dBm/Hz, Rayleigh fading,
250 subchannels for 1,250 users (Figs. 6-11 vary the density and M = 2..10), chain models
NiN (9 layers), tiny YOLOv2 (17) and VGG-16 (24).

Values the paper does not give (documented in ``docs/split.md``, all overridable):

* geometry: APs on a ring of radius ``ap_spacing_m`` around a centre AP (5 APs: the centre
  and 4 around it), users uniform in a disk of ``cell_radius_m`` around each AP, each served
  by its nearest AP (``nearest_ap``); gains ``d^-5`` times an independent Rayleigh draw per
  (device, AP, subchannel), independently for uplink and downlink;
* device: ``device_flops`` = 10 GFLOP/s effective (a phone CPU/GPU running a CNN; Neurosurgeon
  measured 2-30 GFLOP/s class mobile GPUs), ``device_j_per_flop`` = 100 pJ/FLOP (2 W at
  20 GFLOP/s), so kappa_dev = 1e-10 / c^2;
* edge: compute unit ``edge_unit_flops`` = 50 GFLOP/s, r in [1, 16], lambda(r) = r^0.9
  (sub-linear multicore scaling, cf. the 44 % model error of [15]), ``edge_j_per_flop_unit``
  = 2 pJ/FLOP at one unit (kappa_e = 2e-12 / c_min^2);
* AP transmit power per device in [1 mW, 1 W]; device power in [1 mW, 25 dBm];
* weights omega_T = omega_E = 0.5 (eq. 19 with omega_T + omega_E = 1).

:func:`make_instance` is a random drop from :class:`ScenarioConfig` (these defaults, any field
overridable); it returns an instance checked exactly as a file is (``load_instance``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from edgeinfer.core.rng import SeedLike, scenario_setup
from edgeinfer.core.units import dbm_to_w
from edgeinfer.dnn.profiles import LayerProfile, ModelProfile, load_profile
from edgeinfer.split.model import SplitInstance
from edgeinfer.split.problem import PROBLEM, load_instance
from edgeinfer.system.channels import (
    drop_around_aps,
    log_distance_gain,
    nearest_ap,
    pairwise_distances,
    rayleigh_power,
)

__all__ = ["PAPER_MODELS", "ScenarioConfig", "ap_positions", "make_instance", "synthetic_profile"]

#: the chain models of §VI
PAPER_MODELS = ("nin", "tiny_yolov2", "vgg16")


@dataclass(frozen=True)
class ScenarioConfig:
    """The §VI set-up (module docstring: which values are the paper's and which are ours).

    ``model`` is a zoo profile name or a :class:`~edgeinfer.dnn.profiles.ModelProfile`;
    ``workload`` scales every device's task (FLOPs and data sizes), e.g. a batch of images.
    """

    model: str | ModelProfile = "vgg16"
    num_aps: int = 5
    users_per_ap: int = 10
    num_subchannels: int = 6
    max_per_subchannel: int = 3
    bandwidth_hz: float = 10e6
    ap_spacing_m: float = 400.0
    cell_radius_m: float = 200.0
    min_distance_m: float = 10.0
    path_loss_exponent: float = 5.0
    noise_dbm_per_hz: float = -174.0
    device_power_min_w: float = 1e-3
    device_power_max_dbm: float = 25.0
    ap_power_min_w: float = 1e-3
    ap_power_max_w: float = 1.0
    weight_latency: float = 0.5
    workload: float = 1.0
    device_flops: float = 10e9
    device_j_per_flop: float = 100e-12
    edge_unit_flops: float = 50e9
    edge_j_per_flop_unit: float = 2e-12
    r_min: float = 1.0
    r_max: float = 16.0
    speedup_exponent: float = 0.9


def ap_positions(num_aps: int, spacing_m: float) -> np.ndarray:
    """The centre AP and ``num_aps - 1`` on a ring of radius ``spacing_m``."""
    if num_aps == 1:
        return np.zeros((1, 2))
    ang = 2 * np.pi * np.arange(num_aps - 1) / (num_aps - 1)
    ring = spacing_m * np.column_stack([np.cos(ang), np.sin(ang)])
    return np.vstack([[0.0, 0.0], ring])


def synthetic_profile(num_layers: int = 4, *, flops: float = 1e9, seed: int = 0) -> ModelProfile:
    """A small chain whose outputs shrink fast after a cheap first layer, for tests."""
    rng = np.random.default_rng(seed)
    out = 600_000.0 * np.power(0.2, np.arange(1, num_layers + 1)) * rng.uniform(0.7, 1.3, num_layers)
    work = flops * rng.uniform(0.5, 1.5, num_layers)
    work[0] *= 0.1
    layers = tuple(LayerProfile(f"l{k}", 0, float(work[k]) / 2, float(out[k])) for k in range(num_layers))
    return ModelProfile(f"synthetic{num_layers}", layers, input_bytes=600_000.0)


def make_instance(config: ScenarioConfig | None = None, *, seed: SeedLike = None,
                  rng: np.random.Generator | None = None, **overrides: Any) -> SplitInstance:
    """A random §VI drop: ``users_per_ap`` devices around each AP, Rayleigh gains.

    ``overrides`` replace fields of ``config`` (default :class:`ScenarioConfig`), e.g.
    ``make_instance(seed=3, model="nin", num_aps=2)``; ``rng`` (if given) is used instead of
    ``seed``. The instance is validated as a file is (it is built as a document and loaded).
    """
    cfg, gen, _ = scenario_setup(ScenarioConfig, config, overrides, seed=seed, rng=rng, where="split_noma scenario")
    prof = load_profile(cfg.model) if isinstance(cfg.model, str) else cfg.model
    aps = ap_positions(cfg.num_aps, cfg.ap_spacing_m)
    pos, _ = drop_around_aps(gen, aps, cfg.users_per_ap, cfg.cell_radius_m, min_distance_m=cfg.min_distance_m)
    u = len(pos)
    cell = nearest_ap(pos, aps)
    pl = log_distance_gain(pairwise_distances(pos, aps), cfg.path_loss_exponent)[:, :, None]
    up = pl * rayleigh_power(gen, (u, cfg.num_aps, cfg.num_subchannels))
    dn = pl * rayleigh_power(gen, (u, cfg.num_aps, cfg.num_subchannels))
    flops = 2.0 * prof.layer_macs() * cfg.workload
    data_bytes = prof.split_output_bytes() * cfg.workload  # [input, output of layer 1, ...]
    kappa_dev = cfg.device_j_per_flop / cfg.device_flops**2
    doc = {
        "problem": PROBLEM,
        "system": {
            "bandwidth_up_hz": cfg.bandwidth_hz, "bandwidth_down_hz": cfg.bandwidth_hz,
            "num_subchannels": cfg.num_subchannels, "max_devices_per_subchannel": cfg.max_per_subchannel,
            "noise_psd_dbm_per_hz": cfg.noise_dbm_per_hz,
            "device_power_min_w": cfg.device_power_min_w,
            "device_power_max_w": float(dbm_to_w(cfg.device_power_max_dbm)),
            "ap_power_min_w": cfg.ap_power_min_w, "ap_power_max_w": cfg.ap_power_max_w,
            "edge_unit_flops_per_s": cfg.edge_unit_flops, "compute_units_min": cfg.r_min,
            "compute_units_max": cfg.r_max, "speedup_exponent": cfg.speedup_exponent,
            "edge_kappa": cfg.edge_j_per_flop_unit / cfg.edge_unit_flops**2,
        },
        "aps": [{"id": f"ap{n}"} for n in range(cfg.num_aps)],
        "models": [{"id": prof.name, "input_bytes": float(data_bytes[0]),
                    "layers": [{"flops": float(f), "output_bytes": float(b)}
                               for f, b in zip(flops, data_bytes[1:], strict=True)]}],
        "devices": [
            {"id": f"u{i}", "ap": f"ap{int(cell[i])}", "model": prof.name, "flops_per_s": cfg.device_flops,
             "kappa": kappa_dev, "weight_latency": cfg.weight_latency, "weight_energy": 1.0 - cfg.weight_latency,
             "uplink_gain": up[i].tolist(), "downlink_gain": dn[i].tolist()}
            for i in range(u)
        ],
    }
    return load_instance(doc)
