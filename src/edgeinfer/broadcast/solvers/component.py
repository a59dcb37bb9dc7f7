# ruff: noqa: E741  (I is the paper's score tensor I_{i,n}^{(k)})
"""One independent component of P2.1 as LP/MILP data, for ``bnb``'s two engines.

:class:`Component` holds the reduced compact model of a set of devices (only usable,
undominated blocks and pairs; docs/broadcast.md §3): the assembly rows (C1, eq. 5), the QoS
rows (C2, eq. 7), the linking rows ``x <= y``, the deviation-cardinality cuts
(:meth:`Component._deviation_cuts`) and, for HiGHS' MILP, the best-block rows
(:meth:`Component.canonical_rows`). It also does the node propagation of the tree engine
(architecture-constraint pruning, :meth:`Component.propagate`), its warm-started node LPs
(:meth:`Component.lp`, one persistent ``highspy`` model) and the LP-rounding heuristic
(:meth:`Component.round_up`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from edgeinfer.broadcast.model import qos_tol

if TYPE_CHECKING:
    import scipy.sparse as sp

__all__ = ["Component", "highspy", "quiet_highs"]


class Component:
    """LP data of one independent component (devices ``devs``, blocks ``blocks``)."""

    def __init__(self, I: np.ndarray, c: np.ndarray, U: np.ndarray, devs: np.ndarray, *,
                 max_cuts: int, node_dominance: bool):
        """``max_cuts``: deviation-cut thresholds per device (0: none); ``node_dominance``:
        :meth:`propagate` also drops blocks dominated among the allowed ones."""
        import scipy.sparse as sp
        self.max_cuts = max_cuts
        self.I, self.c, self.devs = I, c, devs
        Ud = U[:, :, devs]
        blocks = np.argwhere(Ud.any(axis=2))
        blocks = blocks[np.lexsort((blocks[:, 0], blocks[:, 1]))]  # by position, then model
        self.blocks = blocks
        self.nb = len(blocks)
        # local score table for the component: S[b, kk] (-inf if not usable)
        self.S = np.where(Ud[blocks[:, 0], blocks[:, 1]], I[blocks[:, 0], blocks[:, 1]][:, devs], -np.inf)
        self.pos = blocks[:, 1]
        self.N = I.shape[1]
        self.Kc = len(devs)
        self.cc = c[devs]
        pairs = np.argwhere(np.isfinite(self.S))  # (b, kk)
        self.pairs = pairs
        nb, nx = self.nb, len(pairs)
        self.nx = nx
        jx = np.arange(nx)
        A_eq = sp.csr_matrix((np.ones(nx), (pairs[:, 1] * self.N + self.pos[pairs[:, 0]], nb + jx)),
                             shape=(self.Kc * self.N, nb + nx))
        # a position a device cannot cover leaves its row empty: caught by the feasibility checks
        A_q = sp.csr_matrix((-self.S[pairs[:, 0], pairs[:, 1]], (pairs[:, 1], nb + jx)), shape=(self.Kc, nb + nx))
        A_l = sp.csr_matrix((np.r_[np.ones(nx), -np.ones(nx)], (np.r_[jx, jx], np.r_[nb + jx, pairs[:, 0]])),
                            shape=(nx, nb + nx))
        self.A_eq, self.b_eq = A_eq, np.ones(self.Kc * self.N)
        self.by_pos = [np.flatnonzero(self.pos == n) for n in range(self.N)]
        A_c, b_c = self._deviation_cuts()
        self.num_cuts = len(b_c)
        self.A_ub = sp.vstack([A_q, A_l, A_c]).tocsr()
        self.b_ub = np.r_[-self.cc, np.zeros(nx), b_c]
        self.obj = np.r_[np.ones(nb), np.zeros(nx)]
        self._highs: Any = None
        self.starts = np.array([g[0] for g in self.by_pos])
        self._ar = np.arange(self.nb)
        self.node_dominance = node_dominance

    def _deviation_cuts(self) -> tuple[sp.csr_matrix, np.ndarray]:
        """Deviation-cardinality cuts, valid for every integral assembly.

        For device ``k`` let ``d_b = best_n - I_b`` be the loss of using block ``b`` at its
        position instead of the best one and ``s_k = sum_n best_n - c_k`` its slack. For a
        threshold ``tau``, the positions where ``k`` uses a block with loss ``>= tau`` each cost
        at least ``m_n(tau)`` (the least such loss at ``n``), so their number is at most
        ``D(tau)``, the largest ``t`` with the ``t`` smallest ``m_n(tau)`` summing to ``<= s_k``:
        ``sum_{b: d_b >= tau} x[k, b] <= D(tau)``. The LP relaxation of (P2.1) can spread a
        device's loss thinly over many positions; these rows forbid it.
        """
        import scipy.sparse as sp
        nb = self.nb
        best_n = np.array([self.S[g].max(axis=0) if g.size else np.full(self.Kc, -np.inf) for g in self.by_pos])
        slack = best_n.sum(axis=0) - self.cc
        rows: list[int] = []
        cols: list[int] = []
        rhs: list[float] = []
        pk = self.pairs[:, 1]
        for kk in range(self.Kc):
            d = best_n[self.pos, kk] - self.S[:, kk]
            fin = np.isfinite(d)
            taus = np.unique(d[fin & (d > 1e-12)])
            if self.max_cuts <= 0:
                taus = taus[:0]
            elif len(taus) > self.max_cuts:  # a spread of thresholds keeps the LP small
                taus = taus[np.unique(np.linspace(0, len(taus) - 1, self.max_cuts).round().astype(int))]
            for tau in taus:
                m = []
                for g in self.by_pos:
                    dd = d[g]
                    dd = dd[np.isfinite(dd) & (dd >= tau - 1e-12)]
                    if dd.size:
                        m.append(dd.min())
                ms = np.sort(np.array(m))
                D = int(np.searchsorted(np.cumsum(ms), slack[kk] + 1e-9, side="right"))
                if D >= len(ms):
                    continue
                sel = np.flatnonzero((pk == kk) & (d[self.pairs[:, 0]] >= tau - 1e-12))
                rows += [len(rhs)] * len(sel)
                cols += list(nb + sel)
                rhs.append(float(D))
        A = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(rhs), nb + self.nx))
        return A, np.array(rhs)

    def y_full(self, yb: np.ndarray) -> np.ndarray:
        y = np.zeros(self.I.shape[:2], bool)
        sel = self.blocks[yb > 0.5]
        y[sel[:, 0], sel[:, 1]] = True
        return y

    def feasible(self, yb: np.ndarray) -> bool:
        sel = yb > 0.5
        if not np.all(np.add.reduceat(sel, self.starts)):
            return False
        best = np.maximum.reduceat(np.where(sel[:, None], self.S, -np.inf), self.starts, axis=0).sum(axis=0)
        return bool(np.all(best >= self.cc - qos_tol(self.cc)))

    def assignment(self, yb: np.ndarray) -> np.ndarray:
        """``x`` of the LP columns for an integral selection: each device's best selected block
        per position (an integral assembly, so it satisfies the deviation cuts)."""
        S = np.where((yb > 0.5)[:, None], self.S, -np.inf)
        best = np.maximum.reduceat(S, self.starts, axis=0)  # (N, Kc)
        # ties: the higher local index (the order of :meth:`canonical_rows`)
        arg = np.maximum.reduceat(np.where(S == best[self.pos], self._ar[:, None], -1), self.starts, axis=0)
        x = np.zeros((self.nb, self.Kc))
        kk = np.arange(self.Kc)
        for n in range(self.N):
            a = arg[n]
            ok = (a >= 0) & np.isfinite(best[n])
            x[a[ok], kk[ok]] = 1.0
        return x[self.pairs[:, 0], self.pairs[:, 1]]

    def propagate(self, lb: np.ndarray, ub: np.ndarray) -> tuple[bool, np.ndarray, np.ndarray, np.ndarray]:
        """Architecture-constraint pruning and node-level dominance.

        With the allowed blocks (``ub = 1``) compute each device's usable blocks (a block is
        usable by a device if some assembly of allowed blocks through it meets the QoS); fail
        if a device cannot be served; force a block that is the only usable one of some
        (device, position); drop (``ub = 0``) a free block that no device can use or that is
        dominated, on the devices that can use it, by another allowed block. Repeats until
        nothing changes. Returns ``(ok, lb, ub, xmask)``, ``xmask[b, kk]`` the usable pairs.
        """
        lb, ub = lb.copy(), ub.copy()
        for _ in range(10):
            allowed = ub > 0.5
            S = np.where(allowed[:, None], self.S, -np.inf)
            best_n = np.maximum.reduceat(S, self.starts, axis=0)  # (N, Kc)
            if not np.all(np.isfinite(best_n)):
                return False, lb, ub, np.zeros_like(S, bool)
            total = best_n.sum(axis=0)
            if np.any(total < self.cc - qos_tol(self.cc)):
                return False, lb, ub, np.zeros_like(S, bool)
            need = self.cc - qos_tol(self.cc) - (total[None, :] - best_n[self.pos])  # (nb, Kc)
            xmask = S >= need
            changed = False
            # forced: a (position, device) with a single usable block
            cnt = np.add.reduceat(xmask, self.starts, axis=0)  # (N, Kc)
            if np.any(cnt == 0):
                return False, lb, ub, xmask
            idx = np.maximum.reduceat(np.where(xmask, self._ar[:, None], -1), self.starts, axis=0)
            forced = np.unique(idx[cnt == 1])
            if forced.size and np.any(lb[forced] < 0.5):
                lb[forced] = 1.0
                changed = True
            free = lb < 0.5
            unused = free & allowed & ~xmask.any(axis=1)
            if unused.any():
                ub[unused] = 0.0
                changed = True
            elif self.node_dominance:
                for n in range(self.N):
                    g = self.by_pos[n]
                    g = g[allowed[g]]
                    if len(g) < 2:
                        continue
                    xm = xmask[g]
                    Sg = S[g]  # (G, Kc)
                    # dom[i, j]: i >= j on every device that can use j
                    dom = ((Sg[:, None, :] >= Sg[None, :, :]) | ~xm[None, :, :]).all(axis=2)
                    np.fill_diagonal(dom, False)
                    fr = free[g]
                    for jj in np.flatnonzero(fr):
                        for ii in np.flatnonzero(dom[:, jj]):
                            if ub[g[ii]] < 0.5 or (dom[jj, ii] and fr[ii] and ii > jj):
                                continue  # mutual tie between free blocks: keep the lower index
                            ub[g[jj]] = 0.0
                            changed = True
                            break
            if not changed:
                return True, lb, ub, xmask
            if np.any(lb > ub):
                return False, lb, ub, xmask
        return True, lb, ub, xmask

    def lp(self, lb: np.ndarray, ub: np.ndarray, xmask: np.ndarray, *,
           time_limit_s: float | None = None, ipm: bool = False) -> tuple[float, np.ndarray] | None:
        """Node LP: ``(value, y)`` or ``None`` if infeasible, or if ``time_limit_s`` (seconds of
        HiGHS' own limit, for the root LPs of large components) stopped it. Uses a persistent
        HiGHS model (``highspy``, warm-started dual simplex after bound changes; ``ipm``: this solve
        by HiGHS' interior point method with crossover, 7x faster on the root LP at 40 x 40);
        should HiGHS end in any other state, ``scipy.optimize.linprog`` solves the node afresh."""
        from scipy.optimize import linprog
        xub = xmask[self.pairs[:, 0], self.pairs[:, 1]].astype(float)
        lo = np.r_[lb, np.zeros(self.nx)]
        hi = np.r_[ub, xub]
        if self._highs is None:
            self._highs = self._build_highs()
        hs = highspy()
        h = self._highs
        n = len(lo)
        h.changeColsBounds(n, np.arange(n, dtype=np.int32), lo, hi)
        if time_limit_s is not None:
            h.setOptionValue("time_limit", max(0.01, float(time_limit_s)))
        if ipm:
            h.setOptionValue("solver", "ipm")
        h.run()
        if time_limit_s is not None:
            h.setOptionValue("time_limit", hs.kHighsInf)
        if ipm:
            h.setOptionValue("solver", "choose")
        status = h.getModelStatus()
        if status == hs.HighsModelStatus.kTimeLimit:
            return None
        if status == hs.HighsModelStatus.kOptimal:
            x = np.asarray(h.getSolution().col_value)
            return float(h.getInfo().objective_function_value), x[: self.nb]
        if status == hs.HighsModelStatus.kInfeasible:
            return None
        self._highs = None  # anything odd: a fresh solve (and a new model next time)
        bounds = np.c_[lo, hi]
        res = linprog(self.obj, A_ub=self.A_ub, b_ub=self.b_ub, A_eq=self.A_eq, b_eq=self.b_eq,
                      bounds=bounds, method="highs")
        if res.status != 0:
            return None
        return float(res.fun), res.x[: self.nb]

    def canonical_rows(self) -> tuple[sp.csr_matrix, np.ndarray]:
        """Best-block (canonical assignment) rows ``y[b'] - sum_{b >=_k b'} x[k, b] <= 0``.

        Order the usable blocks of device ``k`` at a position by score, ties by local index
        (higher wins). The row says: if ``b'`` is selected, ``k`` uses a block at least as good
        as ``b'``. Every selection ``y`` keeps the assignment :meth:`assignment` (each device's
        best selected block, an integral assembly, so every deviation cut holds too), which
        satisfies these rows; so no feasible selection is lost. They change no LP bound (an LP
        may always move weight to better selected blocks) but leave a single ``x`` per ``y``:
        HiGHS no longer branches among equivalent assignments.
        """
        import scipy.sparse as sp
        rows: list[np.ndarray] = []
        cols: list[np.ndarray] = []
        vals: list[np.ndarray] = []
        pid = np.full((self.nb, self.Kc), -1)
        pid[self.pairs[:, 0], self.pairs[:, 1]] = np.arange(self.nx)
        r = 0
        for kk in range(self.Kc):
            for g in self.by_pos:
                gg = g[np.isfinite(self.S[g, kk])]
                if gg.size < 2:
                    continue
                sc = self.S[gg, kk]
                for bp in gg:
                    better = gg[(sc > self.S[bp, kk]) | ((sc == self.S[bp, kk]) & (gg >= bp))]
                    rows.append(np.full(len(better) + 1, r))
                    cols.append(np.r_[bp, self.nb + pid[better, kk]])
                    vals.append(np.r_[1.0, -np.ones(len(better))])
                    r += 1
        if not r:
            return sp.csr_matrix((0, self.nb + self.nx)), np.zeros(0)
        A = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                          shape=(r, self.nb + self.nx))
        return A, np.zeros(r)

    def _build_highs(self, canonical: bool = False) -> Any:
        """The component's LP as a ``highspy.Highs`` model (``canonical``: with the best-block rows)."""
        import scipy.sparse as sp
        hs = highspy()
        A_ub, b_ub = self.A_ub, self.b_ub
        if canonical:
            A_c, b_c = self.canonical_rows()
            A_ub, b_ub = sp.vstack([A_ub, A_c]).tocsr(), np.r_[b_ub, b_c]
        A = sp.vstack([self.A_eq, A_ub]).tocsc()
        lp = hs.HighsLp()
        lp.num_col_ = A.shape[1]
        lp.num_row_ = A.shape[0]
        lp.col_cost_ = self.obj
        lp.col_lower_ = np.zeros(A.shape[1])
        lp.col_upper_ = np.ones(A.shape[1])
        lp.row_lower_ = np.r_[self.b_eq, np.full(len(b_ub), -hs.kHighsInf)]
        lp.row_upper_ = np.r_[self.b_eq, b_ub]
        lp.a_matrix_.format_ = hs.MatrixFormat.kColwise
        lp.a_matrix_.start_ = A.indptr
        lp.a_matrix_.index_ = A.indices
        lp.a_matrix_.value_ = A.data
        h = quiet_highs(hs)
        h.setOptionValue("output_flag", False)
        h.setOptionValue("presolve", "off")
        h.passModel(lp)
        return h

    def round_up(self, yfrac: np.ndarray, lb: np.ndarray, ub: np.ndarray) -> np.ndarray | None:
        """Primal heuristic: add allowed blocks by decreasing LP value until feasible, then prune."""
        yb = (lb > 0.5).astype(float)
        order = np.argsort(-(yfrac + 1e-3 * np.isfinite(self.S).sum(axis=1) / max(1, self.Kc)), kind="stable")
        for b in order:
            if self.feasible(yb):
                break
            if ub[b] > 0.5 and yb[b] < 0.5:
                yb[b] = 1.0
        if not self.feasible(yb):
            return None
        # prune: drop blocks not forced, smallest LP value first
        for b in np.argsort(yfrac, kind="stable"):
            if yb[b] > 0.5 and lb[b] < 0.5:
                yb[b] = 0.0
                if not self.feasible(yb):
                    yb[b] = 1.0
        return yb


def quiet_highs(hs: Any) -> Any:
    """``hs.Highs()`` without its licence banner on standard output.

    highspy 1.16 prints the banner from C++ while constructing (before any option can be
    set), which would corrupt ``edgeinfer solve``'s JSON on stdout; file descriptor 1 is
    pointed at /dev/null for the construction only."""
    import ctypes
    import os
    import sys

    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # pragma: no cover - no fd 1
        return hs.Highs()
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        h = hs.Highs()
        try:
            ctypes.CDLL(None).fflush(None)
        except (OSError, AttributeError):  # pragma: no cover - libc without fflush
            pass
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)
    return h


def highspy() -> Any:
    """The ``highspy`` module (HiGHS' own bindings, a dependency), imported on first use."""
    import highspy as hs

    return hs
