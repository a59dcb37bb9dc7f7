# ruff: noqa: E741  (I is the paper's score tensor I_{i,n}^{(k)})
"""A Lagrangian (Dantzig-Wolfe) bound on P2.1 that convexifies each device's assemblies.

Relax the linking rows ``x[k, b] <= y[b]`` of (P2.1) with multipliers ``pi[k, b] >= 0``:

``L(pi) = min_y sum_b y_b (1 - sum_k pi[k, b])  +  sum_k min_{q in Q_k} sum_{b in q} pi[k, b]``

where ``Q_k`` is the set of device ``k``'s feasible assemblies (one usable block per position,
score ``>= c_k``, eqs. 5-7) and ``y`` is binary with at least one block per position. For every
``pi >= 0``, ``L(pi)`` is a lower bound on the optimum (weak duality); its best value equals
the LP bound of the extended formulation with one column per (device, assembly) -- the root LP
of (P2.1) with every device's assemblies convexified, which implies every per-device cut
(deviation cuts, knapsack covers on the QoS rows). It is computed here by column generation:
a restricted master LP (HiGHS via ``highspy``) over the assemblies found so far gives ``pi``
(its duals), the pricing problem of each device -- a multiple-choice knapsack: the cheapest
assembly meeting the QoS -- is solved *exactly* by a Pareto dynamic programme over positions
(:func:`cheapest_assembly`), and the bound reported is the best ``L(pi)`` seen, valid at any
iteration (so a work budget in iterations, not seconds, keeps it deterministic).

What it gives (docs/broadcast.md §3): at 12 x 12 it is 0.6-1.2 blocks above the plain LP,
but its round-up equals the bound HiGHS reaches by cuts and branching; it does not couple
devices, which is where the remaining gap lies.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgeinfer.broadcast.model import qos_tol
from edgeinfer.broadcast.solvers.component import Component, highspy, quiet_highs

__all__ = ["KERNEL_MIN_PAIRS", "MAX_CANDIDATES", "LagrangianBound", "Pricing", "PricingTooLarge", "cheapest_assembly",
           "cheapest_through", "compiled", "kernels_for", "lagrangian_bound", "lagrangian_fixing", "lp_multipliers",
           "cost_limit", "prepare_pricing", "price", "pricing_need", "root_lp", "shaved_need"]

#: float slack on the QoS threshold inside the pricing (a superset of the feasible
#: assemblies is priced, so the bound stays valid under rounding)
PRICE_TOL = 1e-9
#: float slack of the dynamic programmes on their own sums (the same scores added in another
#: order): they price every assembly whose score is within it of ``need``, a superset
SUM_TOL = 1e-12
#: ``bnb``'s work cap on one pricing: at most this many (state, block) candidates at one position
#: step of the Pareto programme (12 x 12: under 2,000; 8 devices at N = 24 under the LP duals'
#: multipliers: 12 million and 27 s for one device), beyond which the bound stops where it is
MAX_CANDIDATES = 1_000_000
#: components with at least this many usable (device, block) pairs price with the compiled
#: kernels (:func:`kernels_for`; 12 x 12: 1,728): there a pricing round takes ~1 ms instead of
#: ~10 ms; below, loading numba (~0.4 s, more on a first compilation) would cost more than it saves
KERNEL_MIN_PAIRS = 1000


def pricing_need(comp: Component) -> np.ndarray:
    """Each device's QoS threshold as the pricings use it: the feasibility tolerance and
    :data:`PRICE_TOL` below ``c_k`` (a superset of the feasible assemblies is priced)."""
    return comp.cc - qos_tol(comp.cc) - PRICE_TOL * np.maximum(1.0, np.abs(comp.cc))


class PricingTooLarge(ArithmeticError):
    """A pricing's Pareto frontier outgrew its ``max_candidates`` work cap."""


@dataclass(frozen=True)
class LagrangianBound:
    """Outcome of :func:`lagrangian_bound` for one component.

    ``bound``: best ``L(pi)`` seen (a valid lower bound on the component's optimum);
    ``master``: the last restricted master LP value (equals ``bound`` when ``converged``);
    ``iterations``: pricing rounds; ``columns``: assemblies generated; ``incumbent``: the best
    feasible selection known at the end (the start, or a rounding of the master's ``y``);
    ``proven``: ``ceil(bound) >= incumbent``'s block count (the incumbent is optimal).
    """

    bound: float
    master: float
    iterations: int
    columns: int
    converged: bool
    incumbent: np.ndarray
    proven: bool
    multipliers: np.ndarray | None = None


