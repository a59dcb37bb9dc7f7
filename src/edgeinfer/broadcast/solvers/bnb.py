# ruff: noqa: E741  (I is the paper's score tensor I_{i,n}^{(k)})
"""``bnb``: Algorithm 2, exact P2.1 by branch and bound, then power control.

After the exact reductions (:func:`~edgeinfer.broadcast.solvers.common.reduce_problem`:
usable blocks, dominance, components), a heuristic incumbent (the better of the two greedy
variants) and valid cuts, each component (:class:`~edgeinfer.broadcast.solvers.component.Component`)
first gets the Lagrangian bound of :mod:`~edgeinfer.broadcast.solvers.lagrange` (components under
``large_pairs`` usable pairs; it closes most small components without search; mid-size ones also get
the decomposition bound and the branch and bound on it of :mod:`~edgeinfer.broadcast.solvers.decomposition`)
and, unless that proves its incumbent optimal, is solved by branch and cut -- by default HiGHS' MILP (``highspy``) on the reduced model with
our cuts, best-block rows and incumbent (engine ``highs``), or our best-first tree over blocks
(``y[b] = 1`` / ``0``) with LP bounds (engine ``tree``). The objective is an integer, so a
node is fathomed when ``ceil(LP) >= incumbent``. Proofs: docs/broadcast.md §3.

The tuning lives in one frozen :class:`BnbConfig`; the solver's declared parameters
``engine``, ``node_limit`` and ``lagrangian_iterations`` are three of its fields.
"""

from __future__ import annotations

import heapq
import math
import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from edgeinfer.broadcast.model import best_assembly
from edgeinfer.broadcast.problem import PROBLEM, MBAInstance, MBASolution
from edgeinfer.broadcast.solvers.common import SelectionResult, prune_redundant, reduce_problem
from edgeinfer.broadcast.solvers.component import Component, highspy
from edgeinfer.broadcast.solvers.decomposition import (
    MAX_FACILITY_BLOCKS,
    _primal,
    ascend,
    decomposition_bound,
    large_ascent,
    root_node,
    search,
)
from edgeinfer.broadcast.solvers.greedy import adaptive_greedy_select, greedy_select
from edgeinfer.broadcast.solvers.lagrange import (
    MAX_CANDIDATES,
    lagrangian_bound,
    lagrangian_fixing,
    root_lp,
)
from edgeinfer.broadcast.solvers.local_search import improve, repair
from edgeinfer.broadcast.solvers.plan import POWER, solution_from_selection
from edgeinfer.core.options import Param
from edgeinfer.core.registry import register_solver
from edgeinfer.core.solution import SolveOptions

__all__ = ["ENGINES", "BnbConfig", "bnb_select", "lp_round", "map_to_component"]

#: the branch-and-bound engines of :func:`bnb_select`
ENGINES = ("highs", "tree")


