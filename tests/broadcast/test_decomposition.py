"""The branch and bound on the Lagrangian decomposition (``solvers/decomposition.py``):
fixing keeps every selection of at most the target blocks, the search answers "is there a
selection of at most t blocks?" exactly, and ``bnb`` with it stays exact (issue 16)."""

from __future__ import annotations

import itertools
import multiprocessing

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from broadcast_cases import assert_exact_on_random_cases, components, random_instance
from edgeinfer.broadcast.solvers import BnbConfig, bnb_select
from edgeinfer.broadcast.solvers.decomposition import (
    Node,
    _evaluate,
    _propagate,
    _Sides,
    ascend,
    fix,
    root_node,
    search,
)
from edgeinfer.broadcast.solvers.lagrange import compiled, lagrangian_bound


def _selections(comp):
    """Every feasible selection of the component's blocks (0/1 vectors)."""
    out = []
    for bits in itertools.product((0.0, 1.0), repeat=comp.nb):
        y = np.array(bits)
        if comp.feasible(y):
            out.append(y)
    return out


def _enumerable(seed, M, N, K):
    """The components of a random instance small enough to enumerate, with their selections."""
    for comp in components(random_instance(seed, M=M, N=N, K=K)):
        if comp.nb <= 10:
            yield comp, _selections(comp)


def _multipliers(comp, rng, kind):
    if kind == "per-device":
        lag = lagrangian_bound(comp, None, max_iterations=50, stop_at_proof=False)
        return -lag.multipliers if lag.multipliers is not None else np.zeros((comp.nb, comp.Kc))
    return rng.normal(0.0, 0.5, (comp.nb, comp.Kc))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10**6), M=st.integers(2, 3), N=st.integers(2, 3), K=st.integers(1, 4),
       kind=st.sampled_from(["per-device", "random"]), extra=st.integers(0, 1))
def test_fixing_keeps_every_selection_of_at_most_the_target(seed, M, N, K, kind, extra):
    rng = np.random.default_rng(seed)
    for comp, sels in _enumerable(seed, M, N, K):
        opt = int(min(y.sum() for y in sels))
        target = opt + extra
        lam = _multipliers(comp, rng, kind)
        node, up, down = fix(comp, root_node(comp), lam, target)
        small = [y for y in sels if y.sum() <= target]
        assert node is not None  # a selection of opt blocks exists
        for y in small:
            assert np.all(y[node.forced] > 0.5)
            x = comp.assignment(y)
            used = comp.pairs[x > 0.5]
            assert node.allowed[used[:, 0], used[:, 1]].all()
        assert np.all(up[np.isfinite(up)] >= -1e-9) and np.all(down[np.isfinite(down)] >= -1e-9)
        # below the optimum the same fixing may only say "none" or keep a node without selections
        below, _, _ = fix(comp, root_node(comp), lam, opt - 1)
        assert below is None or not any(y.sum() <= opt - 1 for y in sels)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10**6), M=st.integers(2, 3), N=st.integers(2, 3), K=st.integers(1, 4),
       pick=st.integers(0, 10**6))
def test_forced_blocks_drop_only_pairs_no_selection_needs(seed, M, N, K, pick):
    """With blocks forced, ``_propagate`` drops a device's free blocks that score less than a
    forced block it may use at the same position; every feasible selection holding the forced
    blocks keeps its blocks and its best-block assignment's pairs."""
    rng = np.random.default_rng(pick)
    for comp, sels in _enumerable(seed, M, N, K):
        base = sels[rng.integers(len(sels))]
        forced = (base > 0.5) & (rng.random(comp.nb) < 0.5)
        start = np.isfinite(comp.S)
        node = _propagate(comp, start, forced, comp.nb)
        holding = [y for y in sels if np.all(y[forced] > 0.5)]
        assert node is not None and holding
        for y in holding:
            x = comp.assignment(y)
            used = comp.pairs[x > 0.5]
            assert node.allowed[used[:, 0], used[:, 1]].all()
        # the rule itself: nothing free below a usable forced block at its position survives
        for k in range(comp.Kc):
            for g in comp.by_pos:
                fz = [b for b in g if forced[b] and node.allowed[b, k]]
                if fz:
                    top = max(comp.S[b, k] for b in fz)
                    assert not any(node.allowed[b, k] and not forced[b] and comp.S[b, k] < top for b in g)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10**6), M=st.integers(2, 3), N=st.integers(2, 3), K=st.integers(1, 4),
       kind=st.sampled_from(["per-device", "random"]))
