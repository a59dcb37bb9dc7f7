"""Li-GD (Table I) and plain GD for ``split_noma``, NumPy with analytic gradients.

For each common split index j (every device runs layers 1..j locally; j is clipped to a
device's last offloading split when its model is shorter) the subchannel choices are relaxed
to the simplex (Corollary 1) and (beta_up, beta_down, p, P, r) descend by projected gradient
on objective (22). Li-GD warm-starts split j+1 from the optimum of split j (Table I lines
13-16); GD starts every split from the same cold point. The best split's relaxed solution is
rounded (largest beta per device, at most ``max_devices_per_subchannel`` per cell and
subchannel, Table I lines 17-20), then two steps the paper leaves out and we document:

* ``polish``: the same descent on (p, P, r) with the rounded subchannels fixed;
* ``refine``: each device re-chooses its split given its rates (exact, since a device's split
  changes no other device's SINR; going fully local removes its interference and only helps);
* ``prune``: with per-device lower bounds (the device alone on its best subchannel, no
  interference, best power, closed-form compute), a device that can never beat running locally
  is kept local (exact), and split j is skipped when the bound of Gamma_j is no better than the
  best Gamma found so far (exact for Table I's argmin);
* the result is never worse than running everything locally (compared at the end);
* ``local_search``: single-device subchannel moves among each device's ``ls_candidates`` best
  own-gain subchannels, accepted when the exact cost of the two subchannels involved drops,
  and, on instances of at most ``swap_max_devices`` (20) devices, pairwise swaps, each followed
  by another polish (repairs bad vertices the rounding of the relaxation lands on);
* ``polished_moves_max_devices`` (4): on instances this small, a last phase tries every
  single move and every swap (uplink and downlink), each judged after re-polishing all powers
  and compute shares (:func:`polished_moves`); this closes the gaps of up to 5.6 % that the
  fixed-power local search left on 2 APs x 2 devices (docs/split.md). Its cost grows as
  U x (M + U) polishes per round (0.4 s at 4 devices, 2.7-4.9 s at 6-8), hence the cap.

Step size: Table I uses a fixed step; we use the "self-adaptive step size" its §V remarks on:
backtracking on the descent-lemma condition, so every accepted step decreases the objective.
Variables are scaled to [0, 1] boxes (powers and compute units by their ranges).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field

import numpy as np

from edgeinfer.core.options import Param
from edgeinfer.core.registry import register_solver
from edgeinfer.core.solution import SolveOptions
from edgeinfer.core.status import SolveStatus
from edgeinfer.split.model import (
    Decision,
    RelaxedState,
    SplitInstance,
    SplitTables,
    device_cost,
    edge_cost,
    evaluate,
    golden_section,
    optimal_compute_units,
    relaxed_downlink,
    relaxed_objective,
    relaxed_uplink,
    single_thread,
    split_tables,
)
from edgeinfer.split.problem import PROBLEM, SplitSolution, make_solution
from edgeinfer.system.rates import noma_downlink_sinr, noma_uplink_sinr, spectral_efficiency

__all__ = ["Point", "DescentResult", "descend", "project_simplex", "round_subchannels", "run_ligd",
           "initial_point", "refine_splits", "split_lower_bounds", "canonical_order", "permute_instance", "LIGD_PARAMS", "solve_ligd", "solve_gd"]


def project_simplex(v: np.ndarray) -> np.ndarray:
    """Euclidean projection of each row onto the probability simplex (sort-based)."""
    m = v.shape[1]
    u = -np.sort(-v, axis=1)
    css = np.cumsum(u, axis=1) - 1.0
    k = np.arange(1, m + 1)
    cond = u - css / k > 0
    rho = cond.sum(axis=1)
    theta = css[np.arange(len(v)), rho - 1] / rho
    return np.maximum(v - theta[:, None], 0.0)


@dataclass
class Point:
    """Relaxed variables in SI units; rows of the betas are zero for silent devices."""

    bu: np.ndarray
    bd: np.ndarray
    p: np.ndarray
    pw: np.ndarray
    r: np.ndarray

    def copy(self) -> Point:
        return Point(self.bu.copy(), self.bd.copy(), self.p.copy(), self.pw.copy(), self.r.copy())


def initial_point(inst: SplitInstance, tx: np.ndarray) -> Point:
    """Table I line 1 without information on the optimum: uniform subchannel shares, powers and
    compute units at the middle of their ranges."""
    u, m = inst.num_devices, inst.num_subchannels
    beta = np.where(tx[:, None], 1.0 / m, 0.0) * np.ones((u, m))
    return Point(beta, beta.copy(), np.full(u, 0.5 * (inst.p_min_w + inst.p_max_w)),
                 np.full(u, 0.5 * (inst.ap_p_min_w + inst.ap_p_max_w)), np.full(u, 0.5 * (inst.r_min + inst.r_max)))


@dataclass
class DescentResult:
    point: Point
    value: float
    start_value: float
    iterations: int
    evaluations: int
    history: list[float] = field(default_factory=list)


def descend(
    st: RelaxedState, tables: SplitTables, x0: Point, tx: np.ndarray, *, fix_beta: bool = False,
    eps: float = 1e-7, max_iter: int = 1000, step: float = 1.0, deadline: float | None = None, bb: bool = True,
) -> DescentResult:
    """Projected gradient descent with backtracking (Table I lines 3-12).

    Stops when the relative decrease of the objective or the largest scaled move falls below
    ``eps`` (line 9), after ``max_iter`` accepted steps, or at ``deadline`` (perf_counter).
    """
    inst = st.inst
    sp = inst.p_max_w - inst.p_min_w
    sP = inst.ap_p_max_w - inst.ap_p_min_w
    sr = inst.r_max - inst.r_min
    txf = tx[:, None].astype(float)

    def project(x: Point) -> Point:
        bu, bd = x.bu, x.bd
        if not fix_beta:
            bu = project_simplex(bu) * txf
            bd = project_simplex(bd) * txf
        return Point(bu, bd, np.clip(x.p, inst.p_min_w, inst.p_max_w), np.clip(x.pw, inst.ap_p_min_w, inst.ap_p_max_w),
                     np.clip(x.r, inst.r_min, inst.r_max))

    def f(x: Point, grad: bool):
        return relaxed_objective(st, tables, x.bu, x.bd, x.p, x.pw, x.r, grad=grad)

    x = project(x0)
    cur = f(x, True)
    start = cur.value
    hist = [cur.value]
    evals, it = 1, 0
    eta = step
    prev_z: np.ndarray | None = None
    prev_g: np.ndarray | None = None
    while it < max_iter:
        if deadline is not None and time.perf_counter() > deadline:
            break
        assert cur.g_p is not None and cur.g_pw is not None and cur.g_r is not None
        # gradients in scaled coordinates z = (x - lo) / range: dJ/dz = dJ/dx * range
        gzp, gzP, gzr = cur.g_p * sp, cur.g_pw * sP, cur.g_r * sr
        gbu = np.zeros_like(x.bu) if fix_beta else cur.g_beta_up * txf
        gbd = np.zeros_like(x.bd) if fix_beta else cur.g_beta_down * txf
        zvec = np.concatenate([x.bu.ravel(), x.bd.ravel(), x.p / sp, x.pw / sP, x.r / sr])
        gvec = np.concatenate([gbu.ravel(), gbd.ravel(), gzp, gzP, gzr])
        if bb and prev_z is not None and prev_g is not None:
            dz, dg = zvec - prev_z, gvec - prev_g
            sy = float(dz @ dg)
            if sy > 0:
                eta = min(max(float(dz @ dz) / sy, 1e-12), 1e12)
        prev_z, prev_g = zvec, gvec
        accepted = False
        while True:
            cand = project(Point(x.bu - eta * gbu, x.bd - eta * gbd, x.p - eta * gzp * sp,
                                 x.pw - eta * gzP * sP, x.r - eta * gzr * sr))
            du, dd = cand.bu - x.bu, cand.bd - x.bd
            dzp, dzP, dzr = (cand.p - x.p) / sp, (cand.pw - x.pw) / sP, (cand.r - x.r) / sr
            lin = float((gbu * du).sum() + (gbd * dd).sum() + gzp @ dzp + gzP @ dzP + gzr @ dzr)
            sq = float((du**2).sum(1).sum() + (dd**2).sum(1).sum() + dzp @ dzp + dzP @ dzP + dzr @ dzr)
            if sq == 0.0:
                break
            val = f(cand, False).value
            evals += 1
            ok = val <= cur.value + 1e-4 * lin if bb else val <= cur.value + lin + sq / (2.0 * eta)
            if ok and val <= cur.value:
                accepted = True
                break
            eta *= 0.5
            if eta < 1e-14:
                break
        if not accepted:
            break
        it += 1
        move = float(np.sqrt(sq))
        old = cur.value
        x = cand
        cur = f(x, True)
        evals += 1
        hist.append(cur.value)
        if not bb:
            eta *= 2.0
        if old - cur.value <= eps * abs(old) or move < eps:
            break
    return DescentResult(x, cur.value, start, it, evals, hist)


def round_subchannels(beta: np.ndarray, cell: np.ndarray, num_cells: int, limit: int,
                      priority: np.ndarray | None = None) -> np.ndarray:
    """Table I line 19 with the per-subchannel limit: devices take their largest relaxed share
    first, in decreasing order of share; a full (cell, subchannel) passes the device to its next
    choice. Equal shares (e.g. every share is 1 on a single subchannel) go first to the device of
    larger ``priority`` (li-gd passes each device's saving from offloading at the relaxed
    optimum), not to the device listed first. Returns the subchannel of each device (-1 for
    silent rows or no room)."""
    u, m = beta.shape
    out = np.full(u, -1, dtype=np.int64)
    active = beta.sum(1) > 0
    load = np.zeros((num_cells, m), dtype=np.int64)
    pri = np.zeros(u) if priority is None else np.asarray(priority, dtype=float)
    # shares equal up to rounding count as ties (the relaxation's numerical noise must not decide)
    share = np.round(beta, 9).ravel()
    order = np.lexsort((-np.repeat(pri, m), -share))
    left = int(active.sum())
    for flat in order:
        if left == 0:
            break
        i, k = divmod(int(flat), m)
        if out[i] >= 0 or not active[i]:
            continue
        c = cell[i]
        if load[c, k] < limit:
            out[i] = k
            load[c, k] += 1
            left -= 1
    return out


def _onehot(sub: np.ndarray, m: int) -> np.ndarray:
    out = np.zeros((len(sub), m))
    on = sub >= 0
    out[np.flatnonzero(on), sub[on]] = 1.0
    return out


def refine_splits(inst: SplitInstance, st: RelaxedState, split: np.ndarray, x: Point) -> np.ndarray:
    """Each device picks the split minimising its own cost at the current rates (or goes local)."""
    u = inst.num_devices
    zero = np.zeros(u)
    tb = split_tables(inst, split)
    _, _, _, _, rate_up = relaxed_uplink(st, x.bu, x.p, zero, False)
    _, _, _, _, rate_dn = relaxed_downlink(st, x.bd, x.pw, zero, False)
    out = split.copy()
    nl = inst.num_layers
    wt, we = inst.w_latency, inst.w_energy
    for i in range(u):
        f = inst.layer_flops[i]
        loc = np.concatenate([[0.0], np.cumsum(f)])
        c = inst.dev_flops_per_s[i]
        dev = wt[i] * loc / c + we[i] * inst.dev_kappa[i] * c**2 * loc
        best_s, best = nl[i], dev[nl[i]]
        if tb.offload[i] and rate_up[i] > 0 and rate_dn[i] > 0:
            speed = inst.speedup(x.r[i:i + 1])[0] * inst.edge_unit_flops_per_s
            edge = (loc[-1] - loc) * (wt[i] / speed + we[i] * inst.edge_kappa * speed**2)
            comm = (wt[i] + we[i] * x.p[i]) * inst.split_bits[i] / rate_up[i] + \
                (wt[i] + we[i] * x.pw[i]) * inst.result_bits[i] / rate_dn[i]
            tot = (dev + edge + comm)[: nl[i]]
            k = int(np.argmin(tot))
            if tot[k] < best:
                best_s, best = k, tot[k]
        out[i] = best_s
    return out


def _group_cost(inst: SplitInstance, idx: np.ndarray, m: int, power: np.ndarray, bits: np.ndarray,
                uplink: bool) -> float:
    """sum over the devices ``idx`` sharing subchannel m of (omega_T + omega_E p) bits / rate."""
    if len(idx) == 0:
        return 0.0
    if uplink:
        sinr = noma_uplink_sinr(power[idx], inst.cell[idx], np.zeros(len(idx), dtype=int),
                                inst.uplink_gain[idx, :, m], inst.noise_up_w)
        band = inst.bandwidth_up_hz / inst.num_subchannels
    else:
        sinr = noma_downlink_sinr(power[idx], inst.cell[idx], np.zeros(len(idx), dtype=int),
                                  inst.downlink_gain[idx, :, m], inst.noise_down_w)
        band = inst.bandwidth_down_hz / inst.num_subchannels
    cost = (inst.w_latency[idx] + inst.w_energy[idx] * power[idx]) * bits[idx]
    return float((cost / (band * spectral_efficiency(sinr))).sum())


def alone_power(inst: SplitInstance, *, uplink: bool) -> np.ndarray:
    """Each device's best power alone (no interference) on its best subchannel."""
    wt, we = inst.w_latency, inst.w_energy
    g = (inst.own_up() if uplink else inst.own_down()).max(1)
    noise = inst.noise_up_w if uplink else inst.noise_down_w
    lo, hi = (inst.p_min_w, inst.p_max_w) if uplink else (inst.ap_p_min_w, inst.ap_p_max_w)
    u = inst.num_devices
    return golden_section(lambda x: (wt + we * x) / spectral_efficiency(x * g / noise), np.full(u, lo), np.full(u, hi))


