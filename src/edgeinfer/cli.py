"""The ``edgeinfer`` command line.

Exit codes (the same for every command; the README's table):

====  =====================================================================================
0     done
1     ``verify`` found the solution wrong, or a study task failed
2     bad input or options: one line on standard error naming the field, no output file
3     internal error (a solver crashed, or its own answer failed verification): one line;
      ``--debug`` shows the traceback
====  =====================================================================================

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
import traceback
import warnings
from collections.abc import Sequence
from typing import Any

from edgeinfer import __version__
from edgeinfer.core.argtypes import int_in, positive_float
from edgeinfer.core.errors import EdgeInferError, SolverError
from edgeinfer.core.options import MAX_INT

EXIT_OK, EXIT_WRONG, EXIT_BAD_INPUT, EXIT_INTERNAL = 0, 1, 2, 3

#: name -> (module providing add_arguments/run, help line)
PLUGINS: dict[str, tuple[str, str]] = {
    "reproduce": ("edgeinfer.experiments.cli", "run a paper's study (sweeps, figures, report)"),
    "train": ("edgeinfer.online.cli", "train an online agent (LyMDO) and save its policy"),
    "calibrate": ("edgeinfer.loading.calibrate_cmd", "measure this server's loading speeds and batch latencies "
                                                     "(server.json; needs torch)"),
    "execute": ("edgeinfer.loading.execute_cmd", "run a partial_loading plan on real models and measure it "
                                                 "(run.json + Gantt figure; needs torch)"),
}


class _Parser(argparse.ArgumentParser):
    """argparse that reports errors in one line with exit code 2."""

    def error(self, message: str) -> Any:  # type: ignore[override]
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}\n")


def _parse_param(text: str) -> tuple[str, str]:
    """``KEY=VALUE``; the value stays a string, converted by the solver's declared type."""
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    key, raw = text.split("=", 1)
    return key.strip(), raw.strip()


#: a seed: a non-negative integer up to the options' MAX_INT (2**62)
_SEED = int_in(0, MAX_INT)

#: the longest message printed (a user's 10,000-character name is cut, not echoed)
MAX_MESSAGE_CHARS = 400


def _one_line(text: object, limit: int = MAX_MESSAGE_CHARS) -> str:
    """``text`` as one printable line of at most ``limit`` characters (newlines and control
    characters in names a user gave are escaped, so an error is always exactly one line)."""
    out = "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text).strip())
    return out if len(out) <= limit else out[: limit - 3] + "..."


#: largest ``profile --batch`` (the input tensor is batch x C x H x W floats)
MAX_PROFILE_BATCH = 4096


