"""LyMDO agents: learning (``lymdo``, ``ppo``) and non-learning baselines, training and evaluation.

* ``lymdo``: PPO (Stable-Baselines3) choosing the splits; the exact convex allocation runs
  inside the environment step (Alg. 1). Actor and critic MLPs 128-64, Adam 3e-4, clip 0.2
  (§V-A).
* ``ppo``: PPO choosing splits AND resource shares itself (``action_mode="joint"``, 4N
  continuous outputs), the paper's baseline [9].
* ``local`` / ``edge``: everything on the device / at the edge; ``random``: uniformly random
  splits (fixed seed); ``greedy-dpp``: per-slot coordinate descent on (11). All four use the
  exact convex allocation.

Stable-Baselines3 and torch are imported inside functions only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgeinfer.core.errors import InvalidInstanceError, UnknownNameError
from edgeinfer.online.model import LyMDOConfig
from edgeinfer.online.solvers.greedy import greedy_split

__all__ = [
    "AGENTS",
    "LEARNING_AGENTS",
    "PPO_HYPERPARAMS",
    "EvalResult",
    "TrainResult",
    "make_env",
    "make_policy",
    "train",
    "load_policy",
    "load_training_log",
    "save_policy",
    "evaluate",
]

AGENTS = ("lymdo", "ppo", "local", "edge", "random", "greedy-dpp")
LEARNING_AGENTS = ("lymdo", "ppo")

#: PPO settings: §V-A of the paper where it says (nets 128-64, Adam learning rate 3e-4, clip
#: 0.2). The paper gives nothing else; gamma 0.9, rollouts of 512 slots and an entropy bonus
#: of 0.01 learned markedly faster than SB3's defaults (gamma 0.99, 2048, 0) in 30k- and
#: 100k-slot pilot runs (docs/online.md); batch 64, 10 epochs, GAE 0.95 are SB3's defaults.
PPO_HYPERPARAMS: dict[str, Any] = {
    "learning_rate": 3e-4,
    "clip_range": 0.2,
    "n_steps": 512,
    "batch_size": 64,
    "n_epochs": 10,
    "gamma": 0.9,
    "gae_lambda": 0.95,
    "ent_coef": 0.01,
}
NET_ARCH = [128, 64]
#: tolerance of ``energy_budget_met`` / ``memory_budget_met`` on the time-averaged use
BUDGET_TOL = 0.02
#: training reward scale (the curves report unscaled rewards)
TRAIN_REWARD_SCALE = 0.05


def make_env(agent: str, cfg: LyMDOConfig | None = None, *, arrival_rate: float | Sequence[float] | None = None,
             episode_slots: int | None = None, reward_scale: float = 1.0) -> Any:
    """The environment an agent acts in (joint action space for ``ppo``; log-scaled
    observations for the learning agents)."""
    from edgeinfer.online.env import CoopInferenceEnv

    if agent not in AGENTS:
        raise UnknownNameError("online agent", agent, AGENTS)
    return CoopInferenceEnv(cfg, arrival_rate=arrival_rate, episode_slots=episode_slots,
                            action_mode="joint" if agent == "ppo" else "partition", reward_scale=reward_scale,
                            log_obs=agent in LEARNING_AGENTS)


# --------------------------------------------------------------------------- policies

class _Fixed:
    def __init__(self, which: str) -> None:
        self.which = which

    def reset(self, seed: int | None) -> None:  # noqa: D102
        pass

    def act(self, env: Any, obs: np.ndarray) -> np.ndarray:
        t = env.unwrapped.tables
        return t.num_layers.copy() if self.which == "local" else np.zeros(t.n, dtype=np.int64)


class _Random:
    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self.rng = np.random.default_rng(seed)

    def reset(self, seed: int | None) -> None:
        # the paper keeps one random seed across arrival rates (§V-B, Fig. 4(c))
        self.rng = np.random.default_rng(self.seed)

    def act(self, env: Any, obs: np.ndarray) -> np.ndarray:
        t = env.unwrapped.tables
        return np.array([self.rng.integers(0, L + 1) for L in t.num_layers], dtype=np.int64)


class _Greedy:
    def reset(self, seed: int | None) -> None:
        pass

    def act(self, env: Any, obs: np.ndarray) -> np.ndarray:
        e = env.unwrapped
        st = e.state
        sp, _ = greedy_split(e.cfg, e.tables, st["h"], st["lam"], st["Q"], st["W"])
        return sp


class SB3Policy:
    """A trained Stable-Baselines3 model acting deterministically."""

    def __init__(self, model: Any, agent: str) -> None:
        self.model = model
        self.agent = agent

    def reset(self, seed: int | None) -> None:
        pass

    def act(self, env: Any, obs: np.ndarray) -> np.ndarray:
        action, _ = self.model.predict(obs, deterministic=True)
        return action


def make_policy(agent: str, *, seed: int = 0, model: Any = None) -> Any:
    """A policy object with ``reset(seed)`` and ``act(env, obs)``; learning agents need ``model``."""
    if agent in ("local", "edge"):
        return _Fixed(agent)
    if agent == "random":
        return _Random(seed)
    if agent == "greedy-dpp":
        return _Greedy()
    if agent in LEARNING_AGENTS:
        if model is None:
            raise InvalidInstanceError("model", f"agent {agent!r} needs a trained model (train or load one)")
        return SB3Policy(model, agent)
    raise UnknownNameError("online agent", agent, AGENTS)


# --------------------------------------------------------------------------- training

@dataclass
class TrainResult:
    agent: str
    model: Any
    episode_rewards: list[float] = field(default_factory=list)  # unscaled eq. (14) returns
    timesteps: int = 0
    wall_s: float = 0.0


def _ppo(agent: str, env: Any, seed: int, device: str = "cpu", overrides: dict[str, Any] | None = None) -> Any:
    from stable_baselines3 import PPO

    pk = {"net_arch": {"pi": list(NET_ARCH), "vf": list(NET_ARCH)}}
    hp = {**PPO_HYPERPARAMS, **(overrides or {})}
    return PPO("MlpPolicy", env, seed=seed, policy_kwargs=pk, verbose=0, device=device, **hp)


def train(
    agent: str,
    *,
    episodes: int = 2000,
    steps: int = 200,
    seed: int = 0,
    arrival_rate: float | Sequence[float] = (0.5, 1.0, 1.5, 2.0, 2.5),
    cfg: LyMDOConfig | None = None,
    progress: bool = False,
    n_steps: int | None = None,
    torch_threads: int = 1,
    on_episode: Callable[[int, float], None] | None = None,
    ppo_overrides: dict[str, Any] | None = None,
) -> TrainResult:
    """Train ``lymdo`` or ``ppo`` for ``episodes x steps`` slots (paper: 2000 x 200).

    By default each episode draws its arrival rate from 0.5-2.5 req/s, so one policy serves
    the whole sweep of Fig. 4 (the rate is visible in the state through lambda^t).
    """
    import time

    import torch
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.monitor import Monitor

    if agent not in LEARNING_AGENTS:
        raise UnknownNameError("learning agent", agent, LEARNING_AGENTS)
    if episodes < 1 or steps < 1:
        raise InvalidInstanceError("episodes" if episodes < 1 else "steps", "must be a positive integer")
    torch.set_num_threads(max(1, int(torch_threads)))
    env = Monitor(make_env(agent, cfg, arrival_rate=arrival_rate, episode_slots=steps,
                           reward_scale=TRAIN_REWARD_SCALE))
    env.reset(seed=seed)
    model = _ppo(agent, env, seed, overrides=ppo_overrides)
    total = episodes * steps
    if n_steps is not None:
        model.n_steps = int(n_steps)
        model.rollout_buffer.buffer_size = int(n_steps)
        model.rollout_buffer.reset()
    elif total < model.n_steps:  # short runs: update at least a few times
        ns = max(64, total // 4)
        model.n_steps = ns
        model.rollout_buffer.buffer_size = ns
        model.rollout_buffer.reset()
    result = TrainResult(agent=agent, model=model)

    class _CB(BaseCallback):
        def __init__(self) -> None:
            super().__init__()
            self.bar = None

        def _on_training_start(self) -> None:
            if progress:
                from tqdm import tqdm

                self.bar = tqdm(total=total, unit="slot", desc=f"train {agent}", dynamic_ncols=True)

        def _on_step(self) -> bool:
            if self.bar is not None:
                self.bar.update(1)
            for info in self.locals.get("infos", []):
                ep = info.get("episode")
                if ep is not None:
                    r = float(ep["r"]) / TRAIN_REWARD_SCALE
                    result.episode_rewards.append(r)
                    if self.bar is not None:
                        self.bar.set_postfix(ep=len(result.episode_rewards), reward=f"{r:.4g}")
                    if on_episode is not None:
                        on_episode(len(result.episode_rewards), r)
            return True

        def _on_training_end(self) -> None:
            if self.bar is not None:
                self.bar.close()

    t0 = time.perf_counter()
    model.learn(total_timesteps=total, callback=_CB())
    result.wall_s = time.perf_counter() - t0
    result.timesteps = int(model.num_timesteps)
    return result


def save_policy(result: TrainResult, path: str | Path) -> Path:
    """Save a trained model as a Stable-Baselines3 zip, plus ``<stem>.train.json`` with the
    training curve (the agent is recovered from the model's action space)."""
    import json

    p = Path(path)
    if p.suffix != ".zip":
        p = p.with_name(p.name + ".zip")
    p.parent.mkdir(parents=True, exist_ok=True)
    result.model.save(str(p))
    p.with_suffix(".train.json").write_text(json.dumps({
        "agent": result.agent, "timesteps": result.timesteps, "wall_s": result.wall_s,
        "episode_rewards": result.episode_rewards,
    }))
    return p


def load_training_log(path: str | Path) -> dict[str, Any] | None:
    """The ``.train.json`` written next to a saved policy, if any."""
    import json

    side = Path(path).with_suffix(".train.json")
    return json.loads(side.read_text()) if side.exists() else None


def load_policy(path: str | Path) -> SB3Policy:
    """Load a saved ``lymdo`` or ``ppo`` policy (told apart by its action space)."""
    from gymnasium import spaces
    from stable_baselines3 import PPO

    p = Path(path)
    if not p.exists() and not Path(str(p) + ".zip").exists():
        raise InvalidInstanceError("policy", f"{p}: no such file")
    try:
        model = PPO.load(str(p), device="cpu")
    except Exception as exc:  # noqa: BLE001 - any unreadable zip is bad input
        raise InvalidInstanceError("policy", f"{p}: not a saved policy ({exc.__class__.__name__})") from None
    agent = "ppo" if isinstance(model.action_space, spaces.Box) else "lymdo"
    return SB3Policy(model, agent)


# --------------------------------------------------------------------------- evaluation

@dataclass
class EvalResult:
    """Per-slot traces (slots x devices) of one evaluation run and their averages."""

    agent: str
    arrival_rate: float
    delay_s: np.ndarray
    energy_j: np.ndarray
    memory_bytes: np.ndarray
    energy_queue: np.ndarray
    memory_queue: np.ndarray
    reward: np.ndarray
    energy_budget_j: np.ndarray
    memory_budget_bytes: np.ndarray

    def summary(self) -> dict[str, Any]:
        """Averages over slots and devices; a budget counts as met when every device's
        time-averaged use is within ``BUDGET_TOL`` (2%) of it (the Lyapunov guarantee is
        asymptotic and an episode starts with empty queues)."""
        e_avg = self.energy_j.mean(axis=0)
        m_avg = self.memory_bytes.mean(axis=0)
        e_ratio = float(np.max(e_avg / self.energy_budget_j))
        m_ratio = float(np.max(m_avg / self.memory_budget_bytes))
        return {
            "agent": self.agent,
            "arrival_rate": self.arrival_rate,
            "avg_delay_s": float(self.delay_s.mean()),
            "avg_energy_j": float(self.energy_j.mean()),
            "avg_memory_mb": float(self.memory_bytes.mean() / 1e6),
            "avg_energy_queue": float(self.energy_queue.mean()),
            "avg_memory_queue": float(self.memory_queue.mean()),
            "avg_reward": float(self.reward.mean()),
            "energy_budget_ratio": e_ratio,
            "memory_budget_ratio": m_ratio,
            "energy_budget_met": bool(e_ratio <= 1.0 + BUDGET_TOL),
            "memory_budget_met": bool(m_ratio <= 1.0 + BUDGET_TOL),
        }


def evaluate(
    agent: str,
    *,
    arrival_rate: float,
    slots: int = 200,
    seed: int = 0,
    policy: Any = None,
    cfg: LyMDOConfig | None = None,
) -> EvalResult:
    """Run one episode of ``slots`` slots with a policy (trained policy for lymdo/ppo)."""
    if policy is None:
        policy = make_policy(agent, seed=seed)
    env = make_env(agent, cfg, arrival_rate=arrival_rate, episode_slots=slots)
    obs, _ = env.reset(seed=seed)
    policy.reset(seed)
    rows: dict[str, list[np.ndarray]] = {k: [] for k in ("delay_s", "energy_j", "memory_bytes", "Q", "W")}
    rewards = []
    for _ in range(slots):
        obs, r, term, trunc, info = env.step(policy.act(env, obs))
        rows["delay_s"].append(info["delay_s"])
        rows["energy_j"].append(info["energy_j"])
        rows["memory_bytes"].append(info["memory_bytes"])
        rows["Q"].append(env.Q.copy())
        rows["W"].append(env.W.copy())
        rewards.append(r)
        if term or trunc:
            break
    tb = env.tables
    return EvalResult(
        agent=agent, arrival_rate=float(arrival_rate),
        delay_s=np.array(rows["delay_s"]), energy_j=np.array(rows["energy_j"]),
        memory_bytes=np.array(rows["memory_bytes"]), energy_queue=np.array(rows["Q"]),
        memory_queue=np.array(rows["W"]), reward=np.array(rewards),
        energy_budget_j=tb.energy_budget_j.copy(), memory_budget_bytes=tb.memory_budget_bytes.copy(),
    )
