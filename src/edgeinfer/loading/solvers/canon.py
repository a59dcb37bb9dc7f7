"""Canonical form of an instance, so that an answer never depends on the order of the file.

:func:`canonical` rebuilds the instance with its blocks, models and users sorted by id (ids are
unique, so the sorted order is a function of the instance's content, not of its listing), and
returns the index maps back to the original. A solver that plans on the canonical instance
and maps its plan back (:func:`plan_to_original`) gives the same batches, user for user, for
every permutation of the file: even floating-point sums (loading times over blocks, cost
curves over users) are taken in the same order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from edgeinfer.loading.model import ModelCosts, model_costs
from edgeinfer.loading.problem import PartialLoadingInstance

__all__ = ["Canonical", "canonical", "plan_to_original", "original_costs"]


@dataclass(frozen=True, eq=False)
class Canonical:
    """The canonical instance and its maps: ``model_of[c]`` / ``user_of[c]`` = original index."""

    inst: PartialLoadingInstance
    model_of: np.ndarray
    user_of: np.ndarray


def canonical(inst: PartialLoadingInstance) -> Canonical:
    """The instance with blocks, models and users in ascending id order (cached on ``inst``)."""
    if "canonical" in inst._cache:
        return inst._cache["canonical"]
    border = np.array(sorted(range(len(inst.block_ids)), key=lambda j: inst.block_ids[j]), dtype=np.int64)
    morder = np.array(sorted(range(inst.n_models), key=lambda i: inst.model_ids[i]), dtype=np.int64)
    uorder = np.array(sorted(range(inst.n_users), key=lambda k: inst.user_ids[k]), dtype=np.int64)
    bnew = np.empty(len(border), dtype=np.int64)
    bnew[border] = np.arange(len(border))
    mnew = np.empty(len(morder), dtype=np.int64)
    mnew[morder] = np.arange(len(morder))
    c = PartialLoadingInstance(
        bandwidth_hz=inst.bandwidth_hz,
        deadline_s=inst.deadline_s,
        disk_bytes_per_s=inst.disk_bytes_per_s,
        host_to_device_bytes_per_s=inst.host_to_device_bytes_per_s,
        block_ids=tuple(inst.block_ids[j] for j in border),
        block_bytes=inst.block_bytes[border].copy(),
        model_ids=tuple(inst.model_ids[i] for i in morder),
        model_blocks=tuple(np.sort(bnew[inst.model_blocks[i]]) for i in morder),
        compute_per_sample_s=inst.compute_per_sample_s[morder].copy(),
        compute_fixed_s=inst.compute_fixed_s[morder].copy(),
        max_batch=inst.max_batch[morder].copy(),
        user_ids=tuple(inst.user_ids[k] for k in uorder),
        user_model=mnew[inst.user_model[uorder]],
        data_bits=inst.data_bits[uorder].copy(),
        spectral_efficiency=inst.spectral_efficiency[uorder].copy(),
        name=inst.name,
    )
    out = Canonical(c, morder, uorder)
    inst._cache["canonical"] = out
    return out


def plan_to_original(can: Canonical, plan: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """A plan over the canonical models, in the original model indices."""
    return [(int(can.model_of[i]), int(k)) for i, k in plan]


def original_costs(inst: PartialLoadingInstance, can: Canonical) -> ModelCosts:
    """The cost curves of ``inst`` with each model's users in the canonical order (ascending
    ``D/R``, ties by id, not by position in the file), so the batches built from a plan are
    the same for every ordering of the file."""
    cc = model_costs(can.inst)
    orders = []
    for i in range(inst.n_models):
        orders.append(can.user_of[cc.order[int(np.flatnonzero(can.model_of == i)[0])]])
    base = model_costs(inst)
    return ModelCosts(tuple(orders), base.cost, base.cap, base.subchannels)
