# ruff: noqa: E741
"""P2.1 solvers: bnb = milp = brute force on small random instances; greedy feasible and never
below the optimum; the example's optimum (28 blocks, unicast 48)."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

import edgeinfer.broadcast  # noqa: F401
from edgeinfer.broadcast.library import synthetic_instance
from edgeinfer.broadcast.problem import load_instance, make_instance, verify
from edgeinfer.broadcast.selection import (
    adaptive_greedy_select,
    bnb_select,
    greedy_select,
    is_feasible,
    milp_select,
    reduce_problem,
)
from edgeinfer.core.registry import solve
from edgeinfer.core.solution import SolveOptions
from edgeinfer.core.status import SolveStatus


def brute_force(I, c):
    M, N, _ = I.shape
    blocks = [(i, n) for i in range(M) for n in range(N)]
    for size in range(N, len(blocks) + 1):
        for comb in itertools.combinations(blocks, size):
            y = np.zeros((M, N), bool)
            for i, n in comb:
                y[i, n] = True
            if y.any(axis=0).all() and is_feasible(I, c, y):
                return size
    return None


def random_instance(seed, M=3, N=3, K=3):
    rng = np.random.default_rng(seed)
    I = np.round(rng.uniform(0, 1, size=(M, N, K)), 3)
    own = rng.integers(0, M, size=K)
    for k in range(K):
        I[own[k], :, k] = np.round(rng.uniform(0.8, 1.0, size=N), 3)
    qos = np.round(rng.uniform(0.6, 0.95) * I[own, :, np.arange(K)].sum(axis=1), 3)
    return make_instance(scores=I, gains=rng.exponential(1e-3, K), qos=qos, own_model=own)


@pytest.mark.parametrize("seed", range(12))
def test_exact_equals_brute_force(seed):
    inst = random_instance(seed)
    bf = brute_force(inst.scores, inst.qos)
    m = milp_select(inst.scores, inst.qos)
    b = bnb_select(inst.scores, inst.qos, inst.own_model)
    g = greedy_select(inst.scores, inst.qos, inst.own_model)
    a = adaptive_greedy_select(inst.scores, inst.qos)
    assert a.blocks >= bf and is_feasible(inst.scores, inst.qos, a.y)
    assert m.blocks == bf and b.blocks == bf
    assert b.status == "optimal" and b.lower_bound == bf
    assert g.blocks >= bf and is_feasible(inst.scores, inst.qos, g.y)
    assert is_feasible(inst.scores, inst.qos, b.y) and is_feasible(inst.scores, inst.qos, m.y)


@pytest.mark.parametrize("seed", range(10))
def test_bnb_equals_milp_on_library_instances(seed):
    inst = synthetic_instance(seed, num_devices=4, num_positions=4 + seed % 2, qos_fraction=0.88)
    m = milp_select(inst.scores, inst.qos)
    mr = milp_select(inst.scores, inst.qos, reduce=True)
    b = bnb_select(inst.scores, inst.qos, inst.own_model)
    bd = bnb_select(inst.scores, inst.qos, inst.own_model, node_dominance=True)
    assert bd.blocks == b.blocks and bd.status == "optimal"
    g = greedy_select(inst.scores, inst.qos, inst.own_model)
    assert adaptive_greedy_select(inst.scores, inst.qos).blocks >= b.blocks
    assert m.status == b.status == "optimal"
    assert m.blocks == b.blocks == mr.blocks
    assert g.blocks >= b.blocks


def test_reductions_are_exact_with_families():
    # four families that cannot share: decomposition into components
    inst = synthetic_instance(3, num_devices=6, num_positions=4, num_families=3, qos_fraction=0.97,
                              r_cross=(0.3, 0.0))
    red = reduce_problem(inst.scores, inst.qos)
    assert len(red.components) >= 2
    m = milp_select(inst.scores, inst.qos)
    b = bnb_select(inst.scores, inst.qos, inst.own_model)
    assert b.blocks == m.blocks and b.stats["components"] == len(red.components)


def test_dominated_duplicate_blocks_are_removed():
    inst = random_instance(5, M=3, N=3, K=3)
    I = np.concatenate([inst.scores, inst.scores[:1]], axis=0)  # model 3 duplicates model 0
    red = reduce_problem(I, inst.qos)
    assert not red.keep[3].any()
    assert bnb_select(I, inst.qos, inst.own_model).blocks == milp_select(I, inst.qos).blocks


def test_time_limit_returns_incumbent_and_gap():
    inst = synthetic_instance(2, num_devices=6, num_positions=8)
    # our tree after one node; HiGHS (the default engine, which now proves this instance at its
    # root) stopped before its root node
    for engine, nodes in (("tree", 1), ("highs", 0)):
        r = bnb_select(inst.scores, inst.qos, inst.own_model, node_limit=nodes, engine=engine)
        assert r.status == "time_limit" and r.y is not None
        assert is_feasible(inst.scores, inst.qos, r.y)
        assert 0 < r.lower_bound <= r.blocks and 0 <= r.gap < 1


def test_example_optimum(example_path):
    inst = load_instance(json.loads(example_path.read_text()))
    for algo in ("milp", "bnb"):
        sol = solve("mba", algo, inst, SolveOptions())
        assert sol.status is SolveStatus.OPTIMAL
        assert len(sol.broadcast) == 28 and sol.stats["selected_blocks"] == 28
        assert verify(inst, sol).ok
    g = solve("mba", "greedy", inst, SolveOptions())
    assert len(g.broadcast) >= 28 and verify(inst, g).ok
    u = solve("mba", "unicast", inst, SolveOptions())
    assert len(u.broadcast) == 48 and verify(inst, u).ok
    assert u.total_latency_s > sol.total_latency_s
    c = solve("mba", "bnb", inst, SolveOptions(params={"power": "constant"}))
    assert verify(inst, c).ok and c.total_latency_s >= sol.total_latency_s


@pytest.mark.parametrize("seed", range(6))
def test_bnb_engines_equal_milp_with_cuts(seed):
    # both engines (HiGHS branch and cut on the reduced model + deviation cuts + warm start,
    # and our own tree) with every reduction and cut on, against the reference MILP
    inst = (random_instance(100 + seed, M=4, N=4, K=4) if seed % 2
            else synthetic_instance(20 + seed, num_devices=4, num_positions=5, qos_fraction=0.87))
    m = milp_select(inst.scores, inst.qos)
    for engine in ("highs", "tree"):
        b = bnb_select(inst.scores, inst.qos, inst.own_model, engine=engine)
        assert b.status == "optimal" and b.stats["engine"] == engine
        assert b.blocks == m.blocks == b.lower_bound
        assert is_feasible(inst.scores, inst.qos, b.y)


def test_assignment_of_integral_selection_satisfies_cuts():
    # the warm start handed to HiGHS: best assemblies satisfy every row of the reduced model
    from edgeinfer.broadcast.selection import _Component, _map_to_component
    inst = synthetic_instance(4, num_devices=5, num_positions=6)
    red = reduce_problem(inst.scores, inst.qos)
    g = adaptive_greedy_select(inst.scores, inst.qos)
    for devs in red.components:
        comp = _Component(inst.scores, inst.qos, red.U, devs)
        yb = _map_to_component(comp, g.y)
        z = np.r_[yb, comp.assignment(yb)]
        assert np.all(comp.A_ub @ z <= comp.b_ub + 1e-9)
        A_c, b_c = comp.canonical_rows()  # best-block rows: the best assembly satisfies them
        assert A_c.shape[0] > 0 and np.all(A_c @ z <= b_c + 1e-9)
        assert np.allclose(comp.A_eq @ z, comp.b_eq)


@pytest.mark.parametrize("seed", range(4))
def test_bnb_highs_without_canonical_rows_or_integer_x(seed, monkeypatch):
    # the rows and integrality choices are speed-ups only: every combination stays exact
    from edgeinfer.broadcast import selection
    inst = random_instance(200 + seed, M=4, N=4, K=4)
    m = milp_select(inst.scores, inst.qos)
    monkeypatch.setattr(selection, "_CANONICAL", bool(seed % 2))
    monkeypatch.setattr(selection, "_INTEGER_X", seed < 2)
    b = bnb_select(inst.scores, inst.qos, inst.own_model)
    assert b.status == "optimal" and b.blocks == m.blocks


def test_bnb_unknown_engine():
    inst = random_instance(0)
    with pytest.raises(ValueError):
        bnb_select(inst.scores, inst.qos, inst.own_model, engine="nope")


def test_bnb_engine_param(example_path):
    from edgeinfer.core.errors import InvalidInstanceError
    inst = load_instance(json.loads(example_path.read_text()))
    sol = solve("mba", "bnb", inst, SolveOptions(params={"engine": "tree"}))
    assert sol.status is SolveStatus.OPTIMAL and len(sol.broadcast) == 28 and verify(inst, sol).ok
    with pytest.raises(InvalidInstanceError):
        solve("mba", "bnb", inst, SolveOptions(params={"engine": "nope"}))


@pytest.mark.parametrize("seed", range(4))
def test_bnb_highs_large_component_path_is_exact(seed, monkeypatch):
    # components above _LARGE_PAIRS drop the deviation cuts and start from an LP rounding:
    # forced on small instances, the answer still equals the reference MILP
    from edgeinfer.broadcast import selection
    inst = (random_instance(300 + seed, M=4, N=4, K=4) if seed % 2
            else synthetic_instance(40 + seed, num_devices=5, num_positions=5, qos_fraction=0.85))
    m = milp_select(inst.scores, inst.qos)
    monkeypatch.setattr(selection, "_LARGE_PAIRS", 0)
    b = bnb_select(inst.scores, inst.qos, inst.own_model)
    assert b.status == "optimal" and b.blocks == m.blocks == b.lower_bound
    assert is_feasible(inst.scores, inst.qos, b.y)


def test_lp_round_is_feasible():
    from edgeinfer.broadcast.selection import _Component, _lp_round
    inst = synthetic_instance(5, num_devices=6, num_positions=6)
    red = reduce_problem(inst.scores, inst.qos)
    for devs in red.components:
        comp = _Component(inst.scores, inst.qos, red.U, devs, max_cuts=0)
        assert comp.num_cuts == 0
        yb = _lp_round(comp)
        assert yb is not None and comp.feasible(yb)
