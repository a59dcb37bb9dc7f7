# ruff: noqa: E741  (I is the paper's score tensor I_{i,n}^{(k)})
"""Lagrangian decomposition of P2.1, and a branch and bound on it (issue 16; docs/broadcast.md §3).

**The bound.** Copy each assignment ``x[k, b]`` of (P2.1) into a *position side* and a *device
side* and relax their equality with free multipliers ``lam[b, k]``:

``L(lam) = sum_n F_n(lam) + sum_k D_k(-lam)``

``F_n`` is the uncapacitated facility location of position ``n`` (pay 1 per broadcast block and
``lam[b, k]`` for assigning device ``k`` to block ``b``; every device assigned to one broadcast
block there), solved exactly by enumerating the position's block subsets (subset minima by
doubling, :data:`MAX_FACILITY_BLOCKS`); ``D_k`` is device ``k``'s cheapest assembly meeting its
QoS at costs ``-lam`` (:func:`~edgeinfer.broadcast.solvers.lagrange.price`, exact for
costs of either sign). For any feasible selection and assignment the two copies agree and the
multiplier terms cancel, so every ``L(lam)`` is a lower bound on the block count (weak duality).
Its best value is the LP bound over the intersection of the per-position and the per-device
hulls: it couples the devices through the blocks they share at a position.

**Nodes.** A :class:`Node` restricts the selections to those that use only its ``allowed``
(device, block) pairs and contain its ``forced`` blocks; ``L`` computed with the restriction
(subsets of each position containing its forced blocks, assemblies over allowed pairs) bounds
every selection of the node.

**Fixing** (:func:`fix`) for a target ``t``: forcing ``x[k, b] = 1`` raises ``L`` by the rise of
``F_n`` (the best subset containing ``b`` with ``k`` assigned to it) plus the rise of ``D_k``
(the cheapest assembly through ``b``,
:func:`~edgeinfer.broadcast.solvers.lagrange.cheapest_through`); where ``L`` plus both exceeds
``t``, no selection of at most ``t`` blocks of the node has ``x[k, b] = 1`` and the pair is
dropped. Likewise ``y_b = 1`` (the best subset containing ``b``: the block is dropped) and
``y_b = 0`` (the best subset without it: the block is forced). Then the usable pairs are
re-tested (a pair stays only if it fits in an assembly meeting the QoS with the best allowed
blocks elsewhere).

**Search** (:func:`search`): is there a selection of at most ``t`` blocks? Breadth first until
:data:`SPLIT_NODES` nodes are open, then depth first in each of their subtrees (optionally in
worker processes, with the same answer): at each node :data:`NODE_STEPS` steps of subgradient ascent (warm from the parent's
multipliers), then fixing (:data:`NODE_ROUNDS` such rounds); prune when ``L > t``; stop with a
selection when the forced blocks, or the position side's subsets (redundant blocks dropped), are
a feasible selection of at most ``t`` blocks; otherwise branch on a free block (forced / dropped), the one whose smaller penalty is the
largest. The budget is a count of subgradient steps (deterministic); a time limit may also end it.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgeinfer.broadcast.model import qos_tol
from edgeinfer.broadcast.solvers.component import Component
from edgeinfer.broadcast.solvers.lagrange import (
    LIMIT_TOL,
    PricingTooLarge,
    cheapest_through,
    compiled,
    cost_limit,
    kernels_for,
    prepare_pricing,
    price,
    pricing_need,
    shaved_need,
)

__all__ = ["LARGE_EPS", "MAX_FACILITY_BLOCKS", "Ascent", "Node", "SearchResult", "ascend", "compile_kernels",
           "decomposition_bound", "fix", "large_ascent", "root_node", "search"]

#: the most (free) blocks at one position whose facility location is enumerated (``2^m`` subsets)
MAX_FACILITY_BLOCKS = 14
#: subgradient steps per fixing round at a node of :func:`search`
NODE_STEPS = 100
#: the Polyak steps of :func:`ascend` aim at ``upper`` plus this (0 and -0.5 took as many steps)
POLYAK_LEVEL = 0.5
#: (ascent, fixing) rounds at most per node of :func:`search`: one, then branch on the fixed node
#: (repeating rounds until the fixing stops changing the node took about twice the steps in all:
#: docs/broadcast.md §3)
NODE_ROUNDS = 1
#: float slack of the fixing tests and of ``L > t`` (``L`` is a float sum; the slack keeps
#: rounding from fixing away a pair or pruning a node that a selection of ``t`` blocks needs)
FIX_TOL = 1e-6


def _subset_sizes(m: int) -> np.ndarray:
    sizes = np.zeros(2 ** m)
    for j in range(m):
        sizes[2 ** j:2 ** (j + 1)] = sizes[:2 ** j] + 1
    return sizes


def _subset_minima(cost: np.ndarray) -> np.ndarray:
    """``mins[s, k] = min_{j in s} cost[j, k]`` for every subset ``s`` of the ``m`` rows (bit ``j``
    of ``s`` is row ``j``; ``inf`` for the empty set), by doubling."""
    m, K = cost.shape
    mins = np.full((2 ** m, K), np.inf)
    for j in range(m):
        mins[2 ** j:2 ** (j + 1)] = np.minimum(mins[:2 ** j], cost[j][None, :])
    return mins


def _facility(cost: np.ndarray, sizes: np.ndarray) -> tuple[float, np.ndarray]:
    """Exact uncapacitated facility location over every non-empty subset of one position's
    blocks: ``min_Y |Y| + sum_k min_{b in Y} cost[b, k]`` (``cost`` ``[m, K]``, ``inf``: ``k``
    cannot use ``b``). Returns the value and each device's block (index into the rows)."""
    m = cost.shape[0]
    tot = sizes[1:] + _subset_minima(cost)[1:].sum(axis=1)
    s = int(np.argmin(tot)) + 1
    members = np.flatnonzero((s >> np.arange(m)) & 1)
    return float(tot[s - 1]), members[np.argmin(cost[members], axis=0)]