def cheapest_assembly(scores: list[np.ndarray], costs: list[np.ndarray], need: float, *,
                      max_candidates: int | None = None, kernel: Any = None) -> tuple[float, list[int]] | None:
    """Exact pricing: the assembly (one entry per position) of least total cost with total score
    ``>= need``; ``scores[n]`` and ``costs[n]`` (same length) are the usable blocks at position
    ``n``. Pareto dynamic programme over positions: after each position keep only the
    (score, cost) states not dominated by one with at least the score and at most the cost,
    and drop states that cannot reach ``need`` with the best remaining scores.
    Returns ``(cost, choice index per position)`` or ``None`` when no assembly reaches ``need``
    (scores within :data:`SUM_TOL` (relative) below ``need`` count as reaching it).
    Raises :class:`PricingTooLarge` when a position step has more than ``max_candidates``
    (state, block) candidates (``None``: no cap).

    ``kernel``: the compiled kernels (:func:`kernels_for`) or ``None`` (the NumPy programme);
    both give the same value and the same assembly (the same states in the same order, tested
    with ties).
    """
    prepared = prepare_pricing(scores, need)
    if prepared is None:
        return None
    return price(prepared, np.concatenate(costs), max_candidates=max_candidates, kernel=kernel)


@dataclass(frozen=True)
class Pricing:
    """One device's pricing data in the kernel's flat form: ``scores`` of the usable blocks
    position after position (position ``n`` at ``offsets[n]:offsets[n + 1]``), ``best_rest[n]``
    the best score over positions ``n..N-1``, ``need`` with :data:`SUM_TOL` taken off."""

    scores: np.ndarray
    offsets: np.ndarray
    best_rest: np.ndarray
    need: float


def shaved_need(need: float) -> float:
    """``need`` less :data:`SUM_TOL` (relative): the threshold the dynamic programmes compare their
    own sums with (the same scores added in another order), so that a superset is priced."""
    return need - SUM_TOL * max(1.0, abs(need))


def prepare_pricing(scores: list[np.ndarray], need: float) -> Pricing | None:
    """The flat form of one device's pricing (:class:`Pricing`), built once for many cost vectors;
    ``None`` when no assembly reaches ``need`` (or a position has no usable block)."""
    need = shaved_need(need)
    best_rest = np.r_[np.cumsum([s.max() if s.size else -np.inf for s in scores][::-1])[::-1], 0.0]
    if not math.isfinite(best_rest[0]) or best_rest[0] < need:
        return None
    offsets = np.r_[0, np.cumsum([len(s) for s in scores])].astype(np.int64)
    return Pricing(np.concatenate(scores).astype(float), offsets, best_rest, float(need))


#: relative slack of :func:`cost_limit` (the float error of a sum of a few dozen costs is ~1e-14)
LIMIT_TOL = 1e-9


def cost_limit(known: float) -> float:
    """The pricing's cost limit from the cost ``known`` of an assembly known to be feasible (the
    same assembly summed in position order): with a slack of :data:`LIMIT_TOL` (relative), so that
    rounding never drops a state of an assembly that costs at most ``known``."""
    return known + LIMIT_TOL * max(1.0, abs(known))


def price(p: Pricing, costs: np.ndarray, *, max_candidates: int | None = None,
          kernel: Any = None, limit: float = math.inf) -> tuple[float, list[int]] | None:
    """:func:`cheapest_assembly` on prepared data: ``costs`` in the order of ``p.scores``;
    ``kernel``: the compiled kernels or ``None``. ``limit`` (:func:`cost_limit` of a feasible
    assembly's cost): states whose cost plus the least costs of the positions to come exceed it
    are dropped; the same value and assembly as without it (the cheapest assembly's states are
    never dropped, and dropped states never decide which of the others survive; tested), but
    smaller frontiers. With a limit that no assembly meets it prices again without one."""
    costs = np.asarray(costs, float)
    if kernel is None:
        out = _cheapest_assembly_numpy(p, costs, max_candidates, limit)
        return price(p, costs, max_candidates=max_candidates) if isinstance(out, str) else out
    status, value, choice = kernel.pareto_dp(p.scores, costs, p.offsets, p.need, p.best_rest,
                                             -1 if max_candidates is None else int(max_candidates), limit)
    if status == 2:
        raise PricingTooLarge(f"over {max_candidates} candidates at a position")
    if status == 3:
        return price(p, costs, max_candidates=max_candidates, kernel=kernel)
    return None if status == 1 else (float(value), choice.tolist())


