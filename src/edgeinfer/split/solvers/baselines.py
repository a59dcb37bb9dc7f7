"""Baselines of §VI: Device-Only, Edge-Only, Neurosurgeon, DNN surgery, ECC-OMA.

Shared rules (documented in ``docs/split.md``):

* subchannels: each cell's devices take, strongest first, their best own-gain subchannel among
  those with room (``max_devices_per_subchannel``); a device left without room runs locally;
* Edge-Only, Neurosurgeon and DNN surgery ignore energy: full powers (p_max, P_max);
  Edge-Only and Neurosurgeon take r_max compute units each (no resource coupling), DNN surgery
  the edge's capacity ``edge_capacity_units`` (default r_max) shared equally by a cell's devices;
* Neurosurgeon and DNN surgery pick, per device, the latency-optimal split from interference-free
  rate estimates (Neurosurgeon profiles the link, it does not model NOMA interference), then
  re-choose it at the rates the devices then observe until no device falls back to running
  locally (:func:`settle_on_observed_rates`): neither is ever slower than Device-Only for a
  device. For a chain the DADS min-cut with one device/edge boundary is this argmin over cut
  positions;
* ECC-OMA: the devices sharing a (cell, subchannel) split it in equal orthogonal parts, no
  intra-cell interference (inter-cell interference as in eq. 5/8, see
  :func:`edgeinfer.split.model.evaluate`); given the other cells' powers the problem separates
  per device: r in closed form, powers by golden-section search of (omega_T + omega_E p) /
  rate(p) (the optimal power does not depend on the split), three best-response rounds, then
  the best split per device including running locally.
"""

from __future__ import annotations

import numpy as np

from edgeinfer.core.options import Param
from edgeinfer.core.registry import register_solver
from edgeinfer.core.solution import SolveOptions
from edgeinfer.core.status import SolveStatus
from edgeinfer.split.model import (
    Decision,
    SplitInstance,
    golden_section,
    oma_intercell_w,
    optimal_compute_units,
)
from edgeinfer.split.problem import PROBLEM, SplitSolution, make_solution
from edgeinfer.system.rates import spectral_efficiency

__all__ = ["greedy_subchannels", "settle_on_observed_rates", "device_only", "edge_only", "neurosurgeon", "dnn_surgery", "ecc_oma",
           "solve_device_only", "solve_edge_only", "solve_neurosurgeon", "solve_dnn_surgery", "solve_ecc_oma"]


def greedy_subchannels(inst: SplitInstance, gain_own: np.ndarray, mask: np.ndarray, *, balance: bool = False) -> np.ndarray:
    """Assign each masked device a subchannel (strongest devices first); -1 where no room.

    ``balance``: choose among the least-loaded subchannels of the cell (for OMA, where sharing
    divides the band)."""
    u, m = gain_own.shape
    out = np.full(u, -1, dtype=np.int64)
    load = np.zeros((inst.num_aps, m), dtype=np.int64)
    order = np.argsort(-gain_own.max(1), kind="stable")
    for i in order:
        if not mask[i]:
            continue
        c = inst.cell[i]
        room = load[c] < inst.max_per_subchannel
        if not room.any():
            continue
        if balance:
            room &= load[c] == load[c][room].min()
        k = int(np.argmax(np.where(room, gain_own[i], -np.inf)))
        out[i] = k
        load[c, k] += 1
    return out


def _local_all(inst: SplitInstance) -> Decision:
    u = inst.num_devices
    return Decision(inst.num_layers.copy(), np.full(u, -1), np.full(u, -1), np.zeros(u), np.zeros(u), np.zeros(u))


def device_only(inst: SplitInstance) -> Decision:
    return _local_all(inst)


def _full_power(inst: SplitInstance, split: np.ndarray, r: np.ndarray) -> Decision:
    u = inst.num_devices
    off = split < inst.num_layers
    up = greedy_subchannels(inst, inst.own_up(), off)
    dn = greedy_subchannels(inst, inst.own_down(), off)
    lost = off & ((up < 0) | (dn < 0))
    split = np.where(lost, inst.num_layers, split)
    off = split < inst.num_layers
    return Decision(split, np.where(off, up, -1), np.where(off, dn, -1), np.full(u, inst.p_max_w),
                    np.full(u, inst.ap_p_max_w), r)


def edge_only(inst: SplitInstance) -> Decision:
    u = inst.num_devices
    return _full_power(inst, np.zeros(u, dtype=np.int64), np.full(u, inst.r_max))


