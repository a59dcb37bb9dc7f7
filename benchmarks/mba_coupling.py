# ruff: noqa: E741  (I is the paper's score tensor I_{i,n}^{(k)})
"""Relaxations that couple MBA devices, measured at 12 x 12 (issue 16; docs/broadcast.md §3).

Three relaxations beside the per-device Lagrangian bound of ``bnb``
(:func:`edgeinfer.broadcast.solvers.lagrange.lagrangian_bound`, converged), each a valid lower
bound or an exact feasibility question; only the first is used by ``bnb`` (what they gave is in the docs):

* ``decomposition``: the Lagrangian decomposition bound that ``bnb`` adopted
  (:func:`edgeinfer.broadcast.solvers.decomposition.decomposition_bound`: per-position facility
  location x per-device knapsack, subgradient ascent from the per-device multipliers), run for
  ``--steps`` steps towards the best known selection.
* ``groups``: the Dantzig-Wolfe bound with one column per *group* of devices (a block set that
  serves every device of the group), the per-device relaxation being groups of one. Group
  pricing is a small MILP (HiGHS via SciPy); subgradient steps from the summed per-device
  multipliers.
* ``fixing``: iterated Lagrangian reduced-cost fixing for a target ``t``: fix every ``y`` and
  ``x`` that no selection of at most ``t`` blocks uses (``lagrangian_fixing``), re-test the
  usable pairs, rebuild the component and its Lagrangian bound, repeat until nothing changes or
  the bound exceeds ``t``; then ask HiGHS whether a selection of at most ``t`` blocks exists.

* ``search``: the branch and bound on the decomposition that ``bnb`` runs
  (:func:`edgeinfer.broadcast.solvers.decomposition.search`) for one target ``--target``, from
  the root decomposition's multipliers, with ``--steps`` subgradient steps in all (e.g. ``10**8``:
  no budget; ``--jobs 2``: in 2 worker processes, the same answer, nodes and steps). 12 x 12 seed 1, target 55:
  "none" after 39 s on a quiet machine (23 s with ``--jobs 2``; 139 s on the loaded machine of the afternoon with
  the compiled evaluation and one round per node, 1,675 s before any compiled kernel), so its 56 is optimal.

* ``kernels``: ``--steps`` steps of the decomposition's ascent with the NumPy pricing and facility
  location, then with the compiled kernels (numba), in the same process (the kernels compiled or
  loaded from numba's cache first): both times, their ratio, and whether the bounds are equal.

Budgets are counts (steps, rounds); the times printed are wall clock on this machine.
``python benchmarks/mba_coupling.py {decomposition,groups,fixing,search,kernels} --seed S [...]``.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from edgeinfer.broadcast.model import qos_tol  # noqa: E402
from edgeinfer.broadcast.scenario import make_instance  # noqa: E402
from edgeinfer.broadcast.solvers.common import reduce_problem  # noqa: E402
from edgeinfer.broadcast.solvers.component import Component, highspy  # noqa: E402
from edgeinfer.broadcast.solvers.decomposition import (  # noqa: E402
    _Sides,
    ascend,
    decomposition_bound,
    root_node,
    search,
)
from edgeinfer.broadcast.solvers.lagrange import (  # noqa: E402
    compiled,
    lagrangian_bound,
    lagrangian_fixing,
    lp_multipliers,
)

#: best selections known (blocks) for the 12 x 12 benchmark seeds: upper bounds for the Polyak steps
KNOWN = {0: 55, 1: 56, 2: 59}


def component(seed: int, size: int = 12, U: np.ndarray | None = None) -> tuple[Any, Component]:
    inst = make_instance(seed=seed, num_devices=size, num_positions=size)
    red = reduce_problem(inst.scores, inst.qos)
    comp = Component(inst.scores, inst.qos, red.U if U is None else U, np.arange(size), max_cuts=0,
                     node_dominance=False)
    return inst, comp


def per_device(comp: Component) -> Any:
    """The per-device Lagrangian bound, converged (``bnb``'s relaxation)."""
    return lagrangian_bound(comp, None, max_iterations=400, stop_at_proof=False, warm=lp_multipliers(comp),
                            smoothing=0.5, master_ip_nodes=0)


def _need(comp: Component) -> np.ndarray:
    return comp.cc - qos_tol(comp.cc) - 1e-9 * np.maximum(1.0, np.abs(comp.cc))


def group_price(comp: Component, G: list[int], cost: np.ndarray, need: np.ndarray) -> tuple[float, np.ndarray]:
    """Least ``sum cost[b]`` over the block sets serving every device of ``G`` (MILP), and the set."""
    import scipy.sparse as sp
    from scipy.optimize import Bounds, LinearConstraint, milp
    nb, S = comp.nb, comp.S
    pairs = [(b, k) for k in G for b in range(nb) if np.isfinite(S[b, k])]
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    lo: list[float] = []
    hi: list[float] = []
    r = 0
    for k in G:
        for n in range(comp.N):
            for j, (b, kk) in enumerate(pairs):
                if kk == k and comp.pos[b] == n:
                    rows.append(r)
                    cols.append(nb + j)
                    vals.append(1.0)
            lo.append(1.0)
            hi.append(1.0)
            r += 1
        for j, (b, kk) in enumerate(pairs):
            if kk == k:
                rows.append(r)
                cols.append(nb + j)
                vals.append(float(S[b, k]))
        lo.append(float(need[k]))
        hi.append(np.inf)
        r += 1
    for j, (b, _) in enumerate(pairs):
        rows += [r, r]
        cols += [nb + j, b]
        vals += [1.0, -1.0]
        lo.append(-np.inf)
        hi.append(0.0)
        r += 1
    nv = nb + len(pairs)
    A = sp.csr_matrix((vals, (rows, cols)), shape=(r, nv))
    res = milp(np.r_[cost, np.zeros(len(pairs))], constraints=LinearConstraint(A, lo, hi),
               integrality=np.ones(nv), bounds=Bounds(0, 1), options={"mip_rel_gap": 0.0})
    return float(getattr(res, "mip_dual_bound", res.fun)), np.flatnonzero(np.round(res.x[:nb]) > 0.5)


def groups(comp: Component, P: np.ndarray, size: int, upper: float, steps: int) -> float:
    """Best group-Lagrangian value after ``steps`` subgradient steps (groups of ``size`` devices)."""
    need = _need(comp)
    G = [list(range(i, min(i + size, comp.Kc))) for i in range(0, comp.Kc, size)]
    PG = np.array([P[:, g].sum(1) for g in G])
    best = -math.inf
    for s in range(steps):
        t = time.perf_counter()
        L, Z = 0.0, np.zeros_like(PG)
        for j, g in enumerate(G):
            v, chosen = group_price(comp, g, PG[j], need)
            L += v
            Z[j, chosen] = 1
        red = 1 - PG.sum(0)
        L += float(np.minimum(red, 0).sum())
        best = max(best, L)
        print(f"  step {s}: L {L:.4f}, best {best:.4f} ({time.perf_counter() - t:.1f} s)", flush=True)
        sub = Z - (red < 0)[None, :]
        norm = float((sub ** 2).sum())
        if norm == 0:
            break
        PG = np.maximum(PG + 0.5 * (upper - L) / norm * 0.97 ** s * sub, 0)
    return best


def iterated_fixing(seed: int, t: int, limit_s: float, rounds: int = 30) -> str:
    """Iterated fixing for target ``t``, then HiGHS on the restricted model (``sum y <= t``)."""
    inst, comp = component(seed)
    I, c = inst.scores, inst.qos
    U = reduce_problem(I, c).U.copy()
    t0 = time.perf_counter()
    for rnd in range(rounds):
        comp = component(seed, U=U)[1]
        lag = per_device(comp)
        print(f"  round {rnd}: {comp.nb} blocks, {comp.nx} pairs, L {lag.bound:.4f} ({time.perf_counter() - t0:.1f} s)",
              flush=True)
        if lag.bound > t + 1e-6:
            return f"no selection of at most {t} blocks (bound {lag.bound:.4f} after {rnd} rounds)"
        y_zero, x_zero = lagrangian_fixing(comp, lag.multipliers, float(t))
        new = U.copy()
        for b, kk in comp.pairs:
            if x_zero[b, kk] or y_zero[b]:
                new[comp.blocks[b, 0], comp.blocks[b, 1], comp.devs[kk]] = False
        best = np.where(new, I, -np.inf).max(axis=0)  # [N, K]: re-test the usable pairs
        new &= I - best[None] + best.sum(axis=0)[None, None, :] >= c[None, None, :] - qos_tol(c)[None, None, :]
        if (new == U).all():
            break
        U = new
    comp = component(seed, U=U)[1]
    hs = highspy()
    h = comp._build_highs(canonical=True)
    nb = comp.nb
    h.addRow(-hs.kHighsInf, t + 0.5, nb, np.arange(nb, dtype=np.int32), np.ones(nb))
    ni = nb + comp.nx
    h.changeColsIntegrality(ni, np.arange(ni, dtype=np.int32), np.full(ni, hs.HighsVarType.kInteger))
    for name, value in (("presolve", "on"), ("mip_abs_gap", 0.999), ("mip_rel_gap", 0.0), ("time_limit", float(limit_s))):
        h.setOptionValue(name, value)
    t1 = time.perf_counter()
    h.run()
    return (f"restricted model {nb} blocks, {comp.nx} pairs (fixing {t1 - t0:.1f} s); HiGHS: "
            f"{h.getModelStatus()} after {h.getInfo().mip_node_count} nodes, {time.perf_counter() - t1:.1f} s")


def kernels(comp: Component, lam: np.ndarray, upper: float, steps: int) -> str:
    """The same ascent with the NumPy code and with the compiled kernels: times, ratio, equality."""
    node = root_node(comp)
    warm = _Sides(comp, node)
    warm.kernel = compiled()
    ascend(comp, node, lam, upper, steps=1, sides=warm)  # compile, or load numba's cache
    times, values = [], []
    for kernel in (None, compiled()):
        sides = _Sides(comp, node)
        sides.kernel = kernel
        t0 = time.perf_counter()
        out = ascend(comp, node, lam, upper, steps=steps, sides=sides)
        times.append(time.perf_counter() - t0)
        values.append(out.value)
    return (f"{steps} steps: NumPy {times[0]:.2f} s, compiled {times[1]:.2f} s, ratio {times[0] / times[1]:.1f}x; "
            f"bounds {values[0]:.6f} / {values[1]:.6f} ({'equal' if values[0] == values[1] else 'DIFFERENT'})")


def _jobs(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 64:
        raise argparse.ArgumentTypeError(f"must be an integer in 1-64, got {text!r}")
    return int(text)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("experiment", choices=("decomposition", "groups", "fixing", "search", "kernels"))
    ap.add_argument("--seed", type=int, default=0, choices=sorted(KNOWN))
    ap.add_argument("--steps", type=int, default=400, help="subgradient steps (decomposition, groups)")
    ap.add_argument("--group-size", type=int, default=3)
    ap.add_argument("--target", type=int, help="fixing, search: the block count t to decide (default ceil of the bound)")
    ap.add_argument("--limit", type=float, default=200.0, help="fixing: HiGHS time limit in s")
    ap.add_argument("--jobs", type=_jobs, default=1, metavar="J",
                    help="search: worker processes, 1-64 (the same answer for any number)")
    a = ap.parse_args(argv)
    _, comp = component(a.seed)
    t0 = time.perf_counter()
    lag = per_device(comp)
    print(f"12x12 seed {a.seed}: per-device bound {lag.bound:.4f} ({lag.iterations} rounds, "
          f"{time.perf_counter() - t0:.1f} s); best known {KNOWN[a.seed]}", flush=True)
    t0 = time.perf_counter()
    if a.experiment == "decomposition":
        dec, steps = decomposition_bound(comp, lag.multipliers, KNOWN[a.seed], steps=a.steps)
        out = f"decomposition bound {dec:.4f} after {steps} steps"
    elif a.experiment == "groups":
        out = f"group bound {groups(comp, lag.multipliers, a.group_size, KNOWN[a.seed], a.steps):.4f}"
    elif a.experiment == "search":
        t = a.target or math.ceil(lag.bound - 1e-6)
        root = ascend(comp, root_node(comp), -lag.multipliers, t + 1, steps=300)
        r = search(comp, root.lam, t, max_steps=a.steps, jobs=a.jobs)
        out = (f"decomposition {root.value:.4f}; a selection of at most {t} blocks: {r.outcome} "
               f"({r.nodes} nodes, {r.steps} steps)")
    elif a.experiment == "kernels":
        out = kernels(comp, -lag.multipliers, KNOWN[a.seed], a.steps)
    else:
        out = iterated_fixing(a.seed, a.target or math.ceil(lag.bound - 1e-6), a.limit)
    print(f"{out} ({time.perf_counter() - t0:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