@dataclass(frozen=True)
class BnbConfig:
    """Tuning of :func:`bnb_select`. Every setting keeps the answer exact (tests check each);
    the defaults are the fastest in our trials (docs/broadcast.md §3).

    engine:
        ``highs`` (HiGHS' MILP branch and cut per component) or ``tree`` (our best-first tree).
    node_limit:
        Stop after this many nodes (HiGHS' ``mip_max_nodes``; tree nodes); ``None``: no limit.
    max_cuts_per_device:
        Deviation-cardinality cut thresholds per device (spread over its distinct losses).
    integer_x:
        Engine ``highs``: declare the assignments ``x`` integer too (not needed for
        exactness: for an integral ``y`` a device's assignment LP is feasible iff its best
        assembly meets the QoS; HiGHS closes the hard 6 x 8 instances ~2x faster with it).
    best_block_rows:
        Engine ``highs``: add the best-block rows (one ``x`` per ``y``,
        :meth:`~edgeinfer.broadcast.solvers.component.Component.canonical_rows`).
    large_pairs:
        Engine ``highs``: components with at least this many usable (device, block) pairs
        (21 x 24: 10,584; 12 x 12: 1,728; the 6 x 8 benchmark instances: <= 288) get no
        deviation cuts (they leave the root LP unchanged or nearly so there and triple the
        nonzeros) and an LP-rounding incumbent (:func:`lp_round`) when it beats the greedy one.
        Sizes between 288 and 1,728 pairs were not measured.
    node_dominance:
        Engine ``tree``: node-level dominance in the propagation (valid, but it rarely fires
        on random libraries and costs more than it saves).
    lagrangian_iterations:
        Components under ``large_pairs`` usable pairs: at most this many column-generation
        rounds of the Lagrangian bound (:func:`~edgeinfer.broadcast.solvers.lagrange.lagrangian_bound`,
        each device's assemblies convexified) before the branch and bound; when its round-up
        reaches the incumbent (improved by rounding the master LP) the component is proven
        without search. 0: off.
    probe_max_pairs:
        Engine ``highs``, components with at least ``large_pairs`` and below this many usable
        pairs (12 x 12: 1,728; 21 x 24: 10,584, too slow to price): *Lagrangian probing*
        instead of one MILP (:func:`_probe_component`): the Lagrangian bound (warm-started
        from the LP duals, smoothed), then for ``t = ceil(L), ceil(L) + 1, ...`` a HiGHS MILP
        restricted to ``sum y <= t`` after Lagrangian reduced-cost fixing for target ``t``.
        Default 0 (off): at 12 x 12 seed 0 it lifts the bound to 55 (every other path stops
        at 54) but finds only 56 blocks in 60 s where the plain path finds 55 (docs/broadcast.md §3).
    decomposition_steps:
        Engine ``highs``, components with at least ``large_pairs`` and below
        ``decomposition_max_pairs`` usable pairs and at most :data:`~edgeinfer.broadcast.solvers.decomposition.MAX_FACILITY_BLOCKS` (14)
        blocks at every position (12 x 12: yes; 8 or 21 devices at N = 24 with 21 models: no,
        they keep the plain HiGHS path): the per-device Lagrangian bound (warm-started, smoothed), then this many
        subgradient steps of the Lagrangian decomposition bound
        (:func:`~edgeinfer.broadcast.solvers.decomposition.decomposition_bound`, devices coupled through
        each position's facility location), before HiGHS' MILP; HiGHS stops as soon as its
        incumbent reaches that bound, and the bound joins the reported one at a limit. 0: off.
    decomposition_max_pairs:
        The upper end of the range above (the per-device pricing is too slow at 21 x 24's 10,584).
    search_steps:
        On the same components, when the decomposition bound leaves a gap: at most this many
        subgradient steps in all (a count, so the same answer on any machine) of the branch and
        bound on the decomposition (:func:`~edgeinfer.broadcast.solvers.decomposition.search`),
        asking for ``t = ceil(bound)``, then ``t + 1``, ... whether a selection of at most ``t``
        blocks exists: "no" raises the bound to ``t + 1``, a selection is then optimal. Before
        HiGHS' MILP, which gets what is left of the time. 0: off. The default 1,000,000 lets the
        search decide the levels HiGHS does not move in 10 minutes (12 x 12 seed 2's ``t = 58``:
        650,832 steps; seed 4's: 237,027); a time limit still ends it first.
    search_gap:
        Only levels ``t`` with ``t - bound <= search_gap`` are searched (the search proves a level
        when the bound is close to it: 12 x 12 seed 2, ``t = 57`` at 56.84, in 17 nodes; seed 1,
        ``t = 55`` at 54.16, in 1,263 nodes and 91,628 steps; seed 2's ``t = 58`` at 1.17 above in
        8,823 nodes and 650,832 steps, where HiGHS stays at bound 58 for 10 minutes). The default
        1.5 leaves a level further above to HiGHS, which usually finds a selection there first
        (seed 3's ``t = 57``, 1.59 above). Any finite value ``>= 0`` (``--param search_gap``); the
        budget is shared by all levels, and an undecided level ends the search.
    large_decomposition_steps:
        Engine ``highs``, components with at least ``large_pairs`` usable pairs that the
        decomposition above does not take (``decomposition_max_pairs`` or more pairs, or more than
        :data:`~edgeinfer.broadcast.solvers.decomposition.MAX_FACILITY_BLOCKS` blocks at a position:
        21 x 24): this many subgradient steps (a count) of the decomposition bound at the root with
        branch-and-bound sides (:func:`~edgeinfer.broadcast.solvers.decomposition.large_ascent`,
        from the LP duals), before HiGHS' MILP, which stops once its incumbent reaches the bound;
        the bound joins the reported one at a limit (21 x 24 seed 0: 160 where every peer stops
        at 159). With a time limit the steps take at most a third of the time left. 0: off; also
        off without numba.
    search_jobs:
        Worker processes of that search (``fork``, Linux only): a level's nodes and the subtrees are independent,
        and their results are read in a fixed order, so any value gives the same answer, nodes and
        steps (docs/broadcast.md §3); 1: this process only.
    """

    engine: str = "highs"
    node_limit: int | None = None
    max_cuts_per_device: int = 64
    integer_x: bool = True
    best_block_rows: bool = True
    large_pairs: int = 1500
    node_dominance: bool = False
    lagrangian_iterations: int = 200
    probe_max_pairs: int = 0
    decomposition_steps: int = 300
    decomposition_max_pairs: int = 4000
    search_steps: int = 1_000_000
    search_gap: float = 1.5
    search_jobs: int = 1
    large_decomposition_steps: int = 200

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise ValueError(f"unknown bnb engine {self.engine!r}; use {' or '.join(ENGINES)}")
        for name in ("node_limit", "max_cuts_per_device", "large_pairs", "lagrangian_iterations", "probe_max_pairs",
                     "decomposition_steps", "decomposition_max_pairs", "search_steps", "search_jobs",
                     "large_decomposition_steps"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 0):
                raise ValueError(f"BnbConfig.{name} must be a non-negative integer, got {v!r}")
        if self.search_jobs < 1:
            raise ValueError(f"BnbConfig.search_jobs must be at least 1, got {self.search_jobs!r}")
        if not (isinstance(self.search_gap, (int, float)) and not isinstance(self.search_gap, bool)
                and math.isfinite(self.search_gap) and self.search_gap >= 0.0):
            raise ValueError(f"BnbConfig.search_gap must be a finite number >= 0, got {self.search_gap!r}")