_KERNEL: list = []


def kernels_for(comp: Component) -> Any:
    """The compiled kernels for a component with at least :data:`KERNEL_MIN_PAIRS` usable pairs
    (:func:`compiled`), else ``None``: the answers are the same either way, only the speed differs."""
    return compiled() if comp.nx >= KERNEL_MIN_PAIRS else None


def compiled() -> Any:
    """The compiled kernels (module :mod:`~edgeinfer.broadcast.solvers._pricing_kernel`), or ``None``
    when numba does not import; imported once, lazily, so that a plain solve never loads numba.
    The NumPy code beside each kernel gives the same answers."""
    if not _KERNEL:
        kernel: Any = None
        try:
            from edgeinfer.broadcast.solvers import _pricing_kernel as kernel
        except ImportError:  # numba missing or broken: the NumPy code runs
            pass
        _KERNEL.append(kernel)
    return _KERNEL[0]


#: bisection steps of the slope ``mu`` of the pricing's cost-limit bound (:func:`_slope_tail`)
SLOPE_STEPS = 12


def _slope_tail(p: Pricing, costs: np.ndarray) -> tuple[float, np.ndarray]:
    """The slope bound of the pricing's cost limit: a multiplier ``mu >= 0`` of the QoS row and
    ``tail[n] = sum_{n' >= n} min_j (c_j - mu s_j)``. Any assembly of positions ``n..N-1`` with
    score at least ``r`` costs at least ``tail[n] + mu r`` (weak duality of the row), so a state
    of score ``s`` and cost ``c`` after position ``n - 1`` cannot finish within the limit when
    ``c + (tail[n] + mu (need - s))`` exceeds it; ``mu = 0`` is the plain least-cost bound. ``mu``
    is near the LP optimum of the whole knapsack: doubled from 1 while the assembly of least
    ``c - mu s`` (ties: the higher score) misses ``need``, then :data:`SLOPE_STEPS` bisection steps
    (0 when the least-cost assembly meets ``need``). The compiled ``_pricing_kernel._slope`` is the
    same computation: the same floats, so both programmes keep the same states."""
    N = len(p.offsets) - 1
    starts, lens = p.offsets[:-1], np.diff(p.offsets)

    def short(mu: float) -> bool:
        v = costs - mu * p.scores
        low = np.repeat(np.minimum.reduceat(v, starts), lens)
        best = np.maximum.reduceat(np.where(v == low, p.scores, -np.inf), starts)
        tot = 0.0
        for x in best.tolist():  # in position order, as the kernel sums
            tot = tot + x
        return tot < p.need

    lo, hi = 0.0, 1.0
    for _ in range(80):
        if not short(hi):
            break
        lo, hi = hi, 2.0 * hi
    mu = 0.0
    if lo > 0.0 or short(0.0):
        for _ in range(SLOPE_STEPS):
            mid = 0.5 * (lo + hi)
            if short(mid):
                lo = mid
            else:
                hi = mid
        mu = lo
    tail = np.zeros(N + 1)
    acc = 0.0
    mins = np.minimum.reduceat(costs - mu * p.scores, starts).tolist()
    for n in range(N - 1, -1, -1):
        acc = acc + mins[n]
        tail[n] = acc
    return mu, tail


