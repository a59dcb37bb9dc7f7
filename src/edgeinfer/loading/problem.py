"""``partial_loading``: file formats, the instance, the solution and the independent verifier.

System model (Qu et al., PartialLoading, §III):

* a batch holds users of one model, at most that model's ``max_batch`` (eq. 10c);
* upload (eqs. 4-7): user k gets a share ``y_k`` of the band B and needs
  ``data_bits_k / (y_k B R_k)`` seconds; the batch's upload phase lasts until its slowest
  user finishes (eq. 7). With the optimal shares of Proposition 1 / eq. (12),
  ``y_k`` proportional to ``D_k / R_k``, every user finishes together after
  ``sum_k D_k / (B R_k)`` (eq. 11);
* partial load (eq. 8): the blocks of this batch's model that the previous batch's model
  does not hold, at ``bytes / disk_bytes_per_s + bytes / host_to_device_bytes_per_s``; the
  GPU holds one model at a time (eq. 10d), the first batch loads its whole model;
* compute (eq. 9): ``compute_per_sample_s * batch_size + compute_fixed_s``;
* batches run one after another from time 0; a batch's users are served iff the batch ends
  by the deadline (eq. 2). The objective is the number of users served (eq. 10a).

A solution may list batches that end after the deadline: they are feasible but serve nobody
(the verifier reports them as ``late_batches``); our solvers only output served batches.
``verify`` recomputes the phases with :func:`edgeinfer.loading.model.timeline`, the model the
solvers plan with. Importing this module registers the problem (``SPEC``).
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from edgeinfer.core.errors import InvalidInstanceError, InvalidSolutionError
from edgeinfer.core.registry import ProblemSpec, register_problem
from edgeinfer.core.solution import Solution, VerifyReport, Violations
from edgeinfer.core.status import SolveStatus
from edgeinfer.core.validation import (
    Fraction,
    Id,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    StrictModel,
    check_ref,
    check_unique_ids,
    parse_model,
    require_nonempty,
)
from edgeinfer.loading.model import SHARE_ATOL, BatchTiming, timeline

__all__ = [
    "PROBLEM",
    "SPEC",
    "InstanceDoc",
    "SolutionDoc",
    "PartialLoadingInstance",
    "Batch",
    "PartialLoadingSolution",
    "load_instance",
    "dump_instance",
    "load_solution",
    "dump_solution",
    "verify",
]

PROBLEM = "partial_loading"
#: Slack on the sum of bandwidth shares of a batch (eq. 5); timing uses the shares scaled to
#: sum 1, so the slack serves nobody more (:data:`edgeinfer.loading.model.SHARE_ATOL`).
SHARE_TOL = SHARE_ATOL
#: Relative and absolute tolerance on a batch's claimed timings (``start_s`` ... ``end_s``).
CLAIM_RTOL, CLAIM_ATOL = 1e-9, 1e-12
#: The claimed timing fields of a batch, in :class:`~edgeinfer.loading.model.BatchTiming` order.
TIMING_FIELDS = ("start_s", "upload_s", "load_s", "compute_s", "end_s")


# ----------------------------------------------------------------------------- file formats
class LoadDoc(StrictModel):
    """Loading speeds of the server (eq. 8: V1 disk -> host memory, V2 host -> GPU)."""

    disk_bytes_per_s: PositiveFloat
    host_to_device_bytes_per_s: PositiveFloat


class BlockDoc(StrictModel):
    id: Id
    bytes: NonNegativeFloat


class ModelDoc(StrictModel):
    id: Id
    blocks: list[str]
    compute_per_sample_s: NonNegativeFloat
    compute_fixed_s: NonNegativeFloat
    max_batch: PositiveInt


class UserDoc(StrictModel):
    id: Id
    model: str
    data_bits: PositiveFloat
    spectral_efficiency: PositiveFloat


class InstanceDoc(StrictModel):
    """The instance document (see docs/formats.md)."""

    problem: Literal["partial_loading"]
    bandwidth_hz: PositiveFloat
    deadline_s: NonNegativeFloat
    load: LoadDoc
    blocks: list[BlockDoc]
    models: list[ModelDoc]
    users: list[UserDoc]
    name: str | None = None
    description: str | None = None


class BatchDoc(StrictModel):
    model: str
    users: list[str]
    bandwidth_share: list[Fraction]
    start_s: NonNegativeFloat | None = None
    upload_s: NonNegativeFloat | None = None
    load_s: NonNegativeFloat | None = None
    compute_s: NonNegativeFloat | None = None
    end_s: NonNegativeFloat | None = None


class SolutionDoc(StrictModel):
    """The solution document: batches in service order with each user's bandwidth share."""

    problem: Literal["partial_loading"]
    algorithm: str
    status: Literal["optimal", "feasible", "infeasible", "time_limit", "error"]
    served: NonNegativeInt
    batches: list[BatchDoc]
    wall_time_s: NonNegativeFloat | None = None
    stats: dict[str, Any] | None = None


