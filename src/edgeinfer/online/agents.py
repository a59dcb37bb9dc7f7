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

import json
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from edgeinfer.core.errors import InvalidInstanceError, UnknownNameError
from edgeinfer.core.validation import StrictModel
from edgeinfer.dnn.profiles import load_profile
from edgeinfer.online.model import LyMDOConfig
from edgeinfer.online.solvers.greedy import greedy_split

__all__ = [
    "AGENTS",
    "LEARNING_AGENTS",
    "PPO_HYPERPARAMS",
    "AGENT_HYPERPARAMS",
    "RATES",
    "agent_hyperparams",
    "EvalResult",
    "TrainResult",
    "make_env",
    "make_policy",
    "train",
    "load_policy",
    "load_training_log",
    "load_policy_bytes",
    "check_training_log",
    "policy_bytes",
    "policy_path",
    "save_policy",
    "evaluate",
]

AGENTS = ("lymdo", "ppo", "local", "edge", "random", "greedy-dpp")
LEARNING_AGENTS = ("lymdo", "ppo")

#: PPO settings: §V-A of the paper where it says (nets 128-64, Adam learning rate 3e-4, clip
#: 0.2). The paper gives nothing else; gamma 0.9 and rollouts of 512 slots learned markedly
#: faster than SB3's defaults (gamma 0.99, 2048) in 30k- and 100k-slot pilot runs, and the same
#: grid (gamma 0.9 / 0.99 x entropy bonus 0 / 0.01, 10k slots each) run for both lymdo and ppo
#: picked gamma 0.9 and no entropy bonus for both (docs/online.md, "Equal tuning effort");
#: batch 64, 10 epochs, GAE 0.95 are SB3's defaults.
PPO_HYPERPARAMS: dict[str, Any] = {
    "learning_rate": 3e-4,
    "clip_range": 0.2,
    "n_steps": 512,
    "batch_size": 64,
    "n_epochs": 10,
    "gamma": 0.9,
    "gae_lambda": 0.95,
    "ent_coef": 0.0,
}
#: per-agent changes to :data:`PPO_HYPERPARAMS`, from the same pilot grid run for both agents
#: (docs/online.md, "Equal tuning effort")
AGENT_HYPERPARAMS: dict[str, dict[str, Any]] = {"lymdo": {}, "ppo": {}}
NET_ARCH = [128, 64]
#: the arrival rates (req/s) of Fig. 4; training draws one of them per episode
RATES = (0.5, 1.0, 1.5, 2.0, 2.5)


def agent_hyperparams(agent: str) -> dict[str, Any]:
    """The PPO settings :func:`train` uses for ``agent`` (``lymdo`` or ``ppo``)."""
    if agent not in LEARNING_AGENTS:
        raise UnknownNameError("learning agent", agent, LEARNING_AGENTS)
    return {**PPO_HYPERPARAMS, **AGENT_HYPERPARAMS[agent]}
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
    """A trained Stable-Baselines3 model (or, loaded from a file, its policy network) acting
    deterministically. ``models``: the devices' models it was trained for, when known (a
    loaded policy): acting in an environment of other devices is refused."""

    def __init__(self, model: Any, agent: str, models: tuple[str, ...] | None = None) -> None:
        self.model = model
        self.agent = agent
        self.models = models

    def reset(self, seed: int | None) -> None:
        pass

    def act(self, env: Any, obs: np.ndarray) -> np.ndarray:
        if self.models is not None:
            have = tuple(env.unwrapped.cfg.models)
            if have != self.models:
                raise InvalidInstanceError("policy", f"trained for devices {list(self.models)}, the environment "
                                                     f"has {list(have)}")
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
    hp = {**agent_hyperparams(agent), **(overrides or {})}
    return PPO("MlpPolicy", env, seed=seed, policy_kwargs=pk, verbose=0, device=device, **hp)