def test_search_answers_exactly(seed, M, N, K, kind):
    """Against enumeration: nothing at ``opt - 1``; a checked selection of ``opt`` blocks at
    ``opt`` (or, with a budget, never a wrong "none"); and deterministic."""
    inst = random_instance(seed, M=M, N=N, K=K)
    rng = np.random.default_rng(seed)
    for comp in components(inst):
        if comp.nb > 10:
            continue
        opt = int(min(y.sum() for y in _selections(comp)))
        lam = _multipliers(comp, rng, kind)
        below = search(comp, lam, opt - 1, max_steps=20_000)
        assert below.outcome == "none"
        at = search(comp, lam, opt, max_steps=20_000)
        assert at.outcome == "found"
        assert comp.feasible(at.selection) and at.selection.sum() <= opt
        again = search(comp, lam, opt, max_steps=20_000)
        assert again.nodes == at.nodes and again.steps == at.steps
        assert np.array_equal(again.selection, at.selection)
        for budget in (1, 7):
            short = search(comp, lam, opt, max_steps=budget)
            assert short.outcome in ("found", "undecided") and short.steps <= budget


def test_ascent_from_the_per_device_multipliers_never_drops_below_them():
    for seed in range(8):
        inst = random_instance(seed, M=3, N=3, K=3)
        for comp in components(inst):
            lag = lagrangian_bound(comp, None, max_iterations=200, stop_at_proof=False)
            if lag.multipliers is None:
                continue
            a = ascend(comp, root_node(comp), -lag.multipliers, float(lag.incumbent.sum()), steps=30)
            assert a.value >= lag.bound - 1e-9 and 1 <= a.steps <= 30


@pytest.mark.parametrize("gap", [1.0, 3.0])
def test_bnb_with_the_search_doing_the_work_is_exact_and_order_independent(gap):
    """The mid-size path forced on small components with weak root bounds (one column-generation
    round, one decomposition step), so the search decides: equal to brute force, the same count
    with models and devices permuted, and the search really ran (with ``gap`` 3 it searches levels
    up to 3 blocks above the bound)."""
    cfg = BnbConfig(large_pairs=0, decomposition_max_pairs=10**9, lagrangian_iterations=1, decomposition_steps=1,
                    search_steps=10**5, search_gap=gap)
    results = assert_exact_on_random_cases(cfg, permute=True, seeds=12)
    assert sum(r.stats.get("search_levels", 0) + (r.stats.get("search_nodes", 0) > 0) for r in results) > 0


@pytest.mark.slow
def test_known_answer_12x12_seed_2_bound_58():
    """The benchmark's 12 x 12 seed 2: no selection of 57 blocks (every peer stops at bound 57)."""
    from edgeinfer.broadcast.scenario import make_instance
    inst = make_instance(seed=2, num_devices=12, num_positions=12)
    r = bnb_select(inst.scores, inst.qos, inst.own_model, time_limit_s=120)
    assert r.lower_bound >= 58 and r.stats["search_levels"] >= 1


@pytest.mark.slow
def test_known_answer_12x12_seed_2_optimal_59():
    """The same instance proven optimal by the default search, no time limit (~5 minutes with two
    processes): "none" at ``t = 57`` and at ``t = 58`` (650,832 steps, inside the default budget)."""
    from edgeinfer.broadcast.scenario import make_instance
    inst = make_instance(seed=2, num_devices=12, num_positions=12)
    r = bnb_select(inst.scores, inst.qos, inst.own_model, config=BnbConfig(search_jobs=2))
    assert r.status == "optimal" and r.blocks == r.lower_bound == 59 and r.stats["search_levels"] == 2


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10**6), M=st.integers(2, 5), N=st.integers(2, 4), K=st.integers(1, 5),
       forced=st.floats(0.0, 0.5), dropped=st.floats(0.0, 0.3))