# ----------------------------------------------------------------------------- instance
@dataclass(frozen=True, eq=False)
class PartialLoadingInstance:
    """Solver-friendly form of an instance (SI units, numpy arrays, indices instead of ids)."""

    bandwidth_hz: float
    deadline_s: float
    disk_bytes_per_s: float
    host_to_device_bytes_per_s: float
    block_ids: tuple[str, ...]
    block_bytes: np.ndarray  # (J,)
    model_ids: tuple[str, ...]
    model_blocks: tuple[np.ndarray, ...]  # block indices of each model (sorted, unique)
    compute_per_sample_s: np.ndarray  # (I,) mu_i of eq. (9)
    compute_fixed_s: np.ndarray  # (I,) beta_i of eq. (9)
    max_batch: np.ndarray  # (I,) b_{i,max}
    user_ids: tuple[str, ...]
    user_model: np.ndarray  # (K,) model index of each user
    data_bits: np.ndarray  # (K,) D_k
    spectral_efficiency: np.ndarray  # (K,) R_k in bit/s/Hz
    name: str | None = None
    _cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def n_models(self) -> int:
        return len(self.model_ids)

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def load_s_per_byte(self) -> float:
        """Seconds to bring one byte from disk to GPU memory (V1 + V2 of eq. 8, linear)."""
        return 1.0 / self.disk_bytes_per_s + 1.0 / self.host_to_device_bytes_per_s

    @property
    def unit_upload_s(self) -> np.ndarray:
        """``D_k / (B R_k)``: each user's upload time with the whole band (p_k / B, Theorem 2.1)."""
        if "unit" not in self._cache:
            self._cache["unit"] = self.data_bits / (self.bandwidth_hz * self.spectral_efficiency)
        return self._cache["unit"]

    @property
    def incidence(self) -> np.ndarray:
        """(I, J) boolean matrix: model i contains block j."""
        if "inc" not in self._cache:
            m = np.zeros((self.n_models, len(self.block_ids)), dtype=bool)
            for i, b in enumerate(self.model_blocks):
                m[i, b] = True
            self._cache["inc"] = m
        return self._cache["inc"]

    def users_of(self, model: int) -> np.ndarray:
        return np.flatnonzero(self.user_model == model)

    def load_bytes(self, prev: int | None, model: int) -> float:
        """Bytes to load for ``model`` after ``prev`` (None: empty GPU), eq. (8)."""
        blocks = self.model_blocks[model]
        if prev is None or prev < 0:
            return float(self.block_bytes[blocks].sum())
        if prev == model:
            return 0.0
        new = blocks[~self.incidence[prev, blocks]]
        return float(self.block_bytes[new].sum())


# ----------------------------------------------------------------------------- solution
@dataclass(frozen=True)
class Batch:
    """One batch: model index, user indices, and each user's bandwidth share (eq. 4).

    ``claimed``: timings the solution file states (``{"end_s": 0.039, ...}``, any subset of
    start/upload/load/compute/end); :func:`verify` checks each one present.
    """

    model: int
    users: tuple[int, ...]
    shares: tuple[float, ...]
    claimed: tuple[tuple[str, float], ...] = field(default=(), compare=False)


@dataclass(frozen=True, kw_only=True)
class PartialLoadingSolution(Solution):
    """Batches in service order. ``objective`` is the number of users served."""

    batches: tuple[Batch, ...] = ()
    #: The instance the indices refer to (needed to write ids); not part of equality.
    instance: PartialLoadingInstance | None = field(default=None, repr=False, compare=False)

    @property
    def served(self) -> int:
        return int(round(self.objective))


