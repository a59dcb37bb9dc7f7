"""The mba study: run_task rows and claims on tiny libraries, Fig. 9's rows (pipeline faked)."""

from __future__ import annotations

import pytest


def test_engine_declaration_run_task_and_claims():
    import numpy as np
    import pandas as pd

    from edgeinfer.experiments.studies.mba import STUDY, run_task
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



def _fake_pipeline(**kw):
    return {"latency_s": [0.0, 0.01, 0.02], "mba_accuracy": [[0.5, 0.6], [0.7, 0.8], [0.9, 0.9]],
            "unicast_accuracy": [[0.5, 0.6], [0.6, 0.6], [0.95, 0.97]], "mba_blocks": 3, "unicast_blocks": 4,
            "mba_total_latency_s": 0.015, "unicast_total_latency_s": 0.02, "surrogate": {"pearson_r": 0.8},
            "kw": kw}


def test_fig9_rows_and_summary(monkeypatch):
    """With ``fig9``, realisation 0 adds one row per latency limit for mba and unicast (the torch
    pipeline is faked here: training is a slow test of its own), and the summary tabulates them."""
    import sys
    import types

    import numpy as np
    import pandas as pd

    from edgeinfer.experiments.studies import mba

    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    seen = {}

    def fake(**kw):
        seen.update(kw)
        return _fake_pipeline(**kw)

    monkeypatch.setitem(sys.modules, "edgeinfer.broadcast.pipeline", types.SimpleNamespace(run_pipeline=fake))
    params = {**mba.STUDY.defaults(True), "num_devices": 3, "num_positions": 4, "fig9": True}
    task = mba.TaskSpec(study="mba", params=params, algorithms=tuple(mba.STUDY.algorithms), realisation=0,
                        seed=np.random.SeedSequence(0))
    rows = mba.run_task(task)
    f9 = [r for r in rows if r["accuracy"] is not None]
    assert len(f9) == 6 and {r["algorithm"] for r in f9} == {"mba", "unicast"}
    assert seen == {"seed": 0, "epochs_base": 10, "epochs_task": 5, "num_permutations": 8}  # quick preset
    assert [r["accuracy"] for r in f9 if r["algorithm"] == "mba"] == pytest.approx([0.55, 0.75, 0.9])
    df = pd.DataFrame([{**params, **r, "sweep": "fig9"} for r in rows])
    extra = mba.STUDY.summary(df)
    assert extra["fig9"]["blocks"] == {"mba": 3.0, "unicast": 4.0}
    assert extra["fig9"]["surrogate_pearson_r"] == 0.8
    later = mba.TaskSpec(study="mba", params=params, algorithms=("greedy",), realisation=1,
                         seed=np.random.SeedSequence(0, spawn_key=(1,)))
    assert all(r["accuracy"] is None for r in mba.run_task(later))  # trained once, at realisation 0


@pytest.mark.slow
def test_fig9_trains_for_real():
    """Fig. 9 through run_task with the real torch pipeline (quick preset's epochs, ~10 s)."""
    import numpy as np

    from edgeinfer.experiments.studies import mba

    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    params = {**mba.STUDY.defaults(True), "num_devices": 3, "num_positions": 4, "fig9": True}
    task = mba.TaskSpec(study="mba", params=params, algorithms=("mba", "unicast"), realisation=0,
                        seed=np.random.SeedSequence(0))
    f9 = [r for r in mba.run_task(task) if r["accuracy"] is not None]
    assert len(f9) == 24 and all(0.0 <= r["accuracy"] <= 1.0 for r in f9)
    assert 0.0 < f9[0]["fig9_pearson_r"] <= 1.0
