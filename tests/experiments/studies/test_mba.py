"""The mba study: run_task rows and claims on tiny libraries, Fig. 9's rows (pipeline faked)."""

from __future__ import annotations

import pytest


def _task(params, algorithms=None, realisation=0):
    import numpy as np

    from edgeinfer.experiments.studies.mba import STUDY
    from edgeinfer.experiments.study import TaskSpec

    return TaskSpec(study="mba", params=params, algorithms=tuple(algorithms or STUDY.algorithms),
                    realisation=realisation, seed=np.random.SeedSequence(0, spawn_key=(realisation,)))


def test_engine_declaration_run_task_and_claims():
    import math

    import pandas as pd

    from edgeinfer.experiments.studies.mba import STUDY, run_task

    assert STUDY is not None and STUDY.name == "mba"
    assert STUDY.setting_names == ("default", "paper", "paper-independent")
    assert all(c.judged and c.setting in STUDY.setting_names for c in STUDY.claims)
    rows_all = []
    for r in range(2):
        for sweep, over in (("default", {}), ("energy", {"energy_j": 200.0}), ("energy", {"energy_j": 320.0}),
                            ("devices", {"num_devices": 8})):
            params = {**STUDY.defaults(True, "paper"), "num_devices": 3, "num_positions": 4, "channel_drops": 4,
                      **over}
            if sweep == "devices":
                params["num_positions"] = 3
            rows = run_task(_task(params, realisation=r))
            assert {r["algorithm"] for r in rows} == set(STUDY.algorithms)
            assert sorted({r["drop"] for r in rows}) == [0, 1, 2, 3]
            for row in rows:
                rows_all.append({**params, **row, "sweep": sweep, "realisation": r})
    df = pd.DataFrame(rows_all)
    d = df[(df["sweep"] == "default") & (df["drop"] == 0) & (df["realisation"] == 0)].set_index("algorithm")
    assert d.loc["bnb", "blocks"] <= d.loc["greedy", "blocks"] <= d.loc["unicast", "blocks"]
    assert d.loc["mba", "latency_s"] <= d.loc["mba-constant-power", "latency_s"] * (1 + 1e-9)
    paper = [c for c in STUDY.claims if c.setting == "paper"]
    unicast, c200, c320, g8, g17, fig8u, fig8c = (c.measure for c in paper)
    assert len(unicast(df)) == 2 * 2 * 4 and all(0 < v < 100 for v in unicast(df))  # per drop, both budgets
    assert len(c200(df)) == 2 * 4 and all(v >= -1e-9 for v in c200(df) + c320(df))
    assert len(g8(df)) == 2 and all(v >= 0 for v in g8(df))  # per library
    assert all(0 < v <= 1 for v in fig8u(df)) and all(0 < v <= 1 + 1e-9 for v in fig8c(df))
    with pytest.raises(ValueError, match="17-device"):
        g17(df)
    extra = STUDY.summary(df)
    assert extra["drops_feasible_fraction"] == 1.0
    assert set(extra["constant_power_penalty_pct_per_drop"]) == {"200", "320"}
    assert math.isclose(extra["constant_power_penalty_pct_per_drop"]["200"]["mean"], sum(c200(df)) / 8)


def test_channel_drops_share_the_selection_and_mark_infeasible_budgets():
    """Drop 0 is the task's instance whatever the number of drops; later drops draw new gains on
    the same library (same blocks, other latencies); a budget below the least energy leaves the
    drop's latencies NaN with ``drop_feasible`` false instead of failing the task."""
    import math

    from edgeinfer.experiments.studies.mba import STUDY, run_task

    base = {**STUDY.defaults(True, "paper"), "num_devices": 3, "num_positions": 4}
    one = run_task(_task({**base, "channel_drops": 1}))
    many = run_task(_task({**base, "channel_drops": 3}))
    first = [r for r in many if r["drop"] == 0]
    assert [(r["algorithm"], r["latency_s"], r["blocks"]) for r in one] == \
        [(r["algorithm"], r["latency_s"], r["blocks"]) for r in first]
    lat = {r["drop"]: r["latency_s"] for r in many if r["algorithm"] == "mba"}
    assert len(set(lat.values())) == 3  # other channels, other latencies
    assert len({r["blocks"] for r in many if r["algorithm"] == "bnb"}) == 1  # one selection
    poor = run_task(_task({**base, "channel_drops": 2, "energy_j": 1e-6}))
    assert all(r["drop_feasible"] is False and math.isnan(r["latency_s"]) for r in poor)
    # the same drops at every budget: a drop the sweep's least budget cannot serve is left out
    # even where this point's budget could pay for it
    strict = run_task(_task({**base, "channel_drops": 2, "feasible_energy_j": 1e-6}))
    assert all(r["drop_feasible"] is False and math.isnan(r["latency_s"]) for r in strict)
    assert all(r["drop_feasible"] is True for r in many)


def test_settings_are_valid_and_quick():
    from edgeinfer.experiments.studies.mba import STUDY

    for name in STUDY.setting_names:
        d = STUDY.defaults(True, name)
        assert d["bnb_time_limit_s"] == 2.0  # the quick preset keeps bnb short in every setting
    paper = STUDY.defaults(False, "paper")
    assert (paper["noise_w"], paper["qos_fraction"], paper["library"]) == (5e-4, 0.95, "clone")
    assert paper["channel_drops"] >= 30
    assert STUDY.defaults(False, "paper-independent")["library"] == "independent"


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