def _check_instance(doc: InstanceDoc) -> None:
    check_unique_ids([b.id for b in doc.blocks], "blocks")
    require_nonempty(doc.models, "models")
    check_unique_ids([m.id for m in doc.models], "models")
    check_unique_ids([u.id for u in doc.users], "users")
    block_ids = {b.id for b in doc.blocks}
    model_ids = {m.id for m in doc.models}
    for i, m in enumerate(doc.models):
        if not m.blocks:
            raise InvalidInstanceError(f"models[{i}].blocks", "a model needs at least one parameter block")
        seen: dict[str, int] = {}
        for j, b in enumerate(m.blocks):
            check_ref(b, block_ids, f"models[{i}].blocks[{j}]", "block")
            if b in seen:
                raise InvalidInstanceError(f"models[{i}].blocks[{j}]", f"block {b!r} listed twice (first at [{seen[b]}])")
            seen[b] = j
    for k, u in enumerate(doc.users):
        check_ref(u.model, model_ids, f"users[{k}].model", "model")


def load_instance(doc: Any) -> PartialLoadingInstance:
    """Parse and validate an instance document; raise ``InvalidInstanceError`` naming the field."""
    d = parse_model(InstanceDoc, doc)
    _check_instance(d)
    bidx = {b.id: j for j, b in enumerate(d.blocks)}
    midx = {m.id: i for i, m in enumerate(d.models)}
    for k, u in enumerate(d.users):  # the rates verify and the solvers compute must be finite
        if not math.isfinite(d.bandwidth_hz * u.spectral_efficiency):
            raise InvalidInstanceError(f"users[{k}].spectral_efficiency",
                                       "bandwidth_hz * spectral_efficiency overflows (not a finite rate)")
        # a whole-band upload time below the smallest normal double: shares computed from it came out 0
        # and 5e-324 bits crashed every general solver's plan (exit 3; the field-extremes fuzz)
        if not u.data_bits / (d.bandwidth_hz * u.spectral_efficiency) >= sys.float_info.min:
            raise InvalidInstanceError(f"users[{k}].data_bits", "data_bits / (bandwidth_hz * spectral_efficiency) "
                                       f"underflows (an upload time below {sys.float_info.min:g} s)")
    if not math.isfinite(1.0 / d.load.disk_bytes_per_s + 1.0 / d.load.host_to_device_bytes_per_s):
        raise InvalidInstanceError("load", "loading speeds so small that a byte's loading time overflows")
    return PartialLoadingInstance(
        bandwidth_hz=float(d.bandwidth_hz),
        deadline_s=float(d.deadline_s),
        disk_bytes_per_s=float(d.load.disk_bytes_per_s),
        host_to_device_bytes_per_s=float(d.load.host_to_device_bytes_per_s),
        block_ids=tuple(b.id for b in d.blocks),
        block_bytes=np.array([float(b.bytes) for b in d.blocks], dtype=float),
        model_ids=tuple(m.id for m in d.models),
        model_blocks=tuple(np.array(sorted(bidx[b] for b in m.blocks), dtype=np.int64) for m in d.models),
        compute_per_sample_s=np.array([m.compute_per_sample_s for m in d.models], dtype=float),
        compute_fixed_s=np.array([m.compute_fixed_s for m in d.models], dtype=float),
        max_batch=np.array([m.max_batch for m in d.models], dtype=np.int64),
        user_ids=tuple(u.id for u in d.users),
        user_model=np.array([midx[u.model] for u in d.users], dtype=np.int64),
        data_bits=np.array([u.data_bits for u in d.users], dtype=float),
        spectral_efficiency=np.array([u.spectral_efficiency for u in d.users], dtype=float),
        name=d.name,
    )


