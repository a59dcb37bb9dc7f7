"""The ``mba`` solvers, in the paper's order: Alg. 1 (:mod:`.greedy`, with our adaptive
variant), Alg. 2 (:mod:`.bnb`, on :mod:`.component`), beyond the paper (:mod:`.latency`: joint
P1), the reference and the baseline (:mod:`.milp`, :mod:`.unicast`). Shared: :mod:`.common`
(P2.1 reductions), :mod:`.plan` (selection -> P1 solution, the ``power`` parameter).

Importing this package registers ``greedy``, ``bnb``, ``latency``, ``milp`` and ``unicast``.
"""

from edgeinfer.broadcast.solvers.bnb import ENGINES, BnbConfig, bnb_select
from edgeinfer.broadcast.solvers.common import SelectionResult, reduce_problem
from edgeinfer.broadcast.solvers.greedy import adaptive_greedy_select, greedy_select
from edgeinfer.broadcast.solvers.latency import joint_latency
from edgeinfer.broadcast.solvers.milp import milp_select
from edgeinfer.broadcast.solvers.plan import solution_from_requests, solution_from_selection
from edgeinfer.broadcast.solvers.unicast import unicast_plan

__all__ = [
    "ENGINES",
    "BnbConfig",
    "SelectionResult",
    "adaptive_greedy_select",
    "bnb_select",
    "greedy_select",
    "joint_latency",
    "milp_select",
    "reduce_problem",
    "solution_from_requests",
    "solution_from_selection",
    "unicast_plan",
]