@dataclass(frozen=True)
class Node:
    """Selections that use only ``allowed[b, kk]`` pairs and contain every ``forced[b]`` block."""

    allowed: np.ndarray
    forced: np.ndarray


def root_node(comp: Component) -> Node:
    """Every usable pair allowed, nothing forced."""
    return Node(np.isfinite(comp.S), np.zeros(comp.nb, bool))


class _Sides:
    """The two sides of a node: per position its free blocks (not forced, some pair allowed),
    forced blocks and subset sizes; per device its allowed blocks at every position."""

    def __init__(self, comp: Component, node: Node):
        self.comp, self.node = comp, node
        live: np.ndarray = np.asarray(node.allowed.any(axis=1))
        self.positions: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        for g in comp.by_pos:
            free, forced = g[~node.forced[g] & live[g]], g[node.forced[g]]
            self.positions.append((free, forced, _subset_sizes(len(free)) + len(forced)))
        K = comp.Kc
        self.usable = [[g[node.allowed[g, kk]] for g in comp.by_pos] for kk in range(K)]
        self.scores = [[comp.S[u, kk] for u in self.usable[kk]] for kk in range(K)]
        self.need = pricing_need(comp)
        self.kernel = kernels_for(comp)
        self.undecided = np.array([len(free) > 0 for free, _, _ in self.positions])
        # each device's pricing in flat form, and its usable blocks in the same order
        self.pricing = [prepare_pricing(self.scores[kk], float(self.need[kk])) for kk in range(K)]
        self.flat = [np.concatenate(self.usable[kk]).astype(int) for kk in range(K)]
        self._packed: tuple[np.ndarray, ...] | None = None

    def packed(self) -> tuple[np.ndarray, ...]:
        """The node in the flat arrays of the compiled ``_pricing_kernel.evaluate`` (built once)."""
        if self._packed is None:
            self._packed = self._pack()
        return self._packed

    def _pack(self) -> tuple[np.ndarray, ...]:
        N, K = self.comp.N, self.comp.Kc
        free = [f for f, _, _ in self.positions]
        forced = [x for _, x, _ in self.positions]
        offsets, best_rest, need = np.zeros((K, N + 1), np.int64), np.zeros((K, N + 1)), np.zeros(K)
        for kk, p in enumerate(self.pricing):
            offsets[kk] = np.r_[0, np.cumsum([len(u) for u in self.usable[kk]])]
            need[kk] = shaved_need(float(self.need[kk]))  # as prepare_pricing and cheapest_through
            if p is not None:
                best_rest[kk] = p.best_rest
        scores = [np.concatenate(self.scores[kk]).astype(float) for kk in range(K)]

        def cat(parts: list[np.ndarray], dtype: type) -> tuple[np.ndarray, np.ndarray]:
            return (np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype),
                    np.r_[0, np.cumsum([len(q) for q in parts])].astype(np.int64))

        return (np.ascontiguousarray(self.node.allowed), *cat(free, np.int64), *cat(forced, np.int64),
                *cat(self.flat, np.int64), cat(scores, float)[0], offsets, best_rest, need,
                np.array([p is not None for p in self.pricing]))

    def cost(self, lam: np.ndarray, rows: np.ndarray) -> np.ndarray:
        return np.where(self.node.allowed[rows], lam[rows], np.inf)

    def position_table(self, lam: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(tot[s], mins[s, k], cost_free, cost_forced)`` of position ``n``: ``tot[s]`` the
        facility-location value with the free subset ``s`` plus the forced blocks open."""
        free, forced, sizes = self.positions[n]
        cf, cx = self.cost(lam, free), self.cost(lam, forced)
        base = cx.min(axis=0) if len(forced) else np.full(self.comp.Kc, np.inf)
        mins = np.minimum(_subset_minima(cf), base[None, :])
        tot = sizes.copy()
        for k in range(self.comp.Kc):  # in order, as the compiled facility location sums
            tot += mins[:, k]
        return tot, mins, cf, cx


@dataclass(frozen=True)
class Ascent:
    """Result of :func:`ascend`: the best ``L`` seen and its multipliers, the steps taken, and
    the position side's subsets at the best multipliers (a 0/1 vector over the component's blocks)."""

    value: float
    lam: np.ndarray
    steps: int
    y: np.ndarray | None
    y_devices: np.ndarray | None = None


def _evaluate(sides: _Sides, lam: np.ndarray, max_candidates: int | None, prev: np.ndarray | None = None
              ) -> tuple[float, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``L(lam)`` at a node, the two sides' assignments, the position side's subsets and each
    device's assembly (``chosen[k, n]``: its block at position ``n``); ``inf`` when some device
    has no allowed assembly meeting its QoS. ``prev`` (same form, -1: none; e.g. the last
    evaluation's ``chosen``): a device's previous assembly, where all its blocks are still usable,
    gives its pricing a cost limit (:func:`~edgeinfer.broadcast.solvers.lagrange.cost_limit`:
    smaller frontiers, the same answer)."""
    comp = sides.comp
    nb, K, N = comp.nb, comp.Kc, comp.N
    if prev is None:
        prev = np.full((K, N), -1, np.int64)
    if sides.kernel is not None:  # the same computation, compiled (bit for bit; tested)
        status, v, Xp, Xd, y, chosen = sides.kernel.evaluate(
            np.ascontiguousarray(lam, float), np.ascontiguousarray(prev, np.int64), LIMIT_TOL, *sides.packed(),
            -1 if max_candidates is None else int(max_candidates))
        if status == 2:
            raise PricingTooLarge(f"over {max_candidates} candidates at a position")
        return float(v), Xp, Xd, y, chosen
    Xp, Xd, y = np.zeros((nb, K)), np.zeros((nb, K)), np.zeros(nb)
    chosen = np.full((K, N), -1, np.int64)
    value = 0.0
    ar = np.arange(K)
    for n in range(N):
        free, forced, _ = sides.positions[n]
        tot, _, cf, cx = sides.position_table(lam, n)
        s = int(np.argmin(tot))
        F = float(tot[s])
        if not math.isfinite(F):
            return math.inf, Xp, Xd, y, chosen
        value += float(F)
        members = np.flatnonzero((s >> np.arange(len(free))) & 1)
        rows = np.r_[free[members], forced].astype(int)
        y[rows] = 1.0
        Xp[rows[np.argmin(np.vstack([cf[members], cx]), axis=0)], ar] = 1.0
    for kk in range(K):
        p = sides.pricing[kk]
        if p is None:
            return math.inf, Xp, Xd, y, chosen
        costs = -lam[sides.flat[kk], kk]
        known = 0.0  # the previous assembly's cost, in position order
        for n, u in enumerate(sides.usable[kk]):
            at = np.flatnonzero(u == prev[kk, n])
            if not at.size:
                known = math.inf
                break
            known = known + float(costs[p.offsets[n] + at[-1]])
        out = price(p, costs, max_candidates=max_candidates,
                    limit=cost_limit(known) if math.isfinite(known) else math.inf)
        if out is None:
            return math.inf, Xp, Xd, y, chosen
        value += out[0]
        chosen[kk] = sides.flat[kk][p.offsets[:-1] + np.asarray(out[1])]
        Xd[chosen[kk], kk] = 1.0
    return value, Xp, Xd, y, chosen


