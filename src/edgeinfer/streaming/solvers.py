"""Solvers of ``slide``, in the paper's order: the exact ``slide`` algorithm, our time-varying
``slide-dynamic`` extension, and the ``sequential`` and ``equal-bandwidth`` baselines
(docs/streaming.md). ``edgeinfer list --problem slide`` prints their parameters.

Everything per (user, candidate model) is vectorised with NumPy: the least share of a pair is
the closed form ``max_l bits_{<=l} / (T - flops_{>=l}/f*) / (B * se)`` (Theorem 1) at the
fastest allowed speed ``f*`` (Theorem 2); users are then admitted cheapest share first
(Theorem 3).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgeinfer.core.options import Param
from edgeinfer.core.registry import register_solver
from edgeinfer.core.solution import SolveOptions
from edgeinfer.core.status import SolveStatus
from edgeinfer.streaming.model import user_finish_time
from edgeinfer.streaming.problem import (
    PROBLEM,
    TIMELINE_RTOL,
    SlideInstance,
    SlideSolution,
    UserAlloc,
)

__all__ = ["PairTable", "pair_table", "best_speeds", "solve_slide", "solve_slide_dynamic", "solve_sequential",
           "solve_equal_bandwidth", "admit_sorted", "layer_jobs"]

#: ``latency=auto`` reports per-user latencies up to this many served users (each costs one recursion)
LATENCY_AUTO_MAX_USERS = 20000
#: the ``latency`` option of ``slide``, ``sequential`` and ``equal-bandwidth``
LATENCY = Param("latency", "auto", str, "report each served user's latency_s (recursion (R)); auto: up to "
                f"{LATENCY_AUTO_MAX_USERS} served users", choices=("auto", "true", "false"))


def best_speeds(inst: SlideInstance, total_flops: float | np.ndarray, users: np.ndarray) -> np.ndarray:
    """Vectorised ``f* = min(f_max, sqrt(E / (kappa F)))`` (``f_max`` when ``kappa F = 0``)."""
    kappa = inst.energy_coefficient[users]
    denom = kappa * total_flops
    with np.errstate(divide="ignore", invalid="ignore"):
        cap = np.where(denom > 0, np.sqrt(inst.energy_budget_j[users] / np.where(denom > 0, denom, 1.0)), np.inf)
    return np.minimum(inst.max_flops_per_s[users], cap)


@dataclass(frozen=True)
class PairTable:
    """One row per (user, candidate model): least share (inf if impossible) and speed."""

    user: np.ndarray
    model: np.ndarray
    share: np.ndarray
    speed: np.ndarray


def pair_table(inst: SlideInstance, execution: str = "pipelined") -> PairTable:
    """Least bandwidth share of every (user, candidate) pair at its best speed.

    ``pipelined``: ``r >= max_l bits_{<=l} / (T - flops_{>=l} / f)``; ``sequential``:
    ``r >= bits / (T - flops / f)``; the share is ``r / (B se)``; ``inf`` when no rate suffices.
    """
    n_c = np.array([len(c) for c in inst.candidates], dtype=np.int64)
    user = np.repeat(np.arange(inst.num_users, dtype=np.int64), n_c)
    model = np.fromiter((m for c in inst.candidates for m in c), dtype=np.int64, count=int(n_c.sum()))
    share = np.full(len(user), np.inf)
    speed = np.zeros(len(user))
    order = np.argsort(model, kind="stable")
    bounds = np.searchsorted(model[order], np.arange(len(inst.model_ids) + 1))
    for m in range(len(inst.model_ids)):
        idx = order[bounds[m]:bounds[m + 1]]
        if len(idx) == 0:
            continue
        u = user[idx]
        bits, flops = inst.model_bits[m], inst.model_flops[m]
        f = best_speeds(inst, float(flops.sum()), u)
        speed[idx] = f
        T = inst.deadline_s[u]
        with np.errstate(divide="ignore", invalid="ignore"):
            if execution == "sequential":
                cb = np.array([bits.sum()])
                slack = (T - flops.sum() / f)[:, None]
            else:
                cb = np.cumsum(bits)
                suf = np.cumsum(flops[::-1])[::-1]
                slack = T[:, None] - suf[None, :] / f[:, None]
            bad = np.any((slack < 0) | ((slack <= 0) & (cb[None, :] > 0)), axis=1) | (f <= 0)
            need = np.where(cb[None, :] > 0, cb[None, :] / np.where(slack > 0, slack, 1.0), 0.0).max(axis=1)
        rate_full = inst.bandwidth_hz * inst.spectral_efficiency[u]
        share[idx] = np.where(bad, np.inf, need / rate_full)
    return PairTable(user=user, model=model, share=share, speed=speed)


def cheapest_per_user(inst: SlideInstance, table: PairTable) -> tuple[np.ndarray, np.ndarray]:
    """Per user: index into ``table`` of its cheapest candidate (ties: first listed) and its share."""
    n = inst.num_users
    best = np.full(n, -1, dtype=np.int64)
    best_share = np.full(n, np.inf)
    # lexsort by (share, pair index) within user; the first row of each user is its cheapest
    order = np.lexsort((np.arange(len(table.user)), table.share, table.user))
    first = np.ones(len(order), dtype=bool)
    first[1:] = table.user[order][1:] != table.user[order][:-1]
    rows = order[first]
    best[table.user[rows]] = rows
    best_share[table.user[rows]] = table.share[rows]
    return best, best_share


def admit_sorted(shares: np.ndarray, capacity: float = 1.0) -> np.ndarray:
    """Users admitted cheapest first while the total share stays <= capacity (Theorem 3)."""
    order = np.argsort(shares, kind="stable")
    s = shares[order]
    ok = np.isfinite(s) & (s <= 1.0)
    s = np.where(ok, s, np.inf)
    k = int(np.searchsorted(np.cumsum(s), capacity, side="right"))
    return order[:k]


def _static_solution(inst: SlideInstance, algorithm: str, status: SolveStatus, table: PairTable, rows: np.ndarray,
                     shares: np.ndarray | None = None, execution: str = "pipelined",
                     stats: dict[str, Any] | None = None,
                     with_latency: bool = True) -> SlideSolution:
    allocs = []
    for i, r in enumerate(rows):
        share = float(table.share[r] if shares is None else shares[i])
        a = UserAlloc(user=int(table.user[r]), model=int(table.model[r]), share=share, speed=float(table.speed[r]))
        if with_latency:
            a = UserAlloc(user=a.user, model=a.model, share=a.share, speed=a.speed,
                          latency_s=user_finish_time(inst, a, execution))
        allocs.append(a)
    allocs.sort(key=lambda a: a.user)
    return SlideSolution(problem=PROBLEM, algorithm=algorithm, status=status, objective=float(len(allocs)),
                         allocs=tuple(allocs), user_ids=inst.user_ids, model_ids=inst.model_ids,
                         execution=execution, stats=dict(stats or {}))


def _with_latency(flag: str, n: int) -> bool:
    """Whether to report latencies for ``n`` served users (``latency`` = auto | true | false)."""
    return n <= LATENCY_AUTO_MAX_USERS if flag == "auto" else flag == "true"


def _slide(inst: SlideInstance, latency: str) -> SlideSolution:
    """The ``slide`` algorithm (Theorems 1-3) with the ``latency`` option."""
    table = pair_table(inst, "pipelined")
    best, best_share = cheapest_per_user(inst, table)
    admitted = admit_sorted(best_share)
    used = float(best_share[admitted].sum()) if len(admitted) else 0.0
    return _static_solution(inst, "slide", SolveStatus.OPTIMAL, table, best[admitted],
                            stats={"total_share": used}, with_latency=_with_latency(latency, len(admitted)))


@register_solver(PROBLEM, "slide", "optimal: closed-form least share per user/model, fastest speed, "
                 "admit cheapest first (polynomial)", exact=True, params=(LATENCY,))
def solve_slide(inst: SlideInstance, *, options: SolveOptions) -> SlideSolution:
    return _slide(inst, options.params["latency"])


# ----------------------------------------------------------------------------------------------
# slide-dynamic: EDF over per-layer download deadlines on the shared channel
# ----------------------------------------------------------------------------------------------


def layer_jobs(inst: SlideInstance, user: int, model: int, speed: float) -> tuple[np.ndarray, np.ndarray]:
    """Download jobs of (user, model): channel time ``bits_l / (B se)`` (s at share 1) and the
    latest completion time ``T - flops_{>=l} / f`` (deadlines non-decreasing in ``l``)."""
    bits, flops = inst.model_bits[model], inst.model_flops[model]
    p = bits / inst.full_rate_bps(user)
    d = inst.deadline_s[user] - np.cumsum(flops[::-1])[::-1] / speed
    return p, d


class _EDFSet:
    """Admitted jobs sorted by deadline; feasibility of one channel of capacity 1 with all
    releases at 0 is ``sum_{d_j <= t} p_j <= t`` at every deadline ``t`` (EDF is optimal)."""

    def __init__(self, tol: float) -> None:
        self.d = np.empty(0)
        self.p = np.empty(0)
        self.cum = np.empty(0)
        self.tol = tol

    def fits(self, p: np.ndarray, d: np.ndarray) -> bool:
        cp = np.cumsum(p)
        if np.any(cp > d + self.tol * np.maximum(1.0, np.abs(d))):
            return False
        if len(self.d) == 0:
            return True
        # existing jobs: their slack must absorb the new work due no later than them
        idx = np.searchsorted(d, self.d, side="right")
        add = np.where(idx > 0, cp[np.maximum(idx - 1, 0)], 0.0)
        if np.any(self.cum + add > self.d + self.tol * np.maximum(1.0, np.abs(self.d))):
            return False
        # new jobs: the old work due no later than them plus their own prefix
        jdx = np.searchsorted(self.d, d, side="right")
        old = np.where(jdx > 0, self.cum[np.maximum(jdx - 1, 0)], 0.0)
        return not np.any(old + cp > d + self.tol * np.maximum(1.0, np.abs(d)))

    def add(self, p: np.ndarray, d: np.ndarray) -> None:
        pos = np.searchsorted(self.d, d, side="right")
        self.d = np.insert(self.d, pos, d)
        self.p = np.insert(self.p, pos, p)
        self.cum = np.cumsum(self.p)


def edf_timelines(inst: SlideInstance, chosen: list[tuple[int, int, float]]) -> dict[int, np.ndarray]:
    """EDF schedule of the chosen (user, model, speed): jobs in (deadline, user, layer) order, each
    at share 1; returns each user's timeline rows (t_start, t_end, 1.0), contiguous rows merged."""
    ps, ds, us, ls = [], [], [], []
    for user, model, speed in chosen:
        p, d = layer_jobs(inst, user, model, speed)
        ps.append(p)
        ds.append(d)
        us.append(np.full(len(p), user))
        ls.append(np.arange(len(p)))
    if not ps:
        return {}
    p, d, u, la = (np.concatenate(x) for x in (ps, ds, us, ls))
    order = np.lexsort((la, u, d))
    p, u = p[order], u[order]
    end = np.cumsum(p)
    start = np.concatenate(([0.0], end[:-1]))  # exactly the previous end: no overlap by rounding
    out: dict[int, list[list[float]]] = {}
    for s0, e0, uu, pp in zip(start, end, u, p, strict=True):
        if pp <= 0:
            continue
        rows = out.setdefault(int(uu), [])
        if rows and rows[-1][1] == s0:
            rows[-1][1] = float(e0)
        else:
            rows.append([float(s0), float(e0), 1.0])
    return {k: np.array(v, dtype=float) for k, v in out.items()}


