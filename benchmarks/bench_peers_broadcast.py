# ruff: noqa: E741  (I is the paper's score tensor I_{i,n}^{(k)})
"""MBA parameter selection (P2.1) side by side with general solvers (issue 16).

Peers, each given the paper's compact formulation (P2.1: ``y[i, n]`` block broadcast,
``x[k, i, n]`` device ``k`` assembles it; ``sum_i x[k, i, n] = 1`` (C1, eq. 5),
``sum_{i,n} I[i, n, k] x[k, i, n] >= c_k`` (C2, eq. 7), ``x <= y``; minimise ``sum y``),
written here from the paper and not from our reduced model:

* ``cpsat``: OR-Tools CP-SAT, 2 workers, ``linearization_level=2`` (its LP relaxation with
  cuts on every constraint). CP-SAT needs integer coefficients: scores and thresholds are
  scaled by ``10**d`` (the smallest ``d <= 9`` that puts every score on the integer grid;
  the generator rounds to 6 decimals) and the threshold rounded up with the QoS slack
  ``qos_tol`` (``edgeinfer.broadcast.model``), so its feasible set is ours.
* ``scip``: SCIP (``pyscipopt``) on the same formulation in floating point, 2 threads allowed
  (``parallel/maxnthreads``; SCIP's tree search itself is sequential).
* ``milp``: our HiGHS reference (``scipy.optimize.milp`` on the plain formulation).
* ``bnb``: ours (default configuration); ``bnb-2jobs``: the same with ``search_jobs=2`` (its
  decomposition search in 2 processes; the same answer, nodes and steps).

Each solver first runs once, untimed, on a tiny instance (imports and first-call set-up are
not charged to the first instance). Every peer is validated against ``bnb``'s proven optimum where both prove one (a row
``agrees`` per instance). Per instance and solver: status, objective (blocks), bound, gap,
time, and time / best peer's time. Instances: the 9 small ones of ``bench_broadcast.py``
(the shared example, library 6x8 and 6x6 seeds 0-3), 12x12 seeds 0-2, 21x24 seed 0.
``--quick`` (``run(quick=True)``): the 9 small ones and 12x12 seed 0 with a 20 s limit.

Standalone: ``python benchmarks/bench_peers_broadcast.py [--quick] [--limit S] [--only NAME]
[--solvers bnb,cpsat,...]``; ``--bounds`` prints the root LP and Lagrangian bounds instead.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
WORKERS = 2
LINEAR = True


def _grid_scale(I: np.ndarray, c: np.ndarray) -> int | None:
    """Smallest ``10**d`` (d <= 9) putting every score on the integer grid, or None."""
    for d in range(10):
        s = 10.0 ** d
        if np.all(np.abs(I * s - np.round(I * s)) <= 1e-6) and np.abs(I).max() * s * I.shape[1] < 2 ** 50:
            return int(s)
    return None


def peer_cpsat(inst: Any, limit_s: float) -> dict:
    """CP-SAT on the paper's P2.1 (no reductions, no hint)."""
    from ortools.sat.python import cp_model

    from edgeinfer.broadcast.model import qos_tol
    I, c = inst.scores, inst.qos
    M, N, K = I.shape
    t0 = time.perf_counter()
    s = _grid_scale(I, c)
    if s is None:
        return {"status": "skipped (scores off a decimal grid)"}
    m = cp_model.CpModel()
    y = [[m.NewBoolVar(f"y{i}_{n}") for n in range(N)] for i in range(M)]
    x = [[[m.NewBoolVar(f"x{k}_{i}_{n}") for n in range(N)] for i in range(M)] for k in range(K)]
    for k in range(K):
        for n in range(N):
            m.AddExactlyOne([x[k][i][n] for i in range(M)])
        terms = [(int(round(I[i, n, k] * s)), x[k][i][n]) for i in range(M) for n in range(N)]
        need = math.ceil(s * (c[k] - qos_tol(c[k])) - 1e-3)
        m.Add(sum(a * v for a, v in terms if a) >= need)
        for i in range(M):
            for n in range(N):
                (m.Add(x[k][i][n] <= y[i][n]) if LINEAR else m.AddImplication(x[k][i][n], y[i][n]))
    m.Minimize(sum(y[i][n] for i in range(M) for n in range(N)))
    solver = cp_model.CpSolver()
    for name, value in {"num_workers": WORKERS, "max_time_in_seconds": float(limit_s), "linearization_level": 2}.items():
        setattr(solver.parameters, name, value)  # protobuf fields
    st = solver.Solve(m)
    dt = time.perf_counter() - t0
    name = solver.StatusName(st)
    has = st in (cp_model.OPTIMAL, cp_model.FEASIBLE)
    ysel = None
    if has:
        ysel = np.array([[solver.Value(y[i][n]) for n in range(N)] for i in range(M)], bool)
    return {"status": {"OPTIMAL": "optimal", "FEASIBLE": "time_limit"}.get(name, name.lower()),
            "objective": float(solver.ObjectiveValue()) if has else None,
            "bound": float(math.ceil(solver.BestObjectiveBound() - 1e-6)), "time_s": dt, "y": ysel}


