"""The partial-loading study declaration: run_task rows, claims and summary on a simulated run."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from edgeinfer.experiments.studies.partial_loading import STUDY, STUDY_ALGOS
from edgeinfer.experiments.study import TaskSpec

pd = pytest.importorskip("pandas")


def _simulate(realisations: int = 1):
    d = STUDY.defaults(True)
    points = [("default", 0, dict(d))]
    for sname, ax in STUDY.sweeps.items():
        for j, v in enumerate(ax.values(True)):
            q = dict(d)
            q[ax.param] = STUDY.param_map[ax.param].coerce(v)
            points.append((sname, j, q))
    rows = []
    for sname, j, params in points:
        for r in range(realisations):
            t = TaskSpec("partial-loading", params, tuple(STUDY.algorithms), r,
                         np.random.SeedSequence(0, spawn_key=(r,)), True)
            for row in STUDY.run_task(t):
                rows.append({"sweep": sname, "point": j, "realisation": r, **params, **row})
    return pd.DataFrame(rows)


def test_points_measure_is_a_difference_not_a_ratio():
    """Fig. 6's "+24 %" is read as percentage points: 0.80 vs 0.60 is +20 points (+33 % relative)."""
    from edgeinfer.experiments.studies.partial_loading import _points_over, _relative_over

    rows = [{"sweep": "users", "realisation": r, "n_users": k, "algorithm": a, "served_ratio": v}
            for r in (0, 1) for k in (60, 100) for a, v in (("bs:spec", 0.8), ("bs:independent", 0.6))]
    df = pd.DataFrame(rows)
    assert np.allclose(_points_over("users", "bs:spec", "bs:independent")(df), [20.0, 20.0])
    assert np.allclose(_relative_over("users", "bs:spec", "bs:independent")(df), [100 / 3, 100 / 3])


def test_registered_and_light():
    from edgeinfer.experiments import get_study

    assert get_study("partial-loading") is STUDY
    assert set(STUDY.algorithms) == set(STUDY_ALGOS)


def test_run_task_rows_and_claims():
    df = _simulate()
    # one row per algorithm per point, every metric a number
    counts = df.groupby(["sweep", "point"])["algorithm"].nunique()
    assert (counts == len(STUDY.algorithms)).all()
    assert df["served_ratio"].between(0, 1).all() and (df["runtime_s"] >= 0).all()
    m = df.groupby(["sweep", "point", "algorithm"])["served_ratio"].mean().unstack()
    assert (m["bs:independent"] <= m["bs:spec"] + 1e-12).all()
    assert (m["bs:gen"] <= m["bs:spec"] + 1e-12).all()
    assert (m["bs:spec-slotted"] <= m["bs:spec"] + 1e-12).all()
    fig9 = df[df["sweep"] == "fig9"]
    assert np.allclose(fig9[fig9["algorithm"] == "bs:spec"]["served_ratio"],
                       fig9[fig9["algorithm"] == "bs:spec"]["exact_served_ratio"])
    for c in STUDY.claims:
        v = np.asarray(c.measure(df), dtype=float)
        assert v.size >= 1 and np.isfinite(v).all(), c.text
        assert c.target is not None or c.verdict == "not comparable", c.text
        assert c.docs.startswith("docs/loading.md#") and c.source, c.text
    (same,) = [c for c in STUDY.claims if "matches the exhaustive" in c.text]
    assert np.allclose(same.measure(df), 0.0)
    units = {c.unit for c in STUDY.claims}
    assert "fraction" not in units and any(u.startswith("% points") for u in units)
    extra = STUDY.summary(df)
    assert set(extra["fig9"]) == set(STUDY.algorithms)
    assert extra["spec_slotted_minus_spec_points"] <= 1e-9


@pytest.mark.skipif(importlib.util.find_spec("edgeinfer.experiments.engine") is None,
                    reason="experiment engine not available")
def test_engine_quick_run(tmp_path):
    from edgeinfer.experiments.engine import run_study

    res = run_study("partial-loading", out_dir=tmp_path, quick=True, realisations=1, jobs=1)
    assert set(res.summary["metrics"]) == set(STUDY.algorithms)
