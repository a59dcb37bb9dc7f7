"""``reference``: exhaustive search for small ``split_noma`` instances.

Structure used (all exact consequences of the model):

* the compute units separate from everything else and have a closed-form optimum
  (:func:`edgeinfer.split.model.optimal_compute_units`);
* for a fixed set T of offloading devices, the downlink depends only on the downlink
  subchannels and AP powers, the uplink only on the uplink subchannels, the device powers and
  the splits (the result size m_i does not depend on the split);
* once the subchannels are fixed, devices on different subchannels do not interact, so the
  search enumerates T and every assignment, and solves each (subchannel, device group) once
  (memoised): downlink powers, and every split vector of the group with its uplink powers,
  each time by bounded L-BFGS-B from several starts (both ends of the box, its middle, and
  random points).

The discrete part is exhaustive; the powers are a multi-start local search of a non-convex
function, so the result is a strong reference, not a certificate (status ``feasible``).
"""

from __future__ import annotations

import itertools
import math
import time

import numpy as np

from edgeinfer.core.errors import UnsupportedInstanceError
from edgeinfer.core.options import Param
from edgeinfer.core.registry import register_solver
from edgeinfer.core.rng import make_rng
from edgeinfer.core.solution import SolveOptions
from edgeinfer.core.status import SolveStatus
from edgeinfer.split.model import (
    Decision,
    RelaxedState,
    SplitInstance,
    optimal_compute_units,
    relaxed_downlink,
    relaxed_uplink,
    single_thread,
)
from edgeinfer.split.problem import PROBLEM, SplitSolution, make_solution

__all__ = ["run_reference", "count_cases", "solve_reference"]


def _assignments(inst: SplitInstance, members: list[int]):
    """Every subchannel tuple for ``members`` respecting the per-(cell, subchannel) limit."""
    m = inst.num_subchannels
    for combo in itertools.product(range(m), repeat=len(members)):
        load: dict[tuple[int, int], int] = {}
        ok = True
        for i, k in zip(members, combo, strict=True):
            key = (int(inst.cell[i]), k)
            load[key] = load.get(key, 0) + 1
            if load[key] > inst.max_per_subchannel:
                ok = False
                break
        if ok:
            yield combo


def count_cases(inst: SplitInstance) -> int:
    """Number of (T, assignment, split) cases the search visits (upper bound, limits ignored)."""
    m, nl = inst.num_subchannels, inst.num_layers
    total = 0
    for k in range(inst.num_devices + 1):
        for t in itertools.combinations(range(inst.num_devices), k):
            total += m**k * (1 + math.prod(int(nl[i]) for i in t))
    return total


def _multistart(fun, lo: float, hi: float, n: int, rng: np.random.Generator, starts: int) -> tuple[float, np.ndarray]:
    from scipy.optimize import minimize

    best, best_x = math.inf, np.full(n, hi)
    span = hi - lo

    def scaled(z: np.ndarray) -> tuple[float, np.ndarray]:  # the box scaled to [0, 1]^n
        val, g = fun(lo + span * z)
        return val, g * span

    inits = [np.ones(n), np.zeros(n), np.full(n, 0.5)] + [rng.random(n) for _ in range(max(0, starts - 3))]
    for z0 in inits[:starts]:
        res = minimize(scaled, z0, jac=True, method="L-BFGS-B", bounds=[(0.0, 1.0)] * n,
                       options={"maxiter": 200, "ftol": 1e-11, "gtol": 1e-9})
        if res.fun < best:
            best, best_x = float(res.fun), lo + span * np.clip(np.asarray(res.x, dtype=float), 0.0, 1.0)
    return best, best_x


