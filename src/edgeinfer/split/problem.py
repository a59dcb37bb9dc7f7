"""``split_noma``: ECC split inference over multi-cell NOMA as a file-based problem.

An instance carries the APs, the chain models (per-layer FLOPs and output bytes), the
devices (serving AP, model, speed, energy coefficient, weights, and the channel gains to
every AP on every subchannel) and the system parameters; a solution gives each device's
split, subchannels, powers and compute units. ``verify`` recomputes SINRs (eqs. 5, 8),
rates (6, 9), latency (12), energy (17) and the objective (19)-(20) from the instance alone.
Formats: ``docs/formats.md`` (section split_noma). The typed instance
:class:`~edgeinfer.split.model.SplitInstance` lives beside the model it parameterises (its
methods are the model's: own-cell gains, noise per subchannel, speed-up) and is re-exported here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field

from edgeinfer.core.errors import InvalidInstanceError, InvalidSolutionError
from edgeinfer.core.registry import ProblemSpec, register_problem
from edgeinfer.core.solution import Solution, VerifyReport, Violations
from edgeinfer.core.status import SolveStatus
from edgeinfer.core.units import dbm_to_w, w_to_dbm
from edgeinfer.core.validation import (
    Hertz,
    Id,
    NoisePsdDbmPerHz,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    StrictModel,
    check_ref,
    check_unique_ids,
    match_ids,
    parse_model,
    parse_status,
    require_nonempty,
)
from edgeinfer.split.model import Decision, SplitInstance, evaluate

__all__ = ["PROBLEM", "SPEC", "SplitInstance", "SplitSolution", "load_instance", "dump_instance", "load_solution",
           "dump_solution", "verify", "make_solution"]

PROBLEM = "split_noma"
#: tolerances of ``verify`` (docs/formats.md, split_noma): the bounds of powers and compute units
#: are relative (a few ulps: the solvers clip to the bounds), the objective relative with an
#: absolute floor, claimed per-device latency and energy relative with an absolute floor
BOUND_REL_TOL = 1e-12
OBJECTIVE_REL_TOL = 1e-9
OBJECTIVE_ABS_TOL = 1e-12
CLAIM_REL_TOL = 1e-9
CLAIM_ABS_TOL = 1e-15


#: a weight in [0, 1e6]: 1.7e308 made the weighted objective overflow
Weight = Annotated[float, Field(ge=0.0, le=1e6)]


class SystemModel(StrictModel):
    bandwidth_up_hz: Hertz = 10e6
    bandwidth_down_hz: Hertz = 10e6
    num_subchannels: PositiveInt = 6
    max_devices_per_subchannel: PositiveInt = 3
    noise_psd_dbm_per_hz: NoisePsdDbmPerHz = -174.0
    device_power_min_w: PositiveFloat = 1e-3
    device_power_max_w: PositiveFloat = float(dbm_to_w(25.0))
    ap_power_min_w: PositiveFloat = 1e-3
    ap_power_max_w: PositiveFloat = 1.0
    #: [1, 1e18] FLOP/s per unit (1e300 and 5e-324 overflowed the edge's latency or energy)
    edge_unit_flops_per_s: Annotated[float, Field(ge=1.0, le=1e18)] = 25e9
    #: at most 1e6 units (1e300 overflowed the edge energy kappa r^3)
    compute_units_min: Annotated[float, Field(gt=0.0, le=1e6)] = 1.0
    compute_units_max: Annotated[float, Field(gt=0.0, le=1e6)] = 16.0
    speedup_exponent: float = Field(default=0.9, gt=0.0, le=2.0)
    #: the edge's switched capacitance (CMOS: ~1e-28-1e-33); at most 1e-9 (1e300 overflowed its energy)
    edge_kappa: Annotated[float, Field(gt=0.0, le=1e-9)] = 1e-33


class APModel(StrictModel):
    id: Id
    x_m: float | None = None
    y_m: float | None = None


class LayerModel(StrictModel):
    flops: NonNegativeFloat
    output_bytes: PositiveFloat
    name: str | None = None


class ChainModel(StrictModel):
    id: Id
    input_bytes: PositiveFloat
    layers: list[LayerModel]


class DeviceModel(StrictModel):
    id: Id
    ap: Id
    model: Id
    flops_per_s: PositiveFloat
    kappa: NonNegativeFloat
    weight_latency: Weight = 0.5
    weight_energy: Weight = 0.5
    uplink_gain: list[list[PositiveFloat]]
    downlink_gain: list[list[PositiveFloat]]


class SplitInstanceModel(StrictModel):
    problem: Literal["split_noma"]
    system: SystemModel = SystemModel()
    aps: list[APModel]
    models: list[ChainModel]
    devices: list[DeviceModel]


class DeviceDecisionModel(StrictModel):
    id: Id
    split: NonNegativeInt
    uplink_subchannel: NonNegativeInt | None = None
    downlink_subchannel: NonNegativeInt | None = None
    uplink_power_w: NonNegativeFloat = 0.0
    downlink_power_w: NonNegativeFloat = 0.0
    compute_units: NonNegativeFloat = 0.0
    latency_s: NonNegativeFloat | None = None
    energy_j: NonNegativeFloat | None = None


class SplitSolutionModel(StrictModel):
    problem: Literal["split_noma"]
    algorithm: str
    status: str
    objective: float
    access: Literal["noma", "oma"] = "noma"
    wall_time_s: NonNegativeFloat = 0.0
    devices: list[DeviceDecisionModel]
    stats: dict[str, Any] = {}


@dataclass(frozen=True, kw_only=True)
class SplitSolution(Solution):
    """Per device: split (layers on the device), subchannels (-1 = none, for split = F),
    powers (W), compute units; ``access`` is ``"noma"`` or ``"oma"`` (ECC-OMA baseline)."""

    ids: tuple[str, ...]
    split: np.ndarray
    up_sub: np.ndarray
    down_sub: np.ndarray
    p_up_w: np.ndarray
    p_down_w: np.ndarray
    r: np.ndarray
    access: str = "noma"
    latency_s: np.ndarray | None = None
    energy_j: np.ndarray | None = None

    def decision(self) -> Decision:
        return Decision(self.split, self.up_sub, self.down_sub, self.p_up_w, self.p_down_w, self.r)


def load_instance(doc: object) -> SplitInstance:
    m = parse_model(SplitInstanceModel, doc)
    s = m.system
    require_nonempty(m.aps, "aps")
    require_nonempty(m.models, "models")
    require_nonempty(m.devices, "devices")
    check_unique_ids([a.id for a in m.aps], "aps")
    check_unique_ids([x.id for x in m.models], "models")
    check_unique_ids([d.id for d in m.devices], "devices")
    for field, lo, hi in (("device_power", s.device_power_min_w, s.device_power_max_w),
                          ("ap_power", s.ap_power_min_w, s.ap_power_max_w),
                          ("compute_units", s.compute_units_min, s.compute_units_max)):
        if lo > hi:
            raise InvalidInstanceError(f"system.{field}_min", f"{lo:g} exceeds the maximum {hi:g}")
    models = {}
    for k, cm in enumerate(m.models):
        require_nonempty(cm.layers, f"models[{k}].layers")
        models[cm.id] = (np.array([layer.flops for layer in cm.layers], dtype=float),
                         8.0 * np.array([cm.input_bytes] + [layer.output_bytes for layer in cm.layers], dtype=float))
    aps = {a.id: i for i, a in enumerate(m.aps)}
    n_ap, n_sub = len(m.aps), s.num_subchannels
    cell: list[int] = []
    flops: list[np.ndarray] = []
    bits: list[np.ndarray] = []
    up: list[np.ndarray] = []
    dn: list[np.ndarray] = []
    for i, d in enumerate(m.devices):
        check_ref(d.ap, aps, f"devices[{i}].ap", "AP")
        check_ref(d.model, models, f"devices[{i}].model", "model")
        if d.weight_latency + d.weight_energy <= 0:
            raise InvalidInstanceError(f"devices[{i}].weight_latency", "the two weights must not both be zero")
        for name, g in (("uplink_gain", d.uplink_gain), ("downlink_gain", d.downlink_gain)):
            arr = np.asarray(g, dtype=float) if all(len(row) == len(g[0]) for row in g) else None
            if arr is None or arr.shape != (n_ap, n_sub):
                raise InvalidInstanceError(f"devices[{i}].{name}",
                                           f"must be a {n_ap} x {n_sub} matrix (APs x subchannels)")
            (up if name == "uplink_gain" else dn).append(arr)
        cell.append(aps[d.ap])
        flops.append(models[d.model][0])
        bits.append(models[d.model][1])
    noise = float(dbm_to_w(s.noise_psd_dbm_per_hz))
    for name, gains, p_max, band in (("uplink_gain", up, s.device_power_max_w, s.bandwidth_up_hz),
                                     ("downlink_gain", dn, s.ap_power_max_w, s.bandwidth_down_hz)):
        with np.errstate(over="ignore"):
            snr = [float(g.max()) * p_max / (noise * band / n_sub) for g in gains]
        for i, x in enumerate(snr):
            if not math.isfinite(x) or x > 1e300:
                raise InvalidInstanceError(f"devices[{i}].{name}", "the SNR at the largest power overflows "
                                           "(gain, power and noise out of range)")
    for i, d in enumerate(m.devices):
        f = flops[i]
        with np.errstate(over="ignore"):
            t = float(f.sum()) / d.flops_per_s
            e = d.kappa * d.flops_per_s**2 * float(f.sum())
            cost = d.weight_latency * t + d.weight_energy * e
        if not math.isfinite(cost) or not math.isfinite(float(bits[i].sum())):
            raise InvalidInstanceError(f"devices[{i}].flops_per_s", "running the model locally has no finite "
                                       "cost (FLOPs, speed or kappa out of range)")
    return SplitInstance(
        ids=tuple(d.id for d in m.devices), ap_ids=tuple(a.id for a in m.aps), cell=np.array(cell, dtype=np.int64),
        models=tuple(d.model for d in m.devices), layer_flops=tuple(flops), split_bits=tuple(bits),
        result_bits=np.array([b[-1] for b in bits]),
        dev_flops_per_s=np.array([d.flops_per_s for d in m.devices]),
        dev_kappa=np.array([d.kappa for d in m.devices]),
        w_latency=np.array([d.weight_latency for d in m.devices]),
        w_energy=np.array([d.weight_energy for d in m.devices]),
        uplink_gain=np.stack(up), downlink_gain=np.stack(dn),
        bandwidth_up_hz=s.bandwidth_up_hz, bandwidth_down_hz=s.bandwidth_down_hz,
        noise_psd_w_per_hz=float(dbm_to_w(s.noise_psd_dbm_per_hz)), max_per_subchannel=s.max_devices_per_subchannel,
        p_min_w=s.device_power_min_w, p_max_w=s.device_power_max_w, ap_p_min_w=s.ap_power_min_w,
        ap_p_max_w=s.ap_power_max_w, edge_unit_flops_per_s=s.edge_unit_flops_per_s, r_min=s.compute_units_min,
        r_max=s.compute_units_max, theta=s.speedup_exponent, edge_kappa=s.edge_kappa,
    )


def dump_instance(inst: SplitInstance) -> dict[str, Any]:
    """Inverse of :func:`load_instance` (models deduplicated by id)."""
    models: dict[str, dict[str, Any]] = {}
    for u, name in enumerate(inst.models):
        if name not in models:
            b = inst.split_bits[u] / 8.0
            models[name] = {"id": name, "input_bytes": float(b[0]),
                            "layers": [{"flops": float(f), "output_bytes": float(o)}
                                       for f, o in zip(inst.layer_flops[u], b[1:], strict=True)]}
    return {
        "problem": PROBLEM,
        "system": {
            "bandwidth_up_hz": inst.bandwidth_up_hz, "bandwidth_down_hz": inst.bandwidth_down_hz,
            "num_subchannels": inst.num_subchannels, "max_devices_per_subchannel": inst.max_per_subchannel,
            "noise_psd_dbm_per_hz": float(w_to_dbm(inst.noise_psd_w_per_hz)),
            "device_power_min_w": inst.p_min_w, "device_power_max_w": inst.p_max_w,
            "ap_power_min_w": inst.ap_p_min_w, "ap_power_max_w": inst.ap_p_max_w,
            "edge_unit_flops_per_s": inst.edge_unit_flops_per_s, "compute_units_min": inst.r_min,
            "compute_units_max": inst.r_max, "speedup_exponent": inst.theta, "edge_kappa": inst.edge_kappa,
        },
        "aps": [{"id": a} for a in inst.ap_ids],
        "models": list(models.values()),
        "devices": [
            {"id": inst.ids[u], "ap": inst.ap_ids[int(inst.cell[u])], "model": inst.models[u],
             "flops_per_s": float(inst.dev_flops_per_s[u]), "kappa": float(inst.dev_kappa[u]),
             "weight_latency": float(inst.w_latency[u]), "weight_energy": float(inst.w_energy[u]),
             "uplink_gain": inst.uplink_gain[u].tolist(), "downlink_gain": inst.downlink_gain[u].tolist()}
            for u in range(inst.num_devices)
        ],
    }


def make_solution(inst: SplitInstance, algorithm: str, status: SolveStatus, dec: Decision, *,
                  access: str = "noma", stats: dict[str, Any] | None = None) -> SplitSolution:
    """Wrap a decision, computing its objective, latencies and energies with :func:`evaluate`.
    Unused fields of local devices (split = F) are zeroed."""
    local = np.asarray(dec.split) >= inst.num_layers
    dec = Decision(np.asarray(dec.split, dtype=np.int64), np.where(local, -1, dec.up_sub).astype(np.int64),
                   np.where(local, -1, dec.down_sub).astype(np.int64), np.where(local, 0.0, dec.p_up_w),
                   np.where(local, 0.0, dec.p_down_w), np.where(local, 0.0, dec.r))
    ev = evaluate(inst, dec, access=access)
    return SplitSolution(problem=PROBLEM, algorithm=algorithm, status=status, objective=ev.objective,
                         ids=inst.ids, split=dec.split, up_sub=dec.up_sub, down_sub=dec.down_sub,
                         p_up_w=dec.p_up_w, p_down_w=dec.p_down_w, r=dec.r, access=access,
                         latency_s=ev.latency_s, energy_j=ev.energy_j, stats=dict(stats or {}))


def load_solution(doc: object, inst: SplitInstance) -> SplitSolution:
    m = parse_model(SplitSolutionModel, doc, error=InvalidSolutionError)
    status = parse_status(m.status)
    ds = match_ids(m.devices, inst.ids, "devices", "device")

    def claims(name: str) -> np.ndarray | None:  # nan where a device does not claim the value
        vals = [getattr(d, name) for d in ds]
        return None if all(x is None for x in vals) else np.array([np.nan if x is None else x for x in vals])

    return SplitSolution(
        problem=PROBLEM, algorithm=m.algorithm, status=status, objective=m.objective, wall_time_s=m.wall_time_s,
        ids=inst.ids, split=np.array([d.split for d in ds], dtype=np.int64),
        up_sub=np.array([-1 if d.uplink_subchannel is None else d.uplink_subchannel for d in ds], dtype=np.int64),
        down_sub=np.array([-1 if d.downlink_subchannel is None else d.downlink_subchannel for d in ds],
                          dtype=np.int64),
        p_up_w=np.array([d.uplink_power_w for d in ds]), p_down_w=np.array([d.downlink_power_w for d in ds]),
        r=np.array([d.compute_units for d in ds]), access=m.access,
        latency_s=claims("latency_s"), energy_j=claims("energy_j"), stats=dict(m.stats),
    )


def dump_solution(s: SplitSolution) -> dict[str, Any]:
    def sub(x: int) -> int | None:
        return None if x < 0 else int(x)

    devs = []
    for u in range(len(s.ids)):
        d: dict[str, Any] = {"id": s.ids[u], "split": int(s.split[u]), "uplink_subchannel": sub(int(s.up_sub[u])),
                             "downlink_subchannel": sub(int(s.down_sub[u])), "uplink_power_w": float(s.p_up_w[u]),
                             "downlink_power_w": float(s.p_down_w[u]), "compute_units": float(s.r[u])}
        if s.latency_s is not None and math.isfinite(s.latency_s[u]):
            d["latency_s"] = float(s.latency_s[u])
        if s.energy_j is not None and math.isfinite(s.energy_j[u]):
            d["energy_j"] = float(s.energy_j[u])
        devs.append(d)
    stats = {k: v for k, v in dict(s.stats).items() if isinstance(v, int | float | str | bool | list)}
    return {"problem": PROBLEM, "algorithm": s.algorithm, "status": s.status.value, "objective": float(s.objective),
            "access": s.access, "wall_time_s": float(s.wall_time_s), "devices": devs, "stats": stats}


def verify(inst: SplitInstance, s: SplitSolution) -> VerifyReport:
    """Check (18.a)-(18.f), the per-subchannel limit, and recompute everything from the instance."""
    v = Violations()
    n_layers = inst.num_layers
    n_sub = inst.num_subchannels
    tol = 1 + BOUND_REL_TOL
    if not math.isfinite(s.objective):
        v.add(f"the reported objective {s.objective!r} is not finite")
    for u, dev in enumerate(inst.ids):
        sp = int(s.split[u])
        if not 0 <= sp <= n_layers[u]:
            v.add(f"{dev}: split {sp} outside 0..{n_layers[u]} (18.a)")
            continue
        if sp == n_layers[u]:
            v.check(s.up_sub[u] < 0 and s.down_sub[u] < 0,
                    f"{dev}: runs the whole model locally but holds a subchannel")
            continue
        for name, x in (("uplink power", s.p_up_w[u]), ("downlink power", s.p_down_w[u]),
                        ("compute units", s.r[u])):
            if not math.isfinite(x):
                v.add(f"{dev}: {name} {x!r} is not finite")
        for name, x in (("uplink", s.up_sub[u]), ("downlink", s.down_sub[u])):
            v.check(0 <= x < n_sub, f"{dev}: offloads (split {sp} < {n_layers[u]}) but its {name} subchannel "
                    f"{'is missing' if x < 0 else f'{x} is not in 0..{n_sub - 1}'} (18.e/f)")
        v.check(inst.p_min_w / tol <= s.p_up_w[u] <= inst.p_max_w * tol,
                f"{dev}: uplink power {s.p_up_w[u]:g} W outside [{inst.p_min_w:g}, {inst.p_max_w:g}] (18.c)")
        v.check(inst.ap_p_min_w / tol <= s.p_down_w[u] <= inst.ap_p_max_w * tol,
                f"{dev}: downlink power {s.p_down_w[u]:g} W outside [{inst.ap_p_min_w:g}, {inst.ap_p_max_w:g}] (18.c)")
        v.check(inst.r_min / tol <= s.r[u] <= inst.r_max * tol,
                f"{dev}: compute units {s.r[u]:g} outside [{inst.r_min:g}, {inst.r_max:g}] (18.d)")
    if v:
        return VerifyReport.from_violations(v, math.inf, s.objective)
    for name, sub in (("uplink", s.up_sub), ("downlink", s.down_sub)):
        on = sub >= 0
        if on.any():
            counts = np.zeros((inst.num_aps, n_sub), dtype=np.int64)
            np.add.at(counts, (inst.cell[on], sub[on]), 1)
            for n, m in zip(*np.nonzero(counts > inst.max_per_subchannel), strict=True):
                v.add(f"AP {inst.ap_ids[n]}: {counts[n, m]} devices on {name} subchannel {m} "
                      f"(at most {inst.max_per_subchannel})")
    if s.access not in ("noma", "oma"):
        v.add(f"unknown access scheme {s.access!r}")
    if v:
        return VerifyReport.from_violations(v, math.inf, s.objective)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        ev = evaluate(inst, s.decision(), access=s.access)
    off = s.split < n_layers
    for name, arr, need_pos in (("uplink SINR", ev.sinr_up, False), ("downlink SINR", ev.sinr_down, False),
                                ("uplink rate", ev.rate_up_bps, True), ("downlink rate", ev.rate_down_bps, True)):
        bad = off & ~(np.isfinite(arr) & ((arr > 0) if need_pos else (arr >= 0)))
        for u in np.flatnonzero(bad)[:5]:
            v.add(f"{inst.ids[u]}: recomputed {name} {float(arr[u])!r} is not a finite positive number "
                  "(out of the floating-point range)")
    for name, arr in (("latency_s", ev.latency_s), ("energy_j", ev.energy_j)):
        for u in np.flatnonzero(~np.isfinite(arr))[:5]:
            v.add(f"{inst.ids[u]}: recomputed {name} {float(arr[u])!r} is not finite")
    if not math.isfinite(ev.objective):
        v.add(f"the recomputed objective {ev.objective!r} is not finite")
    for name, mine, theirs in (("latency_s", ev.latency_s, s.latency_s), ("energy_j", ev.energy_j, s.energy_j)):
        if theirs is not None:
            claimed = ~np.isnan(theirs)
            with np.errstate(invalid="ignore"):
                bad = claimed & ~np.isclose(mine, theirs, rtol=CLAIM_REL_TOL, atol=CLAIM_ABS_TOL)
            for u in np.flatnonzero(bad)[:5]:
                v.add(f"{inst.ids[u]}: reported {name} {float(theirs[u])!r} differs from the recomputed {float(mine[u])!r}")
    return VerifyReport.from_violations(
        v, ev.objective, s.objective, rel_tol=OBJECTIVE_REL_TOL, abs_tol=OBJECTIVE_ABS_TOL,
        details={"latency_s": ev.latency_s.tolist(), "energy_j": ev.energy_j.tolist(),
                 "sinr_up": ev.sinr_up.tolist(), "sinr_down": ev.sinr_down.tolist(),
                 "rate_up_bps": ev.rate_up_bps.tolist(), "rate_down_bps": ev.rate_down_bps.tolist()},
    )


SPEC = register_problem(ProblemSpec(
    PROBLEM, "ECC: DNN split, NOMA subchannels, powers and edge compute minimising weighted latency+energy (20)",
    SplitInstanceModel, SplitSolutionModel, load_instance, load_solution, dump_solution, verify, dump_instance,
    instance_type=SplitInstance, sense="min", objective="weighted latency + energy cost (20)",
))
