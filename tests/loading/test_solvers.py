"""Solvers of partial_loading against brute force, each other, and the example optima."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edgeinfer.core.errors import UnsupportedInstanceError
from edgeinfer.core.registry import solve
from edgeinfer.core.solution import SolveOptions
from edgeinfer.core.status import SolveStatus
from edgeinfer.loading import load_instance, verify
from edgeinfer.loading.model import detect_backbone
from edgeinfer.loading.scenario import synthetic_instance_doc
from loading_cases import brute_force

EXAMPLES = Path(__file__).parents[2] / "examples"
P = "partial_loading"


def run(inst, algo, **params):
    sol = solve(P, algo, inst, SolveOptions(params=params))
    rep = verify(inst, sol)
    assert rep.ok, (algo, rep.reasons)
    assert rep.objective == sol.objective
    return int(sol.objective)


def test_examples_optima():
    bb = load_instance(json.loads((EXAMPLES / "partial_loading_backbone.json").read_text()))
    gen = load_instance(json.loads((EXAMPLES / "partial_loading_general.json").read_text()))
    assert run(bb, "exact") == 19
    assert run(bb, "spec") == 19
    assert run(gen, "exact") == 20
    assert run(gen, "search") == 20
    assert run(bb, "milp") == 19 and run(gen, "milp") == 20  # an independent exact method
    for algo in ("gen", "independent", "spec-slotted", "equal-bandwidth"):
        assert run(bb, algo) <= 19
    for algo in ("gen", "independent", "equal-bandwidth"):
        assert run(gen, algo) <= 20
    with pytest.raises(UnsupportedInstanceError, match="not nested"):
        solve(P, "spec", gen)


@pytest.mark.parametrize("seed", range(160))
def test_brute_force_backbone(seed):
    rng = np.random.default_rng(seed)
    doc = synthetic_instance_doc(seed=seed, kind="backbone", n_models=int(rng.integers(1, 5)),
                              n_users=int(rng.integers(1, 7)), n_clusters=int(rng.integers(1, 3)),
                              n_blocks=3, deadline_s=(0.6, 3.0))
    inst = load_instance(doc)
    opt = brute_force(inst)
    assert run(inst, "spec") == opt
    assert run(inst, "exact") == opt
    assert run(inst, "independent") <= opt
    for algo in ("gen", "search", "spec-slotted", "equal-bandwidth"):
        assert run(inst, algo) <= opt


@pytest.mark.parametrize("seed", range(160))
def test_brute_force_general(seed):
    rng = np.random.default_rng(1000 + seed)
    doc = synthetic_instance_doc(seed=1000 + seed, kind="general", n_models=int(rng.integers(1, 5)),
                              n_users=int(rng.integers(1, 7)), n_blocks=5, deadline_s=(0.6, 3.0))
    inst = load_instance(doc)
    opt = brute_force(inst)
    assert run(inst, "exact") == opt
    for algo in ("gen", "search", "independent", "equal-bandwidth"):
        assert run(inst, algo) <= opt


@pytest.mark.parametrize("seed", range(25))
def test_spec_equals_exact_larger_backbone(seed):
    rng = np.random.default_rng(2000 + seed)
    doc = synthetic_instance_doc(seed=2000 + seed, kind="backbone", n_models=int(rng.integers(4, 10)),
                              n_users=int(rng.integers(10, 40)), n_clusters=int(rng.integers(1, 4)),
                              n_blocks=5, max_batch=(1, 6), deadline_s=(0.5, 5.0))
    inst = load_instance(doc)
    detect_backbone(inst)  # the generator makes backbone-sharing instances
    ex = run(inst, "exact")
    assert run(inst, "spec") == ex
    assert run(inst, "independent") <= ex
    for algo in ("gen", "search", "spec-slotted", "equal-bandwidth"):
        assert run(inst, algo) <= ex
    # another slot length: still feasible and never above the optimum
    assert run(inst, "spec-slotted", slot_s=0.02) <= ex


def test_search_gap_small_general():
    """Mean gap of search to exact under 1% on random general instances (5-10 models)."""
    gaps = []
    for s in range(12):
        rng = np.random.default_rng(3000 + s)
        doc = synthetic_instance_doc(seed=3000 + s, kind="general", n_models=int(rng.integers(5, 11)),
                                  n_users=int(rng.integers(10, 40)), n_blocks=8,
                                  deadline_s=(1.0, 4.0), max_batch=(2, 6))
        inst = load_instance(doc)
        ex = run(inst, "exact")
        se = run(inst, "search")
        assert se <= ex
        gaps.append((ex - se) / max(ex, 1))
    assert np.mean(gaps) < 0.01


@pytest.mark.parametrize("kind", ["backbone", "general"])
def test_monotone_in_deadline(kind):
    for seed in range(6):
        doc = synthetic_instance_doc(seed=4000 + seed, kind=kind, n_models=5, n_users=14, n_blocks=4, max_batch=(1, 4))
        prev = {"exact": -1, "spec": -1}
        for dl in np.linspace(0.05, 4.0, 9):
            doc["deadline_s"] = float(dl)
            inst = load_instance(doc)
            algos = ("exact", "spec") if kind == "backbone" else ("exact",)
            for algo in algos:
                v = run(inst, algo)
                assert v >= prev[algo]
                prev[algo] = v


def test_exact_refuses_large_without_time_limit():
    doc = synthetic_instance_doc(seed=5, kind="general", n_models=6, n_users=20, n_blocks=5, deadline_s=(3.0, 4.0))
    inst = load_instance(doc)
    with pytest.raises(UnsupportedInstanceError, match="max_models"):
        solve(P, "exact", inst, SolveOptions(params={"max_models": 2}))
    sol = solve(P, "exact", inst, SolveOptions(time_limit_s=30.0, params={"max_models": 2}))
    assert verify(inst, sol).ok
    assert sol.status in (SolveStatus.OPTIMAL, SolveStatus.TIME_LIMIT)
    assert sol.objective == solve(P, "exact", inst).objective or sol.status is SolveStatus.TIME_LIMIT
    # a tiny memory cap forces the search fallback, reported as time_limit
    sol2 = solve(P, "exact", inst, SolveOptions(time_limit_s=5.0, params={"max_memory_bytes": 10}))
    assert sol2.status is SolveStatus.TIME_LIMIT and verify(inst, sol2).ok


def test_slotted_rounding_loses_users_somewhere():
    """The slotted DP is below spec on some instance (rounding loss is real)."""
    worse = 0
    for seed in range(30):
        doc = synthetic_instance_doc(seed=6000 + seed, kind="backbone", n_models=6, n_users=25, n_blocks=4,
                                  max_batch=(2, 6), deadline_s=(0.5, 3.0))
        inst = load_instance(doc)
        sp = run(inst, "spec")
        sl = run(inst, "spec-slotted", slot_s=0.1)
        assert sl <= sp
        worse += sl < sp
    assert worse > 0


def test_equal_bandwidth_r_limits_batch_and_shares():
    doc = synthetic_instance_doc(seed=7, kind="backbone", n_models=4, n_users=20, n_blocks=3, max_batch=(4, 8),
                              deadline_s=(4.0, 5.0))
    inst = load_instance(doc)
    sol = solve(P, "equal-bandwidth", inst, SolveOptions(params={"r": 3}))
    assert verify(inst, sol).ok
    for b in sol.batches:
        assert len(b.users) <= 3
        assert all(abs(s - 1 / 3) < 1e-12 for s in b.shares)
    assert sol.objective <= solve(P, "spec", inst).objective


def test_exact_time_limit_returns_incumbent():
    doc = synthetic_instance_doc(seed=11, kind="general", n_models=7, n_users=30, n_blocks=6, deadline_s=(2.0, 3.0))
    inst = load_instance(doc)
    opt = solve(P, "exact", inst).objective
    sol = solve(P, "exact", inst, SolveOptions(time_limit_s=1e-9, params={"max_models": 3}))
    assert sol.status is SolveStatus.TIME_LIMIT
    assert verify(inst, sol).ok and 0 < sol.objective <= opt


@pytest.mark.parametrize("seed", range(8))
def test_milp_equals_exact(seed):
    """An independent exact method (HiGHS on the plan MILP) agrees with the DP."""
    rng = np.random.default_rng(8000 + seed)
    kind = "backbone" if seed % 2 else "general"
    doc = synthetic_instance_doc(seed=8000 + seed, kind=kind, n_models=int(rng.integers(2, 5)),
                              n_users=int(rng.integers(4, 14)), n_blocks=4, deadline_s=(0.5, 3.0), max_batch=(1, 4))
    inst = load_instance(doc)
    assert run(inst, "milp") == run(inst, "exact")


@pytest.mark.parametrize("algo, params, name, says", [
    ("search", {"max_evls": 10}, "max_evls", "did you mean 'max_evals'"),
    ("search", {"max_evals": 0}, "max_evals", "below the minimum"),
    ("search", {"max_evals": "lots"}, "max_evals", "expected an integer"),
    ("gen", {"slot_s": -0.01}, "slot_s", "below the minimum"),
    ("spec-slotted", {"slot_s": 0.0}, "slot_s", "positive"),
    ("spec-slotted", {"slot_s": 1e-6}, "slot_s", "too many"),
    ("equal-bandwidth", {"base": "milp"}, "base", "not one of"),
    ("equal-bandwidth", {"r": 0}, "r", "below the minimum"),
    ("exact", {"max_model": 3}, "max_model", "did you mean 'max_models'"),
    ("spec", {"slot_s": 0.01}, "slot_s", "takes no parameters"),
])
def test_bad_params_are_invalid_option_errors(algo, params, name, says):
    from edgeinfer.core.errors import InvalidOptionError

    inst = load_instance(json.loads((EXAMPLES / "partial_loading_backbone.json").read_text()))
    with pytest.raises(InvalidOptionError, match=says) as exc:
        solve(P, algo, inst, SolveOptions(params=params))
    assert exc.value.field == name and name in str(exc.value)


def test_declared_params_reach_the_solver_typed():
    """Command-line strings are converted by the declared type; defaults fill the rest."""
    from edgeinfer.core.registry import get_solver

    inst = load_instance(json.loads((EXAMPLES / "partial_loading_backbone.json").read_text()))
    assert run(inst, "spec-slotted", slot_s="0.01") == run(inst, "spec-slotted")
    assert {p.name for p in get_solver(P, "search").params} == {
        "max_evals", "max_work", "neighbours", "full_neighbourhood", "restarts", "kick", "window", "reversals",
        "polish_dtime", "polish_extra"}
    sol = solve(P, "search", inst, SolveOptions(params={"max_evals": "5"}))
    assert sol.stats["evaluations"] <= 5