def ascend(comp: Component, node: Node, lam: np.ndarray, upper: float, *, steps: int,
           max_candidates: int | None = None, deadline: float = math.inf, sides: _Sides | None = None) -> Ascent:
    """Subgradient ascent on ``L`` at ``node`` from ``lam``: Polyak steps towards ``upper``, the
    step factor halved after 20 steps without a new best; stops after ``steps`` steps, at
    ``deadline``, once ``ceil(best - 1e-6) >= upper``, when both sides agree, or at a pricing over
    ``max_candidates`` (that step does not count). ``value`` is ``inf`` when the node has no
    feasible assembly for some device."""
    sides = sides or _Sides(comp, node)
    # at a position whose blocks are all decided the position side is a constant and zero
    # multipliers there are optimal (docs/broadcast.md §3): keep them at zero
    move = node.allowed & sides.undecided[comp.pos][:, None]
    chosen = None

    def evaluate(lam: np.ndarray) -> tuple[float, np.ndarray, np.ndarray, np.ndarray] | None:
        nonlocal chosen
        try:
            value, Xp, Xd, y, chosen = _evaluate(sides, lam, max_candidates, chosen)
        except PricingTooLarge:
            return None
        return value, Xp, Xd, y

    return _subgradient(evaluate, move, lam, upper, POLYAK_LEVEL, steps, deadline)