def peer_scip(inst: Any, limit_s: float) -> dict:
    """SCIP on the paper's P2.1 (floating-point scores, QoS slack as ours)."""
    from pyscipopt import Model, quicksum

    from edgeinfer.broadcast.model import qos_tol
    I, c = inst.scores, inst.qos
    M, N, K = I.shape
    t0 = time.perf_counter()
    m = Model()
    m.hideOutput()
    m.setParam("limits/time", float(limit_s))
    m.setParam("parallel/maxnthreads", WORKERS)
    m.setParam("limits/absgap", 0.999)  # integral objective, as for bnb and milp
    y = {(i, n): m.addVar(vtype="B", obj=1.0) for i in range(M) for n in range(N)}
    x = {(k, i, n): m.addVar(vtype="B") for k in range(K) for i in range(M) for n in range(N)}
    for k in range(K):
        for n in range(N):
            m.addCons(quicksum(x[k, i, n] for i in range(M)) == 1)
        m.addCons(quicksum(float(I[i, n, k]) * x[k, i, n] for i in range(M) for n in range(N))
                  >= float(c[k] - qos_tol(c[k])))
        for i in range(M):
            for n in range(N):
                m.addCons(x[k, i, n] <= y[i, n])
    m.setMinimize()
    m.optimize()
    dt = time.perf_counter() - t0
    st = m.getStatus()
    has = m.getNSols() > 0
    ysel = None
    if has:
        best = m.getBestSol()
        ysel = np.array([[m.getSolVal(best, y[i, n]) > 0.5 for n in range(N)] for i in range(M)], bool)
    return {"status": "optimal" if st == "optimal" else ("time_limit" if st in ("timelimit", "gaplimit") else st),
            "objective": float(m.getObjVal()) if has else None,
            "bound": float(math.ceil(m.getDualbound() - 1e-6)), "time_s": dt, "y": ysel}


def peer_milp(inst: Any, limit_s: float) -> dict:
    from edgeinfer.broadcast.solvers import milp_select
    t0 = time.perf_counter()
    r = milp_select(inst.scores, inst.qos, time_limit_s=limit_s)
    return {"status": r.status, "objective": None if r.y is None else float(r.blocks),
            "bound": float(r.lower_bound), "time_s": time.perf_counter() - t0, "y": r.y}


def ours_bnb(inst: Any, limit_s: float, jobs: int = 1) -> dict:
    from edgeinfer.broadcast.solvers import BnbConfig, bnb_select
    t0 = time.perf_counter()
    r = bnb_select(inst.scores, inst.qos, inst.own_model, time_limit_s=limit_s,
                   config=BnbConfig(search_jobs=jobs))
    out = {"status": r.status, "objective": None if r.y is None else float(r.blocks),
           "bound": float(r.lower_bound), "time_s": time.perf_counter() - t0, "y": r.y}
    for key in ("lp_bound", "lagrangian_bound", "engine"):
        if key in r.stats:
            out[key] = r.stats[key]
    return out


