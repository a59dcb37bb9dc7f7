"""System models shared by all frameworks: channels, rates (FDMA, multicast, NOMA), energy, queues.

Nothing here imports a framework.
"""

from edgeinfer.system.channels import (
    drop_around_aps,
    drop_uniform_disk,
    free_space_gain,
    log_distance_gain,
    nearest_ap,
    pairwise_distances,
    rayleigh_power,
    rician_power,
)
from edgeinfer.system.energy import (
    VirtualQueue,
    dynamic_energy_j,
    md1_is_stable,
    md1_sojourn_time_s,
    transmit_energy_j,
)
from edgeinfer.system.rates import (
    fdma_rate,
    multicast_rate,
    noma_downlink_sinr,
    noma_uplink_sinr,
    oma_sinr,
    spectral_efficiency,
)

__all__ = [
    "drop_around_aps", "drop_uniform_disk", "free_space_gain", "log_distance_gain", "nearest_ap",
    "pairwise_distances", "rayleigh_power", "rician_power", "VirtualQueue", "dynamic_energy_j",
    "md1_is_stable", "md1_sojourn_time_s", "transmit_energy_j", "fdma_rate", "multicast_rate",
    "noma_downlink_sinr", "noma_uplink_sinr", "oma_sinr", "spectral_efficiency",
]
