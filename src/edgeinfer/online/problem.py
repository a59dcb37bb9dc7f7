"""``lymdo_slot``: one slot of LyMDO as a file-based problem (``edgeinfer solve/verify``).

An instance is the state of one slot (channel gains, arrival rates, virtual queues) and,
optionally, each device's split; a solution gives every device's split and resources.
The objective is the drift-plus-penalty value (11) of the slot. Solvers:

* ``convex`` (exact): the splits given in the instance, optimal resources (P3-P5).
* ``exhaustive`` (exact): every split combination with optimal resources; optimal for P2.
* ``greedy-dpp``: coordinate descent over the splits with optimal resources.
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass
from typing import Literal

import numpy as np

from edgeinfer.core.errors import (
    InvalidInstanceError,
    InvalidSolutionError,
    UnknownNameError,
    UnsupportedInstanceError,
)
from edgeinfer.core.registry import ProblemSpec, register_problem, register_solver
from edgeinfer.core.solution import Solution, SolveOptions, VerifyReport, Violations
from edgeinfer.core.status import SolveStatus
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
from edgeinfer.online.allocation import allocate, greedy_split
from edgeinfer.online.system import (
    DeviceTables,
    LyMDOConfig,
    build_tables,
    dpp_objective,
    evaluate_slot,
    get_profile,
)

__all__ = ["PROBLEM", "SlotInstance", "SlotSolution"]

PROBLEM = "lymdo_slot"
_TOL = 1e-9


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


@dataclass(frozen=True)
class SlotInstance:
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
        try:
            profiles.append(get_profile(d.model))
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
        alpha=np.array([d.alpha for d in ds]),
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


def _solution(inst: SlotInstance, algorithm: str, status: SolveStatus, split: np.ndarray, stats: dict) -> SlotSolution:
    al = allocate(inst.cfg, inst.tables, split, inst.h, inst.lam, inst.Q, inst.W)
    if al.repaired.any():  # the given split cannot be stable: report infeasible with the repair noted
        stats = {**stats, "repaired": al.repaired.tolist()}
    return SlotSolution(problem=PROBLEM, algorithm=algorithm, status=status, objective=al.objective,
                        ids=inst.ids, split=al.split, f_ue_hz=al.f_ue_hz, f_es_hz=al.f_es_hz, alpha=al.alpha,
                        stats=stats)


def _max_split(inst: SlotInstance, i: int) -> int:
    cyc = inst.tables.cycles_ue[i]
    return max(k for k in range(len(cyc)) if k == 0 or cyc[k] * inst.lam[i] < inst.cfg.f_ue_max_hz)


register_problem(ProblemSpec(
    PROBLEM, "LyMDO: one slot's splits and resources minimising drift-plus-penalty (11)",
    SlotInstanceModel, SlotSolutionModel, load_instance, load_solution, dump_solution, verify, dump_instance,
    instance_type=SlotInstance, sense="min", objective="drift-plus-penalty (11)",
))


@register_solver(PROBLEM, "convex", "optimal resources for the instance's splits (P3 Newton, eq. 23, P5 KKT)",
                 exact=True)
def solve_convex(inst: SlotInstance, *, options: SolveOptions) -> SlotSolution:
    if any(s is None for s in inst.split):
        k = next(i for i, s in enumerate(inst.split) if s is None)
        raise UnsupportedInstanceError(f"convex needs every device's split (devices[{k}].split is missing); "
                                       "use greedy-dpp or exhaustive to choose splits")
    split = np.array(inst.split, dtype=np.int64)
    for i in range(len(split)):
        if inst.tables.cycles_ue[i][split[i]] * inst.lam[i] >= inst.cfg.f_ue_max_hz:
            return SlotSolution(problem=PROBLEM, algorithm="convex", status=SolveStatus.INFEASIBLE,
                                objective=math.inf, ids=inst.ids, split=split, f_ue_hz=np.zeros(len(split)),
                                f_es_hz=np.zeros(len(split)), alpha=np.zeros(len(split)),
                                stats={"message": f"{inst.ids[i]}: C7 cannot hold for split {split[i]}"})
    return _solution(inst, "convex", SolveStatus.OPTIMAL, split, {})


@register_solver(PROBLEM, "greedy-dpp", "coordinate descent over splits, optimal resources inside")
def solve_greedy(inst: SlotInstance, *, options: SolveOptions) -> SlotSolution:
    fixed = [i for i, s in enumerate(inst.split) if s is not None]
    if fixed:
        raise UnsupportedInstanceError("greedy-dpp chooses every split; remove the splits or use convex")
    sp, _ = greedy_split(inst.cfg, inst.tables, inst.h, inst.lam, inst.Q, inst.W)
    return _solution(inst, "greedy-dpp", SolveStatus.FEASIBLE, sp, {})


@register_solver(PROBLEM, "exhaustive", "every split combination with optimal resources (optimal for P2)",
                 exact=True)
def solve_exhaustive(inst: SlotInstance, *, options: SolveOptions) -> SlotSolution:
    choices = [[s] if s is not None else list(range(_max_split(inst, i) + 1)) for i, s in enumerate(inst.split)]
    total = math.prod(len(c) for c in choices)
    limit = int(options.param("max_combinations", 500_000))
    if total > limit:
        raise UnsupportedInstanceError(f"exhaustive would try {total} split combinations (> {limit}); "
                                       "use greedy-dpp or raise --param max_combinations")
    t0 = time.perf_counter()
    best, best_sp, tried = math.inf, None, 0
    status = SolveStatus.OPTIMAL
    for sp in itertools.product(*choices):
        obj = allocate(inst.cfg, inst.tables, sp, inst.h, inst.lam, inst.Q, inst.W).objective
        tried += 1
        if obj < best:
            best, best_sp = obj, sp
        if options.time_limit_s is not None and time.perf_counter() - t0 > options.time_limit_s:
            status = SolveStatus.TIME_LIMIT
            break
    return _solution(inst, "exhaustive", status, np.array(best_sp, dtype=np.int64), {"combinations": tried})
