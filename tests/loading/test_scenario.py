"""The §VII scenario generator."""

from __future__ import annotations

import numpy as np
import pytest

from edgeinfer.core.errors import UnsupportedInstanceError
from edgeinfer.core.registry import solve
from edgeinfer.loading import verify
from edgeinfer.loading.costs import detect_backbone
from edgeinfer.loading.scenario import (
    ScenarioConfig,
    make_instance,
    model_library,
    server_constants,
)


def test_backbone_scenario():
    cfg = ScenarioConfig()
    inst = make_instance(cfg, 0)
    assert inst.n_models == 50 and inst.n_users == 80
    assert inst.bandwidth_hz == 200e6 and inst.deadline_s == 0.7
    np.testing.assert_allclose(inst.data_bits, 128 * 128 * 3 * 8)
    assert np.all(inst.spectral_efficiency > 0)
    bb = detect_backbone(inst)
    assert len(bb.clusters) == 3
    lib = model_library("backbone", 50, 0.85, 0, "layers")
    assert abs(lib.frozen_ratio(measure="layers") - 0.85) < 0.011
    # same seed, same instance; another seed, other users
    again = make_instance(cfg, 0)
    np.testing.assert_array_equal(again.spectral_efficiency, inst.spectral_efficiency)
    other = make_instance(cfg, 1)
    assert not np.array_equal(other.spectral_efficiency, inst.spectral_efficiency)
    sp = solve("partial_loading", "spec", inst)
    ind = solve("partial_loading", "independent", inst)
    assert verify(inst, sp).ok and verify(inst, ind).ok
    assert ind.objective <= sp.objective


def test_general_scenario_is_not_backbone():
    inst = make_instance(ScenarioConfig(case="general", n_users=30), 3)
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
