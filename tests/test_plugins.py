"""A plugin package installed for real (pip, into a temporary folder) extends edgeinfer.

``tests/plugins/fifo_plugin`` registers a ``partial_loading`` solver through the entry-point
group ``edgeinfer.plugins``; ``tests/plugins/broken_plugin`` fails on import. The command line
sees the first, names the second in one line, and keeps working.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "partial_loading_general.json"  # optimum 20 (examples/README.md)


@pytest.fixture(scope="module")
def plugin_path(tmp_path_factory):
    target = tmp_path_factory.mktemp("site")
    src = tmp_path_factory.mktemp("src")  # setuptools writes build/ and *.egg-info beside the sources
    pkgs = [shutil.copytree(ROOT / "tests/plugins" / name, src / name) for name in ("fifo_plugin", "broken_plugin")]
    r = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index",
         "--target", str(target), *map(str, pkgs)],
        capture_output=True, text=True,
    )
    assert r.returncode == 0, r.stderr
    return target


def _cli(plugin_path, *args, cwd=None):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(plugin_path), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "edgeinfer.cli", *map(str, args)], capture_output=True,
                          text=True, env=env, cwd=cwd)


def _warnings(stderr):
    return [line for line in stderr.splitlines() if "plugin" in line]


def test_plugin_solver_listed_with_its_params(plugin_path):
    r = _cli(plugin_path, "list", "partial_loading")
    assert r.returncode == 0, r.stderr
    assert "fifo" in r.stdout and "max_users=1000 (int >= 1)" in r.stdout
    # the broken plugin is one line naming it; the rest still works
    warn = _warnings(r.stderr)
    assert len(warn) == 1 and "'broken'" in warn[0] and "ImportError" in warn[0]
    assert "Traceback" not in r.stderr


def test_plugin_solver_solves_and_verifies(plugin_path, tmp_path):
    out = tmp_path / "sol.json"
    r = _cli(plugin_path, "solve", EXAMPLE, "-a", "fifo", "-o", out)
    assert r.returncode == 0, r.stderr
    sol = json.loads(out.read_text())
    assert sol["algorithm"] == "fifo" and 0 < sol["served"] <= 20  # a heuristic never beats the optimum
    r = _cli(plugin_path, "verify", EXAMPLE, out)
    assert r.returncode == 0 and r.stdout.startswith("ok: feasible"), r.stdout + r.stderr


def test_plugin_params_are_checked(plugin_path, tmp_path):
    r = _cli(plugin_path, "solve", EXAMPLE, "-a", "fifo", "-p", "max_user=3")
    assert r.returncode == 2 and "did you mean 'max_users'" in r.stderr
    r = _cli(plugin_path, "solve", EXAMPLE, "-a", "fifo", "-p", "max_users=0")
    assert r.returncode == 2 and "max_users" in r.stderr and "minimum" in r.stderr
    r = _cli(plugin_path, "solve", EXAMPLE, "-a", "fifo", "-p", "max_users=2")
    assert r.returncode == 0, r.stderr
    n_models = len(json.loads(EXAMPLE.read_text())["models"])
    batches = json.loads(r.stdout)["batches"]
    assert batches and all(len(b["users"]) <= 2 for b in batches) and len(batches) <= n_models


def test_plugin_through_the_front_door(plugin_path):
    code = ("import edgeinfer\n"
            f"sol = edgeinfer.solve({str(EXAMPLE)!r}, 'fifo', max_users=5)\n"
            "print('fifo' in edgeinfer.algorithms('partial_loading'), sol.status.value)")
    env = {**os.environ, "PYTHONPATH": str(plugin_path)}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["True", "feasible"]


def test_plugin_found_after_its_framework_was_imported(plugin_path):
    """Importing the framework first registers partial_loading; the plugin is still looked up."""
    code = ("import edgeinfer.loading, edgeinfer\n"
            f"print(edgeinfer.solve({str(EXAMPLE)!r}, 'fifo').algorithm)")
    env = {**os.environ, "PYTHONPATH": str(plugin_path)}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert r.returncode == 0 and r.stdout.strip() == "fifo", r.stderr


def test_plugin_solver_in_a_study(plugin_path, tmp_path):
    """`reproduce --algorithms` compares the plugin's solver with built-in ones in the study."""
    out = tmp_path / "pl"
    r = _cli(plugin_path, "reproduce", "partial-loading", "--algorithms", "bs:spec,bs:fifo", "-n", "1",
             "--jobs", "1", "--no-figures", "--set", "n_users=20", "--set", "n_models_bs=6",
             "--set", "n_models_general=5", "--out", out)
    assert r.returncode == 0, r.stderr
    assert "bs:fifo" in r.stdout and "bs:spec" in r.stdout
    m = json.loads((out / "summary.json").read_text())["metrics"]
    assert 0 < m["bs:fifo"]["served_ratio"]["mean"] <= m["bs:spec"]["served_ratio"]["mean"]  # spec is exact
    r = _cli(plugin_path, "reproduce", "partial-loading", "--algorithms", "bs:fifoo", "--out", tmp_path / "x")
    assert r.returncode == 2 and "did you mean 'bs:fifo'" in r.stderr, r.stderr
