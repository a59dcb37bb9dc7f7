"""Solvers: li-gd against the reference, li-gd against gd, monotone descent, baselines feasible."""

from __future__ import annotations

import numpy as np
import pytest

from edgeinfer.core.errors import UnsupportedInstanceError
from edgeinfer.core.registry import get_problem, list_solvers, solve
from edgeinfer.core.solution import SolveOptions
from edgeinfer.split.model import RelaxedState, split_tables
from edgeinfer.split.scenario import make_instance
from edgeinfer.split.solvers.ligd import descend, initial_point
from split.helpers import tiny

SPEC = get_problem("split_noma")
BASELINES = ["device-only", "edge-only", "neurosurgeon", "dnn-surgery", "ecc-oma"]


def _check(inst, sol):
    rep = SPEC.verify(inst, sol)
    assert rep.ok, rep.reasons
    return rep


@pytest.mark.parametrize("seed", range(4))
def test_ligd_within_one_percent_of_reference_three_devices(seed: int) -> None:
    inst = tiny(seed, users_per_ap=1, num_aps=3, m=2, layers=3)
    ref = solve("split_noma", "reference", inst, SolveOptions(seed=0, params={"starts": 3}))
    lig = solve("split_noma", "li-gd", inst, SolveOptions())
    _check(inst, ref)
    _check(inst, lig)
    assert lig.objective <= ref.objective * 1.01
    assert ref.objective <= lig.objective * (1 + 1e-6)  # the reference is the stronger search


@pytest.mark.parametrize("seed", [0, 1])
def test_ligd_within_one_percent_on_four_devices(seed: int) -> None:
    """Two devices per cell on two subchannels: the rounding lands on a worse assignment on
    seeds 0 and 1 (5.6 % and 4.0 % before the polished moves, docs/split.md); the last phase
    (moves and swaps judged after a full re-polish) must close it."""
    inst = tiny(seed, users_per_ap=2, num_aps=2, m=2, layers=3)
    ref = solve("split_noma", "reference", inst, SolveOptions(seed=0, params={"starts": 3}))
    lig = solve("split_noma", "li-gd", inst, SolveOptions())
    _check(inst, lig)
    assert ref.objective <= lig.objective * (1 + 1e-6)
    assert lig.objective <= ref.objective * 1.01
    off = solve("split_noma", "li-gd", inst, SolveOptions(params={"polished_moves_max_devices": 0}))
    assert lig.objective <= off.objective * (1 + 1e-12)  # the phase only accepts improvements


def test_reference_refuses_large_instances() -> None:
    inst = make_instance(seed=0, model="nin", num_aps=2, users_per_ap=3, num_subchannels=3)
    with pytest.raises(UnsupportedInstanceError):
        solve("split_noma", "reference", inst, SolveOptions())


@pytest.mark.parametrize("seed", range(3))
def test_descent_never_increases_the_objective(seed: int) -> None:
    inst = tiny(seed, users_per_ap=3, num_aps=2, m=3)
    st = RelaxedState.build(inst)
    tx = np.ones(inst.num_devices, dtype=bool)
    rng = np.random.default_rng(seed)
    for bb in (True, False):
        res = descend(st, split_tables(inst, rng.integers(0, 3, inst.num_devices)), initial_point(inst, tx), tx,
                      max_iter=200, bb=bb)
        h = np.array(res.history)
        assert res.value <= res.start_value
        assert np.all(np.diff(h) <= 1e-12 * np.abs(h[:-1]))
        assert res.iterations >= 1


def test_ligd_fewer_iterations_than_gd_at_equal_accuracy() -> None:
    inst = make_instance(seed=3, model="nin", num_aps=3, users_per_ap=4, num_subchannels=4)
    opts = SolveOptions(params={"eps": 1e-7, "prune": False})
    lig = solve("split_noma", "li-gd", inst, opts)
    gd = solve("split_noma", "gd", inst, opts)
    _check(inst, lig)
    _check(inst, gd)
    assert lig.stats["iterations"] < gd.stats["iterations"]
    # same tolerance; the relaxation is non-convex, so the two may stop in different local minima
    # (here the relaxed optima differ by 1.2 % and the final objectives by 2.5 %)
    assert lig.stats["relaxed_objective"] <= gd.stats["relaxed_objective"] * 1.02
    assert lig.objective <= gd.objective * 1.05


def test_ligd_beats_device_only_and_neurosurgeon_on_the_default_scenario() -> None:
    inst = make_instance(seed=1, model="vgg16", num_aps=5, users_per_ap=4, num_subchannels=4)
    sols = {a: solve("split_noma", a, inst, SolveOptions()) for a in ["li-gd", *BASELINES]}
    for a, s in sols.items():
        _check(inst, s)
        assert s.algorithm == a
    assert sols["li-gd"].objective < sols["device-only"].objective
    assert sols["li-gd"].objective < sols["neurosurgeon"].objective
    assert sols["ecc-oma"].access == "oma"


