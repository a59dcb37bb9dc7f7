"""The slide generators: one signature, validated instances."""

from __future__ import annotations

import numpy as np
import pytest

from edgeinfer.core.errors import InvalidInstanceError
from edgeinfer.streaming import SlideInstance, dump_instance, load_instance
from edgeinfer.streaming.problem import validate_instance
from edgeinfer.streaming.scenario import (
    ScenarioConfig,
    SyntheticConfig,
    make_instance,
    make_synthetic_instance,
)


def test_make_instance_config_seed_overrides():
    a = make_instance(n_users=20, seed=4)
    b = make_instance(ScenarioConfig(n_users=20), rng=np.random.default_rng(4))
    assert isinstance(a, SlideInstance) and a.num_users == 20 and a.model_ids == ScenarioConfig().models
    np.testing.assert_array_equal(a.deadline_s, b.deadline_s)
    assert all(len(c) == ScenarioConfig().n_candidates for c in a.candidates)
    with pytest.raises(ValueError, match="not both"):
        make_instance(seed=1, rng=np.random.default_rng(1))
    # the same checks as a file: the document round-trips
    again = load_instance(dump_instance(a))
    np.testing.assert_array_equal(again.energy_budget_j, a.energy_budget_j)


def test_make_synthetic_instance():
    s = make_synthetic_instance(SyntheticConfig(n_models=2, n_layers=5), seed=0, n_users=7)
    assert s.num_users == 7 and len(s.model_ids) == 2 and all(len(b) == 5 for b in s.model_bits)
    assert make_synthetic_instance().num_users == SyntheticConfig().n_users


def test_validate_instance_names_the_field():
    s = make_synthetic_instance(n_users=3, seed=1)
    bad = SlideInstance(**{**s.__dict__, "deadline_s": np.array([1.0, -1.0, 1.0])})
    with pytest.raises(InvalidInstanceError, match=r"users\[1\]\.deadline_s"):
        validate_instance(bad)
    bad = SlideInstance(**{**s.__dict__, "candidates": ((0,), (), (1,))})
    with pytest.raises(InvalidInstanceError, match=r"users\[1\]\.models"):
        validate_instance(bad)


def test_disk_link_and_bad_options():
    """``link="disk"``: PartialLoading's link budget (positive, mostly well above the uniform
    link's 1-8 bit/s/Hz in a 250 m cell), seeded; the default link's stream is unchanged."""
    from edgeinfer.core.errors import InvalidOptionError

    u = make_instance(n_users=200, seed=3)
    assert np.all((u.spectral_efficiency >= 1.0) & (u.spectral_efficiency <= 8.0))
    d = make_instance(n_users=200, seed=3, link="disk")
    again = make_instance(n_users=200, seed=3, link="disk")
    np.testing.assert_array_equal(d.spectral_efficiency, again.spectral_efficiency)
    assert np.all(d.spectral_efficiency > 0) and np.median(d.spectral_efficiency) > 8.0
    near = make_instance(n_users=200, seed=3, link="disk", radius_m=10.0)  # a smaller cell: better links
    assert np.median(near.spectral_efficiency) > np.median(d.spectral_efficiency)
    for field, value in (("link", "fibre"), ("radius_m", 0.5), ("classes", ("phone", "toaster")),
                         ("tx_psd_w_per_hz", -1.0), ("noise_dbm_per_hz", float("nan"))):
        with pytest.raises(InvalidOptionError) as ei:
            make_instance(n_users=5, seed=0, **{field: value})
        assert ei.value.field == field
