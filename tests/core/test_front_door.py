"""``import edgeinfer``: load, solve, verify, save, problems, algorithms (the README's tour)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

import edgeinfer

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_tour_slide(tmp_path):
    inst = edgeinfer.load(EXAMPLES / "slide_small.json")
    sol = edgeinfer.solve(inst, "slide")
    assert sol.status is edgeinfer.SolveStatus.OPTIMAL and sol.objective == 11  # examples/README.md
    assert type(sol).__name__ == "SlideSolution"  # keeps its type
    text = str(sol)
    assert text.startswith("slide/slide: optimal, users served 11") and "\n" not in text
    out = tmp_path / "sol.json"
    edgeinfer.save(sol, out)
    assert json.loads(out.read_text())["problem"] == "slide"
    assert edgeinfer.verify(inst, out).ok
    assert edgeinfer.verify(EXAMPLES / "slide_small.json", sol).ok
    doc = json.loads(out.read_text())
    doc["users"] = doc["users"] + doc["users"][:1]  # the same user twice
    doc["served"] = 12
    try:
        assert not edgeinfer.verify(inst, doc).ok
    except edgeinfer.InvalidSolutionError as exc:
        assert "users" in str(exc) or "served" in str(exc)


def test_solve_takes_a_path_and_params():
    sol = edgeinfer.solve(str(EXAMPLES / "partial_loading_general.json"), "search", seed=3, max_evals=500)
    assert sol.problem == "partial_loading" and 0 < sol.objective <= 20


def test_names_and_suggestions():
    assert {"partial_loading", "mba", "slide", "split_noma", "lymdo_slot"} <= set(edgeinfer.problems())
    assert "bnb" in edgeinfer.algorithms("mba")
    with pytest.raises(edgeinfer.UnknownNameError, match="did you mean 'mba'"):
        edgeinfer.algorithms("mbb")
    inst = edgeinfer.load(EXAMPLES / "mba_small.json")
    with pytest.raises(edgeinfer.UnknownNameError, match="did you mean 'greedy'"):
        edgeinfer.solve(inst, "gredy")


def test_options_are_checked():
    inst = edgeinfer.load(EXAMPLES / "partial_loading_general.json")
    with pytest.raises(edgeinfer.InvalidOptionError, match="max_evals"):
        edgeinfer.solve(inst, "search", max_evals="lots")
    with pytest.raises(edgeinfer.InvalidOptionError, match="did you mean 'max_evals'"):
        edgeinfer.solve(inst, "search", max_eval=10)
    with pytest.raises(edgeinfer.InvalidOptionError, match="seed"):
        edgeinfer.solve(inst, "search", seed=-3)
    with pytest.raises(edgeinfer.InvalidOptionError, match="time_limit_s"):
        edgeinfer.solve(inst, "search", time_limit_s=float("nan"))
    info = edgeinfer.solver("partial_loading", "search")
    assert "max_evals" in {p.name for p in info.params}


def test_verification_failure_raises(monkeypatch):
    from edgeinfer.core.registry import get_problem
    from edgeinfer.core.solution import VerifyReport

    spec = get_problem("slide")
    fake = type(spec)(**{**spec.__dict__, "verify": lambda i, s: VerifyReport(feasible=False, objective=0.0)})
    monkeypatch.setitem(__import__("edgeinfer.core.registry", fromlist=["_PROBLEMS"])._PROBLEMS, "slide", fake)
    inst = edgeinfer.load(EXAMPLES / "slide_small.json")
    with pytest.raises(edgeinfer.VerificationError):
        edgeinfer.solve(inst, "slide")
    assert edgeinfer.solve(inst, "slide", verify=False).objective == 11


def test_import_is_light():
    code = "import sys, edgeinfer; print(sorted(m for m in ('numpy', 'pydantic', 'scipy', 'torch') if m in sys.modules))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout.strip() == "[]"
