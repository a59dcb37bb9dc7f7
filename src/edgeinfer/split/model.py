"""System model of ECC split inference over multi-cell NOMA (Yuan et al., §III), in SI units.

Units (the paper's fix, see ``docs/split.md``): work in FLOPs, speeds in FLOP/s, data in
bits, power in W, energy in J. Device compute energy is the CMOS form ``kappa_dev c_i^2``
per FLOP (eq. 13 without the cycles-per-bit factor ``phi_i``, which double-counts the work
unit); edge compute energy is ``kappa_edge (lambda(r) c_min)^2`` per FLOP (eq. 16 likewise);
``lambda(r) = r^theta`` (eq. 3's non-linear speed-up; ``theta = 1`` is linear).

This module holds

* :class:`SplitInstance`: the solver-friendly frozen instance (numpy arrays);
* :class:`Ordering`: SIC decoding order per (cell, subchannel) and segmented sums;
* :func:`relaxed_objective`: objective (22) with the subchannel choices relaxed to the
  simplex (Corollary 1) and its analytic gradient, vectorised over devices;
* :func:`evaluate`: latency (12), energy (17) and objective (19)-(20) of an integral decision,
  computed through :mod:`edgeinfer.system.rates` (what ``verify`` uses).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from edgeinfer.system.rates import (
    noma_downlink_sinr,
    noma_uplink_sinr,
    oma_sinr,
    spectral_efficiency,
)

__all__ = [
    "SplitInstance",
    "Ordering",
    "Decision",
    "Evaluation",
    "split_tables",
    "relaxed_objective",
    "evaluate",
    "optimal_compute_units",
    "relaxed_uplink",
    "relaxed_downlink",
    "golden_section",
    "single_thread",
]

LN2 = math.log(2.0)


@dataclass(frozen=True)
class SplitInstance:
    """A ``split_noma`` instance in SI units.

    Shapes: U devices, N APs, M subchannels; per device a chain model of ``F_u`` layers.

    Attributes
    ----------
    ids, ap_ids: device and AP ids.
    cell: (U,) serving AP index of each device.
    models: model id of each device; ``layer_flops[u]`` (F_u,), ``split_bits[u]`` (F_u+1,)
        bits crossing a split after s layers (``split_bits[u][0]`` = the input),
        ``result_bits`` (U,) the final result sent downlink (m_i of eq. 10).
    dev_flops_per_s: (U,) device speed c_i; dev_kappa: (U,) J s^2 / FLOP^3 (energy per FLOP
        = kappa c^2).
    w_latency, w_energy: (U,) weights omega_T, omega_E of eq. (19).
    uplink_gain: (U, N, M) power gain device u -> AP n on subchannel m.
    downlink_gain: (U, N, M) power gain AP n -> device u on subchannel m.
    bandwidth_up_hz, bandwidth_down_hz: B_up, B_down (split equally into M subchannels).
    noise_psd_w_per_hz: N0 (noise on a subchannel is N0 B/M).
    max_per_subchannel: devices per (cell, subchannel) at most, uplink and downlink each.
    p_min_w, p_max_w: device uplink power bounds; ap_p_min_w, ap_p_max_w: AP power per device.
    edge_unit_flops_per_s: c_min; r_min, r_max: compute units; theta: lambda(r) = r^theta.
    edge_kappa: J s^2 / FLOP^3.
    """

    ids: tuple[str, ...]
    ap_ids: tuple[str, ...]
    cell: np.ndarray
    models: tuple[str, ...]
    layer_flops: tuple[np.ndarray, ...]
    split_bits: tuple[np.ndarray, ...]
    result_bits: np.ndarray
    dev_flops_per_s: np.ndarray
    dev_kappa: np.ndarray
    w_latency: np.ndarray
    w_energy: np.ndarray
    uplink_gain: np.ndarray
    downlink_gain: np.ndarray
    bandwidth_up_hz: float
    bandwidth_down_hz: float
    noise_psd_w_per_hz: float
    max_per_subchannel: int
    p_min_w: float
    p_max_w: float
    ap_p_min_w: float
    ap_p_max_w: float
    edge_unit_flops_per_s: float
    r_min: float
    r_max: float
    theta: float
    edge_kappa: float

    @property
    def num_devices(self) -> int:
        return len(self.ids)

    @property
    def num_aps(self) -> int:
        return len(self.ap_ids)

    @property
    def num_subchannels(self) -> int:
        return int(self.uplink_gain.shape[2])

    @property
    def num_layers(self) -> np.ndarray:
        return np.array([len(f) for f in self.layer_flops], dtype=np.int64)

    @property
    def noise_up_w(self) -> float:
        return self.noise_psd_w_per_hz * self.bandwidth_up_hz / self.num_subchannels

    @property
    def noise_down_w(self) -> float:
        return self.noise_psd_w_per_hz * self.bandwidth_down_hz / self.num_subchannels

    def own_up(self) -> np.ndarray:
        """(U, M) gain of each device to its own AP."""
        return self.uplink_gain[np.arange(self.num_devices), self.cell]

    def own_down(self) -> np.ndarray:
        return self.downlink_gain[np.arange(self.num_devices), self.cell]

    def speedup(self, r: np.ndarray) -> np.ndarray:
        """lambda(r) = r^theta (eq. 3)."""
        return np.power(r, self.theta)


@dataclass(frozen=True)
class SplitTables:
    """Per-device quantities of a split vector ``s`` (all (U,))."""

    local_flops: np.ndarray
    edge_flops: np.ndarray
    up_bits: np.ndarray
    offload: np.ndarray  # s < F: the device transmits


def split_tables(inst: SplitInstance, split: np.ndarray) -> SplitTables:
    """FLOPs on the device (f_l), on the edge (f_e), uplink bits (w_s) for each device's split."""
    s = np.asarray(split, dtype=np.int64)
    loc = np.empty(len(s))
    edge = np.empty(len(s))
    bits = np.empty(len(s))
    for u, f in enumerate(inst.layer_flops):
        c = float(f[: s[u]].sum())
        loc[u] = c
        edge[u] = float(f.sum()) - c
        bits[u] = inst.split_bits[u][s[u]]
    return SplitTables(loc, edge, bits, s < inst.num_layers)


