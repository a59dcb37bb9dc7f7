"""``slide``: simultaneous model downloading and inference (SLIDE, Qu et al.) as a file problem.

An instance has the downlink bandwidth, the models (per-layer bits and FLOPs) and the users
(candidate models, spectral efficiency, deadline, speed cap, energy coefficient and budget).
A solution lists the users that get a model, with their bandwidth share (constant, or a
piecewise-constant ``share_timeline`` for ``slide-dynamic``), speed and latency.
``verify`` recomputes every finish time by the layer recursion (docs/streaming.md eq. (R),
:func:`edgeinfer.streaming.model.user_finish_time`),
simulating the timeline exactly, the speed cap, the energy, the candidate sets and the total
share at every instant. Formats: ``docs/formats.md`` (section slide).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field

from edgeinfer.core.errors import InvalidInstanceError, InvalidSolutionError
from edgeinfer.core.registry import ProblemSpec, register_problem
from edgeinfer.core.solution import Solution, VerifyReport, Violations
from edgeinfer.core.validation import (
    Fraction,
    Id,
    NonNegativeFloat,
    PositiveFloat,
    StrictModel,
    check_ref,
    check_unique_ids,
    parse_model,
    parse_status,
    require_nonempty,
)
from edgeinfer.streaming.model import least_share, speed_cap, user_finish_time

__all__ = ["PROBLEM", "SPEC", "SlideInstance", "SlideSolution", "UserAlloc", "load_instance", "dump_instance",
           "validate_instance", "load_solution", "dump_solution", "verify"]

PROBLEM = "slide"
#: Relative slack on the speed cap and energy budget (``speed <= cap * (1 + SPEED_RTOL)``); the
#: timing uses ``min(speed, cap)``, so the slack gains nothing.
SPEED_RTOL = 1e-12
#: Absolute slack on the total bandwidth share at any instant (``<= 1 + SHARE_ATOL``); when
#: the total exceeds 1 every share is scaled by ``1 / total`` before timing, so it gains nothing.
SHARE_ATOL = 1e-12
#: Relative slack on the deadline of a user with a ``share_timeline`` (simulated finish
#: ``<= deadline * (1 + TIMELINE_RTOL)``); constant shares are judged with no slack by the
#: closed form the solvers use (:func:`edgeinfer.streaming.model.least_share`).
TIMELINE_RTOL = 1e-12
#: Relative and absolute tolerance on a claimed ``latency_s``.
CLAIM_RTOL, CLAIM_ATOL = 1e-9, 1e-12
#: Latest time a ``share_timeline`` row may end (s): about 32 years.
MAX_TIME_S = 1e9


class LayerModel(StrictModel):
    bits: NonNegativeFloat
    flops: NonNegativeFloat


class ModelModel(StrictModel):
    id: Id
    layers: list[LayerModel]


class UserModel(StrictModel):
    id: Id
    models: list[Id]
    spectral_efficiency: PositiveFloat
    deadline_s: PositiveFloat
    max_flops_per_s: PositiveFloat
    energy_coefficient: NonNegativeFloat
    energy_budget_j: NonNegativeFloat


class SlideInstanceModel(StrictModel):
    problem: Literal["slide"]
    bandwidth_hz: PositiveFloat
    models: list[ModelModel]
    users: list[UserModel]


class UserAllocModel(StrictModel):
    user: Id
    model: Id
    bandwidth_share: Fraction
    compute_flops_per_s: PositiveFloat
    latency_s: NonNegativeFloat | None = None
    share_timeline: list[Annotated[list[Annotated[float, Field(ge=0, le=1e9)]],
                                   Field(min_length=3, max_length=3)]] | None = None


class SlideSolutionModel(StrictModel):
    problem: Literal["slide"]
    algorithm: str
    status: str
    served: Annotated[int, Field(ge=0)]
    objective: float | None = None
    execution: Literal["pipelined", "sequential"] = "pipelined"
    wall_time_s: NonNegativeFloat = 0.0
    users: list[UserAllocModel]
    stats: dict[str, Any] = {}


@dataclass(frozen=True)
class SlideInstance:
    """Solver-friendly instance (SI units).

    ``model_bits[m]``/``model_flops[m]`` are per-layer arrays; ``candidates[k]`` are model
    indices; per-user arrays are indexed like ``user_ids``.
    """

    bandwidth_hz: float
    model_ids: tuple[str, ...]
    model_bits: tuple[np.ndarray, ...]
    model_flops: tuple[np.ndarray, ...]
    user_ids: tuple[str, ...]
    candidates: tuple[tuple[int, ...], ...]
    spectral_efficiency: np.ndarray
    deadline_s: np.ndarray
    max_flops_per_s: np.ndarray
    energy_coefficient: np.ndarray
    energy_budget_j: np.ndarray

    @property
    def num_users(self) -> int:
        return len(self.user_ids)

    def full_rate_bps(self, k: int) -> float:
        """Rate of user k with the whole band (share 1)."""
        return float(self.bandwidth_hz * self.spectral_efficiency[k])


@dataclass(frozen=True, kw_only=True)
class UserAlloc:
    user: int
    model: int
    share: float
    speed: float
    latency_s: float | None = None
    timeline: np.ndarray | None = None  # rows (t_start, t_end, share)


@dataclass(frozen=True, kw_only=True)
class SlideSolution(Solution):
    """Users given a model (the others are not served). ``execution`` is ``pipelined`` (SLIDE)
    or ``sequential`` (download-then-infer baseline)."""

    allocs: tuple[UserAlloc, ...]
    user_ids: tuple[str, ...]
    model_ids: tuple[str, ...]
    execution: str = "pipelined"


def validate_instance(inst: SlideInstance) -> SlideInstance:
    """Check a typed instance with the rules of :func:`load_instance` (for generators); return it.

    Raises ``InvalidInstanceError`` naming the field as in the document (``users[3].deadline_s``).
    """
    def finite(x: np.ndarray, field: str, *, positive: bool) -> None:
        x = np.asarray(x, dtype=float)
        bad = ~np.isfinite(x) | ((x <= 0) if positive else (x < 0))
        if np.any(bad):
            k = int(np.flatnonzero(bad)[0])
            raise InvalidInstanceError(field.format(k), f"must be a finite number {'>' if positive else '>='} 0, "
                                       f"got {float(x[k])!r}")

    finite(np.array([inst.bandwidth_hz]), "bandwidth_hz", positive=True)
    require_nonempty(inst.model_ids, "models")
    check_unique_ids(inst.model_ids, "models")
    check_unique_ids(inst.user_ids, "users")
    if not (len(inst.model_bits) == len(inst.model_flops) == len(inst.model_ids)):
        raise InvalidInstanceError("models", "model_ids, model_bits and model_flops differ in length")
    for i in range(len(inst.model_ids)):
        if len(inst.model_bits[i]) != len(inst.model_flops[i]):
            raise InvalidInstanceError(f"models[{i}].layers", "bits and flops differ in length")
        if len(inst.model_bits[i]) == 0:
            raise InvalidInstanceError(f"models[{i}].layers", "must not be empty")
        finite(inst.model_bits[i], f"models[{i}].layers[{{}}].bits", positive=False)
        finite(inst.model_flops[i], f"models[{i}].layers[{{}}].flops", positive=False)
    n = inst.num_users
    for name, positive in (("spectral_efficiency", True), ("deadline_s", True), ("max_flops_per_s", True),
                           ("energy_coefficient", False), ("energy_budget_j", False)):
        arr = getattr(inst, name)
        if len(arr) != n:
            raise InvalidInstanceError("users", f"{name} has {len(arr)} entries for {n} users")
        finite(arr, f"users[{{}}].{name}", positive=positive)
    with np.errstate(over="ignore"):
        full = inst.bandwidth_hz * np.asarray(inst.spectral_efficiency, dtype=float)
    if n and not np.all(np.isfinite(full)):
        k = int(np.flatnonzero(~np.isfinite(full))[0])
        raise InvalidInstanceError(f"users[{k}].spectral_efficiency",
                                   "bandwidth_hz * spectral_efficiency overflows (not a finite rate)")
    if len(inst.candidates) != n:
        raise InvalidInstanceError("users", f"{len(inst.candidates)} candidate lists for {n} users")
    lens = np.fromiter(map(len, inst.candidates), dtype=np.int64, count=n)
    if np.any(lens == 0):
        k = int(np.flatnonzero(lens == 0)[0])
        raise InvalidInstanceError(f"users[{k}].models", "no candidate models (must list at least one)")
    flat = np.fromiter(itertools.chain.from_iterable(inst.candidates), dtype=np.int64, count=int(lens.sum()))
    owner = np.repeat(np.arange(n), lens)
    bad = (flat < 0) | (flat >= len(inst.model_ids))
    if np.any(bad):
        raise InvalidInstanceError(f"users[{int(owner[np.flatnonzero(bad)[0]])}].models", "unknown model index")
    order = np.lexsort((flat, owner))
    twice = (owner[order][1:] == owner[order][:-1]) & (flat[order][1:] == flat[order][:-1])
    if np.any(twice):
        raise InvalidInstanceError(f"users[{int(owner[order][1:][twice][0])}].models",
                                   "a candidate model is listed twice")
    return inst


def load_instance(doc: object) -> SlideInstance:
    m = parse_model(SlideInstanceModel, doc)
    require_nonempty(m.models, "models")
    check_unique_ids([x.id for x in m.models], "models")
    check_unique_ids([u.id for u in m.users], "users")
    index = {x.id: i for i, x in enumerate(m.models)}
    for i, x in enumerate(m.models):
        require_nonempty(x.layers, f"models[{i}].layers")
    cands = []
    for k, u in enumerate(m.users):
        if not u.models:
            raise InvalidInstanceError(f"users[{k}].models", "no candidate models (must list at least one)")
        for j, mid in enumerate(u.models):
            check_ref(mid, index, f"users[{k}].models[{j}]", "model")
        if len(set(u.models)) != len(u.models):
            raise InvalidInstanceError(f"users[{k}].models", "a candidate model is listed twice")
        cands.append(tuple(index[mid] for mid in u.models))
    for k, u in enumerate(m.users):
        if not math.isfinite(m.bandwidth_hz * u.spectral_efficiency):
            raise InvalidInstanceError(f"users[{k}].spectral_efficiency",
                                       "bandwidth_hz * spectral_efficiency overflows (not a finite rate)")
    return SlideInstance(
        bandwidth_hz=m.bandwidth_hz,
        model_ids=tuple(x.id for x in m.models),
        model_bits=tuple(np.array([la.bits for la in x.layers], dtype=float) for x in m.models),
        model_flops=tuple(np.array([la.flops for la in x.layers], dtype=float) for x in m.models),
        user_ids=tuple(u.id for u in m.users),
        candidates=tuple(cands),
        spectral_efficiency=np.array([u.spectral_efficiency for u in m.users], dtype=float),
        deadline_s=np.array([u.deadline_s for u in m.users], dtype=float),
        max_flops_per_s=np.array([u.max_flops_per_s for u in m.users], dtype=float),
        energy_coefficient=np.array([u.energy_coefficient for u in m.users], dtype=float),
        energy_budget_j=np.array([u.energy_budget_j for u in m.users], dtype=float),
    )


def dump_instance(inst: SlideInstance) -> dict[str, Any]:
    return {
        "problem": PROBLEM,
        "bandwidth_hz": float(inst.bandwidth_hz),
        "models": [{"id": mid, "layers": [{"bits": float(b), "flops": float(f)}
                                          for b, f in zip(inst.model_bits[i], inst.model_flops[i], strict=True)]}
                   for i, mid in enumerate(inst.model_ids)],
        "users": [{"id": uid, "models": [inst.model_ids[j] for j in inst.candidates[k]],
                   "spectral_efficiency": float(inst.spectral_efficiency[k]),
                   "deadline_s": float(inst.deadline_s[k]), "max_flops_per_s": float(inst.max_flops_per_s[k]),
                   "energy_coefficient": float(inst.energy_coefficient[k]),
                   "energy_budget_j": float(inst.energy_budget_j[k])}
                  for k, uid in enumerate(inst.user_ids)],
    }


def load_solution(doc: object, inst: SlideInstance) -> SlideSolution:
    m = parse_model(SlideSolutionModel, doc, error=InvalidSolutionError)
    status = parse_status(m.status)
    if m.objective is not None and m.objective != m.served:
        raise InvalidSolutionError("served", f"served {m.served} differs from objective {m.objective:g}")
    uidx = {u: i for i, u in enumerate(inst.user_ids)}
    midx = {x: i for i, x in enumerate(inst.model_ids)}
    seen: set[str] = set()
    allocs = []
    for j, a in enumerate(m.users):
        if a.user not in uidx:
            raise InvalidSolutionError(f"users[{j}].user", f"unknown user {a.user!r}")
        if a.user in seen:
            raise InvalidSolutionError(f"users[{j}].user", f"user {a.user!r} listed twice")
        seen.add(a.user)
        if a.model not in midx:
            raise InvalidSolutionError(f"users[{j}].model", f"unknown model {a.model!r}")
        tl = None
        if a.share_timeline is not None:
            tl = np.array(a.share_timeline, dtype=float).reshape(-1, 3)
            if np.any(tl[:, 2] > 1):
                raise InvalidSolutionError(f"users[{j}].share_timeline", "a share exceeds 1")
            if np.any(tl[:, 1] < tl[:, 0]) or np.any(tl[1:, 0] < tl[:-1, 1]):
                raise InvalidSolutionError(f"users[{j}].share_timeline",
                                           "rows must be [t_start, t_end, share] with t_start <= t_end, sorted, "
                                           "non-overlapping")
        allocs.append(UserAlloc(user=uidx[a.user], model=midx[a.model], share=a.bandwidth_share,
                                speed=a.compute_flops_per_s, latency_s=a.latency_s, timeline=tl))
    return SlideSolution(problem=PROBLEM, algorithm=m.algorithm, status=status,
                         objective=float(m.served if m.objective is None else m.objective),
                         wall_time_s=m.wall_time_s, stats=dict(m.stats), allocs=tuple(allocs),
                         user_ids=inst.user_ids, model_ids=inst.model_ids, execution=m.execution)


def dump_solution(s: SlideSolution) -> dict[str, Any]:
    users = []
    for a in s.allocs:
        d: dict[str, Any] = {"user": s.user_ids[a.user], "model": s.model_ids[a.model],
                             "bandwidth_share": float(a.share), "compute_flops_per_s": float(a.speed)}
        if a.latency_s is not None and math.isfinite(a.latency_s):
            d["latency_s"] = float(a.latency_s)
        if a.timeline is not None:
            d["share_timeline"] = [[float(x) for x in row] for row in a.timeline]
        users.append(d)
    stats = {k: v for k, v in dict(s.stats).items() if isinstance(v, int | float | str | bool | list)}
    return {"problem": PROBLEM, "algorithm": s.algorithm, "status": s.status.value, "served": int(s.objective),
            "objective": float(s.objective), "execution": s.execution, "wall_time_s": float(s.wall_time_s),
            "users": users, "stats": stats}


def _total_share(s: SlideSolution) -> float:
    """Peak of the total share over time: constant shares (summed cheapest first, as the solvers
    admit them) plus the active timeline rows."""
    consts = np.sort(np.array([a.share for a in s.allocs if a.timeline is None], dtype=float))
    const = float(np.cumsum(consts)[-1]) if consts.size else 0.0
    events: list[tuple[float, float]] = []
    for a in s.allocs:
        if a.timeline is not None:
            for t0, t1, sh in a.timeline:
                if t1 > t0 and sh > 0:
                    events += [(float(t0), float(sh)), (float(t1), -float(sh))]
    peak = const
    if events:
        events.sort(key=lambda e: (e[0], e[1]))  # ends before starts at the same instant
        level = const
        for _, d in events:
            level += d
            peak = max(peak, level)
    return peak


def _scaled(a: UserAlloc, scale: float, speed: float) -> UserAlloc:
    if scale == 1.0 and speed == a.speed:
        return a
    tl = None if a.timeline is None else np.column_stack([a.timeline[:, :2], a.timeline[:, 2] * scale])
    return UserAlloc(user=a.user, model=a.model, share=a.share * scale, speed=speed, latency_s=a.latency_s, timeline=tl)


def verify(inst: SlideInstance, s: SlideSolution) -> VerifyReport:
    """Recompute each listed user's finish time, speed, energy and candidate set, and the total
    bandwidth share at every instant; the objective is the number of users meeting all of them.

    Tolerances (docs/formats.md): the total share may exceed 1 by ``SHARE_ATOL`` and a speed
    its cap by ``SPEED_RTOL``, but timing then uses the shares scaled to total 1 and the capped
    speed, so neither slack serves anyone more. A constant-share user is on time iff its share
    is at least the closed-form least share (the solvers' own arithmetic, no slack); a timeline
    user iff its simulated finish is within ``TIMELINE_RTOL`` of the deadline. Every recomputed
    quantity must be finite (an overflow is a violation). A claimed ``latency_s`` must match
    whenever present.
    """
    v = Violations()
    served = 0
    finish: dict[str, float] = {}
    with np.errstate(all="ignore"):
        peak = _total_share(s)
    if not math.isfinite(peak):
        v.add(f"total bandwidth share is not finite ({peak!r})")
    v.check(peak <= 1 + SHARE_ATOL, f"total bandwidth share reaches {peak:.17g} > 1 (+{SHARE_ATOL:g})")
    scale = 1.0 / peak if math.isfinite(peak) and peak > 1 else 1.0
    for a in s.allocs:
        uid = inst.user_ids[a.user]
        ok = True
        if a.model not in inst.candidates[a.user]:
            v.add(f"{uid}: model {inst.model_ids[a.model]!r} is not one of its candidates")
            ok = False
        full = inst.full_rate_bps(a.user)
        if not math.isfinite(full):
            v.add(f"{uid}: the full-band rate bandwidth_hz * spectral_efficiency overflows")
            ok = False
        cap = speed_cap(inst, a.user, a.model)
        fmax = float(inst.max_flops_per_s[a.user])
        flops_total = float(np.sum(inst.model_flops[a.model]))
        with np.errstate(all="ignore"):
            energy = float(inst.energy_coefficient[a.user]) * (a.speed * a.speed) * flops_total
        budget = float(inst.energy_budget_j[a.user])
        if a.speed > fmax * (1 + SPEED_RTOL):
            v.add(f"{uid}: speed {a.speed:g} FLOP/s exceeds the cap {fmax:g}")
            ok = False
        elif a.speed > cap * (1 + SPEED_RTOL) or not math.isfinite(energy):
            v.add(f"{uid}: energy {energy:g} J exceeds the budget {budget:g} J")
            ok = False
        if a.timeline is not None and len(a.timeline):
            tl = np.asarray(a.timeline, dtype=float)
            with np.errstate(all="ignore"):
                vol = tl[:, 2] * full * (tl[:, 1] - tl[:, 0])
            if not (np.all(np.isfinite(tl)) and np.all(tl >= 0) and float(tl[:, :2].max()) <= MAX_TIME_S
                    and np.all(np.isfinite(vol))):
                v.add(f"{uid}: share_timeline rows must be finite, non-negative and end by {MAX_TIME_S:g} s "
                      "(the downloaded volume must be finite)")
                continue
        if not (math.isfinite(a.speed) and a.speed > 0 and math.isfinite(a.share) and 0 <= a.share <= 1):
            v.add(f"{uid}: speed must be finite and positive, the share in [0, 1]")
            continue
        eff = _scaled(a, scale, min(a.speed, cap))
        with np.errstate(all="ignore"):
            t = user_finish_time(inst, eff, s.execution)
        finish[uid] = t
        deadline = float(inst.deadline_s[a.user])
        if a.timeline is None:
            need = least_share(inst, a.user, a.model, eff.speed, s.execution)
            ok &= v.check(eff.share >= need,
                          f"{uid}: share {eff.share:.17g} is below the least share {need:.17g} that meets its "
                          f"deadline {deadline:g} s (finishes at {t:.9g} s)")
        else:
            ok &= v.check(t <= deadline * (1 + TIMELINE_RTOL),
                          f"{uid}: finishes at {t:.9g} s after its deadline {deadline:g} s")
        if a.latency_s is not None:
            v.check(math.isfinite(t) and math.isclose(a.latency_s, t, rel_tol=CLAIM_RTOL, abs_tol=CLAIM_ATOL),
                    f"{uid}: reported latency {a.latency_s!r} differs from the recomputed {t!r}")
        served += int(ok)
    return VerifyReport.from_violations(v, float(served), s.objective, integer=True,
                                        details={"finish_s": finish, "peak_share": peak})


SPEC = register_problem(ProblemSpec(
    PROBLEM, "SLIDE: model provisioning, bandwidth shares and device speeds maximising users served "
    "when layers run while the rest downloads",
    SlideInstanceModel, SlideSolutionModel, load_instance, load_solution,
    dump_solution, verify, dump_instance,
    instance_type=SlideInstance, sense="max", objective="users served",
))