def train(
    agent: str,
    *,
    episodes: int = 2000,
    steps: int = 200,
    seed: int = 0,
    arrival_rate: float | Sequence[float] = RATES,
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


#: the policy file format (a zip holding exactly these two entries; nothing in it is code)
POLICY_FORMAT = "edgeinfer-policy"
POLICY_VERSION = 1
POLICY_CONFIG = "edgeinfer-policy.json"
POLICY_WEIGHTS = "weights.safetensors"
#: largest policy file read (bytes); the 128-64 networks of the paper's setting take ~100 kB
MAX_POLICY_BYTES = 64 * 2**20
_ACTIVATIONS = ("tanh", "relu")
_MAX_DEVICES = 1024
_MAX_WIDTH = 4096


class _PolicyConfig(StrictModel):
    """What ``edgeinfer-policy.json`` may say: edgeinfer's own configuration, nothing else."""

    format: Literal["edgeinfer-policy"]
    version: Literal[1]
    agent: Literal["lymdo", "ppo"]
    models: list[str]
    num_layers: list[int]
    log_obs: bool
    net_arch: dict[Literal["pi", "vf"], list[int]]
    activation: Literal["tanh", "relu"]
    #: ``"actor"``: only the policy network's tensors are stored (the value network is not
    #: needed to act; a loaded policy is never trained further): about half the size
    parts: Literal["actor-critic", "actor"] = "actor-critic"


def _policy_config(result_or_model: Any, agent: str, models: Sequence[str], num_layers: Sequence[int],
                   parts: str = "actor-critic") -> dict:
    import torch

    pol = result_or_model.policy
    act = {torch.nn.Tanh: "tanh", torch.nn.ReLU: "relu"}.get(pol.activation_fn)
    net = pol.net_arch
    if act is None or not isinstance(net, dict) or set(net) != {"pi", "vf"} or pol.use_sde or pol.squash_output:
        raise InvalidInstanceError("policy", "only edgeinfer's own PPO MLP policies (train()) can be saved")
    return {"format": POLICY_FORMAT, "version": POLICY_VERSION, "agent": agent, "models": list(models),
            "num_layers": [int(x) for x in num_layers], "log_obs": True,
            "net_arch": {"pi": [int(x) for x in net["pi"]], "vf": [int(x) for x in net["vf"]]}, "activation": act,
            **({"parts": parts} if parts != "actor-critic" else {})}


#: tensor-name prefixes of the value (critic) side of SB3's ``ActorCriticPolicy``
_VALUE_PREFIXES = ("mlp_extractor.value_net.", "value_net.", "vf_features_extractor.")


def _is_value_tensor(name: str) -> bool:
    return name.startswith(_VALUE_PREFIXES)


#: timestamp of every entry of a saved policy zip (fixed: the same policy gives the same bytes)
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def policy_bytes(conf: dict[str, Any], tensors: dict[str, Any]) -> bytes:
    """The bytes of a policy file: a zip of ``edgeinfer-policy.json`` and ``weights.safetensors``
    with fixed timestamps and sorted keys, so equal policies give byte-identical files."""
    import io
    import zipfile

    from safetensors.torch import save as st_save

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in ((POLICY_CONFIG, json.dumps(conf, indent=1, sort_keys=True).encode()),
                           (POLICY_WEIGHTS, st_save(dict(sorted(tensors.items()))))):
            info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)
    return buf.getvalue()


def _build_policy(conf: _PolicyConfig) -> Any:
    """The SB3 actor-critic that ``conf`` describes (fresh weights, not yet loaded)."""
    import torch
    from gymnasium import spaces
    from stable_baselines3.common.policies import ActorCriticPolicy

    from edgeinfer.online.env import OBS_HIGH

    n = len(conf.models)
    obs = spaces.Box(low=0.0, high=OBS_HIGH, shape=(4 * n,), dtype=np.float32)
    act: spaces.Space = (spaces.MultiDiscrete(np.array(conf.num_layers) + 1) if conf.agent == "lymdo"
                         else spaces.Box(low=-1.0, high=1.0, shape=(4 * n,), dtype=np.float32))
    fn = {"tanh": torch.nn.Tanh, "relu": torch.nn.ReLU}[conf.activation]
    with torch.random.fork_rng(devices=[]):  # building draws initial weights: leave the caller's RNG alone
        policy = ActorCriticPolicy(obs, act, lambda _: 0.0, net_arch={k: list(v) for k, v in conf.net_arch.items()},
                                   activation_fn=fn)
    return policy.to("cpu").eval()


def policy_path(path: str | Path) -> Path:
    """Where :func:`save_policy` writes ``path``: ``.zip`` appended unless it ends so."""
    p = Path(path)
    return p if p.suffix == ".zip" else p.with_name(p.name + ".zip")


