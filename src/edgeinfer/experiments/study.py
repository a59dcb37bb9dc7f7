"""The declaration API of a study: parameters, sweep axes, algorithms, metrics, figures, claims.

A study is declared once, as a module-level ``STUDY = Study(...)`` in
``src/edgeinfer/experiments/studies/<name>.py`` (built in) or in any module that calls
:func:`edgeinfer.experiments.register_study` (a plugin; see ``docs/experiments.md``). The engine
(:mod:`edgeinfer.experiments.engine`) expands it into independent Monte Carlo tasks,
runs them with joblib (local processes or a Dask cluster), caches them, and writes the
tidy results, figures, ``summary.json`` and ``report.md``.

This module imports only the standard library and NumPy.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edgeinfer.core.options import PARAM_TYPES, Param

__all__ = ["Param", "Axis", "Figure", "Claim", "Measured", "VERDICTS", "TaskSpec", "Study", "PARAM_TYPES",
           "solve_row", "run_solvers", "algorithm_prefix"]

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
    ``symlogy``: a symmetric-log y axis, linear within ``+-symlogy`` (for values of both signs
    spanning decades, e.g. training rewards whose first episodes are 10^4 times the last).
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
    symlogy: float | None = None


#: the verdicts a claim can get; the first four are judged, the last means the run could not measure it
VERDICTS = ("reproduced", "partly", "not reproduced", "not comparable", "not measured")


@dataclass(frozen=True)
class Measured:
    """What we measured for a claim: the mean, its 95 % t-interval ``[low, high]`` and the
    number of independent values ``n`` it comes from (realisations, seeds, drops).
    ``low``/``high`` are ``None`` when ``n < 2`` (no interval from one value)."""

    mean: float
    low: float | None = None
    high: float | None = None
    n: int = 1

    @classmethod
    def of(cls, values: Any) -> Measured:
        """From a float, a sequence of per-realisation values, or a :class:`Measured`.
        Non-finite values are dropped; an empty sequence is a ``ValueError``."""
        if isinstance(values, Measured):
            return values
        if isinstance(values, int | float | np.number):
            v = float(values)
            if not math.isfinite(v):
                raise ValueError(f"the measure returned {v}")
            return cls(v)
        a = np.asarray(list(values), dtype=float).ravel()
        a = a[np.isfinite(a)]
        if a.size == 0:
            raise ValueError("the measure returned no finite value")
        mean = float(a.mean())
        if a.size < 2:
            return cls(mean)
        from scipy import stats

        half = float(stats.t.ppf(0.975, a.size - 1) * a.std(ddof=1) / math.sqrt(a.size))
        return cls(mean, mean - half, mean + half, int(a.size))


def _overlaps(lo: float, hi: float, rng: tuple[float, float]) -> bool:
    return lo <= rng[1] and hi >= rng[0]


def _fmt_range(rng: tuple[float, float]) -> str:
    a, b = rng
    if math.isinf(b):
        return f">= {a:.4g}"
    if math.isinf(a):
        return f"<= {b:.4g}"
    return f"{a:.4g} to {b:.4g}"


@dataclass(frozen=True)
class Claim:
    """A claim of the paper, with the value the paper reports, how we measure it, and how it is
    judged.

    ``measure(df)`` receives the full tidy results (a pandas DataFrame) and returns a float, a
    sequence of per-realisation values (then the verdict uses their 95 % t-interval and ``n``),
    or a :class:`Measured`. ``needs`` names the algorithms it compares: when a run
    (``--algorithms``) lacks one of them, the claim is reported as not measured.

    The verdict (:meth:`judge`): ``verdict`` when fixed (``"not comparable"``: a quantity we do
    not model, a running time on other hardware); otherwise ``reproduced`` when our mean lies
    in ``target`` and its 95 % interval stays inside :attr:`tolerance_range` (the hull of
    ``target`` and ``partly``: a result too imprecise to tell the claim from its neighbours is
    not reproduced), ``partly`` when the interval overlaps that range, ``not reproduced``
    otherwise. With one value (``n = 1``) the interval is the value itself.
    ``reasons`` maps a verdict to one sentence naming its cause (a generic sentence from the
    numbers otherwise). ``source`` is where the paper says it ("Fig. 8", "Sec. V-B"), ``docs``
    the docs section that explains our reading, ``setting`` the study setting under which the
    claim is judged (``None``: every setting the study runs).
    """

    text: str
    paper_value: str | float
    measure: Callable[[Any], Any]
    unit: str = ""
    needs: tuple[str, ...] = ()
    source: str = ""
    target: tuple[float, float] | None = None
    partly: tuple[float, float] | None = None
    verdict: str | None = None
    reasons: Mapping[str, str] = field(default_factory=dict)
    docs: str = ""
    setting: str | None = None

    def __post_init__(self) -> None:
        for name in ("target", "partly"):
            rng = getattr(self, name)
            if rng is None:
                continue
            if (len(rng) != 2 or any(isinstance(v, bool) or not isinstance(v, int | float) or math.isnan(v)
                                     for v in rng) or rng[0] > rng[1]):
                raise ValueError(f"claim {self.text!r}: {name} must be (low, high) with low <= high, got {rng!r}")
        if self.verdict is not None and self.verdict not in VERDICTS[:4]:
            raise ValueError(f"claim {self.text!r}: verdict must be one of {VERDICTS[:4]}, got {self.verdict!r}")
        if self.verdict == "not comparable" and "not comparable" not in self.reasons:
            raise ValueError(f"claim {self.text!r}: a fixed 'not comparable' verdict needs reasons['not comparable']")
        bad = set(self.reasons) - set(VERDICTS)
        if bad:
            raise ValueError(f"claim {self.text!r}: reasons for unknown verdicts {sorted(bad)}")

    @property
    def judged(self) -> bool:
        """Whether the claim can get a verdict (a target range or a fixed verdict)."""
        return self.verdict is not None or self.target is not None

    def judge(self, m: Measured | None) -> tuple[str, str]:
        """``(verdict, reason)`` for the measured value ``m`` (``None``: not measured)."""
        if self.verdict is not None:
            v = self.verdict
            return v, self.reasons.get(v) or f"fixed verdict: {v}"
        if m is None:
            return "not measured", self.reasons.get("not measured", "the run did not measure it")
        if self.target is None:
            return "not comparable", self.reasons.get("not comparable", "no target range declared")
        lo, hi = (m.low, m.high) if m.low is not None and m.high is not None else (m.mean, m.mean)
        tol = self.tolerance_range
        inside = self.target[0] <= m.mean <= self.target[1]
        precise = tol[0] <= lo and hi <= tol[1]
        if inside and precise:
            v = "reproduced"
        elif _overlaps(lo, hi, tol):
            v = "partly"
        else:
            v = "not reproduced"
        if v in self.reasons:
            return v, self.reasons[v]
        ours = f"{m.mean:.4g}" if m.low is None else f"{m.mean:.4g} (95 % CI {m.low:.4g} to {m.high:.4g}, n={m.n})"
        if v == "reproduced":
            return v, f"ours {ours} is inside {_fmt_range(self.target)}"
        if v == "partly" and inside:
            return v, (f"ours {ours} has its mean inside {_fmt_range(self.target)} but its interval reaches "
                       f"outside {_fmt_range(tol)}: too few realisations to decide")
        if v == "partly":
            return v, f"ours {ours} is outside {_fmt_range(self.target)} but reaches {_fmt_range(tol)}"
        return v, f"ours {ours} is outside {_fmt_range(tol)}"

    @property
    def tolerance_range(self) -> tuple[float, float]:
        """The range the 95 % interval must stay inside for ``reproduced`` and overlap for
        ``partly``: the hull of ``target`` and ``partly``, or without ``partly`` the target
        widened by its own width on each side (an unbounded target stays as it is)."""
        assert self.target is not None
        a, b = self.target
        if self.partly is not None:
            return min(a, self.partly[0]), max(b, self.partly[1])
        w = b - a
        if not math.isfinite(w):
            return a, b
        return a - w, b + w


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

    @property
    def solver_seed(self) -> int:
        """An integer seed in ``[0, 2**62]`` for ``SolveOptions(seed=...)``, derived from ``seed``
        (independent of :meth:`rng` and :meth:`child_seeds`), the same for every algorithm."""
        child = np.random.SeedSequence(self.seed.entropy, spawn_key=(*self.seed.spawn_key, 2**31 - 1))
        return int(child.generate_state(1, np.uint64)[0] >> np.uint64(2))


def algorithm_prefix(name: str) -> str:
    """``"bs:"`` for ``"bs:spec"``, ``""`` for a name without a colon."""
    return name.split(":", 1)[0] + ":" if ":" in name else ""


def solve_row(problem: str, algorithm: str, instance: Any,
              solution_metrics: Callable[[Any, Any], Mapping[str, Any]], *, seed: int | None = 0,
              label: str | None = None, time_limit_s: float | None = None) -> dict[str, Any]:
    """Run the registered solver ``problem/algorithm`` on ``instance`` with its declared defaults
    (``SolveOptions(seed=seed, time_limit_s=time_limit_s, params={})``), verify the solution,
    and return its row:
    ``{"algorithm": label or algorithm, **solution_metrics(instance, solution)}``.

    The generic path of a study for any registered solver (built-in or plugin). A solution that
    fails the problem's ``verify`` raises ``RuntimeError`` (the task fails, exit 1).
    """
    from edgeinfer.core.registry import get_problem, solve
    from edgeinfer.core.solution import SolveOptions

    sol = solve(problem, algorithm, instance, SolveOptions(seed=seed, time_limit_s=time_limit_s, params={}))
    rep = get_problem(problem).verify(instance, sol)
    if not rep.ok:
        why = "; ".join(rep.violations[:3]) or "objective mismatch"
        raise RuntimeError(f"{problem}/{algorithm}: the solution fails verification: {why}")
    return {"algorithm": label or algorithm, **dict(solution_metrics(instance, sol))}


def run_solvers(problem: str, instance: Callable[[TaskSpec], Any],
                solution_metrics: Callable[[Any, Any], Mapping[str, Any]], task: TaskSpec) -> list[dict[str, Any]]:
    """The ``run_task`` of a study that declares no ``run_task`` of its own: build the task's
    instance once, then :func:`solve_row` for every algorithm (all registered solvers)."""
    inst = instance(task)
    return [solve_row(problem, alg, inst, solution_metrics, seed=task.solver_seed) for alg in task.algorithms]


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
        Algorithm names compared by default (the ``algorithm`` column of ``run_task``'s rows).
        ``edgeinfer reproduce NAME --algorithms a,b`` replaces them for one run (see
        :meth:`resolve_algorithms`).
    metrics:
        Metric column -> label with unit, e.g. ``{"latency_s": "latency (s)"}``.
    run_task:
        A picklable top-level function ``(TaskSpec) -> list[dict]``: one row per algorithm
        of ``task.algorithms`` (at least ``algorithm`` and every metric; extra columns
        allowed, e.g. ``episode`` for curves, then several rows per algorithm). Pure: its
        result depends only on the task. ``None``: every algorithm is a registered solver of
        ``problem``, run by :func:`run_solvers` on ``instance(task)``.
    problem:
        The registered problem (``edgeinfer.core.registry``) the study draws instances of:
        any solver of it (built-in or plugin) can be compared with ``--algorithms``.
    instance:
        Top-level ``(TaskSpec) -> instance`` building the task's instance (the generic path;
        needed when ``run_task`` is ``None``).
    solution_metrics:
        Top-level ``(instance, solution) -> dict`` of the study's metrics (every metric of
        ``metrics``) for a solved instance: the row of a registered solver the study's own
        ``run_task`` does not know.
    solver_prefixes:
        Prefixes under which a registered solver may be named (``("bs:", "general:")``:
        ``bs:my-algo`` runs ``my-algo`` on the backbone-sharing instance); ``("",)`` = bare names.
    fixed_algorithms:
        When not empty, the study compares only its own algorithms and this says why
        (``--algorithms`` naming anything else is refused with it).
    realisations:
        Monte Carlo realisations ``(quick_n, full_n)`` per point.
    figures, claims:
        See :class:`Figure`, :class:`Claim`.
    quick_params:
        Parameter overrides applied in quick mode (e.g. fewer training episodes); user
        ``--set`` values override them.
    settings:
        Named sets of parameter overrides beside the implicit ``"default"`` (the study's own
        defaults), e.g. ``{"paper": {...}}``: the constants a paper leaves open, chosen from its
        text (justified in the framework's docs). ``edgeinfer reproduce`` runs every setting
        unless ``--setting`` names one. Order: defaults, then the setting, then
        ``quick_params`` (quick mode), then the user's ``--set``.
    setting_notes:
        One sentence per setting (``"default"`` included) saying what it is, for the reports.
    fixture:
        A test fixture (e.g. ``toy``): runs by name, never in ``reproduce all``.
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
    run_task: Callable[[TaskSpec], list[dict[str, Any]]] | None = None
    realisations: tuple[int, int] = (3, 20)
    figures: Sequence[Figure] = ()
    claims: Sequence[Claim] = ()
    quick_params: Mapping[str, Any] = field(default_factory=dict)
    settings: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    setting_notes: Mapping[str, str] = field(default_factory=dict)
    fixture: bool = False
    summary_metrics: Sequence[str] | None = None
    summary: Callable[[Any], dict[str, Any]] | None = None
    description: str = ""
    version: str = "1"
    problem: str | None = None
    instance: Callable[[TaskSpec], Any] | None = None
    solution_metrics: Callable[[Any, Any], Mapping[str, Any]] | None = None
    solver_prefixes: tuple[str, ...] = ("",)
    fixed_algorithms: str = ""

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
        for sname, over in self.settings.items():
            if sname == "default" or not re.fullmatch(r"[a-z][a-z0-9_-]*", sname):
                raise ValueError(f"study {self.name}: setting name {sname!r} must match [a-z][a-z0-9_-]* "
                                 "and not be 'default' (the study's own defaults)")
            for k, v in over.items():
                if k not in by:
                    raise ValueError(f"study {self.name}: setting {sname!r} names unknown parameter {k!r}")
                by[k].coerce(v)
        bad_notes = set(self.setting_notes) - {"default", *self.settings}
        if bad_notes:
            raise ValueError(f"study {self.name}: setting_notes for unknown settings {sorted(bad_notes)}")
        for c in self.claims:
            if c.setting is not None and c.setting not in self.setting_names:
                raise ValueError(f"study {self.name}: claim {c.text!r} is judged under unknown setting {c.setting!r}")
        if not self.algorithms:
            raise ValueError(f"study {self.name}: no algorithms")
        if self.run_task is None and (self.problem is None or self.instance is None
                                      or self.solution_metrics is None):
            raise ValueError(f"study {self.name}: without run_task, declare problem, instance and "
                             "solution_metrics (the generic path for registered solvers)")
        if not self.solver_prefixes:
            raise ValueError(f"study {self.name}: solver_prefixes must not be empty")
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

    @property
    def setting_names(self) -> tuple[str, ...]:
        """``"default"``, then the declared settings in declaration order."""
        return ("default", *self.settings)

    def defaults(self, quick: bool, setting: str = "default") -> dict[str, Any]:
        """The default point: the study's defaults, then ``setting``'s overrides, then
        ``quick_params`` in quick mode."""
        if setting not in self.setting_names:
            from edgeinfer.core.errors import UnknownNameError

            raise UnknownNameError(f"setting of study {self.name}", setting, self.setting_names)
        by = self.param_map
        d = {p.name: p.coerce(p.default) for p in self.params}
        d.update({k: by[k].coerce(v) for k, v in self.settings.get(setting, {}).items()})
        if quick:
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

    @property
    def task_runner(self) -> Callable[[TaskSpec], list[dict[str, Any]]]:
        """The function the engine runs per task (picklable): ``run_task``, or the generic
        :func:`run_solvers` bound to ``problem``, ``instance`` and ``solution_metrics``."""
        if self.run_task is not None:
            return self.run_task
        assert self.problem is not None and self.instance is not None and self.solution_metrics is not None
        return functools.partial(run_solvers, self.problem, self.instance, self.solution_metrics)

    def accepts_solvers(self) -> bool:
        """Whether ``--algorithms`` may name registered solvers of :attr:`problem`."""
        return (self.problem is not None and not self.fixed_algorithms
                and (self.run_task is None or self.solution_metrics is not None))

    def solver_names(self) -> list[str]:
        """``prefix + solver`` for every registered solver of :attr:`problem` (plugins included)."""
        if not self.accepts_solvers():
            return []
        from edgeinfer.core.registry import list_solvers

        solvers = [s.algorithm for s in list_solvers(self.problem)]
        return [f"{pre}{alg}" for pre in self.solver_prefixes for alg in solvers]

    def resolve_algorithms(self, names: Sequence[str] | None) -> tuple[str, ...]:
        """The algorithms of a run: the study's own (``None``), or ``names``, each one of the
        study's own algorithms or a registered solver of its problem under one of
        :attr:`solver_prefixes`. Raises ``UnknownNameError`` (with a suggestion) for another
        name, ``InvalidOptionError`` for an empty or repeated list or for a study whose
        algorithms are fixed."""
        from edgeinfer.core.errors import InvalidOptionError, UnknownNameError

        if names is None:
            return tuple(self.algorithms)
        names = [n.strip() for n in names]
        if not names or any(not n for n in names):
            raise InvalidOptionError("--algorithms", "expected a comma-separated list of algorithm names")
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise InvalidOptionError("--algorithms", f"{', '.join(dup)} named twice")
        own = list(self.algorithms)
        known = set(own) | set(self.solver_names())
        for n in names:
            if n in known:
                continue
            if self.fixed_algorithms:
                raise InvalidOptionError(
                    "--algorithms", f"study {self.name} compares only its own algorithms "
                    f"({', '.join(own)}), not {n!r}: {self.fixed_algorithms}")
            kind = f"algorithm of study {self.name}"
            if self.accepts_solvers():
                kind += f" (its own, or a registered {self.problem} solver)"
            raise UnknownNameError(kind, n, known)
        return tuple(names)