def bnb_select(I: np.ndarray, c: np.ndarray, own: np.ndarray, *, time_limit_s: float | None = None,
               config: BnbConfig | None = None) -> SelectionResult:
    """Algorithm 2: exact P2.1 by branch and bound (see the module docstring), tuned by
    ``config`` (default :class:`BnbConfig`).

    Both engines share the reductions, the decomposition into components, the heuristic
    incumbent (the better of the two greedy variants) and the deviation cuts.

    * ``engine="highs"`` (default): each component is handed to HiGHS' MILP branch and cut
      (``highspy``) as the *reduced* compact model -- only usable, undominated blocks and
      pairs -- plus the deviation cuts, with the heuristic incumbent as a starting solution.
      ``y`` (and, with ``integer_x``, ``x``) are declared integer; declaring only ``y`` is
      exact: for an integral ``y`` the assignment LP of each device
      (one unit per position over its selected usable blocks, score row ``>= c_k``) is
      feasible iff the device's best assembly meets its QoS (the score of any fractional
      assignment is at most that of the best one), and that best assembly is integral and
      satisfies every deviation cut, so the integer ``y`` feasible for the MILP are exactly
      the feasible selections. The objective is an integer, so a dual bound above
      ``incumbent - 1`` proves optimality (``mip_abs_gap`` 0.999).
      Components with at least ``large_pairs`` usable pairs get no deviation cuts (valid
      rows, so omitting them cannot cut off a solution; at 21 x 24 they leave the root LP
      unchanged) and an LP-rounding start (:func:`lp_round`, a feasible selection).
    * ``engine="tree"``: our best-first tree (LP bounds by warm-started dual simplex,
      most-fractional branching, propagation, rounding heuristic).

    With a time (or node) limit the incumbent is returned with status ``time_limit`` and the
    proven lower bound (sum over components of their proven bounds).
    """
    cfg = config or BnbConfig()
    M, N, K = I.shape
    t0 = time.perf_counter()
    deadline = math.inf if time_limit_s is None else t0 + time_limit_s
    red = reduce_problem(I, c)
    if red.infeasible is not None:
        return SelectionResult(None, "infeasible", math.inf, {"infeasible_device": red.infeasible})
    greedy = greedy_select(I, c, own)
    adaptive = adaptive_greedy_select(I, c)
    if adaptive.y is not None and (greedy.y is None or int(adaptive.y.sum()) < int(greedy.y.sum())):
        greedy = adaptive  # the better of the two heuristics seeds the incumbent
    y_total = np.zeros((M, N), bool)
    lb_total = 0.0
    stats: dict = {"components": len(red.components), "removed_dominated": red.removed_dominated,
                   "removed_unusable": red.removed_unusable, "nodes": 0, "lps": 0,
                   "greedy_blocks": greedy.blocks, "lagrangian_bound": None, "lagrangian_iterations": 0,
                   "proven_by_lagrangian": 0}
    status = "optimal"
    lag_total = 0.0
    for devs in sorted(red.components, key=len):
        pairs = int(red.U[:, :, devs].sum())
        large = cfg.engine == "highs" and pairs >= cfg.large_pairs
        comp = Component(I, c, red.U, devs, max_cuts=0 if large else cfg.max_cuts_per_device,
                         node_dominance=cfg.node_dominance)
        start = map_to_component(comp, greedy.y) if greedy.y is not None else None
        lag = None
        probe = cfg.engine == "highs" and large and pairs < cfg.probe_max_pairs and cfg.lagrangian_iterations > 0
        decompose = (not probe and cfg.engine == "highs" and large and pairs < cfg.decomposition_max_pairs
                     and cfg.decomposition_steps > 0 and cfg.lagrangian_iterations > 0
                     and max(len(g) for g in comp.by_pos) <= MAX_FACILITY_BLOCKS)
        big = (cfg.engine == "highs" and large and not probe and not decompose and cfg.large_decomposition_steps > 0)
        if cfg.lagrangian_iterations and pairs < cfg.large_pairs and time.perf_counter() < deadline:
            left = None if not math.isfinite(deadline) else max(0.01, deadline - time.perf_counter())
            lag = lagrangian_bound(comp, start, max_iterations=cfg.lagrangian_iterations, time_limit_s=left,
                                   max_candidates=MAX_CANDIDATES)
            start = lag.incumbent
            stats["lagrangian_iterations"] += lag.iterations
            known = lag.bound
            if (not lag.proven and cfg.decomposition_steps and lag.multipliers is not None
                    and time.perf_counter() < deadline):
                left = None if not math.isfinite(deadline) else max(0.01, deadline - time.perf_counter())
                dec, steps = decomposition_bound(comp, lag.multipliers, float(lag.incumbent.sum()),
                                                 steps=cfg.decomposition_steps, time_limit_s=left,
                                                 max_candidates=MAX_CANDIDATES)
                stats["decomposition_steps"] = stats.get("decomposition_steps", 0) + steps
                if dec > known:
                    known = dec
                    lag = replace(lag, bound=dec, proven=math.ceil(dec - 1e-6) >= lag.incumbent.sum())
            lag_total += known
        elif not (probe or decompose or big):
            lag_total = math.nan  # not every component has one: no total
        if lag is not None and lag.proven:
            st: dict = {"nodes": 0, "lps": 0, "status": "optimal"}
            yb, lb = lag.incumbent, float(lag.incumbent.sum())
            stats["proven_by_lagrangian"] += 1
        elif decompose:
            yb, lb, st = _decomposed_component(comp, start, deadline, cfg)
            stats["lagrangian_iterations"] += st["lagrangian_iterations"]
            stats["decomposition_steps"] = stats.get("decomposition_steps", 0) + st["decomposition_steps"]
            for key in ("search_nodes", "search_steps", "search_levels"):
                stats[key] = stats.get(key, 0) + st[key]
            lag_total = lag_total + float(st["lagrangian_bound"]) if math.isfinite(lag_total) else math.nan
        elif big:
            yb, lb, st = _large_component(comp, start, deadline, cfg)
            stats["large_decomposition_steps"] = stats.get("large_decomposition_steps", 0) + st["large_decomposition_steps"]
            for key in ("lp_round_blocks", "lagrangian_heuristic_blocks", "swap_descent_blocks"):
                if key in st:
                    stats[key] = stats.get(key, 0) + st[key]
            lag_total = lag_total + float(st["lagrangian_bound"]) if math.isfinite(lag_total) else math.nan
        elif probe:
            yb, lb, st = _probe_component(comp, start, deadline, cfg)
            stats["lagrangian_iterations"] += st["lagrangian_iterations"]
            lag_total = lag_total + float(st["lagrangian_bound"]) if math.isfinite(lag_total) else math.nan
            stats["probes"] = stats.get("probes", 0) + st["probes"]
        elif cfg.engine == "highs":
            yb, lb, st = _highs_component(comp, start, deadline, cfg, large=large,
                                          known_lower=None if lag is None else _ceil_bound(lag.bound, comp.N))
        else:
            yb, lb, st = _tree_component(comp, start, deadline, cfg.node_limit)
        if lag is not None:
            lb = max(lb, min(float(yb.sum()), float(_ceil_bound(lag.bound, comp.N))))
        stats["nodes"] += st["nodes"]
        stats["lps"] += st["lps"]
        if st["status"] != "optimal":
            status = "time_limit"
        y_total |= comp.y_full(yb)
        lb_total += lb
    if red.components and math.isfinite(lag_total):
        stats["lagrangian_bound"] = lag_total
    y_total = prune_redundant(I, c, y_total)
    if status == "optimal":
        lb_total = float(y_total.sum())
    stats["time_s"] = time.perf_counter() - t0
    stats["engine"] = cfg.engine
    return SelectionResult(y_total, status, lb_total, stats)


