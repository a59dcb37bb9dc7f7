# ruff: noqa: E741
"""P2.1 solvers: bnb = milp = brute force on small random instances; greedy feasible and never
below the optimum; the example's optimum (28 blocks, unicast 48)."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

import edgeinfer.broadcast  # noqa: F401
from broadcast_cases import brute_force, random_instance
from edgeinfer.broadcast.model import is_feasible
from edgeinfer.broadcast.problem import load_instance, verify
from edgeinfer.broadcast.scenario import make_instance
from edgeinfer.broadcast.solvers import (
    ENGINES,
    BnbConfig,
    adaptive_greedy_select,
    bnb_select,
    greedy_select,
    milp_select,
    reduce_problem,
)
from edgeinfer.broadcast.solvers.bnb import lp_round, map_to_component
from edgeinfer.broadcast.solvers.component import Component
from edgeinfer.core.errors import InvalidOptionError
from edgeinfer.core.registry import solve
from edgeinfer.core.solution import SolveOptions
from edgeinfer.core.status import SolveStatus


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
    inst = make_instance(seed=seed, num_devices=4, num_positions=4 + seed % 2, qos_fraction=0.88)
    m = milp_select(inst.scores, inst.qos)
    mr = milp_select(inst.scores, inst.qos, reduce=True)
    b = bnb_select(inst.scores, inst.qos, inst.own_model)
    bd = bnb_select(inst.scores, inst.qos, inst.own_model, config=BnbConfig(engine="tree", node_dominance=True))
    assert bd.blocks == b.blocks and bd.status == "optimal"
    g = greedy_select(inst.scores, inst.qos, inst.own_model)
    assert adaptive_greedy_select(inst.scores, inst.qos).blocks >= b.blocks
    assert m.status == b.status == "optimal"
    assert m.blocks == b.blocks == mr.blocks
    assert g.blocks >= b.blocks


def test_reductions_are_exact_with_families():
    # four families that cannot share: decomposition into components
    inst = make_instance(seed=3, num_devices=6, num_positions=4, num_families=3, qos_fraction=0.97,
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
    inst = make_instance(seed=2, num_devices=6, num_positions=8)
    # our tree after one node; HiGHS (the default engine) stopped before its root node; without
    # the decomposition bound, which proves this instance at the root
    for engine, nodes in (("tree", 1), ("highs", 0)):
        r = bnb_select(inst.scores, inst.qos, inst.own_model,
                       config=BnbConfig(engine=engine, node_limit=nodes, decomposition_steps=0))
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
            else make_instance(seed=20 + seed, num_devices=4, num_positions=5, qos_fraction=0.87))
    m = milp_select(inst.scores, inst.qos)
    for engine in ("highs", "tree"):
        b = bnb_select(inst.scores, inst.qos, inst.own_model, config=BnbConfig(engine=engine))
        assert b.status == "optimal" and b.stats["engine"] == engine
        assert b.blocks == m.blocks == b.lower_bound
        assert is_feasible(inst.scores, inst.qos, b.y)


def test_assignment_of_integral_selection_satisfies_cuts():
    # the warm start handed to HiGHS: best assemblies satisfy every row of the reduced model
    inst = make_instance(seed=4, num_devices=5, num_positions=6)
    red = reduce_problem(inst.scores, inst.qos)
    g = adaptive_greedy_select(inst.scores, inst.qos)
    for devs in red.components:
        comp = Component(inst.scores, inst.qos, red.U, devs, max_cuts=BnbConfig.max_cuts_per_device,
                         node_dominance=False)
        yb = map_to_component(comp, g.y)
        z = np.r_[yb, comp.assignment(yb)]
        assert np.all(comp.A_ub @ z <= comp.b_ub + 1e-9)
        A_c, b_c = comp.canonical_rows()  # best-block rows: the best assembly satisfies them
        assert A_c.shape[0] > 0 and np.all(A_c @ z <= b_c + 1e-9)
        assert np.allclose(comp.A_eq @ z, comp.b_eq)


@pytest.mark.parametrize("seed", range(4))
def test_bnb_highs_without_canonical_rows_or_integer_x(seed):
    # the rows and integrality choices are speed-ups only: every combination stays exact
    inst = random_instance(200 + seed, M=4, N=4, K=4)
    m = milp_select(inst.scores, inst.qos)
    cfg = BnbConfig(best_block_rows=bool(seed % 2), integer_x=seed < 2)
    b = bnb_select(inst.scores, inst.qos, inst.own_model, config=cfg)
    assert b.status == "optimal" and b.blocks == m.blocks


@pytest.mark.parametrize("seed", range(2))
def test_bnb_without_deviation_cuts_is_exact(seed):
    inst = random_instance(210 + seed, M=4, N=4, K=4)
    m = milp_select(inst.scores, inst.qos)
    for engine in ENGINES:
        b = bnb_select(inst.scores, inst.qos, inst.own_model, config=BnbConfig(engine=engine, max_cuts_per_device=0))
        assert b.status == "optimal" and b.blocks == m.blocks


def test_bnb_config_is_checked_and_frozen():
    with pytest.raises(ValueError, match="engine"):
        BnbConfig(engine="nope")
    with pytest.raises(ValueError, match="node_limit"):
        BnbConfig(node_limit=-1)
    for jobs in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="search_jobs"):
            BnbConfig(search_jobs=jobs)  # type: ignore[arg-type]
    for gap in (-0.5, math.inf, math.nan, True, "1"):
        with pytest.raises(ValueError, match="search_gap"):
            BnbConfig(search_gap=gap)  # type: ignore[arg-type]
    assert BnbConfig(search_gap=2).search_gap == 2
    with pytest.raises(dataclasses.FrozenInstanceError):
        BnbConfig().engine = "tree"  # type: ignore[misc]


def test_bnb_engine_param(example_path):
    inst = load_instance(json.loads(example_path.read_text()))
    sol = solve("mba", "bnb", inst, SolveOptions(params={"engine": "tree"}))
    assert sol.status is SolveStatus.OPTIMAL and len(sol.broadcast) == 28 and verify(inst, sol).ok
    with pytest.raises(InvalidOptionError) as ei:
        solve("mba", "bnb", inst, SolveOptions(params={"engine": "nope"}))
    assert ei.value.field == "engine"


def test_misspelt_bnb_param_names_engine(example_path):
    inst = load_instance(json.loads(example_path.read_text()))
    with pytest.raises(InvalidOptionError) as ei:
        solve("mba", "bnb", inst, SolveOptions(params={"engnie": "tree"}))
    assert ei.value.field == "engnie" and "'engine'" in str(ei.value)


def test_declared_params():
    from edgeinfer.core.registry import get_solver
    declared = {a: {p.name: p for p in get_solver("mba", a).params}
                for a in ("greedy", "bnb", "milp", "unicast", "latency")}
    assert all(d["power"].choices == ("optimal", "constant") and d["power"].default == "optimal"
               for d in declared.values())
    assert set(declared["greedy"]) == {"power", "order", "variant"}
    assert set(declared["bnb"]) == {"power", "engine", "node_limit", "lagrangian_iterations", "decomposition_steps",
                                    "search_steps", "search_gap", "search_jobs", "large_decomposition_steps"}
    assert declared["bnb"]["search_gap"].default == BnbConfig().search_gap == 1.5
    assert declared["bnb"]["large_decomposition_steps"].default == BnbConfig().large_decomposition_steps
    assert declared["bnb"]["search_jobs"].default == BnbConfig().search_jobs == 1
    assert declared["bnb"]["decomposition_steps"].default == BnbConfig().decomposition_steps
    assert declared["bnb"]["search_steps"].default == BnbConfig().search_steps
    assert declared["bnb"]["engine"].default == BnbConfig().engine and declared["bnb"]["engine"].choices == ENGINES
    assert set(declared["milp"]) == {"power", "reduce"} and declared["milp"]["reduce"].default is False
    assert set(declared["unicast"]) == {"power"}
    assert set(declared["latency"]) == {"power", "rounds"} and declared["latency"]["rounds"].default == 6


def test_search_gap_param_reaches_the_search(example_path, monkeypatch):
    import edgeinfer.broadcast.solvers.bnb as bnb_module
    inst = load_instance(json.loads(example_path.read_text()))
    seen = []
    real = bnb_module.bnb_select

    def spy(*args, **kwargs):
        seen.append(kwargs["config"])
        return real(*args, **kwargs)

    monkeypatch.setattr(bnb_module, "bnb_select", spy)
    sol = solve("mba", "bnb", inst, SolveOptions(params={"search_gap": "2.5", "search_steps": "1000"}))
    assert verify(inst, sol).ok and seen[-1].search_gap == 2.5 and seen[-1].search_steps == 1000
    for bad in ("-1", "inf", "nan", "wide"):
        with pytest.raises(InvalidOptionError) as ei:
            solve("mba", "bnb", inst, SolveOptions(params={"search_gap": bad}))
        assert ei.value.field == "search_gap"


def test_cli_params_are_typed(example_path):
    # command-line strings are converted by the declared type
    inst = load_instance(json.loads(example_path.read_text()))
    sol = solve("mba", "bnb", inst, SolveOptions(params={"node_limit": "0", "engine": "tree"}))
    assert verify(inst, sol).ok
    with pytest.raises(InvalidOptionError) as ei:
        solve("mba", "bnb", inst, SolveOptions(params={"node_limit": "-1"}))
    assert ei.value.field == "node_limit"
    with pytest.raises(InvalidOptionError):
        solve("mba", "greedy", inst, SolveOptions(params={"order": "random"}))


@pytest.mark.parametrize("seed", range(4))
def test_bnb_highs_large_component_path_is_exact(seed):
    # components above large_pairs drop the deviation cuts and start from an LP rounding:
    # forced on small instances, the answer still equals the reference MILP
    inst = (random_instance(300 + seed, M=4, N=4, K=4) if seed % 2
            else make_instance(seed=40 + seed, num_devices=5, num_positions=5, qos_fraction=0.85))
    m = milp_select(inst.scores, inst.qos)
    b = bnb_select(inst.scores, inst.qos, inst.own_model, config=BnbConfig(large_pairs=0))
    assert b.status == "optimal" and b.blocks == m.blocks == b.lower_bound
    assert is_feasible(inst.scores, inst.qos, b.y)


def test_lp_round_is_feasible():
    inst = make_instance(seed=5, num_devices=6, num_positions=6)
    red = reduce_problem(inst.scores, inst.qos)
    for devs in red.components:
        comp = Component(inst.scores, inst.qos, red.U, devs, max_cuts=0, node_dominance=False)
        assert comp.num_cuts == 0
        yb = lp_round(comp)
        assert yb is not None and comp.feasible(yb)
