"""``reference``: exhaustive search for small ``split_noma`` instances.

Structure used (all exact consequences of the model):

* the compute units separate from everything else and have a closed-form optimum
  (:func:`edgeinfer.split.model.optimal_compute_units`);
* for a fixed set T of offloading devices, the downlink depends only on the downlink
  subchannels and AP powers, the uplink only on the uplink subchannels, the device powers and
  the splits (the result size m_i does not depend on the split);
* so the search enumerates T, every downlink assignment of T and every uplink assignment
  times every split vector of T, each time minimising the powers with bounded L-BFGS-B from
  several starts (both ends of the box, its middle, and random points).

The discrete part is exhaustive; the powers are a multi-start local search of a non-convex
function, so the result is a strong reference, not a certificate (status ``feasible``).
"""

from __future__ import annotations

import itertools
import math
import time

import numpy as np

from edgeinfer.core.errors import UnsupportedInstanceError
from edgeinfer.core.rng import make_rng
from edgeinfer.core.solution import SolveOptions
from edgeinfer.core.status import SolveStatus
from edgeinfer.split.model import (
    Decision,
    RelaxedState,
    SplitInstance,
    SplitTables,
    _downlink,
    _uplink,
    device_cost,
    edge_cost,
    optimal_compute_units,
    split_tables,
)

__all__ = ["run_reference", "count_cases"]


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
    inits = [np.full(n, hi), np.full(n, lo), np.full(n, 0.5 * (lo + hi))]
    inits += [rng.uniform(lo, hi, n) for _ in range(max(0, starts - 3))]
    for x0 in inits[: max(starts, 1)]:
        res = minimize(fun, x0, jac=True, method="L-BFGS-B", bounds=[(lo, hi)] * n,
                       options={"maxiter": 500, "ftol": 1e-13, "gtol": 1e-12})
        if res.fun < best:
            best, best_x = float(res.fun), np.asarray(res.x, dtype=float)
    return best, best_x


def run_reference(inst: SplitInstance, options: SolveOptions) -> tuple[Decision, SolveStatus, dict]:
    limit = int(options.param("max_cases", 20000))
    cases = count_cases(inst)
    if cases > limit:
        raise UnsupportedInstanceError(
            f"reference would visit {cases} cases (> {limit}); it is meant for small instances "
            "(a few devices, subchannels and layers): use li-gd, or raise --param max_cases")
    starts = int(options.param("starts", 4))
    rng = make_rng(options.seed if options.seed is not None else 0)
    t0 = time.perf_counter()
    deadline = None if options.time_limit_s is None else t0 + options.time_limit_s
    st = RelaxedState.build(inst)
    u, m, nl = inst.num_devices, inst.num_subchannels, inst.num_layers
    r = optimal_compute_units(inst)
    wt, we = inst.w_latency, inst.w_energy
    best_val = math.inf
    best: Decision | None = None
    status = SolveStatus.FEASIBLE
    visited = 0
    for k in range(u + 1):
        for tset in itertools.combinations(range(u), k):
            members = list(tset)
            # downlink: independent of the splits
            dn_best, dn_sub, dn_pw = (0.0, np.full(u, -1), np.zeros(u))
            if members:
                dn_best = math.inf
                for combo in _assignments(inst, members):
                    beta = np.zeros((u, m))
                    beta[members, list(combo)] = 1.0

                    def fdn(x: np.ndarray, beta: np.ndarray = beta, members: list[int] = members) -> tuple[float, np.ndarray]:
                        pw = np.full(u, inst.ap_p_min_w)
                        pw[members] = x
                        cost = (wt + we * pw) * inst.result_bits
                        val, _, gp, gc, _ = _downlink(st, beta, pw, cost, True)
                        return val, (gp + gc * we * inst.result_bits)[members]

                    val, x = _multistart(fdn, inst.ap_p_min_w, inst.ap_p_max_w, len(members), rng, starts)
                    visited += 1
                    if val < dn_best:
                        dn_best = val
                        dn_sub = np.full(u, -1)
                        dn_sub[members] = combo
                        dn_pw = np.zeros(u)
                        dn_pw[members] = x
            if not math.isfinite(dn_best):
                continue
            # uplink and splits
            for splits in itertools.product(*[range(int(nl[i])) for i in members]):
                split = nl.copy()
                split[members] = splits
                tb = split_tables(inst, split)
                t_dev, e_dev = device_cost(inst, tb)
                t_e, e_e = edge_cost(inst, tb, np.where(tb.offload, r, 1.0))
                base = float((wt * t_dev + we * e_dev + np.where(tb.offload, wt * t_e + we * e_e, 0.0)).sum())
                if base + dn_best >= best_val:
                    continue
                for combo in ([()] if not members else _assignments(inst, members)):
                    beta = np.zeros((u, m))
                    if members:
                        beta[members, list(combo)] = 1.0

                    def fup(x: np.ndarray, beta: np.ndarray = beta, tb: SplitTables = tb,
                            members: list[int] = members) -> tuple[float, np.ndarray]:
                        p = np.full(u, inst.p_min_w)
                        p[members] = x
                        cost = (wt + we * p) * tb.up_bits
                        val, _, gp, gc, _ = _uplink(st, beta, p, cost, True)
                        return val, (gp + gc * we * tb.up_bits)[members]

                    if members:
                        val, x = _multistart(fup, inst.p_min_w, inst.p_max_w, len(members), rng, starts)
                    else:
                        val, x = 0.0, np.zeros(0)
                    visited += 1
                    total = base + dn_best + val
                    if total < best_val:
                        best_val = total
                        up_sub = np.full(u, -1)
                        up_sub[members] = combo
                        p = np.zeros(u)
                        p[members] = x
                        best = Decision(split.copy(), up_sub, dn_sub.copy(), p, dn_pw.copy(),
                                        np.where(tb.offload, r, 0.0))
                    if deadline is not None and time.perf_counter() > deadline:
                        status = SolveStatus.TIME_LIMIT
                        break
                if status is SolveStatus.TIME_LIMIT:
                    break
            if status is SolveStatus.TIME_LIMIT:
                break
        if status is SolveStatus.TIME_LIMIT:
            break
    assert best is not None  # the all-local case (k = 0) is always visited first
    return best, status, {"cases": visited, "search_objective": best_val}