def device_cost(inst: SplitInstance, tables: SplitTables) -> tuple[np.ndarray, np.ndarray]:
    """Device compute latency (eq. 1) and energy (eq. 13, units fixed)."""
    t = tables.local_flops / inst.dev_flops_per_s
    e = inst.dev_kappa * inst.dev_flops_per_s**2 * tables.local_flops
    return t, e


def edge_cost(inst: SplitInstance, tables: SplitTables, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Edge compute latency (eq. 3) and energy (eq. 16, units fixed)."""
    speed = inst.speedup(r) * inst.edge_unit_flops_per_s
    t = tables.edge_flops / speed
    e = inst.edge_kappa * speed**2 * tables.edge_flops
    return t, e


def optimal_compute_units(inst: SplitInstance) -> np.ndarray:
    """The r minimising ``omega_T f_e / (lambda c) + omega_E kappa_e (lambda c)^2 f_e``.

    Both terms scale with f_e, so the optimum does not depend on the split:
    ``(lambda c)^3 = omega_T / (2 omega_E kappa_e)``, clipped to [r_min, r_max]
    (the objective is convex in x = lambda c > 0 and lambda is increasing).
    """
    with np.errstate(divide="ignore"):
        x = np.cbrt(inst.w_latency / (2.0 * inst.w_energy * inst.edge_kappa))
    r = np.power(x / inst.edge_unit_flops_per_s, 1.0 / inst.theta)
    return np.clip(np.where(np.isfinite(r), r, inst.r_max), inst.r_min, inst.r_max)


class Ordering:
    """SIC order per subchannel: devices grouped by cell, strongest own-cell gain first.

    Ties are broken by index (the lower index counts as stronger), as in
    :func:`edgeinfer.system.rates.noma_uplink_sinr`. ``before(x)`` sums, for each (u, m),
    ``x`` over the devices of u's cell that are stronger than u on m; ``after(x)`` over the
    weaker ones.
    """

    def __init__(self, cell: np.ndarray, own_gain: np.ndarray, num_cells: int) -> None:
        u, _m = own_gain.shape
        rank = np.argsort(np.argsort(-own_gain, axis=0, kind="stable"), axis=0, kind="stable")
        key = cell[:, None].astype(np.int64) * u + rank
        self.order = np.argsort(key, axis=0, kind="stable")
        self.inv = np.argsort(self.order, axis=0, kind="stable")
        cols = np.arange(_m)[None, :]
        self._gather = (self.order * _m + cols).ravel()  # flat indices: sorted <- original
        self._scatter = (self.inv * _m + cols).ravel()  # flat indices: original <- sorted
        self.shape = own_gain.shape
        counts = np.bincount(cell, minlength=num_cells)
        ends = np.cumsum(counts)
        starts = ends - counts
        sorted_cell = np.repeat(np.arange(num_cells), counts)  # cell of each sorted position
        self.start = starts[sorted_cell]
        self.end = ends[sorted_cell]
        self._pos1 = np.arange(u) + 1

    def _incl(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        xs = x.ravel().take(self._gather).reshape(self.shape)
        cs = np.empty((self.shape[0] + 1, self.shape[1]))
        cs[0] = 0.0
        np.cumsum(xs, axis=0, out=cs[1:])
        base = cs[self.start]
        incl = cs[self._pos1] - base
        total = cs[self.end] - base
        return xs, incl, total

    def _back(self, y: np.ndarray) -> np.ndarray:
        return y.ravel().take(self._scatter).reshape(self.shape)

    def before(self, x: np.ndarray) -> np.ndarray:
        xs, incl, _ = self._incl(x)
        return self._back(incl - xs)

    def after(self, x: np.ndarray) -> np.ndarray:
        _, incl, total = self._incl(x)
        return self._back(total - incl)


@dataclass
class RelaxedState:
    """Everything :func:`relaxed_objective` needs that does not change during descent."""

    inst: SplitInstance
    cell_onehot: np.ndarray  # (U, N)
    g_own: np.ndarray  # (U, M)
    h_own: np.ndarray  # (U, M)
    up_order: Ordering
    down_order: Ordering

    @classmethod
    def build(cls, inst: SplitInstance) -> RelaxedState:
        g_own = inst.own_up()
        h_own = inst.own_down()
        oh = np.zeros((inst.num_devices, inst.num_aps))
        oh[np.arange(inst.num_devices), inst.cell] = 1.0
        return cls(inst, oh, g_own, h_own, Ordering(inst.cell, g_own, inst.num_aps),
                   Ordering(inst.cell, h_own, inst.num_aps))


def relaxed_uplink(st: RelaxedState, beta: np.ndarray, p: np.ndarray, cost: np.ndarray, grad: bool):
    """sum_i cost_i / R_i with R_i = sum_m beta_im b log2(1 + gamma_im) (eqs. 5-7); rows of
    ``beta`` that are all zero are silent devices (cost 0). Returns value, d/dbeta, d/dp,
    d/dcost and the rates."""
    inst = st.inst
    b = inst.bandwidth_up_hz / inst.num_subchannels
    q = beta * p[:, None]
    g = inst.uplink_gain
    s_all = np.einsum("tm,tnm->nm", q, g)  # received power at AP n on m
    s_own = st.cell_onehot.T @ (q * st.g_own)  # own-cell part
    inter = s_all[inst.cell] - s_own[inst.cell]
    intra = st.up_order.after(q * st.g_own)
    d = intra + inter + inst.noise_up_w
    gamma = p[:, None] * st.g_own / d
    se = spectral_efficiency(gamma)
    rate = b * (beta * se).sum(1)
    active = beta.sum(1) > 0
    safe = np.where(active, rate, 1.0)
    val = float(np.where(active, cost / safe, 0.0).sum())
    if not grad:
        return val, None, None, None, rate
    rho = np.where(active, -cost / safe**2, 0.0)  # dJ/dR_i
    kap = rho[:, None] * beta * b / ((1.0 + gamma) * LN2)  # dJ/dgamma_im
    lam = -kap * gamma / d  # dJ/dI_im
    gbeta = rho[:, None] * b * se
    gp = (kap * st.g_own / d).sum(1)
    # Lambda_tm = sum_i lam_im dI_im/dq_tm
    big_l = st.cell_onehot.T @ lam  # (N, M)
    lam_q = st.g_own * st.up_order.before(lam)
    lam_q += np.einsum("tnm,nm->tm", g, big_l) - st.g_own * big_l[inst.cell]
    gbeta += lam_q * p[:, None]
    gp += (lam_q * beta).sum(1)
    gcost = np.where(active, 1.0 / safe, 0.0)
    return val, gbeta, gp, gcost, rate


def relaxed_downlink(st: RelaxedState, beta: np.ndarray, pw: np.ndarray, cost: np.ndarray, grad: bool):
    """sum_i cost_i / Phi_i (eqs. 8-10, own-channel intra-cell interference: see
    :func:`edgeinfer.system.rates.noma_downlink_sinr`)."""
    inst = st.inst
    b = inst.bandwidth_down_hz / inst.num_subchannels
    q = beta * pw[:, None]
    h = inst.downlink_gain
    s_cell = st.cell_onehot.T @ q  # (N, M) total power of AP n on m
    inter = np.einsum("inm,nm->im", h, s_cell) - st.h_own * s_cell[inst.cell]
    stronger = st.down_order.before(q)
    d = st.h_own * stronger + inter + inst.noise_down_w
    psi = pw[:, None] * st.h_own / d
    se = spectral_efficiency(psi)
    rate = b * (beta * se).sum(1)
    active = beta.sum(1) > 0
    safe = np.where(active, rate, 1.0)
    val = float(np.where(active, cost / safe, 0.0).sum())
    if not grad:
        return val, None, None, None, rate
    rho = np.where(active, -cost / safe**2, 0.0)
    kap = rho[:, None] * beta * b / ((1.0 + psi) * LN2)
    lam = -kap * psi / d  # dJ/dD_im
    gbeta = rho[:, None] * b * se
    gp = (kap * st.h_own / d).sum(1)
    lam_q = st.down_order.after(lam * st.h_own)
    k_all = np.einsum("im,inm->nm", lam, h)
    k_own = st.cell_onehot.T @ (lam * st.h_own)
    lam_q += (k_all - k_own)[inst.cell]
    gbeta += lam_q * pw[:, None]
    gp += (lam_q * beta).sum(1)
    gcost = np.where(active, 1.0 / safe, 0.0)
    return val, gbeta, gp, gcost, rate


@dataclass
class RelaxedValue:
    value: float
    g_beta_up: np.ndarray | None = None
    g_beta_down: np.ndarray | None = None
    g_p: np.ndarray | None = None
    g_pw: np.ndarray | None = None
    g_r: np.ndarray | None = None


def relaxed_objective(
    st: RelaxedState, tables: SplitTables, beta_up: np.ndarray, beta_down: np.ndarray,
    p: np.ndarray, pw: np.ndarray, r: np.ndarray, *, grad: bool = True,
) -> RelaxedValue:
    """Objective (22) for fixed splits with relaxed subchannel choices, and its gradient.

    Devices whose rows of ``beta_up``/``beta_down`` are zero do not transmit (only valid for
    devices that run the whole model locally). With one-hot rows this is exactly the
    objective of the integral decision.
    """
    inst = st.inst
    wt, we = inst.w_latency, inst.w_energy
    t_dev, e_dev = device_cost(inst, tables)
    t_edge, e_edge = edge_cost(inst, tables, r)
    base = float((wt * t_dev + we * e_dev + wt * t_edge + we * e_edge).sum())
    c_up = (wt + we * p) * tables.up_bits
    c_dn = (wt + we * pw) * inst.result_bits
    vu, gbu, gpu, gcu, _ = relaxed_uplink(st, beta_up, p, c_up, grad)
    vd, gbd, gpd, gcd, _ = relaxed_downlink(st, beta_down, pw, c_dn, grad)
    out = RelaxedValue(base + vu + vd)
    if grad:
        assert gpu is not None and gcu is not None and gpd is not None and gcd is not None
        out.g_beta_up = gbu
        out.g_beta_down = gbd
        out.g_p = gpu + gcu * we * tables.up_bits
        out.g_pw = gpd + gcd * we * inst.result_bits
        c = inst.edge_unit_flops_per_s
        lam = inst.speedup(r)
        dlam = inst.theta * np.power(r, inst.theta - 1.0)
        out.g_r = tables.edge_flops * (-wt * dlam / (lam**2 * c) + 2.0 * we * inst.edge_kappa * c**2 * lam * dlam)
    return out


@dataclass(frozen=True)
class Decision:
    """An integral decision: per device split, subchannels (-1 = none), powers, compute units."""

    split: np.ndarray
    up_sub: np.ndarray
    down_sub: np.ndarray
    p_up_w: np.ndarray
    p_down_w: np.ndarray
    r: np.ndarray


@dataclass(frozen=True)
class Evaluation:
    sinr_up: np.ndarray
    sinr_down: np.ndarray
    rate_up_bps: np.ndarray
    rate_down_bps: np.ndarray
    latency_s: np.ndarray
    energy_j: np.ndarray
    objective: float


def oma_intercell_w(inst: SplitInstance, idx: np.ndarray, m: int, p: np.ndarray, *, uplink: bool) -> np.ndarray:
    """Inter-cell interference on subchannel m for the devices ``idx`` (all on m) under OMA:
    every device of another cell on m, through its cross gain (uplink: device t -> AP of i;
    downlink: AP of t -> device i), as in eqs. (5) and (8)."""
    c = inst.cell[idx]
    other = c[:, None] != c[None, :]
    if uplink:
        g = inst.uplink_gain[idx][:, :, m]  # (k, N): device t -> AP n
        cross = g[:, c].T  # [i, t] = gain t -> AP of i
    else:
        g = inst.downlink_gain[idx][:, :, m]  # AP n -> device i
        cross = g[:, c]  # [i, t] = gain AP of t -> i
    return (other * cross * p[idx][None, :]).sum(1)


def evaluate(inst: SplitInstance, dec: Decision, *, access: str = "noma") -> Evaluation:
    """Latency (12), energy (17) and objective (20) of an integral decision.

    NOMA SINRs come from :func:`noma_uplink_sinr` / :func:`noma_downlink_sinr`, one call per
    subchannel (only the devices on it). ``access="oma"``: the k devices of a cell on a
    subchannel split it into k equal orthogonal parts (no intra-cell interference, no SIC);
    devices of other cells on the subchannel interfere, a fraction 1/k of their power landing
    in a part: SINR = p g / (N0 b / k + I / k).
    Devices with split = F have no transmission (subchannel -1).
    """
    u = inst.num_devices
    tables = split_tables(inst, dec.split)
    up, dn = np.asarray(dec.up_sub), np.asarray(dec.down_sub)
    sinr_up, sinr_dn = np.zeros(u), np.zeros(u)
    rate_up, rate_dn = np.zeros(u), np.zeros(u)
    bu = inst.bandwidth_up_hz / inst.num_subchannels
    bd = inst.bandwidth_down_hz / inst.num_subchannels
    for sub, gain, p, sinr, rate, band, noise_psd in (
        (up, inst.uplink_gain, dec.p_up_w, sinr_up, rate_up, bu, inst.noise_psd_w_per_hz),
        (dn, inst.downlink_gain, dec.p_down_w, sinr_dn, rate_dn, bd, inst.noise_psd_w_per_hz),
    ):
        for m in np.unique(sub[sub >= 0]):
            idx = np.flatnonzero(sub == m)
            if access == "noma":
                fn = noma_uplink_sinr if gain is inst.uplink_gain else noma_downlink_sinr
                sinr[idx] = fn(p[idx], inst.cell[idx], np.zeros(len(idx), dtype=int), gain[idx, :, m],
                               noise_psd * band)
                rate[idx] = band * spectral_efficiency(sinr[idx])
            else:
                k = np.bincount(inst.cell[idx], minlength=inst.num_aps)[inst.cell[idx]]
                share = band / k
                inter = oma_intercell_w(inst, idx, m, p, uplink=gain is inst.uplink_gain)
                sinr[idx] = oma_sinr(p[idx], gain[idx, inst.cell[idx], m], noise_psd * share + inter / k)
                rate[idx] = share * spectral_efficiency(sinr[idx])
    t_dev, e_dev = device_cost(inst, tables)
    t_edge, e_edge = edge_cost(inst, tables, np.where(tables.offload, dec.r, 1.0))
    off = tables.offload
    with np.errstate(divide="ignore"):
        t_up = np.where(off, tables.up_bits / np.where(off, rate_up, 1.0), 0.0)
        t_dn = np.where(off, inst.result_bits / np.where(off, rate_dn, 1.0), 0.0)
    t_edge = np.where(off, t_edge, 0.0)
    e_edge = np.where(off, e_edge, 0.0)
    lat = t_dev + t_edge + t_up + t_dn
    en = e_dev + e_edge + np.where(off, dec.p_up_w * t_up + dec.p_down_w * t_dn, 0.0)
    obj = float((inst.w_latency * lat + inst.w_energy * en).sum())
    return Evaluation(sinr_up, sinr_dn, rate_up, rate_dn, lat, en, obj)


def golden_section(fun, lo: np.ndarray, hi: np.ndarray, iters: int = 80) -> np.ndarray:
    """Vectorised golden-section minimisation of a unimodal function on [lo, hi]."""
    g = (np.sqrt(5.0) - 1.0) / 2.0
    a, b = lo.astype(float).copy(), hi.astype(float).copy()
    c, d = b - g * (b - a), a + g * (b - a)
    fc, fd = fun(c), fun(d)
    for _ in range(iters):
        left = fc < fd
        b = np.where(left, d, b)
        a = np.where(left, a, c)
        c_new = b - g * (b - a)
        d_new = a + g * (b - a)
        c, d = np.where(left, c_new, d), np.where(left, c, d_new)
        fc, fd = np.where(left, fun(c), fd), np.where(left, fc, fun(d))
    x = 0.5 * (a + b)
    cand = np.stack([lo, hi, x])
    vals = np.stack([fun(lo), fun(hi), fun(x)])
    return cand[np.argmin(vals, axis=0), np.arange(len(x))]


def single_thread():  # pragma: no cover - trivial
    """Limit BLAS to one thread (threadpoolctl when installed): the small products here lose
    badly to thread start-up and contention on a busy machine."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(1)
