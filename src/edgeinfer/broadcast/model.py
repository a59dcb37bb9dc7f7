# ruff: noqa: E741  (I is the paper's score tensor I_{i,n}^{(k)})
"""The MBA model shared by the solvers and :func:`edgeinfer.broadcast.problem.verify`.

* Link rate (eq. 2): device ``k`` receives a block sent at power ``p`` at
  ``R = B log2(1 + p H_k / N0)`` bit/s (:func:`rate_bps`); a block broadcast to a set of
  devices is sent at the rate of the worst one (eqs. 3, 10; :func:`worst_gains`).
* Assembly (eq. 6) and QoS (C2, eq. 7): a device's score is the sum of its assembled blocks'
  scores ``I[i, n, k]``; given a selection it takes its best selected block per position
  (:func:`best_assembly`, :func:`assembly_scores`, :func:`is_feasible`, tolerance :func:`qos_tol`).
* Power control (P3.1), below.

Each block ``b`` is sent to its requesting devices at the rate of the worst one, gain
``H_b`` (eq. 10). Given the energy budget ``E``, minimise ``sum_b T_b`` subject to
``Q <= T_b B log2(1 + p_b H_b / N0)`` and ``sum_b T_b p_b <= E``.

* :func:`optimal_power` -- Proposition 2: with ``x_b = (H_b / (beta N0) - 1) / e`` and
  ``w_b = W0(x_b)`` (principal Lambert W), ``p_b = N0 / H_b (e^{w_b + 1} - 1)``,
  ``T_b = Q ln2 / (B (w_b + 1))`` (eq. 11); ``beta*`` solves eq. (12), energy = ``E``,
  found by a bracketed root search (Brent) on ``log beta``. The energy is decreasing in
  ``beta`` from ``+inf`` (``beta -> 0``) to ``E_min = sum_b N0 Q ln2 / (B H_b)``
  (``beta -> inf``, zero power, infinite time), so a root exists iff ``E > E_min``.
* :func:`constant_power` -- one power ``p`` for every block, spending ``E`` exactly (the
  paper's "MBA without power control"). Energy ``p sum_b T_b(p)`` increases in ``p``
  from ``E_min`` to ``inf``.

Both return ``None`` when ``E <= E_min`` (infeasible even at the energy-minimal limit).

**Longest transmission.** A transmission lasts at most :data:`MAX_DURATION_S` (the solution
format's limit: a plan beyond it is not a broadcast anyone runs). Both controls keep it: in
:func:`optimal_power` each block minimises ``T (1 + beta p)`` over ``T <= MAX_DURATION_S``, a
convex problem whose solution is the unconstrained one clipped, i.e. ``u_b = max(w_b + 1,
u_min)`` with ``u_min = Q ln2 / (B MAX_DURATION_S)`` (still the KKT point of P3.1 with the
bound), and the energy then falls to ``E_cap = sum_b N0 / H_b (e^{u_min} - 1) Q ln2 /
(B u_min)``; in :func:`constant_power` the power is at least the one that delivers the
weakest block in :data:`MAX_DURATION_S`. Both return ``None`` when the budget does not cover
that least energy (budgets within ~1e-10 relative of ``E_min`` at the example's numbers).
The rate is ``B log1p(s) / ln 2`` (:func:`rate_bps`): ``log2(1 + s)`` loses the digits of
small ``s``, and a verifier recomputing the delivered bits from it refused plans whose
budget was 1e-6 above ``E_min``.

Derivation check (docs/broadcast.md): for fixed ``beta`` each block minimises
``T (1 + beta p)`` with ``T = Q / (B log2(1 + s))``, ``s = p H / N0``; the stationarity
condition is ``(1 + s) ln(1 + s) - s = H / (beta N0)``, i.e. ``v (ln v - 1) = (H - beta N0) /
(beta N0)`` with ``v = 1 + s``; writing ``v = e^{w+1}`` gives ``w e^w = (H - beta N0) /
(beta N0 e)``, which is eq. (11).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from edgeinfer.system.rates import spectral_efficiency

if TYPE_CHECKING:
    from edgeinfer.broadcast.problem import MBAInstance

__all__ = [
    "QOS_REL_TOL",
    "qos_tol",
    "rate_bps",
    "best_assembly",
    "assembly_scores",
    "is_feasible",
    "worst_gains",
    "PowerPlan",
    "MAX_BUDGET_SPAN",
    "MAX_DURATION_S",
    "budget_span",
    "least_energy_j",
    "min_energy_j",
    "w_plus_1",
    "block_cost",
    "optimal_power",
    "constant_power",
    "power_control",
]

_LN2 = math.log(2.0)
#: Longest transmission a plan may schedule (s): about 32 years, beyond any physical broadcast
#: (the solution format's limit, :mod:`edgeinfer.broadcast.problem`).
MAX_DURATION_S = 1e9
#: Largest budget, as a multiple of the least energy of any broadcast, whose power control is
#: computed (:func:`budget_span`; ``load_instance`` refuses instances above it): the bracket of
#: :func:`optimal_power`'s root search spans ``e^400`` around its start, ``e^345 = 1e150``.
MAX_BUDGET_SPAN = 1e150
#: Relative tolerance on the QoS threshold (C2): ``score >= c - QOS_REL_TOL * max(1, |c|)``.
QOS_REL_TOL = 1e-9


# --------------------------------------------------------------------------- rate, assembly, QoS
def qos_tol(c: np.ndarray | float) -> np.ndarray | float:
    """Absolute slack allowed on the QoS threshold ``c`` (C2, eq. 7)."""
    return QOS_REL_TOL * np.maximum(1.0, np.abs(c))


def rate_bps(power_w: np.ndarray | float, gain: np.ndarray | float, bandwidth_hz: float,
             noise_w: float) -> np.ndarray | float:
    """Eq. (2): ``B log2(1 + p H / N0)`` (``N0`` a noise power in W, docs/broadcast.md), through
    :func:`edgeinfer.system.rates.spectral_efficiency`, which keeps the digits of a small SNR."""
    return bandwidth_hz * spectral_efficiency(power_w * gain / noise_w)


def best_assembly(I: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Eq. (6) over a selection ``y (M, N)``: each device's highest-scoring selected block per
    position, as a model index ``(K, N)``; -1 where a position has no selected block."""
    masked = np.where(y[:, :, None], I, -np.inf)
    arg = masked.argmax(axis=0)  # (N, K)
    has = np.asarray(y.any(axis=0))  # (N,)
    arg = np.where(has[:, None], arg, -1)
    return arg.T.copy()