#: usable pairs from which the large path's root LP is solved by HiGHS' interior point method
#: (with crossover) instead of dual simplex: 40 x 40 (64,000 pairs) 11.6 s instead of 80.5 s; at
#: 21 x 24 (10,584) simplex takes 2.8 s and its duals start the ascent better (bounds after 200
#: steps, seeds 0-2: 159.27 / 160.50 / 157.08 against 159.21 / 160.39 / 156.83 from the IPM's)
IPM_PAIRS = 20_000

#: seconds the swap descent of HiGHS' last incumbent may run past a time limit (its moves are
#: milliseconds at 21 x 24; 21 x 24 seed 0's HiGHS incumbent 165 becomes 164 in 36 ms)
FINAL_DESCENT_S = 0.5


def _ceil_bound(bound: float, floor: int) -> int:
    """``ceil(bound)`` (the objective is an integer) but at least ``floor``; a bound that was never
    computed (``-inf``: its first pricing round exceeded the work cap) gives ``floor``."""
    return max(int(floor), math.ceil(bound - 1e-6)) if math.isfinite(bound) else int(floor)


def _tree_component(comp: Component, start: np.ndarray | None, deadline: float,
                    node_limit: int | None) -> tuple[np.ndarray, float, dict]:
    """Engine ``tree``: one component by our best-first tree (LP bounds, propagation, rounding);
    ``start``: a feasible selection of the component's blocks (the incumbent) or ``None``."""
    nb = comp.nb
    st: dict = {"nodes": 0, "lps": 0, "status": "optimal"}
    inc_val, inc = math.inf, None
    if start is not None:
        inc_val, inc = float(start.sum()), start
    lb0, ub0 = np.zeros(nb), np.ones(nb)
    ok, lb0, ub0, xm = comp.propagate(lb0, ub0)
    if not ok:  # cannot happen after reduce_problem's feasibility check
        raise ArithmeticError("component infeasible after reduction")
    heap: list = []
    counter = 0

    def evaluate(lb: np.ndarray, ub: np.ndarray, depth: int) -> None:
        nonlocal inc_val, inc, counter
        ok, lb, ub, xm = comp.propagate(lb, ub)
        if not ok:
            return
        if float(lb.sum()) >= inc_val - 0.5 and inc is not None:
            return
        out = comp.lp(lb, ub, xm)
        st["lps"] += 1
        if out is None:
            return
        val, yf = out
        bound = math.ceil(val - 1e-6)
        if bound >= inc_val:
            return
        frac = np.abs(yf - np.round(yf))
        if frac.max() < 1e-6:
            yb = np.round(yf)
            if comp.feasible(yb):
                v = float(yb.sum())
                if v < inc_val:
                    inc_val, inc = v, yb
                return
        yr = comp.round_up(yf, lb, ub) if (st["lps"] <= 50 or st["lps"] % 10 == 0) else None
        if yr is not None and yr.sum() < inc_val:
            inc_val, inc = float(yr.sum()), yr
        if bound >= inc_val:
            return
        # branch on the most fractional block (fewest nodes in our trials, docs/broadcast.md §3)
        cand = np.flatnonzero(frac > 1e-6)
        b = int(cand[np.argmax(-np.abs(yf[cand] - 0.5))])
        counter += 1
        heapq.heappush(heap, (bound, -depth, counter, lb, ub, b))

    evaluate(lb0, ub0, 0)
    while heap:
        if time.perf_counter() > deadline or (node_limit is not None and st["nodes"] >= node_limit):
            st["status"] = "time_limit"
            break
        bound, negd, _, lb, ub, b = heapq.heappop(heap)
        if bound >= inc_val:
            continue
        st["nodes"] += 1
        lb1 = lb.copy()
        lb1[b] = 1.0
        evaluate(lb1, ub, -negd + 1)
        ub0_ = ub.copy()
        ub0_[b] = 0.0
        evaluate(lb, ub0_, -negd + 1)
    if st["status"] == "optimal":
        lower = inc_val
    else:
        lower = min([h[0] for h in heap] + [inc_val])
    if inc is None:  # no incumbent found in time: round every kept block (feasible) down
        inc = comp.round_up(np.ones(nb) * 0.5, np.zeros(nb), np.ones(nb))
    if inc is None:  # cannot happen: every kept block together is feasible
        inc = np.ones(nb)
    return inc, float(lower), st


