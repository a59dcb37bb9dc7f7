"""Peer solvers of PartialLoading (general case) for ``bench_peers_loading``: general solvers
given the plain model, written from the paper's formulation.

The plain model is P2 (eq. 13) in the plan form that Theorem 2 licenses (each model served
once, by its k cheapest users, in ceil(k / b) batches; docs/loading.md): nothing else of ours
(no reductions, no bound, no warm start, no canonical order).

* ``v_i``: model i is served; ``x[i, r]``: its r-th cheapest user is served,
  ``x[i, r+1] <= x[i, r] <= v_i`` (Theorem 2.1); ``nb_i`` integer batches,
  ``b_i nb_i >= sum_r x[i, r]`` (eq. 10c via b_max);
* the order: arcs depot -> i (full load), j -> i (partial load d(j, i), eq. 8), i -> depot;
  CP-SAT gets them as one ``AddCircuit`` (a model's self-loop = not served); the MILP (SCIP,
  HiGHS) as degree rows ``in_i = out_i = v_i``, at most one start, and MTZ order variables
  ``u_j >= u_i + 1 - n (1 - y_ij)`` against subtours;
* one time row (eqs. 11, 13c): ``sum full s + sum d y + sum (p_r/B + mu_i) x + sum beta_i nb_i
  <= T``; maximise ``sum x``.

CP-SAT needs integers: times in units of 1e-7 s, rounded to nearest (the plan is then
re-timed in floating point; a plan that does not fit is reported ``infeasible-rounding``).
The MILP's HiGHS peer is our ``milp`` solver (same rows, :mod:`edgeinfer.loading.solvers.milp`);
SCIP reads the same matrix through pyscipopt.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class PeerResult:
    solver: str
    status: str  # optimal / feasible / time_limit / error
    objective: int
    bound: float
    time_s: float
    plan: list[tuple[int, int]]
    detail: str = ""


def _verified(inst: Any, plan: list[tuple[int, int]]) -> bool:
    from edgeinfer.core.status import SolveStatus
    from edgeinfer.loading import verify
    from edgeinfer.loading.model import model_costs
    from edgeinfer.loading.solvers.plans import plan_to_solution

    sol = plan_to_solution(inst, plan, algorithm="peer", status=SolveStatus.FEASIBLE, costs=model_costs(inst))
    return bool(verify(inst, sol).ok)


def cpsat_plain(inst: Any, *, time_limit_s: float, workers: int = 2, units_per_s: float = 1e7) -> PeerResult:
    """CP-SAT (OR-Tools) on the plain circuit model; ``workers`` search workers, LP on."""
    from ortools.sat.python import cp_model

    from edgeinfer.loading.model import load_matrix, model_costs

    t0 = time.perf_counter()
    costs = model_costs(inst)
    full, d = load_matrix(inst)
    unit = inst.unit_upload_s
    models = [i for i in range(inst.n_models) if len(costs.order[i])]
    n = len(models)
    m = cp_model.CpModel()
    v = [m.NewBoolVar(f"v{a}") for a in range(n)]
    x, nb = [], []
    terms: list[Any] = []
    coefs: list[int] = []

    def q(t: float) -> int:
        return int(round(t * units_per_s))

    for a, i in enumerate(models):
        us = costs.order[i]
        row = [m.NewBoolVar(f"x{a}_{r}") for r in range(len(us))]
        m.AddImplication(row[0], v[a])
        for r in range(len(us) - 1):
            m.AddImplication(row[r + 1], row[r])
        nbv = m.NewIntVar(0, len(us), f"nb{a}")
        m.Add(int(costs.cap[i]) * nbv >= sum(row))
        x.append(row)
        nb.append(nbv)
        for r, k in enumerate(us):
            terms.append(row[r])
            coefs.append(q(float(unit[k] + inst.compute_per_sample_s[i])))
        terms.append(nbv)
        coefs.append(q(float(inst.compute_fixed_s[i])))
    dep = n
    arcs = {}
    circuit = [(dep, dep, m.NewBoolVar("empty"))]
    for a in range(n):
        circuit.append((a, a, v[a].Not()))
        s = m.NewBoolVar(f"s{a}")
        e = m.NewBoolVar(f"e{a}")
        arcs[(dep, a)] = s
        arcs[(a, dep)] = e
        circuit += [(dep, a, s), (a, dep, e)]
        terms.append(s)
        coefs.append(q(float(full[models[a]])))
        m.AddImplication(circuit[0][2], v[a].Not())
        for b in range(n):
            if a != b:
                y = m.NewBoolVar(f"y{a}_{b}")
                arcs[(a, b)] = y
                circuit.append((a, b, y))
                terms.append(y)
                coefs.append(q(float(d[models[a], models[b]])))
    m.AddCircuit(circuit)
    m.Add(cp_model.LinearExpr.WeightedSum(terms, coefs) <= q(inst.deadline_s))
    m.Maximize(sum(v2 for row in x for v2 in row))
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = workers
    solver.parameters.max_time_in_seconds = time_limit_s
    st = solver.Solve(m)
    el = time.perf_counter() - t0
    if st not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return PeerResult("cpsat-plain", "time_limit", 0, float(solver.BestObjectiveBound()), el, [])
    plan: list[tuple[int, int]] = []
    cur = dep
    for _ in range(n):
        nxt = next((b for (a, b), lit in arcs.items() if a == cur and b != dep and solver.Value(lit)), None)
        if nxt is None:
            break
        plan.append((models[nxt], sum(int(solver.Value(z)) for z in x[nxt])))
        cur = nxt
    obj = sum(k for _, k in plan)
    status = "optimal" if st == cp_model.OPTIMAL else "time_limit"
    detail = ""
    if not _verified(inst, plan):
        status, detail = "infeasible-rounding", "the plan does not fit the deadline in floating point"
    return PeerResult("cpsat-plain", status, obj, float(solver.BestObjectiveBound()), el, plan, detail)


def scip_milp(inst: Any, *, time_limit_s: float) -> PeerResult:
    """SCIP (pyscipopt) on the plain MILP of :func:`edgeinfer.loading.solvers.milp.build_plan_milp`."""
    import pyscipopt

    from edgeinfer.loading.model import model_costs
    from edgeinfer.loading.solvers.milp import build_plan_milp

    t0 = time.perf_counter()
    mp = build_plan_milp(inst, model_costs(inst))
    scip = pyscipopt.Model()
    scip.hideOutput()
    scip.setParam("limits/time", float(time_limit_s))
    scip.setParam("parallel/maxnthreads", 1)
    xs = []
    for j in range(mp.c.size):
        vt = "I" if mp.integrality[j] else "C"
        if vt == "I" and mp.lb[j] == 0 and mp.ub[j] == 1:
            vt = "B"
        xs.append(scip.addVar(lb=float(mp.lb[j]), ub=float(mp.ub[j]), vtype=vt, obj=float(mp.c[j])))
    a = mp.A.tocsr()
    for r in range(a.shape[0]):
        cols = a.indices[a.indptr[r]:a.indptr[r + 1]]
        vals = a.data[a.indptr[r]:a.indptr[r + 1]]
        expr = pyscipopt.quicksum(float(vv) * xs[int(cc)] for cc, vv in zip(cols, vals, strict=True))
        lo, hi = mp.lo[r], mp.hi[r]
        if math.isfinite(lo) and math.isfinite(hi):
            scip.addCons(pyscipopt.Expr() + expr <= hi)
            scip.addCons(pyscipopt.Expr() + expr >= lo)
        elif math.isfinite(hi):
            scip.addCons(pyscipopt.Expr() + expr <= hi)
        else:
            scip.addCons(pyscipopt.Expr() + expr >= lo)
    scip.setMinimize()
    scip.optimize()
    el = time.perf_counter() - t0
    st = scip.getStatus()
    bound = -float(scip.getDualbound())
    if scip.getNSols() == 0:
        return PeerResult("scip", "time_limit", 0, bound, el, [])
    xv = np.array([scip.getVal(z) for z in xs])
    plan = mp.decode(xv)
    obj = sum(k for _, k in plan)
    status = "optimal" if st == "optimal" else "time_limit"
    detail = ""
    if not _verified(inst, plan):
        status, detail = "infeasible-rounding", "the plan does not fit the deadline in floating point"
    return PeerResult("scip", status, obj, bound, el, plan, detail)


def highs_milp(inst: Any, *, time_limit_s: float) -> PeerResult:
    """HiGHS on the same MILP: our ``milp`` solver (``scipy.optimize.milp``)."""
    from edgeinfer.core.registry import solve
    from edgeinfer.core.solution import SolveOptions

    t0 = time.perf_counter()
    sol = solve("partial_loading", "milp", inst, SolveOptions(time_limit_s=time_limit_s,
                                                               params={"max_models": 10_000}))
    el = time.perf_counter() - t0
    b = sol.stats.get("bound")
    return PeerResult("highs (milp)", sol.status.value, int(sol.objective), float("nan") if b is None else float(b),
                      el, [(bt.model, len(bt.users)) for bt in sol.batches])
