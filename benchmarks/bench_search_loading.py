"""PartialLoading, general case (issue 16): ``search`` against ``exact``'s proven optimum.

On the §VII general library at 0.2 s (``make_instance(ScenarioConfig(case="general",
n_models=N, n_users=10 N, deadline_s=0.2), seed=s)``, N = 18, 30, 45, 60, seeds 0-2), per
instance: the optimum (``exact``, proven), ``search`` without its exact polish
(``polish_dtime=0``: the order local search alone), with the reversal move, and ``search`` with
its defaults (the polish on), each with its CPU time in this process (all threads; CP-SAT runs 1 worker here), the
steadier figure on a shared machine.

``python benchmarks/bench_search_loading.py [--quick]`` prints the Markdown table.
"""

from __future__ import annotations

import argparse
import time
from typing import Any


def _run(inst: Any, algo: str, **params: Any) -> tuple[int, float, str]:
    from edgeinfer.core.registry import solve
    from edgeinfer.core.solution import SolveOptions
    from edgeinfer.loading import verify

    t0 = time.process_time()
    sol: Any = solve("partial_loading", algo, inst, SolveOptions(params=params))
    el = time.process_time() - t0
    assert verify(inst, sol).ok, algo
    return int(sol.objective), el, sol.status.value


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="N = 18 and 30, seed 0 only")
    args = ap.parse_args(argv)
    from edgeinfer.loading.scenario import ScenarioConfig, make_instance

    sizes, seeds = ((18, 30), (0,)) if args.quick else ((18, 30, 45, 60), (0, 1, 2))
    print("| N | seed | optimum (exact) | search, no polish | + reversals | search (default) | CPU s: exact / no polish / + reversals / default |")
    print("|---|---|---|---|---|---|---|")
    closed = misses = 0
    for n in sizes:
        for s in seeds:
            inst = make_instance(ScenarioConfig(case="general", n_models=n, n_users=10 * n, deadline_s=0.2), seed=s)
            opt, te, st = _run(inst, "exact")
            assert st == "optimal"
            a, ta, _ = _run(inst, "search", polish_dtime=0.0)
            r, tr, _ = _run(inst, "search", polish_dtime=0.0, reversals=True)
            b, tb, _ = _run(inst, "search")
            assert max(a, r, b) <= opt
            misses += a < opt
            closed += a < opt and b == opt
            print(f"| {n} | {s} | {opt} | {a} | {r} | {b} | {te:.2f} / {ta:.2f} / {tr:.2f} / {tb:.2f} |", flush=True)
    print(f"\nno-polish misses: {misses}; closed by the default search: {closed}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
