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


def test_engine_declaration_run_task_and_claims():
    pytest.importorskip("edgeinfer.experiments.study")
    import numpy as np
    import pandas as pd

    from edgeinfer.broadcast.study import STUDY, run_task
    from edgeinfer.experiments.study import TaskSpec

    assert STUDY is not None and STUDY.name == "mba"
    rows_all = []
    for sweep, over in (("default", {}), ("energy", {"energy_j": 200.0}), ("energy", {"energy_j": 320.0}),
                        ("devices", {"num_devices": 8})):
        params = {**STUDY.defaults(True), "num_devices": 3, "num_positions": 4, **over}
        if sweep == "devices":
            params["num_positions"] = 3
        task = TaskSpec(study="mba", params=params, algorithms=tuple(STUDY.algorithms), realisation=0,
                        seed=np.random.SeedSequence(0))
        rows = run_task(task)
        assert {r["algorithm"] for r in rows} == set(STUDY.algorithms)
        for r in rows:
            rows_all.append({**r, **params, "sweep": sweep})
    df = pd.DataFrame(rows_all)
    d = df[df["sweep"] == "default"].set_index("algorithm")
    assert d.loc["bnb", "blocks"] <= d.loc["greedy", "blocks"] <= d.loc["unicast", "blocks"]
    assert d.loc["mba", "latency_s"] <= d.loc["mba-constant-power", "latency_s"] * (1 + 1e-9)
    vals = [c.measure(df) for c in STUDY.claims]
    assert 0 < vals[0] < 1 and vals[1] >= 0 and vals[2] >= 0 and vals[3] >= 0

