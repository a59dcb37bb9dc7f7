"""Declared solver parameters: checked, typed, defaulted; the CLI's exit codes for them."""

import json

import numpy as np
import pytest

from edgeinfer.cli import main
from edgeinfer.core.errors import InvalidOptionError
from edgeinfer.core.options import Param, resolve_params
from edgeinfer.core.registry import get_solver, solve
from edgeinfer.core.solution import SolveOptions, json_safe
from toyproblem import VALID, load_instance, register

register()

DECL = (Param("max_evals", 100, int, "budget", bounds=(1, None)),
        Param("eps", 1e-6, float, "tolerance", bounds=(0, 1)),
        Param("engine", "highs", str, "engine", choices=("highs", "tree")),
        Param("polish", True, bool, "polish"),
        Param("cap", None, float, "capacity", optional=True, bounds=(0, None)))


def test_defaults_filled_and_types_converted():
    out = resolve_params(DECL, {"max_evals": "7", "eps": "0.5", "polish": "false", "cap": "none"}, where="x")
    assert out == {"max_evals": 7, "eps": 0.5, "engine": "highs", "polish": False, "cap": None}
    assert type(out["max_evals"]) is int and type(out["eps"]) is float
    assert resolve_params(DECL, {"max_evals": 3.0, "eps": 1, "cap": 2}, where="x")["max_evals"] == 3
    assert resolve_params(DECL, {}, where="x")["engine"] == "highs"


@pytest.mark.parametrize("given, field, words", [
    ({"engnie": "tree"}, "engnie", "did you mean 'engine'"),
    ({"max_evals": "lots"}, "max_evals", "expected an integer"),
    ({"max_evals": 0}, "max_evals", "below the minimum"),
    ({"max_evals": 10**30}, "max_evals", "too large"),
    ({"max_evals": "1e400"}, "max_evals", "expected an integer"),
    ({"max_evals": True}, "max_evals", "expected an integer"),
    ({"eps": "nan"}, "eps", "finite"),
    ({"eps": float("inf")}, "eps", "finite"),
    ({"eps": 2}, "eps", "above the maximum"),
    ({"engine": "cplex"}, "engine", "not one of"),
    ({"polish": "maybe"}, "polish", "boolean"),
    ({"cap": -1}, "cap", "below the minimum"),
    ({"engine": None}, "engine", "null"),
])
def test_bad_values_name_the_parameter(given, field, words):
    with pytest.raises(InvalidOptionError) as e:
        resolve_params(DECL, given, where="solver p/a")
    assert e.value.field == field and words in str(e.value)
    assert str(e.value).startswith(f"{field}: ")


def test_solve_passes_declared_params():
    inst = load_instance(VALID)
    sol = solve("toy_knapsack", "greedy", inst, SolveOptions(params={"max_items": "1"}))
    assert sol.picked == ("a",)
    sol = solve("toy_knapsack", "greedy", inst, SolveOptions(params={"order": "heavy"}))
    assert sol.picked == ("c", "a")
    with pytest.raises(InvalidOptionError, match="did you mean 'max_items'"):
        solve("toy_knapsack", "greedy", inst, SolveOptions(params={"max_item": 1}))
    with pytest.raises(InvalidOptionError, match="it takes no parameters"):
        solve("toy_knapsack", "broken", inst, SolveOptions(params={"x": 1}))
    assert [p.name for p in get_solver("toy_knapsack", "greedy").params] == ["max_items", "order"]


@pytest.mark.parametrize("kw", [{"seed": -3}, {"seed": 2**70}, {"seed": True}, {"seed": 1.5},
                                {"time_limit_s": 0}, {"time_limit_s": float("inf")}, {"time_limit_s": "5"}])
def test_solve_options_checked(kw):
    with pytest.raises(InvalidOptionError):
        SolveOptions(**kw)


def test_stats_made_json_safe():
    sol = solve("toy_knapsack", "nan-stats", load_instance(VALID), SolveOptions())
    assert sol.stats == {"bound": None, "nodes": 3, "gap": None, "trace": [1.0, None]}
    json.dumps(dict(sol.stats), allow_nan=False)
    assert json_safe({"a": (np.float32(0.5), np.bool_(True))}) == {"a": [0.5, True]}


def _write(tmp_path, doc):
    p = tmp_path / "i.json"
    p.write_text(json.dumps(doc))
    return str(p)