def _highs_component(comp: Component, start: np.ndarray | None, deadline: float,
                     config: BnbConfig, *, large: bool, known_lower: int | None = None) -> tuple[np.ndarray, float, dict]:
    """Engine ``highs``: one component by HiGHS MILP on the reduced model with deviation cuts;
    ``start``: a feasible selection of the component's blocks or ``None``; ``large`` (at least
    ``config.large_pairs`` usable pairs, decided once in :func:`bnb_select`) adds the
    LP-rounding start. ``known_lower``: a proven lower bound on the component's block count;
    HiGHS is interrupted (a callback) once its incumbent reaches it, which is then optimal."""
    hs = highspy()
    node_limit = config.node_limit
    st: dict = {"nodes": 0, "lps": 0, "status": "optimal"}
    nb = comp.nb
    inc = start
    if inc is None:
        inc = comp.round_up(np.full(nb, 0.5), np.zeros(nb), np.ones(nb))
    if inc is None:  # cannot happen: every kept block together is feasible
        inc = np.ones(nb)
    # a single block per position (the fewest possible) needs no search
    if float(inc.sum()) <= comp.N:
        return inc, float(inc.sum()), st
    if time.perf_counter() >= deadline:  # no time left to build the MILP (seconds at 40 x 40)
        st["status"] = "time_limit"
        return inc, float(min(max(comp.N, known_lower or 0), inc.sum())), st
    root_bound = None  # the root LP's value, once solved (the bound if HiGHS stops before it has one)
    if large:
        root = root_lp(comp, deadline)
        if root is not None:
            root_bound = root[2]
            if root[1] is not None and root[1].sum() < inc.sum():
                inc = root[1]
                st["lp_round_blocks"] = int(inc.sum())
    h = comp._build_highs(canonical=config.best_block_rows)
    h.setOptionValue("presolve", "on")
    h.setOptionValue("mip_abs_gap", 0.999)  # integral objective
    h.setOptionValue("mip_rel_gap", 0.0)
    if math.isfinite(deadline):
        h.setOptionValue("time_limit", max(0.01, deadline - time.perf_counter()))
    if node_limit is not None:
        h.setOptionValue("mip_max_nodes", int(node_limit))
    ni = nb + (comp.nx if config.integer_x else 0)
    h.changeColsIntegrality(ni, np.arange(ni, dtype=np.int32), np.full(ni, hs.HighsVarType.kInteger))
    sol = hs.HighsSolution()
    sol.col_value = np.r_[inc, comp.assignment(inc)].tolist()
    sol.value_valid = True
    h.setSolution(sol)
    if known_lower is not None:
        cb = hs.cb

        def reached(kind: int, message: str, out: Any, data_in: Any, user: Any) -> None:
            if kind == cb.HighsCallbackType.kCallbackMipInterrupt and out.mip_primal_bound <= known_lower + 0.5:
                data_in.user_interrupt = True

        h.setCallback(reached, None)
        h.startCallback(cb.HighsCallbackType.kCallbackMipInterrupt)
    h.run()
    status = h.getModelStatus()
    info = h.getInfo()
    st["nodes"] = int(info.mip_node_count)
    yb = inc
    if info.primal_solution_status == 2:  # kSolutionStatusFeasible
        cand = np.round(np.asarray(h.getSolution().col_value)[:nb])
        if comp.feasible(cand):
            pruned = comp.round_up(cand, np.zeros(nb), cand.copy())  # drop blocks nobody needs
            if pruned is not None and pruned.sum() <= yb.sum():
                yb = pruned
    if status == hs.HighsModelStatus.kOptimal or (known_lower is not None and yb.sum() <= known_lower):
        lower = float(yb.sum())
    else:
        st["status"] = "time_limit"
        bound = float(info.mip_dual_bound)
        if not math.isfinite(bound):
            # stopped before HiGHS had a bound: the root LP's, if it is solved (in the time left when the
            # large path did not solve it already), else one block per position
            bound = float(comp.N) if root_bound is None else root_bound
            left = deadline - time.perf_counter()
            if root_bound is None and left > 0:
                ok, lb0, ub0, xm = comp.propagate(np.zeros(nb), np.ones(nb))
                out = comp.lp(lb0, ub0, xm, time_limit_s=left) if ok else None
                if out is not None:
                    bound = out[0]
        lower = float(math.ceil(bound - 1e-6))
        lower = min(max(lower, float(comp.N), float(known_lower or 0)), float(yb.sum()))
    return yb, lower, st