def _subgradient(evaluate: Callable[[np.ndarray], tuple[float, np.ndarray, np.ndarray, np.ndarray] | None],
                 move: np.ndarray, lam: np.ndarray, upper: float, level: float, steps: int, deadline: float,
                 on_best: Callable[[np.ndarray, np.ndarray], None] | None = None) -> Ascent:
    """The ascent loop of :func:`ascend` and :func:`large_ascent`: ``evaluate(lam)`` gives ``(L,
    Xp, Xd, y)`` (``None``: stop, that step not counted); the multipliers move only where
    ``move``; Polyak steps towards ``upper + level``, the factor halved after 20 steps without a
    new best (``on_best(y, y_devices)`` at each); stops after ``steps`` steps, at ``deadline``,
    once ``ceil(best - 1e-6) >= upper`` or when both sides agree wherever the multipliers move."""
    lam = np.where(move, lam, 0.0)
    best, best_lam, best_y, best_dev = -math.inf, lam.copy(), None, None
    theta, since, taken = 1.0, 0, 0
    for _ in range(steps):
        if time.perf_counter() > deadline:
            break
        out = evaluate(lam)
        if out is None:
            break
        value, Xp, Xd, y = out
        taken += 1
        if not math.isfinite(value):
            return Ascent(math.inf, lam, taken, None)
        if value > best + 1e-9:
            best, best_lam, best_y, since = value, lam.copy(), y, 0
            best_dev = Xd.any(axis=1).astype(float)
            if on_best is not None:
                on_best(best_y, best_dev)
        else:
            since += 1
            if since >= 20:
                theta, since = theta / 2, 0
        if math.ceil(best - 1e-6) >= upper:
            break
        g = np.where(move, Xp - Xd, 0.0)
        norm = float((g ** 2).sum())
        if norm == 0.0:  # both sides agree wherever the multipliers move: no direction left
            break
        lam = lam + theta * (upper + level - value) / norm * g
    return Ascent(best, best_lam, taken, best_y, best_dev)


def decomposition_bound(comp: Component, P: np.ndarray, upper: float, *, steps: int,
                        max_blocks: int = MAX_FACILITY_BLOCKS, time_limit_s: float | None = None,
                        max_candidates: int | None = None) -> tuple[float, int]:
    """The decomposition bound of the module docstring on a whole component, by :func:`ascend`
    from ``lam = -P`` (``P`` the per-device multipliers of
    :func:`~edgeinfer.broadcast.solvers.lagrange.lagrangian_bound`): at that point ``L`` is at
    least the per-device bound (a position's facility location charges each device one block per
    position, the per-device ``y`` part charges it every block). ``steps`` steps (a count, so the
    bound is the same on any machine); ``time_limit_s`` (set only when the user set a time limit)
    also caps them. Positions with more than ``max_blocks`` blocks are not enumerated: returns
    ``(-inf, 0)``. Returns ``(best L seen, steps taken)``."""
    if any(len(g) > max_blocks for g in comp.by_pos) or steps <= 0:
        return -math.inf, 0
    deadline = math.inf if time_limit_s is None else time.perf_counter() + time_limit_s
    out = ascend(comp, root_node(comp), -np.asarray(P, float), upper, steps=steps, max_candidates=max_candidates,
                 deadline=deadline)
    return out.value, out.steps


#: the large path's pricing (:func:`large_ascent`): each device's cost is within this of its least
#: (the bound takes the proven lower end, so it stays valid; 21 x 24: 1-15 ms a device, where an
#: exact pricing, 0, explodes on the LP's near-ties and the Pareto programme takes 5-14 s)
LARGE_EPS = 1e-4
#: the large path's work cap on one device's pricing (branch-and-bound nodes); at the cap its
#: proven lower bound still counts
LARGE_NODES = 200_000
#: the large path's Polyak steps aim at ``upper`` plus this
LARGE_LEVEL = 1.5


