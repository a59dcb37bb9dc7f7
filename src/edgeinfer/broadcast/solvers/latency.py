# ruff: noqa: E741  (I is the paper's score tensor I_{i,n}^{(k)})
"""``latency``: joint selection and assembly for P1 (beyond the paper).

Lemma 1 decomposes P1 into P2 (fewest blocks) then P3 (power control). It ignores that
*which devices request a block* sets its worst gain (eq. 10) and hence its cost. For a
fixed energy multiplier ``beta`` the Lagrangian of P1 separates over blocks: a block
whose worst requesting gain is ``H`` costs

    g_beta(H) = min_p (1 + beta p) Q / (B log2(1 + p H / N0))
              = Q ln2 / (B u) * (1 + beta N0 / H * (e^u - 1)),   u = W0((H / (beta N0) - 1) / e) + 1

(the per-block problem behind Proposition 2), decreasing in ``H``. With devices sorted by
gain, ``H_(1) <= ... <= H_(K)``, the cost of a block is linearised exactly by monotone
level variables ``u[b, 1] <= ... <= u[b, K]``, ``x[k, b] <= u[b, rank(k)]``, cost
``sum_j (g(H_(j)) - g(H_(j+1))) u[b, j]`` (with ``g(H_(K+1)) = 0``), so

    (LAG_beta)  min  sum_b cost_b  s.t. the (P2.1) assembly and QoS rows

is a MILP (HiGHS). Weak duality gives a valid lower bound on P1 for every ``beta``:
``opt(P1) >= opt(LAG_beta) - beta E``. The algorithm starts from the P2.1 optimum with
optimal power control, then repeats: ``beta`` <- the multiplier of the incumbent's power
control, solve ``LAG_beta``, evaluate the new selection/requests with exact power control
(Proposition 2), keep it if the latency is lower; stop when nothing improves.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from edgeinfer.broadcast.model import best_assembly, block_cost, optimal_power, worst_gains
from edgeinfer.broadcast.problem import PROBLEM, MBAInstance, MBASolution
from edgeinfer.broadcast.solvers.common import reduce_problem
from edgeinfer.broadcast.solvers.greedy import adaptive_greedy_select
from edgeinfer.broadcast.solvers.milp import milp_select
from edgeinfer.broadcast.solvers.plan import POWER, infeasible_solution, solution_from_requests
from edgeinfer.core.options import Param
from edgeinfer.core.registry import register_solver
from edgeinfer.core.solution import SolveOptions
from edgeinfer.core.status import SolveStatus

__all__ = ["lagrangian_milp", "joint_latency"]

#: time budget of :func:`joint_latency` without a time limit (s)
DEFAULT_BUDGET_S = 60.0


def lagrangian_milp(inst: MBAInstance, beta: float, *,
                    time_limit_s: float | None = None) -> tuple[np.ndarray | None, float, float, int]:
    """Solve ``LAG_beta``. Returns ``(requests (K, N) or None, objective, dual bound, status)``."""
    import scipy.sparse as sp
    from scipy.optimize import Bounds, LinearConstraint, milp
    I, c = inst.scores, inst.qos
    M, N, K = I.shape
    red = reduce_problem(I, c)
    U = red.U  # usable, undominated (dominance keeps P1 optima: the dominating block has the same users)
    order = np.argsort(inst.gains, kind="stable")
    rank = np.empty(K, dtype=int)
    rank[order] = np.arange(K)
    g = block_cost(inst.gains[order], beta, bandwidth_hz=inst.bandwidth_hz, noise_w=inst.noise_w,
                   block_bits=inst.block_bits)
    lev_cost = g - np.r_[g[1:], 0.0]  # >= 0 since g decreases with H
    blocks = np.argwhere(U.any(axis=2))
    nb = len(blocks)
    # variables: x pairs, then level variables u[b, j] for j in 0..K-1
    pairs = [(int(k), b) for b, (i, n) in enumerate(blocks) for k in np.flatnonzero(U[i, n])]
    nx = len(pairs)
    nu = nb * K

    def uidx(b: int, j: int) -> int:
        return nx + b * K + j

    nv = nx + nu
    obj = np.zeros(nv)
    for b in range(nb):
        obj[nx + b * K: nx + (b + 1) * K] = lev_cost
    r_eq: list[int] = []
    c_eq: list[int] = []
    r_q: list[int] = []
    c_q: list[int] = []
    v_q: list[float] = []
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    row = 0
    for j, (k, b) in enumerate(pairs):
        i, n = blocks[b]
        r_eq.append(k * N + n)
        c_eq.append(j)
        r_q.append(k)
        c_q.append(j)
        v_q.append(float(I[i, n, k]))
        rows += [row, row]
        cols += [j, uidx(b, rank[k])]
        vals += [1.0, -1.0]
        row += 1
    for b in range(nb):
        for j in range(K - 1):
            rows += [row, row]
            cols += [uidx(b, j), uidx(b, j + 1)]
            vals += [1.0, -1.0]
            row += 1
    A_eq = sp.csr_matrix((np.ones(nx), (r_eq, c_eq)), shape=(K * N, nv))
    A_q = sp.csr_matrix((v_q, (r_q, c_q)), shape=(K, nv))
    A_l = sp.csr_matrix((vals, (rows, cols)), shape=(row, nv))
    cons = [LinearConstraint(A_eq, 1, 1), LinearConstraint(A_q, c, np.inf), LinearConstraint(A_l, -np.inf, 0)]
    opts: dict = {"disp": False}
    if time_limit_s is not None:
        opts["time_limit"] = max(0.5, float(time_limit_s))
    res = milp(obj, constraints=cons, integrality=np.ones(nv), bounds=Bounds(0, 1), options=opts)
    bound = float(getattr(res, "mip_dual_bound", math.nan) or math.nan)
    if res.x is None:
        return None, math.inf, bound, res.status
    req = np.full((K, N), -1)
    for j, (k, b) in enumerate(pairs):
        if res.x[j] > 0.5:
            req[k, blocks[b, 1]] = blocks[b, 0]
    if res.status == 0:
        bound = float(res.fun)
    return req, float(res.fun), bound, res.status


def _latency_of(inst: MBAInstance, req: np.ndarray) -> tuple[float, float | None]:
    _, H = worst_gains(inst, req)
    plan = optimal_power(H, bandwidth_hz=inst.bandwidth_hz, noise_w=inst.noise_w, block_bits=inst.block_bits,
                         energy_j=inst.energy_j)
    return (math.inf, None) if plan is None else (plan.total_latency_s, plan.beta)


def joint_latency(inst: MBAInstance, *, time_limit_s: float | None, max_rounds: int) -> dict[str, Any]:
    """Run the iteration (at most ``max_rounds`` Lagrangian MILPs within ``time_limit_s``,
    default :data:`DEFAULT_BUDGET_S`); returns requests, latency, lower bound and per-round history."""
    t0 = time.perf_counter()
    limit = DEFAULT_BUDGET_S if time_limit_s is None else float(time_limit_s)
    sel = milp_select(inst.scores, inst.qos, time_limit_s=limit / 3, reduce=True)
    if sel.y is None and sel.status == "time_limit":
        sel = adaptive_greedy_select(inst.scores, inst.qos)
    if sel.y is None:
        return {"requests": None, "selection": sel}
    req = best_assembly(inst.scores, sel.y)
    lat, beta = _latency_of(inst, req)
    start = lat
    hist = [{"round": 0, "latency_s": lat, "blocks": int(sel.y.sum())}]
    lower = 0.0
    if beta is None:
        return {"requests": req, "selection": sel, "latency_s": lat, "start_latency_s": start, "history": hist,
                "lower_bound_s": lower}
    tried: set[float] = set()
    for r in range(1, max_rounds + 1):
        left = limit - (time.perf_counter() - t0)
        if left <= 0.5 or beta in tried:
            break
        tried.add(beta)
        new, _, bound, status = lagrangian_milp(inst, beta, time_limit_s=left)
        if math.isfinite(bound):
            lower = max(lower, bound - beta * inst.energy_j)
        if new is None:
            break
        nl, nbeta = _latency_of(inst, new)
        nblocks = len({(int(new[k, n]), n) for k in range(new.shape[0]) for n in range(new.shape[1])})
        hist.append({"round": r, "beta": beta, "latency_s": nl, "blocks": nblocks, "milp_status": int(status)})
        if nl < lat * (1 - 1e-9) and nbeta is not None:
            req, lat, beta = new, nl, nbeta
        else:
            break
    return {"requests": req, "selection": sel, "latency_s": lat, "start_latency_s": start, "history": hist,
            "lower_bound_s": lower}


@register_solver(PROBLEM, "latency", "beyond the paper: joint selection + requests for P1 (Lagrangian MILP), "
                 "then power control",
                 params=(POWER,
                         Param("rounds", 6, int, "at most this many Lagrangian MILP rounds after the P2.1 start",
                               bounds=(0, None))))
def solve_latency(inst: MBAInstance, *, options: SolveOptions) -> MBASolution:
    p = options.params
    power = p["power"]
    out = joint_latency(inst, time_limit_s=options.time_limit_s, max_rounds=p["rounds"])
    sel = out["selection"]
    if out["requests"] is None:
        if sel.status == "infeasible":
            k = sel.stats.get("infeasible_device", 0)
            return infeasible_solution("latency", f"device {inst.device_ids[k]!r} cannot reach qos "
                                       f"{inst.qos[k]:g}: its best assembly from the whole library scores "
                                       f"{inst.best_scores()[k]:g}")
        return MBASolution(problem=PROBLEM, algorithm="latency", status=SolveStatus.TIME_LIMIT, objective=math.inf,
                           broadcast=(), assembly={}, stats={"message": "no selection within the time limit"})
    hist = out["history"]
    stats: dict[str, Any] = {"p21_blocks": int(sel.y.sum()), "start_latency_s": out["start_latency_s"],
                             "bound": out["lower_bound_s"], "iterations": len(hist) - 1, "history": hist}
    lat, low = out["latency_s"], out["lower_bound_s"]
    proven = power == "optimal" and math.isfinite(lat) and lat - low <= 1e-6 * lat
    stats["gap"] = (lat - low) / lat if math.isfinite(lat) and lat > 0 else None
    return solution_from_requests(inst, out["requests"], algorithm="latency",
                                  status=SolveStatus.OPTIMAL if proven else SolveStatus.FEASIBLE,
                                  power=power, stats=stats)
