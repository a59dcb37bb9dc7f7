"""``greedy-dpp``: coordinate descent over the splits with the exact allocation inside.

A non-learning baseline for LyMDO (one slot at a time, no training); the ``greedy-dpp`` agent
of :mod:`edgeinfer.online.agents` uses the same :func:`greedy_split`.
"""

from __future__ import annotations

import numpy as np

from edgeinfer.core.errors import UnsupportedInstanceError
from edgeinfer.core.options import Param
from edgeinfer.core.registry import register_solver
from edgeinfer.core.solution import SolveOptions
from edgeinfer.core.status import SolveStatus
from edgeinfer.online.model import DeviceTables, LyMDOConfig
from edgeinfer.online.problem import PROBLEM, SlotInstance, SlotSolution, infeasibility_certificate
from edgeinfer.online.solvers.allocation import allocate
from edgeinfer.online.solvers.convex import infeasible_solution, solution_for_splits

__all__ = ["MAX_SWEEPS", "greedy_split", "solve_greedy"]

#: sweeps over the devices at most (the descent usually stops after two or three)
MAX_SWEEPS = 10


def greedy_split(
    cfg: LyMDOConfig,
    tables: DeviceTables,
    h: np.ndarray,
    lam: np.ndarray,
    Q: np.ndarray,
    W: np.ndarray,
    *,
    max_sweeps: int = MAX_SWEEPS,
) -> tuple[np.ndarray, float]:
    """Coordinate descent on the splits minimising (11) with the exact allocation inside.

    Starts from the better of all-local and all-edge and changes one
    device's split at a time to its best value given the others, until a sweep changes
    nothing. A local optimum of the per-slot problem; non-learning baseline ``greedy-dpp``.
    """
    n = tables.n
    lam = np.asarray(lam, dtype=float)
    cache: dict[tuple[int, ...], float] = {}

    def cost(sp: tuple[int, ...]) -> float:
        if sp not in cache:
            cache[sp] = allocate(cfg, tables, sp, h, lam, Q, W).objective
        return cache[sp]

    cands = [tuple(int(x) for x in tables.num_layers), (0,) * n]
    cur = min(cands, key=cost)
    best = cost(cur)
    for _ in range(max_sweeps):
        changed = False
        for i in range(n):
            for sl in range(int(tables.num_layers[i]) + 1):
                if sl == cur[i]:
                    continue
                cand = cur[:i] + (sl,) + cur[i + 1:]
                if tables.cycles_ue[i][sl] * lam[i] >= cfg.f_ue_max_hz:
                    continue
                c = cost(cand)
                if c < best - 1e-12 * abs(best):
                    best, cur, changed = c, cand, True
        if not changed:
            break
    return np.array(cur, dtype=np.int64), best


@register_solver(PROBLEM, "greedy-dpp", "coordinate descent over splits, optimal resources inside", params=(
    Param("max_sweeps", MAX_SWEEPS, int, "sweeps over the devices at most", bounds=(1, None)),
))
def solve_greedy(inst: SlotInstance, *, options: SolveOptions) -> SlotSolution:
    if any(s is not None for s in inst.split):
        raise UnsupportedInstanceError("greedy-dpp chooses every split; remove the splits or use convex")
    reason = infeasibility_certificate(inst)  # no finite cost at any split
    if reason is not None:
        return infeasible_solution(inst, "greedy-dpp", reason)
    sp, _ = greedy_split(inst.cfg, inst.tables, inst.h, inst.lam, inst.Q, inst.W,
                         max_sweeps=int(options.params["max_sweeps"]))
    return solution_for_splits(inst, "greedy-dpp", SolveStatus.FEASIBLE, sp, {})
