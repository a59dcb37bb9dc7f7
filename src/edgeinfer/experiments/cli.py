"""``edgeinfer reproduce``: the experiment engine's sub-command (imports nothing heavy)."""

from __future__ import annotations

import argparse
import shlex
import sys
from typing import Any

__all__ = ["add_arguments", "run"]


def _kv(text: str) -> tuple[str, str]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    key, value = text.split("=", 1)
    return key.strip(), value.strip()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = ("Run a paper's study: Monte Carlo sweeps, figures, summary.json and report.md. "
                          "See docs/experiments.md.")
    parser.add_argument("study", nargs="?", default=None,
                        help="study name (e.g. mba, partial-loading, toy) or 'all'")
    parser.add_argument("--list", dest="list_studies", action="store_true",
                        help="list the available studies with their parameters and sweeps, then exit")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", dest="quick", action="store_true", default=True,
                      help="small sweeps and few realisations (default)")
    mode.add_argument("--full", dest="quick", action="store_false", help="the paper's sweeps and realisations")
    parser.add_argument("--seed", type=int, default=0, help="root seed, 0 to 2**63 - 1 (default 0)")
    parser.add_argument("--jobs", "-j", type=int, default=-1,
                        help="local worker processes: -1 (all cores, default) or 1 to 4 x the cores")
    parser.add_argument("--realisations", "-n", type=int, default=None, metavar="N",
                        help="Monte Carlo realisations per point, 1 to 10000 (default: the preset's)")
    parser.add_argument("--backend", choices=["loky", "dask"], default="loky", help="joblib backend")
    parser.add_argument("--scheduler", default=None, metavar="ADDR", help="Dask scheduler, e.g. tcp://host:8786")
    parser.add_argument("--set", "-s", dest="overrides", action="append", type=_kv, default=[], metavar="KEY=VALUE",
                        help="override a parameter (repeatable; STUDY.KEY=VALUE targets one study)")
    parser.add_argument("--config", default=None, metavar="FILE.toml", help="parameter overrides from a TOML file")
    parser.add_argument("--format", dest="fmt", choices=["parquet", "csv"], default="parquet",
                        help="results table format")
    parser.add_argument("--no-figures", dest="figures", action="store_false", help="skip the figures")
    parser.add_argument("--algorithms", "-a", default=None, metavar="A,B,...",
                        help="compare these algorithms instead of the study's: its own names or any registered "
                             "solver of its problem (built-in or plugin; see --list)")
    parser.add_argument("--setting", default=None, metavar="NAME",
                        help="run one setting of the study (e.g. 'paper' or 'default'; default: every setting it "
                             "declares, see --list)")
    parser.add_argument("--out", "-o", default=None, metavar="DIR",
                        help="output folder (required; locked while the run writes into it)")


def _list(names: list[str]) -> int:
    from edgeinfer.experiments import registry

    for name in names:
        st = registry.get_study(name)
        q, f = st.realisations
        print(f"{st.name}: {st.title} [{len(st.algorithms)} algorithms, realisations quick {q} / full {f}]")
        for p in st.params:
            bounds = f" in [{p.bounds[0]}, {p.bounds[1]}]" if p.bounds else ""
            choices = f" one of {', '.join(p.choices)}" if p.choices else ""
            print(f"  --set {p.name}={p.default!r} ({p.type.__name__}{bounds}{choices}) {p.help}")
        for sname, axis in st.sweeps.items():
            print(f"  sweep {sname}: {axis.param} quick {list(axis.quick)} full {list(axis.full)}")
        for setting in st.setting_names:
            over = ", ".join(f"{k}={v!r}" for k, v in st.settings.get(setting, {}).items()) or "the study's defaults"
            note = st.setting_notes.get(setting, "")
            print(f"  setting {setting}: {over}" + (f" ({note})" if note else ""))
        if st.fixture:
            print("  (a test fixture: not part of 'reproduce all')")
        print(f"  algorithms: {', '.join(st.algorithms)}")
        if st.fixed_algorithms:
            print(f"  --algorithms: only the study's own ({st.fixed_algorithms})")
        elif st.accepts_solvers():
            pre = "|".join(p for p in st.solver_prefixes if p)
            where = f" as {pre}NAME" if pre else ""
            solvers = sorted({n.split(":", 1)[-1] if ":" in n else n for n in st.solver_names()})
            print(f"  --algorithms: also any solver of {st.problem}{where}: {', '.join(solvers)}")
    return 0


def run(args: argparse.Namespace) -> int:
    from edgeinfer.experiments import registry
    from edgeinfer.experiments.engine import (
        ExperimentError,
        TaskFailedError,
        load_config,
        run_studies,
    )
    from edgeinfer.experiments.report import (
        claims_table,
        combined_claims,
        summary_table,
        verdict_table,
    )

    if args.list_studies:
        if args.study in (None, "all"):
            return _list(registry.available_studies())
        return _list([args.study])
    if args.study is None:
        raise ExperimentError("reproduce: name a study (or 'all'); see `edgeinfer reproduce --list`")
    if args.out is None:
        raise ExperimentError("reproduce: --out DIR is required")

    overrides: dict[str, Any] = {}
    if args.config:
        overrides.update(load_config(args.config))
    overrides.update(dict(args.overrides))
    argv = sys.argv[1:] if sys.argv and sys.argv[0].endswith("edgeinfer") else None
    command = "edgeinfer " + shlex.join(argv) if argv else None
    try:
        runs = run_studies(
            args.study, args.out, quick=args.quick, seed=args.seed, jobs=args.jobs,
            realisations=args.realisations, overrides=overrides, backend=args.backend, scheduler=args.scheduler,
            fmt=args.fmt, figures=args.figures, command=command,
            algorithms=None if args.algorithms is None else args.algorithms.split(","),
            setting=args.setting,
        )
    except TaskFailedError as exc:  # a crash, not bad input: exit 1, one line, traceback on disk
        print(f"edgeinfer: error: {exc}", file=sys.stderr)
        return 1
    print("\n".join(summary_table([r.summary for r in runs])))
    print()
    print("\n".join(claims_table(combined_claims(runs), study_column=True)))
    print()
    print("Verdicts per paper:")
    print("\n".join(verdict_table([(r.study, r.setting, r.summary["claims"]) for r in runs])))
    for r in runs:
        print(f"{r.study}: {r.tasks_total} tasks ({r.tasks_executed} executed, {r.tasks_cached} cached), "
              f"{r.wall_time_s:.1f} s", file=sys.stderr)
    from pathlib import Path

    print(f"report: {Path(args.out) / 'report.md'}")
    return 0