def test_compiled_sides_equal_the_numpy_ones(seed, M, N, K, forced, dropped):
    """L, both sides' assignments and the position side's blocks are the same, bit for bit, with
    the compiled kernels (facility location and pricing) as with NumPy, at nodes with forced
    and dropped blocks and whole positions decided."""
    inst = random_instance(seed, M=M, N=N, K=K)
    rng = np.random.default_rng(seed)
    for comp in components(inst):
        allowed = np.isfinite(comp.S) & (rng.uniform(size=comp.S.shape) >= dropped)
        node = Node(allowed, rng.uniform(size=comp.nb) < forced)
        lam = rng.normal(0.0, 0.5, (comp.nb, comp.Kc))
        plain = _Sides(comp, node)
        fast = _Sides(comp, node)
        plain.kernel, fast.kernel = None, compiled()
        a, b = _evaluate(plain, lam, None), _evaluate(fast, lam, None)
        assert a[0] == b[0] or (np.isinf(a[0]) and np.isinf(b[0]))
        if np.isfinite(a[0]):
            for u, v in zip(a[1:], b[1:]):
                assert np.array_equal(u, v)
            # the next step, priced with the cost limit of this step's assemblies: the same again
            lam2 = lam + rng.normal(0.0, 0.2, lam.shape)
            c = _evaluate(plain, lam2, None)
            for out in (_evaluate(plain, lam2, None, a[4]), _evaluate(fast, lam2, None, a[4])):
                assert out[0] == c[0] or (np.isinf(out[0]) and np.isinf(c[0]))
                if np.isfinite(c[0]):
                    for u, v in zip(out[1:], c[1:]):
                        assert np.array_equal(u, v)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10**6), M=st.integers(2, 5), N=st.integers(2, 4), K=st.integers(1, 5),
       forced=st.floats(0.0, 0.5), dropped=st.floats(0.0, 0.3), grid=st.sampled_from([0.0, 0.5]))
def test_compiled_penalties_equal_the_numpy_ones(seed, M, N, K, forced, dropped, grid):
    """``L`` and every fixing penalty (``y_b = 1``, ``y_b = 0``, ``x[k, b] = 1``) are the same, bit
    for bit, with the compiled kernel as with NumPy; ``grid`` > 0 puts the multipliers on a
    coarse grid, so that ties between subsets, blocks and states are common."""
    from edgeinfer.broadcast.solvers.decomposition import _penalties, _propagate
    inst = random_instance(seed, M=M, N=N, K=K)
    rng = np.random.default_rng(seed)
    for comp in components(inst):
        allowed = np.isfinite(comp.S) & (rng.uniform(size=comp.S.shape) >= dropped)
        node = _propagate(comp, allowed, rng.uniform(size=comp.nb) < forced, comp.nb)
        if node is None:
            continue
        lam = rng.normal(0.0, 0.5, (comp.nb, comp.Kc))
        if grid:
            lam = np.round(lam / grid) * grid
        plain, fast = _Sides(comp, node), _Sides(comp, node)
        plain.kernel, fast.kernel = None, compiled()
        a, b = _penalties(plain, lam), _penalties(fast, lam)
        assert a[0] == b[0]
        for u, v in zip(a[1:], b[1:]):
            assert np.array_equal(u, v)