#: the choices of ``library scan --granularity`` (edgeinfer.dnn.library.GRANULARITIES)
GRANULARITIES = ("tensor", "module", "layer")
#: largest ``make --users``
MAX_MAKE_USERS = 100_000


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="edgeinfer", description="Plan and run multi-user AI inference at the wireless edge.")
    p.add_argument("--version", action="version", version=f"edgeinfer {__version__}")
    p.add_argument("--debug", action="store_true", help="show the traceback of an internal error")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    s = sub.add_parser("solve", help="solve an instance file and write the solution JSON")
    s.add_argument("instance", help="instance JSON file")
    s.add_argument("--algorithm", "-a", required=True, help="algorithm name (see `edgeinfer list`)")
    s.add_argument("--output", "-o", default="-", help="solution file, or - for standard output (default)")
    s.add_argument("--time-limit", type=positive_float, default=None, metavar="S", help="wall-clock limit in seconds")
    s.add_argument("--seed", type=_SEED, default=None, help="seed for randomised algorithms (>= 0)")
    s.add_argument("--power", choices=["optimal", "constant"], default=None, help="power control (mba)")
    s.add_argument(
        "--param", "-p", action="append", type=_parse_param, default=[], metavar="KEY=VALUE",
        help="algorithm parameter, converted to its declared type (repeatable; "
             "`edgeinfer list --problem NAME` lists them)",
    )
    s.add_argument("--no-verify", action="store_true", help="skip the independent check of the result")

    v = sub.add_parser("verify", help="check a solution against its instance (exit 0 ok, 1 wrong)")
    v.add_argument("instance")
    v.add_argument("solution")
    v.add_argument("--json", action="store_true", help="print the report as JSON")

    ls = sub.add_parser("list", help="list problems and registered algorithms (with their parameters)")
    ls.add_argument("problem_pos", nargs="?", default=None, metavar="PROBLEM",
                    help="one problem: its algorithms with their declared parameters")
    ls.add_argument("--problem", default=None, help="same as PROBLEM")

    pr = sub.add_parser("profile", help="profile a zoo model layer by layer (needs torch)")
    pr.add_argument("model", help="zoo model name, e.g. resnet18")
    pr.add_argument("--input", default=None, help="input shape CxHxW (default: the model's own)")
    pr.add_argument("--batch", type=int_in(1, MAX_PROFILE_BATCH), default=1, help=f"batch size of the run (1 to {MAX_PROFILE_BATCH})")
    pr.add_argument("--json", action="store_true", help="print JSON instead of a table")

    lib = sub.add_parser("library", help="block libraries of real checkpoints and adapters (safetensors)")
    lib_sub = lib.add_subparsers(dest="library_command", metavar="ACTION", parser_class=_Parser, required=True)
    sc = lib_sub.add_parser("scan", help="scan checkpoints and PEFT adapters into a library JSON")
    sc.add_argument("paths", nargs="+", metavar="PATH",
                    help="a .safetensors file, a checkpoint folder (shards, config.json) or a PEFT adapter folder")
    sc.add_argument("--granularity", choices=GRANULARITIES, default="module",
                    help="one block per tensor, per module (default) or per numbered layer")
    sc.add_argument("--output", "-o", default="-", help="library file, or - for standard output (default)")
    sc.add_argument("--json", action="store_true", help="print the sharing summary as JSON")

    mk = sub.add_parser("make", help="make an instance from a scanned library (and a calibrated server)")
    mk_sub = mk.add_subparsers(dest="make_problem", metavar="PROBLEM", parser_class=_Parser, required=True)
    for prob, help_line in (("partial_loading", "PartialLoading: users and channels of Sec. VII over the library"),
                            ("slide", "SLIDE: per-layer bits of the library's models, users of the slide scenario")):
        mp = mk_sub.add_parser(prob, help=help_line)
        mp.add_argument("--library", required=True, help="library JSON (`edgeinfer library scan`)")
        if prob == "partial_loading":
            mp.add_argument("--server", default=None,
                            help="server JSON (`edgeinfer calibrate`); without it the documented assumed constants")
            mp.add_argument("--max-fit-rel-rmse", type=positive_float, default=None, metavar="E",
                            help="refuse a calibrated model whose eq. (9) fit has a larger relative RMS error "
                                 "(default: edgeinfer.loading.server.MAX_FIT_REL_RMSE)")
        mp.add_argument("--users", type=int_in(1, MAX_MAKE_USERS), required=True, help=f"number of users (1 to {MAX_MAKE_USERS})")
        mp.add_argument("--bandwidth-hz", type=positive_float, required=True, help="system bandwidth in Hz")
        mp.add_argument("--deadline-s", type=positive_float, required=True,
                        help="deadline in seconds (slide: the scale of the users' deadlines)")
        mp.add_argument("--seed", type=_SEED, default=0, help="seed of the users' draw (>= 0)")
        mp.add_argument("--output", "-o", default="-", help="instance file, or - for standard output (default)")

    for name, (module, help_line) in PLUGINS.items():
        sp = sub.add_parser(name, help=help_line)
        if importlib.util.find_spec(module.rsplit(".", 1)[0]) is not None and importlib.util.find_spec(module) is not None:
            importlib.import_module(module).add_arguments(sp)
        sp.set_defaults(_plugin=module)
    return p


def _cmd_solve(args: argparse.Namespace) -> int:
    from edgeinfer.core.errors import VerificationError
    from edgeinfer.core.io import (
        check_output_path,
        dump_solution,
        load_instance,
        nonfinite_path,
        write_json,
    )
    from edgeinfer.core.registry import solve
    from edgeinfer.core.solution import SolveOptions

    check_output_path(args.output, (args.instance,))  # refuse a destructive -o before any work
    spec, instance = load_instance(args.instance)
    params = dict(args.param)
    if args.power is not None:
        params["power"] = args.power
    options = SolveOptions(time_limit_s=args.time_limit, seed=args.seed, params=params)
    solution = solve(spec.name, args.algorithm, instance, options)
    if not args.no_verify:
        report = spec.verify(instance, solution)
        if not report.ok:  # a solver bug: never write a wrong answer silently
            raise VerificationError("the solver's result failed verification: " + "; ".join(report.reasons))
    doc = dump_solution(spec, solution)
    bad = nonfinite_path(doc)
    if bad is not None:  # verified or not, JSON cannot hold it: the solver's bug, named
        raise SolverError(f"{spec.name}/{args.algorithm} returned a non-finite value at {bad} "
                          f"(status {solution.status.value}); nothing written")
    write_json(args.output, doc, inputs=(args.instance,))
    if args.output != "-":
        print(f"{solution.status.value}: objective {solution.objective:g} -> {args.output}", file=sys.stderr)
    return EXIT_OK


