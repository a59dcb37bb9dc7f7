"""LyMDO: online DNN partitioning with Lyapunov queues, PPO and exact convex allocation
(Ye et al.), problem ``lymdo_slot`` (one slot) and the Gymnasium environment
``edgeinfer/CoopInference-v0``.

Rooms: :mod:`~edgeinfer.online.problem` (file format, ``verify``),
:mod:`~edgeinfer.online.model` (delays, energy, memory, queues: eqs. 1-11), the solver kernels
:mod:`~edgeinfer.online.solvers.allocation` (P3-P5) and the solvers :mod:`~edgeinfer.online.solvers.convex`,
:mod:`~edgeinfer.online.solvers.exhaustive`, :mod:`~edgeinfer.online.solvers.greedy`,
:mod:`~edgeinfer.online.scenario` (random channels, arrivals and slots),
:mod:`~edgeinfer.online.env` (Gymnasium) and :mod:`~edgeinfer.online.agents` (PPO via SB3).

Importing this package pulls in NumPy only; it registers the Gymnasium id without importing
Gymnasium (:mod:`~edgeinfer.online.registration`). Stable-Baselines3/torch load inside the
agents' functions.
"""

from edgeinfer.online import problem, registration, solvers  # noqa: F401  (register the problem, solvers, env id)
from edgeinfer.online.model import LyMDOConfig, build_tables, evaluate_slot
from edgeinfer.online.problem import PROBLEM, SPEC, SlotInstance, SlotSolution
from edgeinfer.online.registration import ENV_ID
from edgeinfer.online.scenario import ScenarioConfig, make_instance
from edgeinfer.online.solvers.allocation import (
    Allocation,
    allocate,
    bandwidth_shares,
    edge_frequencies,
    local_frequency,
)
from edgeinfer.online.solvers.greedy import greedy_split

__all__ = [
    "ENV_ID",
    "PROBLEM",
    "SPEC",
    "Allocation",
    "LyMDOConfig",
    "ScenarioConfig",
    "SlotInstance",
    "SlotSolution",
    "allocate",
    "bandwidth_shares",
    "build_tables",
    "edge_frequencies",
    "evaluate_slot",
    "greedy_split",
    "local_frequency",
    "make_instance",
]