def test_cli_params_and_exit_codes(tmp_path, capsys):
    inst = _write(tmp_path, VALID)
    assert main(["solve", inst, "-a", "greedy", "-p", "max_items=1"]) == 0
    assert json.loads(capsys.readouterr().out)["picked"] == ["a"]
    assert main(["solve", inst, "-a", "greedy", "-p", "max_itmes=1"]) == 2
    err = capsys.readouterr().err
    assert err == "edgeinfer: error: max_itmes: unknown parameter of solver toy_knapsack/greedy; did you mean 'max_items'?\n"
    assert main(["solve", inst, "-a", "greedy", "-p", "max_items=lots"]) == 2
    assert "max_items: expected an integer" in capsys.readouterr().err
    out = tmp_path / "o.json"
    assert main(["solve", inst, "-a", "crash", "-o", str(out)]) == 3  # a solver crash is ours, not bad input
    err = capsys.readouterr().err
    assert "internal error" in err and "ZeroDivisionError" in err and "Traceback" not in err
    assert err.count("\n") == 1 and not out.exists()
    assert main(["--debug", "solve", inst, "-a", "crash"]) == 3
    assert "Traceback" in capsys.readouterr().err
    assert main(["solve", inst, "-a", "nan-stats", "-o", str(out)]) == 0  # inf in stats -> null, not a crash
    assert json.loads(out.read_text())["problem"] == "toy_knapsack"


def test_cli_list_shows_params(capsys):
    assert main(["list", "toy_knapsack"]) == 0
    out = capsys.readouterr().out
    assert "--param max_items=1000 (int >= 0) items to pick at most" in out
    assert "--param order='light' (str: light|heavy) which items first" in out
    assert main(["list", "--problem", "toy_knapsak"]) == 2
    assert "did you mean 'toy_knapsack'" in capsys.readouterr().err


def test_cli_verify_json_has_details(tmp_path, capsys):
    inst = _write(tmp_path, VALID)
    out = tmp_path / "o.json"
    assert main(["solve", inst, "-a", "greedy", "-o", str(out)]) == 0
    capsys.readouterr()
    assert main(["verify", inst, str(out), "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["ok"] is True and isinstance(rep["details"], dict)


@pytest.mark.parametrize("problem", ["partial_loading", "mba", "slide", "split_noma", "lymdo_slot"])
def test_every_scenario_generator_has_one_convention(problem):
    """make_instance(config=None, *, seed=None, rng=None, **overrides): a validated random draw,
    the same for the same seed, an unknown override refused with a suggestion."""
    import importlib

    from edgeinfer.core.registry import get_problem

    pkg = {"partial_loading": "loading", "mba": "broadcast", "slide": "streaming", "split_noma": "split",
           "lymdo_slot": "online"}[problem]
    scen = importlib.import_module(f"edgeinfer.{pkg}.scenario")
    small = {"partial_loading": {"n_users": 6, "n_models": 3}, "mba": {"num_devices": 2, "num_positions": 3},
             "slide": {"n_users": 4}, "split_noma": {"num_aps": 1, "users_per_ap": 2},
             "lymdo_slot": {"models": ("alexnet",) * 2}}[problem]
    a = scen.make_instance(seed=4, **small)
    b = scen.make_instance(scen.ScenarioConfig(), rng=np.random.default_rng(4), **small)
    spec = get_problem(problem)
    assert isinstance(a, spec.instance_type)
    assert json.dumps(spec.dump_instance(a)) == json.dumps(spec.dump_instance(b))
    spec.load_instance(spec.dump_instance(a))  # a draw is a valid file
    with pytest.raises(InvalidOptionError, match="did you mean"):
        scen.make_instance(seed=0, **{next(iter(small)) + "x": 1})


def test_cli_list_empty_problem_name_is_refused(capsys):
    assert main(["list", "--problem", ""]) == 2
    assert "unknown problem ''" in capsys.readouterr().err


def test_a_validate_hook_refuses_with_its_reason_and_checks_the_default():
    from edgeinfer.core.options import Param
    p = Param("pair", "1,2", str, "two numbers", validate=lambda v: None if len(v.split(",")) == 2 else "need two")
    assert p.check("3,4") is None
    assert p.check("3") == "need two"
    with pytest.raises(ValueError, match="need two"):
        Param("pair", "1", str, "two numbers", validate=lambda v: None if len(v.split(",")) == 2 else "need two")
