"""Dynamic-programme kernels shared by the solvers: (users served) -> least time.

The tables hold, for every number of users ``u`` served so far, the least time a partial
plan needs; a model i extends a table ``G`` by the min-plus convolution with its cost curve
``c_i`` (:func:`minplus_extend`). Entries above the deadline are dropped (set to infinity).
:func:`chain_dp` is the programme of ``spec`` (eqs. 18-21 in continuous time), ``independent``
and ``equal-bandwidth``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from edgeinfer.loading.model import ModelCosts

__all__ = ["DPResult", "chain_dp", "minplus_extend"]


def minplus_extend(g: np.ndarray, c: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """``h[u] = min_{k >= 1} g[u - k] + c[k]`` for u < size; returns (h, argmin k).

    ``g`` has shape (..., size); the last axis is the user count.
    """
    h = np.full(g.shape, np.inf)
    arg = np.zeros(g.shape, dtype=np.int32)
    kmax = min(len(c) - 1, size - 1)
    for k in range(1, kmax + 1):
        cand = g[..., : size - k] + c[k]
        tgt = h[..., k:]
        better = cand < tgt
        np.copyto(tgt, cand, where=better)
        np.copyto(arg[..., k:], k, where=better)
    return h, arg


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
