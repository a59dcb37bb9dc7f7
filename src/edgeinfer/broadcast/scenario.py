# ruff: noqa: E741  (I is the paper's score tensor I_{i,n}^{(k)})
"""Random MBA instances: a synthetic AI library at the paper's Section VII default point.

:func:`make_instance` draws one instance from :class:`ScenarioConfig` (documented in
docs/broadcast.md, §6):

* ``K`` tasks, one task-specific model each (``M = K``; device ``k`` runs task ``k``, as in
  the paper's set-up where the requested tasks are distinct), each a chain of ``N`` blocks.
* Tasks belong to ``F`` families (e.g. natural images vs digits), drawn uniformly.
* A model's own blocks score ``I[k, n, k] ~ U(own_low, 1)`` for its task.
* Block ``n`` of model ``i`` scores for task ``k != i``:
  ``I[i, n, k] = I[k, n, k] * clip(r(n) + sigma * z, 0, 1)`` with a reuse profile ``r(n)``
  linear from bottom (generic features, ``n = 0``) to top (task-specific), ``r_same`` within
  a family and ``r_cross`` across: generic bottom blocks are the most reusable, as in
  muNet/ViT stitching.
* QoS ``c_k = qos_fraction * sum_n I[k, n, k]`` (a fraction of the dedicated model's score).
* Gains: Rayleigh fading with path loss, ``H_k = path_loss * Exp(1)``.

``library="clone"`` (:func:`clone_scores`) draws a library whose models *share* blocks, as the
muNet checkpoints the paper deploys do (Sec. VII-A: "multi-task AI models with overlapping model
blocks as obtained from the checkpoints released in [22]"; Sec. V-A: "model blocks for one task
are cloned for another one sequentially"): model ``k`` is grown from a parent, an earlier model
of its family (any earlier model if it has none), and keeps the parent's block at position ``n``
itself with probability ``s(n)``, linear from ``clone_share[0]`` (bottom) to ``clone_share[1]``
(top); otherwise the block is new, fine-tuned for task ``k``. A shared block is one block held
by two models: its scores ``I[., n, .]`` are the same rows.

Instances from explicit arrays: :func:`edgeinfer.broadcast.problem.build_instance`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from edgeinfer.broadcast.problem import MBAInstance, build_instance
from edgeinfer.core.errors import InvalidOptionError
from edgeinfer.core.rng import SeedLike, scenario_setup

__all__ = ["LIBRARIES", "ScenarioConfig", "make_instance", "synthetic_scores", "clone_scores", "rayleigh_gains"]

#: library generators: ``independent`` (every model's blocks its own, :func:`synthetic_scores`)
#: and ``clone`` (models share blocks of earlier models, muNet-style, :func:`clone_scores`)
LIBRARIES = ("independent", "clone")


@dataclass(frozen=True)
class ScenarioConfig:
    """The paper's default point (Section VII-A): B = 100 MHz, N0 = 0.5e-9 W (a noise power,
    docs/broadcast.md §2.1), Q = 5 Mbit, E = 250 J, 21 devices, N = 24, path loss 1e-3;
    the library's structure (families, reuse profiles, ``library`` and ``clone_share``) is ours."""

    num_devices: int = 21
    num_positions: int = 24
    num_families: int = 2
    qos_fraction: float = 0.9
    bandwidth_hz: float = 100e6
    noise_w: float = 0.5e-9
    energy_j: float = 250.0
    block_bits: float = 5e6
    path_loss: float = 1e-3
    own_low: float = 0.9
    r_same: tuple[float, float] = (0.95, 0.45)
    r_cross: tuple[float, float] = (0.7, 0.05)
    sigma: float = 0.1
    library: str = "independent"
    clone_share: tuple[float, float] = (0.6, 0.0)


def check_config(cfg: ScenarioConfig) -> None:
    """The library options a caller may set wrongly: one :class:`InvalidOptionError` naming the
    field (the physical constants and the drawn instance are checked by ``build_instance``)."""
    if cfg.library not in LIBRARIES:
        raise InvalidOptionError("library", f"expected one of {', '.join(LIBRARIES)}, got {cfg.library!r}")
    for name in ("num_devices", "num_positions", "num_families"):
        v = getattr(cfg, name)
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise InvalidOptionError(name, f"expected an integer >= 1, got {v!r}")
    pairs = {"r_same": cfg.r_same, "r_cross": cfg.r_cross, "clone_share": cfg.clone_share}
    for name, pair in pairs.items():
        ok = isinstance(pair, (tuple, list)) and len(pair) == 2
        if not ok or not all(isinstance(x, (int, float)) and not isinstance(x, bool) and 0.0 <= x <= 1.0
                             for x in pair):
            raise InvalidOptionError(name, f"expected two numbers in [0, 1] (bottom, top), got {pair!r}")
    for name, lo, hi in (("qos_fraction", 0.0, 1.0), ("own_low", 0.0, 1.0), ("sigma", 0.0, 10.0)):
        v = getattr(cfg, name)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not lo <= v <= hi:
            raise InvalidOptionError(name, f"expected a number in [{lo:g}, {hi:g}], got {v!r}")


