"""The ``edgeinfer`` command line.

Exit codes: 0 success; 1 ``verify`` found the solution wrong; 2 bad input of any
kind (one line on standard error naming the field, no traceback, no output file).

Sub-commands contributed by other packages (``reproduce`` from the experiment
engine, ``train`` from the online framework) live in modules that expose
``add_arguments(parser)`` and ``run(args) -> int`` and import nothing heavy at
module level; this module imports neither torch nor matplotlib.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys
from collections.abc import Sequence
from typing import Any

from edgeinfer import __version__
from edgeinfer.core.errors import EdgeInferError

EXIT_OK, EXIT_WRONG, EXIT_BAD_INPUT = 0, 1, 2

#: name -> (module providing add_arguments/run, help line)
PLUGINS: dict[str, tuple[str, str]] = {
    "reproduce": ("edgeinfer.experiments.cli", "run a paper's study (sweeps, figures, report)"),
    "train": ("edgeinfer.online.cli", "train an online agent (LyMDO) and save its policy"),
}


class _Parser(argparse.ArgumentParser):
    """argparse that reports errors in one line with exit code 2."""

    def error(self, message: str) -> Any:  # type: ignore[override]
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}\n")


def _parse_param(text: str) -> tuple[str, Any]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    key, raw = text.split("=", 1)
    import json

    try:
        value: Any = json.loads(raw)
    except ValueError:
        value = raw
    return key.strip(), value


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="edgeinfer", description="Plan and run multi-user AI inference at the wireless edge.")
    p.add_argument("--version", action="version", version=f"edgeinfer {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    s = sub.add_parser("solve", help="solve an instance file and write the solution JSON")
    s.add_argument("instance", help="instance JSON file")
    s.add_argument("--algorithm", "-a", required=True, help="algorithm name (see `edgeinfer list`)")
    s.add_argument("--output", "-o", default="-", help="solution file, or - for standard output (default)")
    s.add_argument("--time-limit", type=float, default=None, metavar="S", help="wall-clock limit in seconds")
    s.add_argument("--seed", type=int, default=None, help="seed for randomised algorithms")
    s.add_argument("--power", choices=["optimal", "constant"], default=None, help="power control (mba)")
    s.add_argument(
        "--param", "-p", action="append", type=_parse_param, default=[], metavar="KEY=VALUE",
        help="algorithm parameter, value parsed as JSON when it can be (repeatable)",
    )
    s.add_argument("--no-verify", action="store_true", help="skip the independent check of the result")

    v = sub.add_parser("verify", help="check a solution against its instance (exit 0 ok, 1 wrong)")
    v.add_argument("instance")
    v.add_argument("solution")
    v.add_argument("--json", action="store_true", help="print the report as JSON")

    ls = sub.add_parser("list", help="list problems and registered algorithms")
    ls.add_argument("--problem", default=None)

    pr = sub.add_parser("profile", help="profile a zoo model layer by layer (needs torch)")
    pr.add_argument("model", help="zoo model name, e.g. resnet18")
    pr.add_argument("--input", default=None, help="input shape CxHxW (default: the model's own)")
    pr.add_argument("--batch", type=int, default=1)
    pr.add_argument("--json", action="store_true", help="print JSON instead of a table")

    for name, (module, help_line) in PLUGINS.items():
        sp = sub.add_parser(name, help=help_line)
        if importlib.util.find_spec(module.rsplit(".", 1)[0]) is not None and importlib.util.find_spec(module) is not None:
            importlib.import_module(module).add_arguments(sp)
        sp.set_defaults(_plugin=module)
    return p


def _cmd_solve(args: argparse.Namespace) -> int:
    from edgeinfer.core.io import dump_solution, load_instance, write_json
    from edgeinfer.core.registry import solve
    from edgeinfer.core.solution import SolveOptions

    if args.time_limit is not None and not args.time_limit > 0:
        raise _BadArg("--time-limit: must be a positive number of seconds")
    spec, instance = load_instance(args.instance)
    params = dict(args.param)
    if args.power is not None:
        params["power"] = args.power
    options = SolveOptions(time_limit_s=args.time_limit, seed=args.seed, params=params)
    solution = solve(spec.name, args.algorithm, instance, options)
    if not args.no_verify:
        report = spec.verify(instance, solution)
        if not report.ok:  # a solver bug: never write a wrong answer silently
            print("edgeinfer: internal error: the solver's result failed verification: "
                  + "; ".join(report.reasons), file=sys.stderr)
            return 3
    write_json(args.output, dump_solution(spec, solution))
    if args.output != "-":
        print(f"{solution.status.value}: objective {solution.objective:g} -> {args.output}", file=sys.stderr)
    return EXIT_OK


def _cmd_verify(args: argparse.Namespace) -> int:
    import json

    from edgeinfer.core.io import load_instance, load_solution, to_jsonable

    spec, instance = load_instance(args.instance)
    solution = load_solution(args.solution, spec, instance)
    report = spec.verify(instance, solution)
    if args.json:
        print(json.dumps(to_jsonable({
            "ok": report.ok, "feasible": report.feasible, "objective": report.objective,
            "reported_objective": report.reported_objective, "reasons": report.reasons,
        }), indent=1))
    elif report.ok:
        print(f"ok: feasible, objective {report.objective:g}")
    else:
        print("wrong:")
        for r in report.reasons:
            print(f"  - {r}")
    return EXIT_OK if report.ok else EXIT_WRONG


def _cmd_list(args: argparse.Namespace) -> int:
    from edgeinfer.core.registry import get_problem, list_problems, list_solvers

    problems = [get_problem(args.problem)] if args.problem else list_problems()
    for spec in problems:
        print(f"{spec.name}: {spec.description}")
        for s in list_solvers(spec.name):
            tag = " [exact]" if s.exact else ""
            print(f"  {s.algorithm:<18} {s.description}{tag}")
    return EXIT_OK


def _cmd_profile(args: argparse.Namespace) -> int:
    if importlib.util.find_spec("torch") is None:
        raise _BadArg("profile needs PyTorch: pip install 'edgeinfer[torch]'")
    from edgeinfer.dnn.profiler import profile_command

    return int(profile_command(args.model, input_shape=args.input, batch=args.batch, as_json=args.json))


class _BadArg(EdgeInferError):
    pass


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_BAD_INPUT
    try:
        if getattr(args, "_plugin", None):
            module = args._plugin
            if importlib.util.find_spec(module.rsplit(".", 1)[0]) is None or importlib.util.find_spec(module) is None:
                raise _BadArg(f"{args.command} is not available in this installation")
            return int(importlib.import_module(module).run(args))
        handler = {"solve": _cmd_solve, "verify": _cmd_verify, "list": _cmd_list, "profile": _cmd_profile}[args.command]
        return handler(args)
    except EdgeInferError as exc:
        print(f"edgeinfer: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("edgeinfer: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `edgeinfer list | head`: the reader left; no traceback
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # Python flushes stdout again at exit
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