def save_policy(result: TrainResult, path: str | Path, *, actor_only: bool = False,
                log: bool = True) -> Path:
    """Save a trained policy as data: a zip holding ``edgeinfer-policy.json`` (agent, the devices'
    models and layer counts, network architecture) and ``weights.safetensors`` (the policy
    network's tensors), plus (``log``) ``<stem>.train.json`` with the training curve. Nothing
    pickled: :func:`load_policy` rebuilds the network from the JSON and loads only tensors.
    ``actor_only`` stores the policy network alone (the value network is only used in
    training; about half the size). The zip's bytes depend only on the policy (fixed
    timestamps, sorted keys).

    ``path`` gets ``.zip`` appended if it has another suffix; links, devices, FIFOs are never
    replaced (the file is written beside it and renamed)."""
    from edgeinfer.core.io import check_output_path, write_bytes_atomic, write_json

    p = policy_path(path)
    side = p.with_suffix(".train.json")
    check_output_path(p)
    if log:
        check_output_path(side)
    env = result.model.get_env()
    base = env.envs[0].unwrapped if env is not None and hasattr(env, "envs") else None
    if base is None:
        raise InvalidInstanceError("policy", "the trained model has no environment to describe")
    conf = _policy_config(result.model, result.agent, base.cfg.models, base.tables.num_layers,
                          "actor" if actor_only else "actor-critic")
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in result.model.policy.state_dict().items()
               if not (actor_only and _is_value_tensor(k))}
    write_bytes_atomic(p, policy_bytes(conf, tensors))
    if log:
        write_json(side, {"agent": result.agent, "timesteps": result.timesteps, "wall_s": result.wall_s,
                          "episode_rewards": result.episode_rewards}, indent=None)
    return p


def load_training_log(path: str | Path) -> dict[str, Any] | None:
    """The ``.train.json`` written next to a saved policy, if any (checked: a JSON object whose
    ``episode_rewards`` is a list of finite numbers)."""
    from edgeinfer.core.io import read_json

    side = Path(path).with_suffix(".train.json")
    if not os.path.lexists(side):
        return None
    return check_training_log(read_json(side), str(side))


def check_training_log(doc: Any, source: str) -> dict[str, Any]:
    """``doc`` if it is a training log (a JSON object whose ``episode_rewards`` is a list of
    finite numbers), else :class:`InvalidInstanceError` (field ``policy``) naming ``source``."""
    rewards = doc.get("episode_rewards", []) if isinstance(doc, dict) else None
    if not isinstance(rewards, list) or not all(
            isinstance(r, int | float) and not isinstance(r, bool) and math.isfinite(r) for r in rewards):
        raise InvalidInstanceError("policy", f"{source}: not a training log (episode_rewards must be a list of "
                                             "finite numbers)")
    assert isinstance(doc, dict)
    return doc


def _refuse(p: Path | str, why: str) -> InvalidInstanceError:
    return InvalidInstanceError("policy", f"{p}: refused, {why}")


def _read_policy_bytes(p: Path) -> bytes:
    """The file's bytes: a regular file below :data:`MAX_POLICY_BYTES` (no FIFO can hang this)."""
    from edgeinfer.core.io import read_file_bytes

    return read_file_bytes(p, what="policy file", cap=MAX_POLICY_BYTES, field="policy")


def _read_entry(zf: Any, name: str, p: Path | str) -> bytes:
    info = zf.getinfo(name)
    if info.file_size > MAX_POLICY_BYTES:
        raise _refuse(p, f"{name} would unpack to {info.file_size} bytes")
    with zf.open(info) as fh:
        data = fh.read(MAX_POLICY_BYTES + 1)
    if len(data) > MAX_POLICY_BYTES:
        raise _refuse(p, f"{name} unpacks to more than {MAX_POLICY_BYTES} bytes")
    return data


def load_policy(path: str | Path) -> SB3Policy:
    """Load a policy saved by :func:`save_policy` (``lymdo`` or ``ppo``) without running any of
    its content: the network is rebuilt from edgeinfer's configuration in the zip and only
    tensors are read (safetensors; no pickle is ever loaded).

    A file that is anything else is refused with one :class:`InvalidInstanceError` naming it:
    not a zip, other entries (e.g. a Stable-Baselines3 zip, which holds pickled objects), a
    configuration with unknown keys or values (an unknown model profile included), tensors
    with other names, shapes or dtypes than the network has, or non-finite weights.
    """
    p = Path(path)
    if not os.path.lexists(p) and os.path.lexists(str(p) + ".zip"):
        p = Path(str(p) + ".zip")
    return load_policy_bytes(_read_policy_bytes(p), p)