def _decomposed_component(comp: Component, start: np.ndarray | None, deadline: float,
                          config: BnbConfig) -> tuple[np.ndarray, float, dict]:
    """A mid-size component (``BnbConfig.decomposition_steps``): the per-device Lagrangian bound
    (master seeded by the LP duals' assemblies, Wentges smoothing 0.5; it also improves the
    incumbent), the Lagrangian decomposition bound from its multipliers, the branch and bound on
    the decomposition for the block counts the bound leaves open (``BnbConfig.search_steps``),
    then HiGHS' MILP (:func:`_highs_component`) told the proven bound. Exact: every bound is a
    lower bound, every incumbent a checked feasible selection, and HiGHS' answer exact."""
    nb = comp.nb
    st: dict = {"lagrangian_iterations": 0, "decomposition_steps": 0, "lagrangian_bound": math.nan,
                "search_nodes": 0, "search_steps": 0, "search_levels": 0}
    inc = start if start is not None else comp.round_up(np.full(nb, 0.5), np.zeros(nb), np.ones(nb))
    if inc is None:  # cannot happen: every kept block together is feasible
        inc = np.ones(nb)
    timed = math.isfinite(deadline)
    root = root_lp(comp)  # one LP solve: the LP-rounding incumbent and the warm start
    if root is not None and root[1] is not None and root[1].sum() < inc.sum():
        inc = root[1]
    bound = -math.inf
    lam = None
    if float(inc.sum()) > comp.N and time.perf_counter() < deadline:
        warm = None if root is None else root[0]
        left = max(0.01, deadline - time.perf_counter()) if timed else None
        lag = lagrangian_bound(comp, inc, max_iterations=config.lagrangian_iterations, time_limit_s=left,
                               warm=warm, smoothing=0.5, master_ip_nodes=0, max_candidates=MAX_CANDIDATES)
        st["lagrangian_iterations"] = lag.iterations
        inc, bound = lag.incumbent, lag.bound
        if (not lag.proven and lag.multipliers is not None and time.perf_counter() < deadline
                and config.decomposition_steps > 0):
            dec = ascend(comp, root_node(comp), -lag.multipliers, float(inc.sum()), steps=config.decomposition_steps,
                         max_candidates=MAX_CANDIDATES, deadline=deadline)
            st["decomposition_steps"] = dec.steps
            if dec.steps:
                st["decomposition_bound"] = dec.value
                bound = max(bound, dec.value)
                lam = dec.lam
    st["lagrangian_bound"] = bound
    known = int(min(_ceil_bound(bound, comp.N), inc.sum()))
    budget = config.search_steps
    while (lam is not None and known < inc.sum() and budget > 0 and known - bound <= config.search_gap
           and time.perf_counter() < deadline):
        found = search(comp, lam, known, max_steps=budget, max_candidates=MAX_CANDIDATES, deadline=deadline,
                       jobs=config.search_jobs)
        budget -= found.steps
        st["search_nodes"] += found.nodes
        st["search_steps"] += found.steps
        if found.outcome == "none":  # no selection of ``known`` blocks: the bound rises by one
            known += 1
            st["search_levels"] += 1
        elif found.outcome == "found" and found.selection is not None and comp.feasible(found.selection):
            inc = found.selection  # at most ``known`` blocks, and none has fewer: optimal
            break
        else:
            break
    if known >= inc.sum():
        st.update(nodes=0, lps=0, status="optimal")
        return inc, float(inc.sum()), st
    yb, lower, out = _highs_component(comp, inc, deadline, config, large=False, known_lower=known)
    out.update({k: v for k, v in st.items()})
    return yb, lower, out


def _large_component(comp: Component, start: np.ndarray | None, deadline: float,
                     config: BnbConfig) -> tuple[np.ndarray, float, dict]:
    """A large component (``BnbConfig.large_decomposition_steps``): the decomposition bound at the
    root with branch-and-bound sides from the LP duals (the position side's and device side's
    blocks at the best multipliers, rounded up, may also improve the incumbent), then HiGHS' MILP
    (:func:`_highs_component`) told the proven bound, which joins the one it reports. Exact: the
    bound is a lower bound, every incumbent a checked feasible selection."""
    nb = comp.nb
    st: dict = {"large_decomposition_steps": 0, "lagrangian_bound": math.nan}
    inc = start if start is not None else comp.round_up(np.full(nb, 0.5), np.zeros(nb), np.ones(nb))
    if inc is None:  # cannot happen: every kept block together is feasible
        inc = np.ones(nb)
    known = None  # a proven lower bound: the root LP's, then the ascent's, rounded up
    if float(inc.sum()) > comp.N and time.perf_counter() < deadline:
        # one LP solve, within the time limit: the ascent's start, the LP-rounding incumbent and a bound
        root = root_lp(comp, deadline, ipm=comp.nx >= IPM_PAIRS)
        if root is not None:
            known = _ceil_bound(root[2], comp.N)
        if root is not None and root[1] is not None and root[1].sum() < inc.sum():
            inc = root[1]
            st["lp_round_blocks"] = int(inc.sum())
        # with a time limit the ascent takes at most a third of what is left: HiGHS gets the rest
        now = time.perf_counter()
        until = now + (deadline - now) / 3 if math.isfinite(deadline) else math.inf
        heur: list[np.ndarray] = []

        def lagrangian_heuristic(y: np.ndarray, y_devices: np.ndarray) -> None:
            # at every new best point: both sides' blocks rounded up, and the blocks both sides
            # open repaired greedily, each improved by the swap descent; the best is kept
            for yr in (_primal(comp, y, y_devices), repair(comp, y * y_devices)):
                if yr is not None:
                    yr = improve(comp, yr, deadline=until)
                    if not heur or yr.sum() < heur[0].sum():
                        heur[:] = [yr]

        a = None if root is None else large_ascent(comp, -root[0], float(inc.sum()),
                                                   steps=config.large_decomposition_steps, deadline=until,
                                                   on_best=lagrangian_heuristic)
        if a is not None and a.steps:
            st["large_decomposition_steps"] = a.steps
            if math.isfinite(a.value):
                st["lagrangian_bound"] = a.value
                known = max(known or 0, _ceil_bound(a.value, comp.N))
            if heur and heur[0].sum() < inc.sum():
                inc = heur[0]
                st["lagrangian_heuristic_blocks"] = int(inc.sum())
    inc = improve(comp, inc, deadline=deadline)
    yb, lower, out = _highs_component(comp, inc, deadline, config, large=False, known_lower=known)
    if known is None or yb.sum() > known:
        # HiGHS' incumbent at a limit, improved by the swap descent (allowed FINAL_DESCENT_S past a time limit)
        better = improve(comp, yb, deadline=deadline + FINAL_DESCENT_S)
        if better.sum() < yb.sum():
            out["swap_descent_blocks"] = int(better.sum())
            yb = better
    if known is not None:
        lower = max(lower, float(min(yb.sum(), known)))
    lower = min(lower, float(yb.sum()))
    out.update(st)
    return yb, lower, out


