"""Core contracts: errors, RNG, status, validation, registry, I/O."""

import json

import numpy as np
import pytest

from edgeinfer.core import (
    EdgeInferError,
    InvalidInstanceError,
    SolveOptions,
    SolveStatus,
    UnknownNameError,
    VerifyReport,
    get_problem,
    get_solver,
    make_rng,
    solve,
    spawn,
    spawn_seeds,
)
from edgeinfer.core.io import load_instance, read_json, to_jsonable, write_json
from edgeinfer.core.validation import check_unique_ids, format_loc
from toyproblem import VALID, register

register()


def test_error_hierarchy_and_messages():
    e = InvalidInstanceError("users[3].data_bits", "must be positive")
    assert isinstance(e, EdgeInferError) and isinstance(e, ValueError)
    assert str(e) == "users[3].data_bits: must be positive"
    u = UnknownNameError("algorithm", "spc", ["spec", "gen", "exact"])
    assert u.suggestion == "spec" and "did you mean 'spec'" in str(u)
    assert isinstance(u, LookupError)


def test_unknown_problem_and_solver_suggest():
    with pytest.raises(UnknownNameError, match="toy_knapsack"):
        get_problem("toy_knapsak")
    with pytest.raises(UnknownNameError, match="greedy"):
        get_solver("toy_knapsack", "gredy")


def test_rng_helpers_are_deterministic_and_independent():
    a = make_rng(5).random(3)
    assert np.array_equal(a, make_rng(5).random(3))
    g = np.random.default_rng(1)
    assert make_rng(g) is g
    s1 = [r.random() for r in spawn(7, 4)]
    s2 = [r.random() for r in spawn(7, 4)]
    assert s1 == s2 and len(set(s1)) == 4
    assert [s.entropy for s in spawn_seeds(7, 2)] == [7, 7]
    with pytest.raises(ValueError):
        make_rng(-1)
    with pytest.raises(TypeError):
        make_rng(1.5)  # type: ignore[arg-type]


def test_global_rng_untouched():
    np.random.seed(123)  # noqa: NPY002 - checking the legacy global state
    before = np.random.get_state()[1].copy()  # noqa: NPY002
    make_rng(1).random(10)
    spawn(3, 3)
    assert np.array_equal(before, np.random.get_state()[1])  # noqa: NPY002


def test_status_values():
    assert SolveStatus("time_limit") is SolveStatus.TIME_LIMIT
    assert SolveStatus.OPTIMAL.has_solution and not SolveStatus.INFEASIBLE.has_solution


def test_format_loc_and_unique():
    assert format_loc(("users", 3, "data_bits")) == "users[3].data_bits"
    with pytest.raises(InvalidInstanceError, match=r"items\[2\]\.id: duplicate id 'a' \(first at items\[0\]\)"):
        check_unique_ids(["a", "b", "a"], "items")


def test_verify_report():
    r = VerifyReport(feasible=True, objective=3.0, reported_objective=3.0 + 1e-12)
    assert r.ok
    r2 = VerifyReport(feasible=True, objective=3.0, reported_objective=4.0)
    assert not r2.ok and "differs" in r2.reasons[0]


def test_solve_and_verify_roundtrip():
    spec, inst = load_instance(dict(VALID))
    sol = solve(spec.name, "greedy", inst, SolveOptions())
    assert sol.objective == 2 and sol.wall_time_s > 0
    assert spec.verify(inst, sol).ok
    bad = solve(spec.name, "broken", inst)
    rep = spec.verify(inst, bad)
    assert not rep.feasible and "exceeds capacity" in rep.violations[0]


@pytest.mark.parametrize(
    "mutate, field",
    [
        (lambda d: d.pop("capacity_kg"), "capacity_kg: missing"),
        (lambda d: d.update(extra=1), "extra: unknown field"),
        (lambda d: d.update(capacity_kg=float("nan")), "capacity_kg: must be a finite"),
        (lambda d: d["items"][1].update(weight_kg=-1.0), "items[1].weight_kg"),
        (lambda d: d["items"][2].update(id="a"), "items[2].id: duplicate id"),
        (lambda d: d.update(items=[]), "items: must not be empty"),
        (lambda d: d.update(must_include=["zz"]), "must_include[0]: unknown item 'zz'"),
        (lambda d: d.update(problem="toy_knapsak"), "did you mean 'toy_knapsack'"),
        (lambda d: d.pop("problem"), "problem: missing"),
    ],
)
def test_bad_instances_name_the_field(mutate, field):
    doc = json.loads(json.dumps(VALID))
    mutate(doc)
    with pytest.raises(EdgeInferError) as ei:
        load_instance(doc)
    assert field in str(ei.value)


def test_read_json_errors(tmp_path):
    p = tmp_path / "x.json"
    p.write_text("{not json")
    with pytest.raises(InvalidInstanceError, match="not valid JSON"):
        read_json(p)
    with pytest.raises(InvalidInstanceError, match="no such file"):
        read_json(tmp_path / "missing.json")


def test_write_json_atomic_and_jsonable(tmp_path):
    p = tmp_path / "sub" / "o.json"
    write_json(p, {"a": np.float64(1.5), "b": np.arange(3), "s": SolveStatus.OPTIMAL})
    assert json.loads(p.read_text()) == {"a": 1.5, "b": [0, 1, 2], "s": "optimal"}
    with pytest.raises(ValueError):
        write_json(tmp_path / "nan.json", {"a": float("nan")})
    assert not (tmp_path / "nan.json").exists()
    assert [f.name for f in tmp_path.iterdir()] == ["sub"]  # no temp file left behind
    assert to_jsonable((1, np.int64(2))) == [1, 2]
