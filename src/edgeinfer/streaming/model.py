"""The SLIDE latency model shared by the solvers and ``verify``: the pipelined
download-and-inference recursion, its closed form, the least rate for a deadline, the best
device speed and the finish time of an allocation (constant or time-varying share).

Notation (docs/streaming.md): layer ``l = 1..L`` has ``bits_l`` and ``flops_l``; a user
downloads at rate ``r`` (bit/s) and computes at speed ``f`` (FLOP/s). The recursion is

    D_l = D_{l-1} + bits_l / r,        C_l = max(C_{l-1}, D_l) + flops_l / f,     (R)

with ``D_0 = C_0 = 0``. Its closed form (Theorem 1 in docs/streaming.md) is

    C_L = max_l ( D_l + sum_{j>=l} flops_j / f ),                                  (CF)

valid for ANY non-decreasing download times ``D_l`` (constant rate: ``D_l = bits_{<=l}/r``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from edgeinfer.streaming.problem import SlideInstance, UserAlloc

__all__ = [
    "finish_time_recursion",
    "finish_time_closed",
    "finish_time_from_downloads",
    "finish_time_sequential",
    "least_rate",
    "least_rate_sequential",
    "best_speed",
    "download_deadlines",
    "download_times_piecewise",
    "user_finish_time",
    "speed_cap",
    "least_share",
]


def finish_time_recursion(bits: Sequence[float], flops: Sequence[float], rate: float, speed: float) -> float:
    """C_L by the layer recursion (R) at a constant rate and speed (reference implementation)."""
    if not (rate > 0 and speed > 0):
        return math.inf
    d = c = 0.0
    for b, w in zip(bits, flops, strict=True):
        d += b / rate
        c = max(c, d) + w / speed
    return c


def finish_time_from_downloads(download_s: np.ndarray, flops: np.ndarray, speed: float) -> float:
    """C_L by (R) given each layer's download completion time ``D_l`` (any rate profile).
    A device that cannot compute (``speed <= 0``, e.g. a zero energy budget) never finishes
    a layer with work: ``inf``."""
    if not speed > 0:
        return math.inf if any(float(w) > 0 for w in flops) else max((float(d) for d in download_s), default=0.0)
    c = 0.0
    for d, w in zip(download_s, flops, strict=True):
        c = max(c, float(d)) + float(w) / speed
    return c


def finish_time_closed(bits: np.ndarray, flops: np.ndarray, rate: float, speed: float) -> float:
    """C_L by the closed form (CF): ``max_l bits_{<=l}/r + flops_{>=l}/f``."""
    cb = np.cumsum(np.asarray(bits, dtype=float)) / rate
    sf = np.cumsum(np.asarray(flops, dtype=float)[::-1])[::-1] / speed
    return float(np.max(cb + sf))


def finish_time_sequential(bits: np.ndarray, flops: np.ndarray, rate: float, speed: float) -> float:
    """Download-then-infer: ``sum bits / r + sum flops / f``."""
    return float(np.sum(bits)) / rate + float(np.sum(flops)) / speed


def download_deadlines(flops: np.ndarray, deadline_s: float, speed: float) -> np.ndarray:
    """Latest completion time of each layer's download: ``T - flops_{>=l} / f`` (by (CF))."""
    sf = np.cumsum(np.asarray(flops, dtype=float)[::-1])[::-1]
    return deadline_s - sf / speed


def least_rate(bits: np.ndarray, flops: np.ndarray, deadline_s: float, speed: float) -> float:
    """Least constant rate with C_L <= T: ``max_l bits_{<=l} / (T - flops_{>=l}/f)``; inf if none.

    A layer whose prefix has no bits needs only a non-negative slack; a negative slack
    (the compute alone misses the deadline) makes the deadline unreachable.
    """
    slack = download_deadlines(flops, deadline_s, speed)
    cb = np.cumsum(np.asarray(bits, dtype=float))
    if np.any(slack < 0) or np.any((slack <= 0) & (cb > 0)):
        return math.inf
    with np.errstate(divide="ignore", invalid="ignore"):
        need = np.where(cb > 0, cb / np.where(slack > 0, slack, 1.0), 0.0)
    return float(np.max(need))


def least_rate_sequential(bits: np.ndarray, flops: np.ndarray, deadline_s: float, speed: float) -> float:
    """Least rate with ``sum bits / r + sum flops / f <= T``; inf if the compute alone misses it."""
    slack = deadline_s - float(np.sum(flops)) / speed
    tb = float(np.sum(bits))
    if slack < 0 or (slack == 0 and tb > 0):
        return math.inf
    return tb / slack if tb > 0 else 0.0


