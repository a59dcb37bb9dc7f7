"""Malformed instances and solutions of every problem, through ``edgeinfer solve`` / ``verify``.

Each example in ``examples/`` is one valid instance; its seed solution comes from solving it.
Hypothesis mutates them (see :mod:`fuzz.fuzzkit`) and the command line must answer with exit 0
(the mutation left a valid input: the output is strict JSON and verifies), exit 1 (``verify``:
the solution is wrong, with reasons), or exit 2 with one line naming the field; never a
traceback, never exit 3, never an output or temporary file left behind.

Run in-process through ``edgeinfer.cli.main`` (about 20 ms a call); 6 x 45 mutated instances
+ 6 x 45 mutated solutions + 6 x 10 mutated instances against a valid solution + 2 x 6 x 12
numeric fields turned into strings = 744 malformed inputs a run.
"""

from __future__ import annotations

import copy
import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st

from fuzz.fuzzkit import (
    SEEDS,
    check_one_line_error,
    dumps,
    finite_json,
    format_path,
    get,
    instance_doc,
    known_bug,
    leftovers,
    mutated,
    paths,
    run_cli,
    solution_doc,
)

EXAMPLES = sorted(SEEDS)
FUZZ = settings(max_examples=45, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example])


def _tolerated(example: str, res: Any) -> bool:
    bug = known_bug(example, res)
    if bug is not None:
        event(f"known bug {bug.name}")
        note(f"known bug {bug.name} ({bug.where})")
    return bug is not None


def _solve(example: str, doc: Any, log: list[str], *, to_stdout: bool = False) -> None:
    algorithm = SEEDS[example][0]
    note(f"{example} -a {algorithm}: {log}")
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        (d / "i.json").write_text(dumps(doc), encoding="utf-8")
        out = "-" if to_stdout else str(d / "o.json")
        res = run_cli(["solve", str(d / "i.json"), "-a", algorithm, "-o", out])
        note(f"rc {res.rc}, stderr {res.err!r}")
        event(f"solve exit {res.rc}")
        if res.rc == 2:
            check_one_line_error(res, f"mutations: {log}")
            assert res.out == "", "a refused input printed output"
            assert leftovers(d, {"i.json"}) == [], "a refused input left a file behind"
            return
        if _tolerated(example, res):
            return
        assert res.rc == 0, f"exit {res.rc}: {res.err.strip()}"
        assert "Traceback" not in res.err
        text = res.out if to_stdout else (d / "o.json").read_text()
        sol = finite_json(text)
        assert isinstance(sol, dict) and sol["problem"] == doc["problem"]
        assert leftovers(d, {"i.json"} if to_stdout else {"i.json", "o.json"}) == []
        # what solve wrote reads back and verifies against the same instance
        (d / "s.json").write_text(text)
        back = run_cli(["verify", str(d / "i.json"), str(d / "s.json")])
        assert back.rc == 0, f"solve's own output does not verify: {back.out.strip()} {back.err.strip()}"


def _verify(example: str, inst: Any, sol: Any, log: list[str], *, as_json: bool) -> None:
    note(f"{example}: {log}")
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        (d / "i.json").write_text(dumps(inst), encoding="utf-8")
        (d / "s.json").write_text(dumps(sol), encoding="utf-8")
        res = run_cli(["verify", str(d / "i.json"), str(d / "s.json"), *(["--json"] if as_json else [])])
        note(f"rc {res.rc}, stdout {res.out[:300]!r}, stderr {res.err!r}")
        event(f"verify exit {res.rc}")
        assert leftovers(d, {"i.json", "s.json"}) == [], "verify wrote a file"
        if res.rc == 2:
            check_one_line_error(res, f"mutations: {log}")
            assert res.out == ""
            return
        if _tolerated(example, res):
            return
        assert res.rc in (0, 1), f"exit {res.rc}: {res.err.strip()}"
        assert res.err == "" and "Traceback" not in res.out
        if as_json:
            report = finite_json(res.out)
            assert report["ok"] is (res.rc == 0)
            assert res.rc == 0 or report["reasons"], "a wrong solution without a reason"
        elif res.rc == 0:
            assert res.out.startswith("ok: feasible, objective ")
        else:
            lines = res.out.splitlines()
            assert lines[0] == "wrong:" and len(lines) >= 2 and all(x.startswith("  - ") for x in lines[1:])


@pytest.mark.parametrize("example", EXAMPLES)
@FUZZ
@given(data=st.data())
def test_mutated_instance(example: str, data: st.DataObject) -> None:
    doc, log = data.draw(mutated(instance_doc(example)), label="instance")
    _solve(example, doc, log, to_stdout=data.draw(st.booleans(), label="to stdout"))


@pytest.mark.parametrize("example", EXAMPLES)
@FUZZ
@given(data=st.data())
def test_mutated_solution(example: str, data: st.DataObject) -> None:
    sol, log = data.draw(mutated(solution_doc(example)), label="solution")
    _verify(example, instance_doc(example), sol, log, as_json=data.draw(st.booleans(), label="--json"))


@pytest.mark.parametrize("example", EXAMPLES)
@settings(FUZZ, max_examples=10)
@given(data=st.data())
def test_mutated_instance_valid_solution(example: str, data: st.DataObject) -> None:
    """The instance changed under a valid solution: refused, or the solution judged against it."""
    inst, log = data.draw(mutated(instance_doc(example), max_mutations=1), label="instance")
    _verify(example, inst, solution_doc(example), log, as_json=False)


def _numeric_leaves(doc: Any) -> list[tuple[Any, ...]]:
    return [p for p in paths(doc) if isinstance(get(doc, p), int | float) and not isinstance(get(doc, p), bool)
            and (not p or p[0] != "stats")]  # stats are free-form


@pytest.mark.parametrize("kind", ["instance", "solution"])
@pytest.mark.parametrize("example", EXAMPLES)
@settings(FUZZ, max_examples=12)
@given(data=st.data())
def test_error_names_the_field(kind: str, example: str, data: st.DataObject) -> None:
    """A number replaced by text anywhere: exit 2, and the one line names exactly that field."""
    seed = instance_doc(example) if kind == "instance" else solution_doc(example)
    path = data.draw(st.sampled_from(_numeric_leaves(seed)), label="field")
    text = data.draw(st.sampled_from(["abc", "NaN", "1e999", "12", ""]), label="text")
    doc = copy.deepcopy(seed)
    get(doc, path[:-1])[path[-1]] = text
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        (d / "d.json").write_text(json.dumps(doc))
        if kind == "instance":
            res = run_cli(["solve", str(d / "d.json"), "-a", SEEDS[example][0], "-o", str(d / "o.json")])
        else:
            (d / "i.json").write_text(json.dumps(instance_doc(example)))
            res = run_cli(["verify", str(d / "i.json"), str(d / "d.json")])
        assert res.rc == 2, res.err
        check_one_line_error(res)
        assert res.err.startswith(f"edgeinfer: error: {format_path(path)}: "), res.err
        assert not (d / "o.json").exists()
