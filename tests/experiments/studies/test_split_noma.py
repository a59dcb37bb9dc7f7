"""The split-noma study: settings, base-normalised workload figures, claim measures, the engine."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from edgeinfer.experiments.study import TaskSpec

pd = pytest.importorskip("pandas")


def test_study_module_is_light() -> None:
    import subprocess
    import sys

    code = ("import sys, edgeinfer.experiments.studies.split_noma; "
            "print([m for m in ('torch', 'matplotlib', 'scipy.optimize') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_paper_setting_edge_draws_50_dbm_at_full_allocation() -> None:
    """The paper setting's edge energy: one device holding all r_max units draws 100 W (50 dBm)."""
    from edgeinfer.experiments.studies.split_noma import PAPER_SETTING, STUDY
    from edgeinfer.split.scenario import make_instance

    d = STUDY.defaults(False, "paper")
    assert {k: d[k] for k in PAPER_SETTING} == PAPER_SETTING
    inst = make_instance(seed=0, num_aps=1, users_per_ap=1, edge_j_per_flop_unit=d["edge_j_per_flop_unit"])
    speed = inst.speedup(np.array(inst.r_max)) * inst.edge_unit_flops_per_s
    assert inst.edge_kappa * speed**3 == pytest.approx(100.0)
    # higher than the device's energy per FLOP, as Sec. VI-B says
    assert inst.edge_kappa * speed**2 > d["device_j_per_flop"]


def _rows(**over):
    from edgeinfer.experiments.studies.split_noma import STUDY

    p = STUDY.defaults(True)
    p.update({"num_aps": 1, "users_per_ap": 2, "num_subchannels": 2, "model": "nin", **over})
    t = TaskSpec("split-noma", p, ("device-only", "neurosurgeon", "ecc-oma", "table1:li-gd", "table1:gd"), 0,
                 np.random.SeedSequence(7), True)
    return {r["algorithm"]: r for r in STUDY.run_task(t)}


def test_workload_normalised_to_the_base_workload_and_table1_only_when_asked() -> None:
    """Figs. 8/11: ratios to Device-Only at 1 image per task, so they fall as the workload grows
    (per-workload ratios stay flat: every cost is linear in the workload)."""
    one, two = _rows(workload=1.0), _rows(workload=2.0)
    assert "table1:gd" not in one  # the slow Table I rows run only in the table1 sweep
    assert one["device-only"]["latency_speedup_base"] == pytest.approx(1.0)
    assert two["device-only"]["latency_speedup_base"] == pytest.approx(0.5)
    assert two["device-only"]["energy_reduction_base"] == pytest.approx(0.5)
    for alg in ("neurosurgeon", "ecc-oma"):
        assert two[alg]["latency_speedup"] == pytest.approx(one[alg]["latency_speedup"], rel=1e-6)
        assert two[alg]["latency_speedup_base"] == pytest.approx(one[alg]["latency_speedup_base"] / 2, rel=1e-6)
    t1 = _rows(table1=True)
    assert t1["table1:gd"]["iterations"] > 0 and t1["table1:li-gd"]["iterations"] > 0


def test_measures_give_one_value_per_realisation() -> None:
    from edgeinfer.experiments.studies.split_noma import (
        _end_over_start,
        _over_models,
        _peak_subchannels,
    )

    rows = []
    for r in (0, 1):
        for model, a, b in (("nin", 2.0, 1.0), ("vgg16", 6.0, 4.0)):
            rows += [{"sweep": "model", "realisation": r, "model": model, "algorithm": "li-gd", "x": a + r},
                     {"sweep": "model", "realisation": r, "model": model, "algorithm": "ecc-oma", "x": b}]
        for m, v in ((2, 1.0), (4, 3.0), (6, 2.0 + 2 * r)):
            rows.append({"sweep": "subchannels", "realisation": r, "num_subchannels": m, "algorithm": "li-gd",
                         "latency_speedup": v})
    df = pd.DataFrame(rows)
    assert _over_models("li-gd", "x", "min")(df) == [2.0, 3.0]
    assert _over_models("li-gd", "x", model="vgg16")(df) == [6.0, 7.0]
    assert _over_models("li-gd", "x", "min", versus="ecc-oma")(df) == [1.5, 1.75]
    assert _end_over_start("subchannels", "num_subchannels", "li-gd", "latency_speedup")(df) == [2.0, 4.0]
    assert _peak_subchannels(df) == [4.0, 6.0]
    assert _over_models("dnn-surgery", "x")(df) == []