def ours_bnb_workers(inst: Any, limit_s: float) -> dict:
    """``bnb`` with ``search_jobs`` = :data:`WORKERS` (the same answer; the decomposition search in
    that many processes, as CP-SAT gets that many workers)."""
    return ours_bnb(inst, limit_s, jobs=WORKERS)


SOLVERS = {"bnb": ours_bnb, "bnb-2jobs": ours_bnb_workers, "cpsat": peer_cpsat, "scip": peer_scip,
           "milp": peer_milp}
PEERS = ("cpsat", "scip", "milp")


def instances(quick: bool) -> list[tuple[str, Any, float]]:
    """(name, instance, time limit in s)."""
    from edgeinfer.broadcast.problem import load_instance
    from edgeinfer.broadcast.scenario import make_instance
    small = 20.0 if quick else 60.0
    out: list[tuple[str, Any, float]] = [
        ("example 6x8", load_instance(json.loads((ROOT / "examples" / "mba_small.json").read_text())), small)]
    out += [(f"6x8 seed {s}", make_instance(seed=s, num_devices=6, num_positions=8), small) for s in range(4)]
    out += [(f"6x6 seed {s}", make_instance(seed=s, num_devices=6, num_positions=6), small) for s in range(4)]
    big = 20.0 if quick else 60.0
    out += [(f"12x12 seed {s}", make_instance(seed=s, num_devices=12, num_positions=12), big)
            for s in ((0,) if quick else (0, 1, 2))]
    if not quick:
        out.append(("21x24 seed 0", make_instance(seed=0), big))
    return out


def _gap(obj: float | None, bound: float | None) -> float | None:
    if obj is None or bound is None or not math.isfinite(bound) or obj <= 0:
        return None
    return max(0.0, (obj - bound) / obj)