def dump_instance(inst: PartialLoadingInstance) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "problem": PROBLEM,
        "bandwidth_hz": inst.bandwidth_hz,
        "deadline_s": inst.deadline_s,
        "load": {
            "disk_bytes_per_s": inst.disk_bytes_per_s,
            "host_to_device_bytes_per_s": inst.host_to_device_bytes_per_s,
        },
        "blocks": [{"id": b, "bytes": float(s)} for b, s in zip(inst.block_ids, inst.block_bytes, strict=True)],
        "models": [
            {
                "id": m,
                "blocks": [inst.block_ids[j] for j in inst.model_blocks[i]],
                "compute_per_sample_s": float(inst.compute_per_sample_s[i]),
                "compute_fixed_s": float(inst.compute_fixed_s[i]),
                "max_batch": int(inst.max_batch[i]),
            }
            for i, m in enumerate(inst.model_ids)
        ],
        "users": [
            {
                "id": u,
                "model": inst.model_ids[int(inst.user_model[k])],
                "data_bits": float(inst.data_bits[k]),
                "spectral_efficiency": float(inst.spectral_efficiency[k]),
            }
            for k, u in enumerate(inst.user_ids)
        ],
    }
    if inst.name is not None:
        doc["name"] = inst.name
    return doc


def load_solution(doc: Any, inst: PartialLoadingInstance) -> PartialLoadingSolution:
    """Parse a solution document against its instance.

    Malformed documents raise ``InvalidSolutionError`` naming the field: unknown model or user
    ids, a user listed twice, a user in a batch of another model, an empty batch, or a share
    list whose length differs from the user list. Constraint violations that a well-formed
    document can have (too many users, shares summing above 1, late batches) are left to
    :func:`verify`.
    """
    d = parse_model(SolutionDoc, doc, error=InvalidSolutionError)
    midx = {m: i for i, m in enumerate(inst.model_ids)}
    uidx = {u: k for k, u in enumerate(inst.user_ids)}
    where: dict[str, str] = {}
    batches = []
    for n, b in enumerate(d.batches):
        if b.model not in midx:
            raise InvalidSolutionError(f"batches[{n}].model", f"unknown model {b.model!r}")
        i = midx[b.model]
        if not b.users:
            raise InvalidSolutionError(f"batches[{n}].users", "a batch needs at least one user")
        if len(b.bandwidth_share) != len(b.users):
            raise InvalidSolutionError(
                f"batches[{n}].bandwidth_share",
                f"{len(b.bandwidth_share)} shares for {len(b.users)} users (one share per user)",
            )
        users = []
        for j, u in enumerate(b.users):
            f = f"batches[{n}].users[{j}]"
            if u not in uidx:
                raise InvalidSolutionError(f, f"unknown user {u!r}")
            if u in where:
                raise InvalidSolutionError(f, f"user {u!r} is already in {where[u]}")
            where[u] = f
            k = uidx[u]
            if int(inst.user_model[k]) != i:
                raise InvalidSolutionError(
                    f, f"user {u!r} requests model {inst.model_ids[int(inst.user_model[k])]!r}, not {b.model!r}"
                )
            users.append(k)
        claimed = tuple((f, float(getattr(b, f))) for f in TIMING_FIELDS if getattr(b, f) is not None)
        batches.append(Batch(i, tuple(users), tuple(float(s) for s in b.bandwidth_share), claimed))
    return PartialLoadingSolution(
        problem=PROBLEM,
        algorithm=d.algorithm,
        status=SolveStatus(d.status),
        objective=float(d.served),
        wall_time_s=float(d.wall_time_s or 0.0),
        stats=dict(d.stats or {}),
        batches=tuple(batches),
        instance=inst,
    )


