"""The PartialLoading cost model shared by the solvers and ``verify`` (Qu et al., §III-IV).

* :func:`timeline`: the phases of a given batch sequence, recomputed from the instance alone
  (eqs. 1, 6-9); ``verify`` counts the users of the batches that end by the deadline (eq. 2).
* A *plan* is a sequence ``[(model, k), ...]`` of distinct models, each serving its ``k``
  cheapest users (Theorem 2.1) in ``ceil(k / b)`` consecutive batches (Theorem 2.2). Its
  duration (:func:`plan_duration`) is ``sum_i c_i(k_i) + sum_i d(prev_i, i)`` with

  * ``c_i(k)`` (:func:`model_costs`): upload + compute of the k users of model i with the fewest
    ``p_k = D_k / R_k``; with the optimal shares of eq. (12) the upload is the SUM of
    ``D_k / (B R_k)`` (eq. 11), so ``c_i(k) = sum_{first k} p/B + mu_i k + beta_i ceil(k / b_i)``;
  * ``d(j, i)`` (:func:`load_matrix`): the seconds to load the blocks of i that j lacks (eq. 8).

Why plans of distinct models suffice (any instance): ``d`` obeys the triangle inequality,
``J_c \\ J_a  ⊆  (J_b \\ J_a) ∪ (J_c \\ J_b)``, so deleting a repeated visit of a model
never lengthens the loading, and merging all the users of a model into one run of batches
with the cheapest users keeps upload + compute minimal. See docs/loading.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from edgeinfer.core.errors import UnsupportedInstanceError

if TYPE_CHECKING:
    from edgeinfer.loading.problem import Batch, PartialLoadingInstance

__all__ = [
    "DEADLINE_RTOL",
    "PLAN_MARGIN",
    "SHARE_ATOL",
    "BatchTiming",
    "timeline",
    "ModelCosts",
    "model_costs",
    "load_matrix",
    "Backbone",
    "detect_backbone",
    "user_bound",
    "plan_duration",
    "deadline_of",
]

#: A batch ends "by the deadline" when ``end <= deadline * (1 + DEADLINE_RTOL)`` (floating-point slack).
DEADLINE_RTOL = 1e-12
#: The solvers plan against ``deadline * (1 + DEADLINE_RTOL - PLAN_MARGIN)``: a hair inside the
#: verifier's limit, for the rounding of summing the phases in another order (a plan of up to
#: ~900 phases). Only a schedule ending in that band could be served by verify yet missed by an
#: exact solver.
PLAN_MARGIN = 1e-13
#: Slack on the sum of a batch's bandwidth shares (eq. 5): ``sum <= 1 + SHARE_ATOL``. Timing
#: uses the shares divided by their sum when it exceeds 1, so the slack gains nothing.
SHARE_ATOL = 1e-9


# ----------------------------------------------------------------------------- timeline (verify)
@dataclass(frozen=True)
class BatchTiming:
    """One batch's phases (s): start, upload (eq. 7), partial load (eq. 8), compute (eq. 9), end."""

    start_s: float
    upload_s: float
    load_s: float
    compute_s: float
    end_s: float
    served: bool


def timeline(inst: PartialLoadingInstance, batches: Sequence[Batch]) -> list[BatchTiming]:
    """Recompute every batch's phases from the instance alone (eqs. 1, 6-9).

    A user with a zero share never finishes uploading (infinite time). Shares summing above 1
    (within the verifier's :data:`SHARE_ATOL`) are scaled to sum 1 first. Overflow gives ``inf``
    (a batch that never ends), never an exception.
    """
    out = []
    t = 0.0
    prev: int | None = None
    unit = inst.unit_upload_s
    limit = inst.deadline_s * (1.0 + DEADLINE_RTOL)
    for b in batches:
        users = np.asarray(b.users, dtype=np.int64)
        shares = np.asarray(b.shares, dtype=float)
        total = float(shares.sum()) if shares.size else 0.0
        if total > 1.0:
            shares = shares / total
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            per_user = np.where(shares > 0, unit[users] / np.where(shares > 0, shares, 1.0), np.inf)
        up = float(per_user.max()) if len(users) else 0.0
        with np.errstate(over="ignore", invalid="ignore"):
            load = inst.load_bytes(prev, b.model) * inst.load_s_per_byte
            comp = float(inst.compute_per_sample_s[b.model] * len(users) + inst.compute_fixed_s[b.model])
            end = t + up + load + comp
        out.append(BatchTiming(t, up, load, comp, end, bool(end <= limit)))
        t = end
        prev = b.model
    return out


