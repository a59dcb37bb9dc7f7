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
* device: ``DEVICE_FLOPS`` = 10 GFLOP/s effective (a phone CPU/GPU running a CNN; Neurosurgeon
  measured 2-30 GFLOP/s class mobile GPUs), ``DEVICE_J_PER_FLOP`` = 100 pJ/FLOP (2 W at
  20 GFLOP/s), so kappa_dev = 1e-10 / c^2;
* edge: compute unit ``EDGE_UNIT_FLOPS`` = 50 GFLOP/s, r in [1, 16], lambda(r) = r^0.9
  (sub-linear multicore scaling, cf. the 44 % model error of [15]), ``EDGE_J_PER_FLOP_UNIT``
  = 2 pJ/FLOP at one unit (kappa_e = 2e-12 / c_min^2);
* AP transmit power per device in [1 mW, 1 W]; device power in [1 mW, 25 dBm];
* weights omega_T = omega_E = 0.5 (eq. 19 with omega_T + omega_E = 1).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from edgeinfer.core.rng import SeedLike, make_rng
from edgeinfer.core.units import dbm_per_hz_to_w_per_hz, dbm_to_w
from edgeinfer.dnn.profiles import ModelProfile, load_profile
from edgeinfer.split.model import SplitInstance
from edgeinfer.system.channels import (
    drop_around_aps,
    log_distance_gain,
    nearest_ap,
    pairwise_distances,
    rayleigh_power,
)

__all__ = ["PAPER_MODELS", "DEVICE_FLOPS", "DEVICE_J_PER_FLOP", "EDGE_UNIT_FLOPS", "EDGE_J_PER_FLOP_UNIT",
           "ap_positions", "make_instance", "synthetic_profile"]

PAPER_MODELS = ("nin", "tiny_yolov2", "vgg16")
DEVICE_FLOPS = 10e9
DEVICE_J_PER_FLOP = 100e-12
EDGE_UNIT_FLOPS = 50e9
EDGE_J_PER_FLOP_UNIT = 2e-12


def ap_positions(num_aps: int, spacing_m: float) -> np.ndarray:
    """The centre AP and ``num_aps - 1`` on a ring of radius ``spacing_m``."""
    if num_aps == 1:
        return np.zeros((1, 2))
    ang = 2 * np.pi * np.arange(num_aps - 1) / (num_aps - 1)
    ring = spacing_m * np.column_stack([np.cos(ang), np.sin(ang)])
    return np.vstack([[0.0, 0.0], ring])


def synthetic_profile(num_layers: int = 4, *, flops: float = 1e9, seed: int = 0) -> ModelProfile:
    """A small chain whose outputs shrink fast after a cheap first layer, for tests."""
    from edgeinfer.dnn.profiles import LayerProfile

    rng = np.random.default_rng(seed)
    out = 600_000.0 * np.power(0.2, np.arange(1, num_layers + 1)) * rng.uniform(0.7, 1.3, num_layers)
    work = flops * rng.uniform(0.5, 1.5, num_layers)
    work[0] *= 0.1
    layers = tuple(LayerProfile(f"l{k}", 0, float(work[k]) / 2, float(out[k])) for k in range(num_layers))
    return ModelProfile(f"synthetic{num_layers}", layers, input_bytes=600_000.0)


def make_instance(
    seed: SeedLike = None,
    *,
    model: str | ModelProfile = "vgg16",
    num_aps: int = 5,
    users_per_ap: int = 10,
    num_subchannels: int = 6,
    max_per_subchannel: int = 3,
    bandwidth_hz: float = 10e6,
    ap_spacing_m: float = 400.0,
    cell_radius_m: float = 200.0,
    path_loss_exponent: float = 5.0,
    noise_dbm_per_hz: float = -174.0,
    device_power_max_dbm: float = 25.0,
    ap_power_max_w: float = 1.0,
    weight_latency: float = 0.5,
    workload: float = 1.0,
    device_flops: float = DEVICE_FLOPS,
    r_max: float = 16.0,
) -> SplitInstance:
    """A random §VI instance (``users_per_ap`` devices dropped around each AP).

    ``workload`` scales every device's task (FLOPs and data sizes), e.g. a batch of images.
    """
    rng = make_rng(seed)
    prof = load_profile(model) if isinstance(model, str) else model
    aps = ap_positions(num_aps, ap_spacing_m)
    pos, _ = drop_around_aps(rng, aps, users_per_ap, cell_radius_m, min_distance_m=10.0)
    u = len(pos)
    cell = nearest_ap(pos, aps)
    d = pairwise_distances(pos, aps)
    pl = log_distance_gain(d, path_loss_exponent)[:, :, None]
    up = pl * rayleigh_power(rng, (u, num_aps, num_subchannels))
    dn = pl * rayleigh_power(rng, (u, num_aps, num_subchannels))
    flops = 2.0 * prof.layer_macs() * workload
    bits = 8.0 * prof.split_output_bytes() * workload
    kappa_e = EDGE_J_PER_FLOP_UNIT / EDGE_UNIT_FLOPS**2
    return SplitInstance(
        ids=tuple(f"u{i}" for i in range(u)), ap_ids=tuple(f"ap{n}" for n in range(num_aps)),
        cell=cell.astype(np.int64), models=(prof.name,) * u, layer_flops=(flops,) * u, split_bits=(bits,) * u,
        result_bits=np.full(u, bits[-1]), dev_flops_per_s=np.full(u, device_flops),
        dev_kappa=np.full(u, DEVICE_J_PER_FLOP / device_flops**2),
        w_latency=np.full(u, weight_latency), w_energy=np.full(u, 1.0 - weight_latency),
        uplink_gain=up, downlink_gain=dn, bandwidth_up_hz=bandwidth_hz, bandwidth_down_hz=bandwidth_hz,
        noise_psd_w_per_hz=float(dbm_per_hz_to_w_per_hz(noise_dbm_per_hz)), max_per_subchannel=max_per_subchannel,
        p_min_w=1e-3, p_max_w=float(dbm_to_w(device_power_max_dbm)), ap_p_min_w=1e-3, ap_p_max_w=ap_power_max_w,
        edge_unit_flops_per_s=EDGE_UNIT_FLOPS, r_min=1.0, r_max=r_max, theta=0.9, edge_kappa=kappa_e,
    )


def with_weights(inst: SplitInstance, weight_latency: float) -> SplitInstance:
    """The same instance with every device's weights set to (w, 1 - w)."""
    u = inst.num_devices
    return replace(inst, w_latency=np.full(u, weight_latency), w_energy=np.full(u, 1.0 - weight_latency))