def _probe_component(comp: Component, start: np.ndarray | None, deadline: float,
                     config: BnbConfig) -> tuple[np.ndarray, float, dict]:
    """Lagrangian probing on one (mid-size) component.

    1. The Lagrangian bound ``L`` (:func:`~edgeinfer.broadcast.solvers.lagrange.lagrangian_bound`,
       master seeded by the LP duals' assemblies, Wentges smoothing 0.5), which also improves
       the incumbent (LP rounding of ``start`` too).
    2. For ``t = ceil(L), ceil(L) + 1, ...`` below the incumbent: fix to 0 every ``y_b`` and
       ``x[k, b]`` that Lagrangian reduced costs exclude from all selections of at most ``t``
       blocks (:func:`~edgeinfer.broadcast.solvers.lagrange.lagrangian_fixing`), and ask HiGHS for
       a selection with ``t' <= sum y <= t`` (``t'`` the proven bound). Infeasible: the bound
       becomes ``t + 1``; a selection: it is optimal (nothing below ``t`` exists and the
       restricted model keeps every selection of at most ``t`` blocks).
    Exact: the fixings remove only selections of more than ``t`` blocks."""
    hs = highspy()
    nb = comp.nb
    st: dict = {"nodes": 0, "lps": 0, "status": "optimal", "probes": 0, "lagrangian_iterations": 0,
                "lagrangian_bound": math.nan}
    inc = start if start is not None else comp.round_up(np.full(nb, 0.5), np.zeros(nb), np.ones(nb))
    if inc is None:  # cannot happen: every kept block together is feasible
        inc = np.ones(nb)
    if float(inc.sum()) <= comp.N:
        st["lagrangian_bound"] = float(inc.sum())
        return inc, float(inc.sum()), st
    timed = math.isfinite(deadline)
    root = root_lp(comp)  # one LP solve: the LP-rounding incumbent and the warm start
    if root is not None and root[1] is not None and root[1].sum() < inc.sum():
        inc = root[1]
    warm = None if root is None else root[0]
    left = max(0.01, deadline - time.perf_counter()) if timed else None
    lag = lagrangian_bound(comp, inc, max_iterations=config.lagrangian_iterations, time_limit_s=left, warm=warm,
                           smoothing=0.5, master_ip_nodes=0)
    st["lagrangian_iterations"] = lag.iterations
    st["lagrangian_bound"] = lag.bound
    inc = lag.incumbent
    t = max(comp.N, math.ceil(lag.bound - 1e-6))
    P = lag.multipliers
    probe = True  # one probe at t = ceil(L), where the fixing is strongest
    while t < inc.sum():
        if timed and time.perf_counter() >= deadline:
            st["status"] = "time_limit"
            break
        final = not probe or P is None or t >= inc.sum() - 1
        target = float(inc.sum() - 1) if final else float(t)
        h = comp._build_highs(canonical=config.best_block_rows)
        if P is not None:
            y_zero, x_zero = lagrangian_fixing(comp, P, target)
            hi = np.r_[np.where(y_zero, 0.0, 1.0),
                       np.where(x_zero[comp.pairs[:, 0], comp.pairs[:, 1]] | y_zero[comp.pairs[:, 0]], 0.0, 1.0)]
            h.changeColsBounds(len(hi), np.arange(len(hi), dtype=np.int32), np.zeros(len(hi)), hi)
        # final: min sum y over the selections of at most inc - 1 blocks, proven bound t as a row,
        # the incumbent as HiGHS' start (it is outside the restricted model, so only its value counts)
        h.addRow(float(t) - 0.5 if t > comp.N else -hs.kHighsInf, target + 0.5, nb,
                 np.arange(nb, dtype=np.int32), np.ones(nb))
        ni = nb + (comp.nx if config.integer_x else 0)
        h.changeColsIntegrality(ni, np.arange(ni, dtype=np.int32), np.full(ni, hs.HighsVarType.kInteger))
        h.setOptionValue("presolve", "on")
        h.setOptionValue("mip_abs_gap", 0.999)
        h.setOptionValue("mip_rel_gap", 0.0)
        if timed:
            h.setOptionValue("time_limit", max(0.01, deadline - time.perf_counter()))
        if config.node_limit is not None:
            h.setOptionValue("mip_max_nodes", int(config.node_limit))
        h.run()
        st["probes"] += 1
        status = h.getModelStatus()
        info = h.getInfo()
        st["nodes"] += int(info.mip_node_count)
        if info.primal_solution_status == 2:  # kSolutionStatusFeasible
            cand = np.round(np.asarray(h.getSolution().col_value)[:nb])
            if comp.feasible(cand):
                pruned = comp.round_up(cand, np.zeros(nb), cand.copy())
                if pruned is not None and pruned.sum() < inc.sum():
                    inc = pruned
        if status == hs.HighsModelStatus.kInfeasible:
            if final:  # no selection of at most inc - 1 blocks
                t = int(inc.sum())
                break
            t += 1
            probe = False
            continue
        if status == hs.HighsModelStatus.kOptimal:
            t = int(inc.sum())  # the restricted optimum is the optimum (its value <= inc - 1)
            break
        if final and math.isfinite(info.mip_dual_bound):
            t = max(t, math.ceil(info.mip_dual_bound - 1e-6))
        st["status"] = "time_limit"  # stopped by a limit before deciding
        break
    lower = float(min(t, inc.sum()))
    if st["status"] == "optimal":
        lower = float(inc.sum())
    return inc, lower, st


