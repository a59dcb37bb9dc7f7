"""From a selection to a full P1 solution, shared by every ``mba`` solver.

P1 = parameter selection (P2.1) + requesting assignment + power control (P3.1) + on-device
assembly (eq. 6). The requesting set of each broadcast block is the set of devices whose best
assembly (eq. 6, over the selected blocks) uses it; its worst gain sets the rate (eq. 10).
After power control each device assembles, at each position, the best block it actually
receives (every block whose worst gain is at most its own gain), which can only raise its score.

Every solver declares :data:`POWER` (``--power optimal|constant``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from edgeinfer.broadcast.model import best_assembly, least_energy_j, power_control, worst_gains
from edgeinfer.broadcast.problem import PROBLEM, MBAInstance, MBASolution, Transmission
from edgeinfer.broadcast.solvers.common import SelectionResult
from edgeinfer.core.options import Param
from edgeinfer.core.status import SolveStatus

__all__ = ["POWER", "infeasible_solution", "solution_from_requests", "solution_from_selection"]

#: the power-control parameter every ``mba`` solver declares (the CLI's ``--power``)
POWER = Param("power", "optimal", str, "power control (P3.1): optimal (Prop. 2) or constant (one power for all blocks)",
              choices=("optimal", "constant"))


def infeasible_solution(algorithm: str, message: str, stats: dict[str, Any] | None = None) -> MBASolution:
    return MBASolution(problem=PROBLEM, algorithm=algorithm, status=SolveStatus.INFEASIBLE, objective=math.inf,
                       broadcast=(), assembly={}, stats={**(stats or {}), "message": message})


def solution_from_requests(inst: MBAInstance, requests: np.ndarray, *, algorithm: str, status: SolveStatus,
                           power: str, stats: dict[str, Any]) -> MBASolution:
    """Power control over the blocks ``requests`` uses, then eq. (6) assembly over what each receives."""
    blocks, H = worst_gains(inst, requests)
    plan = power_control(H, mode=power, bandwidth_hz=inst.bandwidth_hz, noise_w=inst.noise_w,
                         block_bits=inst.block_bits, energy_j=inst.energy_j)
    stats = {**stats, "blocks": len(blocks), "power": power}
    if plan is None:
        e_min = least_energy_j(H, inst.bandwidth_hz, inst.noise_w, inst.block_bits)
        return infeasible_solution(algorithm, f"energy budget {inst.energy_j:g} J is below the least energy "
                                   f"{e_min:g} J needed to broadcast the {len(blocks)} selected blocks", stats)
    # eq. (6): each device takes its best received block per position
    K, N = requests.shape
    asm: dict[str, tuple[str, ...]] = {}
    for k in range(K):
        row = []
        for n in range(N):
            best_i, best_s = int(requests[k, n]), inst.scores[int(requests[k, n]), n, k]
            for (i, nn), h in zip(blocks, H):
                if nn == n and h <= inst.gains[k] and inst.scores[i, n, k] > best_s:
                    best_i, best_s = i, inst.scores[i, n, k]
            row.append(inst.model_ids[best_i])
        asm[inst.device_ids[k]] = tuple(row)
    tx = tuple(Transmission(inst.model_ids[i], n, float(p), float(t))
               for (i, n), p, t in zip(blocks, plan.power_w, plan.duration_s))
    stats["worst_gain_min"] = float(H.min()) if H.size else None
    if plan.beta is not None:
        stats["beta"] = plan.beta
    return MBASolution(problem=PROBLEM, algorithm=algorithm, status=status, objective=plan.total_latency_s,
                       broadcast=tx, assembly=asm, total_latency_s=plan.total_latency_s, energy_j=plan.energy_j,
                       stats=stats)


def solution_from_selection(inst: MBAInstance, sel: SelectionResult, *, algorithm: str, power: str,
                            exact: bool, stats: dict[str, Any] | None = None) -> MBASolution:
    """The P1 solution of selection ``sel``. ``stats`` (e.g. a fallback's ``message``) are added
    to the selection's. The block count's proven bound is ``lower_bound_blocks`` and its relative
    gap ``selection_gap``: bounds on P2.1, not on the latency (the objective)."""
    stats = {**sel.stats, "selection_status": sel.status, **(stats or {})}
    if sel.y is None:
        if sel.status == "infeasible":
            k = sel.stats.get("infeasible_device")
            if k is not None:
                best = inst.best_scores()[k]
                msg = (f"device {inst.device_ids[k]!r} cannot reach qos {inst.qos[k]:g}: its best assembly from "
                       f"the whole library scores {best:g}")
            else:
                msg = "no selection meets every device's qos"
            return infeasible_solution(algorithm, msg, stats)
        return MBASolution(problem=PROBLEM, algorithm=algorithm, status=SolveStatus.TIME_LIMIT,
                           objective=math.inf, broadcast=(), assembly={},
                           stats={**stats, "message": "no selection found within the time limit"})
    stats["selected_blocks"] = sel.blocks
    stats["lower_bound_blocks"] = sel.lower_bound
    stats["selection_gap"] = sel.gap
    requests = best_assembly(inst.scores, sel.y)
    status = {"optimal": SolveStatus.OPTIMAL if exact else SolveStatus.FEASIBLE,
              "feasible": SolveStatus.FEASIBLE, "time_limit": SolveStatus.TIME_LIMIT}[sel.status]
    # P2.1 optimality is not P1 optimality (Lemma 1 fails in general, docs/broadcast.md): the
    # status follows the paper (optimal selection + optimal power control); stats say so.
    if sel.status == "optimal" and exact:
        stats["optimal_for"] = "P2.1 selection + P3.1 power control (Lemma 1 decomposition)"
    return solution_from_requests(inst, requests, algorithm=algorithm, status=status, power=power, stats=stats)
