"""Random-number helpers. Nothing in edgeinfer touches NumPy's global RNG.

Every random component takes an explicit :class:`numpy.random.Generator`;
Monte Carlo streams come from :meth:`numpy.random.SeedSequence.spawn`, so the
results of a sweep do not depend on how its tasks are scheduled.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import fields, is_dataclass, replace
from typing import Any, TypeVar

import numpy as np

__all__ = ["SeedLike", "make_rng", "scenario_setup", "spawn", "spawn_seeds"]

_C = TypeVar("_C")

SeedLike = int | np.random.SeedSequence | np.random.Generator | None


def make_rng(seed: SeedLike = None) -> np.random.Generator:
    """Return a Generator from an int, a SeedSequence, a Generator (returned as is) or None."""
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, bool) or (seed is not None and not isinstance(seed, int | np.integer | np.random.SeedSequence)):
        raise TypeError(f"seed must be an int, SeedSequence, Generator or None, not {type(seed).__name__}")
    if isinstance(seed, int | np.integer) and seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    return np.random.default_rng(seed)


def spawn_seeds(seed: int | np.random.SeedSequence | None, n: int) -> list[np.random.SeedSequence]:
    """``n`` independent child SeedSequences of ``seed``."""
    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    return ss.spawn(n)


def spawn(seed: int | np.random.SeedSequence | None, n: int) -> list[np.random.Generator]:
    """``n`` independent Generators derived from ``seed``."""
    return [np.random.default_rng(s) for s in spawn_seeds(seed, n)]


def scenario_setup(
    cls: type[_C], config: _C | None, overrides: Mapping[str, Any], *, seed: SeedLike = None,
    rng: np.random.Generator | None = None, where: str = "scenario", extra: Collection[str] = (),
) -> tuple[_C, np.random.Generator, dict[str, Any]]:
    """The one convention of every framework's ``make_instance(config=None, *, seed=None,
    rng=None, **overrides)``.

    Returns the frozen dataclass ``config`` (default ``cls()``) with the ``overrides`` that name
    its fields applied, the generator (``rng`` if given, else one from ``seed``, 0 by default),
    and the overrides named in ``extra`` (fields of a nested configuration the caller applies).
    Any other override name is an ``InvalidOptionError`` suggesting the nearest field; giving
    both ``seed`` and ``rng`` is one too.
    """
    from edgeinfer.core.errors import InvalidOptionError, suggest

    if not is_dataclass(cls):
        raise TypeError(f"{cls!r} is not a dataclass")
    own = {f.name for f in fields(cls)}
    for key in overrides:
        if key not in own and key not in extra:
            hint = suggest(key, [*own, *extra])
            raise InvalidOptionError(key, f"unknown parameter of the {where}"
                                     + (f"; did you mean {hint!r}?" if hint else ""))
    cfg = cls() if config is None else config
    mine = {k: v for k, v in overrides.items() if k in own}
    if mine:
        cfg = replace(cfg, **mine)  # type: ignore[type-var]
    if rng is not None and seed is not None:
        raise InvalidOptionError("seed", "give seed or rng, not both")
    gen = rng if rng is not None else make_rng(0 if seed is None else seed)
    return cfg, gen, {k: v for k, v in overrides.items() if k not in own}
