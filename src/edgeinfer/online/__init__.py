"""LyMDO: online DNN partitioning with Lyapunov queues, PPO and exact convex allocation.

Importing this package pulls in NumPy only. The Gymnasium environment lives in
:mod:`edgeinfer.online.env` and the learning agents in :mod:`edgeinfer.online.agents`
(Stable-Baselines3/torch imported inside functions).
"""

from edgeinfer.online import problem as _problem  # noqa: F401  (registers lymdo_slot and its solvers)
from edgeinfer.online.allocation import (
    Allocation,
    allocate,
    bandwidth_shares,
    edge_frequencies,
    greedy_split,
    local_frequency,
)
from edgeinfer.online.system import LyMDOConfig, build_tables, evaluate_slot

__all__ = [
    "Allocation",
    "LyMDOConfig",
    "allocate",
    "bandwidth_shares",
    "build_tables",
    "edge_frequencies",
    "evaluate_slot",
    "greedy_split",
    "local_frequency",
]
