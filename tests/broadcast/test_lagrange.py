# ruff: noqa: E741
"""The Lagrangian (per-device Dantzig-Wolfe) bound of ``bnb`` (issue 16): never above the
brute-force optimum, its pricing equals enumeration, it is at least the plain LP bound when it
converges, and ``bnb`` stays exact, deterministic and order-independent with it."""

from __future__ import annotations

import itertools
import math

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

from broadcast_cases import assert_exact_on_random_cases, brute_force, components, random_instance
from edgeinfer.broadcast.solvers import BnbConfig, bnb_select, reduce_problem
from edgeinfer.broadcast.solvers.lagrange import (
    PricingTooLarge,
    cheapest_assembly,
    cheapest_through,
    compiled,
    lagrangian_bound,
    lagrangian_fixing,
)


def _feasible_case(seed, M, N, K):
    """A random instance and its brute-force optimum, or ``(None, None)`` when it is infeasible."""
    inst = random_instance(seed, M=M, N=N, K=K)
    opt = brute_force(inst.scores, inst.qos)
    if opt is None or reduce_problem(inst.scores, inst.qos).infeasible is not None:
        return None, None
    return inst, opt


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10**6), M=st.integers(2, 3), N=st.integers(2, 3), K=st.integers(1, 4),
       iters=st.sampled_from([1, 3, 200]))
def test_bound_never_above_brute_force_optimum(seed, M, N, K, iters):
    inst, opt = _feasible_case(seed, M, N, K)
    if inst is None:
        return
    total = 0.0
    for comp in components(inst):
        lag = lagrangian_bound(comp, None, max_iterations=iters)
        total += lag.bound
        assert comp.feasible(lag.incumbent)
        assert lag.bound <= lag.incumbent.sum() + 1e-9
        if lag.proven:
            assert np.ceil(lag.bound - 1e-6) >= lag.incumbent.sum()
    assert total <= opt + 1e-9
    b = bnb_select(inst.scores, inst.qos, inst.own_model)
    assert b.blocks == opt and b.status == "optimal"


def test_converged_bound_at_least_lp_and_on_library_instances():
    from edgeinfer.broadcast.scenario import make_instance
    for seed in range(4):
        inst = make_instance(seed=seed, num_devices=3, num_positions=4)
        opt = brute_force(inst.scores, inst.qos)
        for comp in components(inst):
            ok, lb, ub, xm = comp.propagate(np.zeros(comp.nb), np.ones(comp.nb))
            lp = comp.lp(lb, ub, xm)[0]  # plain LP of the reduced model (no cuts)
            lag = lagrangian_bound(comp, None, max_iterations=500, master_ip_nodes=0)
            assert lag.converged or lag.proven
            if lag.converged:
                assert lag.bound >= lp - 1e-6
                assert abs(lag.bound - lag.master) <= 1e-6 * max(1.0, lag.master)
            assert lag.bound <= opt + 1e-9


@settings(max_examples=80, deadline=None)
@given(seed=st.integers(0, 10**6), N=st.integers(1, 4), G=st.integers(1, 4), frac=st.floats(0.0, 1.0))
def test_pricing_equals_enumeration(seed, N, G, frac):
    rng = np.random.default_rng(seed)
    scores = [np.round(rng.uniform(0, 1, size=int(rng.integers(1, G + 1))), 2) for _ in range(N)]
    costs = [np.round(rng.uniform(0, 1, size=len(s)), 2) * (rng.uniform(size=len(s)) < 0.7) for s in scores]
    need = frac * sum(float(s.max()) for s in scores)
    best = None
    for choice in itertools.product(*[range(len(s)) for s in scores]):
        sc = sum(float(scores[n][j]) for n, j in enumerate(choice))
        if sc >= need - 1e-9:  # scores on a 0.01 grid: the DP's 1e-12 slack admits the same set
            co = sum(float(costs[n][j]) for n, j in enumerate(choice))
            best = co if best is None else min(best, co)
    out = cheapest_assembly(scores, costs, need)
    if best is None:
        assert out is None
        return
    assert out is not None
    value, choice = out
    assert abs(value - best) <= 1e-9
    assert sum(float(scores[n][j]) for n, j in enumerate(choice)) >= need - 1e-9
    assert abs(sum(float(costs[n][j]) for n, j in enumerate(choice)) - value) <= 1e-9