def assembly_scores(I: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Best assembled score (eq. 6) of every device given ``y`` (``-inf`` if a position is empty)."""
    masked = np.where(y[:, :, None], I, -np.inf)
    return masked.max(axis=0).sum(axis=0)


def is_feasible(I: np.ndarray, c: np.ndarray, y: np.ndarray) -> bool:
    """Selection ``y`` lets every device meet its QoS (C1, C2: eqs. 5, 7)."""
    return bool(np.all(assembly_scores(I, y) >= c - qos_tol(c)))


def worst_gains(inst: MBAInstance, requests: np.ndarray) -> tuple[list[tuple[int, int]], np.ndarray]:
    """Eq. (10): the blocks ``(model, position)`` that ``requests`` (model index ``(K, N)``) uses,
    sorted, and each one's worst requesting gain (which sets its rate)."""
    worst: dict[tuple[int, int], float] = {}
    K, N = requests.shape
    for k in range(K):
        for n in range(N):
            b = (int(requests[k, n]), n)
            worst[b] = min(worst.get(b, math.inf), float(inst.gains[k]))
    blocks = sorted(worst)
    return blocks, np.array([worst[b] for b in blocks])


# --------------------------------------------------------------------------- power control (P3.1)


@dataclass(frozen=True)
class PowerPlan:
    """Per-block powers (W) and durations (s), their sums, and the multiplier found."""

    power_w: np.ndarray
    duration_s: np.ndarray
    total_latency_s: float
    energy_j: float
    beta: float | None = None


def min_energy_j(gains: np.ndarray, bandwidth_hz: float, noise_w: float, block_bits: float) -> float:
    """``sum_b N0 Q ln2 / (B H_b)``: the infimum of the energy (zero power, infinite latency)."""
    g = np.asarray(gains, dtype=float)
    return float(noise_w * block_bits * _LN2 / bandwidth_hz * np.sum(1.0 / g))


def least_energy_j(gains: np.ndarray, bandwidth_hz: float, noise_w: float, block_bits: float) -> float:
    """The least energy that delivers a block to each worst gain in ``gains`` within
    :data:`MAX_DURATION_S`: ``sum_b N0 T / H_b (2^(Q / (B T)) - 1)`` at ``T = MAX_DURATION_S``
    (the energy of one block falls as its duration grows), a little above :func:`min_energy_j`
    (relative ``Q ln2 / (2 B T)``); ``inf`` when it overflows."""
    g = np.asarray(gains, dtype=float)
    with np.errstate(over="ignore"):
        per = noise_w * MAX_DURATION_S * np.expm1(block_bits * _LN2 / (bandwidth_hz * MAX_DURATION_S))
        return float(per * np.sum(1.0 / g))


def budget_span(energy_j: float, bandwidth_hz: float, noise_w: float, block_bits: float, best_gain: float,
                num_positions: int) -> float:
    """The budget as a multiple of the least energy any broadcast needs: at least
    ``num_positions`` blocks, each at a worst gain of at most ``best_gain``, so at least
    ``num_positions N0 Q ln2 / (B best_gain)`` (computed in logs: ``inf`` when it overflows)."""
    log_span = (math.log(energy_j) + math.log(bandwidth_hz) + math.log(best_gain) - math.log(num_positions)
                - math.log(noise_w) - math.log(block_bits) - math.log(_LN2))
    return math.exp(log_span) if log_span < 709.0 else math.inf


def w_plus_1(gains: np.ndarray, beta: float, noise_w: float) -> np.ndarray:
    """``u = W0((H/(beta N0) - 1)/e) + 1`` (> 0) of eq. (11), accurate near the branch point."""
    from scipy.special import lambertw
    a = gains / (beta * noise_w)  # H / (beta N0)
    x = (a - 1.0) / math.e
    w = lambertw(x, 0).real
    out = w + 1.0
    # Near x = -1/e, W + 1 ~ sqrt(2 (e x + 1)) = sqrt(2 a / e * e) ... use the series for tiny a
    small = a < 1e-6
    if np.any(small):
        p = np.sqrt(2.0 * a[small])  # e x + 1 = a, W(-1/e + a/e) + 1 ~ sqrt(2a) - 2a/3
        out[small] = p - p * p / 3.0
    return out


def block_cost(gains: np.ndarray, beta: float, *, bandwidth_hz: float, noise_w: float,
               block_bits: float) -> np.ndarray:
    """``g_beta(H) = min_p T (1 + beta p)``: the Lagrangian cost of one block at worst gain ``H``
    (the per-block problem behind Prop. 2): ``Q ln2 / (B u) (1 + beta N0 / H (e^u - 1))``,
    ``u`` from :func:`w_plus_1`; decreasing in ``H``."""
    H = np.asarray(gains, dtype=float)
    u = w_plus_1(H, beta, noise_w)
    T = block_bits * _LN2 / (bandwidth_hz * u)
    p = noise_w / H * np.expm1(u)
    return T * (1.0 + beta * p)


def _bracket_reach(g: np.ndarray) -> float:
    """How far (in ``log``) the root searches of the power controls look from their start:
    ``e^400``, widened by the gains' spread, covers budgets up to :data:`MAX_BUDGET_SPAN` times
    the least energy."""
    return 400.0 + math.log(float(g.max()) / float(g.min()))


def optimal_power(
    gains: np.ndarray, *, bandwidth_hz: float, noise_w: float, block_bits: float, energy_j: float
) -> PowerPlan | None:
    """Proposition 2 with ``beta*`` from eq. (12), each transmission at most
    :data:`MAX_DURATION_S` (module docstring). ``None`` if the budget does not cover the least
    energy (``E_min``, or ``E_cap`` with the longest transmission)."""
    from scipy.optimize import brentq
    g = np.asarray(gains, dtype=float)
    if g.size == 0:
        return PowerPlan(np.zeros(0), np.zeros(0), 0.0, 0.0, None)
    if np.any(g <= 0) or not np.all(np.isfinite(g)):
        raise ValueError("worst gains must be positive and finite")
    # E_min first: the capped least energy below is at least E_min, but may round an ulp under it
    if not energy_j > min_energy_j(g, bandwidth_hz, noise_w, block_bits) * (1 + 1e-12):
        return None
    u_min = block_bits * _LN2 / (bandwidth_hz * MAX_DURATION_S)

    def u_at(beta: float) -> np.ndarray:
        return np.maximum(w_plus_1(g, beta, noise_w), u_min)

    def energy(u: np.ndarray) -> float:  # p T = N0/H (e^u - 1) * Q ln2 / (B u), with expm1 for accuracy
        with np.errstate(over="ignore"):
            return float(noise_w * block_bits * _LN2 / bandwidth_hz * np.sum(np.expm1(u) / (g * u)))

    if not energy_j > energy(np.full_like(g, u_min)) * (1 + 1e-12):
        return None  # even the longest transmissions need more than the budget

    def f(t: float) -> float:
        return math.log(energy(u_at(math.exp(t)))) - math.log(energy_j)

    # beta scale: H / N0 is where x crosses 0; bracket around it (wide enough for the gains'
    # spread and budgets up to MAX_BUDGET_SPAN times the least energy)
    t0 = math.log(float(np.median(g)) / noise_w)
    reach = _bracket_reach(g)
    lo, hi = t0 - 2.0, t0 + 2.0
    while f(lo) < 0:  # energy too small at lo: decrease beta
        lo -= 4.0
        if lo < t0 - reach:
            raise ArithmeticError("could not bracket beta (energy budget too large)")
    while f(hi) > 0:  # energy too large at hi: increase beta
        hi += 4.0
        if hi > t0 + reach:
            raise ArithmeticError("could not bracket beta (energy budget too close to the minimum)")
    t = brentq(f, lo, hi, xtol=1e-14, rtol=4 * np.finfo(float).eps, maxiter=200)
    beta = math.exp(t)
    u = u_at(beta)
    dur = block_bits * _LN2 / (bandwidth_hz * u)
    pw = noise_w / g * np.expm1(u)
    return _finish(pw, dur, energy_j, beta)


def _finish(pw: np.ndarray, dur: np.ndarray, energy_j: float, beta: float | None) -> PowerPlan:
    # a duration at the cap may come out an ulp above it (the bits it delivers fall by as much)
    dur = np.minimum(dur, MAX_DURATION_S)
    e = float(np.dot(pw, dur))
    if e > energy_j:  # round-off: scale powers down by a hair so C3 holds exactly
        pw = pw * (energy_j / e) * (1 - 1e-14)
        e = float(np.dot(pw, dur))
    return PowerPlan(pw, dur, float(dur.sum()), e, beta)


def _durations(p: float, g: np.ndarray, bandwidth_hz: float, noise_w: float, block_bits: float) -> np.ndarray:
    return np.asarray(block_bits / rate_bps(p, g, bandwidth_hz, noise_w))


def constant_power(
    gains: np.ndarray, *, bandwidth_hz: float, noise_w: float, block_bits: float, energy_j: float
) -> PowerPlan | None:
    """One power for all blocks, spending the whole budget, at least the power that sends the
    weakest block in :data:`MAX_DURATION_S`. ``None`` if the budget does not cover the energy
    at that power."""
    from scipy.optimize import brentq
    g = np.asarray(gains, dtype=float)
    if g.size == 0:
        return PowerPlan(np.zeros(0), np.zeros(0), 0.0, 0.0, None)
    if not energy_j > min_energy_j(g, bandwidth_hz, noise_w, block_bits) * (1 + 1e-12):
        return None

    def energy(p: float) -> float:
        return p * float(_durations(p, g, bandwidth_hz, noise_w, block_bits).sum())

    # the least power: the weakest block in the longest transmission (energy rises with p)
    with np.errstate(over="ignore"):
        p_min = float(noise_w / float(g.min()) * np.expm1(block_bits * _LN2 / (bandwidth_hz * MAX_DURATION_S)))
    if not (math.isfinite(p_min) and energy_j > energy(p_min) * (1 + 1e-12)):
        return None

    def f(t: float) -> float:
        return math.log(energy(math.exp(t))) - math.log(energy_j)

    lo = math.log(p_min)  # f(lo) < 0
    t0 = max(lo, math.log(noise_w / float(np.median(g))))
    reach = _bracket_reach(g)
    hi = t0 + 2.0
    while f(hi) < 0:
        hi += 4.0
        if hi > t0 + reach:
            raise ArithmeticError("could not bracket the constant power")
    p = max(p_min, math.exp(brentq(f, lo, hi, xtol=1e-14, rtol=4 * np.finfo(float).eps, maxiter=200)))
    dur = _durations(p, g, bandwidth_hz, noise_w, block_bits)
    return _finish(np.full_like(g, p), dur, energy_j, None)


def power_control(
    gains: np.ndarray, *, mode: str, bandwidth_hz: float, noise_w: float, block_bits: float, energy_j: float
) -> PowerPlan | None:
    """Dispatch on ``mode`` (``"optimal"`` or ``"constant"``)."""
    fn = {"optimal": optimal_power, "constant": constant_power}.get(mode)
    if fn is None:
        raise ValueError(f"unknown power mode {mode!r} (optimal, constant)")
    return fn(gains, bandwidth_hz=bandwidth_hz, noise_w=noise_w, block_bits=block_bits, energy_j=energy_j)