class _LargeSides:
    """A whole component at the root for :func:`large_ascent`: per position its block rows and
    usable pairs, per device its pricing in the kernels' flat form."""

    def __init__(self, comp: Component):
        self.comp = comp
        self.allowed = np.isfinite(comp.S)
        need = pricing_need(comp)
        self.flat, self.scores, self.offsets, self.need = [], [], [], []
        for kk in range(comp.Kc):
            use = [g[self.allowed[g, kk]] for g in comp.by_pos]
            self.flat.append(np.concatenate(use).astype(np.int64))
            self.scores.append(np.ascontiguousarray(comp.S[self.flat[-1], kk], float))
            self.offsets.append(np.r_[0, np.cumsum([len(u) for u in use])].astype(np.int64))
            self.need.append(shaved_need(float(need[kk])))


def _large_evaluate(kernel: Any, sides: _LargeSides, lam: np.ndarray, eps: float, max_nodes: int
                    ) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """``L(lam)`` at the root with the branch-and-bound sides: each position's facility location
    exactly (``_pricing_kernel.ufl``), each device's pricing by ``_pricing_kernel.mckp`` whose proven
    lower bound enters ``L`` (so ``L`` is a valid bound, at most ``Kc * eps`` below the exact one).
    Returns ``(L, Xp, Xd, y)``; ``L`` is ``inf`` when a device has no assembly meeting its QoS."""
    comp = sides.comp
    nb, K = comp.nb, comp.Kc
    Xp, Xd, y = np.zeros((nb, K)), np.zeros((nb, K)), np.zeros(nb)
    value = 0.0
    ar = np.arange(K)
    for g in comp.by_pos:
        cost = np.ascontiguousarray(np.where(sides.allowed[g], lam[g], np.inf))
        F, assign = kernel.ufl(cost)
        if not math.isfinite(F):
            return math.inf, Xp, Xd, y
        value += F
        rows = g[assign]
        y[rows] = 1.0
        Xp[rows, ar] = 1.0
    for kk in range(K):
        flat = sides.flat[kk]
        status, cost, lower, choice = kernel.mckp(sides.scores[kk], np.ascontiguousarray(-lam[flat, kk]),
                                               sides.offsets[kk], sides.need[kk], eps, max_nodes)
        if status == 1 or not math.isfinite(lower):
            return math.inf, Xp, Xd, y
        value += lower
        if math.isfinite(cost):  # an assembly (at the node cap, the best found)
            Xd[flat[sides.offsets[kk][:-1] + choice], kk] = 1.0
    return value, Xp, Xd, y


def large_ascent(comp: Component, lam: np.ndarray, upper: float, *, steps: int, eps: float = LARGE_EPS,
                 max_nodes: int = LARGE_NODES, level: float = LARGE_LEVEL, deadline: float = math.inf,
                 on_best: Callable[[np.ndarray, np.ndarray], None] | None = None) -> Ascent | None:
    """The decomposition bound of the module docstring on a component too large for the
    enumerated facility locations and the Pareto pricing (more than :data:`MAX_FACILITY_BLOCKS`
    blocks at a position, or thousands of usable pairs: 21 x 24), at the root only: subgradient
    ascent from ``lam`` with Polyak steps towards ``upper + level``, the step factor halved after
    20 steps without a new best, each ``L`` by :func:`_large_evaluate`. Stops after ``steps``
    steps (a count: the same bound on any machine), at ``deadline``, or once
    ``ceil(best - 1e-6) >= upper``. ``on_best(y, y_devices)``, if given, is called at every new
    best point with the blocks the position side and the device side open there (``bnb``'s
    Lagrangian heuristic keeps the best of its selections over all those points, so more steps
    never give it a worse one). ``None`` when the compiled kernels are missing (numba)."""
    kernel = compiled()
    if kernel is None or steps <= 0:
        return None
    sides = _LargeSides(comp)
    return _subgradient(lambda lam: _large_evaluate(kernel, sides, lam, eps, max_nodes), sides.allowed,
                        np.asarray(lam, float), upper, level, steps, deadline, on_best)


