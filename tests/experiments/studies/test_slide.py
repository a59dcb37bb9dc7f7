"""The ``slide`` study runs through the experiment engine and reports served_ratio per algorithm."""

from __future__ import annotations

import pytest

pytest.importorskip("pandas")


def test_slide_study_quick(tmp_path):
    from edgeinfer.experiments.engine import run_study

    res = run_study("slide", tmp_path, quick=True, realisations=1, jobs=1, figures=False, setting="default")
    m = res.summary["metrics"]
    assert set(m) == {"slide", "slide-dynamic", "sequential", "equal-bandwidth"}
    r = {a: m[a]["served_ratio"]["mean"] for a in m}
    assert r["sequential"] <= r["slide"] <= r["slide-dynamic"]
    assert r["equal-bandwidth"] <= r["slide"]
    assert res.tasks_executed == res.tasks_total


def test_paper_setting_uses_real_models_and_pipelining_pays():
    """The paper setting: PartialLoading's ResNets, users, bandwidth, deadline and link, IoT/phone
    devices; on it SLIDE serves more users than download-then-infer (compute is comparable to the
    download), on the default setting the tiny ViT makes them nearly equal."""
    import numpy as np
    import pandas as pd

    from edgeinfer.experiments.studies import slide
    from edgeinfer.experiments.study import TaskSpec

    p = slide.STUDY.defaults(False, "paper")
    assert slide.MODEL_SETS[p["models"]] == ("resnet18", "resnet34", "resnet50")
    assert (p["num_users"], p["bandwidth_hz"], p["deadline_s"], p["link"]) == (80, 200e6, 0.7, "disk")
    rows = []
    for setting in ("default", "paper"):
        for r in range(3):
            params = slide.STUDY.defaults(True, setting)
            task = TaskSpec(study="slide", params=params, algorithms=("slide", "sequential"), realisation=r,
                            seed=np.random.SeedSequence(0, spawn_key=(r,)))
            inst = slide.instance(task)
            assert inst.model_ids == slide.MODEL_SETS[params["models"]]
            rows += [{**row, "sweep": "default", "realisation": r, "setting": setting}
                     for row in slide.run_task(task)]
    df = pd.DataFrame(rows)
    assert set(df["bandwidth_mhz"]) == {100.0, 200.0}
    ratio = slide.CLAIMS[0].measure
    paper = ratio(df[df["setting"] == "paper"])
    default = ratio(df[df["setting"] == "default"])
    assert len(paper) == 3 and min(paper) >= 1.0 and np.mean(paper) > np.mean(default)
    assert all(c.judged for c in slide.STUDY.claims)