@register_solver(PROBLEM, "slide-dynamic", "beyond the paper: time-varying shares (EDF over each layer's "
                 "latest download time), slide's users plus greedily added ones",
                 params=(Param("tol", 1e-9, float, "relative slack of the EDF feasibility test "
                               "(sum of channel times <= deadline)", bounds=(0.0, None)),))
def solve_slide_dynamic(inst: SlideInstance, *, options: SolveOptions) -> SlideSolution:
    t0 = time.perf_counter()
    tol = options.params["tol"]
    static = _slide(inst, "false")
    table = pair_table(inst, "pipelined")
    edf = _EDFSet(tol)
    chosen: list[tuple[int, int, float]] = []
    served = np.zeros(inst.num_users, dtype=bool)
    for a in static.allocs:
        p, d = layer_jobs(inst, a.user, a.model, a.speed)
        if not edf.fits(p, d):  # numerically borderline: keep the static optimum
            return _finish_static(inst)
        edf.add(p, d)
        chosen.append((a.user, a.model, a.speed))
        served[a.user] = True
    # candidates: every finite pair of an unserved user, by total channel time
    fin = np.isfinite(table.share) & (table.share <= 1.0) & ~served[table.user]
    rows = np.flatnonzero(fin)
    work = np.array([inst.model_bits[table.model[r]].sum() / inst.full_rate_bps(int(table.user[r])) for r in rows])
    user_work: dict[int, float] = {}
    for r, w in zip(rows, work, strict=True):
        user_work[int(table.user[r])] = min(user_work.get(int(table.user[r]), math.inf), float(w))
    rank = sorted(zip(rows, work, strict=True), key=lambda x: (user_work[int(table.user[x[0]])],
                                                                int(table.user[x[0]]), x[1]))
    tried = 0
    deadline = None if options.time_limit_s is None else t0 + options.time_limit_s
    status = SolveStatus.FEASIBLE
    for r, _ in rank:
        u = int(table.user[r])
        if served[u]:
            continue
        if deadline is not None and time.perf_counter() > deadline:
            status = SolveStatus.TIME_LIMIT
            break
        tried += 1
        p, d = layer_jobs(inst, u, int(table.model[r]), float(table.speed[r]))
        if edf.fits(p, d):
            edf.add(p, d)
            chosen.append((u, int(table.model[r]), float(table.speed[r])))
            served[u] = True
    timelines = edf_timelines(inst, chosen)
    allocs = []
    for u, m, f in chosen:
        tl = timelines.get(u, np.zeros((0, 3)))
        a = UserAlloc(user=u, model=m, share=1.0 if len(tl) else 0.0, speed=f, timeline=tl)
        allocs.append(UserAlloc(user=u, model=m, share=a.share, speed=f, timeline=tl,
                                latency_s=user_finish_time(inst, a)))
    # a user whose simulated finish misses its deadline by rounding makes us fall back
    if any(a.latency_s is None or a.latency_s > inst.deadline_s[a.user] * (1 + TIMELINE_RTOL) for a in allocs):
        return _finish_static(inst)
    allocs.sort(key=lambda a: a.user)
    return SlideSolution(problem=PROBLEM, algorithm="slide-dynamic", status=status, objective=float(len(allocs)),
                         allocs=tuple(allocs), user_ids=inst.user_ids, model_ids=inst.model_ids,
                         stats={"static_served": len(static.allocs), "added": len(allocs) - len(static.allocs),
                                "tried": tried})