def _penalties(sides: _Sides, lam: np.ndarray) -> tuple[float, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``L(lam)`` and, per block, the rise of ``L`` when forcing ``y_b = 1`` / ``y_b = 0``
    (``inf`` for blocks that are not free) and per pair when forcing ``x[k, b] = 1``."""
    comp = sides.comp
    nb, K = comp.nb, comp.Kc
    if sides.kernel is not None:  # the same computation, compiled (bit for bit; tested)
        v, up, down, px = sides.kernel.penalties(np.ascontiguousarray(lam, float), *sides.packed())
        return float(v), up, down, px, np.isfinite(up)
    up, down, px = np.full(nb, np.inf), np.full(nb, np.inf), np.full((nb, K), np.inf)
    value = 0.0
    for n in range(comp.N):
        free, forced, _ = sides.positions[n]
        tot, mins, cf, cx = sides.position_table(lam, n)
        F = float(tot.min())
        value += F
        idx = np.arange(len(tot))
        with np.errstate(invalid="ignore"):
            rest = np.where(np.isfinite(mins), tot[:, None] - mins, np.inf)  # tot without device k's part
        for j in range(len(free)):
            has = ((idx >> j) & 1).astype(bool)
            up[free[j]] = float(tot[has].min()) - F
            down[free[j]] = float(tot[~has].min()) - F
            px[free[j]] = (rest[has] + cf[j][None, :]).min(axis=0) - F
        for j in range(len(forced)):
            px[forced[j]] = (rest + cx[j][None, :]).min(axis=0) - F
    for kk in range(K):
        use = sides.usable[kk]
        through = cheapest_through(sides.scores[kk], [-lam[u, kk] for u in use], float(sides.need[kk]))
        D = min(float(t.min()) for t in through)
        value += D
        for u, t in zip(use, through):
            px[u, kk] += t - D
    return value, up, down, px, np.isfinite(up)


DROP_BELOW_FORCED = True


def _propagate(comp: Component, allowed: np.ndarray, forced: np.ndarray, target: int) -> Node | None:
    """Re-test the allowed pairs (each must fit in an assembly meeting the QoS with the best
    allowed blocks elsewhere) until nothing changes; ``None`` when the node has no selection
    (a device without an allowed block at a position, or more than ``target`` forced blocks)."""
    if int(forced.sum()) > target:
        return None
    need = comp.cc - qos_tol(comp.cc)
    S = comp.S
    while True:
        if DROP_BELOW_FORCED and forced.any():
            # a device need not use a free block scoring less than a forced block it may use at the
            # same position: it can take the forced one instead (which every selection here holds)
            Fz = np.where(allowed & forced[:, None], S, -np.inf)
            fbest = np.maximum.reduceat(Fz, comp.starts, axis=0)  # (N, Kc)
            allowed = allowed & ~(~forced[:, None] & (S < fbest[comp.pos]))
        A = np.where(allowed, S, -np.inf)
        best = np.maximum.reduceat(A, comp.starts, axis=0)  # (N, Kc)
        if not np.all(np.isfinite(best)):
            return None
        total = best.sum(axis=0)
        keep = allowed & (S - best[comp.pos] + total[None, :] >= need[None, :])
        if (keep == allowed).all():
            return Node(allowed, forced)
        allowed = keep


def fix(comp: Component, node: Node, lam: np.ndarray, target: int, *, sides: _Sides | None = None
        ) -> tuple[Node | None, np.ndarray, np.ndarray]:
    """Lagrangian fixing at ``node`` for the selections of at most ``target`` blocks (module
    docstring), then :func:`_propagate`. Returns the new node (``None``: it has no such
    selection) and the penalties ``(up, down)`` of the free blocks (the rise of ``L`` forcing
    ``y_b = 1`` / ``0``; ``inf`` elsewhere), which :func:`search` branches on."""
    sides = sides or _Sides(comp, node)
    value, up, down, px, free = _penalties(sides, lam)
    over = target + FIX_TOL * max(1.0, abs(target))
    allowed = node.allowed & ~(value + px > over)
    allowed[free & (value + up > over)] = False
    forced = node.forced | (free & (value + down > over))
    if np.any(forced & ~allowed.any(axis=1) & ~node.forced):  # forced and dropped: no selection
        return None, up, down
    return _propagate(comp, allowed, forced, target), up, down


@dataclass(frozen=True)
class SearchResult:
    """``outcome``: ``none`` (no selection of at most the target blocks exists), ``found``
    (``selection``: a feasible selection of at most the target blocks) or ``undecided`` (budget
    or time limit); ``nodes`` and ``steps`` used."""

    outcome: str
    selection: np.ndarray | None
    nodes: int
    steps: int


def _primal(comp: Component, y: np.ndarray | None, y_devices: np.ndarray | None) -> np.ndarray | None:
    """A feasible selection from a point of an ascent (the blocks its position side ``y`` and its
    device side ``y_devices`` open): blocks by decreasing weight (open on both sides 1, on one
    side 1/2: the union of the device side's assemblies is feasible by itself) until feasible,
    redundant ones dropped (:meth:`Component.round_up`); ``None`` if none."""
    if y is None or y_devices is None:
        return None
    w = 0.5 * (y + y_devices)
    yr = comp.round_up(w, np.zeros(comp.nb), np.ones(comp.nb))
    return yr if yr is not None and comp.feasible(yr) else None


#: open nodes the breadth-first start of :func:`search` makes before each is searched depth first
#: (a constant, so the search, and its answer under a budget, are the same for any ``jobs``)
SPLIT_NODES = 16


def _process(comp: Component, node: Node, lam: np.ndarray, target: int, left: int, max_candidates: int | None,
             deadline: float) -> tuple[str, object, int]:
    """One node of :func:`search` with ``left`` steps of budget: ``(kind, payload, steps)``, ``kind``
    ``pruned``, ``found`` (payload: the selection), ``undecided`` (budget or deadline) or ``branch``
    (payload: the children with their multipliers, the first to be searched first)."""
    steps = 0
    up = down = None
    for _ in range(NODE_ROUNDS):
        if steps >= left or time.perf_counter() > deadline:
            return "undecided", None, steps
        if comp.feasible(node.forced.astype(float)):
            return "found", node.forced.astype(float), steps
        sides = _Sides(comp, node)  # nodes only shrink: at most MAX_FACILITY_BLOCKS free per position
        a = ascend(comp, node, lam, target + 1, steps=min(NODE_STEPS, left - steps),
                   max_candidates=max_candidates, deadline=deadline, sides=sides)
        steps += a.steps
        if a.steps == 0:  # a pricing over the work cap, or the deadline
            return "undecided", None, steps
        if a.value - FIX_TOL * max(1.0, abs(target)) > target:
            return "pruned", None, steps
        lam = a.lam
        yr = _primal(comp, a.y, a.y_devices)
        if yr is not None and yr.sum() <= target:
            return "found", yr, steps
        new, up, down = fix(comp, node, lam, target, sides=sides)
        if new is None:
            return "pruned", None, steps
        if (new.allowed == node.allowed).all() and (new.forced == node.forced).all():
            break
        node = new
        up = down = None
    if up is None or down is None:  # the rounds ran out on a changing node: fresh penalties
        sides = _Sides(comp, node)
        _, up, down, _, _ = _penalties(sides, np.where(node.allowed, lam, 0.0))
    free = np.flatnonzero(np.isfinite(up))  # finite penalties: the node's free blocks
    if not free.size:  # every block decided: the forced set was not feasible
        return "pruned", None, steps
    nb = comp.nb
    b = int(free[np.argmax(np.minimum(up[free], down[free]))])
    with_b = _propagate(comp, node.allowed, node.forced | (np.arange(nb) == b), target)
    dropped = node.allowed.copy()
    dropped[b] = False
    without_b = _propagate(comp, dropped, node.forced, target)
    # first the child of the smaller penalty (on a tie the one without ``b``: the sort is stable)
    kids = sorted([(without_b, down[b]), (with_b, up[b])], key=lambda kv: kv[1])
    return "branch", [(kid, lam.copy()) for kid, _ in kids if kid is not None], steps


def _depth_first(comp: Component, node: Node, lam: np.ndarray, target: int, max_steps: int,
                 max_candidates: int | None, deadline: float) -> SearchResult:
    """The subtree of ``node``, depth first, with at most ``max_steps`` steps."""
    steps = nodes = 0
    stack = [(node, lam)]
    while stack:
        node, lam = stack.pop()
        nodes += 1
        kind, payload, used = _process(comp, node, lam, target, max_steps - steps, max_candidates, deadline)
        steps += used
        if kind in ("found", "undecided"):
            return SearchResult(kind, payload if kind == "found" else None, nodes, steps)  # type: ignore[arg-type]
        if kind == "branch":
            stack.extend(reversed(payload))  # type: ignore[call-overload]
    return SearchResult("none", None, nodes, steps)


def _task(comp: Component, target: int, max_candidates: int | None, deadline: float,
          task: tuple[bool, Node, np.ndarray, int]) -> tuple[str, object, int, int]:
    """A node (``_process``) or a whole subtree (``_depth_first``) with ``left`` steps:
    ``(kind, payload, steps, nodes)`` (a subtree's kind is its outcome, its payload the selection)."""
    subtree, node, lam, left = task
    if subtree:
        r = _depth_first(comp, node, lam, target, left, max_candidates, deadline)
        return r.outcome, r.selection, r.steps, r.nodes
    kind, payload, used = _process(comp, node, lam, target, left, max_candidates, deadline)
    return kind, payload, used, 1


def search(comp: Component, lam: np.ndarray, target: int, *, max_steps: int, max_candidates: int | None = None,
           deadline: float = math.inf, jobs: int = 1) -> SearchResult:
    """Is there a selection of at most ``target`` blocks? Branch and bound on the decomposition
    (module docstring), from multipliers ``lam`` ``[nb, Kc]``; at most ``max_steps`` subgradient
    steps in all. Exact: pruning and fixing drop only selections of more than ``target`` blocks,
    and a selection is returned only after :meth:`Component.feasible` accepts it.

    Order: breadth first, a whole level at a time, until :data:`SPLIT_NODES` nodes are open, then
    each of their subtrees depth first, in that order; the budget is spent in that order too. A
    node's work depends only on the node and its parent's multipliers, so the nodes of a level and
    the subtrees are independent: ``jobs`` > 1 computes them in that many worker processes
    (``fork``, on Linux; elsewhere, where ``fork`` is missing or unsafe, in this one) and reads the results in the same
    order, so the outcome, the selection, the nodes and the steps are those of ``jobs = 1``. A
    result is taken only when it stayed :data:`NODE_STEPS` inside the budget left to it in that
    order (then no ascent in it was cut short by the budget); otherwise it is computed again, in
    order, with exactly that budget. Only a time limit (``deadline``) can make two runs differ."""
    if any(len(g) > MAX_FACILITY_BLOCKS for g in comp.by_pos):
        return SearchResult("undecided", None, 0, 0)
    nb = comp.nb
    steps = nodes = 0
    start = _propagate(comp, np.isfinite(comp.S), np.zeros(nb, bool), target)
    level = [] if start is None else [(start, np.asarray(lam, float))]
    pool = _pool(comp, target, max_candidates, deadline, jobs)

    def ordered(tasks: list, subtree: bool) -> Any:
        """The tasks' results in order, each the one it has with the budget left before it."""
        todo = [(subtree, node, lam_, max_steps - steps) for node, lam_ in tasks]
        it = pool.map(todo) if pool is not None and len(todo) > 1 else None
        for task in todo:
            now = max_steps - steps  # read after the caller has counted the results before this one
            out = next(it) if it is not None else None
            if out is None or out[0] == "undecided" or out[2] > now - NODE_STEPS:
                out = _task(comp, target, max_candidates, deadline, (subtree, task[1], task[2], now))
            yield out

    try:
        while level and len(level) < SPLIT_NODES:
            children: list = []
            for kind, payload, used, count in ordered(level, False):
                nodes += count
                steps += used
                if kind in ("found", "undecided"):
                    return SearchResult(kind, payload if kind == "found" else None, nodes, steps)  # type: ignore[arg-type]
                if kind == "branch":
                    children.extend(payload)  # type: ignore[call-overload]
            level = children
        for kind, payload, used, count in ordered(level, True):
            nodes += count
            steps += used
            if kind != "none":
                return SearchResult(kind, payload, nodes, steps)  # type: ignore[arg-type]
        return SearchResult("none", None, nodes, steps)
    finally:
        if pool is not None:
            pool.close()


def _pool(comp: Component, target: int, max_candidates: int | None, deadline: float, jobs: int) -> Any:
    """``jobs`` forked worker processes for :func:`search` (:class:`~edgeinfer.core.forked.ForkedWorkers`:
    one pipe each, killed at the end, so an early stop cannot hang as ``multiprocessing.Pool.terminate``
    can), or ``None`` (everything in this process) when ``jobs`` is 1 or not on Linux (macOS has
    ``fork``, but its system libraries are not safe after it; Windows has none)."""
    import sys

    if jobs <= 1 or not sys.platform.startswith("linux"):
        return None
    import multiprocessing as mp

    if "fork" not in mp.get_all_start_methods():  # pragma: no cover - Linux has it
        return None
    from edgeinfer.core.forked import ForkedWorkers

    return ForkedWorkers(functools.partial(_task, comp, target, max_candidates, deadline), jobs)


def compile_kernels() -> bool:
    """Compile (or load from numba's on-disk cache) every compiled kernel with the argument types the
    solvers use, on a tiny fixed instance, so that a first mid-size solve does not pay the ~30 s of
    compilation inside its time limit (``make venv`` runs it once after installing). Returns whether
    numba is available; without it nothing happens (the NumPy code runs)."""
    kernel = compiled()
    if kernel is None:
        return False
    from edgeinfer.broadcast.solvers.common import reduce_problem
    rng = np.random.default_rng(0)
    scores = rng.uniform(0.5, 1.0, size=(3, 3, 3))
    qos = 0.7 * scores.max(axis=0).sum(axis=0)
    red = reduce_problem(scores, qos)
    comp = Component(scores, qos, red.U, red.components[0], max_cuts=0, node_dominance=False)
    sides = _Sides(comp, root_node(comp))
    sides.kernel = kernel
    lam = rng.normal(0.0, 0.1, (comp.nb, comp.Kc))
    chosen = _evaluate(sides, lam, 10**6)[4]
    _evaluate(sides, lam, None, chosen)
    _penalties(sides, lam)
    p = sides.pricing[0]
    if p is not None:
        price(p, -lam[sides.flat[0], 0], max_candidates=10**6, kernel=kernel, limit=math.inf)
    _large_evaluate(kernel, _LargeSides(comp), lam, LARGE_EPS, LARGE_NODES)
    from edgeinfer.broadcast.solvers.local_search import improve
    improve(comp, np.ones(comp.nb))
    return True
