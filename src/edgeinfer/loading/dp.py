"""Dynamic programmes over (last model, users served) -> least time.

All of them tabulate, for every number of users ``u`` served so far, the least time a
partial plan needs; a model i extends a table ``G`` by the min-plus convolution with its cost
curve ``c_i`` (:func:`~edgeinfer.loading.costs.minplus_extend`). Entries above the deadline
are dropped (set to infinity).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from edgeinfer.loading.costs import ModelCosts, minplus_extend

__all__ = ["DPResult", "chain_dp", "ordered_dp"]


@dataclass(frozen=True)
class DPResult:
    served: int
    time_s: float
    plan: list[tuple[int, int]]


def _best(e: np.ndarray, deadline: float) -> int:
    ok = np.flatnonzero(e <= deadline)
    return int(ok[-1]) if ok.size else 0


def chain_dp(
    groups: Sequence[np.ndarray],
    prefix_s: np.ndarray,
    own_s: np.ndarray,
    costs: ModelCosts,
    deadline: float,
    n_users: int,
) -> DPResult:
    """DP for chains of nested models (the backbone-sharing case, and independent loading).

    ``groups`` are clusters, each listing its models in ascending backbone prefix. Loading
    model i after j costs ``own_i + prefix_i - prefix_j`` when j precedes i in the same
    cluster, and ``own_i + prefix_i`` otherwise. The minimum over the predecessors is a
    running minimum of ``F_j - prefix_j`` kept per user count, so each model costs
    O(U K_i) and the whole programme O(U K) with U the user bound, K the number of users.
    """
    size = n_users + 1
    e = np.full(size, np.inf)
    e[0] = 0.0
    esrc = np.full(size, -1, dtype=np.int64)
    pred: dict[int, np.ndarray] = {}
    argk: dict[int, np.ndarray] = {}
    for grp in groups:
        r = e.copy()
        rsrc = esrc.copy()
        done = []
        for i in grp:
            i = int(i)
            c = costs.cost[i]
            if len(c) <= 1:
                continue
            g = r + (prefix_s[i] + own_s[i])
            h, ak = minplus_extend(g, c, size)
            h[h > deadline] = np.inf
            pred[i] = rsrc.copy()
            argk[i] = ak
            val = h - prefix_s[i]
            better = val < r
            r[better] = val[better]
            rsrc[better] = i
            done.append((i, h))
        for i, h in done:
            better = h < e
            e[better] = h[better]
            esrc[better] = i
    u = _best(e, deadline)
    t = float(e[u])
    plan = []
    i = int(esrc[u])
    while i >= 0 and u > 0:
        k = int(argk[i][u])
        plan.append((i, k))
        u -= k
        i = int(pred[i][u])
    plan.reverse()
    return DPResult(sum(k for _, k in plan), t, plan)


def ordered_dp(
    order: Sequence[int],
    full_s: np.ndarray,
    d_s: np.ndarray,
    costs: ModelCosts,
    deadline: float,
    n_users: int,
) -> DPResult:
    """Best sub-sequence of a fixed model order: which models to serve and how many users.

    ``F_i[u]`` = least time of a plan that follows ``order``, ends with model i and serves
    u users; its predecessor is any earlier model of the order (or none), so loading costs
    ``d[j, i]`` (``full[i]`` first). O(I^2 U + U K). Exact for the given order.
    """
    size = n_users + 1
    order = [int(i) for i in order if len(costs.cost[int(i)]) > 1]
    n = len(order)
    fmat = np.full((max(n, 1), size), np.inf)
    start = np.full(size, np.inf)
    start[0] = 0.0
    preds: list[np.ndarray] = []
    argks: list[np.ndarray] = []
    idx = np.asarray(order, dtype=np.int64)
    for p, i in enumerate(order):
        g = start + full_s[i]
        src = np.full(size, -1, dtype=np.int64)
        if p:
            m = fmat[:p] + d_s[idx[:p], i][:, None]
            j = np.argmin(m, axis=0)
            mv = m[j, np.arange(size)]
            better = mv < g
            g = np.where(better, mv, g)
            src = np.where(better, j, -1)
        h, ak = minplus_extend(g, costs.cost[i], size)
        h[h > deadline] = np.inf
        fmat[p] = h
        preds.append(src)
        argks.append(ak)
    if n == 0:
        return DPResult(0, 0.0, [])
    best_per_u = fmat[:n].min(axis=0)
    best_per_u[0] = 0.0
    u = _best(best_per_u, deadline)
    if u == 0:
        return DPResult(0, 0.0, [])
    p = int(np.argmin(fmat[:n, u]))
    t = float(fmat[p, u])
    plan = []
    while p >= 0 and u > 0:
        k = int(argks[p][u])
        plan.append((order[p], k))
        u -= k
        p = int(preds[p][u])
    plan.reverse()
    return DPResult(sum(k for _, k in plan), t, plan)