def local_search(inst: SplitInstance, sub: np.ndarray, power: np.ndarray, bits: np.ndarray, *, uplink: bool,
                 candidates: int = 4, passes: int = 2, swaps: bool = False,
                 alt_power: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, int]:
    """Move single devices to one of their ``candidates`` best own-gain subchannels when that
    lowers the communication cost of the two subchannels involved (first improvement,
    per-(cell, subchannel) limit kept); with ``swaps`` also exchange the subchannels of two
    devices (O(U^2), for small instances). Each move is evaluated with the current powers and,
    if ``alt_power`` is given, with the two groups' powers reset to it (a move that pays only
    with other powers); only the two groups change, so each accepted move is an exact
    improvement. Returns subchannels, powers and the number of moves."""
    sub = sub.copy()
    power = power.copy()
    own = inst.own_up() if uplink else inst.own_down()
    top = np.argsort(-own, axis=1, kind="stable")[:, :candidates]
    load = np.zeros((inst.num_aps, inst.num_subchannels), dtype=np.int64)
    on = sub >= 0
    np.add.at(load, (inst.cell[on], sub[on]), 1)
    moves = 0

    def gain_of(ga2: np.ndarray, a: int, gb2: np.ndarray, b: int, before: float) -> np.ndarray | None:
        """The power vector of an improving move, or None."""
        best, best_p = before * (1 - 1e-12), None
        options = [power]
        if alt_power is not None:
            alt = power.copy()
            members = np.concatenate([ga2, gb2])
            alt[members] = alt_power[members]
            options.append(alt)
        for pw in options:
            after = _group_cost(inst, ga2, a, pw, bits, uplink) + _group_cost(inst, gb2, b, pw, bits, uplink)
            if after < best:
                best, best_p = after, pw
        return best_p

    for _ in range(passes):
        improved = False
        for i in np.flatnonzero(sub >= 0):
            a = int(sub[i])
            c = inst.cell[i]
            for b in top[i]:
                b = int(b)
                if b == a or load[c, b] >= inst.max_per_subchannel:
                    continue
                ga, gb = np.flatnonzero(sub == a), np.flatnonzero(sub == b)
                before = _group_cost(inst, ga, a, power, bits, uplink) + _group_cost(inst, gb, b, power, bits, uplink)
                new_p = gain_of(ga[ga != i], a, np.append(gb, i), b, before)
                if new_p is not None:
                    power = new_p
                    sub[i] = b
                    load[c, a] -= 1
                    load[c, b] += 1
                    moves += 1
                    improved = True
                    break
        if swaps:
            for i in np.flatnonzero(sub >= 0):
                for j in np.flatnonzero(sub >= 0):
                    a, b = int(sub[i]), int(sub[j])
                    if j <= i or a == b:
                        continue
                    ci, cj = inst.cell[i], inst.cell[j]
                    if ci != cj and (load[ci, b] >= inst.max_per_subchannel or load[cj, a] >= inst.max_per_subchannel):
                        continue
                    ga, gb = np.flatnonzero(sub == a), np.flatnonzero(sub == b)
                    before = (_group_cost(inst, ga, a, power, bits, uplink)
                              + _group_cost(inst, gb, b, power, bits, uplink))
                    new_p = gain_of(np.append(ga[ga != i], j), a, np.append(gb[gb != j], i), b, before)
                    if new_p is not None:
                        power = new_p
                        sub[i], sub[j] = b, a
                        load[ci, a] -= 1
                        load[ci, b] += 1
                        load[cj, b] -= 1
                        load[cj, a] += 1
                        moves += 1
                        improved = True
        if not improved:
            break
    return sub, power, moves


