"""Compiled kernels of the exact pricing and of the decomposition (numba; docs/broadcast.md §3).

* :func:`pareto_dp`: :func:`~edgeinfer.broadcast.solvers.lagrange.cheapest_assembly`'s Pareto
  dynamic programme over positions, written as loops: after each position the (score, cost)
  states are the candidates ``state + block`` that can still reach ``need``, ordered by score
  descending, then cost ascending, then candidate index ``state * m + block`` (exactly
  :func:`numpy.lexsort`'s stable order in the NumPy version), keeping those strictly cheaper than
  every candidate before them. The states stay sorted by strictly decreasing score, so each
  block's shifted list is sorted too and merges replace the sort: the same states, the same
  back-pointers, bit for bit the same sums (``a + b`` in the same order), hence the same value
  and the same assembly as the NumPy programme.
* :func:`facility_argmin`: one position's facility location over its block subsets.
* :func:`evaluate` and :func:`penalties`: one evaluation of the decomposition's ``L`` at a node
  (both sides' assignments), and its fixing penalties, with
  :func:`through` (:func:`~edgeinfer.broadcast.solvers.lagrange.cheapest_through`) inside: the
  whole of ``decomposition._evaluate`` / ``_penalties`` in one call, the same sums in the same order.

tests/broadcast/test_lagrange.py and test_decomposition.py compare every kernel with its NumPy
code, ties included. Loaded only when a decomposition runs (mid-size MBA components); a first
compilation takes seconds, then numba's on-disk cache loads it.
"""

from __future__ import annotations

import numpy as np
from numba import njit

#: as ``lagrange.SLOPE_STEPS`` (kept equal by a test)
SLOPE_STEPS = 12

__all__ = ["evaluate", "facility_argmin", "mckp", "pareto_dp", "penalties", "swap_descent", "through", "ufl"]


@njit(cache=True)
def pareto_dp(scores: np.ndarray, costs: np.ndarray, offsets: np.ndarray, need: float,  # pragma: no cover - compiled
              best_rest: np.ndarray, max_candidates: int, limit: float) -> tuple[int, float, np.ndarray]:
    """``(status, value, choice)``: status 0 solved, 1 no assembly reaches ``need``, 2 a
    position step had more than ``max_candidates`` (state, block) candidates (-1: no cap), 3 no
    assembly costs at most ``limit``.
    ``scores``/``costs``: the positions' blocks concatenated, position ``n`` at
    ``offsets[n]:offsets[n + 1]``; ``best_rest[n]``: the best score over positions ``n..N-1``.
    ``limit``: states whose cost plus the least costs of the positions still to come exceed it
    are dropped (``lagrange.cost_limit``; exact when some assembly costs at most ``limit``)."""
    N = offsets.shape[0] - 1
    choice = np.zeros(N, np.int64)
    least = _suffix_least(scores, costs, offsets, 0.0)  # least[n]: the sum of the least costs at positions n..N-1
    mu = _slope(scores, costs, offsets, need) if limit < np.inf else 0.0
    tail = _suffix_least(scores, costs, offsets, mu) if mu > 0.0 else least
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
        t1 = tail[n + 1]
        # per block: how many states (a prefix: the sums fall with the state index) stay reachable
        lens = np.zeros(m, np.int64)
        for j in range(m):
            s = scores[o0 + j]
            cnt = 0
            while cnt < S and (sc[cnt] + s) + rest >= need:
                cnt += 1
            lens[j] = cnt
        # per block: the states cheap enough (a suffix: the costs fall with the state index)
        first = np.zeros(m, np.int64)
        if limit < np.inf:
            after = least[n + 1]
            for j in range(m):
                c = costs[o0 + j]
                lo = 0
                while lo < lens[j] and (co[lo] + c) + after > limit:
                    lo += 1
                first[j] = lo
        # the Pareto frontier of the union of the blocks' lists, merged in one list at a time
        size = S * m if S * m > 0 else 1
        fs, fc, fi = np.empty(size), np.empty(size), np.empty(size, np.int64)
        gs, gc, gi = np.empty(size), np.empty(size), np.empty(size, np.int64)
        k = 0
        for j in range(m):
            s = scores[o0 + j]
            c = costs[o0 + j]
            a = 0
            b = first[j]
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
                    # the slope bound: cost + tail + mu (need - score) > limit cannot finish. Every state a
                    # failing candidate dominates fails too (the bound is monotone in cost and score, in
                    # floats as well), so testing before the merge keeps the states that testing the merged
                    # frontier (lagrange._cheapest_assembly_numpy) keeps, with fewer to merge
                    if mu > 0.0 and xc + (t1 + mu * (need - xs)) > limit:
                        continue
                # a block's shifted list can hold equal scores (rounding) in cost-descending order:
                # the cheaper replaces the kept one, as the NumPy frontier keeps one state per score
                if q > 0 and xs == gs[q - 1]:
                    if xc < run_min:
                        gc[q - 1], gi[q - 1] = xc, xi
                        run_min = xc
                elif q == 0 or xc < run_min:
                    gs[q], gc[q], gi[q] = xs, xc, xi
                    q += 1
                    run_min = xc
            fs, gs = gs, fs
            fc, gc = gc, fc
            fi, gi = gi, fi
            k = q
        if k == 0:  # every candidate unreachable, over the limit or failing the slope bound
            return (1 if limit == np.inf else 3), 0.0, choice
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
def _suffix_least(scores: np.ndarray, costs: np.ndarray, offsets: np.ndarray, mu: float  # pragma: no cover - compiled
                  ) -> np.ndarray:
    """``out[n] = sum_{n' >= n} min_j (c_j - mu s_j)``, summed from the last position down
    (``mu = 0``: the least costs, exactly, since ``c - 0 s == c``)."""
    N = offsets.shape[0] - 1
    out = np.zeros(N + 1)
    acc = 0.0
    for n in range(N - 1, -1, -1):
        low = np.inf
        for j in range(offsets[n], offsets[n + 1]):
            v = costs[j] - mu * scores[j]
            if v < low:
                low = v
        acc = acc + low
        out[n] = acc
    return out


