# ruff: noqa: E741  (I is the paper's score tensor I_{i,n}^{(k)})
"""Parameter selection P2.1: the fewest blocks such that every device can assemble a
model meeting its QoS (architecture constraint C1, eq. 5; QoS C2, eq. 7).

Notation: ``I[i, n, k]`` scores, ``c[k]`` thresholds. A selection is a boolean array
``y[M, N]`` (block ``n`` of model ``i`` broadcast). Given ``y`` a device's best assembly
takes, at each position, the selected block with its highest score (eq. 6), so ``y`` is
feasible iff ``sum_n max_{i: y[i,n]} I[i,n,k] >= c[k]`` for every ``k`` and every
position has a selected block.

Algorithms:

* :func:`milp_select` -- the compact formulation (P2.1) handed to HiGHS
  (``scipy.optimize.milp``): the reference.
* :func:`greedy_select` -- Algorithm 1 (candidate model sets + greedy model selection)
  with our reuse metric replacing the missing eq. (9) (see :func:`reuse_metric`).
* :func:`bnb_select` -- Algorithm 2: after the structural reductions (:class:`Reduced`), a
  heuristic incumbent and valid cuts, each component is solved by branch and cut -- by
  default HiGHS' MILP (``highspy``) on the reduced model with our cuts, best-block rows and
  incumbent (``engine="highs"``), or our best-first tree over blocks (``y[b] = 1`` / ``0``)
  with LP bounds (``engine="tree"``).

Structure used by ``bnb`` (all exact, proofs in docs/broadcast.md):

1. *Usable blocks*: block ``b = (i, n)`` can appear in a feasible assembly of device
   ``k`` only if ``I[b, k] + sum_{n' != n} max_j I[j, n', k] >= c[k]``; otherwise ``x[k, b]``
   is fixed to 0. At a node the same test is re-run with only the blocks still allowed
   (pruning by the architecture constraint): a device with no allowed block at some
   position, or whose best allowed assembly misses its QoS, fathoms the node; a
   device with a single allowed block at a position forces that block (``y = 1``).
2. *Dominated blocks*: if block ``j`` scores at least as much as block ``i`` (same
   position) for every device that can use ``i``, every solution using ``i`` maps to
   one using ``j`` with no more blocks; ``i`` is dropped (ties keep the lower index, so
   of symmetric blocks only one survives -- one branch instead of many).
3. *Decomposition*: devices that can never share a usable block form independent
   sub-problems (e.g. task families); the optimum is the sum of their optima.
4. The objective is an integer: a node is fathomed when ``ceil(LP) >= incumbent``.
"""

from __future__ import annotations

import heapq
import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import scipy.sparse as sp

__all__ = [
    "ENGINES",
    "SelectionResult",
    "assembly_scores",
    "best_assembly",
    "is_feasible",
    "usable_mask",
    "Reduced",
    "reduce_problem",
    "milp_select",
    "greedy_select",
    "adaptive_greedy_select",
    "bnb_select",
    "prune_redundant",
    "reuse_metric",
]

_TOL = 1e-9
_MAX_CUTS_PER_DEVICE = 64
_BRANCH = "frac"  # most fractional y (fewest nodes in our trials; "strong", "high", "low")
_STRONG = 4
# engine "highs": declare the assignments x integer too (not needed for exactness, see bnb_select;
# in our trials HiGHS' cuts and branching on x close the hard 6 x 8 instances 2x faster)
_INTEGER_X = True
_CANONICAL = True  # engine "highs": best-block rows (one x per y, see _Component.canonical_rows)
# engine "highs", components with at least this many usable (device, block) pairs (21 x 24: 10,584;
# 12 x 12: 1,728; the 6 x 8 benchmark instances: <= 288): no deviation cuts in the MILP (they
# leave the root LP unchanged or nearly so there and triple the nonzeros) and an LP-rounding
# incumbent (root LP, then :meth:`_Component.round_up`) when it beats the greedy one; see
# docs/broadcast.md, "Large components". Sizes between 288 and 1,728 pairs were not measured.
_LARGE_PAIRS = 1500
#: the branch-and-bound engines of :func:`bnb_select`
ENGINES = ("highs", "tree")


@dataclass
class SelectionResult:
    """Outcome of a P2.1 solver.

    ``y``: selection ``(M, N)`` bool or ``None`` (none found); ``status``: ``optimal``,
    ``feasible``, ``time_limit`` or ``infeasible``; ``lower_bound``: proven bound on the
    number of blocks; ``stats``: counters.
    """

    y: np.ndarray | None
    status: str
    lower_bound: float
    stats: dict = field(default_factory=dict)

    @property
    def blocks(self) -> int | None:
        return None if self.y is None else int(self.y.sum())

    @property
    def gap(self) -> float | None:
        if self.y is None:
            return None
        b = int(self.y.sum())
        return 0.0 if b == 0 else max(0.0, (b - self.lower_bound) / b)


