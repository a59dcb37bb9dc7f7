"""``lymdo_slot``: one slot of LyMDO as a file-based problem (``edgeinfer solve/verify``).

An instance is the state of one slot (channel gains, arrival rates, virtual queues) and,
optionally, each device's split; a solution gives every device's split and resources.
The objective is the drift-plus-penalty value (11) of the slot, recomputed by ``verify``
with :func:`edgeinfer.online.model.evaluate_slot`. Solvers: :mod:`~edgeinfer.online.solvers.convex`
(``convex``), :mod:`~edgeinfer.online.solvers.exhaustive` (``exhaustive``) and
:mod:`~edgeinfer.online.solvers.greedy` (``greedy-dpp``). Format: ``docs/formats.md`` (lymdo_slot).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field

from edgeinfer.core.errors import InvalidInstanceError, InvalidSolutionError, UnknownNameError
from edgeinfer.core.registry import ProblemSpec, register_problem
from edgeinfer.core.solution import Solution, VerifyReport, Violations, json_safe
from edgeinfer.core.validation import (
    Hertz,
    Id,
    NoisePsdDbmPerHz,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    StrictModel,
    check_unique_ids,
    match_ids,
    parse_model,
    parse_status,
    require_nonempty,
)
from edgeinfer.dnn.profiles import list_profiles, load_profile
from edgeinfer.online.model import (
    DeviceTables,
    LyMDOConfig,
    build_tables,
    dpp_objective,
    evaluate_slot,
)
from edgeinfer.system.rates import spectral_efficiency

__all__ = ["PROBLEM", "SPEC", "SlotInstance", "SlotSolution", "load_instance", "dump_instance", "load_solution",
           "dump_solution", "verify"]

PROBLEM = "lymdo_slot"
#: the largest arrival rate (req/s) of a device, also ``edgeinfer train``'s ``--arrival-rate`` limit:
#: 1.7e308 crashed exhaustive and greedy-dpp, 1e300 the environment's Poisson draw
MAX_ARRIVAL_RATE = 1e9
_MAX_NAME = 100


class SystemModel(StrictModel):
    bandwidth_hz: Hertz = 5e6
    noise_psd_dbm_per_hz: NoisePsdDbmPerHz = -174.0
    #: [1e-15 W, 1 MW]: beyond, rates underflow or overflow in double precision
    tx_power_w: Annotated[float, Field(ge=1e-15, le=1e6)] = 0.1
    V: PositiveFloat = 10.0
    rho_cycles_per_mac: PositiveFloat = 0.12
    kappa: PositiveFloat = 1e-28
    gamma_ue: NonNegativeFloat = 0.2
    gamma_es: NonNegativeFloat = 0.8
    #: 1e300 Hz on the device and 5e-324 or 1.7e308 Hz on the server crashed exhaustive and
    #: greedy-dpp (division by zero, a non-finite clock in the solution)
    f_ue_max_hz: Hertz = 1.5e9
    f_es_max_hz: Hertz = 15e9
    slot_s: PositiveFloat = 1.0
    energy_unit_j: PositiveFloat = 1.0
    memory_unit_bytes: PositiveFloat = 1e9


class DeviceModel(StrictModel):
    id: Id
    model: str
    #: ranges wide beyond anything physical that keep the bandwidth split's arithmetic finite: a gain of
    #: 5e-324 or 1e300, an arrival rate or energy queue of 1.7e308 crashed exhaustive and greedy-dpp
    #: (math domain error; the field-extremes fuzz, tests/fuzz/test_field_extremes.py)
    channel_gain: Annotated[float, Field(ge=1e-30, le=1e6)]
    arrival_rate: Annotated[float, Field(ge=0.0, le=MAX_ARRIVAL_RATE)]
    energy_queue: Annotated[float, Field(ge=0.0, le=1e15)] = 0.0
    memory_queue: Annotated[float, Field(ge=0.0, le=1e15)] = 0.0
    split: NonNegativeInt | None = None


class SlotInstanceModel(StrictModel):
    problem: Literal["lymdo_slot"]
    system: SystemModel = SystemModel()
    devices: list[DeviceModel]


class DeviceDecisionModel(StrictModel):
    id: Id
    split: NonNegativeInt
    f_ue_hz: NonNegativeFloat
    f_es_hz: NonNegativeFloat
    alpha: NonNegativeFloat
    delay_s: NonNegativeFloat | None = None
    energy_j: NonNegativeFloat | None = None
    memory_bytes: NonNegativeFloat | None = None


class SlotSolutionModel(StrictModel):
    problem: Literal["lymdo_slot"]
    algorithm: str
    status: str
    objective: float | None = None  # null (or absent) for a solution without one (status infeasible)
    wall_time_s: NonNegativeFloat = 0.0
    devices: list[DeviceDecisionModel]
    stats: dict[str, Any] = {}


@dataclass(frozen=True)
class SlotInstance:
    """One slot's state: the system (``cfg``, ``tables``), channel gains ``h``, observed arrival
    rates ``lam`` (req/s), virtual queues ``Q`` (energy) and ``W`` (memory), and each device's
    split where the instance fixes it (``None``: the solver chooses)."""

    ids: tuple[str, ...]
    cfg: LyMDOConfig
    tables: DeviceTables
    h: np.ndarray
    lam: np.ndarray
    Q: np.ndarray
    W: np.ndarray
    split: tuple[int | None, ...]


@dataclass(frozen=True, kw_only=True)
class SlotSolution(Solution):
    """Per device: split, local speed ``f_ue_hz``, edge speed ``f_es_hz``, bandwidth share ``alpha``."""

    ids: tuple[str, ...]
    split: np.ndarray
    f_ue_hz: np.ndarray
    f_es_hz: np.ndarray
    alpha: np.ndarray
    delay_s: tuple[float | None, ...] | None = None
    energy_j: tuple[float | None, ...] | None = None
    memory_bytes: tuple[float | None, ...] | None = None


def load_instance(doc: object) -> SlotInstance:
    m = parse_model(SlotInstanceModel, doc)
    require_nonempty(m.devices, "devices")
    check_unique_ids([d.id for d in m.devices], "devices")
    profiles = []
    for i, d in enumerate(m.devices):
        # a model is a NAME (shipped or registered profile), never a path: no instance chooses a file
        if len(d.model) > _MAX_NAME:
            raise InvalidInstanceError(f"devices[{i}].model", f"is not a model profile name (longer than {_MAX_NAME} "
                                       f"characters); known: {', '.join(list_profiles())}")
        try:
            profiles.append(load_profile(d.model))
        except UnknownNameError as exc:
            raise InvalidInstanceError(f"devices[{i}].model", str(exc)) from None
        if d.split is not None and d.split > profiles[-1].num_layers:
            raise InvalidInstanceError(f"devices[{i}].split",
                                       f"must be at most {profiles[-1].num_layers} (layers of {d.model})")
    models = tuple(d.model for d in m.devices)
    budgets = {mm: 1.0 for mm in models}  # long-term budgets play no role within one slot
    s = m.system
    cfg = LyMDOConfig(models=models, bandwidth_hz=s.bandwidth_hz, noise_psd_dbm_per_hz=s.noise_psd_dbm_per_hz,
                      tx_power_w=s.tx_power_w, V=s.V, rho_cycles_per_mac=s.rho_cycles_per_mac, kappa=s.kappa,
                      gamma_ue=s.gamma_ue, gamma_es=s.gamma_es, f_ue_max_hz=s.f_ue_max_hz, f_es_max_hz=s.f_es_max_hz,
                      slot_s=s.slot_s, energy_unit_j=s.energy_unit_j, memory_unit_bytes=s.memory_unit_bytes,
                      energy_budget_j=budgets, memory_budget_bytes=dict(budgets))
    tables = build_tables(cfg, profiles)
    return SlotInstance(
        ids=tuple(d.id for d in m.devices), cfg=cfg, tables=tables,
        h=np.array([d.channel_gain for d in m.devices]), lam=np.array([d.arrival_rate for d in m.devices]),
        Q=np.array([d.energy_queue for d in m.devices]), W=np.array([d.memory_queue for d in m.devices]),
        split=tuple(d.split for d in m.devices),
    )


def dump_instance(inst: SlotInstance) -> dict:
    c = inst.cfg
    return {
        "problem": PROBLEM,
        "system": {k: getattr(c, k) for k in SystemModel.model_fields},
        "devices": [
            {"id": inst.ids[i], "model": inst.tables.models[i], "channel_gain": float(inst.h[i]),
             "arrival_rate": float(inst.lam[i]), "energy_queue": float(inst.Q[i]),
             "memory_queue": float(inst.W[i]), **({"split": inst.split[i]} if inst.split[i] is not None else {})}
            for i in range(len(inst.ids))
        ],
    }


def load_solution(doc: object, inst: SlotInstance) -> SlotSolution:
    m = parse_model(SlotSolutionModel, doc, error=InvalidSolutionError)
    status = parse_status(m.status)
    ds = match_ids(m.devices, inst.ids, "devices", "device")

    def claims(name: str) -> tuple[float | None, ...] | None:
        vals = tuple(getattr(d, name) for d in ds)
        return None if all(x is None for x in vals) else vals

    return SlotSolution(
        problem=PROBLEM, algorithm=m.algorithm, status=status,
        objective=math.inf if m.objective is None else m.objective, wall_time_s=m.wall_time_s,
        ids=inst.ids, split=np.array([d.split for d in ds], dtype=np.int64),
        f_ue_hz=np.array([d.f_ue_hz for d in ds]), f_es_hz=np.array([d.f_es_hz for d in ds]),
        alpha=np.array([d.alpha for d in ds]), stats=dict(m.stats),
        delay_s=claims("delay_s"), energy_j=claims("energy_j"), memory_bytes=claims("memory_bytes"),
    )


def dump_solution(s: SlotSolution) -> dict:
    devs = []
    for i in range(len(s.ids)):
        d: dict[str, Any] = {"id": s.ids[i], "split": int(s.split[i]), "f_ue_hz": float(s.f_ue_hz[i]),
                             "f_es_hz": float(s.f_es_hz[i]), "alpha": float(s.alpha[i])}
        for name in ("delay_s", "energy_j", "memory_bytes"):
            vals = getattr(s, name)
            if vals is not None and vals[i] is not None and math.isfinite(vals[i]):
                d[name] = float(vals[i])
        devs.append(d)
    return {
        "problem": PROBLEM, "algorithm": s.algorithm, "status": s.status.value,
        "objective": float(s.objective) if math.isfinite(s.objective) else None,
        "wall_time_s": float(s.wall_time_s), "devices": devs, "stats": json_safe(dict(s.stats)),
    }


#: tolerances of ``verify`` (docs/formats.md, lymdo_slot): resource sums and caps (C3, C4, C6)
#: relative; the objective and the claimed per-device values relative with a tiny absolute floor
RESOURCE_REL_TOL = 1e-12
OBJECTIVE_REL_TOL = 1e-9
OBJECTIVE_ABS_TOL = 1e-12
CLAIM_REL_TOL = 1e-9


def _allowed_splits(inst: SlotInstance, i: int) -> list[int]:
    """Splits of device ``i`` for which C7 can hold (the instance's own, where it fixes one)."""
    tb, c = inst.tables, inst.cfg
    fixed = inst.split[i]
    cands = [fixed] if fixed is not None else list(range(int(tb.num_layers[i]) + 1))
    return [int(k) for k in cands if tb.cycles_ue[i][k] * inst.lam[i] < c.f_ue_max_hz]


def lower_bound_terms(inst: SlotInstance, i: int, k: int) -> float:
    """A lower bound of device ``i``'s term of (11) at split ``k`` over every feasible resource:
    the local speed at least ``d lambda`` (C7) for the energy and at most ``f_ue_max`` for the
    delay, the whole band (the rate ``alpha W log2(1 + s / alpha)`` grows with alpha) and the
    whole edge for the transfer and edge delays."""
    c, tb = inst.cfg, inst.tables
    d_ue, d_es = float(tb.cycles_ue[i][k]), float(tb.cycles_es[i][k])
    psi, mem = float(tb.psi_bits[i][k]), float(tb.memory_bytes[i][k])
    lam = float(inst.lam[i])
    snr = c.tx_power_w * float(inst.h[i]) / (c.bandwidth_hz * c.noise_psd_w_per_hz)
    with np.errstate(all="ignore"):
        rate = c.bandwidth_hz * float(spectral_efficiency(snr))
        t_tr = 0.0 if psi == 0 else (psi / rate if rate > 0 else math.inf)
        t = d_ue / c.f_ue_max_hz + t_tr + d_es / c.f_es_max_hz
        e = (c.kappa * (d_ue * lam) ** 2 * d_ue + c.tx_power_w * t_tr) * lam * c.slot_s
        val = float(inst.Q[i] * e / c.energy_unit_j + inst.W[i] * mem / c.memory_unit_bytes + c.V * t)
    return val if not math.isnan(val) else math.inf


def infeasibility_certificate(inst: SlotInstance) -> str | None:
    """Why no solution of the slot exists (or none has a finite objective in floating point),
    checkable from the instance alone: a device whose fixed split breaks C7 at any speed, or whose
    every admissible split has a non-finite lower bound of its term of (11) (e.g. a rate that
    rounds to zero), or lower bounds whose sum overflows."""
    total = 0.0
    for i, dev in enumerate(inst.ids):
        ks = _allowed_splits(inst, i)
        if not ks:
            k = inst.split[i]
            return (f"{dev}: split {k} needs f_ue > {inst.tables.cycles_ue[i][k] * inst.lam[i]:g} Hz for a stable "
                    f"local queue, above f_ue_max = {inst.cfg.f_ue_max_hz:g} Hz (C7)")
        lb = min(lower_bound_terms(inst, i, k) for k in ks)
        if not math.isfinite(lb):
            return f"{dev}: no admissible split has a finite delay-energy-memory cost (rate or cost out of range)"
        total += lb
    if not math.isfinite(total):
        return "the lower bounds of the devices' costs sum beyond the floating-point range"
    return None


def verify(inst: SlotInstance, s: SlotSolution) -> VerifyReport:
    """Recompute C3-C8 and objective (11) from the instance alone, with the solvers' exact model
    (:func:`~edgeinfer.online.model.evaluate_slot` with ``exact=True``: no delay cap)."""
    v = Violations()
    c, tb = inst.cfg, inst.tables
    if not s.status.has_solution:
        reason = infeasibility_certificate(inst)
        if reason is None:
            v.add(f"status {s.status.value} but the slot is not certifiably infeasible (every device has an "
                  "admissible split with a finite cost)")
        return VerifyReport.from_violations(v, math.inf, None, details={"certificate": reason})
    if not math.isfinite(s.objective):
        v.add(f"status {s.status.value} but the objective is missing or not finite")
    rt = 1 + RESOURCE_REL_TOL
    for i, dev in enumerate(inst.ids):
        if not 0 <= s.split[i] <= tb.num_layers[i]:
            v.add(f"{dev}: split {s.split[i]} outside 0..{tb.num_layers[i]} (C8)")
            return VerifyReport.from_violations(v, math.inf, s.objective)
        if inst.split[i] is not None and s.split[i] != inst.split[i]:
            v.add(f"{dev}: split {s.split[i]} differs from the instance's fixed split {inst.split[i]}")
        for name, x in (("f_ue_hz", s.f_ue_hz[i]), ("f_es_hz", s.f_es_hz[i]), ("alpha", s.alpha[i])):
            if not (math.isfinite(x) and x >= 0):
                v.add(f"{dev}: {name} {x!r} must be finite and non-negative")
    if v:
        return VerifyReport.from_violations(v, math.inf, s.objective)
    with np.errstate(over="ignore", invalid="ignore"):
        f_es_sum, a_sum = float(s.f_es_hz.sum()), float(s.alpha.sum())
    v.check(f_es_sum <= c.f_es_max_hz * rt, f"edge speeds sum to {f_es_sum:g} Hz > f_es_max (C3)")
    v.check(a_sum <= rt, f"bandwidth shares sum to {a_sum:.12g} > 1 (C4)")
    for i, dev in enumerate(inst.ids):
        v.check(s.f_ue_hz[i] <= c.f_ue_max_hz * rt, f"{dev}: f_ue {s.f_ue_hz[i]:g} Hz > f_ue_max (C6)")
        v.check(s.f_es_hz[i] <= c.f_es_max_hz * rt, f"{dev}: f_es {s.f_es_hz[i]:g} Hz > f_es_max (C3)")
        v.check(s.alpha[i] <= rt, f"{dev}: alpha {s.alpha[i]:g} > 1 (C4)")
        d_ue = tb.cycles_ue[i][s.split[i]]
        if d_ue > 0:
            v.check(s.f_ue_hz[i] > d_ue * inst.lam[i] and s.f_ue_hz[i] > 0,
                    f"{dev}: local queue unstable, f_ue/d = {s.f_ue_hz[i] / d_ue:g} <= lambda = {inst.lam[i]:g} (C7)")
        if tb.psi_bits[i][s.split[i]] > 0:
            v.check(s.alpha[i] > 0, f"{dev}: sends a feature map with zero bandwidth")
        if tb.cycles_es[i][s.split[i]] > 0:
            v.check(s.f_es_hz[i] > 0, f"{dev}: edge part with zero edge speed")
    if v:
        return VerifyReport.from_violations(v, math.inf, s.objective)
    m = evaluate_slot(c, tb, s.split, s.f_ue_hz, s.f_es_hz, s.alpha, inst.h, inst.lam, exact=True)
    with np.errstate(over="ignore", invalid="ignore"):
        obj = dpp_objective(c, m, inst.Q, inst.W)
    delay = m.delay_s
    for name, arr in (("delay_s", delay), ("energy_j", m.energy_j), ("memory_bytes", m.memory_bytes)):
        bad = [inst.ids[i] for i in range(len(arr)) if not math.isfinite(float(arr[i]))]
        if bad:
            v.add(f"{bad[0]}: recomputed {name} is not finite (a rate, delay or energy out of the floating-point "
                  "range)")
    if not math.isfinite(obj):
        v.add("the recomputed objective (11) is not finite (out of the floating-point range)")
    for name, mine, theirs in (("delay_s", delay, s.delay_s), ("energy_j", m.energy_j, s.energy_j),
                               ("memory_bytes", m.memory_bytes, s.memory_bytes)):
        if theirs is None:
            continue
        for i, claim in enumerate(theirs):
            if claim is not None and not math.isclose(float(mine[i]), claim, rel_tol=CLAIM_REL_TOL,
                                                      abs_tol=OBJECTIVE_ABS_TOL):
                v.add(f"{inst.ids[i]}: reported {name} {claim!r} differs from the recomputed {float(mine[i])!r}")
    return VerifyReport.from_violations(v, obj, s.objective, rel_tol=OBJECTIVE_REL_TOL, abs_tol=OBJECTIVE_ABS_TOL,
                                        details={"delay_s": delay.tolist(), "energy_j": m.energy_j.tolist(),
                                                 "memory_bytes": m.memory_bytes.tolist()})


SPEC = register_problem(ProblemSpec(
    PROBLEM, "LyMDO: one slot's splits and resources minimising drift-plus-penalty (11)",
    SlotInstanceModel, SlotSolutionModel, load_instance, load_solution, dump_solution, verify, dump_instance,
    instance_type=SlotInstance, sense="min", objective="drift-plus-penalty (11)",
))

