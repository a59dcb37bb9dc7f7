"""Gymnasium environment ``edgeinfer/CoopInference-v0``: LyMDO's cooperative edge inference.

Usage::

    import gymnasium
    import edgeinfer.online  # registers the id (edgeinfer.online.registration)
    env = gymnasium.make("edgeinfer/CoopInference-v0", arrival_rate=2.5)
    # or, without the explicit import:
    env = gymnasium.make("edgeinfer.online.env:edgeinfer/CoopInference-v0")

State (§IV-B, ``s^t = {h^t, lambda^t, Q(t), W(t)}``): a float32 vector of length 4N with the
channel gains normalised by their mean ``h / h-bar``, the observed arrival rates (req/s) and
the energy and memory virtual queues.

Action: ``action_mode="partition"`` (LyMDO, Alg. 1) a ``MultiDiscrete([L_n + 1])`` of split
points, the resources then come from the exact convex allocation
(:func:`edgeinfer.online.solvers.allocation.allocate`); ``action_mode="joint"`` (the paper's ``ppo``
baseline) a ``Box(-1, 1, (4N,))`` ``[y_split, y_alpha, y_fue, y_fes]`` mapped by eq. (13) for the
splits and by normalisation for the shares.

With ``log_obs=True`` (used by the learning agents) the arrival rates and queues are given as
``log1p(lambda), log1p(Q), log1p(10 W)``: the same information in a range neural networks like.

Reward: eq. (14), minus the drift-plus-penalty objective (11), times ``reward_scale``.
Episodes last ``episode_slots`` slots (K = 200) and end by truncation; queues restart at 0
(Alg. 1, line 5). Every random draw uses ``self.np_random``, so ``reset(seed=s)`` reseeds all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces

from edgeinfer.online.model import (
    LyMDOConfig,
    build_tables,
    dpp_objective,
    evaluate_slot,
    update_queues,
)
from edgeinfer.online.registration import ENV_ID, register_env
from edgeinfer.online.scenario import draw_arrivals, draw_channels
from edgeinfer.online.solvers.allocation import allocate

__all__ = ["ENV_ID", "CoopInferenceEnv", "register_envs", "joint_action_to_decisions"]

#: upper bound of the observation box (observations are clipped to it; never reached in practice)
OBS_HIGH = 1e9


def joint_action_to_decisions(
    cfg: LyMDOConfig, num_layers: np.ndarray, cycles_es_of: Any, y: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Map a joint action in [-1, 1]^{4N} to (split, alpha, f_ue, f_es).

    Splits by eq. (13) (extended to include ``l = 0``): ``l = floor((L + 1) (y + 1) / 2)``
    clipped to L. Bandwidth and edge shares are ``(y + 1) / 2`` normalised over the devices
    that need them; ``f_ue = f_max (y + 1) / 2``.
    """
    n = len(num_layers)
    y = np.clip(np.asarray(y, dtype=float), -1.0, 1.0)
    u = (y + 1.0) / 2.0
    split = np.minimum(np.floor((num_layers + 1) * u[:n]).astype(np.int64), num_layers)
    sends = split < num_layers
    a = np.where(sends, u[n:2 * n] + 1e-9, 0.0)
    alpha = a / a.sum() if a.sum() > 0 else a
    f_ue = cfg.f_ue_max_hz * u[2 * n:3 * n]
    needs = np.array([cycles_es_of(i, int(split[i])) > 0 for i in range(n)])
    e = np.where(needs, u[3 * n:] + 1e-9, 0.0)
    f_es = cfg.f_es_max_hz * e / e.sum() if e.sum() > 0 else e
    return split, alpha, f_ue, f_es


