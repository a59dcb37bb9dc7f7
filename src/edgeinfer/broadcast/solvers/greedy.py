# ruff: noqa: E741  (I is the paper's score tensor I_{i,n}^{(k)})
"""``greedy``: Algorithm 1 (candidate model sets + greedy model selection) with our reuse
metric replacing the missing eq. (9) (:func:`reuse_metric`, docs/broadcast.md §2.2-2.3), and
our adaptive variant (``variant=adaptive``: candidates built against the current selection).
Both end by dropping redundant blocks; then power control (P3.1)."""

from __future__ import annotations

import math
import time

import numpy as np

from edgeinfer.broadcast.model import qos_tol
from edgeinfer.broadcast.problem import PROBLEM, MBAInstance, MBASolution
from edgeinfer.broadcast.solvers.common import (
    SelectionResult,
    infeasible_device,
    prune_redundant,
    usable_mask,
)
from edgeinfer.broadcast.solvers.plan import POWER, solution_from_selection
from edgeinfer.core.options import Param
from edgeinfer.core.registry import register_solver
from edgeinfer.core.solution import SolveOptions

__all__ = ["ORDERS", "VARIANTS", "candidate_models", "reuse_metric", "greedy_select", "adaptive_greedy_select"]

#: device orders of Alg. 1: fewest candidates first (ours, the default) or index order (the paper)
ORDERS = ("constrained", "index")
#: ``paper``: Alg. 1; ``adaptive``: our variant (:func:`adaptive_greedy_select`)
VARIANTS = ("paper", "adaptive")
#: re-fitting rounds of the adaptive variant
ADAPTIVE_ROUNDS = 5


def candidate_models(I: np.ndarray, c: np.ndarray, own: np.ndarray, k: int) -> list[np.ndarray]:
    """Alg. 1, candidate listing for device ``k``: seed = its task-specific model; then the
    blocks of the seed are replaced one at a time, in decreasing order of their score for
    task ``k``, by the best-scoring block of another model at the same position, as long
    as the model still meets the QoS. Each candidate is a model index per position."""
    M, N, _ = I.shape
    i0 = int(own[k])
    cur = np.full(N, i0)
    cands: list[np.ndarray] = []
    if I[cur, np.arange(N), k].sum() >= c[k] - qos_tol(c[k]):
        cands.append(cur.copy())
    else:  # the seed misses its QoS: start from the best assembly of the whole library
        cur = I[:, :, k].argmax(axis=0)
        if I[cur, np.arange(N), k].sum() >= c[k] - qos_tol(c[k]):
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
        if I[cur, np.arange(N), k].sum() >= c[k] - qos_tol(c[k]):
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


def greedy_select(I: np.ndarray, c: np.ndarray, own: np.ndarray, *, order: str = ORDERS[0]) -> SelectionResult:
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
        if total >= c[k] - qos_tol(c[k]) or not gain[n] > 0:
            break
        total += float(gain[n])
        choice[n] = gi[n]
    return choice


def adaptive_greedy_select(I: np.ndarray, c: np.ndarray) -> SelectionResult:
    """Our variant of Alg. 1 (``variant=adaptive``): candidates built against the current
    selection instead of beforehand.

    Devices (fewest usable blocks first) each take the assembly with the fewest blocks not yet
    selected (:func:`_fit_device`); then up to :data:`ADAPTIVE_ROUNDS` rounds of re-fitting each
    device against the blocks the others use, kept when the total does not grow; finally
    redundant blocks are dropped."""
    M, N, K = I.shape
    t0 = time.perf_counter()
    bad = infeasible_device(I, c)
    if bad is not None:
        return SelectionResult(None, "infeasible", math.inf, {"infeasible_device": bad})
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
    for _ in range(ADAPTIVE_ROUNDS):
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


@register_solver(PROBLEM, "greedy", "Alg. 1: candidate model sets + greedy reuse metric (our eq. 9), then power control",
                 params=(POWER,
                         Param("order", ORDERS[0], str, "device order of Alg. 1: constrained (fewest candidates "
                               "first) or index (the paper's)", choices=ORDERS),
                         Param("variant", VARIANTS[0], str, "paper (Alg. 1) or adaptive (our variant: "
                               "assemblies fitted to the current selection; ignores order)", choices=VARIANTS)))
def solve_greedy(inst: MBAInstance, *, options: SolveOptions) -> MBASolution:
    p = options.params
    if p["variant"] == "adaptive":
        sel = adaptive_greedy_select(inst.scores, inst.qos)
    else:
        sel = greedy_select(inst.scores, inst.qos, inst.own_model, order=p["order"])
    return solution_from_selection(inst, sel, algorithm="greedy", power=p["power"], exact=False)
