"""The standalone mba study on a tiny grid (default suite) and quick mode (slow)."""

from __future__ import annotations

import json

import pytest

from edgeinfer.broadcast.study import main, run_study


def test_tiny_study_shapes_and_claims():
    res = run_study(quick=True, pipeline=False, devices=(2, 3), num_positions=4)
    s = res["summary"]
    assert set(s["latency_s"]) == {"mba", "mba-constant-power", "unicast"}
    assert s["latency_s"]["mba"] <= s["latency_s"]["mba-constant-power"] * (1 + 1e-9)
    assert s["blocks"]["bnb"] <= s["blocks"]["greedy"] <= s["blocks"]["unicast"]
    f7 = res["figures"]["fig7"]
    assert all(a >= b for a, b in zip(f7["mba"], f7["mba"][1:]))  # more energy, less latency
    assert len(s["claims"]) == 7


@pytest.mark.slow
def test_quick_study_cli(tmp_path):
    assert main(["--quick", "--out", str(tmp_path)]) == 0
    s = json.loads((tmp_path / "summary.json").read_text())
    assert s["latency_s"]["mba"] < s["latency_s"]["unicast"]
