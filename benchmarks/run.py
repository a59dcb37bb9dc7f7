"""Run the benchmarks: ``make bench`` or ``python benchmarks/run.py [NAME ...] [--quick]``.

Each ``benchmarks/bench_*.py`` module defines ``run(quick: bool) -> list[dict]``; every
row has at least ``benchmark``, ``case``, ``value``, ``unit`` and, where a target
exists, ``target`` and ``ok``. Ratios against a reference run in the same process
are reported as rows with unit ``x``. Results go to ``results/bench.json`` and a
Markdown table is printed (paste it into docs/performance.md).

``python benchmarks/run.py peers_broadcast [--quick]`` runs MBA's ``bnb`` beside CP-SAT, SCIP
and HiGHS on the same instances (issue 16; needs the optional ``bench`` extra, a peer that is
not installed is reported as skipped); ``bench_peers_broadcast.py`` also runs standalone.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    mod = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(mod)
    return mod


def _fmt(v):
    if isinstance(v, float):
        return f"{v:.4g}"
    return "" if v is None else str(v)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", help="benchmark modules to run (default: all), e.g. startup loading")
    ap.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    ap.add_argument("--out", default="results/bench.json")
    args = ap.parse_args(argv)
    files = sorted(HERE.glob("bench_*.py"))
    if args.names:
        files = [f for f in files if f.stem.removeprefix("bench_") in args.names]
    rows = []
    for f in files:
        t0 = time.perf_counter()
        print(f"# {f.stem} ...", file=sys.stderr, flush=True)
        for row in _load(f).run(quick=args.quick):
            rows.append({"module": f.stem, **row})
        print(f"#   {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    meta = {"python": platform.python_version(), "machine": platform.machine(), "processor": platform.processor(),
            "quick": args.quick, "date": time.strftime("%Y-%m-%d")}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    cols = ["benchmark", "case", "value", "unit", "target", "ok"]
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for r in rows:
        print("| " + " | ".join(_fmt(r.get(c)) for c in cols) + " |")
    bad = [r for r in rows if r.get("ok") is False]
    if bad:
        print(f"\n{len(bad)} benchmark(s) missed their target", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
