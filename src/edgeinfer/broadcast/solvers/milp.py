# ruff: noqa: E741  (I is the paper's score tensor I_{i,n}^{(k)})
"""``milp``: the compact formulation of P2.1 handed to HiGHS (``scipy.optimize.milp``), the
reference for ``bnb``; then power control.

Variables ``y[i, n]`` (block broadcast) and ``x[k, i, n]`` (device ``k`` assembles it):
``sum_i x[k, i, n] = 1`` (C1, eq. 5), ``sum x I >= c_k`` (C2, eq. 7), ``x <= y``; minimise
``sum y``. With ``reduce=true`` only usable, undominated pairs are variables
(:func:`~edgeinfer.broadcast.solvers.common.reduce_problem`).
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from edgeinfer.broadcast.problem import PROBLEM, MBAInstance, MBASolution
from edgeinfer.broadcast.solvers.common import (
    SelectionResult,
    infeasible_device,
    prune_redundant,
    reduce_problem,
)
from edgeinfer.broadcast.solvers.greedy import greedy_select
from edgeinfer.broadcast.solvers.plan import POWER, solution_from_selection
from edgeinfer.core.options import Param
from edgeinfer.core.registry import register_solver
from edgeinfer.core.solution import SolveOptions

__all__ = ["milp_select"]


def _compact_matrices(I: np.ndarray, U: np.ndarray | None) -> tuple[Any, ...]:
    """Variables: y[b] for blocks ``blocks`` then x[k, b] for usable pairs. Returns the LP data."""
    import scipy.sparse as sp
    M, N, K = I.shape
    if U is None:
        U = np.ones((M, N, K), bool)
    blocks = np.argwhere(U.any(axis=2))  # (nb, 2)
    bidx = {(int(i), int(n)): j for j, (i, n) in enumerate(blocks)}
    pairs = [(int(k), bidx[(int(i), int(n))]) for i, n, k in np.argwhere(U)]
    nb, nx = len(blocks), len(pairs)
    rows_eq, cols_eq = [], []
    rows_q, cols_q, vals_q = [], [], []
    rows_l: list[int] = []
    cols_l: list[int] = []
    vals_l: list[float] = []
    for j, (k, b) in enumerate(pairs):
        n = int(blocks[b, 1])
        rows_eq.append(k * N + n)
        cols_eq.append(nb + j)
        rows_q.append(k)
        cols_q.append(nb + j)
        vals_q.append(float(I[blocks[b, 0], n, k]))
        rows_l += [j, j]
        cols_l += [nb + j, b]
        vals_l += [1.0, -1.0]
    nv = nb + nx
    A_eq = sp.csr_matrix((np.ones(nx), (rows_eq, cols_eq)), shape=(K * N, nv))
    A_q = sp.csr_matrix((vals_q, (rows_q, cols_q)), shape=(K, nv))
    A_l = sp.csr_matrix((vals_l, (rows_l, cols_l)), shape=(nx, nv))
    obj = np.concatenate([np.ones(nb), np.zeros(nx)])
    return blocks, pairs, obj, A_eq, A_q, A_l


def milp_select(I: np.ndarray, c: np.ndarray, *, time_limit_s: float | None = None,
                reduce: bool = False) -> SelectionResult:
    """P2.1 with HiGHS (``scipy.optimize.milp``) on the compact formulation.

    With ``reduce=False`` (the reference) every ``x[k, i, n]`` is a variable; with
    ``reduce=True`` only usable, undominated pairs are.
    """
    from scipy.optimize import Bounds, LinearConstraint, milp
    M, N, K = I.shape
    t0 = time.perf_counter()
    bad = infeasible_device(I, c)
    if bad is not None:
        return SelectionResult(None, "infeasible", math.inf, {"infeasible_device": bad})
    U = reduce_problem(I, c).U if reduce else None
    blocks, pairs, obj, A_eq, A_q, A_l = _compact_matrices(I, U)
    cons = [LinearConstraint(A_eq, 1.0, 1.0), LinearConstraint(A_q, c, np.inf),
            LinearConstraint(A_l, -np.inf, 0.0)]
    opts: dict = {"disp": False}
    if time_limit_s is not None:
        opts["time_limit"] = float(time_limit_s)
    res = milp(obj, constraints=cons, integrality=np.ones(len(obj)), bounds=Bounds(0, 1), options=opts)
    stats = {"nodes": int(getattr(res, "mip_node_count", 0) or 0), "time_s": time.perf_counter() - t0,
             "variables": len(obj)}
    lb = float(getattr(res, "mip_dual_bound", math.nan) or math.nan)
    if res.x is None:
        status = "infeasible" if res.status == 2 else "time_limit"
        return SelectionResult(None, status, lb if math.isfinite(lb) else 0.0, stats)
    y = np.zeros((M, N), bool)
    sel = np.round(res.x[: len(blocks)]) > 0.5
    for (i, n), s in zip(blocks, sel):
        y[i, n] = s
    y = prune_redundant(I, c, y)  # removes blocks HiGHS left on without users (never needed at optimum)
    status = "optimal" if res.status == 0 else "time_limit"
    if status == "optimal":
        lb = float(y.sum())
    return SelectionResult(y, status, math.ceil(lb - 1e-6) if math.isfinite(lb) else 0.0, stats)


@register_solver(PROBLEM, "milp", "P2.1 by HiGHS (scipy.optimize.milp), the reference; then power control", exact=True,
                 params=(POWER,
                         Param("reduce", False, bool, "apply the exact reductions (usable, undominated pairs) "
                               "before HiGHS")))
def solve_milp(inst: MBAInstance, *, options: SolveOptions) -> MBASolution:
    p = options.params
    sel = milp_select(inst.scores, inst.qos, time_limit_s=options.time_limit_s, reduce=p["reduce"])
    extra: dict[str, Any] = {}
    if sel.y is None and sel.status == "time_limit":  # nothing found in time: Alg. 1's selection instead
        g = greedy_select(inst.scores, inst.qos, inst.own_model)
        if g.y is not None:
            sel = SelectionResult(g.y, "time_limit", sel.lower_bound, sel.stats)
            extra["message"] = "no selection within the time limit: Alg. 1's (greedy) selection instead"
    return solution_from_selection(inst, sel, algorithm="milp", power=p["power"], exact=True, stats=extra)
