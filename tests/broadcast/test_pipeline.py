"""The real Shapley pipeline on scikit-learn's digits (torch): tiny run by default, full run slow."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("sklearn")


@pytest.fixture(scope="module")
def tiny():
    from edgeinfer.broadcast.pipeline import build_library

    return build_library(("digit", "parity", "mirror"), num_positions=2, epochs_base=4, epochs_task=2, seed=0)


def test_shapley_efficiency_and_exact_vs_mc(tiny):
    from edgeinfer.broadcast.pipeline import shapley_scores

    I = shapley_scores(tiny, num_permutations=None)  # noqa: E741
    assert I.shape == (3, 2, 3)
    for i in range(3):
        for k in range(3):
            full = tiny.accuracy(k, [i, i])
            base = tiny.accuracy(k, [None, None])
            assert I[i, :, k].sum() == pytest.approx(full - base, abs=1e-6)
    # with 2 players the two antithetic orderings are all orderings: MC equals exact
    mc = shapley_scores(tiny, num_permutations=2)
    np.testing.assert_allclose(mc, I, atol=1e-9)


def test_fig9_curves_endpoints(tiny):
    from edgeinfer.broadcast.pipeline import fig9_curves, shapley_scores

    I = shapley_scores(tiny, num_permutations=2)  # noqa: E741
    out = fig9_curves(tiny, I, qos_fraction=0.8)
    mba, uni = np.array(out["mba_accuracy"]), np.array(out["unicast_accuracy"])
    np.testing.assert_allclose(mba[0], out["backup_accuracy"])  # nothing received at L = 0
    np.testing.assert_allclose(uni[0], out["backup_accuracy"])
    np.testing.assert_allclose(uni[-1], out["own_accuracy"])  # everything received at the end
    assert out["mba_blocks"] <= out["unicast_blocks"]
    assert out["mba_total_latency_s"] <= out["unicast_total_latency_s"] * (1 + 1e-9)


@pytest.mark.slow
def test_full_pipeline():
    from edgeinfer.broadcast.pipeline import run_pipeline

    out = run_pipeline()
    assert out["mba_blocks"] < out["unicast_blocks"]
    assert out["surrogate"]["pearson_r"] > 0.5
