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
from typing import Any, Literal

import numpy as np

from edgeinfer.core.errors import InvalidInstanceError, InvalidSolutionError, UnknownNameError
from edgeinfer.core.registry import ProblemSpec, register_problem
from edgeinfer.core.solution import Solution, VerifyReport, Violations, json_safe
from edgeinfer.core.validation import (
    Id,
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

__all__ = ["PROBLEM", "SPEC", "SlotInstance", "SlotSolution", "load_instance", "dump_instance", "load_solution",
           "dump_solution", "verify"]

PROBLEM = "lymdo_slot"
_TOL = 1e-9
_MAX_NAME = 100


class SystemModel(StrictModel):
    bandwidth_hz: PositiveFloat = 5e6
    noise_psd_dbm_per_hz: float = -174.0
    tx_power_w: PositiveFloat = 0.1
    V: PositiveFloat = 10.0
    rho_cycles_per_mac: PositiveFloat = 0.12
    kappa: PositiveFloat = 1e-28
    gamma_ue: NonNegativeFloat = 0.2
    gamma_es: NonNegativeFloat = 0.8
    f_ue_max_hz: PositiveFloat = 1.5e9
    f_es_max_hz: PositiveFloat = 15e9
    slot_s: PositiveFloat = 1.0
    energy_unit_j: PositiveFloat = 1.0
    memory_unit_bytes: PositiveFloat = 1e9


class DeviceModel(StrictModel):
    id: Id
    model: str
    channel_gain: PositiveFloat
    arrival_rate: NonNegativeFloat
    energy_queue: NonNegativeFloat = 0.0
    memory_queue: NonNegativeFloat = 0.0
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
    objective: float
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
    return SlotSolution(
        problem=PROBLEM, algorithm=m.algorithm, status=status, objective=m.objective, wall_time_s=m.wall_time_s,
        ids=inst.ids, split=np.array([d.split for d in ds], dtype=np.int64),
        f_ue_hz=np.array([d.f_ue_hz for d in ds]), f_es_hz=np.array([d.f_es_hz for d in ds]),
        alpha=np.array([d.alpha for d in ds]), stats=dict(m.stats),
    )


def dump_solution(s: SlotSolution) -> dict:
    return {
        "problem": PROBLEM, "algorithm": s.algorithm, "status": s.status.value, "objective": float(s.objective),
        "wall_time_s": float(s.wall_time_s),
        "devices": [
            {"id": s.ids[i], "split": int(s.split[i]), "f_ue_hz": float(s.f_ue_hz[i]),
             "f_es_hz": float(s.f_es_hz[i]), "alpha": float(s.alpha[i])}
            for i in range(len(s.ids))
        ],
        "stats": json_safe(dict(s.stats)),
    }


def verify(inst: SlotInstance, s: SlotSolution) -> VerifyReport:
    """Recompute C3-C8 and objective (11) from the instance alone."""
    v = Violations()
    c, tb = inst.cfg, inst.tables
    for i, dev in enumerate(inst.ids):
        if not 0 <= s.split[i] <= tb.num_layers[i]:
            v.add(f"{dev}: split {s.split[i]} outside 0..{tb.num_layers[i]} (C8)")
            return VerifyReport.from_violations(v, math.inf, s.objective)
        if inst.split[i] is not None and s.split[i] != inst.split[i]:
            v.add(f"{dev}: split {s.split[i]} differs from the instance's fixed split {inst.split[i]}")
    v.check(float(s.f_es_hz.sum()) <= c.f_es_max_hz * (1 + _TOL), f"edge speeds sum to {s.f_es_hz.sum():g} Hz > f_es_max (C3)")
    v.check(float(s.alpha.sum()) <= 1 + _TOL, f"bandwidth shares sum to {s.alpha.sum():.12g} > 1 (C4)")
    for i, dev in enumerate(inst.ids):
        v.check(s.f_ue_hz[i] <= c.f_ue_max_hz * (1 + _TOL), f"{dev}: f_ue {s.f_ue_hz[i]:g} Hz > f_ue_max (C6)")
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
    m = evaluate_slot(c, tb, s.split, s.f_ue_hz, s.f_es_hz, s.alpha, inst.h, inst.lam)
    obj = dpp_objective(c, m, inst.Q, inst.W)
    return VerifyReport.from_violations(v, obj, s.objective, rel_tol=1e-9,
                                        details={"delay_s": m.delay_s.tolist(), "energy_j": m.energy_j.tolist()})


SPEC = register_problem(ProblemSpec(
    PROBLEM, "LyMDO: one slot's splits and resources minimising drift-plus-penalty (11)",
    SlotInstanceModel, SlotSolutionModel, load_instance, load_solution, dump_solution, verify, dump_instance,
    instance_type=SlotInstance, sense="min", objective="drift-plus-penalty (11)",
))

