"""The ``slide`` study runs through the experiment engine and reports served_ratio per algorithm."""

from __future__ import annotations

import pytest

pytest.importorskip("pandas")


def test_slide_study_quick(tmp_path):
    from edgeinfer.experiments.engine import run_study

    res = run_study("slide", tmp_path, quick=True, realisations=1, jobs=1, figures=False)
    m = res.summary["metrics"]
    assert set(m) == {"slide", "slide-dynamic", "sequential", "equal-bandwidth"}
    r = {a: m[a]["served_ratio"]["mean"] for a in m}
    assert r["sequential"] <= r["slide"] <= r["slide-dynamic"]
    assert r["equal-bandwidth"] <= r["slide"]
    assert res.tasks_executed == res.tasks_total