def compare(quick: bool = False, only: str | None = None, limit_s: float | None = None,
            solvers: tuple[str, ...] = tuple(SOLVERS)) -> list[dict]:
    """One row per (instance, solver) plus one validation row per instance."""
    from edgeinfer.broadcast.model import is_feasible
    from edgeinfer.broadcast.problem import build_instance
    rows: list[dict] = []
    # warm-up, untimed: every solver once on a tiny instance (imports, first-call set-up)
    tiny = build_instance(scores=np.array([[[1.0, 0.5]], [[0.5, 1.0]]]), gains=np.array([1e-3, 1e-3]),
                          qos=np.array([0.9, 0.9]))
    for sv in solvers:
        try:
            SOLVERS[sv](tiny, 5.0)
        except ImportError:
            pass
    for name, inst, lim in instances(quick):
        if only and only not in name:
            continue
        lim = limit_s or lim
        res: dict[str, dict] = {}
        for sv in solvers:
            try:
                r = SOLVERS[sv](inst, lim)
            except ImportError as e:  # the optional `bench` extra is missing
                r = {"status": f"skipped ({e.name} not installed)"}
            y = r.pop("y", None)
            if y is not None and not is_feasible(inst.scores, inst.qos, y):
                r["status"] = "WRONG (infeasible selection)"
            if y is not None and int(y.sum()) != r.get("objective"):
                r["objective"] = float(y.sum())
            res[sv] = r
            print(f"#   {name} {sv}: {r.get('status')} {r.get('objective')} bound {r.get('bound')} "
                  f"{r.get('time_s', 0):.2f} s", file=sys.stderr, flush=True)
        peer_t = [res[p]["time_s"] for p in PEERS if p in res and res[p].get("status") == "optimal"]
        best_peer = min(peer_t) if peer_t else None
        for sv, r in res.items():
            ratio = None if best_peer is None or "time_s" not in r else r["time_s"] / best_peer
            row = {"benchmark": "mba peers", "case": f"{name}: {sv} ({r.get('status')}, {r.get('objective')} "
                   f"blocks, bound {r.get('bound')}, gap {_fmt_gap(_gap(r.get('objective'), r.get('bound')))}"
                   + (f", lp {r['lp_bound']:.3f}" if "lp_bound" in r else "")
                   + (f", lagrangian {r['lagrangian_bound']:.3f}" if r.get("lagrangian_bound") is not None else "")
                   + f"; {r.get('time_s', float('nan')):.2f} s)",
                   "instance": name, "solver": sv, **{k: v for k, v in r.items() if k != "y"},
                   "gap": _gap(r.get("objective"), r.get("bound")), "limit_s": lim,
                   "value": ratio if ratio is not None else r.get("time_s"),
                   "unit": "x best peer" if ratio is not None else "s"}
            if sv == "bnb" and best_peer is not None:
                row["target"], row["ok"] = 1.0, r.get("status") == "optimal" and r["time_s"] <= best_peer
            rows.append(row)
            if sv.startswith("bnb") and name.startswith("12x12") and "time_s" in r:  # issue 16's goal
                rows.append({"benchmark": "mba peers", "case": f"{name}: {sv} proves the optimum within 60 s",
                             "value": r["time_s"], "unit": "s", "target": 60.0,
                             "ok": r.get("status") == "optimal" and r["time_s"] <= 60.0})
            if sv.startswith("bnb") and name.startswith("21x24") and "time_s" in r:  # issue 16's goal
                gap = _gap(r.get("objective"), r.get("bound"))
                rows.append({"benchmark": "mba peers", "case": f"{name}: {sv} gap below 2 % within 60 s",
                             "value": gap, "unit": "gap", "target": 0.02,
                             "ok": gap is not None and gap < 0.02 and r["time_s"] <= 60.5})
        # validation: every proven optimum agrees; no bound above a proven optimum
        opt = {sv: r["objective"] for sv, r in res.items() if r.get("status") == "optimal"}
        best_obj = min((r["objective"] for r in res.values() if r.get("objective") is not None), default=None)
        bounds_ok = all(best_obj is None or r.get("bound") is None or r["bound"] <= best_obj + 1e-9
                        for r in res.values())
        agree = len(set(opt.values())) <= 1 and bounds_ok and not any("WRONG" in str(r.get("status"))
                                                                      for r in res.values())
        rows.append({"benchmark": "mba peers", "case": f"{name}: proven optima agree ({opt}), bounds <= best "
                     f"objective {best_obj}", "value": float(agree), "unit": "bool", "target": 1.0, "ok": agree})
    return rows