def _neighbours(inst: SplitInstance, cur: np.ndarray, tx: np.ndarray):
    """Assignments one move (a device to another subchannel with room in its cell), one group
    exchange (every device on subchannel a goes to b and vice versa) or one swap (two devices on
    different subchannels exchange them) away from ``cur``; the per-(cell, subchannel) limit
    holds in every one."""
    m = inst.num_subchannels
    load = np.zeros((inst.num_aps, m), dtype=np.int64)
    np.add.at(load, (inst.cell[tx], cur[tx]), 1)
    on = np.flatnonzero(tx)
    for i in on:
        for k in range(m):
            if k != cur[i] and load[inst.cell[i], k] < inst.max_per_subchannel:
                nxt = cur.copy()
                nxt[i] = k
                yield nxt
    for a in range(m):  # exchange two subchannels' whole groups (every cell): the pairing stays, the gains change
        for b in range(a + 1, m):
            if (cur[tx] == a).any() or (cur[tx] == b).any():
                nxt = cur.copy()
                nxt[tx & (cur == a)] = b
                nxt[tx & (cur == b)] = a
                yield nxt
    for a, i in enumerate(on):
        for j in on[a + 1:]:
            if cur[i] == cur[j]:
                continue
            if inst.cell[i] != inst.cell[j] and (load[inst.cell[i], cur[j]] >= inst.max_per_subchannel
                                                 or load[inst.cell[j], cur[i]] >= inst.max_per_subchannel):
                continue
            nxt = cur.copy()
            nxt[i], nxt[j] = cur[j], cur[i]
            yield nxt


