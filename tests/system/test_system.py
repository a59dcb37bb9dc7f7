"""Each system formula against a hand-computed value."""

import math

import numpy as np
import pytest

from edgeinfer.core.units import db_to_linear, dbm_to_w, linear_to_db, w_to_dbm
from edgeinfer.system import (
    VirtualQueue,
    drop_around_aps,
    drop_uniform_disk,
    dynamic_energy_j,
    fdma_rate,
    free_space_gain,
    log_distance_gain,
    md1_is_stable,
    md1_sojourn_time_s,
    multicast_rate,
    nearest_ap,
    noma_downlink_sinr,
    noma_uplink_sinr,
    oma_sinr,
    rayleigh_power,
    rician_power,
    spectral_efficiency,
    transmit_energy_j,
)


def test_db_helpers():
    assert db_to_linear(30) == pytest.approx(1000.0)
    assert linear_to_db(100.0) == pytest.approx(20.0)
    assert dbm_to_w(30) == pytest.approx(1.0)
    assert dbm_to_w(25) == pytest.approx(0.31622776601683794)
    assert w_to_dbm(0.001) == pytest.approx(0.0)
    assert dbm_to_w(-174) == pytest.approx(3.981071705534969e-21)


def test_log_distance():
    assert log_distance_gain(10.0, 4) == pytest.approx(1e-4)
    assert log_distance_gain(100.0, 3, ref_gain=1e-3, ref_distance_m=10.0) == pytest.approx(1e-6)
    with pytest.raises(ValueError):
        log_distance_gain(0.0, 2)


def test_free_space():
    # (c / (4 pi f d))^2 at 1 GHz, 100 m: (0.299792458 / (4 pi 100))^2 = 5.6915e-8
    g = free_space_gain(100.0, 1e9)
    assert g == pytest.approx((0.299792458 / (4 * math.pi * 100.0)) ** 2)
    assert free_space_gain(100.0, 1e9, tx_antenna_gain_dbi=3, rx_antenna_gain_dbi=7) == pytest.approx(10 * g)


def test_drops_in_disk_and_reproducible():
    rng = np.random.default_rng(1)
    p = drop_uniform_disk(rng, 5000, 250.0, min_distance_m=10.0)
    r = np.hypot(p[:, 0], p[:, 1])
    assert r.min() >= 10.0 and r.max() <= 250.0
    # uniform in area: median radius = sqrt((r0^2 + R^2)/2)
    assert np.median(r) == pytest.approx(math.sqrt((100 + 62500) / 2), rel=0.03)
    q = drop_uniform_disk(np.random.default_rng(1), 5000, 250.0, min_distance_m=10.0)
    assert np.array_equal(p, q)
    pos, home = drop_around_aps(np.random.default_rng(2), [[0, 0], [1000, 0]], [3, 4], 100.0)
    assert pos.shape == (7, 2) and list(home) == [0, 0, 0, 1, 1, 1, 1]
    assert list(nearest_ap(pos, [[0, 0], [1000, 0]])) == list(home)


def test_fading_means():
    rng = np.random.default_rng(3)
    assert rayleigh_power(rng, 200_000).mean() == pytest.approx(1.0, rel=0.01)
    x = rician_power(rng, 5.0, 200_000, mean=2.0)
    assert x.mean() == pytest.approx(2.0, rel=0.01)
    # K -> large: almost no fading
    assert rician_power(rng, 1e6, 1000).std() < 0.01


def test_fdma_rate_hand_value():
    # b=0.5, B=10 MHz, p=0.1 W, h=1e-10, N0=1e-20 W/Hz: SNR = 1e-11/(5e6*1e-20) = 200
    r = fdma_rate(0.5, 10e6, 0.1, 1e-10, noise_psd_w_per_hz=1e-20)
    assert r == pytest.approx(5e6 * math.log2(201.0))
    r2 = fdma_rate(0.5, 10e6, 0.1, 1e-10, noise_w=1e-13)
    assert r2 == pytest.approx(5e6 * math.log2(101.0))
    assert fdma_rate(0.0, 10e6, 0.1, 1e-10, noise_psd_w_per_hz=1e-20) == 0.0
    assert spectral_efficiency(3.0) == pytest.approx(2.0)
    with pytest.raises(ValueError):
        fdma_rate(0.5, 1e6, 1, 1)