# ----------------------------------------------------------------------------- plans (solvers)


@dataclass(frozen=True)
class ModelCosts:
    """Per-model cost curves.

    Attributes
    ----------
    order: for each model, its user indices in ascending ``D_k / R_k`` (ties by index).
    cost: for each model, ``c_i[k]`` for k = 0..K_i (``c_i[0] = 0``), seconds.
    cap: the batch size used for each model (``max_batch``, or ``min(max_batch, r)`` with r
        equal sub-channels).
    subchannels: ``None`` for the optimal split of eq. (12), else r equal sub-channels (Fig. 8).
    """

    order: tuple[np.ndarray, ...]
    cost: tuple[np.ndarray, ...]
    cap: np.ndarray
    subchannels: int | None = None

    def batches(self, model: int, k: int) -> list[np.ndarray]:
        """Split the k cheapest users of ``model`` into batches.

        Optimal shares: full batches first (Theorem 2.2; with eq. 11 any split into
        ``ceil(k/b)`` batches costs the same). Equal sub-channels: the upload of a batch is
        set by its slowest user, and putting the short batch FIRST (on the cheapest users)
        minimises the sum of the batch maxima, so we do that (the paper's z(n) puts it last).
        """
        users = self.order[model][:k]
        b = int(self.cap[model])
        n = -(-k // b)
        if self.subchannels is None:
            return [users[j * b:(j + 1) * b] for j in range(n)]
        first = k - (n - 1) * b
        out = [users[:first]]
        out += [users[first + j * b:first + (j + 1) * b] for j in range(n - 1)]
        return out


def model_costs(inst: PartialLoadingInstance, *, subchannels: int | None = None) -> ModelCosts:
    """Cost curves ``c_i(k)`` for every model (eqs. 9, 11, 17)."""
    key = f"costs:{subchannels}"
    if key in inst._cache:
        return inst._cache[key]
    unit = inst.unit_upload_s
    orders, costs = [], []
    caps = inst.max_batch.copy()
    if subchannels is not None:
        if subchannels < 1:
            raise ValueError("subchannels must be >= 1")
        caps = np.minimum(caps, subchannels)
    for i in range(inst.n_models):
        users = inst.users_of(i)
        p = unit[users]
        o = users[np.lexsort((users, p))]
        sp = unit[o]
        kk = np.arange(len(o) + 1)
        b = int(caps[i])
        if subchannels is None:
            up = np.concatenate([[0.0], np.cumsum(sp)])
        else:
            up = np.zeros(len(o) + 1)
            for k in range(1, len(o) + 1):  # last batch ends at k, earlier ones every b users before
                up[k] = (up[k - b] if k > b else 0.0) + subchannels * sp[k - 1]
        c = up + inst.compute_per_sample_s[i] * kk + inst.compute_fixed_s[i] * (-(-kk // b))
        c[0] = 0.0
        orders.append(o)
        costs.append(c)
    mc = ModelCosts(tuple(orders), tuple(costs), caps, subchannels)
    inst._cache[key] = mc
    return mc


def load_matrix(inst: PartialLoadingInstance) -> tuple[np.ndarray, np.ndarray]:
    """``(full, d)``: ``full[i]`` seconds to load model i into an empty GPU, ``d[j, i]`` after j (eq. 8)."""
    if "load" in inst._cache:
        return inst._cache["load"]
    spb = inst.load_s_per_byte
    inc = inst.incidence
    full_bytes = np.array([float(inst.block_bytes[b].sum()) for b in inst.model_blocks])
    full = full_bytes * spb
    # missing[j, i] = bytes of model i's blocks that model j lacks (no BLAS: avoids its
    # thread-pool start-up, which costs more than the whole product at these sizes)
    missing = np.empty((inst.n_models, inst.n_models))
    for i, b in enumerate(inst.model_blocks):
        missing[:, i] = ((~inc[:, b]) * inst.block_bytes[b][None, :]).sum(axis=1)
    d = missing * spb
    np.fill_diagonal(d, 0.0)
    inst._cache["load"] = (full, d)
    return full, d


@dataclass(frozen=True)
class Backbone:
    """Clustered backbone sharing (Definition 2) detected from the block lists.

    Within a cluster the sets of shared blocks of its models are nested (a chain): model i
    holds the first ``level[i]`` backbone "layers" (the distinct sets of the chain), i.e.
    ``l_i`` of the paper. ``prefix_s[i]`` is the time to load model i's backbone part,
    ``own_s[i]`` the time to load its task-specific blocks.
    """

    cluster: np.ndarray  # (I,) cluster index
    clusters: tuple[np.ndarray, ...]  # models of each cluster, ascending (prefix, index)
    level: np.ndarray  # (I,) l_i (1-based position in the cluster's chain of shared sets)
    prefix_s: np.ndarray  # (I,)
    own_s: np.ndarray  # (I,)


def detect_backbone(inst: PartialLoadingInstance) -> Backbone:
    """Detect clustered backbone sharing or raise ``UnsupportedInstanceError``.

    Blocks held by two or more models are "backbone" blocks; models linked by them form
    clusters; in each cluster the models' backbone sets must be nested.
    """
    if "backbone" in inst._cache:
        bb = inst._cache["backbone"]
        if isinstance(bb, Exception):
            raise bb
        return bb
    try:
        bb = _detect_backbone(inst)
    except UnsupportedInstanceError as exc:
        inst._cache["backbone"] = exc
        raise
    inst._cache["backbone"] = bb
    return bb


def _detect_backbone(inst: PartialLoadingInstance) -> Backbone:
    inc = inst.incidence
    spb = inst.load_s_per_byte
    count = inc.sum(axis=0)
    shared = count >= 2
    n = inst.n_models
    parent = list(range(n))

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for j in np.flatnonzero(shared):
        holders = np.flatnonzero(inc[:, j])
        r0 = find(int(holders[0]))
        for m in holders[1:]:
            r = find(int(m))
            if r != r0:
                parent[r] = r0
    roots: dict[int, list[int]] = {}
    for i in range(n):
        roots.setdefault(find(i), []).append(i)
    bytes_ = inst.block_bytes
    prefix = ((inc & shared[None, :]) * bytes_[None, :]).sum(axis=1) * spb
    own = ((inc & ~shared[None, :]) * bytes_[None, :]).sum(axis=1) * spb
    cluster = np.zeros(n, dtype=np.int64)
    level = np.zeros(n, dtype=np.int64)
    clusters = []
    for c, members in enumerate(sorted(roots.values(), key=min)):
        nsh = [int((inc[i] & shared).sum()) for i in members]
        ms = [m for _, m in sorted(zip(nsh, members, strict=True))]
        lev = 0
        for a, b in zip(ms, ms[1:], strict=False):
            sa, sb = inc[a] & shared, inc[b] & shared
            if np.any(sa & ~sb):
                raise UnsupportedInstanceError(
                    f"models {inst.model_ids[a]!r} and {inst.model_ids[b]!r} share blocks that do not form a "
                    "common backbone (their shared-block sets are not nested), so this is not the backbone-"
                    "sharing case of Definition 2; use exact, search or gen"
                )
        prev = None
        for m in ms:
            s = inc[m] & shared
            if prev is None or np.any(s & ~prev):
                lev += 1
            prev = s
            level[m] = lev
            cluster[m] = c
        clusters.append(np.array(ms, dtype=np.int64))
    return Backbone(cluster, tuple(clusters), level, prefix, own)


def deadline_of(inst: PartialLoadingInstance) -> float:
    """The deadline solvers plan against (tiny slack below the verifier's tolerance)."""
    return inst.deadline_s * (1.0 + DEADLINE_RTOL - PLAN_MARGIN)


def user_bound(inst: PartialLoadingInstance, costs: ModelCosts) -> int:
    """An upper bound on the users any schedule serves: each served user costs at least its
    marginal ``c_i(k) - c_i(k-1) >= p_k/B + mu_i`` (optimal split) and the per-user marginal
    costs of a model are taken in ascending order; the bound is the most users whose
    smallest marginals fit in the deadline."""
    if inst.n_users == 0:
        return 0
    marg = []
    for i in range(inst.n_models):
        k = len(costs.order[i])
        if k:
            # the cheapest k' users of model i cost at least the sum of their marginal uploads + mu
            marg.append(inst.unit_upload_s[costs.order[i]] + inst.compute_per_sample_s[i])
    if not marg:
        return 0
    allm = np.sort(np.concatenate(marg))
    cs = np.cumsum(allm)
    return int(np.searchsorted(cs, deadline_of(inst), side="right"))


def plan_duration(inst: PartialLoadingInstance, plan: Sequence[tuple[int, int]], costs: ModelCosts) -> float:
    """Seconds a plan takes: its partial loads (eq. 8) plus each model's ``c_i(k)``."""
    full, d = load_matrix(inst)
    t, prev = 0.0, -1
    for i, k in plan:
        t += (full[i] if prev < 0 else d[prev, i]) + costs.cost[i][k]
        prev = i
    return t