def _latency_split(inst: SplitInstance, r: np.ndarray) -> np.ndarray:
    """Latency-optimal split per device from interference-free rates on its best subchannel."""
    nu = inst.noise_up_w
    nd = inst.noise_down_w
    bu = inst.bandwidth_up_hz / inst.num_subchannels
    bd = inst.bandwidth_down_hz / inst.num_subchannels
    rate_up = bu * spectral_efficiency(inst.p_max_w * inst.own_up().max(1) / nu)
    rate_dn = bd * spectral_efficiency(inst.ap_p_max_w * inst.own_down().max(1) / nd)
    out = np.empty(inst.num_devices, dtype=np.int64)
    for i in range(inst.num_devices):
        loc = np.concatenate([[0.0], np.cumsum(inst.layer_flops[i])])
        speed = inst.speedup(r[i]) * inst.edge_unit_flops_per_s
        t = loc / inst.dev_flops_per_s[i] + (loc[-1] - loc) / speed
        t[:-1] += inst.split_bits[i][:-1] / rate_up[i] + inst.result_bits[i] / rate_dn[i]
        out[i] = int(np.argmin(t))
    return out


def _latency_at_rates(inst: SplitInstance, r: np.ndarray, i: int, rate_up: float, rate_dn: float) -> np.ndarray:
    """Latency of device i at every split 0..F (F: local) at the given link rates."""
    loc = np.concatenate([[0.0], np.cumsum(inst.layer_flops[i])])
    speed = inst.speedup(r[i]) * inst.edge_unit_flops_per_s
    t = loc / inst.dev_flops_per_s[i] + (loc[-1] - loc) / speed
    with np.errstate(divide="ignore"):
        t[:-1] += inst.split_bits[i][:-1] / rate_up + inst.result_bits[i] / rate_dn
    return t


def settle_on_observed_rates(inst: SplitInstance, dec: Decision, max_rounds: int | None = None) -> Decision:
    """Neurosurgeon's rule at the rates the devices actually get: each offloading device
    re-chooses its latency-optimal split (running locally included) at its observed uplink and
    downlink rates, with the subchannels and powers kept; repeat until no device goes local.

    A device going local only removes interference (its own-cell SIC cluster and other cells
    on its subchannels lose a signal), so the others' rates can only rise: the loop ends after
    at most U rounds, and at its end every device's latency is at most its local latency.
    """
    from edgeinfer.split.model import evaluate

    split = np.asarray(dec.split, dtype=np.int64).copy()
    nl = inst.num_layers
    for _ in range(max_rounds or inst.num_devices + 1):
        off = split < nl
        cur = Decision(split, np.where(off, dec.up_sub, -1), np.where(off, dec.down_sub, -1),
                       dec.p_up_w, dec.p_down_w, dec.r)
        ev = evaluate(inst, cur)
        new = split.copy()
        for i in np.flatnonzero(off):
            new[i] = int(np.argmin(_latency_at_rates(inst, dec.r, int(i), ev.rate_up_bps[i], ev.rate_down_bps[i])))
        gone = (new >= nl) & off
        split = new
        if not gone.any():
            break
    off = split < nl
    return Decision(split, np.where(off, dec.up_sub, -1), np.where(off, dec.down_sub, -1), dec.p_up_w,
                    dec.p_down_w, dec.r)


def neurosurgeon(inst: SplitInstance) -> Decision:
    """Latency-optimal split from interference-free estimates, then settled on the observed
    rates (:func:`settle_on_observed_rates`): a device whose offloading is slower than running
    locally runs locally, as Neurosurgeon's partitioner does at the bandwidth it measures."""
    r = np.full(inst.num_devices, inst.r_max)
    return settle_on_observed_rates(inst, _full_power(inst, _latency_split(inst, r), r))


def dnn_surgery(inst: SplitInstance, capacity_units: float | None = None) -> Decision:
    cap = inst.r_max if capacity_units is None else float(capacity_units)
    n_cell = np.bincount(inst.cell, minlength=inst.num_aps)[inst.cell]
    r = np.clip(cap / n_cell, inst.r_min, inst.r_max)
    return settle_on_observed_rates(inst, _full_power(inst, _latency_split(inst, r), r))


def _oma_interference(inst: SplitInstance, sub: np.ndarray, on: np.ndarray, power: np.ndarray,
                      uplink: bool) -> np.ndarray:
    out = np.zeros(inst.num_devices)
    for m in np.unique(sub[on]):
        idx = np.flatnonzero(on & (sub == m))
        out[idx] = oma_intercell_w(inst, idx, int(m), power, uplink=uplink)
    return out


