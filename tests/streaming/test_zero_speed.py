"""A user whose energy budget is 0 cannot compute: verify says so (exit 1), never crashes
(found by tests/fuzz/test_fuzz_files.py: ZeroDivisionError in finish_time_from_downloads)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from edgeinfer.cli import main
from edgeinfer.streaming.model import finish_time_from_downloads, finish_time_recursion

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "slide_small.json"


def test_zero_speed_never_finishes():
    assert finish_time_from_downloads(np.array([0.1, 0.2]), np.array([1.0, 2.0]), 0.0) == math.inf
    assert finish_time_from_downloads(np.array([0.1, 0.2]), np.array([0.0, 0.0]), 0.0) == 0.2
    assert finish_time_recursion([1.0], [1.0], 1.0, 0.0) == math.inf


def test_zero_budget_user_under_a_solution_that_serves_it(tmp_path, capsys):
    sol = tmp_path / "sol.json"
    assert main(["solve", str(EXAMPLE), "-a", "slide", "-o", str(sol)]) == 0
    doc = json.loads(EXAMPLE.read_text())
    served = {e["user"] for e in json.loads(sol.read_text())["users"]}
    k = next(i for i, u in enumerate(doc["users"]) if u["id"] in served)
    doc["users"][k]["energy_budget_j"] = 0
    inst = tmp_path / "inst.json"
    inst.write_text(json.dumps(doc))
    capsys.readouterr()
    assert main(["verify", str(inst), str(sol)]) == 1
    assert "exceeds the budget 0 J" in capsys.readouterr().out
    for alg in ("slide", "slide-dynamic", "sequential", "equal-bandwidth"):
        assert main(["solve", str(inst), "-a", alg, "-o", str(tmp_path / f"{alg}.json")]) == 0
