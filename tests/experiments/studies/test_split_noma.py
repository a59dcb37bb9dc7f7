"""The split-noma study through the experiment engine."""

from __future__ import annotations

import json

import pytest


def test_study_module_is_light() -> None:
    import subprocess
    import sys

    code = ("import sys, edgeinfer.experiments.studies.split_noma; "
            "print([m for m in ('torch', 'matplotlib', 'scipy.optimize') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_engine_study_small(tmp_path) -> None:
    """``edgeinfer reproduce split-noma`` through the engine, on tiny drops: every algorithm
    reports, Device-Only is the unit of the ratios, and no algorithm's objective is worse than
    running everything locally (li-gd compares with it)."""
    pytest.importorskip("pandas")
    import pandas as pd

    from edgeinfer.experiments.engine import run_study
    from edgeinfer.experiments.studies.split_noma import STUDY_ALGORITHMS

    res = run_study("split-noma", tmp_path, quick=True, realisations=1, jobs=1, figures=False,
                    overrides={"num_aps": 1, "users_per_ap": 2, "num_subchannels": 2})
    assert res.tasks_executed == res.tasks_total > 0
    assert set(res.summary["metrics"]) == set(STUDY_ALGORITHMS)
    df = pd.read_parquet(tmp_path / "results.parquet")
    dev = df[df["algorithm"] == "device-only"]
    assert (dev["latency_speedup"] == 1.0).all() and (dev["energy_reduction"] == 1.0).all()
    key = ["sweep", "point", "realisation"]
    obj = df.pivot_table(index=key, columns="algorithm", values="objective")
    assert (obj["li-gd"] <= obj["device-only"] * (1 + 1e-9)).all()
    claims = {c["claim"]: c for c in json.loads((tmp_path / "summary.json").read_text())["claims"]}
    assert any("Corollary 4" in k for k in claims)