def _exchanges(inst: SplitInstance, split: np.ndarray, up: np.ndarray, dn: np.ndarray, cand: np.ndarray,
               on_split: np.ndarray):
    """Decisions one offload exchange away: a local candidate device takes the subchannels of an
    offloading device of its cell, which goes local; or it starts offloading on an uplink and a
    downlink subchannel with room in its cell. The device that starts offloading uses
    ``on_split``. (Which devices offload is otherwise fixed by the rounding.)"""
    nl = inst.num_layers
    m = inst.num_subchannels
    tx = split < nl
    lim = inst.max_per_subchannel
    lu = np.zeros((inst.num_aps, m), dtype=np.int64)
    ld = np.zeros((inst.num_aps, m), dtype=np.int64)
    np.add.at(lu, (inst.cell[tx], up[tx]), 1)
    np.add.at(ld, (inst.cell[tx], dn[tx]), 1)
    for i in np.flatnonzero(cand & ~tx):
        c = inst.cell[i]
        for j in np.flatnonzero(tx & (inst.cell == c)):
            sp, u_, d_ = split.copy(), up.copy(), dn.copy()
            sp[i], sp[j] = on_split[i], nl[j]
            u_[i], d_[i], u_[j], d_[j] = up[j], dn[j], -1, -1
            yield sp, u_, d_
        for a in np.flatnonzero(lu[c] < lim):
            for b in np.flatnonzero(ld[c] < lim):
                sp, u_, d_ = split.copy(), up.copy(), dn.copy()
                sp[i], u_[i], d_[i] = on_split[i], a, b
                yield sp, u_, d_