def test_search_takes_the_same_path_with_and_without_the_kernels(monkeypatch):
    """The same outcome, nodes and steps with the compiled kernels forced on small components."""
    import edgeinfer.broadcast.solvers.lagrange as lagrange
    runs = {}
    for threshold in (10**9, 0):
        monkeypatch.setattr(lagrange, "KERNEL_MIN_PAIRS", threshold)
        out = []
        for seed in range(6):
            inst = random_instance(seed, M=3, N=3, K=4)
            for comp in components(inst):
                lam = _multipliers(comp, np.random.default_rng(seed), "per-device")
                a = ascend(comp, root_node(comp), lam, comp.nb, steps=50)
                for t in (int(np.ceil(a.value - 1e-6)), int(np.ceil(a.value - 1e-6)) + 1):
                    r = search(comp, lam, t, max_steps=400)
                    out.append((r.outcome, r.nodes, r.steps, None if r.selection is None else r.selection.tolist()))
        runs[threshold] = out
    assert runs[0] == runs[10**9] and len(runs[0]) >= 6


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10**6), M=st.integers(2, 4), N=st.integers(2, 4), K=st.integers(1, 4))
def test_zero_multipliers_at_a_decided_position_never_lower_the_bound(seed, M, N, K):
    """At a node where a position's blocks are all decided, ``L`` with zero multipliers there is
    at least ``L`` with any multipliers there (the others unchanged): what ``ascend`` relies on."""
    inst = random_instance(seed, M=M, N=N, K=K)
    rng = np.random.default_rng(seed)
    for comp in components(inst):
        n = int(rng.integers(comp.N))
        g = comp.by_pos[n]
        keep = g[rng.uniform(size=len(g)) < 0.6]
        if keep.size == 0:
            keep = g[:1]
        allowed = np.isfinite(comp.S).copy()
        allowed[np.setdiff1d(g, keep)] = False
        forced = np.zeros(comp.nb, bool)
        forced[keep] = True
        node = Node(allowed, forced)
        sides = _Sides(comp, node)
        assert not sides.undecided[n]
        lam = rng.normal(0.0, 1.0, (comp.nb, comp.Kc))
        zero = lam.copy()
        zero[g] = 0.0
        a, b = _evaluate(sides, lam, None)[0], _evaluate(sides, zero, None)[0]
        assert b >= a - 1e-9 or not np.isfinite(a)


def test_compile_kernels_runs_every_kernel():
    """``make venv``'s warm-up compiles (or loads) the kernels; numba is a dependency, so it runs."""
    from edgeinfer.broadcast.solvers.decomposition import compile_kernels
    assert compile_kernels()


@pytest.mark.parametrize("split", [2, 16])
def test_the_search_in_worker_processes_is_the_search_in_one(monkeypatch, split):
    """``jobs = 2`` (forked workers for a level's nodes and for the subtrees) gives the outcome, the
    selection, the nodes and the steps of ``jobs = 1``, with no budget and with budgets that end
    the search inside the breadth-first start, inside a subtree and at its last steps (where a
    worker's result must be computed again with the exact budget left)."""
    from edgeinfer.broadcast.scenario import make_instance
    from edgeinfer.broadcast.solvers import decomposition, lagrange
    from edgeinfer.broadcast.solvers.common import reduce_problem
    from edgeinfer.broadcast.solvers.component import Component
    from edgeinfer.broadcast.solvers.decomposition import search

    monkeypatch.setattr(decomposition, "SPLIT_NODES", split)
    monkeypatch.setattr(lagrange, "KERNEL_MIN_PAIRS", 0)  # the compiled kernels: fast enough for many searches
    for seed, K, N, t in ((2, 8, 6, 22), (0, 6, 6, 18), (2, 6, 8, 24)):
        inst = make_instance(seed=seed, num_devices=K, num_positions=N)
        red = reduce_problem(inst.scores, inst.qos)
        comp = Component(inst.scores, inst.qos, red.U, red.components[0], max_cuts=0, node_dominance=False)
        lag = lagrangian_bound(comp, None, max_iterations=30, stop_at_proof=False)
        lam = -lag.multipliers

        def both(budget, comp=comp, lam=lam, t=t):
            one = search(comp, lam, t, max_steps=budget, jobs=1)
            others = set(multiprocessing.active_children())  # e.g. joblib's reusable workers from earlier tests
            two = search(comp, lam, t, max_steps=budget, jobs=2)
            # its workers killed and reaped, even after an early stop
            assert set(multiprocessing.active_children()) <= others
            assert (one.outcome, one.nodes, one.steps) == (two.outcome, two.nodes, two.steps)
            assert (one.selection is None) == (two.selection is None)
            if one.selection is not None:
                assert np.array_equal(one.selection, two.selection) and comp.feasible(one.selection)
            return one

        full = both(10**6)
        assert full.outcome in ("found", "none") and full.steps < 10**6
        for budget in sorted({1, 99, 150, full.steps // 3, full.steps // 2, full.steps - 50, full.steps - 1}):
            if budget > 0:
                short = both(budget)
                assert short.steps <= budget
