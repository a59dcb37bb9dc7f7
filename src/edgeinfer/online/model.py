"""LyMDO per-slot system model, shared by the solvers, ``verify`` and the environment (Ye et al., "End-to-End Delay Minimization ... Cooperative
Edge Inference", §II-§IV).

N devices each run a chain DNN. In slot ``t`` device ``n`` computes its first ``l_n`` logical
layers locally (``l_n = 0``: everything at the edge; ``l_n = L_n``: everything local), sends
the feature map crossing the split over an FDMA uplink with share ``alpha_n`` and the edge
server finishes the remaining layers with speed ``f_es_n``.

Conventions (see docs/online.md for every constant and its source):

* ``l`` counts the layers run locally, so ``cumulative_macs()[l]`` is the local workload and
  ``split_output_bytes()[l]`` the feature map sent (eq. 3). With ``l = L`` nothing is sent.
* ``d_ue = rho * sum_{layers < l} M`` and ``d_es = rho * sum_{layers >= l} M`` are CPU cycles
  per task (eqs. 2 and 4).
* Per-slot arrivals are Poisson with mean ``lambda * slot_s``; the observed rate of slot t is
  ``lambda_n^t = arrivals / slot_s`` (req/s), which enters eqs. (2) and (5).
* Energy (eq. 5) is per slot: ``(kappa f^2 d_ue + p T_trans) lambda^t slot_s`` joules.
* Memory (eq. 6) in bytes; the virtual queues (eqs. 8-9) count energy in ``energy_unit_j``
  and memory in ``memory_unit_bytes`` (the paper does not say; defaults J and GB).

The random processes (Rayleigh channels, Poisson arrivals) are in :mod:`edgeinfer.online.scenario`.
Nothing here imports gymnasium, torch or cvxpy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from edgeinfer.core.errors import InvalidInstanceError
from edgeinfer.core.units import dbm_per_hz_to_w_per_hz, linear_to_db
from edgeinfer.dnn.profiles import ModelProfile, load_profile
from edgeinfer.system.channels import free_space_gain
from edgeinfer.system.energy import md1_sojourn_time_s
from edgeinfer.system.rates import spectral_efficiency

__all__ = [
    "LyMDOConfig",
    "DeviceTables",
    "SlotMetrics",
    "build_tables",
    "mean_channel_gain",
    "memory_cost_bytes",
    "evaluate_slot",
    "dpp_objective",
    "update_queues",
]


@dataclass(frozen=True)
class LyMDOConfig:
    """Every constant of the LyMDO system, defaults from §V-A and Table I of the paper.

    Attributes (SI units)
    ---------------------
    models: DNN of each device (§V-A: two AlexNet, three ResNet-18).
    bandwidth_hz: uplink bandwidth W = 5 MHz (§V-A).
    noise_psd_dbm_per_hz: N0 = -174 dBm/Hz (§V-A prints "174 dBm/Hz"; the sign is lost).
    antenna_gain: A_d = 3 (linear, §V-A).
    carrier_hz: f_c = 915 MHz (§V-A).
    path_loss_exponent: d_e = 3 (§V-A).
    distance_m: d_n = 150 m (§V-A).
    tx_power_w: p_n = 0.1 W (Table I).
    V: Lyapunov weight V = 10 (Table I).
    rho_cycles_per_mac: rho = 0.12 cycle/MAC (Table I).
    kappa: kappa = 1e-28 (Table I).
    energy_budget_j: e_n per model, AlexNet 40 mJ, ResNet 60 mJ (Table I), per slot.
    memory_budget_bytes: eps_n per model, AlexNet 100 MB, ResNet 30 MB (Table I).
    gamma_ue, gamma_es: memory cost factors 0.2 and 0.8 (Table I).
    nu_e, nu_c: queue scaling factors 100 and 10 (Table I).
    f_ue_max_hz, f_es_max_hz: 1.5 GHz and 15 GHz (Table I).
    arrival_rate: lambda in req/s (Table I sweeps 0.5-2.5).
    slot_s: slot length tau (not given in the paper; 1 s).
    episode_slots: K = 200 (§V-A).
    energy_unit_j, memory_unit_bytes: units of the virtual queues (not given; J and GB).
    delay_cap_s: delay charged for an unstable local queue or an unserved transfer
        (only reachable by the ``ppo`` baseline, which picks resources itself).
    """

    models: tuple[str, ...] = ("alexnet", "alexnet", "resnet18", "resnet18", "resnet18")
    bandwidth_hz: float = 5e6
    noise_psd_dbm_per_hz: float = -174.0
    antenna_gain: float = 3.0
    carrier_hz: float = 915e6
    path_loss_exponent: float = 3.0
    distance_m: float = 150.0
    tx_power_w: float = 0.1
    V: float = 10.0
    rho_cycles_per_mac: float = 0.12
    kappa: float = 1e-28
    energy_budget_j: dict[str, float] = field(default_factory=lambda: {"alexnet": 0.040, "resnet18": 0.060})
    memory_budget_bytes: dict[str, float] = field(default_factory=lambda: {"alexnet": 100e6, "resnet18": 30e6})
    gamma_ue: float = 0.2
    gamma_es: float = 0.8
    nu_e: float = 100.0
    nu_c: float = 10.0
    f_ue_max_hz: float = 1.5e9
    f_es_max_hz: float = 15e9
    arrival_rate: float = 2.0
    slot_s: float = 1.0
    episode_slots: int = 200
    energy_unit_j: float = 1.0
    memory_unit_bytes: float = 1e9
    delay_cap_s: float = 10.0

    def __post_init__(self) -> None:
        if not self.models:
            raise InvalidInstanceError("models", "need at least one device")
        for name in ("bandwidth_hz", "antenna_gain", "carrier_hz", "path_loss_exponent", "distance_m",
                     "tx_power_w", "V", "rho_cycles_per_mac", "kappa", "f_ue_max_hz", "f_es_max_hz",
                     "slot_s", "energy_unit_j", "memory_unit_bytes", "delay_cap_s", "nu_e", "nu_c"):
            v = getattr(self, name)
            if not (isinstance(v, int | float) and math.isfinite(v) and v > 0):
                raise InvalidInstanceError(name, f"must be a positive finite number, got {v!r}")
        if not (math.isfinite(self.arrival_rate) and self.arrival_rate >= 0):
            raise InvalidInstanceError("arrival_rate", "must be non-negative")
        if not (isinstance(self.episode_slots, int) and self.episode_slots > 0):
            raise InvalidInstanceError("episode_slots", "must be a positive integer")
        for i, m in enumerate(self.models):
            if m not in self.energy_budget_j:
                raise InvalidInstanceError(f"models[{i}]", f"no energy budget for model {m!r}")
            if m not in self.memory_budget_bytes:
                raise InvalidInstanceError(f"models[{i}]", f"no memory budget for model {m!r}")

    @property
    def n_devices(self) -> int:
        return len(self.models)

    @property
    def noise_psd_w_per_hz(self) -> float:
        return float(dbm_per_hz_to_w_per_hz(self.noise_psd_dbm_per_hz))


# --------------------------------------------------------------------------- tables

def memory_cost_bytes(profile: ModelProfile, gamma_ue: float, gamma_es: float) -> np.ndarray:
    """Eq. (6) for every split ``l = 0..L``; length L+1, bytes.

    ``gamma_ue * params(local) + max activation local + gamma_es * params(edge) + max
    activation edge``. Local activations are ``psi(0..l)`` with ``psi(0)`` the input (when
    ``l >= 1``); edge activations are the outputs of layers ``l+1..L`` (the paper's index
    ranges). An empty side costs nothing.
    """
    L = profile.num_layers
    cum = profile.cumulative_param_bytes()
    total = cum[-1]
    w = profile.split_output_bytes()  # w[0] input, w[k] output of layer k
    out = np.empty(L + 1)
    for k in range(L + 1):
        local_act = float(np.max(w[: k + 1])) if k >= 1 else 0.0
        edge_act = float(np.max(w[k + 1:])) if k < L else 0.0
        out[k] = gamma_ue * cum[k] + local_act + gamma_es * (total - cum[k]) + edge_act
    return out


@dataclass(frozen=True)
class DeviceTables:
    """Per-device lookup tables indexed by the split ``l`` (arrays of length ``L_n + 1``)."""

    models: tuple[str, ...]
    num_layers: np.ndarray  # (N,) int, L_n
    cycles_ue: tuple[np.ndarray, ...]  # d_ue(l), CPU cycles per task
    cycles_es: tuple[np.ndarray, ...]  # d_es(l)
    psi_bits: tuple[np.ndarray, ...]  # bits sent for split l (0 for l = L)
    memory_bytes: tuple[np.ndarray, ...]  # eq. (6)
    energy_budget_j: np.ndarray  # (N,)
    memory_budget_bytes: np.ndarray  # (N,)
    mean_gain: np.ndarray  # (N,) h-bar

    @property
    def n(self) -> int:
        return len(self.models)


def mean_channel_gain(cfg: LyMDOConfig) -> float:
    """Average channel gain h-bar = A_d (3e8 / (4 pi f_c d))^d_e (§V-A)."""
    return float(free_space_gain(cfg.distance_m, cfg.carrier_hz, tx_antenna_gain_dbi=float(linear_to_db(cfg.antenna_gain)),
                                 exponent=cfg.path_loss_exponent))


def build_tables(cfg: LyMDOConfig, profiles: Sequence[ModelProfile] | None = None) -> DeviceTables:
    """Precompute every split-dependent quantity of every device."""
    if profiles is None:
        cache: dict[str, ModelProfile] = {}
        profiles = [cache.setdefault(m, load_profile(m)) for m in cfg.models]
    if len(profiles) != cfg.n_devices:
        raise InvalidInstanceError("profiles", f"need {cfg.n_devices} profiles, got {len(profiles)}")
    cyc_ue, cyc_es, psi, mem = [], [], [], []
    for p in profiles:
        cm = p.cumulative_macs() * cfg.rho_cycles_per_mac
        cyc_ue.append(cm)
        cyc_es.append(cm[-1] - cm)
        bits = 8.0 * p.split_output_bytes()
        bits[-1] = 0.0  # all local: nothing to send (results are not returned, §II-B)
        psi.append(bits)
        mem.append(memory_cost_bytes(p, cfg.gamma_ue, cfg.gamma_es))
    hbar = mean_channel_gain(cfg)
    return DeviceTables(
        models=tuple(cfg.models),
        num_layers=np.array([p.num_layers for p in profiles], dtype=np.int64),
        cycles_ue=tuple(cyc_ue), cycles_es=tuple(cyc_es), psi_bits=tuple(psi), memory_bytes=tuple(mem),
        energy_budget_j=np.array([cfg.energy_budget_j[m] for m in cfg.models], dtype=float),
        memory_budget_bytes=np.array([cfg.memory_budget_bytes[m] for m in cfg.models], dtype=float),
        mean_gain=np.full(cfg.n_devices, hbar),
    )


# --------------------------------------------------------------------------- evaluation

@dataclass(frozen=True)
class SlotMetrics:
    """Per-device outcome of one slot under given decisions (all arrays of shape (N,))."""

    t_ue_s: np.ndarray
    t_trans_s: np.ndarray
    t_es_s: np.ndarray
    energy_j: np.ndarray
    memory_bytes: np.ndarray
    stable: np.ndarray  # bool: C7 holds and every needed resource is positive

    @property
    def delay_s(self) -> np.ndarray:
        """Eq. (1) per device."""
        return self.t_ue_s + self.t_trans_s + self.t_es_s


def evaluate_slot(
    cfg: LyMDOConfig,
    tables: DeviceTables,
    split: np.ndarray,
    f_ue: np.ndarray,
    f_es: np.ndarray,
    alpha: np.ndarray,
    h: np.ndarray,
    lam: np.ndarray,
    *,
    exact: bool = False,
) -> SlotMetrics:
    """Delays (eqs. 1-4), energy (eq. 5) and memory (eq. 6) of one slot, recomputed from scratch.

    A component that cannot be served (local queue unstable, zero bandwidth or edge speed
    for a non-empty part) is charged ``cfg.delay_cap_s``, and so is any served transfer or edge
    part slower than it; ``stable`` flags the unserved ones. That cap is the environment's
    (a ``ppo`` agent picks resources itself). ``exact=True`` is the model the ``lymdo_slot``
    solvers optimise and ``verify`` recomputes: no cap at all, an unserved part costs ``inf``.
    """
    n = tables.n
    split = np.asarray(split, dtype=np.int64)
    d_ue = np.array([tables.cycles_ue[i][split[i]] for i in range(n)])
    d_es = np.array([tables.cycles_es[i][split[i]] for i in range(n)])
    psi = np.array([tables.psi_bits[i][split[i]] for i in range(n)])
    mem = np.array([tables.memory_bytes[i][split[i]] for i in range(n)])
    f_ue = np.asarray(f_ue, dtype=float)
    f_es = np.asarray(f_es, dtype=float)
    alpha = np.asarray(alpha, dtype=float)
    lam = np.asarray(lam, dtype=float)
    cap = math.inf if exact else cfg.delay_cap_s
    stable = np.ones(n, dtype=bool)
    # local M/D/1 (eq. 2): mu = f / d
    t_ue = np.zeros(n)
    has_local = d_ue > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        mu = np.where(has_local, f_ue / np.where(has_local, d_ue, 1.0), np.inf)
    ok = has_local & (mu > lam) & (f_ue > 0)
    t_ue[ok] = md1_sojourn_time_s(lam[ok], mu[ok])
    bad = has_local & ~ok
    t_ue[bad] = cap
    stable &= ~bad
    # uplink (eq. 3)
    t_tr = np.zeros(n)
    sends = psi > 0
    snr_full = cfg.tx_power_w * np.asarray(h, dtype=float) / (cfg.bandwidth_hz * cfg.noise_psd_w_per_hz)
    ok = sends & (alpha > 0)
    rate = cfg.bandwidth_hz * alpha[ok] * spectral_efficiency(snr_full[ok] / alpha[ok])
    with np.errstate(divide="ignore", over="ignore"):
        t_tr[ok] = np.minimum(psi[ok] / rate, cap)
    t_tr[sends & ~ok] = cap
    stable &= ~(sends & ~ok)
    # edge (eq. 4)
    t_es = np.zeros(n)
    has_edge = d_es > 0
    ok = has_edge & (f_es > 0)
    with np.errstate(divide="ignore", over="ignore"):
        t_es[ok] = np.minimum(d_es[ok] / f_es[ok], cap)
    t_es[has_edge & ~ok] = cap
    stable &= ~(has_edge & ~ok)
    # energy (eq. 5), per slot
    with np.errstate(over="ignore", invalid="ignore"):
        energy = (cfg.kappa * f_ue**2 * d_ue + cfg.tx_power_w * t_tr) * lam * cfg.slot_s
    return SlotMetrics(t_ue_s=t_ue, t_trans_s=t_tr, t_es_s=t_es, energy_j=energy, memory_bytes=mem, stable=stable)


def dpp_objective(cfg: LyMDOConfig, m: SlotMetrics, Q: np.ndarray, W: np.ndarray) -> float:
    """Drift-plus-penalty objective (11) = minus the reward (14)."""
    return float(np.sum(Q * m.energy_j / cfg.energy_unit_j + W * m.memory_bytes / cfg.memory_unit_bytes
                        + cfg.V * m.delay_s))


def update_queues(cfg: LyMDOConfig, tables: DeviceTables, Q: np.ndarray, W: np.ndarray,
                  m: SlotMetrics) -> tuple[np.ndarray, np.ndarray]:
    """Virtual queues, eqs. (8)-(9)."""
    q = np.maximum(Q + cfg.nu_e * (m.energy_j - tables.energy_budget_j) / cfg.energy_unit_j, 0.0)
    w = np.maximum(W + cfg.nu_c * (m.memory_bytes - tables.memory_budget_bytes) / cfg.memory_unit_bytes, 0.0)
    return q, w