@njit(cache=True)
def _slope(scores: np.ndarray, costs: np.ndarray, offsets: np.ndarray, need: float) -> float:  # pragma: no cover - compiled
    """``lagrange._slope_tail``'s ``mu`` (the same floats): the slope of the cost-limit bound."""
    lo, hi = 0.0, 1.0
    for _ in range(80):
        if _short(scores, costs, offsets, need, hi) == 0:
            break
        lo, hi = hi, 2.0 * hi
    if lo == 0.0 and _short(scores, costs, offsets, need, 0.0) == 0:
        return 0.0
    for _ in range(SLOPE_STEPS):
        mid = 0.5 * (lo + hi)
        if _short(scores, costs, offsets, need, mid):
            lo = mid
        else:
            hi = mid
    return lo


@njit(cache=True)
def _short(scores: np.ndarray, costs: np.ndarray, offsets: np.ndarray, need: float, mu: float) -> int:  # pragma: no cover - compiled
    """1 when the assembly of least ``c - mu s`` (ties: the higher score) misses ``need``."""
    N = offsets.shape[0] - 1
    tot = 0.0
    for n in range(N):
        low = np.inf
        best = -np.inf
        for j in range(offsets[n], offsets[n + 1]):
            v = costs[j] - mu * scores[j]
            if v < low:
                low, best = v, scores[j]
            elif v == low and scores[j] > best:
                best = scores[j]
        tot = tot + best
    return 1 if tot < need else 0


@njit(cache=True)
def _subset_table(cost: np.ndarray, base: np.ndarray, forced: int  # pragma: no cover - compiled
                  ) -> tuple[np.ndarray, np.ndarray]:
    """``(mins, tot)`` over the subsets ``s`` of one position's free blocks (rows of ``cost``
    ``[m, K]``; bit ``j`` of ``s`` is row ``j``), with ``forced`` blocks always open whose per-device
    least cost is ``base``: ``mins[s, k] = min(base[k], min_{j in s} cost[j, k])`` (by doubling) and
    ``tot[s] = forced + |s| + sum_k mins[s, k]``, the sum taken over ``k`` in order, as
    :meth:`~edgeinfer.broadcast.solvers.decomposition._Sides.position_table` computes them."""
    m, K = cost.shape
    T = 2 ** m
    mins = np.empty((T, K))
    for k in range(K):
        mins[0, k] = np.inf
    for j in range(m):
        lo = 2 ** j
        for s in range(lo):
            for k in range(K):
                a = mins[s, k]
                b = cost[j, k]
                mins[lo + s, k] = a if a < b else b
    tot = np.empty(T)
    for s in range(T):
        size = forced
        x = s
        while x:
            size += x & 1
            x >>= 1
        t = float(size)
        for k in range(K):
            a = mins[s, k]
            b = base[k]
            v = a if a < b else b
            mins[s, k] = v
            t += v
        tot[s] = t
    return mins, tot


@njit(cache=True)
def facility_argmin(cost: np.ndarray, base: np.ndarray, forced: int) -> tuple[float, int]:  # pragma: no cover - compiled
    """The facility location of one position over the subsets ``s`` of its free blocks (rows of
    ``cost`` ``[m, K]``; bit ``j`` of ``s`` is row ``j``), with ``forced`` blocks always open whose
    per-device least cost is ``base``: ``(value, s)`` minimising ``forced + |s| + sum_k min(base[k],
    min_{j in s} cost[j, k])``, the sum taken over ``k`` in order and the first minimal ``s``, as
    :meth:`~edgeinfer.broadcast.solvers.decomposition._Sides.position_table` computes it."""
    m, K = cost.shape
    T = 2 ** m
    mins = np.empty((T, K))
    sizes = np.empty(T, np.int64)
    t = float(forced)
    for k in range(K):
        mins[0, k] = base[k]
        t += base[k]
    sizes[0] = forced
    best, arg = t, 0
    for j in range(m):
        lo = 2 ** j
        for s in range(lo):
            sz = sizes[s] + 1
            sizes[lo + s] = sz
            t = float(sz)
            for k in range(K):
                a = mins[s, k]
                b = cost[j, k]
                v = a if a < b else b
                mins[lo + s, k] = v
                t += v
            if t < best:  # strictly: the first minimum in index order wins ties (lo + s > every earlier index)
                best, arg = t, lo + s
    return best, arg


