"""Small random ``split_noma`` instances for the tests."""

from __future__ import annotations

import numpy as np

from edgeinfer.split.model import SplitInstance
from edgeinfer.split.scenario import make_instance, synthetic_profile


def tiny(seed: int, *, users_per_ap: int = 2, num_aps: int = 2, m: int = 2, layers: int = 3,
         limit: int = 3) -> SplitInstance:
    """A small instance whose optimum offloads (fast edge, slow device)."""
    return make_instance(seed=seed, model=synthetic_profile(layers, flops=2e9, seed=seed), num_aps=num_aps,
                         users_per_ap=users_per_ap, num_subchannels=m, max_per_subchannel=limit,
                         ap_spacing_m=300.0, cell_radius_m=250.0, device_flops=1e10)


def random_relaxed(inst: SplitInstance, rng: np.random.Generator):
    u, m = inst.num_devices, inst.num_subchannels
    bu = rng.random((u, m))
    bd = rng.random((u, m))
    return (bu / bu.sum(1, keepdims=True), bd / bd.sum(1, keepdims=True),
            rng.uniform(inst.p_min_w, inst.p_max_w, u), rng.uniform(inst.ap_p_min_w, inst.ap_p_max_w, u),
            rng.uniform(inst.r_min, inst.r_max, u))