def test_bnb_with_and_without_the_bound_agree_deterministic_and_order_independent():
    from edgeinfer.broadcast.scenario import make_instance
    inst = make_instance(seed=1, num_devices=6, num_positions=6)
    I, c, own = inst.scores, inst.qos, inst.own_model
    a = bnb_select(I, c, own)
    b = bnb_select(I, c, own, config=BnbConfig(lagrangian_iterations=0))
    again = bnb_select(I, c, own)
    assert a.blocks == b.blocks and a.status == b.status == "optimal"
    assert np.array_equal(a.y, again.y)
    for key in ("lagrangian_bound", "lagrangian_iterations", "nodes", "proven_by_lagrangian"):
        assert a.stats[key] == again.stats[key]
    assert a.stats["lagrangian_bound"] is not None and a.stats["lagrangian_bound"] <= a.blocks + 1e-9
    assert b.stats["lagrangian_bound"] is None
    rng = np.random.default_rng(0)
    pm, pk = rng.permutation(I.shape[0]), rng.permutation(I.shape[2])
    inv = np.argsort(pm)
    p = bnb_select(I[pm][:, :, pk], c[pk], inv[own[pk]])
    assert p.blocks == a.blocks


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10**6), N=st.integers(1, 4), G=st.integers(1, 3), frac=st.floats(0.0, 1.0))
def test_cheapest_through_equals_enumeration(seed, N, G, frac):
    rng = np.random.default_rng(seed)
    scores = [np.round(rng.uniform(0, 1, size=int(rng.integers(1, G + 1))), 2) for _ in range(N)]
    costs = [np.round(rng.uniform(0, 1, size=len(s)), 2) * (rng.uniform(size=len(s)) < 0.7) for s in scores]
    need = frac * sum(float(s.max()) for s in scores)
    want = [np.full(len(s), np.inf) for s in scores]
    for choice in itertools.product(*[range(len(s)) for s in scores]):
        if sum(float(scores[n][j]) for n, j in enumerate(choice)) >= need - 1e-9:
            co = sum(float(costs[n][j]) for n, j in enumerate(choice))
            for n, j in enumerate(choice):
                want[n][j] = min(want[n][j], co)
    got = cheapest_through(scores, costs, need)
    for w, g in zip(want, got):
        fin = np.isfinite(w)
        assert np.array_equal(fin, np.isfinite(g)) and np.allclose(w[fin], g[fin], atol=1e-9)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10**6), M=st.integers(2, 3), N=st.integers(2, 3), K=st.integers(1, 4),
       iters=st.sampled_from([2, 200]))
def test_fixing_keeps_every_optimal_selection(seed, M, N, K, iters):
    """With target = the optimum, no optimal selection (nor its best-block assembly) is fixed away."""
    inst = random_instance(seed, M=M, N=N, K=K)
    opt = brute_force(inst.scores, inst.qos)
    if opt is None or reduce_problem(inst.scores, inst.qos).infeasible is not None:
        return
    bl = bnb_select(inst.scores, inst.qos, inst.own_model)
    for comp in components(inst):
        lag = lagrangian_bound(comp, None, max_iterations=iters, stop_at_proof=False, master_ip_nodes=0)
        if lag.multipliers is None:
            continue
        # the component's optimum: enumerate its kept blocks
        best = None
        for size in range(comp.N, comp.nb + 1):
            for comb in itertools.combinations(range(comp.nb), size):
                y = np.zeros(comp.nb)
                y[list(comb)] = 1.0
                if comp.feasible(y):
                    best = size if best is None else best
                    if size == best:
                        y_zero, x_zero = lagrangian_fixing(comp, lag.multipliers, float(size))
                        assert not np.any(y_zero & (y > 0.5))
                        xa = comp.assignment(y)
                        used = comp.pairs[xa > 0.5]
                        assert not np.any(x_zero[used[:, 0], used[:, 1]])
            if best is not None:
                break
    assert bl.blocks == opt


