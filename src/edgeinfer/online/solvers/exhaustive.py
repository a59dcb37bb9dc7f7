"""``exhaustive``: every split combination with the optimal resources inside; optimal for P2.

Splits the instance fixes stay fixed; each free device tries every split for which C7 can
hold. Refuses instances with more than ``max_combinations`` combinations.
"""

from __future__ import annotations

import itertools
import math
import time

import numpy as np

from edgeinfer.core.errors import UnsupportedInstanceError
from edgeinfer.core.options import Param
from edgeinfer.core.registry import register_solver
from edgeinfer.core.solution import SolveOptions
from edgeinfer.core.status import SolveStatus
from edgeinfer.online.problem import PROBLEM, SlotInstance, SlotSolution, infeasibility_certificate
from edgeinfer.online.solvers.allocation import allocate
from edgeinfer.online.solvers.convex import infeasible_solution, solution_for_splits

__all__ = ["max_split", "solve_exhaustive"]


def max_split(inst: SlotInstance, i: int) -> int:
    """The largest split of device ``i`` for which C7 can hold (``d_ue lambda < f_ue_max``)."""
    cyc = inst.tables.cycles_ue[i]
    return max(k for k in range(len(cyc)) if k == 0 or cyc[k] * inst.lam[i] < inst.cfg.f_ue_max_hz)


@register_solver(PROBLEM, "exhaustive", "every split combination with optimal resources (optimal for P2)",
                 exact=True, params=(
                     Param("max_combinations", 500_000, int, "refuse instances with more split combinations",
                           bounds=(1, None)),
                 ))
def solve_exhaustive(inst: SlotInstance, *, options: SolveOptions) -> SlotSolution:
    reason = infeasibility_certificate(inst)  # a fixed split breaking C7, or no finite cost
    if reason is not None:
        return infeasible_solution(inst, "exhaustive", reason)
    choices = [[s] if s is not None else list(range(max_split(inst, i) + 1)) for i, s in enumerate(inst.split)]
    total = math.prod(len(c) for c in choices)
    limit = int(options.params["max_combinations"])
    if total > limit:
        raise UnsupportedInstanceError(f"exhaustive would try {total} split combinations (> {limit}); "
                                       "use greedy-dpp or raise --param max_combinations")
    t0 = time.perf_counter()
    best, best_sp, tried = math.inf, None, 0
    status = SolveStatus.OPTIMAL
    for sp in itertools.product(*choices):
        obj = allocate(inst.cfg, inst.tables, sp, inst.h, inst.lam, inst.Q, inst.W).objective
        tried += 1
        if obj < best:
            best, best_sp = obj, sp
        if options.time_limit_s is not None and time.perf_counter() - t0 > options.time_limit_s:
            status = SolveStatus.TIME_LIMIT
            break
    return solution_for_splits(inst, "exhaustive", status, np.array(best_sp, dtype=np.int64), {"evaluations": tried})