def ecc_oma(inst: SplitInstance) -> Decision:
    """ECC with orthogonal access, solved exactly per device for a balanced assignment."""
    u = inst.num_devices
    nl = inst.num_layers
    r = optimal_compute_units(inst)
    wt, we = inst.w_latency, inst.w_energy
    off = np.ones(u, dtype=bool)
    split = np.zeros(u, dtype=np.int64)
    up = dn = np.full(u, -1)
    p = pw = np.zeros(u)
    for _ in range(2):  # second pass: re-balance once the local devices have left
        up = greedy_subchannels(inst, inst.own_up(), off, balance=True)
        dn = greedy_subchannels(inst, inst.own_down(), off, balance=True)
        ok = off & (up >= 0) & (dn >= 0)
        k_up = np.ones(u)
        k_dn = np.ones(u)
        for sub, k in ((up, k_up), (dn, k_dn)):
            on = ok
            cnt = np.zeros((inst.num_aps, inst.num_subchannels))
            np.add.at(cnt, (inst.cell[on], sub[on]), 1)
            k[on] = cnt[inst.cell[on], sub[on]]
        gu = inst.own_up()[np.arange(u), np.maximum(up, 0)]
        gd = inst.own_down()[np.arange(u), np.maximum(dn, 0)]
        band_u = inst.bandwidth_up_hz / inst.num_subchannels / k_up
        band_d = inst.bandwidth_down_hz / inst.num_subchannels / k_dn

        def rate(pp: np.ndarray, g: np.ndarray, band: np.ndarray, inter: np.ndarray, k: np.ndarray) -> np.ndarray:
            return band * spectral_efficiency(pp * g / (inst.noise_psd_w_per_hz * band + inter / k))

        p = np.full(u, inst.p_max_w)
        pw = np.full(u, inst.ap_p_max_w)
        for _round in range(3):  # best response to the other cells' interference
            iu, idn = _oma_interference(inst, up, ok, p, True), _oma_interference(inst, dn, ok, pw, False)
            p = golden_section(lambda x, iu=iu: (wt + we * x) / rate(x, gu, band_u, iu, k_up),  # noqa: B023
                        np.full(u, inst.p_min_w), np.full(u, inst.p_max_w))
            pw = golden_section(lambda x, idn=idn: (wt + we * x) / rate(x, gd, band_d, idn, k_dn),  # noqa: B023
                         np.full(u, inst.ap_p_min_w), np.full(u, inst.ap_p_max_w))
        iu, idn = _oma_interference(inst, up, ok, p, True), _oma_interference(inst, dn, ok, pw, False)
        ru, rd = rate(p, gu, band_u, iu, k_up), rate(pw, gd, band_d, idn, k_dn)
        for i in range(u):
            loc = np.concatenate([[0.0], np.cumsum(inst.layer_flops[i])])
            c = inst.dev_flops_per_s[i]
            cost = wt[i] * loc / c + we[i] * inst.dev_kappa[i] * c**2 * loc
            if ok[i]:
                speed = inst.speedup(r[i]) * inst.edge_unit_flops_per_s
                cost[:-1] += (loc[-1] - loc[:-1]) * (wt[i] / speed + we[i] * inst.edge_kappa * speed**2)
                cost[:-1] += (wt[i] + we[i] * p[i]) * inst.split_bits[i][:-1] / ru[i]
                cost[:-1] += (wt[i] + we[i] * pw[i]) * inst.result_bits[i] / rd[i]
            else:
                cost[:-1] = np.inf
            split[i] = int(np.argmin(cost))
        new_off = split < nl
        if np.array_equal(new_off, off):
            break
        off = new_off
    off = split < nl
    return Decision(split, np.where(off, up, -1), np.where(off, dn, -1), p, pw, r)


# --------------------------------------------------------------------------- registration

@register_solver(PROBLEM, "device-only", "every device runs the whole model locally")
def solve_device_only(inst: SplitInstance, *, options: SolveOptions) -> SplitSolution:
    return make_solution(inst, "device-only", SolveStatus.FEASIBLE, device_only(inst))


@register_solver(PROBLEM, "edge-only", "split 0 (raw input offloaded), full powers, r_max, greedy subchannels")
def solve_edge_only(inst: SplitInstance, *, options: SolveOptions) -> SplitSolution:
    return make_solution(inst, "edge-only", SolveStatus.FEASIBLE, edge_only(inst))


@register_solver(PROBLEM, "neurosurgeon", "latency-optimal split per device (interference-free rates, r_max, "
                 "full powers; no energy, no resource coupling)")
def solve_neurosurgeon(inst: SplitInstance, *, options: SolveOptions) -> SplitSolution:
    return make_solution(inst, "neurosurgeon", SolveStatus.FEASIBLE, neurosurgeon(inst))


@register_solver(PROBLEM, "dnn-surgery", "chain min-cut (latency) under the edge's capacity shared by its cell",
                 params=(Param("edge_capacity_units", None, float, "compute units of each edge server, shared "
                               "equally by its cell's devices (null: r_max)", bounds=(0.0, None), optional=True),))
def solve_dnn_surgery(inst: SplitInstance, *, options: SolveOptions) -> SplitSolution:
    return make_solution(inst, "dnn-surgery", SolveStatus.FEASIBLE,
                         dnn_surgery(inst, options.params["edge_capacity_units"]))


@register_solver(PROBLEM, "ecc-oma", "ECC with orthogonal access (no SIC): per-device exact split, powers and "
                 "compute on a balanced subchannel assignment")
def solve_ecc_oma(inst: SplitInstance, *, options: SolveOptions) -> SplitSolution:
    return make_solution(inst, "ecc-oma", SolveStatus.FEASIBLE, ecc_oma(inst), access="oma")