def synthetic_scores(
    rng: np.random.Generator, num_tasks: int, num_positions: int, *, num_families: int,
    own_low: float, r_same: tuple[float, float], r_cross: tuple[float, float], sigma: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Scores ``I[i, n, k]`` of shape ``(K, N, K)`` and the task families ``(K,)``."""
    K, N = num_tasks, num_positions
    fam = rng.integers(0, num_families, size=K)
    own = rng.uniform(own_low, 1.0, size=(K, N))  # own[k, n] = I[k, n, k]
    t = np.arange(N) / max(1, N - 1)
    same = r_same[0] + (r_same[1] - r_same[0]) * t
    cross = r_cross[0] + (r_cross[1] - r_cross[0]) * t
    I = np.empty((K, N, K))
    for i in range(K):
        for k in range(K):
            if i == k:
                I[i, :, k] = own[k]
                continue
            prof = same if fam[i] == fam[k] else cross
            f = np.clip(prof + sigma * rng.standard_normal(N), 0.0, 1.0)
            I[i, :, k] = own[k] * f
    return np.round(I, 6), fam


def clone_scores(
    rng: np.random.Generator, num_tasks: int, num_positions: int, *, num_families: int,
    own_low: float, r_same: tuple[float, float], r_cross: tuple[float, float], sigma: float,
    clone_share: tuple[float, float],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A muNet-style library: scores ``I`` ``(K, N, K)``, families ``(K,)`` and ``block_of``
    ``(K, N)``, the model whose block model ``i`` holds at position ``n`` (``i`` itself for a
    block of its own; ``block_of[i, n] < i`` for a shared one, whose scores ``I[i, n, :]`` are
    ``I[block_of[i, n], n, :]`` exactly).

    Models are grown in index order. Model 0 has only blocks of its own; model ``k`` draws a
    parent uniformly among the earlier models of its family (among all earlier models if none)
    and at position ``n`` shares the parent's block with probability ``s(n)`` (linear from
    ``clone_share[0]`` at the bottom to ``clone_share[1]`` at the top), else gets a new block.
    A new block of model ``k`` scores ``d[k, n] ~ U(own_low, 1)`` for task ``k`` and
    ``d[t, n] * clip(r(n) + sigma z, 0, 1)`` for task ``t != k`` (``r`` the family profile of
    :func:`synthetic_scores`), ``d[t, n]`` being what a block fine-tuned for ``t`` scores."""
    K, N = num_tasks, num_positions
    fam = rng.integers(0, num_families, size=K)
    d = rng.uniform(own_low, 1.0, size=(K, N))
    t = np.arange(N) / max(1, N - 1)
    same = r_same[0] + (r_same[1] - r_same[0]) * t
    cross = r_cross[0] + (r_cross[1] - r_cross[0]) * t
    share = clone_share[0] + (clone_share[1] - clone_share[0]) * t
    I = np.empty((K, N, K))
    block_of = np.empty((K, N), dtype=int)
    for k in range(K):
        if k == 0:
            shared = np.zeros(N, bool)
            parent = 0
        else:
            kin = np.flatnonzero(fam[:k] == fam[k])
            pool = kin if kin.size else np.arange(k)
            parent = int(pool[rng.integers(0, pool.size)])
            shared = rng.random(N) < share
        prof = np.where((fam == fam[k])[:, None], same[None, :], cross[None, :])  # (K, N): task t, position n
        f = np.clip(prof + sigma * rng.standard_normal((K, N)), 0.0, 1.0)
        f[k] = 1.0
        fresh = (d * f).T  # (N, K): the scores of a new block of model k at each position
        for n in range(N):
            if shared[n]:
                block_of[k, n] = block_of[parent, n]
                I[k, n, :] = I[parent, n, :]
            else:
                block_of[k, n] = k
                I[k, n, :] = fresh[n]
    return np.round(I, 6), fam, block_of


def rayleigh_gains(rng: np.random.Generator, num_devices: int, path_loss: float) -> np.ndarray:
    """``|h|^2`` of Rayleigh fading times the path loss: ``path_loss * Exp(1)``."""
    return path_loss * rng.exponential(1.0, size=num_devices)


def make_instance(config: ScenarioConfig | None = None, *, seed: SeedLike = None,
                  rng: np.random.Generator | None = None, **overrides: Any) -> MBAInstance:
    """One random instance of the scenario ``config`` (default :class:`ScenarioConfig`), with
    any of its fields overridden by keyword; drawn from ``rng`` if given, else from ``seed``.
    Validated like a loaded file (:func:`~edgeinfer.broadcast.problem.build_instance`)."""
    cfg, gen, _ = scenario_setup(ScenarioConfig, config, overrides, seed=seed, rng=rng, where="mba scenario")
    check_config(cfg)
    K = cfg.num_devices
    if cfg.library == "clone":
        I, _, _ = clone_scores(gen, K, cfg.num_positions, num_families=cfg.num_families, own_low=cfg.own_low,
                               r_same=cfg.r_same, r_cross=cfg.r_cross, sigma=cfg.sigma,
                               clone_share=cfg.clone_share)
    else:
        I, _ = synthetic_scores(gen, K, cfg.num_positions, num_families=cfg.num_families, own_low=cfg.own_low,
                                r_same=cfg.r_same, r_cross=cfg.r_cross, sigma=cfg.sigma)
    own = np.arange(K)
    qos = cfg.qos_fraction * I[own, :, own].sum(axis=1)
    gains = rayleigh_gains(gen, K, cfg.path_loss)
    return build_instance(scores=I, gains=gains, qos=np.round(qos, 6), own_model=own,
                          bandwidth_hz=cfg.bandwidth_hz, noise_w=cfg.noise_w, energy_j=cfg.energy_j,
                          block_bits=cfg.block_bits)