def lp_round(comp: Component, deadline: float = math.inf) -> np.ndarray | None:
    """Primal heuristic for large components: the root LP's ``y`` rounded by
    :meth:`~edgeinfer.broadcast.solvers.component.Component.round_up` (blocks by decreasing LP value until every device meets its QoS,
    then redundant ones dropped; ``None`` if the LP is not solved by ``deadline``). Only a starting
    solution: exactness is untouched."""
    out = root_lp(comp, deadline)
    return None if out is None else out[1]


def map_to_component(comp: Component, y: np.ndarray) -> np.ndarray | None:
    """Greedy's selection restricted to the component: each device's chosen block replaced by a
    kept block at the same position that scores at least as much for it (exists by dominance)."""
    asm = best_assembly(comp.I, y)  # (K, N)
    yb = np.zeros(comp.nb)
    for kk, k in enumerate(comp.devs):
        for n in range(comp.N):
            i = asm[k, n]
            g = comp.by_pos[n]
            s = comp.I[i, n, k]
            # prefer the identical block if kept, else a kept block at least as good
            exact = g[comp.blocks[g, 0] == i]
            if exact.size and np.isfinite(comp.S[exact[0], kk]):
                yb[exact[0]] = 1.0
                continue
            ok = g[comp.S[g, kk] >= s - 1e-12]
            if ok.size == 0:
                return None
            already = ok[yb[ok] > 0.5]
            yb[already[0] if already.size else ok[np.argmax(comp.S[ok, kk])]] = 1.0
    if not comp.feasible(yb):
        return None
    return comp.round_up(yb, np.zeros(comp.nb), yb.copy())


@register_solver(PROBLEM, "bnb", "Alg. 2: exact P2.1: reductions + cuts + incumbent, branch and cut (HiGHS), "
                 "then power control", exact=True,
                 params=(POWER,
                         Param("engine", BnbConfig.engine, str, "highs (HiGHS branch and cut on the reduced model) "
                               "or tree (our best-first tree)", choices=ENGINES),
                         Param("node_limit", BnbConfig.node_limit, int, "stop after this many branch-and-bound "
                               "nodes (incumbent + bound, status time_limit); null: no limit",
                               bounds=(0, None), optional=True),
                         Param("lagrangian_iterations", BnbConfig.lagrangian_iterations, int,
                               "column-generation rounds of the Lagrangian bound (each device's assemblies "
                               "convexified) on components under 1,500 usable pairs; 0: off", bounds=(0, None)),
                         Param("decomposition_steps", BnbConfig.decomposition_steps, int,
                               "subgradient steps of the Lagrangian decomposition bound (devices coupled through "
                               "each position's facility location) after the per-device bound; 0: off",
                               bounds=(0, None)),
                         Param("search_steps", BnbConfig.search_steps, int,
                               "subgradient steps in all of the branch and bound on the decomposition, which "
                               "raises the bound (or finds the optimum) on mid-size components before HiGHS; 0: off",
                               bounds=(0, None)),
                         Param("search_gap", BnbConfig.search_gap, float,
                               "that search asks about block counts at most this far above the proven bound "
                               "(the rest is left to HiGHS)", bounds=(0, None)),
                         Param("large_decomposition_steps", BnbConfig.large_decomposition_steps, int,
                               "subgradient steps of the decomposition bound on components too large for the "
                               "above (e.g. 21 devices x 24 positions), before HiGHS; 0: off", bounds=(0, None)),
                         Param("search_jobs", BnbConfig.search_jobs, int,
                               "worker processes of that search (the same answer for any number)",
                               bounds=(1, 64))))
def solve_bnb(inst: MBAInstance, *, options: SolveOptions) -> MBASolution:
    p = options.params
    sel = bnb_select(inst.scores, inst.qos, inst.own_model, time_limit_s=options.time_limit_s,
                     config=BnbConfig(engine=p["engine"], node_limit=p["node_limit"],
                                      lagrangian_iterations=p["lagrangian_iterations"],
                                      decomposition_steps=p["decomposition_steps"],
                                      search_steps=p["search_steps"], search_gap=float(p["search_gap"]),
                                      search_jobs=p["search_jobs"],
                                      large_decomposition_steps=p["large_decomposition_steps"]))
    return solution_from_selection(inst, sel, algorithm="bnb", power=p["power"], exact=True)
