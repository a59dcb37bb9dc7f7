"""Registered ``mba`` solvers: full P1 solutions = parameter selection (P2.1) + requesting
assignment + power control (P3.1) + on-device assembly (eq. 6).

* ``greedy`` -- Algorithm 1 (our eq. 9 metric), then power control.
* ``bnb`` -- Algorithm 2, exact for P2.1 (``--time-limit``: incumbent + gap), then power control;
  ``--param engine=highs`` (default: reductions, cuts and incumbent, then HiGHS branch and cut)
  or ``engine=tree`` (our best-first tree).
* ``milp`` -- P2.1 by HiGHS (reference), then power control.
* ``unicast`` -- each device receives its own model's N blocks, one transmission per
  (device, block) at the device's own gain, same power control.
* ``latency`` -- beyond the paper, see :mod:`edgeinfer.broadcast.latency`.

Every solver takes ``--power optimal|constant`` (``options.param("power")``). The requesting
set of each broadcast block is the set of devices whose best assembly (eq. 6, over the
selected blocks) uses it; its worst gain sets the rate (eq. 10). After power control each
device assembles, at each position, the best block it actually receives (every block
whose worst gain is at most its own gain), which can only raise its score.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from edgeinfer.broadcast.power import power_control
from edgeinfer.broadcast.problem import PROBLEM, MBAInstance, MBASolution, Transmission
from edgeinfer.broadcast.selection import (
    ENGINES,
    SelectionResult,
    adaptive_greedy_select,
    best_assembly,
    bnb_select,
    greedy_select,
    milp_select,
)
from edgeinfer.core.errors import InvalidInstanceError
from edgeinfer.core.registry import register_solver
from edgeinfer.core.solution import SolveOptions
from edgeinfer.core.status import SolveStatus

__all__ = ["power_mode", "solution_from_requests", "solution_from_selection", "infeasible_solution",
           "worst_gains"]


def power_mode(options: SolveOptions) -> str:
    mode = options.param("power", "optimal") or "optimal"
    if mode not in ("optimal", "constant"):
        raise InvalidInstanceError("params.power", f"unknown power control {mode!r}; use optimal or constant")
    return str(mode)


def infeasible_solution(algorithm: str, message: str, stats: dict[str, Any] | None = None) -> MBASolution:
    return MBASolution(problem=PROBLEM, algorithm=algorithm, status=SolveStatus.INFEASIBLE, objective=math.inf,
                       broadcast=(), assembly={}, stats={**(stats or {}), "message": message})


def worst_gains(inst: MBAInstance, requests: np.ndarray) -> tuple[list[tuple[int, int]], np.ndarray]:
    """Blocks used by ``requests`` (model index ``(K, N)``) and each one's worst requesting gain."""
    worst: dict[tuple[int, int], float] = {}
    K, N = requests.shape
    for k in range(K):
        for n in range(N):
            b = (int(requests[k, n]), n)
            worst[b] = min(worst.get(b, math.inf), float(inst.gains[k]))
    blocks = sorted(worst)
    return blocks, np.array([worst[b] for b in blocks])


def solution_from_requests(inst: MBAInstance, requests: np.ndarray, *, algorithm: str, status: SolveStatus,
                           power: str, stats: dict[str, Any]) -> MBASolution:
    """Power control over the blocks ``requests`` uses, then eq. (6) assembly over what each receives."""
    blocks, H = worst_gains(inst, requests)
    plan = power_control(H, mode=power, bandwidth_hz=inst.bandwidth_hz, noise_w=inst.noise_w,
                         block_bits=inst.block_bits, energy_j=inst.energy_j)
    stats = {**stats, "blocks": len(blocks), "power": power}
    if plan is None:
        from edgeinfer.broadcast.power import min_energy_j

        e_min = min_energy_j(H, inst.bandwidth_hz, inst.noise_w, inst.block_bits)
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
                            exact: bool) -> MBASolution:
    stats: dict[str, Any] = {k: v for k, v in sel.stats.items()}
    stats["selection_status"] = sel.status
    if sel.y is None and sel.status == "time_limit":  # nothing found in time: Alg. 1's selection instead
        g = greedy_select(inst.scores, inst.qos, inst.own_model)
        if g.y is not None:
            sel = SelectionResult(g.y, "time_limit", sel.lower_bound, sel.stats)
            stats["fallback"] = "greedy (no incumbent within the time limit)"
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
    stats["gap"] = sel.gap
    requests = best_assembly(inst.scores, sel.y)
    status = {"optimal": SolveStatus.OPTIMAL if exact else SolveStatus.FEASIBLE,
              "feasible": SolveStatus.FEASIBLE, "time_limit": SolveStatus.TIME_LIMIT}[sel.status]
    # P2.1 optimality is not P1 optimality (Lemma 1 fails in general, docs/broadcast.md): the
    # status follows the paper (optimal selection + optimal power control); stats say so.
    if sel.status == "optimal" and exact:
        stats["optimal_for"] = "P2.1 selection + P3.1 power control (Lemma 1 decomposition)"
    return solution_from_requests(inst, requests, algorithm=algorithm, status=status, power=power, stats=stats)


