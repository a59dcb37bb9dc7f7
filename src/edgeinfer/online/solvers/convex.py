"""``convex``: the exact per-slot resource allocation of LyMDO (§IV-C, P3-P5) for given splits.

The splits come from the instance (every device's ``split`` must be set); the resources are
optimal for them (:func:`edgeinfer.online.solvers.allocation.allocate`). :func:`solution_for_splits`
turns any split vector into a solution with optimal resources; the split-choosing solvers
(:mod:`~edgeinfer.online.solvers.exhaustive`, :mod:`~edgeinfer.online.solvers.greedy`) end with it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from edgeinfer.core.errors import UnsupportedInstanceError
from edgeinfer.core.registry import register_solver
from edgeinfer.core.solution import SolveOptions
from edgeinfer.core.status import SolveStatus
from edgeinfer.online.problem import PROBLEM, SlotInstance, SlotSolution, infeasibility_certificate
from edgeinfer.online.solvers.allocation import allocate

__all__ = ["infeasible_solution", "solution_for_splits", "solve_convex"]


def infeasible_solution(inst: SlotInstance, algorithm: str, message: str) -> SlotSolution:
    """Status ``infeasible`` (no objective), the reason in ``stats["message"]``."""
    n = len(inst.ids)
    split = np.array([0 if k is None else k for k in inst.split], dtype=np.int64)
    return SlotSolution(problem=PROBLEM, algorithm=algorithm, status=SolveStatus.INFEASIBLE, objective=math.inf,
                        ids=inst.ids, split=split, f_ue_hz=np.zeros(n), f_es_hz=np.zeros(n), alpha=np.zeros(n),
                        stats={"message": message})


def solution_for_splits(inst: SlotInstance, algorithm: str, status: SolveStatus, split: np.ndarray,
                        stats: dict[str, Any]) -> SlotSolution:
    """The solution with the optimal resources (P3-P5) for ``split``; a split moved earlier to
    satisfy C7 is listed in ``stats["repaired"]``."""
    al = allocate(inst.cfg, inst.tables, split, inst.h, inst.lam, inst.Q, inst.W)
    if al.repaired.any():
        stats = {**stats, "repaired": al.repaired.tolist()}
    if not math.isfinite(al.objective):
        reason = infeasibility_certificate(inst)
        if reason is not None:
            return infeasible_solution(inst, algorithm, reason)
    mt = al.metrics
    return SlotSolution(problem=PROBLEM, algorithm=algorithm, status=status, objective=al.objective,
                        ids=inst.ids, split=al.split, f_ue_hz=al.f_ue_hz, f_es_hz=al.f_es_hz, alpha=al.alpha,
                        stats=stats, delay_s=tuple(mt.delay_s.tolist()), energy_j=tuple(mt.energy_j.tolist()),
                        memory_bytes=tuple(mt.memory_bytes.tolist()))


@register_solver(PROBLEM, "convex", "optimal resources for the instance's splits (P3 Newton, eq. 23, P5 KKT)",
                 exact=True)
def solve_convex(inst: SlotInstance, *, options: SolveOptions) -> SlotSolution:
    if any(s is None for s in inst.split):
        k = next(i for i, s in enumerate(inst.split) if s is None)
        raise UnsupportedInstanceError(f"convex needs every device's split (devices[{k}].split is missing); "
                                       "use greedy-dpp or exhaustive to choose splits")
    split = np.array(inst.split, dtype=np.int64)
    reason = infeasibility_certificate(inst)  # C7 impossible for a split, or no finite cost
    if reason is not None:
        return infeasible_solution(inst, "convex", reason)
    return solution_for_splits(inst, "convex", SolveStatus.OPTIMAL, split, {})