def test_probing_path_is_exact():
    """Lagrangian probing (reduced-cost fixing + restricted MILPs), forced on small components."""
    cfg = BnbConfig(large_pairs=0, probe_max_pairs=10**9)
    assert_exact_on_random_cases(cfg)
    from edgeinfer.broadcast.scenario import make_instance
    inst = make_instance(seed=2, num_devices=6, num_positions=6)
    a = bnb_select(inst.scores, inst.qos, inst.own_model, config=cfg)
    b = bnb_select(inst.scores, inst.qos, inst.own_model)
    assert a.blocks == b.blocks == 19 and a.status == "optimal" and a.stats["probes"] >= 1


def test_facility_location_equals_enumeration():
    from edgeinfer.broadcast.solvers.decomposition import _facility
    rng = np.random.default_rng(7)
    for _ in range(60):
        m, K = int(rng.integers(1, 6)), int(rng.integers(1, 5))
        cost = rng.normal(0.0, 1.0, (m, K))
        cost[rng.random((m, K)) < 0.3] = np.inf
        cost[rng.integers(m), :] = rng.normal(0.0, 1.0, K)  # some block every device can use
        sizes = np.array([bin(s).count("1") for s in range(2 ** m)])
        best = min(len(Y) + sum(min(cost[b, k] for b in Y) for k in range(K))
                   for r in range(1, m + 1) for Y in itertools.combinations(range(m), r))
        value, choice = _facility(cost, sizes)
        assert np.isclose(value, best)
        Y = sorted(set(choice.tolist()))
        assert np.isclose(len(Y) + cost[choice, np.arange(K)].sum(), best)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10**6), M=st.integers(2, 3), N=st.integers(2, 3), K=st.integers(1, 4),
       steps=st.sampled_from([1, 5, 100]))
def test_decomposition_bound_valid_and_at_least_the_per_device_bound(seed, M, N, K, steps):
    from edgeinfer.broadcast.solvers.decomposition import decomposition_bound
    inst, opt = _feasible_case(seed, M, N, K)
    if inst is None:
        return
    total = 0.0
    for comp in components(inst):
        lag = lagrangian_bound(comp, None, max_iterations=200, stop_at_proof=False)
        if lag.multipliers is None:
            total += lag.bound
            continue
        dec, taken = decomposition_bound(comp, lag.multipliers, float(lag.incumbent.sum()), steps=steps)
        assert 1 <= taken <= steps
        assert dec >= lag.bound - 1e-9  # its first step is at least the per-device bound
        total += dec
    assert total <= opt + 1e-9


def test_decomposition_closes_what_the_per_device_bound_leaves_open():
    """Known answers: 6x6 and 6x8 seed 2 of the benchmark, where the per-device bound rounds up
    to one block below the optimum (18.00 / 23.80), are proven at the root with it."""
    from edgeinfer.broadcast.scenario import make_instance
    for (K, N), opt in (((6, 6), 19), ((6, 8), 25)):
        inst = make_instance(seed=2, num_devices=K, num_positions=N)
        off = bnb_select(inst.scores, inst.qos, inst.own_model, config=BnbConfig(decomposition_steps=0))
        on = bnb_select(inst.scores, inst.qos, inst.own_model)
        assert off.blocks == on.blocks == opt and on.status == "optimal"
        assert np.ceil(off.stats["lagrangian_bound"] - 1e-6) < opt <= np.ceil(on.stats["lagrangian_bound"] - 1e-6)
        assert on.stats["nodes"] == 0 and on.stats["decomposition_steps"] > 0


def test_decomposition_path_is_exact_and_order_independent():
    """The mid-size path (per-device bound, decomposition, HiGHS told the bound), forced on
    small components, against brute force; and the same count with models and devices permuted."""
    cfg = BnbConfig(large_pairs=0, decomposition_max_pairs=10**9)
    assert_exact_on_random_cases(cfg, permute=True)


def test_pricing_work_cap_stops_the_bounds_and_keeps_them_valid():
    """A pricing over its candidate cap raises; the bounds stop at the rounds completed before it
    (still valid lower bounds) and ``bnb`` stays exact."""
    import pytest

    from edgeinfer.broadcast.solvers.decomposition import decomposition_bound
    from edgeinfer.broadcast.solvers.lagrange import PricingTooLarge
    with pytest.raises(PricingTooLarge):
        cheapest_assembly([np.array([1.0, 2.0])] * 3, [np.array([0.1, 0.2])] * 3, 3.0, max_candidates=3)
    for seed in range(6):
        inst, opt = _feasible_case(seed, 3, 3, 3)
        if inst is None:
            continue
        for comp in components(inst):
            for cap in (1, 4, 10**6):
                lag = lagrangian_bound(comp, None, max_iterations=50, stop_at_proof=False, max_candidates=cap)
                assert lag.bound <= opt + 1e-9 and comp.feasible(lag.incumbent)
                if lag.multipliers is not None:
                    dec, _ = decomposition_bound(comp, lag.multipliers, float(lag.incumbent.sum()), steps=20,
                                                 max_candidates=cap)
                    assert dec <= opt + 1e-9