@pytest.mark.parametrize("model", ["nin", "tiny_yolov2"])
def test_all_baselines_feasible_and_respect_the_limit(model: str) -> None:
    # 3 subchannels x limit 1 for 5 devices per cell: two devices per cell must run locally
    inst = make_instance(seed=2, model=model, num_aps=2, users_per_ap=5, num_subchannels=3, max_per_subchannel=1)
    for a in [*BASELINES, "li-gd"]:
        s = solve("split_noma", a, inst, SolveOptions())
        _check(inst, s)
        for sub in (s.up_sub, s.down_sub):
            on = sub >= 0
            counts = np.zeros((inst.num_aps, inst.num_subchannels), dtype=int)
            np.add.at(counts, (inst.cell[on], sub[on]), 1)
            assert counts.max() <= 1
    dev = solve("split_noma", "device-only", inst, SolveOptions())
    assert (dev.split == inst.num_layers).all() and (dev.up_sub == -1).all()
    edge = solve("split_noma", "edge-only", inst, SolveOptions())
    assert set(edge.split.tolist()) <= {0, int(inst.num_layers[0])}


def test_every_registered_solver_is_tested_here() -> None:
    names = {s.algorithm for s in list_solvers("split_noma")}
    assert names == {"li-gd", "gd", "reference", *BASELINES}


def test_time_limit_is_respected() -> None:
    inst = make_instance(seed=0, model="vgg16", num_aps=3, users_per_ap=5, num_subchannels=4)
    s = solve("split_noma", "gd", inst, SolveOptions(time_limit_s=0.05))
    _check(inst, s)
    assert s.status.value in ("time_limit", "feasible")


@pytest.mark.parametrize("seed", range(3))
def test_split_lower_bounds_hold_at_random_relaxed_points(seed: int) -> None:
    from edgeinfer.split.model import relaxed_objective
    from edgeinfer.split.solvers.ligd import split_lower_bounds
    from split.helpers import random_relaxed

    inst = tiny(seed, users_per_ap=3, num_aps=2, m=3)
    lb = split_lower_bounds(inst).sum(0)
    st = RelaxedState.build(inst)
    rng = np.random.default_rng(seed)
    for j in range(lb.size):
        tb = split_tables(inst, np.minimum(j, inst.num_layers - 1))
        for _ in range(20):
            v = relaxed_objective(st, tb, *random_relaxed(inst, rng), grad=False).value
            assert lb[j] <= v
        res = descend(st, tb, initial_point(inst, np.ones(inst.num_devices, bool)),
                      np.ones(inst.num_devices, bool), max_iter=300)
        assert lb[j] <= res.value


def test_pruning_skips_hopeless_splits_and_stays_feasible() -> None:
    inst = make_instance(seed=0, model="vgg16", num_aps=2, users_per_ap=4, num_subchannels=4)
    s = solve("split_noma", "li-gd", inst, SolveOptions())
    _check(inst, s)
    assert len(s.stats["pruned_splits"]) > 0
    full = solve("split_noma", "li-gd", inst, SolveOptions(params={"prune": False}))
    assert full.stats["pruned_splits"] == []
    assert s.objective <= full.objective * 1.02


@pytest.mark.parametrize(("algorithm", "params", "name"), [
    ("li-gd", {"epss": 1e-6}, "epss"),  # misspelt
    ("li-gd", {"max_iter": 0}, "max_iter"),  # out of range
    ("gd", {"polish": "maybe"}, "polish"),  # mistyped
    ("reference", {"start": 3}, "start"),
    ("dnn-surgery", {"edge_capacity_units": -1.0}, "edge_capacity_units"),
    ("device-only", {"eps": 1e-6}, "eps"),  # a baseline takes no parameters
])
def test_bad_params_are_invalid_options_naming_them(algorithm: str, params: dict, name: str) -> None:
    from edgeinfer.core.errors import InvalidOptionError

    inst = tiny(0, users_per_ap=1, num_aps=1, m=1, layers=2)
    with pytest.raises(InvalidOptionError) as exc:
        solve("split_noma", algorithm, inst, SolveOptions(params=params))
    assert name in str(exc.value)


def test_declared_params_are_the_defaults_in_use() -> None:
    """Every declared default reproduces the solver run with no parameters given."""
    inst = tiny(1, users_per_ap=2, num_aps=2, m=2)
    for info in list_solvers("split_noma"):
        if info.algorithm == "reference":
            continue  # slow on this instance; its two params are covered by test_cli
        a = solve("split_noma", info.algorithm, inst, SolveOptions())
        b = solve("split_noma", info.algorithm, inst,
                  SolveOptions(params={p.name: p.default for p in info.params}))
        assert a.objective == b.objective, info.algorithm
