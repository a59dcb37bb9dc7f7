"""The decomposition bound of large MBA components (``decomposition.large_ascent``; issue 16): its
facility-location kernel is exact, its pricing kernel within ``eps`` with a valid lower bound,
its ``L`` never above the exact one nor below it by more than ``Kc * eps``, and ``bnb`` with the
large path forced on small instances stays exact."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from broadcast_cases import assert_exact_on_random_cases, components, random_instance
from edgeinfer.broadcast.solvers import BnbConfig
from edgeinfer.broadcast.solvers.decomposition import (
    _evaluate,
    _facility,
    _large_evaluate,
    _LargeSides,
    _Sides,
    _subset_sizes,
    large_ascent,
    root_node,
)
from edgeinfer.broadcast.solvers.lagrange import compiled, lp_multipliers

kernel = compiled()
needs_numba = pytest.mark.skipif(kernel is None, reason="numba missing: the large path is off")


def _mckp_brute(scores, costs, offsets, need):
    N = len(offsets) - 1
    best = math.inf
    for ch in itertools.product(*[range(offsets[n + 1] - offsets[n]) for n in range(N)]):
        s = sum(scores[offsets[n] + ch[n]] for n in range(N))
        c = sum(costs[offsets[n] + ch[n]] for n in range(N))
        if s >= need and c < best:
            best = c
    return best


@needs_numba
def test_facility_location_kernel_equals_enumeration():
    rng = np.random.default_rng(0)
    for t in range(600):
        m, K = int(rng.integers(1, 9)), int(rng.integers(1, 6))
        cost = rng.normal(0.3, 0.6, (m, K)).round(int(rng.integers(0, 3)))  # rounding makes ties
        cost[rng.random((m, K)) < 0.2] = np.inf
        value, assign = kernel.ufl(cost)
        served = np.isfinite(cost).any(axis=0).all()
        if not served:
            assert value == math.inf and (assign == -1).all()
            continue
        ref, _ = _facility(cost, _subset_sizes(m))
        assert value == pytest.approx(ref, abs=1e-9), t
        # the assignment is a real one: its blocks and costs give the value
        assert len(set(assign.tolist())) + cost[assign, np.arange(K)].sum() == pytest.approx(value, abs=1e-9)


@needs_numba
@pytest.mark.parametrize("eps", [0.0, 1e-3, 0.5])
def test_pricing_kernel_is_within_eps_with_a_valid_lower_bound(eps):
    rng = np.random.default_rng(1)
    for _ in range(500):
        N = int(rng.integers(1, 5))
        sizes = rng.integers(1, 5, N)
        offsets = np.r_[0, np.cumsum(sizes)].astype(np.int64)
        scores = rng.integers(0, 6, offsets[-1]).astype(float)
        costs = rng.normal(0, 1, offsets[-1]).round(int(rng.integers(0, 3)))
        need = float(rng.integers(0, int(sizes.sum() * 3) + 1))
        status, value, lower, choice = kernel.mckp(scores, costs, offsets, need, eps, -1)
        opt = _mckp_brute(scores, costs, offsets, need)
        if opt == math.inf:
            assert status == 1
            continue
        assert status == 0 and lower <= opt + 1e-9 and value >= opt - 1e-9 and value - lower <= eps + 1e-9
        picked = offsets[:-1] + choice
        assert scores[picked].sum() >= need and costs[picked].sum() == pytest.approx(value, abs=1e-9)
        status, _, lower, _ = kernel.mckp(scores, costs, offsets, need, eps, 1)  # at the node cap
        assert status in (0, 2) and lower <= opt + 1e-9


@needs_numba
def test_large_evaluation_is_the_exact_one_up_to_eps():
    """At the same multipliers the large path's ``L`` is at most the enumerated one and at most
    ``Kc * eps`` below it (a valid bound, nearly as strong)."""
    rng = np.random.default_rng(2)
    eps = 1e-3
    checked = 0
    for seed in range(12):
        inst = random_instance(seed, M=4, N=3, K=4)
        for comp in components(inst):
            sides, large = _Sides(comp, root_node(comp)), _LargeSides(comp)
            for _ in range(4):
                lam = np.where(np.isfinite(comp.S), rng.normal(0.0, 0.5, (comp.nb, comp.Kc)), 0.0)
                exact = _evaluate(sides, lam, None)[0]
                value = _large_evaluate(kernel, large, lam, eps, -1)[0]
                assert exact - comp.Kc * eps - 1e-9 <= value <= exact + 1e-9
                checked += 1
    assert checked > 20


@needs_numba
def test_large_ascent_never_exceeds_the_optimum_and_lifts_the_lp_duals():
    for seed in range(10):
        inst = random_instance(seed, M=3, N=3, K=3)
        for comp in components(inst):
            opt = min(int(y.sum()) for y in _all_feasible(comp))
            P = lp_multipliers(comp)
            if P is None:
                continue
            first = large_ascent(comp, -P, float(opt), steps=1)
            a = large_ascent(comp, -P, float(opt), steps=60)
            assert a is not None and first is not None
            assert first.value <= a.value <= opt + 1e-9 and 1 <= a.steps <= 60


@needs_numba
def test_on_best_sees_every_new_best_point_and_the_last_is_the_returned_one():
    calls, ascents = 0, 0
    for seed in range(10):
        inst = random_instance(seed, M=4, N=3, K=4)
        for comp in components(inst):
            opt = min(int(y.sum()) for y in _all_feasible(comp))
            seen: list[tuple[np.ndarray, np.ndarray]] = []
            a = large_ascent(comp, np.zeros((comp.nb, comp.Kc)), float(opt), steps=60,
                             on_best=lambda y, d, seen=seen: seen.append((y.copy(), d.copy())))
            assert a is not None and a.y is not None and a.y_devices is not None
            assert 1 <= len(seen) <= a.steps
            y, d = seen[-1]
            assert np.array_equal(y, a.y) and np.array_equal(d, a.y_devices)
            # the device side's blocks: every device's assembly, so feasible by itself
            assert all(comp.feasible(dv) for _, dv in seen)
            calls, ascents = calls + len(seen), ascents + 1
    assert calls > ascents > 0  # some ascents from zero improve more than once


def _all_feasible(comp):
    for bits in itertools.product((0.0, 1.0), repeat=comp.nb):
        y = np.array(bits)
        if comp.feasible(y):
            yield y


@needs_numba
def test_bnb_with_the_large_path_forced_is_exact_and_order_independent():
    cfg = BnbConfig(large_pairs=0, decomposition_max_pairs=0, large_decomposition_steps=40)
    results = assert_exact_on_random_cases(cfg, permute=True, seeds=12)
    assert sum(r.stats.get("large_decomposition_steps", 0) for r in results) > 0


def _no_improving_move_left(comp, y):
    """No single block can be dropped, and no two dropped with one added, keeping ``y`` feasible."""
    sel, unsel = np.flatnonzero(y > 0.5), np.flatnonzero(y < 0.5)
    for b in sel:
        z = y.copy()
        z[b] = 0
        if comp.feasible(z):
            return False
    for b1, b2 in itertools.combinations(sel, 2):
        for a in unsel:
            z = y.copy()
            z[[b1, b2]] = 0
            z[a] = 1
            if comp.feasible(z):
                return False
    return True


@needs_numba
def test_swap_descent_and_repair_give_feasible_local_optima():
    from edgeinfer.broadcast.solvers.local_search import improve, repair
    rng = np.random.default_rng(3)
    checked = 0
    for seed in range(16):
        inst = random_instance(seed, M=4, N=3, K=4)
        for comp in components(inst):
            for _ in range(3):
                start = (rng.random(comp.nb) < 0.3).astype(float)
                y = repair(comp, start)
                assert y is not None and comp.feasible(y) and (y >= start).all()
                z = improve(comp, y)
                assert comp.feasible(z) and z.sum() <= y.sum() and _no_improving_move_left(comp, z)
                checked += 1
    assert checked > 30


def test_an_expired_time_limit_stops_the_large_path_with_a_valid_answer():
    """A deadline already past (deterministic, no timing): no root LP, no ascent, no descent move,
    no MILP; the start comes back with a valid bound and status ``time_limit``."""
    import time

    from edgeinfer.broadcast.solvers.bnb import _large_component
    from edgeinfer.broadcast.solvers.lagrange import root_lp
    from edgeinfer.broadcast.solvers.local_search import improve
    past = time.perf_counter() - 1.0
    checked = 0
    for seed in range(10):
        inst = random_instance(seed, M=4, N=3, K=4)
        for comp in components(inst):
            opt = min(int(y.sum()) for y in _all_feasible(comp))
            start = np.ones(comp.nb)
            assert root_lp(comp, past) is None
            assert np.array_equal(improve(comp, start, deadline=past), start)
            y, lower, st = _large_component(comp, start, past, BnbConfig())
            assert comp.feasible(y) and comp.N <= lower <= opt <= y.sum()
            if y.sum() > comp.N:
                assert st["status"] == "time_limit" and st["large_decomposition_steps"] == 0
                checked += 1
    assert checked > 5


def test_the_interior_point_root_lp_has_the_simplex_value_and_valid_duals():
    """``root_lp(..., ipm=True)`` (the large path above ``bnb.IPM_PAIRS`` usable pairs): the same LP
    value as dual simplex, a feasible rounding, and duals whose ``L`` is a lower bound at least
    near the LP's (the ascent starts there)."""
    from edgeinfer.broadcast.solvers.lagrange import root_lp
    checked = 0
    for seed in range(10):
        inst = random_instance(seed, M=4, N=3, K=4)
        for comp in components(inst):
            simplex, ipm = root_lp(comp), root_lp(comp, ipm=True)
            assert simplex is not None and ipm is not None
            assert abs(simplex[2] - ipm[2]) <= 1e-6 * max(1.0, abs(simplex[2]))
            assert ipm[1] is not None and comp.feasible(ipm[1])
            opt = min(int(y.sum()) for y in _all_feasible(comp))
            if kernel is not None:
                value = _large_evaluate(kernel, _LargeSides(comp), -ipm[0], 1e-9, -1)[0]
                assert ipm[2] - 1e-6 <= value <= opt + 1e-9
            checked += 1
    assert checked > 5