def _pricing_case(seed: int, N: int, G: int, grid: float) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Scores in [0, 1] and normal costs for ``N`` positions of 1..``G`` blocks; with ``grid`` > 0 on
    that grid, so that ties are common."""
    rng = np.random.default_rng(seed)
    scores = [rng.uniform(0, 1, size=int(rng.integers(1, G + 1))) for _ in range(N)]
    costs = [rng.normal(0, 1, size=len(s)) for s in scores]
    if grid:
        scores = [np.round(s / grid) * grid for s in scores]
        costs = [np.round(c / grid) * grid for c in costs]
    return scores, costs


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10**6), N=st.integers(1, 10), G=st.integers(1, 12), frac=st.floats(0.0, 1.0),
       grid=st.sampled_from([0.0, 0.1, 0.5]), cap=st.sampled_from([None, 50, 10**6]))
def test_compiled_pricing_equals_the_numpy_programme_bit_for_bit(seed, N, G, frac, grid, cap):
    """The numba kernel returns the same value and assembly as the NumPy programme, ties (scores
    and costs on a coarse grid) and the work cap included, so the answer never depends on
    whether numba is installed."""
    kernel = compiled()
    assert kernel is not None  # numba is a dependency
    scores, costs = _pricing_case(seed, N, G, grid)
    need = frac * sum(float(s.max()) for s in scores)
    outs = []
    for k in (None, kernel):
        try:
            outs.append(cheapest_assembly(scores, costs, need, max_candidates=cap, kernel=k))
        except PricingTooLarge:
            outs.append("too large")
    assert outs[0] == outs[1]


@settings(max_examples=80, deadline=None)
@given(seed=st.integers(0, 10**6), N=st.integers(1, 8), G=st.integers(1, 10), frac=st.floats(0.0, 1.0),
       grid=st.sampled_from([0.0, 0.1, 0.5]), cap=st.sampled_from([None, 30]), slack=st.sampled_from([-1.0, 0.0, 0.3]))
def test_a_cost_limit_never_changes_the_pricing(seed, N, G, frac, grid, cap, slack):
    """With a limit from a feasible assembly's cost (``slack`` >= 0 above the cheapest) the
    Pareto programme returns the same value and assembly as without one, without falling back,
    with NumPy and compiled, ties and the work cap included; with a limit below every assembly
    (``slack`` < 0) :func:`price` prices again without it."""
    from edgeinfer.broadcast.solvers.lagrange import (
        _cheapest_assembly_numpy,
        cost_limit,
        prepare_pricing,
        price,
    )
    scores, costs = _pricing_case(seed, N, G, grid)
    p = prepare_pricing(scores, frac * sum(float(s.max()) for s in scores))
    if p is None:
        return
    flat = np.concatenate(costs)
    kernel = compiled()

    def direct(use, limit):
        """The programme itself, no fallback: (value, choice), "limit", None or "too large"."""
        try:
            if use is None:
                return _cheapest_assembly_numpy(p, flat, cap, limit)
        except PricingTooLarge:
            return "too large"
        status, value, choice = use.pareto_dp(p.scores, flat, p.offsets, p.need, p.best_rest,
                                              -1 if cap is None else cap, limit)
        return {0: (float(value), choice.tolist()), 1: None, 2: "too large", 3: "limit"}[status]

    plain = direct(None, math.inf)
    assert direct(kernel, math.inf) == plain
    if not isinstance(plain, tuple):
        return
    known = sum(float(c[j]) for c, j in zip(costs, plain[1]))  # the cheapest assembly, in position order
    limit = cost_limit(known + slack)
    for use in (None, kernel):
        if slack >= 0:
            assert direct(use, limit) == plain
        assert price(p, flat, max_candidates=cap, kernel=use, limit=limit) == plain


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10**6), N=st.integers(1, 9), G=st.integers(1, 10), twentieths=st.integers(1, 19),
       grid=st.sampled_from([0.0, 0.1, 0.5]), slack=st.sampled_from([0.0, 0.05, 0.5, 3.0]))
# found by a random run: rounding gives equal scores inside one block's shifted list, which the
# compiled frontier used to keep both of (one state more, so the work cap ended it at a smaller size)
@example(seed=49697, N=8, G=6, twentieths=1, grid=0.1, slack=3.0)
def test_the_limited_programmes_keep_the_same_states(seed, N, G, twentieths, grid, slack):
    """Under a cost limit (the least-cost and the slope bound, :func:`lagrange._slope_tail`) the
    NumPy and the compiled programme keep the same states: the same slope ``mu`` to the bit, and
    the work cap (which counts the kept states) ends both at the same size, so whether numba is
    installed never changes an answer; the slope bound never drops the cheapest assembly."""
    from edgeinfer.broadcast.solvers import _pricing_kernel
    from edgeinfer.broadcast.solvers.lagrange import (
        SLOPE_STEPS,
        _cheapest_assembly_numpy,
        _slope_tail,
        cost_limit,
        prepare_pricing,
    )
    assert _pricing_kernel.SLOPE_STEPS == SLOPE_STEPS
    scores, costs = _pricing_case(seed, N, G, grid)
    p = prepare_pricing(scores, twentieths / 20 * sum(float(s.max()) for s in scores))
    if p is None:
        return
    flat = np.concatenate(costs)
    mu, _ = _slope_tail(p, flat)
    assert mu >= 0.0 and mu == _pricing_kernel._slope(p.scores, flat, p.offsets, p.need)
    plain = _cheapest_assembly_numpy(p, flat, None)
    assert isinstance(plain, tuple)
    limit = cost_limit(sum(float(c[j]) for c, j in zip(costs, plain[1])) + slack)

    def sizes(cap):
        """(NumPy, compiled) outcome with the work cap ``cap`` under the limit."""
        try:
            a = _cheapest_assembly_numpy(p, flat, cap, limit)
        except PricingTooLarge:
            a = "too large"
        status, value, choice = _pricing_kernel.pareto_dp(p.scores, flat, p.offsets, p.need, p.best_rest, cap, limit)
        b = {0: (float(value), choice.tolist()), 2: "too large"}[status]
        return a, b

    for cap in range(0, 4 * max(len(c) for c in costs) ** 2 + 2):
        a, b = sizes(cap)
        assert a == b
        if a != "too large":
            assert a == plain  # the same value and assembly as without the limit
            break


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 10**6), N=st.integers(2, 8), G=st.integers(2, 10), twentieths=st.integers(10, 19),
       grid=st.sampled_from([0.0, 0.1]))
def test_the_slope_bound_keeps_the_cheapest_assembly_at_a_tight_limit(seed, N, G, twentieths, grid):
    """With the limit at the cheapest assembly's own cost and a binding QoS (``mu`` > 0: the slope
    bound is at its tightest), both programmes still return the cheapest assembly without falling
    back: a slope test that drops states within a few per cent below the limit fails here."""
    from edgeinfer.broadcast.solvers import _pricing_kernel
    from edgeinfer.broadcast.solvers.lagrange import (
        _cheapest_assembly_numpy,
        _slope_tail,
        cost_limit,
        prepare_pricing,
    )
    scores, costs = _pricing_case(seed, N, G, grid)
    p = prepare_pricing(scores, twentieths / 20 * sum(float(s.max()) for s in scores))
    if p is None:
        return
    flat = np.concatenate(costs)
    if _slope_tail(p, flat)[0] <= 0.0:
        return
    plain = _cheapest_assembly_numpy(p, flat, None)
    assert isinstance(plain, tuple)
    limit = cost_limit(sum(float(c[j]) for c, j in zip(costs, plain[1])))
    assert _cheapest_assembly_numpy(p, flat, None, limit) == plain
    status, value, choice = _pricing_kernel.pareto_dp(p.scores, flat, p.offsets, p.need, p.best_rest, -1, limit)
    assert status == 0 and (float(value), choice.tolist()) == plain
