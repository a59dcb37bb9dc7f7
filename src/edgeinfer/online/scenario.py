"""The random processes of LyMDO's §V-A set-up, and random slots as ``lymdo_slot`` instances.

* :func:`draw_channels`: Rayleigh block fading ``h = beta * h-bar``, ``beta ~ Exp(1)``;
* :func:`draw_arrivals`: Poisson arrivals per slot, reported as a rate (req/s);
* :func:`make_instance`: one random slot of the system of :class:`ScenarioConfig` (the
  paper's defaults, :class:`~edgeinfer.online.model.LyMDOConfig`), validated as a file is.

The environment (:mod:`edgeinfer.online.env`) draws every slot with the first two.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np

from edgeinfer.core.rng import SeedLike, scenario_setup
from edgeinfer.online.model import DeviceTables, LyMDOConfig, build_tables
from edgeinfer.online.problem import PROBLEM, SlotInstance, SystemModel, load_instance
from edgeinfer.system.channels import rayleigh_power

__all__ = ["ScenarioConfig", "draw_channels", "draw_arrivals", "make_instance"]


def draw_channels(rng: np.random.Generator, tables: DeviceTables) -> np.ndarray:
    """Rayleigh block fading ``h = beta * h-bar``, beta ~ Exp(1) (§V-A)."""
    return rayleigh_power(rng, tables.n) * tables.mean_gain


def draw_arrivals(rng: np.random.Generator, n: int, rate_per_s: float | np.ndarray, slot_s: float) -> np.ndarray:
    """Observed arrival rate of the slot: Poisson(lambda * slot) arrivals / slot (req/s)."""
    return rng.poisson(np.broadcast_to(np.asarray(rate_per_s, dtype=float) * slot_s, (n,))) / slot_s


@dataclass(frozen=True)
class ScenarioConfig:
    """A random slot: the system ``system`` (devices' models, constants, ``arrival_rate``) and
    the virtual queues every device starts the slot with (0: the first slot of an episode,
    Alg. 1 line 5)."""

    system: LyMDOConfig = field(default_factory=LyMDOConfig)
    energy_queue: float = 0.0
    memory_queue: float = 0.0


def make_instance(config: ScenarioConfig | None = None, *, seed: SeedLike = None,
                  rng: np.random.Generator | None = None, **overrides: Any) -> SlotInstance:
    """One random slot: channel gains by :func:`draw_channels`, arrival rates by
    :func:`draw_arrivals` at ``system.arrival_rate``; every split free.

    ``overrides`` replace fields of ``config`` (``energy_queue``, ``memory_queue``, ``system``)
    or of its ``system`` (any :class:`LyMDOConfig` field, e.g. ``models=("alexnet",) * 3``,
    ``arrival_rate=1.5``); ``rng`` (if given) is used instead of ``seed``. The instance is
    validated as a file is (built as a document and loaded).
    """
    cfg, gen, sys_over = scenario_setup(ScenarioConfig, config, overrides, seed=seed, rng=rng,
                                        where="lymdo_slot scenario", extra={f.name for f in fields(LyMDOConfig)})
    system = replace(cfg.system, **sys_over) if sys_over else cfg.system
    tables = build_tables(system)
    h = draw_channels(gen, tables)
    lam = draw_arrivals(gen, tables.n, system.arrival_rate, system.slot_s)
    doc = {
        "problem": PROBLEM,
        "system": {k: getattr(system, k) for k in SystemModel.model_fields},
        "devices": [
            {"id": f"ue{i}", "model": system.models[i], "channel_gain": float(h[i]), "arrival_rate": float(lam[i]),
             "energy_queue": cfg.energy_queue, "memory_queue": cfg.memory_queue}
            for i in range(tables.n)
        ],
    }
    return load_instance(doc)
