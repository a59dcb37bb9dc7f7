"""``edgeinfer calibrate``: measure this server's PartialLoading constants into ``server.json``.

Imports nothing heavy at module level; torch loads inside :func:`run`
(:mod:`edgeinfer.loading.calibrate`).
"""

from __future__ import annotations

import argparse
import sys

from edgeinfer.core.argtypes import float_in, int_in
from edgeinfer.core.errors import EdgeInferError, InvalidOptionError

__all__ = ["add_arguments", "run"]




def _sizes(text: str) -> tuple[int, ...]:
    try:
        vals = tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated batch sizes, got {text[:40]!r}") from None
    if not 2 <= len(vals) <= 16 or any(not 1 <= v <= 4096 for v in vals) or len(set(vals)) != len(vals):
        raise argparse.ArgumentTypeError("2 to 16 distinct batch sizes in [1, 4096]")
    return vals


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--library", required=True, help="library.json (edgeinfer library scan)")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu", help="device to measure (default cpu)")
    parser.add_argument("--output", "-o", required=True, help="server.json to write")
    parser.add_argument("--repeats", type=int_in(1, 100), default=5,
                        help="timed runs per measurement, the median kept (1-100, default 5)")
    parser.add_argument("--warmup", type=int_in(0, 20), default=1,
                        help="untimed runs before each batch size (0-20, default 1)")
    parser.add_argument("--batch-sizes", type=_sizes, default=(1, 2, 4, 8), metavar="B,B,...",
                        help="batch sizes timed for eq. (9) (2-16 sizes in [1, 4096], default 1,2,4,8)")
    parser.add_argument("--batch-cap", type=int_in(1, 65536), default=32,
                        help="largest max_batch written (1-65536, default 32 as the paper's Fig. 1)")
    parser.add_argument("--memory-reserve", type=float_in(0.0, 0.9), default=0.1,
                        help="fraction of device memory kept free when sizing batches (0-0.9, default 0.1)")
    parser.add_argument("--h2d-buffer-mib", type=int_in(1, 16384), default=256,
                        help="buffer copied for the pinned/pageable bandwidths on CUDA (1-16384 MiB, default 256)")
    parser.add_argument("--max-read-mib", type=int_in(1, 1 << 20), default=4096,
                        help="most library bytes read per disk repeat (1-1048576 MiB, default 4096)")
    parser.add_argument("--cache", choices=["cold", "warm"], default="cold",
                        help="disk reads cold (page cache dropped, default where the OS allows) or warm")
    parser.add_argument("--seq-len", type=int_in(1, 65536), default=32,
                        help="tokens per sample of transformers models (default 32)")
    parser.add_argument("--threads", type=int_in(1, 1024), default=1,
                        help="torch intra-op threads (default 1; use the same for execute)")
    parser.add_argument("--streaming", action="store_true",
                        help="also measure the SLIDE streaming runtime's per-layer costs")


def run(args: argparse.Namespace) -> int:
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        raise EdgeInferError("calibrate needs PyTorch: pip install 'edgeinfer[torch]'")
    from edgeinfer.core.io import check_output_path, write_json
    from edgeinfer.dnn.library import load_library

    if args.output == "-":
        raise InvalidOptionError("--output", "name a file for server.json")
    check_output_path(args.output, (args.library,))
    lib = load_library(args.library)
    from edgeinfer.loading.calibrate import CalibrateOptions, calibrate

    opt = CalibrateOptions(device=args.device, repeats=args.repeats, warmup=args.warmup, batch_sizes=args.batch_sizes,
                           h2d_buffer_bytes=args.h2d_buffer_mib << 20, batch_cap=args.batch_cap,
                           memory_reserve=args.memory_reserve, cache=args.cache, seq_len=args.seq_len,
                           max_bytes=args.max_read_mib << 20, streaming=args.streaming, threads=args.threads)
    doc = calibrate(lib, opt, library_name=args.library, command=["edgeinfer", *sys.argv[1:]])
    write_json(args.output, doc, inputs=(args.library,))
    d, h = doc["disk"], doc["host_to_device"]
    h2d = f"{h['effective_bytes_per_s'] / 1e9:.2f} GB/s" if h["effective_bytes_per_s"] else "none (cpu)"
    print(f"{doc['device']['kind']} ({doc['device']['name']}): disk {d['read_bytes_per_s'] / 1e9:.2f} GB/s "
          f"({d['cache']}), host->device {h2d}", file=sys.stderr)
    for m in doc["models"]:
        print(f"  {m['id']}: mu {1e3 * m['compute_per_sample_s']:.3f} ms/sample, beta {1e3 * m['compute_fixed_s']:.3f} ms, "
              f"fit rms {100 * m['fit_rel_rmse']:.1f} %, max_batch {m['max_batch']}", file=sys.stderr)
    print(f"-> {args.output}", file=sys.stderr)
    return 0