def load_policy_bytes(data: bytes, p: Path | str) -> SB3Policy:
    """:func:`load_policy` on a file's bytes (``p`` names it in messages)."""
    import io
    import zipfile

    from safetensors.torch import load as st_load

    from edgeinfer.core.validation import parse_model

    if len(data) > MAX_POLICY_BYTES:
        raise _refuse(p, f"larger than {MAX_POLICY_BYTES} bytes")
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        names = zf.namelist()
    except (zipfile.BadZipFile, ValueError, OSError, EOFError):
        raise _refuse(p, "not a saved edgeinfer policy (not a zip file)") from None
    with zf:
        if sorted(names) != sorted([POLICY_CONFIG, POLICY_WEIGHTS]):
            if "data" in names or any(n.endswith((".pth", ".pkl", ".pt")) for n in names):
                raise _refuse(p, "a Stable-Baselines3 zip (it holds pickled objects, which edgeinfer never "
                                 "loads); save policies with this edgeinfer's `edgeinfer train`")
            shown = ", ".join(repr(n) for n in names[:5]) + (", ..." if len(names) > 5 else "")
            raise _refuse(p, f"a policy zip holds exactly {POLICY_CONFIG} and {POLICY_WEIGHTS}, this one: {shown}")
        try:
            raw_conf = _read_entry(zf, POLICY_CONFIG, p)
            raw_w = _read_entry(zf, POLICY_WEIGHTS, p)
        except InvalidInstanceError:
            raise
        except (zipfile.BadZipFile, ValueError, OSError, EOFError, NotImplementedError) as exc:
            # NotImplementedError: zipfile's answer to a compression method it does not support
            raise _refuse(p, f"a damaged zip ({type(exc).__name__})") from None
    try:
        doc = json.loads(raw_conf.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise _refuse(p, f"{POLICY_CONFIG} is not JSON") from None
    try:
        conf = parse_model(_PolicyConfig, doc)
    except InvalidInstanceError as exc:
        raise _refuse(p, f"{POLICY_CONFIG}: {exc}") from None
    n = len(conf.models)
    if not 1 <= n <= _MAX_DEVICES or len(conf.num_layers) != n:
        raise _refuse(p, f"{POLICY_CONFIG}: models and num_layers need 1-{_MAX_DEVICES} entries, the same number")
    for k, (m, nl) in enumerate(zip(conf.models, conf.num_layers, strict=True)):
        try:
            prof = load_profile(m) if len(m) <= 100 else None
        except UnknownNameError as exc:
            raise _refuse(p, f"{POLICY_CONFIG}: models[{k}]: {exc}") from None
        if prof is None or prof.num_layers != nl:
            raise _refuse(p, f"{POLICY_CONFIG}: num_layers[{k}] = {nl} but model {m[:100]!r} has "
                             f"{prof.num_layers if prof else '?'} layers")
    if set(conf.net_arch) != {"pi", "vf"} or not all(
            1 <= len(w) <= 8 and all(1 <= x <= _MAX_WIDTH for x in w) for w in conf.net_arch.values()):
        raise _refuse(p, f"{POLICY_CONFIG}: net_arch needs pi and vf, each 1-8 layers of 1-{_MAX_WIDTH} units")
    if not conf.log_obs:
        raise _refuse(p, f"{POLICY_CONFIG}: log_obs must be true (the learning agents' observations)")
    policy = _build_policy(conf)
    try:
        tensors = st_load(raw_w)
    except Exception as exc:  # noqa: BLE001 - any decoding failure of the tensor file is bad input
        raise _refuse(p, f"{POLICY_WEIGHTS} is not a safetensors file ({type(exc).__name__})") from None
    full = policy.state_dict()
    want = ({k: v for k, v in full.items() if not _is_value_tensor(k)} if conf.parts == "actor" else full)
    if set(tensors) != set(want):
        extra, missing = sorted(set(tensors) - set(want)), sorted(set(want) - set(tensors))
        raise _refuse(p, f"{POLICY_WEIGHTS} does not fit the network (unexpected {extra[:3]}, missing {missing[:3]})")
    import torch

    for k, t in want.items():
        got = tensors[k]
        if got.dtype != t.dtype or tuple(got.shape) != tuple(t.shape):
            raise _refuse(p, f"{POLICY_WEIGHTS}: {k} is {got.dtype} {tuple(got.shape)}, the network needs "
                             f"{t.dtype} {tuple(t.shape)}")
        if not bool(torch.isfinite(got).all()):
            raise _refuse(p, f"{POLICY_WEIGHTS}: {k} holds non-finite weights")
    if conf.parts == "actor":  # the value network is not stored: zeros (it is never used to act)
        tensors = {**{k: torch.zeros_like(v) for k, v in full.items() if _is_value_tensor(k)}, **tensors}
    policy.load_state_dict(tensors, strict=True)
    return SB3Policy(policy, conf.agent, models=tuple(conf.models))


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

    def head(self, slots: int) -> EvalResult:
        """The first ``slots`` slots of the run (an episode of that length with the same seed
        has exactly these traces: the draws do not depend on the episode length)."""
        k = max(1, int(slots))
        return EvalResult(agent=self.agent, arrival_rate=self.arrival_rate, delay_s=self.delay_s[:k],
                          energy_j=self.energy_j[:k], memory_bytes=self.memory_bytes[:k],
                          energy_queue=self.energy_queue[:k], memory_queue=self.memory_queue[:k],
                          reward=self.reward[:k], energy_budget_j=self.energy_budget_j,
                          memory_budget_bytes=self.memory_budget_bytes)

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
