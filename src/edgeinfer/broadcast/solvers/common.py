# ruff: noqa: E741  (I is the paper's score tensor I_{i,n}^{(k)})
"""Parameter selection P2.1, shared by every selection solver: the fewest blocks such that
every device can assemble a model meeting its QoS (C1, eq. 5; C2, eq. 7).

Notation: ``I[i, n, k]`` scores, ``c[k]`` thresholds. A selection is a boolean array
``y[M, N]`` (block ``n`` of model ``i`` broadcast). Given ``y`` a device's best assembly
takes, at each position, the selected block with its highest score (eq. 6), so ``y`` is
feasible iff ``sum_n max_{i: y[i,n]} I[i,n,k] >= c[k]`` for every ``k`` and every position
has a selected block (:func:`edgeinfer.broadcast.model.is_feasible`).

The exact reductions (proofs in docs/broadcast.md, §3), used by ``bnb``, ``milp``
(``reduce=true``) and ``latency``:

1. *Usable blocks* (:func:`usable_mask`): block ``b = (i, n)`` can appear in a feasible
   assembly of device ``k`` only if ``I[b, k] + sum_{n' != n} max_j I[j, n', k] >= c[k]``.
2. *Dominated blocks*: if block ``j`` scores at least as much as block ``i`` (same
   position) for every device that can use ``i``, every solution using ``i`` maps to one
   using ``j`` with no more blocks; ``i`` is dropped (ties keep the lower index).
3. *Decomposition*: devices that can never share a usable block form independent
   sub-problems (e.g. task families); the optimum is the sum of their optima.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from edgeinfer.broadcast.model import best_assembly, is_feasible, qos_tol

__all__ = ["SelectionResult", "usable_mask", "prune_redundant", "Reduced", "reduce_problem",
           "infeasible_device"]


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
        """Relative gap of the block count to :attr:`lower_bound`."""
        if self.y is None:
            return None
        b = int(self.y.sum())
        return 0.0 if b == 0 else max(0.0, (b - self.lower_bound) / b)


def infeasible_device(I: np.ndarray, c: np.ndarray) -> int | None:
    """A device whose best assembly from the whole library misses its QoS, or ``None``."""
    best = I.max(axis=0).sum(axis=0)
    bad = np.flatnonzero(best < c - qos_tol(c))
    return int(bad[0]) if bad.size else None


def usable_mask(I: np.ndarray, c: np.ndarray, allowed: np.ndarray | None = None) -> np.ndarray:
    """``U[i, n, k]``: block ``(i, n)`` can be in a feasible assembly of device ``k`` using only
    ``allowed`` blocks (default: all)."""
    if allowed is None:
        masked = I
    else:
        masked = np.where(allowed[:, :, None], I, -np.inf)
    best_n = masked.max(axis=0)  # (N, K)
    total = best_n.sum(axis=0)  # (K,)
    need = c[None, None, :] - np.asarray(qos_tol(c))[None, None, :] - (total[None, None, :] - best_n[None, :, :])
    U = masked >= need
    if allowed is not None:
        U &= allowed[:, :, None]
    return U


def prune_redundant(I: np.ndarray, c: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Drop selected blocks one at a time (least-used first, then lowest total score) while
    every device stays feasible."""
    y = y.copy()
    blocks = np.argwhere(y)
    asm = best_assembly(I, y)
    use = np.zeros(y.shape, dtype=int)
    K, N = asm.shape
    for k in range(K):
        for n in range(N):
            if asm[k, n] >= 0:
                use[asm[k, n], n] += 1
    keys = [(use[i, n], I[i, n].sum()) for i, n in blocks]
    blocks = blocks[sorted(range(len(blocks)), key=lambda j: keys[j])]
    for i, n in blocks:
        y[i, n] = False
        if not (y[:, n].any() and is_feasible(I, c, y)):
            y[i, n] = True
    return y


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
    """Reductions 1-3 of the module docstring."""
    M, N, K = I.shape
    bad = infeasible_device(I, c)
    if bad is not None:
        return Reduced(np.zeros((M, N), bool), np.zeros((M, N, K), bool), [], bad, 0, 0)
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