@njit(cache=True)
def _position_costs(n: int, lam: np.ndarray, allowed: np.ndarray, free: np.ndarray,  # pragma: no cover - compiled
                    free_off: np.ndarray, forced: np.ndarray, forced_off: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Position ``n``'s costs ``lam`` (``inf`` where a pair is not allowed) of its free blocks and of
    its forced ones, and each device's least cost over the forced ones (``inf``: none forced), at a
    node packed as for :func:`evaluate`."""
    K = lam.shape[1]
    f0, x0 = free_off[n], forced_off[n]
    m, nf = free_off[n + 1] - f0, forced_off[n + 1] - x0
    cf = np.empty((m, K))
    for j in range(m):
        b = free[f0 + j]
        for k in range(K):
            cf[j, k] = lam[b, k] if allowed[b, k] else np.inf
    cx = np.empty((nf, K))
    base = np.full(K, np.inf)
    for j in range(nf):
        b = forced[x0 + j]
        for k in range(K):
            cx[j, k] = lam[b, k] if allowed[b, k] else np.inf
            if cx[j, k] < base[k]:
                base[k] = cx[j, k]
    return cf, cx, base


@njit(cache=True)
def _device(k: int, lam: np.ndarray, prev: np.ndarray, limit_tol: float, flat: np.ndarray,  # pragma: no cover - compiled
            flat_off: np.ndarray, scores: np.ndarray, offsets: np.ndarray, best_rest: np.ndarray, need: np.ndarray,
            max_candidates: int) -> tuple[int, float, np.ndarray]:
    """Device ``k``'s pricing at a node packed as for :func:`evaluate`, limited by the cost of its
    previous assembly ``prev[k]`` where all its blocks are still usable."""
    N = offsets.shape[1] - 1
    u0, u1 = flat_off[k], flat_off[k + 1]
    costs = np.empty(u1 - u0)
    for j in range(u0, u1):
        costs[j - u0] = -lam[flat[j], k]
    known = 0.0  # the previous assembly's cost, summed in position order as the programme sums
    for n in range(N):
        at = -1
        for j in range(offsets[k, n], offsets[k, n + 1]):
            if flat[u0 + j] == prev[k, n]:
                at = j
        if at < 0:
            known = np.inf
            break
        known = known + costs[at]
    limit = known + limit_tol * max(1.0, abs(known)) if known < np.inf else np.inf
    st, v, choice = pareto_dp(scores[u0:u1], costs, offsets[k], need[k], best_rest[k], max_candidates, limit)
    if st == 3:
        st, v, choice = pareto_dp(scores[u0:u1], costs, offsets[k], need[k], best_rest[k], max_candidates, np.inf)
    return st, v, choice


@njit(cache=True)
def evaluate(lam: np.ndarray, prev: np.ndarray, limit_tol: float,  # pragma: no cover - compiled
             allowed: np.ndarray, free: np.ndarray, free_off: np.ndarray,
             forced: np.ndarray, forced_off: np.ndarray, flat: np.ndarray, flat_off: np.ndarray,
             scores: np.ndarray, offsets: np.ndarray, best_rest: np.ndarray, need: np.ndarray,
             priced: np.ndarray, max_candidates: int
             ) -> tuple[int, float, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One evaluation of the decomposition's ``L(lam)`` at a node, as
    :func:`~edgeinfer.broadcast.solvers.decomposition._evaluate` computes it with NumPy:
    ``(status, value, Xp, Xd, y, chosen)``, status 0 solved, 1 infeasible (``L = inf``), 2 a pricing over
    ``max_candidates``; ``chosen[k, n]``: device ``k``'s block at position ``n`` (-1: none).
    ``prev[k, n]`` (-1: none): an assembly of each device, e.g. the last evaluation's, whose cost,
    when all its blocks are still usable, limits the pricing (``lagrange.cost_limit`` with slack
    ``limit_tol``; the same answer).
    Positions: free blocks ``free[free_off[n]:free_off[n + 1]]`` and forced
    blocks likewise; devices: usable blocks ``flat[flat_off[k]:flat_off[k + 1]]`` in pricing order,
    their ``scores``, per-device ``offsets``/``best_rest`` rows (:class:`Pricing`), ``need``, and
    ``priced[k]`` false when the device has no pricing (no assembly at all).
    The same sums in the same order and the same first minima as the NumPy code, bit for bit."""
    nb, K = lam.shape
    N = free_off.shape[0] - 1
    Xp = np.zeros((nb, K))
    Xd = np.zeros((nb, K))
    y = np.zeros(nb)
    chosen = np.full((K, N), -1, np.int64)
    value = 0.0
    for n in range(N):
        cf, cx, base = _position_costs(n, lam, allowed, free, free_off, forced, forced_off)
        f0, x0 = free_off[n], forced_off[n]
        m, nf = cf.shape[0], cx.shape[0]
        F, s = facility_argmin(cf, base, nf)
        if not np.isfinite(F):
            return 1, np.inf, Xp, Xd, y, chosen
        value += F
        for j in range(m):
            if (s >> j) & 1:
                y[free[f0 + j]] = 1.0
        for j in range(nf):
            y[forced[x0 + j]] = 1.0
        for k in range(K):  # the first least cost: members in bit order, then the forced blocks
            arg, low = -1, np.inf
            for j in range(m):
                if (s >> j) & 1 and (arg < 0 or cf[j, k] < low):
                    arg, low = free[f0 + j], cf[j, k]
            for j in range(nf):
                if arg < 0 or cx[j, k] < low:
                    arg, low = forced[x0 + j], cx[j, k]
            Xp[arg, k] = 1.0
    for k in range(K):
        if not priced[k]:
            return 1, np.inf, Xp, Xd, y, chosen
        st, v, choice = _device(k, lam, prev, limit_tol, flat, flat_off, scores, offsets, best_rest, need,
                                max_candidates)
        if st != 0:
            return st, np.inf, Xp, Xd, y, chosen
        value += v
        for n in range(N):
            b = flat[flat_off[k] + offsets[k, n] + choice[n]]
            Xd[b, k] = 1.0
            chosen[k, n] = b
    return 0, value, Xp, Xd, y, chosen


@njit(cache=True)
def _extend(sc: np.ndarray, co: np.ndarray, s_blk: np.ndarray, c_blk: np.ndarray  # pragma: no cover - compiled
            ) -> tuple[np.ndarray, np.ndarray]:
    """The Pareto frontier (score strictly descending, cost strictly descending) of the states
    ``(sc[i] + s_blk[j], co[i] + c_blk[j])``, from a frontier ``sc, co`` of the same form: the
    blocks' shifted lists merged one at a time, ordered by score descending then cost ascending,
    each state kept when strictly cheaper than all before it (the frontier :func:`numpy.lexsort`
    and a running minimum give in ``lagrange._pareto``: the same values)."""
    S, m = sc.shape[0], s_blk.shape[0]
    size = S * m if S * m > 0 else 1
    fs, fc = np.empty(size), np.empty(size)
    gs, gc = np.empty(size), np.empty(size)
    k = 0
    for j in range(m):
        s, c = s_blk[j], c_blk[j]
        a = b = q = 0
        run_min = np.inf
        while a < k or b < S:
            if b >= S:
                take_a = True
            elif a >= k:
                take_a = False
            else:
                bs, bc = sc[b] + s, co[b] + c
                take_a = fs[a] > bs or (fs[a] == bs and fc[a] <= bc)
            if take_a:
                xs, xc = fs[a], fc[a]
                a += 1
            else:
                xs, xc = sc[b] + s, co[b] + c
                b += 1
            if q > 0 and xs == gs[q - 1]:  # equal scores in a shifted list: keep the cheaper
                if xc < run_min:
                    gc[q - 1] = xc
                    run_min = xc
            elif q == 0 or xc < run_min:
                gs[q], gc[q] = xs, xc
                q += 1
                run_min = xc
        fs, gs = gs, fs
        fc, gc = gc, fc
        k = q
    return fs[:k].copy(), fc[:k].copy()


@njit(cache=True)
def through(scores: np.ndarray, costs: np.ndarray, offsets: np.ndarray, need: float  # pragma: no cover - compiled
            ) -> np.ndarray:
    """:func:`~edgeinfer.broadcast.solvers.lagrange.cheapest_through` for one device in flat form
    (``need`` already less :data:`~edgeinfer.broadcast.solvers.lagrange.SUM_TOL`): per usable
    block, the least cost of an assembly through it with score ``>= need`` (``inf``: none).
    Forward frontiers over positions ``0..n-1`` and backward ones over ``n+1..N-1`` (summed from
    the last position down, as the NumPy code does), joined at ``n``: same sums, same minima."""
    N = offsets.shape[0] - 1
    out = np.full(offsets[N], np.inf)
    fwd_s, fwd_c = [np.zeros(1)], [np.zeros(1)]
    for n in range(N - 1):
        ns, nc = _extend(fwd_s[n], fwd_c[n], scores[offsets[n]:offsets[n + 1]], costs[offsets[n]:offsets[n + 1]])
        fwd_s.append(ns)
        fwd_c.append(nc)
    bwd_s, bwd_c = [np.zeros(1)], [np.zeros(1)]  # built from the last position down, reversed below
    for n in range(N - 1, 0, -1):
        ns, nc = _extend(bwd_s[-1], bwd_c[-1], scores[offsets[n]:offsets[n + 1]], costs[offsets[n]:offsets[n + 1]])
        bwd_s.append(ns)
        bwd_c.append(nc)
    for n in range(N):
        fs, fc = fwd_s[n], fwd_c[n]
        gs, gc = bwd_s[N - 1 - n], bwd_c[N - 1 - n]
        for j in range(offsets[n], offsets[n + 1]):
            s, c = scores[j], costs[j]
            best = np.inf
            p = gs.shape[0]  # gs[:p] >= want; want rises as fs falls
            for i in range(fs.shape[0]):
                want = need - fs[i] - s
                while p > 0 and gs[p - 1] < want:
                    p -= 1
                if p == 0:
                    break
                tot = fc[i] + c + gc[p - 1]  # the cheapest of the prefix: costs fall along it
                if tot < best:
                    best = tot
            out[j] = best
    return out


@njit(cache=True)
def penalties(lam: np.ndarray, allowed: np.ndarray, free: np.ndarray, free_off: np.ndarray,  # pragma: no cover - compiled
              forced: np.ndarray, forced_off: np.ndarray, flat: np.ndarray, flat_off: np.ndarray,
              scores: np.ndarray, offsets: np.ndarray, best_rest: np.ndarray, need: np.ndarray,
              priced: np.ndarray) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """``(L, up, down, px)`` of :func:`~edgeinfer.broadcast.solvers.decomposition._penalties` on the
    node packed as for :func:`evaluate`: the same table sums and minima, bit for bit."""
    nb, K = lam.shape
    N = free_off.shape[0] - 1
    up, down = np.full(nb, np.inf), np.full(nb, np.inf)
    px = np.full((nb, K), np.inf)
    value = 0.0
    for n in range(N):
        f0, x0 = free_off[n], forced_off[n]
        m, nf = free_off[n + 1] - f0, forced_off[n + 1] - x0
        cf, cx, base = _position_costs(n, lam, allowed, free, free_off, forced, forced_off)
        mins, tot = _subset_table(cf, base, nf)
        T = tot.shape[0]
        F = tot.min()
        value += F
        for j in range(m):
            b = free[f0 + j]
            hi, lo_ = np.inf, np.inf
            for s in range(T):
                if (s >> j) & 1:
                    hi = min(hi, tot[s])
                else:
                    lo_ = min(lo_, tot[s])
            up[b], down[b] = hi - F, lo_ - F
            for k in range(K):
                best = np.inf
                for s in range(T):
                    if (s >> j) & 1 and np.isfinite(mins[s, k]):
                        v = (tot[s] - mins[s, k]) + cf[j, k]
                        if v < best:
                            best = v
                px[b, k] = best - F
        for j in range(nf):
            b = forced[x0 + j]
            for k in range(K):
                best = np.inf
                for s in range(T):
                    if np.isfinite(mins[s, k]):
                        v = (tot[s] - mins[s, k]) + cx[j, k]
                        if v < best:
                            best = v
                px[b, k] = best - F
    for k in range(K):
        u0, u1 = flat_off[k], flat_off[k + 1]
        costs = np.empty(u1 - u0)
        for j in range(u0, u1):
            costs[j - u0] = -lam[flat[j], k]
        via = through(scores[u0:u1], costs, offsets[k], need[k])
        D = np.inf
        for j in range(u1 - u0):
            if via[j] < D:
                D = via[j]
        value += D
        for j in range(u1 - u0):
            px[flat[u0 + j], k] += via[j] - D
    return value, up, down, px


# --- the large-component path (positions over MAX_FACILITY_BLOCKS blocks; docs/broadcast.md §3) ---


@njit(cache=True)
def _frontier(scores: np.ndarray, costs: np.ndarray, o0: int, o1: int  # pragma: no cover - compiled
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One position's non-dominated blocks ``(score, cost, index - o0)``, by increasing score and
    strictly increasing cost; the first is the cheapest block (ties: the higher score, then the
    lower index). A block is dominated when another has at least its score and at most its cost."""
    m = o1 - o0
    order = np.arange(m)
    for a in range(1, m):  # insertion sort: score descending, cost ascending, index ascending
        j = order[a]
        b = a - 1
        while b >= 0:
            i = order[b]
            si, sj = scores[o0 + i], scores[o0 + j]
            if si > sj or (si == sj and (costs[o0 + i] < costs[o0 + j] or (costs[o0 + i] == costs[o0 + j] and i < j))):
                break
            order[b + 1] = i
            b -= 1
        order[b + 1] = j
    keep = np.empty(m, np.int64)
    q = 0
    low = np.inf
    for a in range(m):
        c = costs[o0 + order[a]]
        if c < low:
            low = c
            keep[q] = order[a]
            q += 1
    fs, fc, fi = np.empty(q), np.empty(q), np.empty(q, np.int64)
    for a in range(q):
        j = keep[q - 1 - a]
        fs[a], fc[a], fi[a] = scores[o0 + j], costs[o0 + j], j
    return fs, fc, fi


@njit(cache=True)
def mckp(scores: np.ndarray, costs: np.ndarray, offsets: np.ndarray, need: float,  # pragma: no cover - compiled
         eps: float, max_nodes: int) -> tuple[int, float, float, np.ndarray]:
    """The pricing of one device as a multiple-choice knapsack solved by branch and bound:
    ``(status, value, lower, choice)``, the assembly ``choice`` (index per position, as
    :func:`pareto_dp`) of cost ``value``, with score at least ``need``, and ``lower`` a proven
    lower bound on the least such cost, ``value - eps <= lower <= value``. Status 0 solved,
    1 no assembly reaches ``need``, 2 the node cap ``max_nodes`` was hit (``value`` the best
    found, ``inf`` if none; ``lower`` still valid).

    Each position keeps its non-dominated blocks (:func:`_frontier`); relative to the cheapest
    block of every position, the LP relaxation of the rest (positions ``n..N-1``, score still
    missing ``r``) is the greedy over the lower convex hulls' increments by increasing slope:
    their suffix-merged lists with prefix sums give it by a binary search. Depth first, the
    children of a node by increasing bound; a node whose bound is at least ``best - eps`` is
    pruned, and ``lower`` is the least of ``best`` and the pruned (and, at the cap, open) bounds."""
    N = offsets.shape[0] - 1
    choice = np.zeros(N, np.int64)
    fs_l, fc_l, fi_l = [], [], []
    base_s, base_c, width = 0.0, 0.0, 1
    for n in range(N):
        if offsets[n + 1] <= offsets[n]:
            return 1, np.inf, np.inf, choice
        fs, fc, fi = _frontier(scores, costs, offsets[n], offsets[n + 1])
        fs_l.append(fs)
        fc_l.append(fc)
        fi_l.append(fi)
        base_s += fs[0]
        base_c += fc[0]
        choice[n] = fi[0]
        width = max(width, fs.shape[0])
    r0 = need - base_s
    if r0 <= 0.0:
        return 0, base_c, base_c, choice
    # each position's hull increments (slopes increasing), then the suffix-merged lists
    lists_s = [np.empty(0)] * (N + 1)
    lists_c = [np.empty(0)] * (N + 1)
    for n in range(N - 1, -1, -1):
        fs, fc = fs_l[n], fc_l[n]
        L = fs.shape[0]
        hull = np.empty(L, np.int64)
        h = 0
        for a in range(L):
            while h >= 2:
                o, p = hull[h - 2], hull[h - 1]
                cross = (fs[p] - fs[o]) * (fc[a] - fc[o]) - (fc[p] - fc[o]) * (fs[a] - fs[o])
                if cross <= 0.0:
                    h -= 1
                else:
                    break
            hull[h] = a
            h += 1
        inc_s = np.empty(h - 1)
        inc_c = np.empty(h - 1)
        for a in range(h - 1):
            inc_s[a] = fs[hull[a + 1]] - fs[hull[a]]
            inc_c[a] = fc[hull[a + 1]] - fc[hull[a]]
        ps, pc = lists_s[n + 1], lists_c[n + 1]
        tot = ps.shape[0] + h - 1
        ms, mc = np.empty(tot), np.empty(tot)
        a, b = 0, 0
        for q in range(tot):  # merge by slope (dc / ds, compared by cross multiplication)
            if b >= ps.shape[0] or (a < h - 1 and inc_c[a] * ps[b] <= pc[b] * inc_s[a]):
                ms[q], mc[q] = inc_s[a], inc_c[a]
                a += 1
            else:
                ms[q], mc[q] = ps[b], pc[b]
                b += 1
        lists_s[n] = ms
        lists_c[n] = mc
    cum_s = [np.cumsum(lists_s[n]) for n in range(N + 1)]
    cum_c = [np.cumsum(lists_c[n]) for n in range(N + 1)]
    cap = N * width + 2
    st_n = np.empty(cap, np.int64)
    st_j = np.empty(cap, np.int64)
    st_r, st_c, st_b = np.empty(cap), np.empty(cap), np.empty(cap)
    path = np.zeros(N, np.int64)
    best_path = np.zeros(N, np.int64)
    best, pruned = np.inf, np.inf
    kid_r, kid_c, kid_b = np.empty(width), np.empty(width), np.empty(width)
    kid_j = np.empty(width, np.int64)
    top = 0
    st_n[0], st_j[0], st_r[0], st_c[0] = 0, 0, r0, 0.0
    st_b[0] = _lp_rest(cum_s[0], cum_c[0], lists_s[0], lists_c[0], r0)
    top = 1
    nodes = 0
    status = 0
    while top > 0:
        top -= 1
        n, r, c, bd = st_n[top], st_r[top], st_c[top], st_b[top]
        if bd >= best - eps:
            pruned = min(pruned, bd)
            continue
        if n > 0:
            path[n - 1] = st_j[top]
        nodes += 1
        if max_nodes >= 0 and nodes > max_nodes:
            status = 2
            pruned = min(pruned, bd)
            for q in range(top):
                pruned = min(pruned, st_b[q])
            break
        fs, fc = fs_l[n], fc_l[n]
        nk = 0
        for a in range(fs.shape[0]):
            r2 = r - (fs[a] - fs[0])
            c2 = c + (fc[a] - fc[0])
            if r2 <= 0.0:
                if c2 < best:
                    best = c2
                    for q in range(n):
                        best_path[q] = path[q]
                    best_path[n] = a
                    for q in range(n + 1, N):
                        best_path[q] = 0
                break
            if n == N - 1:
                continue
            b2 = c2 + _lp_rest(cum_s[n + 1], cum_c[n + 1], lists_s[n + 1], lists_c[n + 1], r2)
            if b2 >= best - eps:
                pruned = min(pruned, b2)
                continue
            kid_r[nk], kid_c[nk], kid_b[nk], kid_j[nk] = r2, c2, b2, a
            nk += 1
        # push by decreasing bound (the least bound is explored first; ties: the lower block)
        for _ in range(nk):
            pick = -1
            for q in range(nk):
                if kid_j[q] >= 0 and (pick < 0 or kid_b[q] > kid_b[pick]
                                      or (kid_b[q] == kid_b[pick] and kid_j[q] > kid_j[pick])):
                    pick = q
            st_n[top], st_j[top], st_r[top], st_c[top], st_b[top] = n + 1, kid_j[pick], kid_r[pick], kid_c[pick], kid_b[pick]
            top += 1
            kid_j[pick] = -1
    if best == np.inf and status == 0:
        return 1, np.inf, np.inf, choice
    for n in range(N):
        choice[n] = fi_l[n][best_path[n]]
    return status, base_c + best, base_c + min(best, pruned), choice


@njit(cache=True)
def _lp_rest(cs: np.ndarray, cc: np.ndarray, ds: np.ndarray, dc: np.ndarray, r: float) -> float:  # pragma: no cover - compiled
    """The least LP cost of the increments (merged by slope; ``cs``/``cc`` their prefix sums) to
    add score ``r > 0``: ``inf`` when they cannot."""
    L = cs.shape[0]
    if L == 0 or cs[L - 1] < r:
        return np.inf
    lo, hi = 0, L - 1
    while lo < hi:  # first j with cs[j] >= r
        mid = (lo + hi) // 2
        if cs[mid] >= r:
            hi = mid
        else:
            lo = mid + 1
    prev_s = cs[lo - 1] if lo > 0 else 0.0
    prev_c = cc[lo - 1] if lo > 0 else 0.0
    return prev_c + (r - prev_s) * (dc[lo] / ds[lo])


@njit(cache=True)
def ufl(cost: np.ndarray) -> tuple[float, np.ndarray]:  # pragma: no cover - compiled
    """One position's uncapacitated facility location, exactly, by branch and bound:
    ``min_Y |Y| + sum_k min_{b in Y} cost[b, k]`` over the non-empty subsets ``Y`` of the rows
    (``inf``: ``k`` cannot use ``b``). Returns the value and each device's row (the first least
    row of the best ``Y`` found; ``inf`` and -1s when no subset serves every device).

    Rows are decided in the order of their standalone value ``1 + sum_k cost[b, k]``, opening
    first; a node's bound is the larger of its open count (at least one) plus ``sum_k min(cur_k,
    least cost of k over the undecided rows)`` and, once every device is served, its value less
    the undecided rows' savings over 1 (savings are subadditive: 21 x 24's positions take ~0.1 ms
    with it, ~4 ms without); a row whose opening saves at most 1 at a node is closed
    there (the saving only shrinks deeper, so some optimum avoids it), a row that is some
    device's last option is opened. The start is the greedy that opens the best row, then the
    row of largest saving while it saves more than 1."""
    m, K = cost.shape
    assign = np.full(K, -1, np.int64)
    if m == 0:
        return np.inf, assign
    v = np.empty(m)
    for b in range(m):
        s = 1.0
        for k in range(K):
            s += cost[b, k]
        v[b] = s
    order = np.argsort(v, kind="mergesort")
    C = np.empty((m, K))
    for i in range(m):
        C[i] = cost[order[i]]
    suf = np.full((m + 1, K), np.inf)
    for i in range(m - 1, -1, -1):
        for k in range(K):
            suf[i, k] = min(suf[i + 1, k], C[i, k])
    # greedy start
    best_set = np.zeros(m, np.bool_)
    cur = np.full(K, np.inf)
    best = np.inf
    if v[order[0]] < np.inf:
        best_set[0] = True
        for k in range(K):
            cur[k] = C[0, k]
        best = v[order[0]]
        while True:
            pick, gain = -1, 1.0
            for i in range(m):
                if best_set[i]:
                    continue
                g = 0.0
                for k in range(K):
                    if C[i, k] < cur[k]:
                        g += cur[k] - C[i, k]
                if g > gain:
                    pick, gain = i, g
            if pick < 0:
                break
            best_set[pick] = True
            for k in range(K):
                cur[k] = min(cur[k], C[pick, k])
        cnt = 0  # the value in the same sum as the leaves'
        for i in range(m):
            cnt += best_set[i]
        best = float(cnt)
        for k in range(K):
            best += cur[k]
    curs = np.full((m + 1, K), np.inf)
    nopen = np.zeros(m + 1, np.int64)
    phase = np.zeros(m + 1, np.int64)
    only_close = np.zeros(m + 1, np.bool_)
    must_open = np.zeros(m + 1, np.bool_)
    open_set = np.zeros(m, np.bool_)
    i = 0
    while i >= 0:
        if i == m:
            val = float(nopen[m])
            for k in range(K):
                val += curs[m, k]
            if val < best:
                best = val
                for q in range(m):
                    best_set[q] = open_set[q]
            i -= 1
            continue
        if phase[i] == 0:
            bd = float(max(nopen[i], 1))
            served = 0.0
            for k in range(K):
                bd += min(curs[i, k], suf[i, k])
                served += curs[i, k]
            if bd < best and served < np.inf:
                # savings are subadditive: opening Z saves at most sum_{b in Z} (saving_b - 1)
                for j in range(i, m):
                    g = -1.0
                    for k in range(K):
                        if C[j, k] < curs[i, k]:
                            g += curs[i, k] - C[j, k]
                    if g > 0.0:
                        served -= g
                bd = max(bd, nopen[i] + served)
            if bd >= best:
                i -= 1
                continue
            saving = 0.0
            mo = False
            for k in range(K):
                if curs[i, k] == np.inf:
                    if C[i, k] < np.inf:
                        saving = np.inf
                    if suf[i + 1, k] == np.inf:
                        mo = True
                elif C[i, k] < curs[i, k]:
                    saving += curs[i, k] - C[i, k]
            only_close[i] = saving <= 1.0 and not mo
            must_open[i] = mo
            phase[i] = 1
            if not only_close[i]:
                open_set[i] = True
                nopen[i + 1] = nopen[i] + 1
                for k in range(K):
                    curs[i + 1, k] = min(curs[i, k], C[i, k])
                phase[i + 1] = 0
                i += 1
                continue
        if phase[i] == 1:
            phase[i] = 2
            open_set[i] = False
            if not must_open[i]:
                nopen[i + 1] = nopen[i]
                for k in range(K):
                    curs[i + 1, k] = curs[i, k]
                phase[i + 1] = 0
                i += 1
                continue
        open_set[i] = False
        i -= 1
    if best == np.inf:
        return np.inf, assign
    # each device's first least row of the best set, in the caller's row order
    pos = np.empty(m, np.int64)
    for i in range(m):
        pos[order[i]] = i
    for k in range(K):
        low = np.inf
        for b in range(m):
            if best_set[pos[b]] and cost[b, k] < low:
                low = cost[b, k]
                assign[k] = b
    return best, assign


@njit(cache=True)
def _position_best(S: np.ndarray, sel: np.ndarray, lo: int, hi: int, skip1: int, skip2: int,  # pragma: no cover - compiled
                   out: np.ndarray) -> None:
    """``out[k]``: the best score for device ``k`` over the selected rows ``lo..hi-1`` other than
    ``skip1`` and ``skip2`` (``-inf`` if none)."""
    K = S.shape[1]
    for k in range(K):
        out[k] = -np.inf
    for b in range(lo, hi):
        if sel[b] and b != skip1 and b != skip2:
            for k in range(K):
                if S[b, k] > out[k]:
                    out[k] = S[b, k]


@njit(cache=True)
def swap_descent(S: np.ndarray, pos: np.ndarray, starts: np.ndarray, need: np.ndarray,  # pragma: no cover - compiled
                 y: np.ndarray, max_moves: int) -> tuple[np.ndarray, int]:
    """Local search on a feasible selection ``y`` (0/1 over the component's blocks, rows of ``S``
    ``[nb, Kc]`` sorted by position, ``-inf``: unusable; position ``n`` at ``starts[n]:starts[n + 1]``):
    drop a block nobody needs, or drop two blocks and add one, whenever every device's best
    assembly still scores at least ``need``; first improvement in index order (deterministic),
    at most ``max_moves`` moves. Returns the selection and the moves made."""
    nb, K = S.shape
    N = starts.shape[0] - 1
    sel = y > 0.5
    B = np.empty((N, K))
    best1 = np.empty(K)
    best2 = np.empty(K)
    alt = np.empty(K)
    d = np.empty(K)
    moves = 0
    while moves < max_moves:
        for n in range(N):
            _position_best(S, sel, starts[n], starts[n + 1], -1, -1, best1)
            for k in range(K):
                B[n, k] = best1[k]
        T = np.zeros(K)
        for n in range(N):
            for k in range(K):
                T[k] += B[n, k]
        moved = False
        members = np.flatnonzero(sel)
        for i1 in range(members.shape[0]):  # one block nobody needs
            b1 = members[i1]
            n1 = pos[b1]
            _position_best(S, sel, starts[n1], starts[n1 + 1], b1, -1, best1)
            ok = True
            for k in range(K):
                if T[k] - B[n1, k] + best1[k] < need[k]:
                    ok = False
                    break
            if ok:
                sel[b1] = False
                moved = True
                break
        if not moved:
            for i1 in range(members.shape[0]):
                b1 = members[i1]
                n1 = pos[b1]
                for i2 in range(i1 + 1, members.shape[0]):
                    b2 = members[i2]
                    n2 = pos[b2]
                    # the best at n1 and n2 without b1 and b2, and each device's shortfall
                    _position_best(S, sel, starts[n1], starts[n1 + 1], b1, b2, best1)
                    if n2 != n1:
                        _position_best(S, sel, starts[n2], starts[n2 + 1], b1, b2, best2)
                    short = False
                    for k in range(K):
                        t = T[k] - B[n1, k] + best1[k]
                        if n2 != n1:
                            t += best2[k] - B[n2, k]
                        d[k] = need[k] - t
                        if d[k] > 0.0:
                            short = True
                    if not short:  # cannot happen after the single drops, kept for safety
                        continue
                    for a in range(nb):
                        if sel[a]:
                            continue
                        na = pos[a]
                        ok = True
                        for k in range(K):
                            if d[k] > 0.0:
                                base = best1[k] if na == n1 else (best2[k] if na == n2 else B[na, k])
                                if not (S[a, k] - base >= d[k] or (base == -np.inf and S[a, k] > -np.inf)):
                                    ok = False
                                    break
                        if ok:
                            # check the new selection in full (its sums in position order)
                            sel[b1] = False
                            sel[b2] = False
                            sel[a] = True
                            good = True
                            for k in range(K):
                                alt[k] = 0.0
                            for n in range(N):
                                _position_best(S, sel, starts[n], starts[n + 1], -1, -1, best1)
                                for k in range(K):
                                    alt[k] += best1[k]
                            for k in range(K):
                                if not alt[k] >= need[k]:
                                    good = False
                            if good:
                                moved = True
                                break
                            sel[b1] = True
                            sel[b2] = True
                            sel[a] = False
                            _position_best(S, sel, starts[n1], starts[n1 + 1], b1, b2, best1)
                            if n2 != n1:
                                _position_best(S, sel, starts[n2], starts[n2 + 1], b1, b2, best2)
                    if moved:
                        break
                if moved:
                    break
        if not moved:
            break
        moves += 1
    out = np.zeros(nb)
    for b in range(nb):
        if sel[b]:
            out[b] = 1.0
    return out, moves