@register_solver(PROBLEM, "greedy", "Alg. 1: candidate model sets + greedy reuse metric (our eq. 9), then power control")
def solve_greedy(inst: MBAInstance, *, options: SolveOptions) -> MBASolution:
    power = power_mode(options)
    order = str(options.param("order", "constrained"))
    if order not in ("constrained", "index"):
        raise InvalidInstanceError("params.order", f"unknown order {order!r}; use constrained or index")
    variant = str(options.param("variant", "paper"))
    if variant not in ("paper", "adaptive"):
        raise InvalidInstanceError("params.variant", f"unknown greedy variant {variant!r}; use paper or adaptive")
    if variant == "adaptive":
        sel = adaptive_greedy_select(inst.scores, inst.qos)
    else:
        sel = greedy_select(inst.scores, inst.qos, inst.own_model, order=order)
    return solution_from_selection(inst, sel, algorithm="greedy", power=power, exact=False)


@register_solver(PROBLEM, "bnb", "Alg. 2: exact P2.1: reductions + cuts + incumbent, branch and cut (HiGHS), "
                 "then power control",
                 exact=True)
def solve_bnb(inst: MBAInstance, *, options: SolveOptions) -> MBASolution:
    power = power_mode(options)
    node_limit = options.param("node_limit")
    engine = str(options.param("engine", "highs") or "highs")
    if engine not in ENGINES:
        raise InvalidInstanceError("params.engine", f"unknown bnb engine {engine!r}; use {' or '.join(ENGINES)}")
    sel = bnb_select(inst.scores, inst.qos, inst.own_model, time_limit_s=options.time_limit_s,
                     node_limit=int(node_limit) if node_limit is not None else None, engine=engine)
    return solution_from_selection(inst, sel, algorithm="bnb", power=power, exact=True)


@register_solver(PROBLEM, "milp", "P2.1 by HiGHS (scipy.optimize.milp), the reference; then power control", exact=True)
def solve_milp(inst: MBAInstance, *, options: SolveOptions) -> MBASolution:
    power = power_mode(options)
    sel = milp_select(inst.scores, inst.qos, time_limit_s=options.time_limit_s,
                      reduce=bool(options.param("reduce", False)))
    return solution_from_selection(inst, sel, algorithm="milp", power=power, exact=True)


def unicast_plan(inst: MBAInstance, power: str) -> MBASolution:
    K, N = inst.num_devices, inst.num_positions
    own_scores = inst.scores[inst.own_model, :, np.arange(K)].sum(axis=1)
    bad = np.flatnonzero(own_scores < inst.qos - 1e-9 * np.maximum(1, np.abs(inst.qos)))
    if bad.size:
        k = int(bad[0])
        return infeasible_solution("unicast", f"device {inst.device_ids[k]!r}: its own model scores "
                                   f"{own_scores[k]:g} < qos {inst.qos[k]:g}")
    H = np.repeat(inst.gains, N)
    plan = power_control(H, mode=power, bandwidth_hz=inst.bandwidth_hz, noise_w=inst.noise_w,
                         block_bits=inst.block_bits, energy_j=inst.energy_j)
    if plan is None:
        return infeasible_solution("unicast", f"energy budget {inst.energy_j:g} J is below the least energy "
                                   f"needed to unicast {K * N} blocks")
    tx = tuple(Transmission(inst.model_ids[int(inst.own_model[k])], n, float(plan.power_w[k * N + n]),
                            float(plan.duration_s[k * N + n])) for k in range(K) for n in range(N))
    asm = {inst.device_ids[k]: tuple([inst.model_ids[int(inst.own_model[k])]] * N) for k in range(K)}
    return MBASolution(problem=PROBLEM, algorithm="unicast", status=SolveStatus.FEASIBLE,
                       objective=plan.total_latency_s, broadcast=tx, assembly=asm,
                       total_latency_s=plan.total_latency_s, energy_j=plan.energy_j,
                       stats={"blocks": K * N, "power": power, **({"beta": plan.beta} if plan.beta else {})})


@register_solver(PROBLEM, "unicast", "baseline: each device gets its own model's N blocks at its own gain, power control")
def solve_unicast(inst: MBAInstance, *, options: SolveOptions) -> MBASolution:
    return unicast_plan(inst, power_mode(options))
