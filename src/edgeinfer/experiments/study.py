"""The declaration API of a study: parameters, sweep axes, algorithms, metrics, figures, claims.

A framework declares its study once, as a module-level ``STUDY = Study(...)`` in
``src/edgeinfer/<pkg>/study.py`` (see ``docs/experiments.md``). The engine
(:mod:`edgeinfer.experiments.engine`) expands it into independent Monte Carlo tasks,
runs them with joblib (local processes or a Dask cluster), caches them, and writes the
tidy results, figures, ``summary.json`` and ``report.md``.

This module imports only the standard library and NumPy.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edgeinfer.core.options import PARAM_TYPES, Param

__all__ = ["Param", "Axis", "Figure", "Claim", "TaskSpec", "Study", "PARAM_TYPES"]

@dataclass(frozen=True)
class Axis:
    """A sweep: one parameter varied over values, every other parameter at its default.

    ``quick`` values are used with ``--quick``, ``full`` with ``--full`` (the paper's).
    """

    param: str
    quick: tuple[Any, ...]
    full: tuple[Any, ...]

    def values(self, quick: bool) -> tuple[Any, ...]:
        return tuple(self.quick if quick else self.full)


@dataclass(frozen=True)
class Figure:
    """One paper figure panel: metric ``y`` against column ``x`` on one sweep.

    ``x`` is usually the swept parameter; it may be any column of the results (e.g. an
    ``episode`` column that ``run_task`` returns). ``sweep`` defaults to the sweep whose
    axis parameter is ``x``, else the default point (``"default"``). ``algorithms`` defaults
    to all of the study's. Curves are the mean over realisations with a 95% t-interval band.
    """

    name: str
    x: str
    y: str
    xlabel: str
    ylabel: str
    sweep: str | None = None
    algorithms: tuple[str, ...] | None = None
    title: str = ""
    logx: bool = False
    logy: bool = False


@dataclass(frozen=True)
class Claim:
    """A claim of the paper, with the value the paper reports and how we measure it.

    ``measure(df)`` receives the full tidy results (a pandas DataFrame) and returns a float.
    """

    text: str
    paper_value: str | float
    measure: Callable[[Any], float]
    unit: str = ""


@dataclass(frozen=True)
class TaskSpec:
    """One Monte Carlo task: one realisation of one parameter point, all algorithms.

    ``params`` holds every parameter of the study (typed); ``seed`` is a
    ``numpy.random.SeedSequence`` that depends only on the run's seed and
    ``realisation`` (common random numbers across points), never on scheduling.
    ``rng()`` returns a fresh Generator from it.
    """

    study: str
    params: Mapping[str, Any]
    algorithms: tuple[str, ...]
    realisation: int
    seed: np.random.SeedSequence
    quick: bool = False

    def rng(self) -> np.random.Generator:
        return np.random.default_rng(self.seed)

    def child_seeds(self, n: int) -> list[np.random.SeedSequence]:
        """``n`` independent child seeds (e.g. one per algorithm), deterministic."""
        return [np.random.SeedSequence(self.seed.entropy, spawn_key=(*self.seed.spawn_key, i))
                for i in range(n)]


@dataclass(frozen=True)
class Study:
    """A study, declared once.

    Parameters
    ----------
    name, title:
        CLI name (``edgeinfer reproduce NAME``) and a human title.
    params:
        Every scenario parameter with the paper's default.
    sweeps:
        Sweep name -> :class:`Axis`. Each sweep varies one parameter, the others at their
        defaults. The default point is always run, as sweep ``"default"``.
    algorithms:
        Algorithm names compared (the ``algorithm`` column of ``run_task``'s rows).
    metrics:
        Metric column -> label with unit, e.g. ``{"latency_s": "latency (s)"}``.
    run_task:
        A picklable top-level function ``(TaskSpec) -> list[dict]``: one row per algorithm
        (at least ``algorithm`` and every metric; extra columns allowed, e.g. ``episode``
        for curves, then several rows per algorithm). Pure: its result depends only on the
        task.
    realisations:
        Monte Carlo realisations ``(quick_n, full_n)`` per point.
    figures, claims:
        See :class:`Figure`, :class:`Claim`.
    quick_params:
        Parameter overrides applied in quick mode (e.g. fewer training episodes); user
        ``--set`` values override them.
    summary_metrics:
        Metrics reported in ``summary.json`` (default: all).
    summary:
        Optional ``(DataFrame) -> dict`` of extra headline values (JSON-serialisable) added to
        ``summary.json`` under ``"extra"``.
    version:
        Bump when ``run_task`` changes meaning: part of the cache key.
    """

    name: str
    title: str
    params: Sequence[Param]
    sweeps: Mapping[str, Axis]
    algorithms: Sequence[str]
    metrics: Mapping[str, str]
    run_task: Callable[[TaskSpec], list[dict[str, Any]]]
    realisations: tuple[int, int] = (3, 20)
    figures: Sequence[Figure] = ()
    claims: Sequence[Claim] = ()
    quick_params: Mapping[str, Any] = field(default_factory=dict)
    summary_metrics: Sequence[str] | None = None
    summary: Callable[[Any], dict[str, Any]] | None = None
    description: str = ""
    version: str = "1"

    def __post_init__(self) -> None:
        names = [p.name for p in self.params]
        if len(set(names)) != len(names):
            raise ValueError(f"study {self.name}: duplicate parameter names")
        by = self.param_map
        reserved = {"study", "sweep", "point", "realisation", "algorithm", "seed"}
        clash = reserved & set(names) | reserved & set(self.metrics)
        if clash:
            raise ValueError(f"study {self.name}: reserved column names used: {sorted(clash)}")
        if "default" in self.sweeps:
            raise ValueError(f"study {self.name}: 'default' is reserved for the default point")
        for sname, axis in self.sweeps.items():
            if axis.param not in by:
                raise ValueError(f"study {self.name}: sweep {sname!r} varies unknown parameter {axis.param!r}")
            for v in (*axis.quick, *axis.full):
                by[axis.param].coerce(v)
            if not axis.quick or not axis.full:
                raise ValueError(f"study {self.name}: sweep {sname!r} needs quick and full values")
        for k, v in self.quick_params.items():
            if k not in by:
                raise ValueError(f"study {self.name}: quick_params names unknown parameter {k!r}")
            by[k].coerce(v)
        if not self.algorithms:
            raise ValueError(f"study {self.name}: no algorithms")
        for fig in self.figures:
            if fig.sweep is not None and fig.sweep != "default" and fig.sweep not in self.sweeps:
                raise ValueError(f"study {self.name}: figure {fig.name!r} names unknown sweep {fig.sweep!r}")
            if fig.y not in self.metrics:
                raise ValueError(f"study {self.name}: figure {fig.name!r} plots unknown metric {fig.y!r}")
        q, f = self.realisations
        if not (isinstance(q, int) and isinstance(f, int) and q >= 1 and f >= 1):
            raise ValueError(f"study {self.name}: realisations must be two positive ints")

    @property
    def param_map(self) -> dict[str, Param]:
        return {p.name: p for p in self.params}

    def defaults(self, quick: bool) -> dict[str, Any]:
        """The default point: paper defaults, with ``quick_params`` in quick mode."""
        d = {p.name: p.coerce(p.default) for p in self.params}
        if quick:
            by = self.param_map
            d.update({k: by[k].coerce(v) for k, v in self.quick_params.items()})
        return d

    def figure_sweep(self, fig: Figure) -> str:
        """The sweep a figure draws from."""
        if fig.sweep is not None:
            return fig.sweep
        for sname, axis in self.sweeps.items():
            if axis.param == fig.x:
                return sname
        return "default"