class CoopInferenceEnv(gymnasium.Env):
    """Multi-device cooperative DNN inference with Lyapunov virtual queues (LyMDO)."""

    metadata = {"render_modes": []}

    def __init__(
        self,
        config: LyMDOConfig | None = None,
        *,
        arrival_rate: float | Sequence[float] | None = None,
        action_mode: str = "partition",
        episode_slots: int | None = None,
        reward_scale: float = 1.0,
        log_obs: bool = False,
        render_mode: str | None = None,
    ) -> None:
        cfg = config or LyMDOConfig()
        rates: tuple[float, ...] | None = None
        if arrival_rate is not None and not np.isscalar(arrival_rate):
            rates = tuple(float(r) for r in arrival_rate)  # type: ignore[union-attr]
            if not rates or min(rates) < 0:
                raise ValueError("arrival_rate: need non-negative rates")
            arrival_rate = rates[0]
        if arrival_rate is not None:
            cfg = replace(cfg, arrival_rate=float(arrival_rate))  # type: ignore[arg-type]
        if episode_slots is not None:
            cfg = replace(cfg, episode_slots=int(episode_slots))
        #: with several rates, each episode draws one uniformly (training across workloads)
        self.arrival_rates = rates
        self.rate = cfg.arrival_rate
        if action_mode not in ("partition", "joint"):
            raise ValueError(f"action_mode must be 'partition' or 'joint', not {action_mode!r}")
        self.cfg = cfg
        self.tables = build_tables(cfg)
        self.action_mode = action_mode
        self.reward_scale = float(reward_scale)
        self.log_obs = bool(log_obs)
        self.render_mode = render_mode
        n = self.tables.n
        self.n = n
        self.observation_space = spaces.Box(low=0.0, high=OBS_HIGH, shape=(4 * n,), dtype=np.float32)
        if action_mode == "partition":
            self.action_space = spaces.MultiDiscrete(self.tables.num_layers + 1)
        else:
            self.action_space = spaces.Box(low=-1.0, high=1.0, shape=(4 * n,), dtype=np.float32)
        self._t = 0
        self.Q = np.zeros(n)
        self.W = np.zeros(n)
        self.h = np.ones(n)
        self.lam = np.zeros(n)

    # ------------------------------------------------------------------ helpers
    def _draw(self) -> None:
        self.h = draw_channels(self.np_random, self.tables)
        self.lam = draw_arrivals(self.np_random, self.n, self.rate, self.cfg.slot_s)

    def _obs(self) -> np.ndarray:
        if self.log_obs:  # same information, compressed range for neural policies
            obs = np.concatenate([self.h / self.tables.mean_gain, np.log1p(self.lam), np.log1p(self.Q),
                                  np.log1p(self.W * 10.0)])
        else:
            obs = np.concatenate([self.h / self.tables.mean_gain, self.lam, self.Q, self.W])
        return np.minimum(obs, OBS_HIGH).astype(np.float32)

    @property
    def state(self) -> dict[str, np.ndarray]:
        """The current slot's state (copies): channels, arrival rates, queues."""
        return {"h": self.h.copy(), "lam": self.lam.copy(), "Q": self.Q.copy(), "W": self.W.copy()}

    # ------------------------------------------------------------------ API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        if self.arrival_rates is not None:
            self.rate = self.arrival_rates[int(self.np_random.integers(len(self.arrival_rates)))]
        self._t = 0
        self.Q = np.zeros(self.n)
        self.W = np.zeros(self.n)
        self._draw()
        return self._obs(), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        cfg, tables = self.cfg, self.tables
        if self.action_mode == "partition":
            split = np.asarray(action, dtype=np.int64).reshape(self.n)
            if np.any(split < 0) or np.any(split > tables.num_layers):
                raise ValueError(f"split out of range: {split.tolist()}")
            al = allocate(cfg, tables, split, self.h, self.lam, self.Q, self.W)
            m, obj, split_used = al.metrics, al.objective, al.split
            f_ue, f_es, alpha, repaired = al.f_ue_hz, al.f_es_hz, al.alpha, al.repaired
        else:
            split_used, alpha, f_ue, f_es = joint_action_to_decisions(
                cfg, tables.num_layers, lambda i, s: tables.cycles_es[i][s], np.asarray(action))
            m = evaluate_slot(cfg, tables, split_used, f_ue, f_es, alpha, self.h, self.lam)
            obj = dpp_objective(cfg, m, self.Q, self.W)
            repaired = np.zeros(self.n, dtype=bool)
        info = {
            "split": split_used, "repaired": repaired, "f_ue_hz": f_ue, "f_es_hz": f_es, "alpha": alpha,
            "delay_s": m.delay_s, "energy_j": m.energy_j, "memory_bytes": m.memory_bytes,
            "stable": m.stable, "Q": self.Q.copy(), "W": self.W.copy(), "lam": self.lam.copy(),
            "objective": obj,
        }
        self.Q, self.W = update_queues(cfg, tables, self.Q, self.W, m)
        self._t += 1
        self._draw()
        truncated = self._t >= cfg.episode_slots
        return self._obs(), float(-obj * self.reward_scale), False, truncated, info


def register_envs() -> None:
    """Register ``edgeinfer/CoopInference-v0`` with Gymnasium (idempotent)."""
    register_env(gymnasium)


register_envs()
