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

import numpy as np

from edgeinfer.broadcast.model import qos_tol
from edgeinfer.broadcast.solvers.component import Component, highspy, quiet_highs

__all__ = ["LagrangianBound", "cheapest_assembly", "lagrangian_bound"]

#: float slack on the QoS threshold inside the pricing (a superset of the feasible
#: assemblies is priced, so the bound stays valid under rounding)
PRICE_TOL = 1e-9


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


def cheapest_assembly(scores: list[np.ndarray], costs: list[np.ndarray], need: float) -> tuple[float, list[int]] | None:
    """Exact pricing: the assembly (one entry per position) of least total cost with total score
    ``>= need``; ``scores[n]`` and ``costs[n]`` (same length) are the usable blocks at position
    ``n``. Pareto dynamic programme over positions: after each position keep only the
    (score, cost) states not dominated by one with at least the score and at most the cost,
    and drop states that cannot reach ``need`` with the best remaining scores.
    Returns ``(cost, choice index per position)`` or ``None`` when no assembly reaches ``need``.
    """
    N = len(scores)
    best_rest = np.r_[np.cumsum([s.max() if s.size else -np.inf for s in scores][::-1])[::-1], 0.0]
    if not math.isfinite(best_rest[0]) or best_rest[0] < need:
        return None
    sc = np.zeros(1)
    co = np.zeros(1)
    back: list[tuple[np.ndarray, np.ndarray]] = []
    for n in range(N):
        s, c = scores[n], costs[n]
        m = len(s)
        s2 = (sc[:, None] + s[None, :]).ravel()
        idx = np.flatnonzero(s2 + best_rest[n + 1] >= need)
        s2 = s2[idx]
        c2 = (co[:, None] + c[None, :]).ravel()[idx]
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
                     time_limit_s: float | None = None, stop_at_proof: bool = True) -> LagrangianBound:
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
    is a feasible selection (each device keeps one of its feasible assemblies inside ``y``)."""
    hs = highspy()
    nb, Kc = comp.nb, comp.Kc
    need = comp.cc - qos_tol(comp.cc) - PRICE_TOL * np.maximum(1.0, np.abs(comp.cc))
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
    best = -math.inf
    master = math.inf
    converged = proven = False
    it = 0
    zeros, ones = np.zeros(nb), np.ones(nb)

    def improve() -> None:
        nonlocal inc
        yr = comp.round_up(np.asarray(h.getSolution().col_value)[:nb], zeros, ones)
        if yr is not None and comp.feasible(yr) and yr.sum() < inc.sum():
            inc = yr

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
        value = 0.0
        added = 0
        for kk in range(Kc):
            out = cheapest_assembly([comp.S[g, kk] for g in usable[kk]], [P[g, kk] for g in usable[kk]], need[kk])
            if out is None:  # pragma: no cover - components are feasible after reduce_problem
                raise ArithmeticError("a device of a component has no feasible assembly")
            v, choice = out
            value += v
            if v < sigma[kk] - 1e-9:
                add(kk, [int(usable[kk][n][j]) for n, j in enumerate(choice)])
                added += 1
        # the y part: every block with negative reduced cost, and at least one block per position
        red = 1.0 - P.sum(axis=1)
        for g in comp.by_pos:
            r = red[g]
            value += float(r[r < 0].sum()) if np.any(r < 0) else float(r.min())
        best = max(best, value)
        if stop_at_proof and math.ceil(best - 1e-6) >= inc.sum():
            proven = True
            break
        if not added:
            converged = True
            break
    if not proven and it:
        if not stop_at_proof:
            h.run()  # the last columns' master, for the rounding
        improve()
        proven = math.ceil(best - 1e-6) >= inc.sum()
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
        proven = math.ceil(best - 1e-6) >= inc.sum()
    return LagrangianBound(bound=best, master=master, iterations=it, columns=columns, converged=converged,
                           incumbent=inc, proven=proven)
