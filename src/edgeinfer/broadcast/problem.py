"""``mba``: model broadcasting and assembling (Wu, Zeng, Huang) -- file formats and verification.

An instance is an AI library of ``M`` task-specific models, each a chain of ``N``
blocks (the block at position ``n`` of any model may replace position ``n`` of
another), ``K`` devices with a channel gain ``H_k`` and a QoS threshold ``c_k``, and
the reusability scores ``I[i, n, k]`` (score of block ``n`` of model ``i`` for device
``k``; eq. (6) sums them over the assembled model). The server broadcasts blocks one
after another; the link rate of device ``k`` during a block sent at power ``p`` is
``B log2(1 + p H_k / N0)`` (eq. 2, ``N0`` a noise POWER in W, see docs/broadcast.md).

A solution lists the broadcast transmissions ``(model, position, power_w, duration_s)``
and each device's assembly (one model id per position). :func:`verify` recomputes,
from the instance alone, every device's score (C2, eq. 7), that each assembled block
reaches the device (bits delivered at the device's own gain >= ``block_bits``; this
is eq. (3)'s worst-gain rule), the energy (C3, eq. 8) and the total latency (eq. 4),
which is the objective. The rate and QoS rules are :mod:`edgeinfer.broadcast.model`'s, the
same the solvers use. Random instances: :func:`edgeinfer.broadcast.scenario.make_instance`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, NamedTuple

import numpy as np
from pydantic import Field

from edgeinfer.broadcast.model import (
    MAX_BUDGET_SPAN,
    MAX_DURATION_S,
    budget_span,
    least_energy_j,
    qos_tol,
    rate_bps,
)
from edgeinfer.core.errors import InvalidInstanceError, InvalidSolutionError
from edgeinfer.core.registry import ProblemSpec, register_problem
from edgeinfer.core.solution import Solution, VerifyReport, Violations
from edgeinfer.core.validation import (
    Id,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    StrictModel,
    check_ref,
    check_unique_ids,
    parse_model,
    parse_status,
    require_nonempty,
)

__all__ = [
    "PROBLEM",
    "MBAInstance",
    "MBASolution",
    "Transmission",
    "MBAInstanceModel",
    "MBASolutionModel",
    "load_instance",
    "dump_instance",
    "load_solution",
    "dump_solution",
    "verify",
    "build_instance",
    "infeasibility_certificate",
    "SPEC",
]

PROBLEM = "mba"
#: Relative tolerance of the verifier on the bits a transmission delivers (``>= block_bits *
#: (1 - BITS_RTOL)``) and on the energy budget (``<= energy_j * (1 + ENERGY_RTOL)``): float
#: rounding of the recomputation only (docs/formats.md). The QoS slack is the model's
#: :data:`~edgeinfer.broadcast.model.QOS_REL_TOL`, the one the solvers select with.
BITS_RTOL = 1e-12
ENERGY_RTOL = 1e-12
#: Largest magnitude of a reusability score: HiGHS takes matrix entries from 1e15 on as infinite
#: (``large_matrix_value``), and with a score of 1e15 ``milp`` and ``latency`` reported a feasible
#: instance infeasible (found by the field-extremes fuzz, docs/formats.md).
MAX_SCORE = 1e12
#: Relative and absolute tolerance on a claimed ``total_latency_s`` / ``energy_j``.
CLAIM_RTOL, CLAIM_ATOL = 1e-9, 1e-12


# --------------------------------------------------------------------------- formats
class ModelEntry(StrictModel):
    id: Id


class DeviceEntry(StrictModel):
    id: Id
    model: Id
    channel_gain: PositiveFloat
    qos: float


class MBAInstanceModel(StrictModel):
    """Instance document (issue 5). ``scores`` is indexed ``[model][position][device]``."""

    problem: Literal["mba"]
    bandwidth_hz: PositiveFloat
    noise_w: PositiveFloat
    energy_j: PositiveFloat
    block_bits: PositiveFloat
    num_positions: PositiveInt
    models: list[ModelEntry]
    devices: list[DeviceEntry]
    scores: list[list[list[float]]]


class BroadcastEntry(StrictModel):
    model: Id
    position: NonNegativeInt
    power_w: PositiveFloat
    duration_s: Annotated[float, Field(gt=0, le=MAX_DURATION_S)]


class MBASolutionModel(StrictModel):
    """Solution document. ``total_latency_s``/``energy_j`` are ``null`` when infeasible."""

    problem: Literal["mba"]
    algorithm: str
    status: str
    broadcast: list[BroadcastEntry]
    assembly: dict[str, list[Id]]
    total_latency_s: NonNegativeFloat | None = None
    energy_j: NonNegativeFloat | None = None
    wall_time_s: NonNegativeFloat = 0.0
    stats: dict[str, Any] = {}


# --------------------------------------------------------------------------- dataclasses
@dataclass(frozen=True, eq=False)
class MBAInstance:
    """Solver-friendly MBA instance (SI units).

    Attributes
    ----------
    scores: ``I[i, n, k]`` float array of shape ``(M, N, K)``.
    own_model: index of each device's task-specific model, shape ``(K,)``.
    gains: channel power gains ``H_k``, shape ``(K,)``.
    qos: thresholds ``c_k`` (C2), shape ``(K,)``.
    """

    bandwidth_hz: float
    noise_w: float
    energy_j: float
    block_bits: float
    model_ids: tuple[str, ...]
    device_ids: tuple[str, ...]
    own_model: np.ndarray
    gains: np.ndarray
    qos: np.ndarray
    scores: np.ndarray

    @property
    def num_models(self) -> int:
        return len(self.model_ids)

    @property
    def num_positions(self) -> int:
        return int(self.scores.shape[1])

    @property
    def num_devices(self) -> int:
        return len(self.device_ids)

    def best_scores(self) -> np.ndarray:
        """Highest score each device can reach with the whole library (sum over n of max_i I)."""
        return self.scores.max(axis=0).sum(axis=0)


class Transmission(NamedTuple):
    """One broadcast: block ``position`` of ``model`` sent at ``power_w`` for ``duration_s``."""

    model: str
    position: int
    power_w: float
    duration_s: float


@dataclass(frozen=True, kw_only=True)
class MBASolution(Solution):
    """P1 solution: broadcast schedule, assemblies, latency (objective) and energy."""

    broadcast: tuple[Transmission, ...] = ()
    assembly: Mapping[str, tuple[str, ...]] = None  # type: ignore[assignment]
    total_latency_s: float = math.inf
    energy_j: float = math.inf


# --------------------------------------------------------------------------- loading
def build_instance(
    *,
    scores: np.ndarray,
    gains: np.ndarray,
    qos: np.ndarray,
    own_model: np.ndarray | None = None,
    bandwidth_hz: float = 100e6,
    noise_w: float = 0.5e-9,
    energy_j: float = 250.0,
    block_bits: float = 5e6,
    model_ids: tuple[str, ...] | None = None,
    device_ids: tuple[str, ...] | None = None,
) -> MBAInstance:
    """An instance from explicit arrays, validated through the document path (:func:`load_instance`).

    ``scores[i, n, k]`` is ``I_{i,n}^{(k)}`` (shape ``(M, N, K)``); ``own_model`` defaults to
    ``k mod M``; the physical constants default to the paper's Section VII values.
    """
    scores = np.asarray(scores, dtype=float)
    M, N, K = scores.shape
    mids = model_ids or tuple(f"m{i}" for i in range(M))
    dids = device_ids or tuple(f"d{k}" for k in range(K))
    own = np.arange(K) % M if own_model is None else np.asarray(own_model)
    doc = {
        "problem": PROBLEM, "bandwidth_hz": float(bandwidth_hz), "noise_w": float(noise_w),
        "energy_j": float(energy_j), "block_bits": float(block_bits), "num_positions": int(N),
        "models": [{"id": m} for m in mids],
        "devices": [{"id": dids[k], "model": mids[int(own[k])], "channel_gain": float(gains[k]),
                     "qos": float(qos[k])} for k in range(K)],
        "scores": scores.tolist(),
    }
    return load_instance(doc)


def load_instance(doc: Any) -> MBAInstance:
    """Parse and validate an instance document (field paths in every error)."""
    m = parse_model(MBAInstanceModel, doc)
    require_nonempty(m.models, "models")
    require_nonempty(m.devices, "devices")
    check_unique_ids([x.id for x in m.models], "models")
    check_unique_ids([d.id for d in m.devices], "devices")
    mids = [x.id for x in m.models]
    index = {mid: i for i, mid in enumerate(mids)}
    for k, d in enumerate(m.devices):
        check_ref(d.model, index, f"devices[{k}].model", "model")
    M, N, K = len(mids), m.num_positions, len(m.devices)
    shape = f"[models={M}][positions={N}][devices={K}]"
    if len(m.scores) != M:
        raise InvalidInstanceError("scores", f"expected shape {shape}, got {len(m.scores)} models")
    for i, per_model in enumerate(m.scores):
        if len(per_model) != N:
            raise InvalidInstanceError(f"scores[{i}]", f"expected {N} positions (shape {shape}), got {len(per_model)}")
        for n, row in enumerate(per_model):
            if len(row) != K:
                raise InvalidInstanceError(f"scores[{i}][{n}]", f"expected {K} devices (shape {shape}), got {len(row)}")
    for k, d in enumerate(m.devices):  # the SNR per watt the rate of eq. (2) needs must be finite
        if not math.isfinite(d.channel_gain / m.noise_w):
            raise InvalidInstanceError(f"devices[{k}].channel_gain", "channel_gain / noise_w overflows (not finite)")
    span = budget_span(m.energy_j, m.bandwidth_hz, m.noise_w, m.block_bits, max(d.channel_gain for d in m.devices), N)
    if not span <= MAX_BUDGET_SPAN:  # the power control's range (model.MAX_BUDGET_SPAN)
        raise InvalidInstanceError("energy_j", f"the budget is {span:.3g} times the least energy of any broadcast "
                                   f"(num_positions * noise_w * block_bits * ln 2 / (bandwidth_hz * the best "
                                   f"channel_gain)); at most {MAX_BUDGET_SPAN:g} is supported")
    scores = np.array(m.scores, dtype=float).reshape(M, N, K)
    big = np.argwhere(np.abs(scores) > MAX_SCORE)
    if big.size:  # HiGHS reads matrix entries from 1e15 on as infinite: milp and latency said "infeasible"
        i, n, k = (int(x) for x in big[0])
        raise InvalidInstanceError(f"scores[{i}][{n}][{k}]", f"{scores[i, n, k]:.10g} is outside [-{MAX_SCORE:g}, "
                                   f"{MAX_SCORE:g}] (the MILP solvers' numeric range)")
    scores.setflags(write=False)
    own = np.array([index[d.model] for d in m.devices], dtype=np.int64)
    gains = np.array([d.channel_gain for d in m.devices], dtype=float)
    qos = np.array([d.qos for d in m.devices], dtype=float)
    for a in (own, gains, qos):
        a.setflags(write=False)
    return MBAInstance(
        bandwidth_hz=m.bandwidth_hz, noise_w=m.noise_w, energy_j=m.energy_j, block_bits=m.block_bits,
        model_ids=tuple(mids), device_ids=tuple(d.id for d in m.devices), own_model=own, gains=gains,
        qos=qos, scores=scores,
    )


def dump_instance(inst: MBAInstance) -> dict[str, Any]:
    return {
        "problem": PROBLEM, "bandwidth_hz": inst.bandwidth_hz, "noise_w": inst.noise_w,
        "energy_j": inst.energy_j, "block_bits": inst.block_bits, "num_positions": inst.num_positions,
        "models": [{"id": m} for m in inst.model_ids],
        "devices": [{"id": inst.device_ids[k], "model": inst.model_ids[int(inst.own_model[k])],
                     "channel_gain": float(inst.gains[k]), "qos": float(inst.qos[k])}
                    for k in range(inst.num_devices)],
        "scores": inst.scores.tolist(),
    }


def load_solution(doc: Any, inst: MBAInstance) -> MBASolution:
    """Parse a solution; dangling ids, bad positions and wrong lengths raise InvalidSolutionError."""
    m = parse_model(MBASolutionModel, doc, error=InvalidSolutionError)
    status = parse_status(m.status)
    mset = set(inst.model_ids)
    N = inst.num_positions
    for j, b in enumerate(m.broadcast):
        if b.model not in mset:
            raise InvalidSolutionError(f"broadcast[{j}].model", f"unknown model {b.model!r}")
        if b.position >= N:
            raise InvalidSolutionError(f"broadcast[{j}].position", f"must be below num_positions={N}")
    dset = set(inst.device_ids)
    for dev, models in m.assembly.items():
        if dev not in dset:
            raise InvalidSolutionError(f"assembly.{dev}", f"unknown device {dev!r}")
        if len(models) != N:
            raise InvalidSolutionError(f"assembly.{dev}", f"expected {N} model ids (one per position), got {len(models)}")
        for n, mid in enumerate(models):
            if mid not in mset:
                raise InvalidSolutionError(f"assembly.{dev}[{n}]", f"unknown model {mid!r}")
    if status.has_solution:
        missing = [d for d in inst.device_ids if d not in m.assembly]
        if missing:
            raise InvalidSolutionError("assembly", f"missing device {missing[0]!r}")
    lat = math.inf if m.total_latency_s is None else m.total_latency_s
    return MBASolution(
        problem=PROBLEM, algorithm=m.algorithm, status=status, objective=lat, wall_time_s=m.wall_time_s,
        stats=dict(m.stats),
        broadcast=tuple(Transmission(b.model, b.position, b.power_w, b.duration_s) for b in m.broadcast),
        assembly={d: tuple(v) for d, v in m.assembly.items()},
        total_latency_s=lat, energy_j=math.inf if m.energy_j is None else m.energy_j,
    )


def _finite_or_none(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def dump_solution(s: MBASolution) -> dict[str, Any]:
    return {
        "problem": PROBLEM, "algorithm": s.algorithm, "status": s.status.value,
        "broadcast": [{"model": t.model, "position": int(t.position), "power_w": float(t.power_w),
                       "duration_s": float(t.duration_s)} for t in s.broadcast],
        "assembly": {d: list(v) for d, v in (s.assembly or {}).items()},
        "total_latency_s": _finite_or_none(s.total_latency_s),
        "energy_j": _finite_or_none(s.energy_j),
        "wall_time_s": float(s.wall_time_s),
        "stats": {str(k): _clean(v) for k, v in dict(s.stats).items()},
    }


def _clean(v: Any) -> Any:
    """JSON-safe stats: non-finite floats become null, numpy scalars plain numbers."""
    if isinstance(v, dict):
        return {str(k): _clean(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_clean(x) for x in v]
    if isinstance(v, bool | str) or v is None:
        return v
    if isinstance(v, int | np.integer):
        return int(v)
    if isinstance(v, float | np.floating):
        return float(v) if math.isfinite(v) else None
    return str(v)


# --------------------------------------------------------------------------- verification
def infeasibility_certificate(inst: MBAInstance) -> str | None:
    """A reason the instance has no feasible solution, checkable from the instance alone.

    (a) a device whose best assembly from the whole library misses its QoS (C2);
    (b) the energy budget is below the least energy any feasible broadcast needs: every
        device needs one block per position, so ``N`` blocks at least must be sent, each
        needing ``N0 Q ln2 / (B H)`` with ``H`` at most the best gain among their users.
        The bound used is per position, the least-energy block serving all devices at once
        has worst gain ``min_k H_k``: ``N * N0 Q ln2 / (B min_k H_k)``, raised to the least
        energy within the longest transmission (:func:`~edgeinfer.broadcast.model.least_energy_j`).
    """
    best = inst.best_scores()
    bad = np.flatnonzero(best < inst.qos - qos_tol(inst.qos))
    if bad.size:
        k = int(bad[0])
        return (f"device {inst.device_ids[k]!r} cannot reach qos {inst.qos[k]:g}: its best assembly "
                f"from the whole library scores {best[k]:g}")
    # every device receives one block per position; the weakest device needs N blocks at gain <= H_min,
    # each lasting at most MAX_DURATION_S
    e_min = inst.num_positions * least_energy_j(inst.gains.min(keepdims=True), inst.bandwidth_hz, inst.noise_w,
                                                inst.block_bits)
    if e_min >= inst.energy_j:
        k = int(np.argmin(inst.gains))
        return (f"energy budget {inst.energy_j:g} J is below the least energy {e_min:g} J needed to deliver "
                f"{inst.num_positions} blocks to device {inst.device_ids[k]!r} (the weakest channel)")
    return None


def verify(inst: MBAInstance, s: MBASolution) -> VerifyReport:
    """Recompute feasibility (C1-C3, delivery) and the total latency from the instance alone."""
    v = Violations()
    if not s.status.has_solution:
        reason = infeasibility_certificate(inst)
        if reason is None:
            v.add(f"status {s.status.value} but the instance is not certifiably infeasible "
                  "(every device can reach its qos and the budget covers the weakest device)")
        return VerifyReport.from_violations(v, math.inf, s.objective, details={"certificate": reason})
    B, N0, Q = inst.bandwidth_hz, inst.noise_w, inst.block_bits
    mindex = {m: i for i, m in enumerate(inst.model_ids)}
    # transmissions of each block
    by_block: dict[tuple[int, int], list[int]] = {}
    for j, t in enumerate(s.broadcast):
        if not (math.isfinite(t.power_w) and math.isfinite(t.duration_s)) or t.power_w <= 0 or t.duration_s <= 0 \
                or t.duration_s > MAX_DURATION_S:
            v.add(f"broadcast[{j}]: power and duration must be finite and positive (duration <= {MAX_DURATION_S:g} s)")
            continue
        by_block.setdefault((mindex[t.model], int(t.position)), []).append(j)
    users: dict[int, list[int]] = {j: [] for j in range(len(s.broadcast))}
    scores = np.zeros(inst.num_devices)
    overflow: set[int] = set()
    for k, dev in enumerate(inst.device_ids):
        models = (s.assembly or {}).get(dev)
        if models is None:
            v.add(f"device {dev!r} has no assembly")
            continue
        H = float(inst.gains[k])
        for n, mid in enumerate(models):
            i = mindex[mid]
            scores[k] += inst.scores[i, n, k]
            best_bits, best_j = -1.0, None
            for j in by_block.get((i, n), []):
                t = s.broadcast[j]
                with np.errstate(all="ignore"):
                    bits = t.duration_s * float(rate_bps(t.power_w, H, B, N0))  # eq. (2)
                if not math.isfinite(bits):  # p H / N0 overflows: no physical link delivers this
                    if j not in overflow:
                        overflow.add(j)
                        v.add(f"broadcast[{j}]: the link rate at power {t.power_w:g} W overflows (not finite)")
                    continue
                if bits > best_bits:
                    best_bits, best_j = bits, j
            if best_j is None:
                v.add(f"device {dev!r} assembles block {n} of {mid!r}, which is never broadcast"
                      + (" (at a finite rate)" if by_block.get((i, n)) else ""))
            elif best_bits < Q * (1 - BITS_RTOL):
                v.add(f"device {dev!r} receives only {best_bits:.6g} of {Q:g} bits of block {n} of {mid!r}")
            else:
                users[best_j].append(k)
        v.check(scores[k] >= inst.qos[k] - qos_tol(inst.qos[k]),
                f"device {dev!r} assembles a model scoring {scores[k]:.6g} < qos {inst.qos[k]:g} (C2)")
    with np.errstate(all="ignore"):
        energy = math.fsum(t.power_w * t.duration_s for t in s.broadcast)
        latency = math.fsum(t.duration_s for t in s.broadcast)
    if not (math.isfinite(energy) and math.isfinite(latency)):
        v.add(f"energy {energy!r} J or latency {latency!r} s is not finite (overflow)")
    v.check(energy <= inst.energy_j * (1 + ENERGY_RTOL),
            f"energy {energy:.6g} J exceeds the budget {inst.energy_j:g} J (C3)")
    if math.isfinite(s.energy_j) and not math.isclose(energy, s.energy_j, rel_tol=CLAIM_RTOL, abs_tol=CLAIM_ATOL):
        v.add(f"reported energy {s.energy_j!r} J differs from the recomputed {energy!r} J")
    if not math.isclose(latency, s.total_latency_s, rel_tol=CLAIM_RTOL, abs_tol=CLAIM_ATOL):
        v.add(f"reported total_latency_s {s.total_latency_s!r} differs from the recomputed {latency!r}")
    worst = [float(inst.gains[u].min()) if u else None for u in (users[j] for j in range(len(s.broadcast)))]
    details = {"scores": scores.tolist(), "energy_j": energy, "num_broadcast": len(s.broadcast),
               "worst_gain": worst, "unused_transmissions": sum(1 for u in users.values() if not u)}
    return VerifyReport.from_violations(v, latency, s.objective, details=details, rel_tol=CLAIM_RTOL,
                                        abs_tol=CLAIM_ATOL)


SPEC = register_problem(ProblemSpec(
    name=PROBLEM,
    description="MBA: broadcast reusable model blocks, assemble per-device models (latency under energy budget)",
    instance_model=MBAInstanceModel,
    solution_model=MBASolutionModel,
    load_instance=load_instance,
    load_solution=load_solution,
    dump_solution=dump_solution,
    verify=verify,
    dump_instance=dump_instance,
    instance_type=MBAInstance,
    sense="min",
    objective="latency (s)",
))