def _finish_static(inst: SlideInstance) -> SlideSolution:
    """Fallback of ``slide-dynamic``: the static optimum (latencies as ``latency=auto``)."""
    s = _slide(inst, "auto")
    return SlideSolution(problem=PROBLEM, algorithm="slide-dynamic", status=SolveStatus.FEASIBLE,
                         objective=s.objective, allocs=s.allocs, user_ids=s.user_ids, model_ids=s.model_ids,
                         stats={"static_served": len(s.allocs), "added": 0, "fallback": "static"})


# ----------------------------------------------------------------------------------------------
# baselines
# ----------------------------------------------------------------------------------------------


@register_solver(PROBLEM, "sequential", "baseline: download-then-infer, optimally allocated (least share "
                 "bits/(T - F/f*), cheapest first)", params=(LATENCY,))
def solve_sequential(inst: SlideInstance, *, options: SolveOptions) -> SlideSolution:
    table = pair_table(inst, "sequential")
    best, best_share = cheapest_per_user(inst, table)
    admitted = admit_sorted(best_share)
    return _static_solution(inst, "sequential", SolveStatus.FEASIBLE, table, best[admitted], execution="sequential",
                            with_latency=_with_latency(options.params["latency"], len(admitted)))


@register_solver(PROBLEM, "equal-bandwidth", "baseline: the largest k such that k users finish "
                 "(pipelined) with an equal share 1/k", params=(LATENCY,))
def solve_equal_bandwidth(inst: SlideInstance, *, options: SolveOptions) -> SlideSolution:
    table = pair_table(inst, "pipelined")
    best, best_share = cheapest_per_user(inst, table)
    order = np.argsort(best_share, kind="stable")
    s = best_share[order]
    ks = np.arange(1, len(s) + 1)
    ok = np.flatnonzero(s <= 1.0 / ks)  # the k-th cheapest fits in 1/k, so do the k cheapest
    k = int(ok[-1]) + 1 if len(ok) else 0
    rows = best[order[:k]]
    return _static_solution(inst, "equal-bandwidth", SolveStatus.FEASIBLE, table, rows,
                            shares=np.full(k, 1.0 / k) if k else None, stats={"k": k},
                            with_latency=_with_latency(options.params["latency"], k))