def _cmd_verify(args: argparse.Namespace) -> int:
    import json

    from edgeinfer.core.io import load_instance, load_solution, to_jsonable
    from edgeinfer.core.solution import json_safe

    spec, instance = load_instance(args.instance)
    solution = load_solution(args.solution, spec, instance)
    report = spec.verify(instance, solution)
    if args.json:
        # strict JSON: a non-finite recomputed objective (a wrong solution's inf) is null
        print(json.dumps(json_safe(to_jsonable({
            "ok": report.ok, "feasible": report.feasible, "objective": report.objective,
            "reported_objective": report.reported_objective, "reasons": report.reasons,
            "details": dict(report.details),
        })), indent=1, allow_nan=False))
    elif report.ok:
        status = getattr(solution, "status", None)
        if status is not None and not status.has_solution:
            print(f"ok: {status.value} (confirmed from the instance)")
        else:
            print(f"ok: feasible, objective {report.objective:g}")
    else:
        print("wrong:")
        for r in report.reasons:
            print(f"  - {r}")
    return EXIT_OK if report.ok else EXIT_WRONG


def _cmd_list(args: argparse.Namespace) -> int:
    from edgeinfer.core.options import describe_param
    from edgeinfer.core.registry import get_problem, list_problems, list_solvers

    name = args.problem if args.problem is not None else args.problem_pos
    problems = [get_problem(name)] if name is not None else list_problems()
    for spec in problems:
        print(f"{spec.name}: {spec.description}")
        for s in list_solvers(spec.name):
            tag = " [exact]" if s.exact else ""
            print(f"  {s.algorithm:<18} {s.description}{tag}")
            if name is not None:
                for p in s.params:
                    print(f"      --param {describe_param(p)}")
    return EXIT_OK


def _cmd_profile(args: argparse.Namespace) -> int:
    if importlib.util.find_spec("torch") is None:
        raise _BadArg("profile needs PyTorch: pip install 'edgeinfer[torch]'")
    from edgeinfer.dnn.profiler import profile_command

    return int(profile_command(args.model, input_shape=args.input, batch=args.batch, as_json=args.json))


