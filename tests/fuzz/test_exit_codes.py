"""The exit-code table (0/1/2/3) and ``--debug``, in-process and through a real subprocess."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from edgeinfer.core import registry
from edgeinfer.core.registry import get_problem
from fuzz.fuzzkit import EXAMPLES, ROOT, check_one_line_error, run_cli, solution_doc
from toyproblem import VALID, register

register()


@pytest.fixture()
def toy(tmp_path: Path) -> Path:
    p = tmp_path / "toy.json"
    p.write_text(json.dumps(VALID))
    return p


def test_table_in_process(toy: Path, tmp_path: Path) -> None:
    sol = tmp_path / "s.json"
    assert run_cli(["solve", str(toy), "-a", "greedy", "-o", str(sol)]).rc == 0
    assert run_cli(["verify", str(toy), str(sol)]).rc == 0
    doc = json.loads(sol.read_text())
    doc["count"] += 1
    sol.write_text(json.dumps(doc))
    wrong = run_cli(["verify", str(toy), str(sol)])
    assert wrong.rc == 1 and wrong.out.startswith("wrong:") and wrong.err == ""
    bad = run_cli(["solve", str(toy), "-a", "greedy", "-p", "max_items=lots"])
    assert bad.rc == 2
    check_one_line_error(bad)
    crash = run_cli(["solve", str(toy), "-a", "crash", "-o", str(tmp_path / "c.json")])
    assert crash.rc == 3 and not (tmp_path / "c.json").exists()
    assert crash.err.count("\n") == 1 and crash.err.startswith("edgeinfer: internal error: ")
    assert "Traceback" not in crash.err and "ZeroDivisionError" in crash.err


@pytest.mark.parametrize("argv_tail, code, last", [
    (["-a", "crash"], 3, "edgeinfer: internal error: "),
    (["-a", "greedy", "-p", "max_items=lots"], 2, "edgeinfer: error: max_items: "),
    (["-a", "no-such-algorithm"], 2, "edgeinfer: error: unknown algorithm"),
])
def test_debug_shows_the_traceback(toy: Path, argv_tail: list[str], code: int, last: str) -> None:
    """--debug: the same exit code and final line, preceded by the traceback."""
    plain = run_cli(["solve", str(toy), *argv_tail])
    debug = run_cli(["--debug", "solve", str(toy), *argv_tail])
    assert plain.rc == debug.rc == code
    assert "Traceback" not in plain.err and plain.err.count("\n") == 1
    assert debug.err.startswith("Traceback (most recent call last):")
    assert debug.err.splitlines()[-1] == plain.err.strip() and plain.err.startswith(last)


def test_bug_outside_a_solver_is_exit_3(monkeypatch: pytest.MonkeyPatch, toy: Path, tmp_path: Path) -> None:
    """A crash in verify (not in a solver) is still one line and exit 3; --debug shows where."""
    spec = get_problem("toy_knapsack")

    def broken(inst, sol):  # noqa: ARG001
        raise KeyError("boom\nsecond line")

    sol = tmp_path / "s.json"
    assert run_cli(["solve", str(toy), "-a", "greedy", "-o", str(sol)]).rc == 0
    monkeypatch.setitem(registry._PROBLEMS, "toy_knapsack", dataclasses.replace(spec, verify=broken))
    res = run_cli(["verify", str(toy), str(sol)])
    assert res.rc == 3 and res.err.count("\n") == 1 and "Traceback" not in res.err
    assert "KeyError" in res.err and "--debug" in res.err
    debug = run_cli(["--debug", "verify", str(toy), str(sol)])
    assert debug.rc == 3 and "Traceback" in debug.err and "in broken" in debug.err


def test_error_line_escapes_control_characters(tmp_path: Path) -> None:
    """A name a user gave with a newline or an escape code cannot break the one line."""
    res = run_cli(["solve", str(tmp_path / "a\nb\x1b[31m.json"), "-a", "gen"])
    assert res.rc == 2
    check_one_line_error(res)
    assert "\\n" in res.err and "\x1b" not in res.err
    long = run_cli(["solve", str(EXAMPLES / "slide_small.json"), "-a", "x" * 10_000])
    assert long.rc == 2 and len(long.err) <= 450
    check_one_line_error(long)


def test_too_large_integer_names_its_field(tmp_path: Path) -> None:
    doc = json.loads((EXAMPLES / "partial_loading_general.json").read_text())
    text = json.dumps(doc).replace('"bytes": ', '"bytes": 1234567890123456789', 1)
    (tmp_path / "i.json").write_text(text)
    res = run_cli(["solve", str(tmp_path / "i.json"), "-a", "gen"])
    assert res.rc == 2
    assert res.err.startswith("edgeinfer: error: blocks[0].bytes: an integer with 2"), res.err
    (tmp_path / "top.json").write_text("1" * 5000)
    res = run_cli(["solve", str(tmp_path / "top.json"), "-a", "gen"])
    assert res.rc == 2 and "5000 digits is too large" in res.err and "top.json" in res.err


def test_verify_json_is_strict(tmp_path: Path) -> None:
    """A wrong solution whose recomputed objective is infinite: --json prints null, not Infinity."""
    doc = solution_doc("lymdo_slot_small")
    doc["devices"][0].update(split=0, f_ue_hz=0.0, f_es_hz=0.0, alpha=0.0)
    (tmp_path / "s.json").write_text(json.dumps(doc))
    res = run_cli(["verify", str(EXAMPLES / "lymdo_slot_small.json"), str(tmp_path / "s.json"), "--json"])
    assert res.rc == 1

    def refuse(c: str) -> None:
        raise AssertionError(f"non-finite {c} in the report")

    report = json.loads(res.out, parse_constant=refuse)
    assert report["ok"] is False and report["reasons"]


# ---------------------------------------------------------------------------------------------
# a handful through a real process (the console entry point as a user runs it)


def _run(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run([sys.executable, "-m", "edgeinfer.cli", *argv], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_runtime_warnings_are_not_printed(tmp_path: Path) -> None:
    """NumPy's overflow notes would add lines to the one line; --debug shows them."""
    code = ("import sys, warnings, edgeinfer.cli as c\n"
            "def noisy(args):\n    warnings.warn('overflow encountered', RuntimeWarning)\n    return 0\n"
            "c._cmd_list = noisy\nsys.exit(c.main(sys.argv[1:]))\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    quiet = subprocess.run([sys.executable, "-c", code, "list"], capture_output=True, text=True, env=env, timeout=60)
    loud = subprocess.run([sys.executable, "-c", code, "--debug", "list"], capture_output=True, text=True, env=env,
                          timeout=60)
    assert quiet.returncode == loud.returncode == 0
    assert quiet.stderr == "" and "RuntimeWarning: overflow encountered" in loud.stderr


def test_non_finite_solution_is_not_written(monkeypatch: pytest.MonkeyPatch, toy: Path, tmp_path: Path) -> None:
    """A solver answer holding inf: exit 3 naming where, nothing written (JSON has no inf)."""
    from edgeinfer.core import io

    real = io.dump_solution
    monkeypatch.setattr(io, "dump_solution", lambda spec, sol: {**real(spec, sol), "objective": float("inf")})
    res = run_cli(["solve", str(toy), "-a", "greedy", "-o", str(tmp_path / "o.json")])
    assert res.rc == 3 and "non-finite value at objective" in res.err and res.err.count("\n") == 1
    assert not (tmp_path / "o.json").exists()
    with pytest.raises(ValueError, match=r"cannot write a\[1\]\.b = inf"):
        io.write_json(tmp_path / "x.json", {"a": [1, {"b": float("inf")}]})
    assert not (tmp_path / "x.json").exists()


def test_subprocess_contract() -> None:
    """Four real processes (each about a second): refused inputs and a wrong solution."""
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        doc = json.loads((EXAMPLES / "slide_small.json").read_text())
        doc["users"][0]["deadline_s"] = "NaN"
        (d / "nan.json").write_text(json.dumps(doc).replace('"NaN"', "NaN"))
        inst = d / "i.json"
        inst.write_text((EXAMPLES / "mba_small.json").read_text())
        sol = d / "s.json"
        assert run_cli(["solve", str(inst), "-a", "greedy", "-o", str(sol)]).rc == 0
        bad = json.loads(sol.read_text())
        bad["broadcast"][0]["power_w"] *= 1e-3  # the block arrives too late for its claimed duration
        sol.write_text(json.dumps(bad))
        cases = [
            (["solve", str(d / "nan.json"), "-a", "slide", "-o", str(d / "o.json")], 2, "users[0]."),
            (["solve", "/dev/zero", "-a", "slide", "-o", str(d / "o.json")], 2, "/dev/zero: is a device"),
            (["solve", str(inst), "-a", "greedy", "-o", str(inst)], 2, "is also an input"),
        ]
        before = inst.read_bytes()
        for argv, code, needle in cases:
            res = _run(*argv, cwd=d)
            assert res.returncode == code, (argv, res.stderr)
            assert res.stderr.count("\n") == 1 and "Traceback" not in res.stderr, (argv, res.stderr)
            assert needle in res.stderr, (argv, res.stderr)
            assert res.stdout == ""
        assert inst.read_bytes() == before
        assert sorted(os.listdir(d)) == ["i.json", "nan.json", "s.json"]
        wrong = _run("verify", str(inst), str(sol), cwd=d)
        assert wrong.returncode == 1 and wrong.stdout.startswith("wrong:") and wrong.stderr == ""
