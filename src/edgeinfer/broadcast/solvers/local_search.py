# ruff: noqa: E741  (I is the paper's score tensor I_{i,n}^{(k)})
"""Primal heuristics for large MBA components: a greedy repair and a swap descent (issue 16).

Both return feasible selections only (every result is checked with
:meth:`~edgeinfer.broadcast.solvers.component.Component.feasible`), so they change which
incumbent the exact solver starts from or ends with, never its exactness.

* :func:`repair`: from any 0/1 selection (e.g. the blocks that both sides of the Lagrangian
  decomposition open), add blocks one at a time, each the one that covers the most of the
  devices' shortfalls ``sum_k min(gain_k, shortfall_k)``, until every device meets its QoS.
* :func:`improve`: the compiled ``_pricing_kernel.swap_descent``: drop a block nobody needs, or
  drop two and add one, while the selection stays feasible (21 x 24 seed 0: HiGHS' 165 blocks to
  164 in ~40 ms; docs/broadcast.md §3). Without numba the selection is returned unchanged.
"""

from __future__ import annotations

import math
import time

import numpy as np

from edgeinfer.broadcast.model import qos_tol
from edgeinfer.broadcast.solvers.component import Component
from edgeinfer.broadcast.solvers.lagrange import compiled

__all__ = ["MAX_MOVES", "improve", "repair"]

#: the swap descent's cap on moves (each removes at least one block, so a selection of ``nb``
#: blocks takes at most ``nb``; the cap only bounds the work)
MAX_MOVES = 100_000


def _need(comp: Component) -> np.ndarray:
    return comp.cc - qos_tol(comp.cc)


def repair(comp: Component, y: np.ndarray) -> np.ndarray | None:
    """``y`` plus blocks added greedily until feasible, or ``None`` when no block helps any more
    (cannot happen after the reductions: every block together is feasible). First, at each
    position, the block serving the most devices that have no selected usable block there; then
    the block covering the most shortfall ``sum_k min(gain_k, shortfall_k)``; ties: the lowest index."""
    y = (np.asarray(y) > 0.5).astype(float)
    usable = np.isfinite(comp.S)
    for g in comp.by_pos:
        while True:
            served: np.ndarray = np.asarray(usable[g][y[g] > 0.5].any(axis=0))
            if served.all():
                break
            count = np.where(y[g] > 0.5, -1, (usable[g] & ~served[None, :]).sum(axis=1))
            y[g[int(np.argmax(count))]] = 1.0
    need = _need(comp)
    while not comp.feasible(y):
        best = np.maximum.reduceat(np.where(y[:, None] > 0.5, comp.S, -np.inf), comp.starts, axis=0)  # (N, Kc)
        short = np.maximum(need - best.sum(axis=0), 0.0)
        gain = np.where(usable, np.maximum(np.where(usable, comp.S, 0.0) - best[comp.pos], 0.0), 0.0)
        value = np.where(y > 0.5, -1.0, np.minimum(gain, short[None, :]).sum(axis=1))
        if value.max() <= 0.0:
            return None
        y[int(np.argmax(value))] = 1.0
    return y


def improve(comp: Component, y: np.ndarray, max_moves: int = MAX_MOVES, deadline: float = math.inf) -> np.ndarray:
    """The swap descent from the feasible selection ``y``: a feasible selection with at most its
    blocks (``y`` itself without numba, or if the descent's result fails the check). The kernel
    makes one move a call, so a ``deadline`` (``time.perf_counter()``) stops it between moves (a
    move's scan takes up to ~0.8 s at 40 x 40); its scan restarts after each move either way."""
    kernel = compiled()
    if kernel is None:
        return y
    args = (np.ascontiguousarray(comp.S, float), np.ascontiguousarray(comp.pos, np.int64),
            np.r_[comp.starts, comp.nb].astype(np.int64), np.ascontiguousarray(_need(comp)))
    out = np.ascontiguousarray(y, float)
    for _ in range(int(max_moves)):  # one move a call: the deadline is checked between moves
        if time.perf_counter() >= deadline:
            break
        out, moved = kernel.swap_descent(*args, out, 1)
        if not moved:
            break
    return out if comp.feasible(out) and out.sum() <= y.sum() else y
