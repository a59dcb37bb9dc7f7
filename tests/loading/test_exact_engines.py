"""``exact``'s two engines (issue 16): CP-SAT behind our reduced model, and the subset DP.

Both against brute force and against each other (the MILP beside them: test_solvers.py), with
coarse time units (the rounding protocol), order-independence, determinism, the fallback
without OR-Tools, and search never above exact.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from edgeinfer.core.errors import UnsupportedInstanceError
from edgeinfer.core.registry import solve
from edgeinfer.core.solution import SolveOptions
from edgeinfer.core.status import SolveStatus
from edgeinfer.loading import load_instance, verify
from edgeinfer.loading.model import model_costs
from edgeinfer.loading.scenario import synthetic_instance_doc
from loading_cases import answer, brute_force, permuted

pytest.importorskip("ortools")

P = "partial_loading"


def run(inst, algo="exact", seed=None, time_limit_s=None, **params):
    sol = solve(P, algo, inst, SolveOptions(params=params, seed=seed, time_limit_s=time_limit_s))
    rep = verify(inst, sol)
    assert rep.ok, (algo, params, rep.reasons)
    return sol


def small(seed: int):
    rng = np.random.default_rng(20_000 + seed)
    return load_instance(synthetic_instance_doc(
        seed=20_000 + seed, kind="general", n_models=int(rng.integers(1, 6)), n_users=int(rng.integers(1, 7)),
        n_blocks=5, max_batch=(1, 3), deadline_s=(0.4, 3.0)))


@pytest.mark.parametrize("seed", range(40))
def test_both_engines_equal_brute_force(seed):
    inst = small(seed)
    opt = brute_force(inst)
    for engine, units, warm in (("cpsat", 1e6, True), ("cpsat", 1e6, False), ("cpsat", 10.0, False),
                                ("dp", 1e6, True)):
        sol = run(inst, engine=engine, units=units, warm_start=warm)
        assert sol.objective == opt, (engine, units, warm)
        assert sol.status is SolveStatus.OPTIMAL
        assert sol.stats["bound"] == opt and sol.stats["gap"] == 0.0
    assert run(inst, "search", max_work=2e6).objective <= opt


def test_coarse_units_take_the_restriction_path_and_stay_exact():
    """With 10 time units per deadline the relaxation's plan often overshoots in floating
    point: the restriction (and rescaling) must then decide, and still give the optimum."""
    extra = 0
    for seed in range(20):
        rng = np.random.default_rng(26_000 + seed)
        inst = load_instance(synthetic_instance_doc(
            seed=26_000 + seed, kind="general", n_models=int(rng.integers(3, 8)), n_users=int(rng.integers(8, 25)),
            n_blocks=6, max_batch=(1, 4), deadline_s=(0.5, 3.0)))
        sol = run(inst, engine="cpsat", units=10.0, warm_start=False)
        assert sol.objective == run(inst, engine="dp").objective
        assert sol.status is SolveStatus.OPTIMAL
        extra += sol.stats.get("solves", 0) > 1
    assert extra > 0  # the branch is exercised, not only the easy path


@pytest.mark.parametrize("seed", range(8))
def test_engines_agree_with_each_other(seed):
    rng = np.random.default_rng(21_000 + seed)
    inst = load_instance(synthetic_instance_doc(
        seed=21_000 + seed, kind="general", n_models=int(rng.integers(5, 10)), n_users=int(rng.integers(15, 40)),
        n_blocks=8, max_batch=(2, 6), deadline_s=(1.0, 4.0)))
    cp = run(inst, engine="cpsat")
    dp = run(inst, engine="dp")
    assert cp.objective == dp.objective
    assert cp.status is dp.status is SolveStatus.OPTIMAL
    assert run(inst, "search", max_work=2e6).objective <= cp.objective
    assert cp.stats["bound"] == cp.objective


def test_bounds_are_valid():
    from edgeinfer.loading.solvers.cpsat import knapsack_bound, max_models_bound, reduce_instance

    for seed in range(20):
        inst = small(seed)
        sol = run(inst, engine="dp")
        red = reduce_instance(inst, model_costs(inst))
        assert knapsack_bound(red) >= sol.objective
        assert max_models_bound(red) >= sol.stats["models_served"]


@pytest.mark.parametrize("engine", ["cpsat", "dp"])
def test_answer_does_not_depend_on_the_order_of_the_file(engine):
    rng = np.random.default_rng(5)
    for seed in range(4):
        doc = synthetic_instance_doc(seed=22_000 + seed, kind="general", n_models=7, n_users=30, n_blocks=6,
                                     max_batch=(2, 5), deadline_s=(1.0, 3.0))
        for u in doc["users"][:6]:  # ties in D/R: which user is chosen must not follow the file
            u["data_bits"], u["spectral_efficiency"] = 1e5, 2.0
        base = load_instance(doc)
        ref = answer(base, run(base, engine=engine))
        for _ in range(3):
            perm = load_instance(permuted(doc, rng))
            assert answer(perm, run(perm, engine=engine)) == ref


def test_deterministic_for_a_seed():
    doc = synthetic_instance_doc(seed=23_000, kind="general", n_models=12, n_users=60, n_blocks=10,
                                 max_batch=(2, 6), deadline_s=(1.5, 2.0))
    inst = load_instance(doc)
    a = run(inst, engine="cpsat", seed=3)
    b = run(load_instance(doc), engine="cpsat", seed=3)
    assert answer(inst, a) == answer(inst, b)
    assert a.stats["nodes"] == b.stats["nodes"]


def test_without_ortools_auto_falls_back_to_dp_silently(monkeypatch):
    import edgeinfer.loading.solvers.cpsat as cp

    inst = load_instance(synthetic_instance_doc(seed=24_000, kind="general", n_models=9, n_users=30, n_blocks=6,
                                                deadline_s=(1.0, 2.0)))
    monkeypatch.setattr(cp, "cpsat_available", lambda: False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sol = run(inst, dp_work=0.0)
    assert sol.stats["engine"] == "dp" and sol.status is SolveStatus.OPTIMAL
    with pytest.raises(UnsupportedInstanceError, match="ortools"):
        solve(P, "exact", inst, SolveOptions(params={"engine": "cpsat"}))
    monkeypatch.undo()
    assert run(inst, dp_work=0.0).stats["engine"] == "cpsat"
    assert run(inst, dp_work=0.0).objective == sol.objective


def test_budget_spent_gives_a_verified_plan_with_its_bound():
    inst = load_instance(synthetic_instance_doc(seed=25_000, kind="general", n_models=14, n_users=80, n_blocks=12,
                                                max_batch=(2, 8), deadline_s=(1.5, 2.0)))
    opt = run(inst, engine="cpsat")
    sol = run(inst, engine="cpsat", max_deterministic_time=0.0, warm_start=False)
    assert sol.objective <= opt.objective <= sol.stats["bound"]
    if sol.status is SolveStatus.TIME_LIMIT:
        assert sol.stats["gap"] == pytest.approx((sol.stats["bound"] - sol.objective) / max(sol.objective, 1e-9))
    else:
        assert sol.objective == opt.objective