def polished_moves(inst: SplitInstance, st: RelaxedState, split: np.ndarray, up: np.ndarray, dn: np.ndarray,
                   x: Point, *, eps: float, max_iter: int, deadline: float | None, rounds: int = 3,
                   candidates: np.ndarray | None = None, on_split: np.ndarray | None = None,
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, Point, int, int, int]:
    """Single-device subchannel moves, each judged after re-optimising EVERY power and compute
    share (the polish descent with the new assignment fixed), for small instances.

    :func:`local_search` judges a move at fixed (or interference-free) powers of the two groups
    involved, so it misses moves that pay only once the powers of both cells adapt (e.g.
    separating two devices of one cell that Li-GD's rounding paired on one subchannel with low
    powers tuned to that pairing). Each round tries every offloading device on every other
    subchannel with room, every swap of two devices, uplink and downlink, and, for the local
    devices in ``candidates``, every offload exchange (:func:`_exchanges`: which devices offload
    when a cell's subchannels are full), polishes, lets each device re-choose its split
    (:func:`refine_splits`, exact) and keeps the best exact improvement. Cost: O(rounds x U x
    (M + U)) polish descents. Returns (split, up, dn, point, moves, iterations, evaluations)."""
    nl = inst.num_layers
    m = inst.num_subchannels
    cand_dev = np.zeros(inst.num_devices, dtype=bool) if candidates is None else candidates
    on = nl - 1 if on_split is None else on_split

    def exact(sp: np.ndarray, u_: np.ndarray, d_: np.ndarray, pt: Point) -> float:
        tx = sp < nl
        return evaluate(inst, Decision(sp, np.where(tx, u_, -1), np.where(tx, d_, -1), pt.p, pt.pw, pt.r)).objective

    best_val = exact(split, up, dn, x)
    moves = its = evs = 0
    for _ in range(rounds):
        cand: tuple[float, np.ndarray, np.ndarray, np.ndarray, Point] | None = None
        tx = split < nl
        nbrs = [(split, nxt, dn) for nxt in _neighbours(inst, up, tx)]
        nbrs += [(split, up, nxt) for nxt in _neighbours(inst, dn, tx)]
        nbrs += list(_exchanges(inst, split, up, dn, cand_dev, on))
        for sp, u_, d_ in nbrs:
            txn = sp < nl
            start = Point(_onehot(np.where(txn, u_, -1), m), _onehot(np.where(txn, d_, -1), m), x.p, x.pw, x.r)
            res = descend(st, split_tables(inst, sp), start, txn, fix_beta=True, eps=eps, max_iter=max_iter,
                          deadline=deadline)
            its += res.iterations
            evs += res.evaluations
            val = exact(sp, u_, d_, res.point)
            sp2 = refine_splits(inst, st, sp, res.point)
            if not np.array_equal(sp2, sp):
                val2 = exact(sp2, u_, d_, res.point)
                if val2 < val:
                    sp, val = sp2, val2
            if val < best_val * (1 - 1e-9) and (cand is None or val < cand[0]):
                cand = (val, sp, u_, d_, res.point)
        if cand is None:
            break
        best_val, split, up, dn, x = cand
        tx = split < nl
        up, dn = np.where(tx, up, -1), np.where(tx, dn, -1)
        moves += 1
        if deadline is not None and time.perf_counter() > deadline:
            break
    return split, up, dn, x, moves, its, evs


