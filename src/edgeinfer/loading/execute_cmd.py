"""``edgeinfer execute``: run a ``partial_loading`` plan on real models and measure it.

Imports nothing heavy at module level; torch loads inside :func:`run`
(:mod:`edgeinfer.loading.executor`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from edgeinfer.core.argtypes import int_in
from edgeinfer.core.errors import EdgeInferError, InvalidInstanceError, InvalidOptionError

__all__ = ["add_arguments", "run"]




def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("instance", help="partial_loading instance JSON (edgeinfer make)")
    parser.add_argument("solution", help="its solution JSON (edgeinfer solve)")
    parser.add_argument("--library", required=True, help="library.json the instance was made from")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu", help="device to run on (default cpu)")
    parser.add_argument("--output", "-o", required=True, help="run.json to write")
    parser.add_argument("--figure", default=None, help="Gantt figure PNG (default: the output's name with .png)")
    parser.add_argument("--no-figure", action="store_true", help="draw no figure")
    parser.add_argument("--upload", choices=["emulated", "model"], default="emulated",
                        help="uploads over paced loopback TCP (default) or taken from the model")
    parser.add_argument("--cache", choices=["cold", "warm"], default="cold",
                        help="blocks read cold (page cache dropped first, default) or warm")
    parser.add_argument("--seq-len", type=int_in(1, 65536), default=32, help="tokens per sample (transformers)")
    parser.add_argument("--threads", type=int_in(1, 1024), default=1, help="torch intra-op threads (default 1)")
    parser.add_argument("--no-warmup", action="store_true", help="no warm-up run of each model first")
    parser.add_argument("--seed", type=int_in(0, 2**31 - 1), default=0, help="seed of the synthetic inputs")


def run(args: argparse.Namespace) -> int:
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        raise EdgeInferError("execute needs PyTorch: pip install 'edgeinfer[torch]'")
    from edgeinfer.core.io import (
        check_output_path,
        load_instance,
        load_solution,
        write_bytes_atomic,
        write_json,
    )
    from edgeinfer.dnn.library import load_library

    if args.output == "-":
        raise InvalidOptionError("--output", "name a file for run.json")
    inputs = (args.instance, args.solution, args.library)
    check_output_path(args.output, inputs)
    figure = None
    if not args.no_figure:
        figure = args.figure or str(Path(args.output).with_suffix(".png"))
        if Path(figure).resolve() == Path(args.output).resolve():
            raise InvalidOptionError("--figure", "must differ from --output")
        check_output_path(figure, inputs)
    spec, inst = load_instance(args.instance)
    if spec.name != "partial_loading":
        raise InvalidInstanceError("problem", f"execute runs partial_loading plans, not {spec.name!r}")
    sol = load_solution(args.solution, spec, inst)
    lib = load_library(args.library)
    import torch

    from edgeinfer.loading.executor import ExecuteOptions, execute, format_table, timeline_figure

    torch.set_num_threads(args.threads)
    opt = ExecuteOptions(device=args.device, cache=args.cache, upload=args.upload, seq_len=args.seq_len,
                         warmup=not args.no_warmup, seed=args.seed)
    doc = execute(inst, sol, lib, opt, names=(args.instance, args.solution, args.library),
                  command=["edgeinfer", *sys.argv[1:]])
    png = timeline_figure(doc) if figure is not None else None
    write_json(args.output, doc, inputs=inputs)
    if png is not None and figure is not None:
        write_bytes_atomic(figure, png, inputs=inputs)
    print(format_table(doc))
    print(f"-> {args.output}" + (f", {figure}" if figure else ""), file=sys.stderr)
    return 0
