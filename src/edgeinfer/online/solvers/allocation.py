"""Exact per-slot resource allocation of LyMDO for fixed partitions (§IV-C, problems P3-P5).

Given the splits, problem (11) separates into

* P3 (eq. 19), one per device: ``min_f  a f^2 + V T_ue(f)`` over ``d lambda < f <= f_max``
  (C6, C7), ``a = Q kappa d lambda tau / e_unit``. Convex; solved by a bracketed,
  safeguarded Newton search on the monotone derivative (:func:`local_frequency`), or by
  golden-section search (``method="golden"``, slower, used as a cross-check).
* P4 (eq. 20): ``min V sum d_n / f_n`` s.t. ``sum f_n <= F``. KKT gives
  ``V d_n / f_n^2 = u0`` (the paper's eq. 21 drops the square), hence the square-root rule
  of eq. (23), ``f_n = F sqrt(d_n) / sum_m sqrt(d_m)``, optimal value ``V (sum sqrt d)^2 / F``
  (:func:`edge_frequencies`).
* P5 (eq. 24): ``min sum_n c_n psi_n / (alpha_n W log2(1 + s_n / alpha_n))`` s.t.
  ``sum alpha <= 1``, ``c_n = Q_n p lambda_n tau / e_unit + V``, ``s_n = p h_n / (W N0)``.
  Strictly convex and decreasing in every share, so ``sum alpha = 1`` and the KKT conditions
  ``phi_n(alpha_n) = mu`` with ``phi_n = c_n psi_n g_n' / g_n^2`` hold for every sender.
  :func:`bandwidth_shares` solves them by Newton's method in ``(log alpha, log mu)``, with
  bisection on the multiplier ``mu`` as a fallback; it stops at machine precision.

The kernels are plain Python on floats: for the five devices of the paper this is several
times faster than NumPy on tiny arrays. NumPy only; no SciPy, no cvxpy. The solvers built on
these kernels: :mod:`~edgeinfer.online.solvers.convex`, :mod:`~edgeinfer.online.solvers.exhaustive`,
:mod:`~edgeinfer.online.solvers.greedy`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from edgeinfer.online.model import DeviceTables, LyMDOConfig, SlotMetrics
from edgeinfer.system.rates import spectral_efficiency_scalar

__all__ = [
    "Allocation",
    "local_frequency",
    "local_objective",
    "edge_frequencies",
    "bandwidth_shares",
    "bandwidth_objective",
    "repair_split",
    "allocate",
]

_GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0


# --------------------------------------------------------------------------- P3

def local_objective(f: float, d: float, lam: float, a: float, V: float) -> float:
    """Objective of P3 (eq. 19): ``a f^2 + V (d/f + d^2 lam / (2 (f^2 - f d lam))))``."""
    if d == 0.0:
        return 0.0
    c = d * lam
    if f <= c:
        return math.inf
    return a * f * f + V * (d / f + d * d * lam / (2.0 * f * (f - c)))


def _local_x(dn: float, lam: float, an: float, V: float, method: str) -> float:
    """P3 in the scaled variable x = f / f_max in (d' lam, 1], d' = d / f_max, a' = a f_max^2."""
    c = dn * lam
    k = V * dn * dn * lam / 2.0

    def deriv(x: float) -> float:
        q = x * (x - c)
        return 2.0 * an * x - V * dn / (x * x) - k * (2.0 * x - c) / (q * q)

    if method == "golden":
        lo, hi = c, 1.0

        def f_eval(x: float) -> float:
            if x <= c:
                return math.inf
            return an * x * x + V * dn / x + k / (x * (x - c))

        x1 = hi - _GOLDEN * (hi - lo)
        x2 = lo + _GOLDEN * (hi - lo)
        f1, f2 = f_eval(x1), f_eval(x2)
        for _ in range(200):
            if hi - lo <= 1e-15 * hi:
                break
            if f1 <= f2:
                hi, x2, f2 = x2, x1, f1
                x1 = hi - _GOLDEN * (hi - lo)
                f1 = f_eval(x1)
            else:
                lo, x1, f1 = x1, x2, f2
                x2 = lo + _GOLDEN * (hi - lo)
                f2 = f_eval(x2)
        x = 0.5 * (lo + hi)
        return 1.0 if f_eval(1.0) <= f_eval(x) else x

    if deriv(1.0) <= 0.0:
        return 1.0
    lo, hi = c, 1.0
    x = 1.0
    for _ in range(200):
        g = deriv(x)
        if g > 0.0:
            hi = x
        else:
            lo = x
        q = x * (x - c)
        h2 = (2.0 * (2.0 * x - c) ** 2 - 2.0 * q) / (q * q * q)
        gp = 2.0 * an + 2.0 * V * dn / (x * x * x) + k * h2
        step = g / gp if gp > 0.0 else math.inf
        if abs(step) <= 1e-15 * x:  # Newton has converged to rounding level
            break
        xn = x - step
        if not lo < xn < hi:
            xn = 0.5 * (lo + hi)
        if hi - lo <= 1e-15 * hi:
            x = xn
            break
        x = xn
    return x


def local_frequency(
    d: float, lam: float, a: float, V: float, f_max: float, *, method: str = "newton"
) -> float:
    """Optimal local speed of P3 (eq. 19); ``nan`` when C7 cannot hold (``d lam >= f_max``).

    Parameters
    ----------
    d: local cycles per task ``rho sum M``; 0 means nothing runs locally (returns 0).
    lam: observed arrival rate (req/s).
    a: energy weight ``Q kappa d lam tau / e_unit`` (>= 0).
    V: Lyapunov weight.
    f_max: C6 upper bound (Hz).
    method: ``"newton"`` (bracketed safeguarded Newton on the derivative) or ``"golden"``.
    """
    if d <= 0.0:
        return 0.0
    if d * lam >= f_max:
        return math.nan
    dn = d / f_max
    an = a * f_max * f_max
    return _local_x(dn, lam, an, V, method) * f_max


# --------------------------------------------------------------------------- P4

def edge_frequencies(d_es: Sequence[float] | np.ndarray, f_max: float) -> np.ndarray:
    """Eq. (23): ``f_n = F sqrt(d_n) / sum sqrt(d_m)``; zero for devices with no edge work."""
    d = np.asarray(d_es, dtype=float)
    r = np.sqrt(np.maximum(d, 0.0))
    s = r.sum()
    if s == 0.0:
        return np.zeros_like(d)
    return f_max * r / s


# --------------------------------------------------------------------------- P5

def _gprime(u: float) -> float:
    """ln(1+u) - u/(1+u), accurate for small u."""
    if u < 1e-3:
        return u * u * (0.5 - u * (2.0 / 3.0 - u * (0.75 - 0.8 * u)))
    return math.log1p(u) - u / (1.0 + u)


def _logphi_and_slope(alpha: float, s: float, logb: float) -> tuple[float, float]:
    """log phi(alpha) (up to the constant W/ln2) and d log phi / d log alpha."""
    u = s / alpha
    ln1u = math.log1p(u)
    gp = _gprime(u)
    G = alpha * ln1u
    logphi = logb + math.log(gp) - 2.0 * math.log(G)
    v = u / (1.0 + u)
    slope = -(v * v) / gp - 2.0 * gp / ln1u
    return logphi, slope


def bandwidth_objective(alpha: np.ndarray, weights: np.ndarray, snr_full: np.ndarray, bandwidth_hz: float) -> float:
    """``sum_n w_n / (alpha_n W log2(1 + s_n / alpha_n))`` over senders (``w_n > 0``)."""
    total = 0.0
    for a, w, s in zip(np.asarray(alpha, float).tolist(), np.asarray(weights, float).tolist(),
                       np.asarray(snr_full, float).tolist()):
        if w > 0.0:
            if a <= 0.0:
                return math.inf
            total += w / (a * bandwidth_hz * spectral_efficiency_scalar(s / a))
    return total


def _shares_bisection(b: list[float], s: list[float]) -> list[float]:
    """Fallback: bisection on log mu, inner bisection on log alpha (robust, slow)."""

    def alpha_of(logmu: float) -> list[float]:
        out = []
        for bn, sn in zip(b, s):
            lo, hi = -745.0, 0.0
            if _logphi_and_slope(1.0, sn, math.log(bn))[0] >= logmu:
                out.append(1.0)
                continue
            for _ in range(200):
                mid = 0.5 * (lo + hi)
                if _logphi_and_slope(math.exp(mid), sn, math.log(bn))[0] > logmu:
                    lo = mid
                else:
                    hi = mid
                if hi - lo < 1e-15:
                    break
            out.append(math.exp(0.5 * (lo + hi)))
        return out

    lo, hi = -200.0, 200.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if sum(alpha_of(mid)) > 1.0:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-14:
            break
    a = alpha_of(0.5 * (lo + hi))
    t = sum(a)
    return [x / t for x in a]


def bandwidth_shares(
    weights: Sequence[float] | np.ndarray, snr_full: Sequence[float] | np.ndarray, *, max_iter: int = 60
) -> np.ndarray:
    """Exact solution of P5 (eq. 24) through its KKT conditions.

    Parameters
    ----------
    weights: ``c_n psi_n`` (bits x cost per second); devices with weight 0 send nothing and
        get share 0.
    snr_full: ``s_n = p h_n / (W N0)``, the SNR over the whole band.

    Returns
    -------
    Shares ``alpha`` (sum 1 over senders, 0 elsewhere). The bandwidth W only scales the
    objective, so it is not needed.
    """
    w = np.asarray(weights, dtype=float)
    sn = np.asarray(snr_full, dtype=float)
    out = np.zeros(len(w))
    idx = [i for i in range(len(w)) if w[i] > 0.0]
    if not idx:
        return out
    if len(idx) == 1:
        out[idx[0]] = 1.0
        return out
    wmax = max(w[i] for i in idx)
    b = [w[i] / wmax for i in idx]
    s = [float(sn[i]) for i in idx]
    logb = [math.log(x) for x in b]
    m = len(idx)
    # initial guess: square-root rule with the rates frozen at alpha = 1/m
    r0 = [math.sqrt(bn / math.log1p(sv * m)) for bn, sv in zip(b, s)]
    t0 = sum(r0)
    x = [math.log(v / t0) for v in r0]
    alphas = [v / t0 for v in r0]
    lp = [_logphi_and_slope(alphas[j], s[j], logb[j]) for j in range(m)]
    y = sum(p[0] for p in lp) / m
    converged = False
    for _ in range(max_iter):
        sa = sar = sad = 0.0
        rs = []
        for j in range(m):
            lpj, dj = lp[j]
            rj = lpj - y
            rs.append(rj)
            sa += alphas[j]
            sar += alphas[j] * rj / dj
            sad += alphas[j] / dj
        dy = (1.0 - sa + sar) / sad
        dx = [(dy - rs[j]) / lp[j][1] for j in range(m)]
        step = max(abs(v) for v in dx)
        if step > 1.0:  # damp large steps (only far from the solution)
            fac = 1.0 / step
            dx = [v * fac for v in dx]
            dy *= fac
        x = [min(x[j] + dx[j], 0.0) for j in range(m)]
        y += dy
        alphas = [math.exp(v) for v in x]
        if step < 1e-9:
            # quadratic convergence: the error after this step is O(step^2) < 1e-17
            converged = abs(1.0 - sum(alphas)) < 1e-12
            break
        lp = [_logphi_and_slope(alphas[j], s[j], logb[j]) for j in range(m)]
    if not converged or not all(math.isfinite(a) and a > 0.0 for a in alphas):
        alphas = _shares_bisection(b, s)
    t = sum(alphas)
    for j, i in enumerate(idx):
        out[i] = alphas[j] / t
    return out


# --------------------------------------------------------------------------- all together

@dataclass(frozen=True)
class Allocation:
    """Partition and optimal resources of one slot, with its metrics and objective (11)."""

    split: np.ndarray
    f_ue_hz: np.ndarray
    f_es_hz: np.ndarray
    alpha: np.ndarray
    metrics: SlotMetrics
    objective: float
    repaired: np.ndarray  # bool: split moved earlier to satisfy C7


def repair_split(cfg: LyMDOConfig, tables: DeviceTables, split: Sequence[int] | np.ndarray,
                 lam: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Move each split earlier until C7 can hold (``d_ue lam < f_max``); l = 0 always can."""
    sp = np.asarray(split, dtype=np.int64).copy()
    rep = np.zeros(len(sp), dtype=bool)
    for i in range(len(sp)):
        cyc = tables.cycles_ue[i]
        while sp[i] > 0 and cyc[sp[i]] * lam[i] >= cfg.f_ue_max_hz:
            sp[i] -= 1
            rep[i] = True
    return sp, rep


def allocate(
    cfg: LyMDOConfig,
    tables: DeviceTables,
    split: Sequence[int] | np.ndarray,
    h: np.ndarray,
    lam: np.ndarray,
    Q: np.ndarray,
    W: np.ndarray,
    *,
    method: str = "newton",
) -> Allocation:
    """Solve P3, P4 and P5 for the given splits (repaired for C7 first) and evaluate (11)."""
    lam = np.asarray(lam, dtype=float)
    sp, rep = repair_split(cfg, tables, split, lam)
    n = tables.n
    lam_l = lam.tolist()
    Q_l = np.asarray(Q, dtype=float).tolist()
    W_l = np.asarray(W, dtype=float).tolist()
    h_l = np.asarray(h, dtype=float).tolist()
    spl = sp.tolist()
    d_ue = [float(tables.cycles_ue[i][spl[i]]) for i in range(n)]
    d_es = [float(tables.cycles_es[i][spl[i]]) for i in range(n)]
    psi = [float(tables.psi_bits[i][spl[i]]) for i in range(n)]
    mem = [float(tables.memory_bytes[i][spl[i]]) for i in range(n)]
    ew = [Q_l[i] * lam_l[i] * cfg.slot_s / cfg.energy_unit_j for i in range(n)]
    V, kappa, p_tx, bw = cfg.V, cfg.kappa, cfg.tx_power_w, cfg.bandwidth_hz
    f_ue = [local_frequency(d_ue[i], lam_l[i], ew[i] * kappa * d_ue[i], V, cfg.f_ue_max_hz, method=method)
            for i in range(n)]
    # P4, eq. (23)
    roots = [math.sqrt(d) for d in d_es]
    rs = sum(roots)
    f_es = [cfg.f_es_max_hz * r / rs if rs > 0.0 else 0.0 for r in roots]
    # P5
    noise = bw * cfg.noise_psd_w_per_hz
    snr = [p_tx * hv / noise for hv in h_l]
    alpha = bandwidth_shares([(ew[i] * p_tx + V) * psi[i] for i in range(n)], snr).tolist()
    # metrics (same formulas as model.evaluate_slot, in plain Python for speed)
    t_ue, t_tr, t_es, energy = [], [], [], []
    obj = 0.0
    for i in range(n):
        tu = 0.0
        if d_ue[i] > 0.0:
            mu = f_ue[i] / d_ue[i]
            li = lam_l[i]
            tu = 1.0 / mu + li / (2.0 * mu * mu * (1.0 - li / mu))
        tt = 0.0
        if psi[i] > 0.0:
            rate = alpha[i] * bw * spectral_efficiency_scalar(snr[i] / alpha[i]) if alpha[i] > 0.0 else 0.0
            tt = psi[i] / rate if rate > 0.0 else math.inf  # a rate rounding to zero: no finite delay
        te = d_es[i] / f_es[i] if d_es[i] > 0.0 else 0.0
        try:
            e = (kappa * f_ue[i] * f_ue[i] * d_ue[i] + p_tx * tt) * lam_l[i] * cfg.slot_s
        except OverflowError:
            e = math.inf
        t_ue.append(tu)
        t_tr.append(tt)
        t_es.append(te)
        energy.append(e)
        obj += Q_l[i] * e / cfg.energy_unit_j + W_l[i] * mem[i] / cfg.memory_unit_bytes + V * (tu + tt + te)
    m = SlotMetrics(t_ue_s=np.array(t_ue), t_trans_s=np.array(t_tr), t_es_s=np.array(t_es),
                    energy_j=np.array(energy), memory_bytes=np.array(mem), stable=np.ones(n, dtype=bool))
    sp_arr = sp
    f_ue_a = np.array(f_ue)
    f_es_a = np.array(f_es)
    alpha_a = np.array(alpha)
    return Allocation(split=sp_arr, f_ue_hz=f_ue_a, f_es_hz=f_es_a, alpha=alpha_a, metrics=m, objective=obj,
                      repaired=rep)