def _run_reference_impl(inst: SplitInstance, options: SolveOptions) -> tuple[Decision, SolveStatus, dict]:
    limit = int(options.params["max_cases"])
    cases = count_cases(inst)
    if cases > limit:
        raise UnsupportedInstanceError(
            f"reference would visit {cases} cases (> {limit}); it is meant for small instances "
            "(a few devices, subchannels and layers): use li-gd, or raise --param max_cases")
    starts = int(options.params["starts"])
    rng = make_rng(options.seed if options.seed is not None else 0)
    t0 = time.perf_counter()
    deadline = None if options.time_limit_s is None else t0 + options.time_limit_s
    st = RelaxedState.build(inst)
    u, m, nl = inst.num_devices, inst.num_subchannels, inst.num_layers
    r = optimal_compute_units(inst)
    wt, we = inst.w_latency, inst.w_energy
    # per-device cost of the compute parts for every split (s = F: the whole model locally)
    comp = []
    for i in range(u):
        loc = np.concatenate([[0.0], np.cumsum(inst.layer_flops[i])])
        c = inst.dev_flops_per_s[i]
        speed = inst.speedup(r[i]) * inst.edge_unit_flops_per_s
        comp.append(wt[i] * loc / c + we[i] * inst.dev_kappa[i] * c**2 * loc
                    + (loc[-1] - loc) * (wt[i] / speed + we[i] * inst.edge_kappa * speed**2))
    memo_up: dict[tuple, tuple[float, tuple[int, ...], np.ndarray]] = {}
    memo_dn: dict[tuple, tuple[float, np.ndarray]] = {}
    solved = [0]

    def group_down(members: tuple[int, ...], k: int) -> tuple[float, np.ndarray]:
        """min over AP powers of the downlink cost of ``members`` sharing subchannel k."""
        key = (members, k)
        if key not in memo_dn:
            beta = np.zeros((u, m))
            beta[list(members), k] = 1.0
            idx = list(members)

            def fdn(x: np.ndarray) -> tuple[float, np.ndarray]:
                pw = np.full(u, inst.ap_p_min_w)
                pw[idx] = x
                cost = (wt + we * pw) * inst.result_bits
                val, _, gp, gc, _ = relaxed_downlink(st, beta, pw, cost, True)
                return val, (gp + gc * we * inst.result_bits)[idx]

            memo_dn[key] = _multistart(fdn, inst.ap_p_min_w, inst.ap_p_max_w, len(idx), rng, starts)
            solved[0] += 1
        return memo_dn[key]

    def group_up(members: tuple[int, ...], k: int) -> tuple[float, tuple[int, ...], np.ndarray]:
        """min over splits (< F) and device powers of compute + uplink cost of ``members`` on k."""
        key = (members, k)
        if key not in memo_up:
            idx = list(members)
            beta = np.zeros((u, m))
            beta[idx, k] = 1.0
            best: tuple[float, tuple[int, ...], np.ndarray] = (math.inf, (), np.zeros(0))
            for splits in itertools.product(*[range(int(nl[i])) for i in idx]):
                base = float(sum(comp[i][s] for i, s in zip(idx, splits, strict=True)))
                if base >= best[0]:
                    continue
                bits = np.zeros(u)
                bits[idx] = [inst.split_bits[i][s] for i, s in zip(idx, splits, strict=True)]

                def fup(x: np.ndarray, bits: np.ndarray = bits) -> tuple[float, np.ndarray]:
                    p = np.full(u, inst.p_min_w)
                    p[idx] = x
                    cost = (wt + we * p) * bits
                    val, _, gp, gc, _ = relaxed_uplink(st, beta, p, cost, True)
                    return val, (gp + gc * we * bits)[idx]

                val, x = _multistart(fup, inst.p_min_w, inst.p_max_w, len(idx), rng, starts)
                solved[0] += 1
                if base + val < best[0]:
                    best = (base + val, tuple(splits), x)
            memo_up[key] = best
        return memo_up[key]

    def groups(members: list[int], combo: tuple[int, ...]) -> dict[int, tuple[int, ...]]:
        out: dict[int, list[int]] = {}
        for i, k in zip(members, combo, strict=True):
            out.setdefault(k, []).append(i)
        return {k: tuple(v) for k, v in out.items()}

    best_val = math.inf
    best: Decision | None = None
    status = SolveStatus.FEASIBLE
    visited = 0
    for n_off in range(u + 1):
        for tset in itertools.combinations(range(u), n_off):
            members = list(tset)
            local = float(sum(comp[i][nl[i]] for i in range(u) if i not in tset))
            # downlink and uplink separate given T (the result size does not depend on the split),
            # and both separate by subchannel once the assignment is fixed
            dn_best, dn_sub, dn_pw = 0.0, np.full(u, -1), np.zeros(u)
            if members:
                dn_best = math.inf
                for combo in _assignments(inst, members):
                    tot, pw = 0.0, np.zeros(u)
                    for k, g in groups(members, combo).items():
                        v, x = group_down(g, k)
                        tot += v
                        pw[list(g)] = x
                    visited += 1
                    if tot < dn_best:
                        dn_best, dn_pw = tot, pw
                        dn_sub = np.full(u, -1)
                        dn_sub[members] = combo
            if local + dn_best >= best_val:
                continue
            for combo in ([()] if not members else _assignments(inst, members)):
                tot, p, split = 0.0, np.zeros(u), nl.copy()
                for k, g in groups(members, combo).items():
                    v, sp, x = group_up(g, k)
                    if not math.isfinite(v):  # no split and power of the group has a finite cost
                        tot = math.inf
                        break
                    tot += v
                    p[list(g)] = x
                    split[list(g)] = sp
                visited += 1
                total = local + dn_best + tot
                if total < best_val:
                    best_val = total
                    up_sub = np.full(u, -1)
                    up_sub[members] = combo
                    off = split < nl
                    best = Decision(split, up_sub, dn_sub.copy(), p, dn_pw.copy(), np.where(off, r, 0.0))
                if deadline is not None and time.perf_counter() > deadline:
                    status = SolveStatus.TIME_LIMIT
                    break
            if status is SolveStatus.TIME_LIMIT:
                break
        if status is SolveStatus.TIME_LIMIT:
            break
    assert best is not None  # the all-local case (no offloading device) is always visited first
    return best, status, {"evaluations": visited, "power_problems": solved[0], "search_objective": best_val}


def run_reference(inst: SplitInstance, options: SolveOptions) -> tuple[Decision, SolveStatus, dict]:
    """Single-threaded BLAS: the small matrix products here lose badly to thread contention."""
    import scipy.optimize  # noqa: F401  (load its BLAS before limiting the thread pools)
    with single_thread():
        return _run_reference_impl(inst, options)


@register_solver(PROBLEM, "reference", "exhaustive splits/subchannels with multi-start L-BFGS-B powers and "
                 "closed-form compute (small instances)", params=(
                     Param("max_cases", 200_000, int, "refuse instances whose search visits more (T, assignment, "
                           "split) cases", bounds=(1, None)),
                     Param("starts", 4, int, "L-BFGS-B starts per power problem (box ends, middle, then random)",
                           bounds=(1, 1000)),
                 ))
def solve_reference(inst: SplitInstance, *, options: SolveOptions) -> SplitSolution:
    dec, status, stats = run_reference(inst, options)
    return make_solution(inst, "reference", status, dec, stats=stats)