def split_lower_bounds(inst: SplitInstance) -> np.ndarray:
    """(U, Fmax) lower bounds of each device's cost in Gamma_j (every device at split j, clipped):
    compute parts at the closed-form r, plus the communication cost with no interference at
    the best power on the device's best subchannel (a relaxed rate sum_m beta_m b log2(1 +
    gamma_m) never exceeds b log2(1 + p max_m g_m / noise))."""
    u = inst.num_devices
    wt, we = inst.w_latency, inst.w_energy
    gu, gd = inst.own_up().max(1), inst.own_down().max(1)
    bu = inst.bandwidth_up_hz / inst.num_subchannels
    bd = inst.bandwidth_down_hz / inst.num_subchannels

    def best(g: np.ndarray, band: float, noise: float, lo: float, hi: float) -> np.ndarray:
        def f(x: np.ndarray) -> np.ndarray:
            return (wt + we * x) / (band * spectral_efficiency(x * g / noise))

        x = golden_section(f, np.full(u, lo), np.full(u, hi))
        return np.minimum(f(x), np.minimum(f(np.full(u, lo)), f(np.full(u, hi))))

    per_bit_up = best(gu, bu, inst.noise_up_w, inst.p_min_w, inst.p_max_w)
    per_bit_dn = best(gd, bd, inst.noise_down_w, inst.ap_p_min_w, inst.ap_p_max_w)
    r = optimal_compute_units(inst)
    fmax = int(inst.num_layers.max())
    out = np.empty((u, fmax))
    for j in range(fmax):
        tb = split_tables(inst, np.minimum(j, inst.num_layers - 1))
        t_dev, e_dev = device_cost(inst, tb)
        t_e, e_e = edge_cost(inst, tb, r)
        out[:, j] = (wt * (t_dev + t_e) + we * (e_dev + e_e) + per_bit_up * tb.up_bits
                     + per_bit_dn * inst.result_bits)
    return out * (1.0 - 1e-9)


def _relaxed_device_costs(inst: SplitInstance, st: RelaxedState, tables: SplitTables, x: Point) -> np.ndarray:
    """Each device's own term of the relaxed objective (22) at ``x`` (inf for a device without
    a rate)."""
    wt, we = inst.w_latency, inst.w_energy
    zero = np.zeros(inst.num_devices)
    _, _, _, _, rate_up = relaxed_uplink(st, x.bu, x.p, zero, False)
    _, _, _, _, rate_dn = relaxed_downlink(st, x.bd, x.pw, zero, False)
    t_dev, e_dev = device_cost(inst, tables)
    t_e, e_e = edge_cost(inst, tables, x.r)
    with np.errstate(divide="ignore", invalid="ignore"):
        comm = ((wt + we * x.p) * tables.up_bits / rate_up + (wt + we * x.pw) * inst.result_bits / rate_dn)
    out = wt * (t_dev + t_e) + we * (e_dev + e_e) + comm
    return np.where(tables.offload & np.isfinite(out), out, np.inf)


def _local_costs(inst: SplitInstance) -> np.ndarray:
    """Each device's cost when it runs the whole model locally."""
    tb = split_tables(inst, inst.num_layers)
    t, e = device_cost(inst, tb)
    return inst.w_latency * t + inst.w_energy * e


