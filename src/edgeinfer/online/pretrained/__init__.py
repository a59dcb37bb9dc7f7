"""Small pretrained ``lymdo`` and ``ppo`` policies shipped as package data (data, never code).

``manifest.json`` lists each policy file (``<agent>.zip``, the zip of JSON + safetensors of
:func:`edgeinfer.online.agents.save_policy`, value network left out), its SHA-256, its
training budget (episodes x slots, seed, arrival rates, PPO settings), the date and the
software versions it was trained with; ``<agent>.train.json`` holds its training curve.
:func:`load_pretrained` checks the file against the manifest's hash before parsing it
(a tampered file is refused), then loads it with :func:`~edgeinfer.online.agents.load_policy_bytes`
(no pickle, no ``torch.load``).

Regenerate (seeded; byte-identical on the same software and CPU, see ``docs/online.md``)::

    python -m edgeinfer.online.pretrained --out src/edgeinfer/online/pretrained
    python -m edgeinfer.online.pretrained --check   # retrain in a temporary folder, compare hashes

These are short trainings (:data:`DEFAULT_EPISODES` episodes, the paper trains 2,000): every
result from them is labelled so.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from edgeinfer.core.errors import InvalidInstanceError
from edgeinfer.core.validation import StrictModel

__all__ = ["DEFAULT_EPISODES", "DEFAULT_STEPS", "MANIFEST", "TUNING_GRID", "Manifest", "PretrainedPolicy",
           "load_manifest", "load_pretrained", "regenerate", "tune"]

MANIFEST = "manifest.json"
#: training budget of the shipped policies (episodes of DEFAULT_STEPS slots, each agent)
DEFAULT_EPISODES = 100
DEFAULT_STEPS = 200
_MAX_MANIFEST_BYTES = 1 << 20
_MAX_LOG_BYTES = 4 << 20


class PretrainedPolicy(StrictModel):
    """One shipped policy: its file, hash and training budget."""

    agent: Literal["lymdo", "ppo"]
    file: str
    log: str
    sha256: str
    bytes: int
    seed: int
    episodes: int
    steps: int
    timesteps: int
    arrival_rates: list[float]
    hyperparams: dict[str, float | int]
    wall_s: float


class Manifest(StrictModel):
    """``manifest.json``."""

    format: Literal["edgeinfer-pretrained"]
    version: Literal[1]
    date: str
    command: str
    software: dict[str, str]
    policies: list[PretrainedPolicy]


def _package_file(name: str) -> bytes:
    if "/" in name or "\\" in name or name.startswith("."):
        raise InvalidInstanceError("policy", f"pretrained manifest names {name[:60]!r}, not a file of the package")
    try:
        data = resources.files(__name__).joinpath(name).read_bytes()
    except (FileNotFoundError, OSError):
        raise InvalidInstanceError("policy", f"pretrained {name} is not installed (the package data "
                                             "edgeinfer/online/pretrained/*.zip, *.json is missing)") from None
    return data


def load_manifest(data: bytes | None = None) -> Manifest:
    """The shipped manifest (or ``data``), validated."""
    from edgeinfer.core.io import parse_json_text
    from edgeinfer.core.validation import parse_model

    raw = _package_file(MANIFEST) if data is None else data
    if len(raw) > _MAX_MANIFEST_BYTES:
        raise InvalidInstanceError("policy", f"pretrained {MANIFEST} is larger than {_MAX_MANIFEST_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInstanceError("policy", f"pretrained {MANIFEST} is not UTF-8") from None
    return parse_model(Manifest, parse_json_text(text, f"pretrained {MANIFEST}"), prefix="pretrained manifest: ")


def _entry(manifest: Manifest, agent: str) -> PretrainedPolicy:
    for e in manifest.policies:
        if e.agent == agent:
            return e
    raise InvalidInstanceError("policy", f"no pretrained {agent!r} policy is shipped "
                                         f"(manifest has {[e.agent for e in manifest.policies]})")


def load_pretrained(agent: str, *, reader: Any = None) -> tuple[Any, list[float], PretrainedPolicy]:
    """The shipped ``agent`` policy (an :class:`~edgeinfer.online.agents.SB3Policy`), its training
    curve and its manifest entry. The file must have exactly the manifest's SHA-256 (refused
    otherwise, before it is parsed) and then passes every check of ``load_policy``.
    ``reader(name) -> bytes`` replaces the package's file reader (tests)."""
    from edgeinfer.core.io import parse_json_text
    from edgeinfer.online.agents import check_training_log, load_policy_bytes

    read = _package_file if reader is None else reader
    manifest = load_manifest(read(MANIFEST))
    e = _entry(manifest, agent)
    data = read(e.file)
    digest = hashlib.sha256(data).hexdigest()
    if digest != e.sha256 or len(data) != e.bytes:
        raise InvalidInstanceError("policy", f"pretrained {e.file}: refused, its SHA-256 {digest[:16]}... is not "
                                             f"the manifest's {e.sha256[:16]}... (a modified file)")
    pol = load_policy_bytes(data, f"pretrained {e.file}")
    if pol.agent != agent:
        raise InvalidInstanceError("policy", f"pretrained {e.file}: a {pol.agent!r} policy, not {agent!r}")
    raw_log = read(e.log)
    if len(raw_log) > _MAX_LOG_BYTES:
        raise InvalidInstanceError("policy", f"pretrained {e.log} is larger than {_MAX_LOG_BYTES} bytes")
    log = check_training_log(parse_json_text(raw_log.decode("utf-8", errors="replace"), f"pretrained {e.log}"),
                             f"pretrained {e.log}")
    return pol, [float(r) for r in log.get("episode_rewards", [])], e