def _cheapest_assembly_numpy(p: Pricing, costs: np.ndarray, max_candidates: int | None, limit: float = math.inf
                             ) -> tuple[float, list[int]] | str | None:
    """The Pareto programme of :func:`cheapest_assembly` in NumPy (the reference of the kernel);
    ``"limit"`` when no assembly costs at most ``limit`` (:func:`price`)."""
    N = len(p.offsets) - 1
    least = np.zeros(N + 1)  # least[n]: the sum of the least costs at positions n..N-1, summed as the kernel does
    acc = 0.0
    for n in range(N - 1, -1, -1):
        acc = acc + float(costs[p.offsets[n]:p.offsets[n + 1]].min(initial=math.inf))
        least[n] = acc
    mu, tail = _slope_tail(p, costs) if limit < math.inf else (0.0, least)
    sc = np.zeros(1)
    co = np.zeros(1)
    back: list[tuple[np.ndarray, np.ndarray]] = []
    for n in range(N):
        s, c = p.scores[p.offsets[n]:p.offsets[n + 1]], costs[p.offsets[n]:p.offsets[n + 1]]
        m = len(s)
        if max_candidates is not None and len(sc) * m > max_candidates:
            raise PricingTooLarge(f"{len(sc) * m} candidates at position {n}")
        s2 = (sc[:, None] + s[None, :]).ravel()
        c2 = (co[:, None] + c[None, :]).ravel()
        reach = s2 + p.best_rest[n + 1] >= p.need
        if limit < math.inf:
            reach &= c2 + least[n + 1] <= limit
            if mu > 0.0:
                reach &= c2 + (tail[n + 1] + mu * (p.need - s2)) <= limit
        idx = np.flatnonzero(reach)
        if idx.size == 0:
            return None if limit == math.inf else "limit"
        s2 = s2[idx]
        c2 = c2[idx]
        order = np.lexsort((c2, -s2))  # score descending, then cost ascending
        c2 = c2[order]
        keep = np.empty(len(c2), bool)  # strictly cheaper than every state with at least this score
        keep[0] = True
        np.less(c2[1:], np.minimum.accumulate(c2)[:-1], out=keep[1:])
        sel = order[keep]
        sc, co = s2[sel], c2[keep]
        back.append((idx[sel] // m, idx[sel] % m))
    j = int(np.argmin(co))
    value = float(co[j])
    choice = []
    for par, ch in reversed(back):
        choice.append(int(ch[j]))
        j = int(par[j])
    return value, choice[::-1]


def lagrangian_bound(comp: Component, start: np.ndarray | None, *, max_iterations: int,
                     round_every: int = 5, master_ip_nodes: int = 20,
                     time_limit_s: float | None = None, stop_at_proof: bool = True,
                     warm: np.ndarray | None = None, smoothing: float = 0.0,
                     max_candidates: int | None = None) -> LagrangianBound:
    """Column generation for the bound of the module docstring on one component.

    ``start``: a feasible selection of the component's blocks (its best assemblies seed the
    master; ``None``: every kept block). At most ``max_iterations`` pricing rounds; stops
    early once ``ceil(bound - 1e-6)`` reaches the incumbent (proven optimal) unless
    ``stop_at_proof`` is false (then it runs to convergence: the full bound). Every
    ``round_every`` rounds (and at the end) the master's fractional ``y`` is rounded into a
    feasible selection (:meth:`~edgeinfer.broadcast.solvers.component.Component.round_up`),
    which replaces the incumbent when it has fewer blocks. If the bound is not proven at
    the end, the restricted master is solved as an integer programme over the generated
    assemblies (price and branch: a primal heuristic, at most ``master_ip_nodes`` HiGHS
    nodes; ``time_limit_s``, set only when the user set a time limit, caps the rounds and it): every integer solution
    is a feasible selection (each device keeps one of its feasible assemblies inside ``y``).
    ``warm``: multipliers ``[nb, Kc]`` (e.g. the compact LP's duals of ``x <= y``) whose priced
    assemblies seed the master beside the start's. ``smoothing`` in ``[0, 1)``: Wentges
    dual smoothing (pricing at ``smoothing * best + (1 - smoothing) * duals``). ``max_candidates``:
    the work cap of every pricing (:func:`cheapest_assembly`); a round that exceeds it ends the
    column generation with the best bound of the complete rounds before it."""
    hs = highspy()
    nb, Kc = comp.nb, comp.Kc
    need = pricing_need(comp)
    kernel = kernels_for(comp)
    pairs = comp.pairs
    nx = comp.nx
    pid = np.full((nb, Kc), -1)
    pid[pairs[:, 0], pairs[:, 1]] = np.arange(nx)
    usable = [[g[np.isfinite(comp.S[g, kk])] for g in comp.by_pos] for kk in range(Kc)]
    h = quiet_highs(hs)
    h.setOptionValue("output_flag", False)
    inf = hs.kHighsInf
    empty_i, empty_v = np.array([], np.int32), np.array([], float)
    # rows 0..nx-1: y_b - sum_{q ∋ b} mu_kq >= 0 (dual pi_kb >= 0); nx..nx+Kc-1: sum_q mu_kq = 1
    h.addRows(nx, np.zeros(nx), np.full(nx, inf), 0, empty_i, empty_i, empty_v)
    h.addRows(Kc, np.ones(Kc), np.ones(Kc), 0, empty_i, empty_i, empty_v)
    for b in range(nb):
        rows = pid[b][pid[b] >= 0].astype(np.int32)
        h.addCol(1.0, 0.0, 1.0, len(rows), rows, np.ones(len(rows)))
    columns = 0

    def add(kk: int, q: list[int]) -> None:
        nonlocal columns
        rows = np.r_[pid[q, kk], nx + kk].astype(np.int32)
        h.addCol(0.0, 0.0, inf, len(rows), rows, np.r_[-np.ones(len(q)), 1.0])
        columns += 1

    inc = np.ones(nb) if start is None else np.asarray(start, float)
    xa = comp.assignment(inc)
    for kk in range(Kc):
        add(kk, [int(b) for b in pairs[(xa > 0.5) & (pairs[:, 1] == kk), 0]])
        if warm is not None:
            try:
                out = cheapest_assembly([comp.S[g, kk] for g in usable[kk]],
                                        [np.maximum(warm[g, kk], 0.0) for g in usable[kk]], need[kk],
                                        max_candidates=max_candidates, kernel=kernel)
            except PricingTooLarge:
                out = None  # the start's assembly seeds this device alone
            if out is not None:
                add(kk, [int(usable[kk][n][j]) for n, j in enumerate(out[1])])
    best = -math.inf
    best_P = None
    master = math.inf
    converged = proven = False
    it = 0
    zeros, ones = np.zeros(nb), np.ones(nb)

    def improve() -> None:
        nonlocal inc
        yr = comp.round_up(np.asarray(h.getSolution().col_value)[:nb], zeros, ones)
        if yr is not None and comp.feasible(yr) and yr.sum() < inc.sum():
            inc = yr

    def price_all(Pm: np.ndarray) -> tuple[float, list[tuple[int, list[int]]]]:
        """``L(Pm)`` and every device's cheapest assembly at ``Pm``."""
        value = 0.0
        cols = []
        for kk in range(Kc):
            out = cheapest_assembly([comp.S[g, kk] for g in usable[kk]], [Pm[g, kk] for g in usable[kk]], need[kk],
                                    max_candidates=max_candidates, kernel=kernel)
            if out is None:  # pragma: no cover - components are feasible after reduce_problem
                raise ArithmeticError("a device of a component has no feasible assembly")
            value += out[0]
            cols.append((kk, [int(usable[kk][n][j]) for n, j in enumerate(out[1])]))
        # the y part: every block with negative reduced cost, and at least one block per position
        red = 1.0 - Pm.sum(axis=1)
        for g in comp.by_pos:
            r = red[g]
            value += float(r[r < 0].sum()) if np.any(r < 0) else float(r.min())
        return value, cols

    stop = math.inf if time_limit_s is None else time.perf_counter() + time_limit_s
    for it in range(1, max_iterations + 1):  # noqa: B007 (the count is reported)
        if time.perf_counter() > stop:
            break
        h.run()
        if h.getModelStatus() != hs.HighsModelStatus.kOptimal:  # pragma: no cover - the master is always feasible
            break
        master = float(h.getInfo().objective_function_value)
        if it % round_every == 0:
            improve()
        duals = np.asarray(h.getSolution().row_dual)
        pi = np.maximum(duals[:nx], 0.0)  # any pi >= 0 gives a valid L(pi)
        sigma = duals[nx:]
        P = np.zeros((nb, Kc))
        P[pairs[:, 0], pairs[:, 1]] = pi
        # Wentges smoothing: price at a point between the best multipliers and the master's
        # duals; columns are kept where they price out at the master's duals, and a round
        # that finds none there prices at the master's duals themselves (exact convergence test)
        added = 0
        too_large = False
        for Pp in ((smoothing * best_P + (1 - smoothing) * P) if best_P is not None and smoothing > 0 else None, P):
            if Pp is None:
                continue
            try:
                value, cols = price_all(Pp)
            except PricingTooLarge:
                too_large = True
                break
            if value > best:
                best, best_P = value, Pp
            for kk, q in cols:
                if float(P[q, kk].sum()) < sigma[kk] - 1e-9:
                    add(kk, q)
                    added += 1
            if added:
                break
        if too_large:
            break
        if stop_at_proof and math.isfinite(best) and math.ceil(best - 1e-6) >= inc.sum():
            proven = True
            break
        if not added:
            converged = True
            break
    if not proven and it:
        if not stop_at_proof:
            h.run()  # the last columns' master, for the rounding
        improve()
        proven = math.isfinite(best) and math.ceil(best - 1e-6) >= inc.sum()
    if not proven and it and master_ip_nodes > 0:
        ncol = h.getNumCol()
        h.changeColsIntegrality(ncol, np.arange(ncol, dtype=np.int32), np.full(ncol, hs.HighsVarType.kInteger))
        h.setOptionValue("mip_max_nodes", int(master_ip_nodes))
        h.setOptionValue("mip_abs_gap", 0.999)
        h.setOptionValue("mip_rel_gap", 0.0)
        if time_limit_s is not None:
            h.setOptionValue("time_limit", max(0.01, stop - time.perf_counter()))
        h.run()
        if h.getInfo().primal_solution_status == 2:  # kSolutionStatusFeasible
            yr = np.round(np.asarray(h.getSolution().col_value)[:nb])
            if comp.feasible(yr):
                pruned = comp.round_up(yr, zeros, yr.copy())  # drop blocks nobody needs
                if pruned is not None and pruned.sum() < inc.sum():
                    inc = pruned
        proven = math.isfinite(best) and math.ceil(best - 1e-6) >= inc.sum()
    return LagrangianBound(bound=best, master=master, iterations=it, columns=columns, converged=converged,
                           incumbent=inc, proven=proven, multipliers=best_P)


def _pareto(s: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The (score, cost) states no other state beats on both, by score descending."""
    order = np.lexsort((c, -s))
    s, c = s[order], c[order]
    keep = np.empty(len(c), bool)
    keep[0] = True
    np.less(c[1:], np.minimum.accumulate(c)[:-1], out=keep[1:])
    return s[keep], c[keep]


def cheapest_through(scores: list[np.ndarray], costs: list[np.ndarray], need: float) -> list[np.ndarray]:
    """For every position ``n`` and choice ``j`` there: the least cost of an assembly using ``j``
    at ``n`` with total score ``>= need`` (``inf`` if none); forward and backward Pareto
    frontiers (as in :func:`cheapest_assembly`) joined at ``n``."""
    N = len(scores)
    need = shaved_need(need)
    fwd = [(np.zeros(1), np.zeros(1))]
    for n in range(N - 1):
        fs, fc = fwd[-1]
        fwd.append(_pareto((fs[:, None] + scores[n][None, :]).ravel(), (fc[:, None] + costs[n][None, :]).ravel()))
    bwd = [(np.zeros(1), np.zeros(1))]
    for n in range(N - 1, 0, -1):
        gs, gc = bwd[-1]
        bwd.append(_pareto((gs[:, None] + scores[n][None, :]).ravel(), (gc[:, None] + costs[n][None, :]).ravel()))
    bwd = bwd[::-1]  # bwd[n]: states over positions n+1..N-1
    out = []
    for n in range(N):
        fs, fc = fwd[n]
        gs, gc = bwd[n]
        o = np.argsort(gs, kind="stable")
        gs, gc = gs[o], gc[o]
        suffix = np.minimum.accumulate(gc[::-1])[::-1]
        suffix = np.r_[suffix, np.inf]
        want = need - fs[:, None] - scores[n][None, :]  # (F, J): backward score needed
        idx = np.searchsorted(gs, want, side="left")
        tot = fc[:, None] + costs[n][None, :] + suffix[idx]
        out.append(tot.min(axis=0))
    return out


def lagrangian_fixing(comp: Component, P: np.ndarray, target: float) -> tuple[np.ndarray, np.ndarray]:
    """Lagrangian reduced-cost fixing for the selections with at most ``target`` blocks.

    With multipliers ``P[b, kk]`` (>= 0) and ``L = L(P)``: forcing ``x[k, b] = 1`` (hence
    ``y_b = 1``) raises the Lagrangian to ``L - v_k + v_k(b) + dy_b`` (``v_k(b)``: device
    ``k``'s cheapest assembly through ``b``; ``dy_b``: the rise of the ``y`` part when ``y_b``
    is forced), itself a lower bound on every selection using ``b`` for ``k``. Where it
    exceeds ``target``, no selection of at most ``target`` blocks has ``x[k, b] = 1``; where
    forcing ``y_b`` alone does, none has ``y_b = 1``. Returns ``(y_zero[nb], x_zero[nb, Kc])``."""
    nb, Kc = comp.nb, comp.Kc
    need = pricing_need(comp)
    red = 1.0 - P.sum(axis=1)
    ypart = 0.0
    dy = np.zeros(nb)
    for g in comp.by_pos:
        r = red[g]
        if np.any(r < 0):
            ypart += float(r[r < 0].sum())
            dy[g] = np.maximum(r, 0.0)
        else:
            ypart += float(r.min())
            dy[g] = r - r.min()
    vk = np.zeros(Kc)
    through = np.full((nb, Kc), np.inf)
    for kk in range(Kc):
        use = [g[np.isfinite(comp.S[g, kk])] for g in comp.by_pos]
        t = cheapest_through([comp.S[g, kk] for g in use], [P[g, kk] for g in use], float(need[kk]))
        for g, tn in zip(use, t):
            through[g, kk] = tn
        vk[kk] = min(float(tn.min()) for tn in t)
    L = ypart + vk.sum()
    slack = 1e-6 * max(1.0, abs(target))
    y_zero = L + dy > target + slack
    x_zero = (L - vk[None, :] + through + dy[:, None] > target + slack) | ~np.isfinite(comp.S)
    return y_zero, x_zero



def lp_multipliers(comp: Component) -> np.ndarray | None:
    """The root LP's duals of the linking rows ``x <= y`` as multipliers ``[nb, Kc]`` (>= 0),
    or ``None`` if the LP does not solve; ``L`` of them is at least the LP bound."""
    out = root_lp(comp)
    return None if out is None else out[0]


def root_lp(comp: Component, deadline: float = math.inf, *, ipm: bool = False
            ) -> tuple[np.ndarray, np.ndarray | None, float] | None:
    """One solve of the component's root LP: its duals as in :func:`lp_multipliers`, its ``y``
    rounded up to a feasible selection (:meth:`~edgeinfer.broadcast.solvers.component.Component.round_up`,
    ``None`` if that fails) and its value (a lower bound on the block count); ``None`` if the LP
    does not solve, or not by ``deadline`` (``time.perf_counter()``). ``ipm``: by HiGHS' interior
    point method with crossover (the large path: 40 x 40's root LP 11.6 s instead of 80.5 s by
    dual simplex, 21 x 24's 1.0 s instead of 2.8 s; the same value, possibly other duals)."""
    nb = comp.nb
    ok, lb, ub, xm = comp.propagate(np.zeros(nb), np.ones(nb))
    limit = None if not math.isfinite(deadline) else deadline - time.perf_counter()
    out = comp.lp(lb, ub, xm, time_limit_s=limit, ipm=ipm) if ok and (limit is None or limit > 0) else None
    if out is None or comp._highs is None:
        comp._highs = None
        return None
    duals = np.asarray(comp._highs.getSolution().row_dual)
    start = comp.Kc * comp.N + comp.Kc  # rows: assembly (Kc N), QoS (Kc), then linking (nx)
    pi = np.maximum(-duals[start:start + comp.nx], 0.0)
    P = np.zeros((nb, comp.Kc))
    P[comp.pairs[:, 0], comp.pairs[:, 1]] = pi
    comp._highs = None  # free the LP model before a MILP is built
    return P, comp.round_up(out[1], lb, ub), out[0]