def test_multicast_worst_receiver():
    assert multicast_rate(1e6, 1.0, [3.0, 1.0, 7.0], 1.0) == pytest.approx(1e6)  # log2(1+1)=1


def test_noma_uplink_three_users_two_cells():
    # Devices 0,1 in cell 0, device 2 in cell 1, all on subchannel 0.
    # cross_gain[u, n]: gain from device u to AP n.
    g = np.array([[4.0, 0.5], [1.0, 0.25], [0.1, 2.0]])
    p = np.array([1.0, 2.0, 0.5])
    n0 = 0.1
    s = noma_uplink_sinr(p, [0, 0, 1], [0, 0, 0], g, n0)
    # dev0 (strongest in cell 0): interference dev1 own 2*1=2, inter dev2->AP0 0.5*0.1=0.05
    assert s[0] == pytest.approx(4.0 / (2.0 + 0.05 + 0.1))
    # dev1: no weaker intra; inter dev2 -> AP0 = 0.05
    assert s[1] == pytest.approx(2.0 / (0.05 + 0.1))
    # dev2 at AP1: inter from dev0 (1*0.5) and dev1 (2*0.25)
    assert s[2] == pytest.approx(1.0 / (0.5 + 0.5 + 0.1))
    # different subchannels: no interference at all
    s2 = noma_uplink_sinr(p, [0, 0, 1], [0, 1, 2], g, n0)
    assert np.allclose(s2, p * g[[0, 1, 2], [0, 0, 1]] / n0)
    # inactive device neither transmits nor interferes
    s3 = noma_uplink_sinr(p, [0, 0, 1], [0, -1, 0], g, n0)
    assert s3[1] == 0 and s3[0] == pytest.approx(4.0 / (0.05 + 0.1))


def test_noma_downlink_three_users_two_cells():
    # cross_gain[u, n]: gain from AP n to device u.
    g = np.array([[4.0, 0.5], [1.0, 0.25], [0.1, 2.0]])
    P = np.array([0.2, 0.8, 1.0])
    n0 = 0.1
    s = noma_downlink_sinr(P, [0, 0, 1], [0, 0, 0], g, n0)
    # dev1 (weaker in cell 0) decodes first: interference from the stronger dev0's signal
    # through its own channel 1.0*0.2, plus AP1's power 1.0 via gain 0.25.
    assert s[1] == pytest.approx(0.8 * 1.0 / (0.2 * 1.0 + 1.0 * 0.25 + 0.1))
    # dev0 (strongest) removes dev1's signal; inter from AP1: 1.0*0.5
    assert s[0] == pytest.approx(0.2 * 4.0 / (0.5 + 0.1))
    # dev2 in cell 1: inter from AP0's total power (0.2+0.8) through gain 0.1
    assert s[2] == pytest.approx(1.0 * 2.0 / (1.0 * 0.1 + 0.1))
    assert oma_sinr(2.0, 3.0, 0.5) == pytest.approx(12.0)


def test_energy_and_md1():
    assert dynamic_energy_j(1e-28, 1e9, 1e9) == pytest.approx(0.1)
    assert transmit_energy_j(0.2, 3.0) == pytest.approx(0.6)
    # lambda=2, mu=4: 1/4 + 2/(2*16*0.5) = 0.25 + 0.125
    assert md1_sojourn_time_s(2.0, 4.0) == pytest.approx(0.375)
    assert md1_sojourn_time_s(4.0, 4.0) == math.inf
    assert bool(md1_is_stable(1.0, 2.0)) and not bool(md1_is_stable(2.0, 2.0))
    q = VirtualQueue(budget=1.0)
    assert q.update(3.0) == 2.0 and q.update(0.5) == 1.5 and q.update(0.0) == 0.5 and q.update(0.0) == 0.0
