"""Compiled kernel of the exact pricing (:func:`~edgeinfer.broadcast.solvers.lagrange.cheapest_assembly`).

The Pareto dynamic programme over positions, written as loops for numba: after each position
the (score, cost) states are the candidates ``state + block`` that can still reach ``need``,
ordered by score descending, then cost ascending, then candidate index ``state * m + block``
(exactly :func:`numpy.lexsort`'s stable order in the NumPy version), keeping those strictly
cheaper than every candidate before them. The states stay sorted by strictly decreasing score,
so each block's shifted list is sorted too and one ``m``-way merge replaces the sort: the same
states, the same back-pointers, bit for bit the same sums (``a + b`` in the same order), hence
the same value and the same assembly as the NumPy programme (tests/broadcast/test_lagrange.py
compares them, ties included). Loaded only when a decomposition runs (mid-size MBA components);
about 2 s of compilation the first time, then cached on disk by numba.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["facility_argmin", "pareto_dp"]


@njit(cache=True)
def pareto_dp(scores: np.ndarray, costs: np.ndarray, offsets: np.ndarray, need: float,  # pragma: no cover - compiled
              best_rest: np.ndarray, max_candidates: int) -> tuple[int, float, np.ndarray]:
    """``(status, value, choice)``: status 0 solved, 1 no assembly reaches ``need``, 2 a
    position step had more than ``max_candidates`` (state, block) candidates (-1: no cap).
    ``scores``/``costs``: the positions' blocks concatenated, position ``n`` at
    ``offsets[n]:offsets[n + 1]``; ``best_rest[n]``: the best score over positions ``n..N-1``."""
    N = offsets.shape[0] - 1
    choice = np.zeros(N, np.int64)
    sc = np.zeros(1)
    co = np.zeros(1)
    # back-pointers of every position, concatenated (parent state, block)
    cap = 1024
    par_all = np.empty(cap, np.int64)
    ch_all = np.empty(cap, np.int64)
    starts = np.zeros(N + 1, np.int64)
    used = 0
    for n in range(N):
        o0 = offsets[n]
        m = offsets[n + 1] - o0
        S = sc.shape[0]
        if max_candidates >= 0 and S * m > max_candidates:
            return 2, 0.0, choice
        rest = best_rest[n + 1]
        # per block: how many states (a prefix: the sums fall with the state index) stay reachable
        lens = np.zeros(m, np.int64)
        for j in range(m):
            s = scores[o0 + j]
            cnt = 0
            while cnt < S and (sc[cnt] + s) + rest >= need:
                cnt += 1
            lens[j] = cnt
        # the Pareto frontier of the union of the blocks' lists, merged in one list at a time
        size = S * m if S * m > 0 else 1
        fs, fc, fi = np.empty(size), np.empty(size), np.empty(size, np.int64)
        gs, gc, gi = np.empty(size), np.empty(size), np.empty(size, np.int64)
        k = 0
        for j in range(m):
            s = scores[o0 + j]
            c = costs[o0 + j]
            a = 0
            b = 0
            q = 0
            run_min = np.inf
            while a < k or b < lens[j]:
                if b >= lens[j]:
                    take_a = True
                elif a >= k:
                    take_a = False
                else:
                    bs = sc[b] + s
                    bc = co[b] + c
                    if fs[a] != bs:
                        take_a = fs[a] > bs
                    elif fc[a] != bc:
                        take_a = fc[a] < bc
                    else:
                        take_a = fi[a] < b * m + j
                if take_a:
                    xs, xc, xi = fs[a], fc[a], fi[a]
                    a += 1
                else:
                    xs, xc, xi = sc[b] + s, co[b] + c, b * m + j
                    b += 1
                if q == 0 or xc < run_min:
                    gs[q], gc[q], gi[q] = xs, xc, xi
                    q += 1
                    run_min = xc
            fs, gs = gs, fs
            fc, gc = gc, fc
            fi, gi = gi, fi
            k = q
        if k == 0:
            return 1, 0.0, choice
        while used + k > cap:
            cap *= 2
            p2 = np.empty(cap, np.int64)
            c3 = np.empty(cap, np.int64)
            p2[:used] = par_all[:used]
            c3[:used] = ch_all[:used]
            par_all, ch_all = p2, c3
        par_all[used:used + k] = fi[:k] // m
        ch_all[used:used + k] = fi[:k] % m
        starts[n] = used
        used += k
        sc = fs[:k].copy()
        co = fc[:k].copy()
    j = 0
    for i in range(1, co.shape[0]):
        if co[i] < co[j]:
            j = i
    value = co[j]
    for n in range(N - 1, -1, -1):
        choice[n] = ch_all[starts[n] + j]
        j = par_all[starts[n] + j]
    return 0, value, choice


@njit(cache=True)
def facility_argmin(cost: np.ndarray, base: np.ndarray, forced: int) -> tuple[float, int]:  # pragma: no cover - compiled
    """The facility location of one position over the subsets ``s`` of its free blocks (rows of
    ``cost`` ``[m, K]``; bit ``j`` of ``s`` is row ``j``), with ``forced`` blocks always open whose
    per-device least cost is ``base``: ``(value, s)`` minimising ``forced + |s| + sum_k min(base[k],
    min_{j in s} cost[j, k])``, the sum taken over ``k`` in order and the first minimal ``s``, as
    :meth:`~edgeinfer.broadcast.solvers.decomposition._Sides.position_table` computes it."""
    m, K = cost.shape
    mins = np.empty((2 ** m, K))
    for k in range(K):
        mins[0, k] = np.inf
    for j in range(m):
        lo = 2 ** j
        for s in range(lo):
            for k in range(K):
                a = mins[s, k]
                b = cost[j, k]
                mins[lo + s, k] = a if a < b else b
    best = np.inf
    arg = 0
    for s in range(2 ** m):
        size = forced
        x = s
        while x:
            size += x & 1
            x >>= 1
        tot = float(size)
        for k in range(K):
            a = mins[s, k]
            b = base[k]
            tot += a if a < b else b
        if s == 0 or tot < best:
            best = tot
            arg = s
    return best, arg