def verify(inst: PartialLoadingInstance, sol: PartialLoadingSolution) -> VerifyReport:
    """Check a solution against the instance and recount the users served.

    Violations: unknown model/user indices, a user of another model, a user twice, an empty
    batch, a batch above ``max_batch`` (eq. 10c), shares outside [0, 1] or summing above 1
    (eq. 5), a share count differing from the user count. Batches ending after the deadline
    are allowed but serve nobody (eq. 2); the objective counts the users of the batches that
    end by ``deadline_s * (1 + DEADLINE_RTOL)`` and is compared exactly (an integer). A batch
    whose recomputed timing overflows is a violation; each claimed timing present is checked.
    """
    v = Violations()
    seen: dict[int, int] = {}
    ok_struct = True
    for n, b in enumerate(sol.batches):
        if not 0 <= b.model < inst.n_models:
            v.add(f"batches[{n}]: unknown model index {b.model}")
            ok_struct = False
            continue
        if len(b.users) == 0:
            v.add(f"batches[{n}]: empty batch")
        if len(b.shares) != len(b.users):
            v.add(f"batches[{n}]: {len(b.shares)} shares for {len(b.users)} users")
            ok_struct = False
            continue
        if len(b.users) > inst.max_batch[b.model]:
            v.add(f"batches[{n}]: {len(b.users)} users exceed max_batch {int(inst.max_batch[b.model])} "
                  f"of model {inst.model_ids[b.model]!r}")
        for k in b.users:
            if not 0 <= k < inst.n_users:
                v.add(f"batches[{n}]: unknown user index {k}")
                ok_struct = False
                continue
            if k in seen:
                v.add(f"batches[{n}]: user {inst.user_ids[k]!r} already served in batches[{seen[k]}]")
            seen[k] = n
            if int(inst.user_model[k]) != b.model:
                v.add(f"batches[{n}]: user {inst.user_ids[k]!r} requests model "
                      f"{inst.model_ids[int(inst.user_model[k])]!r}, not {inst.model_ids[b.model]!r}")
        sh = np.asarray(b.shares, dtype=float)
        if sh.size and (not np.all(np.isfinite(sh)) or sh.min() < 0 or sh.max() > 1):
            v.add(f"batches[{n}]: bandwidth shares must lie in [0, 1]")
        if sh.size and not float(sh.sum()) <= 1.0 + SHARE_TOL:
            v.add(f"batches[{n}]: bandwidth shares sum to {float(sh.sum()):.12g} > 1 (eq. 5)")
        if sh.size and np.any(sh <= 0):
            v.add(f"batches[{n}]: a scheduled user has no bandwidth (share 0) and never finishes uploading")
    served = 0
    late = 0
    end = 0.0
    timings: list[BatchTiming] = []
    if ok_struct:
        timings = timeline(inst, sol.batches)
        for n, (b, t) in enumerate(zip(sol.batches, timings, strict=True)):
            if t.served:
                served += len(b.users)
            else:
                late += 1
            if not math.isfinite(t.end_s):
                v.add(f"batches[{n}]: recomputed timing is not finite (a share too small to upload with)")
            for name, value in b.claimed:
                real = float(getattr(t, name))
                if not (math.isfinite(real) and math.isclose(value, real, rel_tol=CLAIM_RTOL, abs_tol=CLAIM_ATOL)):
                    v.add(f"batches[{n}].{name}: reported {value!r} differs from the recomputed {real!r}")
        end = timings[-1].end_s if timings else 0.0
    reported = float(sol.objective) if sol.objective is not None else None
    return VerifyReport.from_violations(
        v, float(served), reported, integer=True,
        details={"late_batches": late, "makespan_s": end, "n_batches": len(sol.batches)},
    )


def dump_solution(sol: PartialLoadingSolution, inst: PartialLoadingInstance | None = None) -> dict[str, Any]:
    """Solution document. With the instance, ids and per-batch timings are written too."""
    inst = inst if inst is not None else sol.instance
    if inst is None:
        raise InvalidSolutionError("", "dump_solution needs the instance to write ids")
    timings = timeline(inst, sol.batches)
    batches = []
    for b, t in zip(sol.batches, timings, strict=True):
        batches.append({
            "model": inst.model_ids[b.model],
            "users": [inst.user_ids[k] for k in b.users],
            "bandwidth_share": [float(s) for s in b.shares],
            "start_s": t.start_s, "upload_s": t.upload_s, "load_s": t.load_s,
            "compute_s": t.compute_s, "end_s": t.end_s,
        })
    stats = dict(sol.stats)
    return {
        "problem": PROBLEM,
        "algorithm": sol.algorithm,
        "status": sol.status.value,
        "served": sol.served,
        "batches": batches,
        "wall_time_s": float(sol.wall_time_s),
        "stats": stats,
    }


SPEC = register_problem(
    ProblemSpec(
        name=PROBLEM,
        description="PartialLoading: batch users of parameter-sharing models, maximise users served by the deadline",
        instance_model=InstanceDoc,
        solution_model=SolutionDoc,
        load_instance=load_instance,
        load_solution=load_solution,
        dump_solution=dump_solution,
        verify=verify,
        dump_instance=dump_instance,
        instance_type=PartialLoadingInstance,
        sense="max",
        objective="users served",
    )
)