def bounds(quick: bool = True, only: str | None = None, iterations: int = 300, steps: int = 300) -> list[dict]:
    """Root bounds per instance (docs/broadcast.md §3, "Lagrangian bound"): the root LP of the
    reduced model with the deviation cuts, the Lagrangian bound run to convergence (at most
    ``iterations`` rounds) and the Lagrangian decomposition bound after ``steps`` subgradient
    steps from its multipliers (``bnb``'s default budget), per component, summed; with the
    rounds and seconds each took."""
    import numpy as np

    from edgeinfer.broadcast.solvers import reduce_problem
    from edgeinfer.broadcast.solvers.component import Component
    from edgeinfer.broadcast.solvers.decomposition import decomposition_bound
    from edgeinfer.broadcast.solvers.lagrange import lagrangian_bound
    rows = []
    for name, inst, _ in instances(quick):
        if only and only not in name:
            continue
        red = reduce_problem(inst.scores, inst.qos)
        lp = lag = dec = 0.0
        rounds = 0
        conv = True
        lag_s = dec_s = 0.0
        t0 = time.perf_counter()
        for devs in red.components:
            comp = Component(inst.scores, inst.qos, red.U, devs, max_cuts=64, node_dominance=False)
            ok, lo, hi, xm = comp.propagate(np.zeros(comp.nb), np.ones(comp.nb))
            out = comp.lp(lo, hi, xm)
            lp += out[0] if out is not None else math.nan
            t1 = time.perf_counter()
            r = lagrangian_bound(comp, np.ones(comp.nb), max_iterations=iterations, master_ip_nodes=0,
                                 stop_at_proof=False)
            lag += r.bound
            rounds += r.iterations
            conv &= r.converged
            t2 = time.perf_counter()
            lag_s += t2 - t1
            d = -math.inf
            if r.multipliers is not None:
                d, _ = decomposition_bound(comp, r.multipliers, float(r.incumbent.sum()), steps=steps)
            dec += max(d, r.bound)  # -inf: positions too wide to enumerate
            dec_s += time.perf_counter() - t2
        rows.append({"instance": name, "lp_with_cuts": lp, "lagrangian": lag, "rounds": rounds, "converged": conv,
                     "decomposition": dec, "lagrangian_s": lag_s, "decomposition_s": dec_s,
                     "total_s": time.perf_counter() - t0})
        print(f"| {name} | {lp:.3f} | {lag:.3f} | {dec:.3f} | {rounds} | {conv} | {lag_s:.1f} | {dec_s:.1f} |",
              flush=True)
    return rows


def _fmt_gap(g: float | None) -> str:
    return "-" if g is None else f"{100 * g:.1f}%"


def run(quick: bool = False) -> list[dict]:
    import edgeinfer.broadcast  # noqa: F401
    rows = compare(quick=quick)
    try:
        load = os.getloadavg()
        rows.append({"benchmark": "mba peers", "case": "uptime load average (1, 5, 15 min) at the end",
                     "value": load[0], "unit": f"load ({load[0]:.2f}, {load[1]:.2f}, {load[2]:.2f})"})
    except OSError:  # pragma: no cover - no load average on this platform
        pass
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", help="instances whose name contains this, e.g. '12x12 seed 1'")
    ap.add_argument("--limit", type=float, help="time limit per solver and instance (s)")
    ap.add_argument("--solvers", default=",".join(SOLVERS), help="comma-separated, of " + ", ".join(SOLVERS))
    ap.add_argument("--bounds", action="store_true", help="print the root LP and Lagrangian bounds instead")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT / "src"))
    import edgeinfer.broadcast  # noqa: F401
    if args.bounds:
        print("| instance | root LP with cuts | Lagrangian | decomposition | rounds | converged | Lagrangian s "
              "| decomposition s |")
        print("|---|---|---|---|---|---|---|---|")
        bounds(quick=args.quick, only=args.only)
        return 0
    rows = compare(quick=args.quick, only=args.only, limit_s=args.limit, solvers=tuple(args.solvers.split(",")))
    print("| instance | solver | status | objective | bound | gap | time (s) | x best peer |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        if "solver" not in r:
            continue
        g = r.get("gap")
        print(f"| {r['instance']} | {r['solver']} | {r.get('status')} | {r.get('objective')} | {r.get('bound')} | "
              f"{'-' if g is None else f'{100 * g:.1f}%'} | {r.get('time_s', float('nan')):.2f} | "
              f"{r['value']:.2f} |" if r["unit"] == "x best peer" else
              f"| {r['instance']} | {r['solver']} | {r.get('status')} | {r.get('objective')} | {r.get('bound')} | "
              f"{'-' if g is None else f'{100 * g:.1f}%'} | {r.get('time_s', float('nan')):.2f} | - |")
    for r in rows:
        if "solver" not in r:
            print(f"# {r['case']}: {'ok' if r.get('ok') else 'FAILED'}")
    print(f"# load average {os.getloadavg()}")
    return 0 if all(r.get("ok", True) for r in rows if "solver" not in r) else 1


if __name__ == "__main__":
    sys.exit(main())
