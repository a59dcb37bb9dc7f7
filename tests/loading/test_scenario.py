"""The §VII scenario generator."""

from __future__ import annotations

import numpy as np
import pytest

from edgeinfer.core.errors import UnsupportedInstanceError
from edgeinfer.core.registry import solve
from edgeinfer.loading import verify
from edgeinfer.loading.model import detect_backbone
from edgeinfer.loading.scenario import (
    ScenarioConfig,
    make_instance,
    model_library,
    server_constants,
)


def test_backbone_scenario():
    cfg = ScenarioConfig()
    inst = make_instance(cfg, seed=0)
    assert inst.n_models == 50 and inst.n_users == 80
    assert inst.bandwidth_hz == 200e6 and inst.deadline_s == 0.7
    np.testing.assert_allclose(inst.data_bits, 128 * 128 * 3 * 8)
    assert np.all(inst.spectral_efficiency > 0)
    bb = detect_backbone(inst)
    assert len(bb.clusters) == 3
    lib = model_library("backbone", 50, 0.85, 0, "layers")
    assert abs(lib.frozen_ratio(measure="layers") - 0.85) < 0.011
    # same seed, same instance; another seed, other users
    again = make_instance(cfg, seed=0)
    np.testing.assert_array_equal(again.spectral_efficiency, inst.spectral_efficiency)
    other = make_instance(cfg, seed=1)
    assert not np.array_equal(other.spectral_efficiency, inst.spectral_efficiency)
    sp = solve("partial_loading", "spec", inst)
    ind = solve("partial_loading", "independent", inst)
    assert verify(inst, sp).ok and verify(inst, ind).ok
    assert ind.objective <= sp.objective


def test_general_scenario_is_not_backbone():
    inst = make_instance(ScenarioConfig(case="general", n_users=30), seed=3)
    assert inst.n_models == 25
    with pytest.raises(UnsupportedInstanceError):
        detect_backbone(inst)
    sol = solve("partial_loading", "gen", inst)
    assert verify(inst, sol).ok


def test_server_constants():
    cfg = ScenarioConfig()
    mu18, beta, b18 = server_constants(cfg, "resnet18_fine")
    mu50, _, b50 = server_constants(cfg, "resnet50_fine")
    assert 0 < mu18 < mu50 < 1e-3 and beta == cfg.fixed_overhead_s
    assert b18 == b50 == 32
    # the mean SNR at the cell edge: P d^-4 / N0 = 5e-9 * 250^-4 / 3.98e-21 ~ 321
    snr = 5e-9 * 250.0**-4 / 10 ** ((-174 - 30) / 10)
    assert snr == pytest.approx(321.5, rel=1e-3)


def test_generators_one_signature():
    """config + seed | rng + overrides; validated instances; same draw for the same seed."""
    from edgeinfer.loading import PartialLoadingInstance
    from edgeinfer.loading.scenario import (
        SyntheticConfig,
        make_synthetic_instance,
        synthetic_instance_doc,
    )

    a = make_instance(n_users=12, n_models=4, seed=5)
    b = make_instance(ScenarioConfig(n_users=12, n_models=4), rng=np.random.default_rng(5))
    assert isinstance(a, PartialLoadingInstance) and a.n_users == 12 and a.n_models == 4
    np.testing.assert_array_equal(a.spectral_efficiency, b.spectral_efficiency)
    with pytest.raises(ValueError, match="not both"):
        make_instance(seed=1, rng=np.random.default_rng(1))
    s = make_synthetic_instance(SyntheticConfig(kind="backbone"), seed=3, n_users=9)
    assert s.n_users == 9
    doc = synthetic_instance_doc(seed=3, kind="backbone", n_users=9)
    np.testing.assert_array_equal(s.data_bits, [u["data_bits"] for u in doc["users"]])
    assert make_synthetic_instance().n_users == SyntheticConfig().n_users