def test_every_claim_is_judged_with_reasons_and_docs() -> None:
    from edgeinfer.experiments.studies.split_noma import STUDY

    for c in STUDY.claims:
        assert c.target is not None or c.verdict is not None, c.text
        assert c.source and c.docs == "docs/split.md#reproduction" and c.unit, c.text
        assert {"reproduced", "not reproduced"} <= set(c.reasons), c.text
        assert c.setting in (None, "paper")
        if c.target is not None and c.partly is not None:
            assert c.partly[0] <= c.target[0] and c.target[1] <= c.partly[1], c.text
    texts = " ".join(c.text for c in STUDY.claims)
    assert "0.85 to 0.97" in texts  # ECC's energy beside Device-Only (issue 14)
    assert not any(math.isnan(v) for c in STUDY.claims for v in (c.target or ()))


def test_engine_study_small(tmp_path) -> None:
    """``edgeinfer reproduce split-noma`` through the engine, on tiny drops, default setting: every
    algorithm reports, Device-Only is the unit of the ratios, no algorithm's objective is worse
    than running everything locally (li-gd compares with it), and every claim has a verdict."""
    import dataclasses

    from edgeinfer.experiments.engine import run_study
    from edgeinfer.experiments.studies.split_noma import ALGORITHMS, STUDY, STUDY_ALGORITHMS
    from edgeinfer.experiments.study import Axis

    tiny = {"model": Axis("model", quick=("nin",), full=("nin",)), "table1": STUDY.sweeps["table1"],
            "density": Axis("users_per_ap", quick=(1, 3), full=(1, 3))}
    small = dataclasses.replace(STUDY, sweeps=tiny, figures=[f for f in STUDY.figures
                                                            if STUDY.figure_sweep(f) in (*tiny, "default")])
    res = run_study(small, tmp_path, quick=True, realisations=1, jobs=1, figures=False, setting="default",
                    overrides={"num_aps": 1, "users_per_ap": 2, "num_subchannels": 2, "model": "nin"})
    assert res.tasks_executed == res.tasks_total > 0
    assert set(res.summary["metrics"]) == set(ALGORITHMS)  # table1 rows: only in sweep table1
    df = pd.read_parquet(tmp_path / "results.parquet")
    assert set(df["algorithm"]) == set(STUDY_ALGORITHMS)
    dev = df[df["algorithm"] == "device-only"]
    assert (dev["latency_speedup"] == 1.0).all() and (dev["energy_reduction"] == 1.0).all()
    key = ["sweep", "point", "realisation"]
    obj = df.pivot_table(index=key, columns="algorithm", values="objective")
    assert (obj["li-gd"] <= obj["device-only"] * (1 + 1e-9)).all()
    # Neurosurgeon falls back to local execution: never slower than Device-Only
    assert (df[df["algorithm"] == "neurosurgeon"]["latency_speedup"] >= 1.0 - 1e-9).all()
    claims = json.loads((tmp_path / "claims.json").read_text())["claims"]
    measured = [c for c in claims if c["verdict"] != "not measured"]  # subchannel/workload sweeps left out
    assert any("Corollary 4" in c["source"] for c in measured)
    assert any("Fig. 9" in c["source"] for c in measured)  # the density sweep
    assert all(c["verdict"] in ("reproduced", "partly", "not reproduced") for c in measured)
    # the paper's numbers are judged under `paper` only
    assert len(claims) == sum(c.setting is None for c in STUDY.claims)