def best_speed(max_flops_per_s: float, energy_coefficient: float, energy_budget_j: float,
               total_flops: float) -> float:
    """Fastest speed allowed by the cap and the energy budget: ``min(f_max, sqrt(E / (kappa F)))``.

    The least rate is non-increasing in ``f`` (Theorem 2), so the fastest allowed speed is optimal.
    """
    if energy_coefficient <= 0 or total_flops <= 0:
        return float(max_flops_per_s)
    return float(min(max_flops_per_s, math.sqrt(energy_budget_j / (energy_coefficient * total_flops))))


def download_times_piecewise(cum_bits: np.ndarray, timeline: np.ndarray, bits_per_s_at_full: float) -> np.ndarray:
    """When the downloaded volume reaches each ``cum_bits`` under a piecewise-constant share.

    ``timeline`` rows are ``(t_start, t_end, share)``, sorted and non-overlapping; the rate in a
    row is ``share * bits_per_s_at_full``; outside the rows it is zero. Targets never reached
    get ``inf``. A target of 0 bits is reached at time 0.
    """
    tl = np.asarray(timeline, dtype=float).reshape(-1, 3)
    t0, t1, sh = tl[:, 0], tl[:, 1], tl[:, 2]
    vol = sh * bits_per_s_at_full * (t1 - t0)
    cum_end = np.cumsum(vol)
    cum_start = cum_end - vol
    out = np.empty(len(cum_bits))
    for i, target in enumerate(np.asarray(cum_bits, dtype=float)):
        if target <= 0:
            out[i] = 0.0
            continue
        # first segment whose end volume reaches the target (relative tolerance for rounding)
        j = int(np.searchsorted(cum_end, target * (1 - 1e-12), side="left"))
        if j >= len(tl):
            out[i] = math.inf
            continue
        rate = sh[j] * bits_per_s_at_full
        rem = max(0.0, target - cum_start[j])
        out[i] = min(t1[j], t0[j] + (rem / rate if rate > 0 else 0.0))
    return out


def user_finish_time(inst: SlideInstance, a: UserAlloc, execution: str = "pipelined") -> float:
    """Finish time of one allocation, recomputed from the instance by the recursion (R)."""
    bits, flops = inst.model_bits[a.model], inst.model_flops[a.model]
    full = inst.full_rate_bps(a.user)
    cum = np.cumsum(bits)
    if a.timeline is not None and len(a.timeline):
        dl = download_times_piecewise(cum, a.timeline, full)
    elif a.timeline is not None:
        dl = np.where(cum > 0, math.inf, 0.0)
    else:
        rate = a.share * full
        with np.errstate(divide="ignore", invalid="ignore"):
            dl = np.where(cum > 0, cum / rate if rate > 0 else math.inf, 0.0)
    if execution == "sequential":
        return float(dl[-1]) + float(np.sum(flops)) / a.speed
    return finish_time_from_downloads(dl, flops, a.speed)


def speed_cap(inst: SlideInstance, user: int, model: int) -> float:
    """The fastest speed user ``user`` may run ``model`` at: ``min(f_max, sqrt(E / (kappa F)))``,
    computed with the same floating-point operations as the solvers' ``best_speeds`` (so the
    verifier's speed/energy rule and the solvers' agree to the last bit)."""
    total = float(np.sum(inst.model_flops[model]))
    denom = float(inst.energy_coefficient[user]) * total
    cap = float(np.sqrt(inst.energy_budget_j[user] / denom)) if denom > 0 else math.inf
    return float(min(float(inst.max_flops_per_s[user]), cap))


def least_share(inst: SlideInstance, user: int, model: int, speed: float, execution: str = "pipelined") -> float:
    """Least constant share with which ``user`` finishes ``model`` at ``speed`` by its deadline
    (Theorem 1 / its sequential analogue; ``inf`` if no share suffices).

    The operations are those of the solvers' ``pair_table`` (cumulated bits over the slack
    ``T - flops_{>=l} / f``, divided by ``B se``), so a solver's share passes this test exactly
    and the verifier grants no slack a hand-made plan could exploit.
    """
    bits, flops = inst.model_bits[model], inst.model_flops[model]
    T = float(inst.deadline_s[user])
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if execution == "sequential":
            cb = np.array([bits.sum()])
            slack = np.array([T - flops.sum() / speed])
        else:
            cb = np.cumsum(bits)
            suf = np.cumsum(flops[::-1])[::-1]
            slack = T - suf / speed
        if bool(np.any((slack < 0) | ((slack <= 0) & (cb > 0)))) or not speed > 0:
            return math.inf
        need = float(np.where(cb > 0, cb / np.where(slack > 0, slack, 1.0), 0.0).max())
        rate_full = inst.bandwidth_hz * inst.spectral_efficiency[user]
        share = float(need / rate_full)
    return share if math.isfinite(share) else math.inf