def _versions() -> dict[str, str]:
    import gymnasium
    import numpy
    import stable_baselines3
    import torch

    from edgeinfer import __version__

    return {"edgeinfer": __version__, "torch": torch.__version__, "stable_baselines3": stable_baselines3.__version__,
            "gymnasium": gymnasium.__version__, "numpy": numpy.__version__}


def regenerate(out_dir: str | Path, *, agents: Sequence[str] = ("lymdo", "ppo"), episodes: int = DEFAULT_EPISODES,
               steps: int = DEFAULT_STEPS, seed: int = 0, date: str | None = None,
               command: str = "python -m edgeinfer.online.pretrained --out DIR") -> Manifest:
    """Train ``agents`` (``episodes x steps`` slots, ``seed``; the default PPO settings of
    :func:`~edgeinfer.online.agents.train`) and write ``<agent>.zip`` (actor only),
    ``<agent>.train.json`` and ``manifest.json`` into ``out_dir``. Entries of other agents in an
    existing manifest there are kept (so agents can be trained in separate processes)."""
    import datetime
    import json

    from edgeinfer.core.io import check_output_path, read_file_bytes, write_bytes_atomic
    from edgeinfer.online.agents import RATES, agent_hyperparams, save_policy, train

    out = Path(out_dir)
    if not out.is_dir():
        raise InvalidInstanceError("--out", f"{out} is not a folder")
    for ag in agents:
        if ag not in ("lymdo", "ppo"):
            raise InvalidInstanceError("--agents", f"{ag!r} is not a learning agent (lymdo, ppo)")
        for name in (f"{ag}.zip", f"{ag}.train.json"):
            check_output_path(out / name)
    check_output_path(out / MANIFEST)
    kept: list[PretrainedPolicy] = []
    if (out / MANIFEST).exists():
        old = load_manifest(read_file_bytes(out / MANIFEST, what="manifest", cap=_MAX_MANIFEST_BYTES, field="--out"))
        kept = [e for e in old.policies if e.agent not in agents]
    entries = []
    for ag in agents:
        res = train(ag, episodes=episodes, steps=steps, seed=seed)
        path = save_policy(res, out / f"{ag}.zip", actor_only=True, log=False)
        log = json.dumps({"agent": ag, "timesteps": res.timesteps, "episode_rewards": res.episode_rewards})
        write_bytes_atomic(out / f"{ag}.train.json", log.encode())
        data = path.read_bytes()
        entries.append(PretrainedPolicy.model_validate(dict(
            agent=ag, file=path.name, log=f"{ag}.train.json", sha256=hashlib.sha256(data).hexdigest(),
            bytes=len(data), seed=seed, episodes=episodes, steps=steps, timesteps=res.timesteps,
            arrival_rates=list(RATES), hyperparams=agent_hyperparams(ag), wall_s=round(res.wall_s, 1))))
    man = Manifest(format="edgeinfer-pretrained", version=1,
                   date=date or datetime.datetime.now(datetime.UTC).date().isoformat(), command=command,
                   software=_versions(), policies=sorted([*kept, *entries], key=lambda e: e.agent))
    write_bytes_atomic(out / MANIFEST, (json.dumps(man.model_dump(), indent=1) + "\n").encode())
    return man


#: the pilot grid run for both learning agents (docs/online.md, "Equal tuning effort")
TUNING_GRID: tuple[dict[str, float], ...] = tuple(
    {"gamma": g, "ent_coef": e} for g in (0.9, 0.99) for e in (0.0, 0.01))


def tune(agent: str, *, episodes: int = 50, steps: int = DEFAULT_STEPS, seed: int = 100,
         rates: Sequence[float] = (0.5, 1.5, 2.5), eval_slots: int = 200) -> list[dict[str, Any]]:
    """The pilot grid for ``agent``: per setting of :data:`TUNING_GRID`, train ``episodes`` x
    ``steps`` slots with ``seed`` and score the mean reward (14) per slot of one
    ``eval_slots``-slot evaluation episode per rate (evaluation seeds 1000, 1001, ...)."""
    import numpy as np

    from edgeinfer.online.agents import evaluate, make_policy, train

    rows = []
    for conf in TUNING_GRID:
        res = train(agent, episodes=episodes, steps=steps, seed=seed, ppo_overrides=dict(conf))
        pol = make_policy(agent, model=res.model)
        score = float(np.mean([evaluate(agent, arrival_rate=r, slots=eval_slots, seed=1000 + i, policy=pol)
                               .summary()["avg_reward"] for i, r in enumerate(rates)]))
        rows.append({"agent": agent, **conf, "seed": seed, "slots": res.timesteps, "mean_reward": score,
                     "wall_s": round(res.wall_s, 1)})
    return rows