def _run_ligd_impl(inst: SplitInstance, options: SolveOptions, *, warm: bool) -> tuple[Decision, SolveStatus, dict]:
    """Li-GD (``warm=True``) or GD (``warm=False``); returns the decision, status and stats."""
    t0 = time.perf_counter()
    deadline = None if options.time_limit_s is None else t0 + options.time_limit_s
    prm = options.params
    eps = float(prm["eps"])
    max_iter = int(prm["max_iter"])
    do_polish = bool(prm["polish"])
    do_refine = bool(prm["refine"])
    do_ls = bool(prm["local_search"])
    do_prune = bool(prm["prune"])
    ls_k = int(prm["ls_candidates"])
    do_swap = inst.num_devices <= int(prm["swap_max_devices"])
    st = RelaxedState.build(inst)
    nl = inst.num_layers
    fmax = int(nl.max())
    local_cost = _local_costs(inst)
    if do_prune:
        lb = split_lower_bounds(inst)
        # a device whose interference-free best case never beats running locally stays local
        # (exact: offloading it cannot lower its own cost and only adds interference)
        tx = np.asarray((lb < local_cost[:, None]).any(axis=1), dtype=bool)
        bounds = np.where(tx[:, None], lb, local_cost[:, None]).sum(0)
    else:
        tx = np.ones(inst.num_devices, dtype=bool)
        bounds = np.full(fmax, -np.inf)
    x_init = initial_point(inst, tx)
    x = x_init.copy()
    per_split: list[dict] = []
    best_j, best_val, best_x = -1, np.inf, None
    total_it = total_ev = 0
    status = SolveStatus.FEASIBLE
    pruned = []
    for j in range(fmax if tx.any() else 0):
        split = np.where(tx, np.minimum(j, nl - 1), nl)
        if bounds[j] >= best_val:  # Gamma_j cannot beat the incumbent: skip its descent
            pruned.append(j)
            per_split.append({"split": j, "iterations": 0, "start": np.nan, "value": np.nan})
            continue
        tb = split_tables(inst, split)
        start = x if warm else x_init
        res = descend(st, tb, start, tx, eps=eps, max_iter=max_iter, deadline=deadline)
        total_it += res.iterations
        total_ev += res.evaluations
        per_split.append({"split": j, "iterations": res.iterations, "start": res.start_value, "value": res.value})
        x = res.point
        if res.value < best_val:
            best_j, best_val, best_x = j, res.value, res.point.copy()
        if deadline is not None and time.perf_counter() > deadline:
            status = SolveStatus.TIME_LIMIT
            break
    relaxed_best = best_val
    if best_x is None:  # every device runs the whole model locally
        dec = Decision(nl.copy(), np.full(len(nl), -1), np.full(len(nl), -1), np.zeros(len(nl)),
                       np.zeros(len(nl)), np.zeros(len(nl)))
    else:
        split = np.where(tx, np.minimum(best_j, nl - 1), nl)
        on_split = np.minimum(best_j, nl - 1)
        # which devices get a full cell's subchannels: the larger saving from offloading at the
        # relaxed optimum first (not the devices listed first)
        saving = local_cost - _relaxed_device_costs(inst, st, split_tables(inst, split), best_x)
        up = round_subchannels(best_x.bu, inst.cell, inst.num_aps, inst.max_per_subchannel, saving)
        dn = round_subchannels(best_x.bd, inst.cell, inst.num_aps, inst.max_per_subchannel, saving)
        lost = tx & ((up < 0) | (dn < 0))  # no room in the cell: run locally
        split = np.where(lost, nl, split)
        up, dn = np.where(lost, -1, up), np.where(lost, -1, dn)
        m = inst.num_subchannels
        xr = Point(_onehot(up, m), _onehot(dn, m), best_x.p, best_x.pw, best_x.r)
        polish_it = 0
        for _ in range(3 if do_refine else 1):
            txr = split < nl
            xr.bu *= txr[:, None]
            xr.bd *= txr[:, None]
            if do_polish:
                res = descend(st, split_tables(inst, split), xr, txr, fix_beta=True, eps=eps, max_iter=max_iter,
                              deadline=deadline)
                xr = res.point
                polish_it += res.iterations
                total_ev += res.evaluations
            if not do_refine:
                break
            new = refine_splits(inst, st, split, xr)
            if np.array_equal(new, split):
                break
            split = new
        ls_moves = 0
        alt_up, alt_dn = alone_power(inst, uplink=True), alone_power(inst, uplink=False)
        if do_ls:
            for _ in range(2):
                tb = split_tables(inst, split)
                txr = split < nl
                up2, p2, mu = local_search(inst, np.where(txr, up, -1), xr.p, tb.up_bits, uplink=True,
                                           candidates=ls_k, swaps=do_swap, alt_power=alt_up)
                dn2, pw2, md = local_search(inst, np.where(txr, dn, -1), xr.pw, inst.result_bits, uplink=False,
                                            candidates=ls_k, swaps=do_swap, alt_power=alt_dn)
                xr = Point(xr.bu, xr.bd, p2, pw2, xr.r)
                ls_moves += mu + md
                if mu + md == 0:
                    break
                up, dn = np.where(txr, up2, up), np.where(txr, dn2, dn)
                xr = Point(_onehot(np.where(txr, up, -1), m), _onehot(np.where(txr, dn, -1), m), xr.p, xr.pw, xr.r)
                if do_polish:
                    res = descend(st, tb, xr, txr, fix_beta=True, eps=eps, max_iter=max_iter, deadline=deadline)
                    xr = res.point
                    polish_it += res.iterations
                    total_ev += res.evaluations
                if do_refine:
                    split = refine_splits(inst, st, split, xr)
        pm_moves = 0
        if do_ls and do_polish and inst.num_devices <= int(prm["polished_moves_max_devices"]):
            split, up, dn, xr, pm_moves, pm_it, pm_ev = polished_moves(
                inst, st, split, up, dn, xr, eps=eps, max_iter=max_iter, deadline=deadline, candidates=tx,
                on_split=on_split)
            polish_it += pm_it
            total_ev += pm_ev
            ls_moves += pm_moves
        total_it += polish_it
        txr = split < nl
        dec = Decision(split, np.where(txr, up, -1), np.where(txr, dn, -1), xr.p, xr.pw, xr.r)
        if evaluate(inst, dec).objective > local_cost.sum():  # never worse than all-local
            dec = Decision(nl.copy(), np.full(len(nl), -1), np.full(len(nl), -1), np.zeros(len(nl)),
                           np.zeros(len(nl)), np.zeros(len(nl)))
    stats = {"iterations": total_it, "evaluations": total_ev, "best_common_split": best_j,
             # None (JSON null) when no split was descended (every device runs locally)
             "relaxed_objective": float(relaxed_best) if np.isfinite(relaxed_best) else None,
             "local_search_moves": ls_moves if best_x is not None else 0, "solve_time_s": time.perf_counter() - t0,
             "per_split_iterations": [d["iterations"] for d in per_split], "pruned_splits": pruned,
             "candidate_devices": int(tx.sum())}
    return dec, status, stats


