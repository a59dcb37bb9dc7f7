"""Achievable rates: FDMA/OFDMA, broadcast/multicast, and multi-cell NOMA with SIC.

Shannon rates in bit/s; powers in W; gains linear power gains; noise either a
spectral density ``noise_psd_w_per_hz`` (scaled by the bandwidth actually used)
or a total power ``noise_w``.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "spectral_efficiency",
    "fdma_rate",
    "multicast_rate",
    "noma_uplink_sinr",
    "noma_downlink_sinr",
    "oma_sinr",
]


_LN2 = math.log(2.0)


def spectral_efficiency(snr: ArrayLike) -> np.ndarray:
    """log2(1 + SNR) in bit/s/Hz, computed as ``log1p(SNR) / ln 2``: ``log2(1 + SNR)`` rounds
    an SNR below 1.1e-16 to zero and loses the digits of any small one (a verifier recomputing
    delivered bits from it refused sound plans; docs/formats.md). The rates of ``mba`` and
    ``split_noma`` (solvers and verifiers) and :func:`fdma_rate` / :func:`multicast_rate` go
    through it, and ``lymdo_slot``'s model and bound; its scalar allocation loops use
    :func:`spectral_efficiency_scalar`."""
    return np.log1p(np.asarray(snr, dtype=float)) / _LN2


def spectral_efficiency_scalar(snr: float) -> float:
    """:func:`spectral_efficiency` of one float, with :func:`math.log1p` (no NumPy call: the
    scalar loops of ``lymdo_slot``'s allocation). It can differ from the array form in the last
    ulp (the two ``log1p`` are different libraries)."""
    return math.log1p(snr) / _LN2


def fdma_rate(
    share: ArrayLike,
    bandwidth_hz: float,
    power_w: ArrayLike,
    gain: ArrayLike,
    *,
    noise_psd_w_per_hz: float | None = None,
    noise_w: float | None = None,
) -> np.ndarray:
    """FDMA rate ``b B log2(1 + p h / N)``.

    With a spectral density N = N0 b B (the noise grows with the band used: LyMDO eq. 3,
    PartialLoading eq. 6); with ``noise_w`` the noise power is fixed. A zero share gives
    rate 0.
    """
    if (noise_psd_w_per_hz is None) == (noise_w is None):
        raise ValueError("give exactly one of noise_psd_w_per_hz or noise_w")
    b = np.asarray(share, dtype=float)
    band = b * bandwidth_hz
    p = np.asarray(power_w, dtype=float)
    h = np.asarray(gain, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        noise = band * noise_psd_w_per_hz if noise_psd_w_per_hz is not None else np.full_like(band, noise_w)
        rate = band * spectral_efficiency(p * h / noise)
    return np.where(band > 0, rate, 0.0)


def multicast_rate(bandwidth_hz: float, power_w: float, gains: ArrayLike, noise_w: float) -> float:
    """Broadcast/multicast rate: set by the worst receiver, ``B log2(1 + p min(h) / N)`` (MBA eq. 2)."""
    g = np.asarray(gains, dtype=float)
    if g.size == 0:
        raise ValueError("a multicast needs at least one receiver")
    return float(bandwidth_hz * spectral_efficiency(power_w * g.min() / noise_w))


def _check_shapes(power: np.ndarray, cell: np.ndarray, sub: np.ndarray, cross: np.ndarray) -> None:
    u = power.shape[0]
    if cell.shape != (u,) or sub.shape != (u,) or cross.ndim != 2 or cross.shape[0] != u:
        raise ValueError("power, cell, subchannel must have shape (U,) and cross_gain (U, N)")


def _noma_layout(power_w: ArrayLike, cell: ArrayLike, subchannel: ArrayLike, cross_gain: ArrayLike
                 ) -> tuple[np.ndarray, ...]:
    """The arrays both NOMA SINRs start from: powers, cells and gains as arrays (shapes checked),
    the device indices, each device's own-cell gain, who is active, and the pairs sharing a
    subchannel (both active) and a cell."""
    p = np.asarray(power_w, dtype=float)
    c = np.asarray(cell, dtype=int)
    m = np.asarray(subchannel, dtype=int)
    g = np.asarray(cross_gain, dtype=float)
    _check_shapes(p, c, m, g)
    idx = np.arange(len(p))
    own = g[idx, c]
    active = m >= 0
    same_sub = (m[:, None] == m[None, :]) & active[:, None] & active[None, :]
    same_cell = c[:, None] == c[None, :]
    return p, c, g, idx, own, active, same_sub, same_cell


def noma_uplink_sinr(
    power_w: ArrayLike, cell: ArrayLike, subchannel: ArrayLike, cross_gain: ArrayLike, noise_w: float
) -> np.ndarray:
    """Uplink NOMA SINR with SIC at the AP (ECC eq. 5).

    Parameters
    ----------
    power_w: (U,) transmit powers; a device with subchannel < 0 is not transmitting.
    cell: (U,) serving AP of each device.
    subchannel: (U,) uplink subchannel of each device (-1 for none).
    cross_gain: (U, N) power gain from device u to AP n (own-cell gain is ``cross_gain[u, cell[u]]``).
    noise_w: noise power on one subchannel.

    The AP decodes the strongest received signal first (``p |h|^2`` ordering by channel
    gain, as the paper assumes |h_1|^2 > |h_2|^2 > ...), so device i sees as intra-cell
    interference the devices of its cluster with smaller gain (ties broken by index: the
    lower index is decoded first), plus every device of other cells on the same subchannel
    through its cross gain to AP ``cell[i]``.
    """
    p, c, g, idx, own, active, same_sub, same_cell = _noma_layout(power_w, cell, subchannel, cross_gain)
    weaker = (own[None, :] < own[:, None]) | ((own[None, :] == own[:, None]) & (idx[None, :] > idx[:, None]))
    intra = (same_sub & same_cell & weaker) * (p * own)[None, :]
    # interference from device t (other cell) at AP cell[i]: p_t * g[t, cell[i]]
    inter = (same_sub & ~same_cell) * (p[None, :] * g[:, c].T)
    sinr = p * own / (intra.sum(1) + inter.sum(1) + noise_w)
    return np.where(active, sinr, 0.0)


def noma_downlink_sinr(
    power_w: ArrayLike, cell: ArrayLike, subchannel: ArrayLike, cross_gain: ArrayLike, noise_w: float
) -> np.ndarray:
    """Downlink NOMA SINR with SIC at the devices (ECC eq. 8, corrected).

    ``power_w[u]`` is the power AP ``cell[u]`` spends on device u's signal; ``cross_gain[u, n]``
    the power gain from AP n to device u. Weaker devices decode first, so device i removes
    the signals of weaker devices and suffers those of STRONGER devices of its cluster,
    received through its OWN channel: ``|H_i|^2 sum_{q stronger} P_q``. The paper's eq. (8)
    writes ``P_q |H_q|^2`` (the other user's channel), which is not what device i receives;
    we use the physical form. Inter-cell interference is every other AP's total power on the
    subchannel through the cross gain to device i.
    """
    p, c, g, idx, own, active, same_sub, same_cell = _noma_layout(power_w, cell, subchannel, cross_gain)
    stronger = (own[None, :] > own[:, None]) | ((own[None, :] == own[:, None]) & (idx[None, :] < idx[:, None]))
    intra = own * ((same_sub & same_cell & stronger) * p[None, :]).sum(1)
    # interference at device i from AP cell[t]'s signal to device t (other cell): P_t * g[i, cell[t]]
    inter = ((same_sub & ~same_cell) * (p[None, :] * g[:, c])).sum(1)
    sinr = p * own / (intra + inter + noise_w)
    return np.where(active, sinr, 0.0)


def oma_sinr(power_w: ArrayLike, gain: ArrayLike, noise_w: float) -> np.ndarray:
    """Orthogonal access: no intra- or inter-cell interference, SNR = p h / N."""
    return np.asarray(power_w, dtype=float) * np.asarray(gain, dtype=float) / noise_w