def _cmd_library(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from edgeinfer.core.io import check_output_path, write_json
    from edgeinfer.dnn.library import dump_library, format_summary, scan_paths, sharing_summary

    out = check_output_path(args.output, tuple(args.paths))  # refuse a destructive -o before any work
    created = f"edgeinfer {__version__} library scan --granularity {args.granularity}"
    doc = scan_paths(args.paths, granularity=args.granularity,
                     relative_to=out.parent if out is not None else None, created_by=created)
    summary = sharing_summary(doc)
    root = out.parent if out is not None else Path(".")
    files = {str(root / t.file) for b in doc.blocks for t in b.tensors}
    files |= {str(root / m.arch.config_path) for m in doc.models if m.arch.config_path}
    write_json(args.output, dump_library(doc), inputs=(*args.paths, *sorted(files)))  # never over a scanned file
    text = json.dumps(summary, indent=1) if args.json else format_summary(summary)
    print(text, file=sys.stdout if out is not None else sys.stderr)
    if out is not None:
        print(f"library: {summary['models']} models, {summary['blocks']} blocks -> {Path(args.output)}",
              file=sys.stderr)
    return EXIT_OK


def _cmd_make(args: argparse.Namespace) -> int:
    from edgeinfer.core.io import check_output_path, load_instance, write_json
    from edgeinfer.dnn.library import load_library

    inputs = tuple(x for x in (args.library, getattr(args, "server", None)) if x)
    check_output_path(args.output, inputs)
    library = load_library(args.library)
    if args.make_problem == "partial_loading":
        from edgeinfer.loading.scenario import library_instance_doc

        server = None
        if args.server is not None:
            from edgeinfer.loading.server import load_server

            server = load_server(args.server)
        elif args.max_fit_rel_rmse is not None:
            raise _BadArg("--max-fit-rel-rmse: needs --server (it bounds the calibrated fits)")
        doc = library_instance_doc(library, n_users=args.users, bandwidth_hz=args.bandwidth_hz,
                                   deadline_s=args.deadline_s, seed=args.seed, server=server,
                                   max_fit_rel_rmse=args.max_fit_rel_rmse)
        load_instance(doc)  # validated like any instance file before it is written
    else:
        from edgeinfer.streaming.problem import dump_instance
        from edgeinfer.streaming.scenario import library_instance

        doc = dump_instance(library_instance(library, n_users=args.users, bandwidth_hz=args.bandwidth_hz,
                                             deadline_s=args.deadline_s, seed=args.seed))
    write_json(args.output, doc, inputs=inputs)
    if args.output != "-":
        print(f"{args.make_problem}: {len(library.doc.models)} models, {args.users} users -> {args.output}", file=sys.stderr)
    return EXIT_OK


class _BadArg(EdgeInferError):
    pass


EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a job stopped by Ctrl-C


def _interrupted() -> int:
    """Ctrl-C: one line and exit 130, every time.

    CPython sets a process-wide flag when a KeyboardInterrupt leaves code run by ``exec`` or
    ``eval`` of a string (``run_eval_code_obj``), clears it whenever such code starts, and a
    process whose flag is still set at exit kills itself with SIGINT, although the interrupt was
    caught here: about 18 of 245 interrupted runs of tests/experiments/test_faults.py's SIGINT case
    ended by SIGINT (-2) under load, traced to a SIGINT the process sent itself. Evaluating a
    constant string clears the flag: 0 of 90 since (docs/experiments.md)."""
    print("edgeinfer: interrupted", file=sys.stderr)
    exec("pass")  # noqa: S102 - a constant; clears the flag, nothing else
    return EXIT_INTERRUPTED


def _caused_by_interrupt(exc: BaseException) -> bool:
    """Whether ``exc`` was raised while a KeyboardInterrupt was being handled (its cause or
    context chain holds one): e.g. a module whose import Ctrl-C cut short fails again when
    imported during the clean-up ("type ... is already registered")."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        cur = todo.pop()
        if cur is None or id(cur) in seen:
            continue
        if isinstance(cur, KeyboardInterrupt):
            return True
        seen.add(id(cur))
        todo += [cur.__cause__, cur.__context__]
    return False


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help/--version (0) or a bad argument (2, one line printed)
        return int(exc.code) if isinstance(exc.code, int) else EXIT_BAD_INPUT
    if args.command is None:
        parser.print_help()
        return EXIT_BAD_INPUT
    with warnings.catch_warnings():
        if not args.debug:  # NumPy's overflow/divide notes are not the one line; --debug shows them
            warnings.simplefilter("ignore", RuntimeWarning)
        return _run_command(args)


def _run_command(args: argparse.Namespace) -> int:
    try:
        try:
            if getattr(args, "_plugin", None):
                module = args._plugin
                if importlib.util.find_spec(module.rsplit(".", 1)[0]) is None or importlib.util.find_spec(module) is None:
                    raise _BadArg(f"{args.command} is not available in this installation")
                return int(importlib.import_module(module).run(args))
            handler = {"solve": _cmd_solve, "verify": _cmd_verify, "list": _cmd_list, "profile": _cmd_profile,
                       "library": _cmd_library, "make": _cmd_make}[args.command]
            return handler(args)
        except Exception as exc:
            if _caused_by_interrupt(exc):  # Ctrl-C, then a failure in the clean-up: the interrupt
                raise KeyboardInterrupt from exc
            raise
    except SolverError as exc:  # ours, not the user's: exit 3
        if args.debug:
            traceback.print_exc()
        print(f"edgeinfer: internal error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_INTERNAL
    except EdgeInferError as exc:
        if args.debug:
            traceback.print_exc()
        print(f"edgeinfer: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return _interrupted()
    except BrokenPipeError:  # `edgeinfer list | head`: the reader left; no traceback
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # Python flushes stdout again at exit
        return 1
    except OSError as exc:  # a path the user named: bad input, named
        if args.debug:
            traceback.print_exc()
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"edgeinfer: error: {_one_line(f'{where}{exc.strerror or exc}')}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Exception as exc:  # a bug: one line, exit 3; --debug shows where
        if args.debug:
            traceback.print_exc()
        msg = _one_line(str(exc).strip().splitlines()[0], 300) if str(exc).strip() else ""
        print(f"edgeinfer: internal error: {type(exc).__name__}: {msg} (rerun with --debug for the traceback)",
              file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