def _qtol(c: np.ndarray) -> np.ndarray:
    return _TOL * np.maximum(1.0, np.abs(c))


def best_assembly(I: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Each device's highest-scoring selected block per position: model index ``(K, N)``; -1 if none."""
    M, N, K = I.shape
    masked = np.where(y[:, :, None], I, -np.inf)
    arg = masked.argmax(axis=0)  # (N, K)
    has = np.asarray(y.any(axis=0))  # (N,)
    arg = np.where(has[:, None], arg, -1)
    return arg.T.copy()


def assembly_scores(I: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Best assembled score of every device given ``y`` (``-inf`` if a position is empty)."""
    masked = np.where(y[:, :, None], I, -np.inf)
    return masked.max(axis=0).sum(axis=0)


def is_feasible(I: np.ndarray, c: np.ndarray, y: np.ndarray) -> bool:
    return bool(np.all(assembly_scores(I, y) >= c - _qtol(c)))


def usable_mask(I: np.ndarray, c: np.ndarray, allowed: np.ndarray | None = None) -> np.ndarray:
    """``U[i, n, k]``: block ``(i, n)`` can be in a feasible assembly of device ``k`` using only
    ``allowed`` blocks (default: all)."""
    if allowed is None:
        masked = I
    else:
        masked = np.where(allowed[:, :, None], I, -np.inf)
    best_n = masked.max(axis=0)  # (N, K)
    total = best_n.sum(axis=0)  # (K,)
    need = c[None, None, :] - _qtol(c)[None, None, :] - (total[None, None, :] - best_n[None, :, :])
    U = masked >= need
    if allowed is not None:
        U &= allowed[:, :, None]
    return U


def prune_redundant(I: np.ndarray, c: np.ndarray, y: np.ndarray, order: np.ndarray | None = None) -> np.ndarray:
    """Drop selected blocks one at a time (in ``order``, default: least-used first) while feasible."""
    y = y.copy()
    blocks = np.argwhere(y)
    if order is None:
        asm = best_assembly(I, y)
        use = np.zeros(y.shape, dtype=int)
        K, N = asm.shape
        for k in range(K):
            for n in range(N):
                if asm[k, n] >= 0:
                    use[asm[k, n], n] += 1
        keys = [(use[i, n], I[i, n].sum()) for i, n in blocks]
        blocks = blocks[sorted(range(len(blocks)), key=lambda j: keys[j])]
    else:
        blocks = blocks[order]
    for i, n in blocks:
        y[i, n] = False
        if not (y[:, n].any() and is_feasible(I, c, y)):
            y[i, n] = True
    return y


# --------------------------------------------------------------------------- reductions
@dataclass
class Reduced:
    """P2.1 after removing unusable and dominated blocks, split into independent components.

    ``keep[i, n]``: the block survives; ``U[i, n, k]``: usable mask (on kept blocks);
    ``components``: list of device-index arrays; ``infeasible``: index of a device that
    cannot reach its QoS (or ``None``).
    """

    keep: np.ndarray
    U: np.ndarray
    components: list[np.ndarray]
    infeasible: int | None
    removed_dominated: int
    removed_unusable: int


def reduce_problem(I: np.ndarray, c: np.ndarray) -> Reduced:
    M, N, K = I.shape
    best = I.max(axis=0).sum(axis=0)
    bad = np.flatnonzero(best < c - _qtol(c))
    if bad.size:
        return Reduced(np.zeros((M, N), bool), np.zeros((M, N, K), bool), [], int(bad[0]), 0, 0)
    U = usable_mask(I, c)
    keep = np.asarray(U.any(axis=2))
    removed_unusable = int((~keep).sum())
    removed_dom = 0
    for n in range(N):
        cand = [i for i in range(M) if keep[i, n]]
        cand.sort(key=lambda i: (-int(U[i, n].sum()), -float(I[i, n][U[i, n]].sum()), i))
        kept: list[int] = []
        for i in cand:
            u = U[i, n]
            dominated = any(np.all(I[j, n, u] >= I[i, n, u]) for j in kept)
            if dominated:
                keep[i, n] = False
                removed_dom += 1
            else:
                kept.append(i)
    U &= keep[:, :, None]
    # components: union-find over devices sharing a usable block
    parent = list(range(K))

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for i, n in np.argwhere(keep):
        ks = np.flatnonzero(U[i, n])
        for k in ks[1:]:
            ra, rb = find(int(ks[0])), find(int(k))
            if ra != rb:
                parent[rb] = ra
    roots: dict[int, list[int]] = {}
    for k in range(K):
        roots.setdefault(find(k), []).append(k)
    comps = [np.array(v) for v in roots.values()]
    return Reduced(keep, U, comps, None, removed_dom, removed_unusable)


# --------------------------------------------------------------------------- MILP reference
def _compact_matrices(I: np.ndarray, c: np.ndarray, U: np.ndarray | None):
    """Variables: y[b] for blocks ``blocks`` then x[k, b] for usable pairs. Returns the LP data."""
    import scipy.sparse as sp
    M, N, K = I.shape
    if U is None:
        U = np.ones((M, N, K), bool)
    blocks = np.argwhere(U.any(axis=2))  # (nb, 2)
    bidx = {(int(i), int(n)): j for j, (i, n) in enumerate(blocks)}
    pairs = [(int(k), bidx[(int(i), int(n))]) for i, n, k in np.argwhere(U)]
    nb, nx = len(blocks), len(pairs)
    rows_eq, cols_eq = [], []
    rows_q, cols_q, vals_q = [], [], []
    rows_l, cols_l, vals_l = [], [], []
    for j, (k, b) in enumerate(pairs):
        n = int(blocks[b, 1])
        rows_eq.append(k * N + n)
        cols_eq.append(nb + j)
        rows_q.append(k)
        cols_q.append(nb + j)
        vals_q.append(float(I[blocks[b, 0], n, k]))
        rows_l += [j, j]
        cols_l += [nb + j, b]
        vals_l += [1.0, -1.0]
    nv = nb + nx
    A_eq = sp.csr_matrix((np.ones(nx), (rows_eq, cols_eq)), shape=(K * N, nv))
    A_q = sp.csr_matrix((vals_q, (rows_q, cols_q)), shape=(K, nv))
    A_l = sp.csr_matrix((vals_l, (rows_l, cols_l)), shape=(nx, nv))
    obj = np.concatenate([np.ones(nb), np.zeros(nx)])
    return blocks, pairs, obj, A_eq, A_q, A_l


def milp_select(I: np.ndarray, c: np.ndarray, *, time_limit_s: float | None = None,
                reduce: bool = False) -> SelectionResult:
    """P2.1 with HiGHS (``scipy.optimize.milp``) on the compact formulation.

    With ``reduce=False`` (the reference) every ``x[k, i, n]`` is a variable; with
    ``reduce=True`` only usable, undominated pairs are.
    """
    from scipy.optimize import Bounds, LinearConstraint, milp
    M, N, K = I.shape
    t0 = time.perf_counter()
    best = I.max(axis=0).sum(axis=0)
    bad = np.flatnonzero(best < c - _qtol(c))
    if bad.size:
        return SelectionResult(None, "infeasible", math.inf, {"infeasible_device": int(bad[0])})
    U = reduce_problem(I, c).U if reduce else None
    blocks, pairs, obj, A_eq, A_q, A_l = _compact_matrices(I, c, U)
    cons = [LinearConstraint(A_eq, 1.0, 1.0), LinearConstraint(A_q, c, np.inf),
            LinearConstraint(A_l, -np.inf, 0.0)]
    opts: dict = {"disp": False}
    if time_limit_s is not None:
        opts["time_limit"] = float(time_limit_s)
    res = milp(obj, constraints=cons, integrality=np.ones(len(obj)), bounds=Bounds(0, 1), options=opts)
    stats = {"nodes": int(getattr(res, "mip_node_count", 0) or 0), "time_s": time.perf_counter() - t0,
             "variables": len(obj)}
    lb = float(getattr(res, "mip_dual_bound", math.nan) or math.nan)
    if res.x is None:
        status = "infeasible" if res.status == 2 else "time_limit"
        return SelectionResult(None, status, lb if math.isfinite(lb) else 0.0, stats)
    y = np.zeros((M, N), bool)
    sel = np.round(res.x[: len(blocks)]) > 0.5
    for (i, n), s in zip(blocks, sel):
        y[i, n] = s
    y = prune_redundant(I, c, y)  # removes blocks HiGHS left on without users (never needed at optimum)
    status = "optimal" if res.status == 0 else "time_limit"
    if status == "optimal":
        lb = float(y.sum())
    return SelectionResult(y, status, math.ceil(lb - 1e-6) if math.isfinite(lb) else 0.0, stats)


# --------------------------------------------------------------------------- greedy (Alg. 1)
def candidate_models(I: np.ndarray, c: np.ndarray, own: np.ndarray, k: int) -> list[np.ndarray]:
    """Alg. 1, candidate listing for device ``k``: seed = its task-specific model; then the
    blocks of the seed are replaced one at a time, in decreasing order of their score for
    task ``k``, by the best-scoring block of another model at the same position, as long
    as the model still meets the QoS. Each candidate is a model index per position."""
    M, N, _ = I.shape
    i0 = int(own[k])
    cur = np.full(N, i0)
    cands: list[np.ndarray] = []
    if I[cur, np.arange(N), k].sum() >= c[k] - _qtol(c[k]):
        cands.append(cur.copy())
    else:  # the seed misses its QoS: start from the best assembly of the whole library
        cur = I[:, :, k].argmax(axis=0)
        if I[cur, np.arange(N), k].sum() >= c[k] - _qtol(c[k]):
            cands.append(cur.copy())
        return cands
    if M == 1:
        return cands
    order = np.argsort(-I[i0, :, k], kind="stable")
    others = I[:, :, k].copy()
    others[i0, :] = -np.inf
    repl = others.argmax(axis=0)
    for n in order:
        cur = cur.copy()
        cur[n] = repl[n]
        if I[cur, np.arange(N), k].sum() >= c[k] - _qtol(c[k]):
            cands.append(cur)
        else:
            break
    return cands


def reuse_metric(cand: np.ndarray, selected: np.ndarray, reuse: np.ndarray) -> float:
    """Our eq. (9): ``m(C | S) = |C ∩ S| + sum_{b in C \\ S} r_b / (N (K + 1))``.

    ``|C ∩ S|`` counts the candidate's blocks already selected (no new broadcast);
    ``r_b`` is the number of devices still to be served that could use block ``b`` in a
    feasible assembly, so among candidates adding the same number of new blocks the one
    whose new blocks are most reusable by later devices wins. The second term is below 1,
    so the metric is lexicographic: fewest new blocks first.
    """
    N = len(cand)
    pos = np.arange(N)
    hit = selected[cand, pos]
    K1 = reuse.max(initial=0) + 1
    return float(hit.sum() + reuse[cand[~hit], pos[~hit]].sum() / (N * (K1 + 1)))


def greedy_select(I: np.ndarray, c: np.ndarray, own: np.ndarray, *, order: str = "constrained") -> SelectionResult:
    """Algorithm 1 with our metric (:func:`reuse_metric`), then redundant-block removal.

    ``order``: ``"index"`` serves devices in index order (the paper); ``"constrained"``
    (default) serves devices with the fewest candidates first.
    """
    M, N, K = I.shape
    t0 = time.perf_counter()
    cands = [candidate_models(I, c, own, k) for k in range(K)]
    for k in range(K):
        if not cands[k]:
            return SelectionResult(None, "infeasible", math.inf, {"infeasible_device": k})
    U = usable_mask(I, c)
    seq = list(range(K)) if order == "index" else sorted(range(K), key=lambda k: (len(cands[k]), k))
    selected = np.zeros((M, N), bool)
    remaining = np.ones(K, bool)
    for k in seq:
        remaining[k] = False
        reuse = U[:, :, remaining].sum(axis=2)
        scores = [reuse_metric(cd, selected, reuse) for cd in cands[k]]
        best = cands[k][int(np.argmax(scores))]
        selected[best, np.arange(N)] = True
    before = int(selected.sum())
    y = prune_redundant(I, c, selected)
    return SelectionResult(y, "feasible", 0.0, {"candidates": [len(x) for x in cands],
                                                "blocks_before_pruning": before,
                                                "time_s": time.perf_counter() - t0})


def _fit_device(I: np.ndarray, c: np.ndarray, k: int, sel: np.ndarray, reuse: np.ndarray) -> np.ndarray:
    """Assembly of device ``k`` with the fewest blocks outside ``sel`` (exact for that count).

    Positions where ``sel`` has nothing usable take a new block; then, while the QoS is
    missed, the position with the largest score gain from a new block switches to it. Each
    new block is the device's best-scoring one, ties broken by ``reuse``."""
    M, N, _ = I.shape
    sel_scores = np.where(sel, I[:, :, k], -np.inf)
    fi, f = sel_scores.argmax(axis=0), sel_scores.max(axis=0)
    gi = (I[:, :, k] + 1e-6 * reuse).argmax(axis=0)
    g = I[gi, np.arange(N), k]
    fixed = ~np.isfinite(f)
    choice = np.where(fixed, gi, fi)
    total = float(np.where(fixed, g, f).sum())
    gain = np.where(fixed, -np.inf, g - np.where(fixed, 0.0, f))
    for n in np.argsort(-gain, kind="stable"):
        if total >= c[k] - _qtol(c[k]) or not gain[n] > 0:
            break
        total += float(gain[n])
        choice[n] = gi[n]
    return choice


def adaptive_greedy_select(I: np.ndarray, c: np.ndarray, *, rounds: int = 5) -> SelectionResult:
    """Our variant of Alg. 1 (``--param variant=adaptive``): candidates built against the
    current selection instead of beforehand.

    Devices (fewest usable blocks first) each take the assembly with the fewest blocks not yet
    selected (:func:`_fit_device`); then rounds of re-fitting each device against the blocks the
    others use, kept when the total does not grow; finally redundant blocks are dropped."""
    M, N, K = I.shape
    t0 = time.perf_counter()
    best_all = I.max(axis=0).sum(axis=0)
    bad = np.flatnonzero(best_all < c - _qtol(c))
    if bad.size:
        return SelectionResult(None, "infeasible", math.inf, {"infeasible_device": int(bad[0])})
    U = usable_mask(I, c)
    seq = sorted(range(K), key=lambda k: (int(U[:, :, k].sum()), k))
    pos = np.arange(N)
    asg: dict[int, np.ndarray] = {}
    sel = np.zeros((M, N), bool)
    for idx, k in enumerate(seq):
        rest = np.array(seq[idx + 1:], dtype=int)
        reuse = U[:, :, rest].sum(axis=2) if rest.size else np.zeros((M, N))
        asg[k] = _fit_device(I, c, k, sel, reuse)
        sel[asg[k], pos] = True
    count = int(sel.sum())
    reuse_all = U.sum(axis=2)
    for _ in range(rounds):
        improved = False
        for k in seq:
            others = np.zeros((M, N), bool)
            for kk, ch in asg.items():
                if kk != k:
                    others[ch, pos] = True
            ch = _fit_device(I, c, k, others, reuse_all)
            others[ch, pos] = True
            if int(others.sum()) <= count:
                improved |= int(others.sum()) < count
                asg[k], count = ch, int(others.sum())
        if not improved:
            break
    sel = np.zeros((M, N), bool)
    for ch in asg.values():
        sel[ch, pos] = True
    y = prune_redundant(I, c, sel)
    return SelectionResult(y, "feasible", 0.0, {"time_s": time.perf_counter() - t0, "variant": "adaptive"})


# --------------------------------------------------------------------------- branch and bound (Alg. 2)
class _Component:
    """LP data of one independent component (devices ``devs``, blocks ``blocks``)."""

    def __init__(self, I: np.ndarray, c: np.ndarray, U: np.ndarray, devs: np.ndarray,
                 max_cuts: int | None = None):
        import scipy.sparse as sp
        self.max_cuts = _MAX_CUTS_PER_DEVICE if max_cuts is None else max_cuts  # thresholds per device
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
        # drop empty rows (positions a device cannot cover are caught by feasibility checks)
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
        self._highs = None
        self.starts = np.array([g[0] for g in self.by_pos])
        self._ar = np.arange(self.nb)
        self.node_dominance = False  # node-level dominance: valid, but rarely fires on random libraries (slower)

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
        return bool(np.all(best >= self.cc - _qtol(self.cc)))

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
            if np.any(total < self.cc - _qtol(self.cc)):
                return False, lb, ub, np.zeros_like(S, bool)
            need = self.cc - _qtol(self.cc) - (total[None, :] - best_n[self.pos])  # (nb, Kc)
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

    def lp(self, lb: np.ndarray, ub: np.ndarray, xmask: np.ndarray):
        """Node LP: ``(value, y)`` or ``None`` if infeasible. Uses a persistent HiGHS model
        (``highspy``, warm-started dual simplex after bound changes) when available, else
        ``scipy.optimize.linprog``."""
        from scipy.optimize import linprog
        xub = xmask[self.pairs[:, 0], self.pairs[:, 1]].astype(float)
        lo = np.r_[lb, np.zeros(self.nx)]
        hi = np.r_[ub, xub]
        if self._highs is None and _highspy() is not None:
            self._highs = self._build_highs()
        if self._highs is not None:
            h = self._highs
            n = len(lo)
            h.changeColsBounds(n, np.arange(n, dtype=np.int32), lo, hi)
            h.run()
            status = h.getModelStatus()
            if status != _highspy().HighsModelStatus.kOptimal:
                if status == _highspy().HighsModelStatus.kInfeasible:
                    return None
                self._highs = None  # anything odd: fall back to a fresh solve
            else:
                x = np.asarray(h.getSolution().col_value)
                return float(h.getInfo().objective_function_value), x[: self.nb]
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

    def _build_highs(self, canonical: bool = False):
        import scipy.sparse as sp
        hs = _highspy()
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
        h = _quiet_highs(hs)
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


def _quiet_highs(hs):
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


def _highspy():
    """The ``highspy`` module (HiGHS' own bindings) if installed, else ``None``."""
    global _HIGHSPY
    if _HIGHSPY is None:
        try:
            import highspy

            _HIGHSPY = highspy
        except ImportError:  # pragma: no cover - optional
            _HIGHSPY = False
    return _HIGHSPY or None


_HIGHSPY = None


def bnb_select(I: np.ndarray, c: np.ndarray, own: np.ndarray, *, time_limit_s: float | None = None,
               node_limit: int | None = None, node_dominance: bool = False,
               engine: str = "highs") -> SelectionResult:
    """Algorithm 2: exact P2.1 by branch and bound (see the module docstring).

    Both engines share the reductions, the decomposition into components, the heuristic
    incumbent (the better of the two greedy variants) and the deviation cuts.

    * ``engine="highs"`` (default): each component is handed to HiGHS' MILP branch and cut
      (``highspy``) as the *reduced* compact model -- only usable, undominated blocks and
      pairs -- plus the deviation cuts, with the heuristic incumbent as a starting solution.
      ``y`` and ``x`` are declared integer (``_INTEGER_X``); declaring only ``y`` would also be
      exact: for an integral ``y`` the assignment LP of each device
      (one unit per position over its selected usable blocks, score row ``>= c_k``) is
      feasible iff the device's best assembly meets its QoS (the score of any fractional
      assignment is at most that of the best one), and that best assembly is integral and
      satisfies every deviation cut, so the integer ``y`` feasible for the MILP are exactly
      the feasible selections. The objective is an integer, so a dual bound above
      ``incumbent - 1`` proves optimality (``mip_abs_gap`` 0.999).
      Components with at least ``_LARGE_PAIRS`` usable pairs get no deviation cuts (valid
      rows, so omitting them cannot cut off a solution; at 21 x 24 they leave the root LP
      unchanged) and an LP-rounding start (:func:`_lp_round`, a feasible selection).
    * ``engine="tree"``: our best-first tree (LP bounds by warm-started dual simplex,
      most-fractional branching, propagation, rounding heuristic).

    With a time (or node) limit the incumbent is returned with status ``time_limit`` and the
    proven lower bound (sum over components of their proven bounds).
    """
    if engine not in ENGINES:
        raise ValueError(f"unknown bnb engine {engine!r}; use {' or '.join(ENGINES)}")
    if engine == "highs" and _highspy() is None:  # pragma: no cover - highspy is a dependency
        engine = "tree"
    M, N, K = I.shape
    t0 = time.perf_counter()
    deadline = math.inf if time_limit_s is None else t0 + time_limit_s
    red = reduce_problem(I, c)
    if red.infeasible is not None:
        return SelectionResult(None, "infeasible", math.inf, {"infeasible_device": red.infeasible})
    greedy = greedy_select(I, c, own)
    adaptive = adaptive_greedy_select(I, c)
    if adaptive.y is not None and (greedy.y is None or int(adaptive.y.sum()) < int(greedy.y.sum())):
        greedy = adaptive  # the better of the two heuristics seeds the incumbent
    y_total = np.zeros((M, N), bool)
    lb_total = 0.0
    stats: dict = {"components": len(red.components), "removed_dominated": red.removed_dominated,
             "removed_unusable": red.removed_unusable, "nodes": 0, "lps": 0,
             "greedy_blocks": greedy.blocks}
    status = "optimal"
    comps = sorted(red.components, key=len)
    for devs in comps:
        large = engine == "highs" and int(red.U[:, :, devs].sum()) >= _LARGE_PAIRS
        comp = _Component(I, c, red.U, devs, max_cuts=0 if large else None)
        comp.node_dominance = node_dominance
        if engine == "highs":
            yb, lb, st = _highs_component(comp, greedy.y, deadline, node_limit, large=large)
        else:
            yb, lb, st = _bnb_component(comp, greedy.y, deadline, node_limit)
        stats["nodes"] += st["nodes"]
        stats["lps"] += st["lps"]
        if st["status"] != "optimal":
            status = "time_limit"
        y_total |= comp.y_full(yb)
        lb_total += lb
    y_total = prune_redundant(I, c, y_total)
    if status == "optimal":
        lb_total = float(y_total.sum())
    stats["time_s"] = time.perf_counter() - t0
    stats["engine"] = engine
    return SelectionResult(y_total, status, lb_total, stats)


def _bnb_component(comp: _Component, y_greedy: np.ndarray | None, deadline: float,
                   node_limit: int | None) -> tuple[np.ndarray, float, dict]:
    nb = comp.nb
    st: dict = {"nodes": 0, "lps": 0, "status": "optimal"}
    inc_val, inc = math.inf, None
    # greedy incumbent: its blocks for these devices, mapped onto kept (undominated) blocks
    if y_greedy is not None:
        yb = _map_to_component(comp, y_greedy)
        if yb is not None:
            inc_val, inc = float(yb.sum()), yb
    lb0, ub0 = np.zeros(nb), np.ones(nb)
    ok, lb0, ub0, xm = comp.propagate(lb0, ub0)
    if not ok:  # cannot happen after reduce_problem's feasibility check
        raise ArithmeticError("component infeasible after reduction")
    heap: list = []
    counter = 0

    def evaluate(lb: np.ndarray, ub: np.ndarray, depth: int) -> None:
        nonlocal inc_val, inc, counter
        ok, lb, ub, xm = comp.propagate(lb, ub)
        if not ok:
            return
        if float(lb.sum()) >= inc_val - 0.5 and inc is not None:
            return
        out = comp.lp(lb, ub, xm)
        st["lps"] += 1
        if out is None:
            return
        val, yf = out
        bound = math.ceil(val - 1e-6)
        if bound >= inc_val:
            return
        frac = np.abs(yf - np.round(yf))
        if frac.max() < 1e-6:
            yb = np.round(yf)
            if comp.feasible(yb):
                v = float(yb.sum())
                if v < inc_val:
                    inc_val, inc = v, yb
                return
        yb = comp.round_up(yf, lb, ub) if (st["lps"] <= 50 or st["lps"] % 10 == 0) else None
        if yb is not None and yb.sum() < inc_val:
            inc_val, inc = float(yb.sum()), yb
        if bound >= inc_val:
            return
        # branch on the fractional block closest to 1 (dive towards integral selections)
        cand = np.flatnonzero(frac > 1e-6)
        if _BRANCH == "strong" and len(cand) > 1:
            top = cand[np.argsort(np.abs(yf[cand] - 0.5), kind="stable")[:_STRONG]]
            best_score, b = -math.inf, int(top[0])
            for bb in top:
                vals = []
                for fix in (1.0, 0.0):
                    l2, u2 = lb.copy(), ub.copy()
                    if fix:
                        l2[bb] = 1.0
                    else:
                        u2[bb] = 0.0
                    o = comp.lp(l2, u2, xm)
                    st["lps"] += 1
                    vals.append(math.inf if o is None else o[0])
                sc = min(vals) + 1e-3 * max(min(v, 1e9) for v in vals)
                if sc > best_score:
                    best_score, b = sc, int(bb)
        elif _BRANCH == "frac":
            b = int(cand[np.argmax(-np.abs(yf[cand] - 0.5))])
        elif _BRANCH == "low":
            b = int(cand[np.argmin(yf[cand])])
        else:
            b = int(cand[np.argmax(yf[cand])])
        counter += 1
        heapq.heappush(heap, (bound, -depth, counter, lb, ub, b))

    evaluate(lb0, ub0, 0)
    while heap:
        if time.perf_counter() > deadline or (node_limit is not None and st["nodes"] >= node_limit):
            st["status"] = "time_limit"
            break
        bound, negd, _, lb, ub, b = heapq.heappop(heap)
        if bound >= inc_val:
            continue
        st["nodes"] += 1
        lb1 = lb.copy()
        lb1[b] = 1.0
        evaluate(lb1, ub, -negd + 1)
        ub0_ = ub.copy()
        ub0_[b] = 0.0
        evaluate(lb, ub0_, -negd + 1)
    if st["status"] == "optimal":
        lower = inc_val
    else:
        lower = min([h[0] for h in heap] + [inc_val])
    if inc is None:  # no incumbent found in time: round every kept block (feasible) down
        inc = comp.round_up(np.ones(nb) * 0.5, np.zeros(nb), np.ones(nb))
    if inc is None:  # cannot happen: every kept block together is feasible
        inc = np.ones(nb)
    return inc, float(lower), st


def _highs_component(comp: _Component, y_greedy: np.ndarray | None, deadline: float,
                     node_limit: int | None, *, large: bool = False) -> tuple[np.ndarray, float, dict]:
    """One component by HiGHS MILP on the reduced model with deviation cuts (``y`` integer);
    ``large`` (at least ``_LARGE_PAIRS`` usable pairs, decided once in :func:`bnb_select`) adds
    the LP-rounding start."""
    hs = _highspy()
    st: dict = {"nodes": 0, "lps": 0, "status": "optimal"}
    nb = comp.nb
    inc = _map_to_component(comp, y_greedy) if y_greedy is not None else None
    if inc is None:
        inc = comp.round_up(np.full(nb, 0.5), np.zeros(nb), np.ones(nb))
    if inc is None:  # cannot happen: every kept block together is feasible
        inc = np.ones(nb)
    # a single block per position (the fewest possible) needs no search
    if float(inc.sum()) <= comp.N:
        return inc, float(inc.sum()), st
    if large and time.perf_counter() < deadline:
        yr = _lp_round(comp)
        if yr is not None and yr.sum() < inc.sum():
            inc = yr
            st["lp_round_blocks"] = int(yr.sum())
    h = comp._build_highs(canonical=_CANONICAL)
    h.setOptionValue("presolve", "on")
    h.setOptionValue("mip_abs_gap", 0.999)  # integral objective
    h.setOptionValue("mip_rel_gap", 0.0)
    if math.isfinite(deadline):
        h.setOptionValue("time_limit", max(0.01, deadline - time.perf_counter()))
    if node_limit is not None:
        h.setOptionValue("mip_max_nodes", int(node_limit))
    ni = nb + (comp.nx if _INTEGER_X else 0)
    h.changeColsIntegrality(ni, np.arange(ni, dtype=np.int32), np.full(ni, hs.HighsVarType.kInteger))
    sol = hs.HighsSolution()
    sol.col_value = np.r_[inc, comp.assignment(inc)].tolist()
    sol.value_valid = True
    h.setSolution(sol)
    h.run()
    status = h.getModelStatus()
    info = h.getInfo()
    st["nodes"] = int(info.mip_node_count)
    yb = inc
    if info.primal_solution_status == 2:  # kSolutionStatusFeasible
        cand = np.round(np.asarray(h.getSolution().col_value)[:nb])
        if comp.feasible(cand):
            pruned = comp.round_up(cand, np.zeros(nb), cand.copy())  # drop blocks nobody needs
            if pruned is not None and pruned.sum() <= yb.sum():
                yb = pruned
    if status == hs.HighsModelStatus.kOptimal:
        lower = float(yb.sum())
    else:
        st["status"] = "time_limit"
        bound = float(info.mip_dual_bound)
        if not math.isfinite(bound):  # stopped before HiGHS had a bound: the root LP's
            lb0, ub0 = np.zeros(nb), np.ones(nb)
            ok, lb0, ub0, xm = comp.propagate(lb0, ub0)
            out = comp.lp(lb0, ub0, xm) if ok else None
            bound = out[0] if out is not None else float(comp.N)
        lower = float(math.ceil(bound - 1e-6))
        lower = min(max(lower, float(comp.N)), float(yb.sum()))
    return yb, lower, st


def _lp_round(comp: _Component) -> np.ndarray | None:
    """Primal heuristic for large components: the root LP's ``y`` rounded by
    :meth:`_Component.round_up` (blocks by decreasing LP value until every device meets its QoS,
    then redundant ones dropped). Only a starting solution: exactness is untouched."""
    nb = comp.nb
    ok, lb, ub, xm = comp.propagate(np.zeros(nb), np.ones(nb))
    out = comp.lp(lb, ub, xm) if ok else None
    comp._highs = None  # free the LP model before the MILP is built
    if out is None:
        return None
    return comp.round_up(out[1], lb, ub)


def _map_to_component(comp: _Component, y: np.ndarray) -> np.ndarray | None:
    """Greedy's selection restricted to the component: each device's chosen block replaced by a
    kept block at the same position that scores at least as much for it (exists by dominance)."""
    asm = best_assembly(comp.I, y)  # (K, N)
    yb = np.zeros(comp.nb)
    for kk, k in enumerate(comp.devs):
        for n in range(comp.N):
            i = asm[k, n]
            g = comp.by_pos[n]
            s = comp.I[i, n, k]
            # prefer the identical block if kept, else a kept block at least as good
            exact = g[comp.blocks[g, 0] == i]
            if exact.size and np.isfinite(comp.S[exact[0], kk]):
                yb[exact[0]] = 1.0
                continue
            ok = g[comp.S[g, kk] >= s - 1e-12]
            if ok.size == 0:
                return None
            already = ok[yb[ok] > 0.5]
            yb[already[0] if already.size else ok[np.argmax(comp.S[ok, kk])]] = 1.0
    if not comp.feasible(yb):
        return None
    return comp.round_up(yb, np.zeros(comp.nb), yb.copy())