def canonical_order(inst: SplitInstance) -> np.ndarray:
    """A device order that depends on the devices' data, not on their order in the file: by
    cell, then strongest own-cell uplink and downlink gains, then id (ids are unique)."""
    id_rank = np.argsort(np.argsort(np.array(inst.ids, dtype=object), kind="stable"), kind="stable")
    return np.lexsort((id_rank, -inst.own_down().sum(1), -inst.own_up().sum(1), inst.cell))


def permute_instance(inst: SplitInstance, perm: np.ndarray) -> SplitInstance:
    """The same instance with its devices in the order ``perm``."""
    p = [int(i) for i in perm]
    return dataclasses.replace(
        inst, ids=tuple(inst.ids[i] for i in p), cell=inst.cell[perm], models=tuple(inst.models[i] for i in p),
        layer_flops=tuple(inst.layer_flops[i] for i in p), split_bits=tuple(inst.split_bits[i] for i in p),
        result_bits=inst.result_bits[perm], dev_flops_per_s=inst.dev_flops_per_s[perm],
        dev_kappa=inst.dev_kappa[perm], w_latency=inst.w_latency[perm], w_energy=inst.w_energy[perm],
        uplink_gain=inst.uplink_gain[perm], downlink_gain=inst.downlink_gain[perm])


def run_ligd(inst: SplitInstance, options: SolveOptions, *, warm: bool) -> tuple[Decision, SolveStatus, dict]:
    """Li-GD on the devices in :func:`canonical_order` (so its answer does not depend on the
    order of the file), with single-threaded BLAS (the small matrix products here lose badly to
    thread contention)."""
    perm = canonical_order(inst)
    inv = np.argsort(perm)
    with single_thread():
        dec, status, stats = _run_ligd_impl(permute_instance(inst, perm), options, warm=warm)
    dec = Decision(dec.split[inv], dec.up_sub[inv], dec.down_sub[inv], dec.p_up_w[inv], dec.p_down_w[inv],
                   dec.r[inv])
    return dec, status, stats


#: the options of li-gd and gd (one declaration, shared: gd is li-gd without the warm start)
LIGD_PARAMS = (
    Param("eps", 1e-6, float, "stopping tolerance of each descent: relative decrease or largest scaled "
          "move (Table I line 9)", bounds=(0.0, None)),
    Param("max_iter", 1000, int, "accepted gradient steps per descent at most", bounds=(1, None)),
    Param("polish", True, bool, "after rounding, descend on powers and compute units with the subchannels fixed"),
    Param("refine", True, bool, "each device re-chooses its split at its current rates (exact)"),
    Param("local_search", True, bool, "single-device subchannel moves (and swaps on small instances)"),
    Param("prune", True, bool, "skip hopeless splits and devices by per-device lower bounds (exact)"),
    Param("ls_candidates", 4, int, "subchannels a device may move to in the local search (its best own gains)",
          bounds=(1, None)),
    Param("swap_max_devices", 20, int, "pairwise swaps in the local search on instances of at most this many "
          "devices", bounds=(0, None)),
    Param("polished_moves_max_devices", 4, int, "moves and swaps judged after a full re-polish on instances of "
          "at most this many devices", bounds=(0, None)),
)


@register_solver(PROBLEM, "li-gd", "Li-GD (Table I): relaxed subchannels, projected GD per split, warm-started "
                 "split to split, rounding, power polish", params=LIGD_PARAMS)
def solve_ligd(inst: SplitInstance, *, options: SolveOptions) -> SplitSolution:
    dec, status, stats = run_ligd(inst, options, warm=True)
    return make_solution(inst, "li-gd", status, dec, stats=stats)


@register_solver(PROBLEM, "gd", "GD: as li-gd but every split starts cold from the same point (Corollary 4)",
                 params=LIGD_PARAMS)
def solve_gd(inst: SplitInstance, *, options: SolveOptions) -> SplitSolution:
    dec, status, stats = run_ligd(inst, options, warm=False)
    return make_solution(inst, "gd", status, dec, stats=stats)
