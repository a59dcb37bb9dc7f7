"""Plans to solutions: the batches and bandwidth shares of a plan (Theorem 2, eq. 12)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from edgeinfer.core.status import SolveStatus
from edgeinfer.loading.model import ModelCosts
from edgeinfer.loading.problem import PROBLEM, Batch, PartialLoadingInstance, PartialLoadingSolution

__all__ = ["plan_to_solution"]


def plan_to_solution(
    inst: PartialLoadingInstance,
    plan: Sequence[tuple[int, int]],
    *,
    algorithm: str,
    status: SolveStatus,
    costs: ModelCosts,
    stats: dict[str, Any] | None = None,
) -> PartialLoadingSolution:
    """Turn a plan into batches with bandwidth shares (eq. 12, or 1/r with r sub-channels)."""
    batches = []
    unit = inst.unit_upload_s
    for i, k in plan:
        if k <= 0:
            continue
        for users in costs.batches(i, k):
            if costs.subchannels is None:
                w = unit[users]
                shares = w / w.sum()  # eq. (12)
            else:
                shares = np.full(len(users), 1.0 / costs.subchannels)
            batches.append(Batch(int(i), tuple(int(u) for u in users), tuple(float(s) for s in shares)))
    served = sum(len(b.users) for b in batches)
    st = dict(stats or {})
    st.setdefault("n_batches", len(batches))
    st.setdefault("models_served", sum(1 for _, k in plan if k > 0))
    return PartialLoadingSolution(
        problem=PROBLEM,
        algorithm=algorithm,
        status=status,
        objective=float(served),
        stats=st,
        batches=tuple(batches),
        instance=inst,
    )
