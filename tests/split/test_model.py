"""The system model: SINRs against a hand computation, gradients, relaxed == integral."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from edgeinfer.core.registry import get_problem
from edgeinfer.core.status import SolveStatus
from edgeinfer.split.model import (
    Decision,
    Ordering,
    RelaxedState,
    evaluate,
    optimal_compute_units,
    relaxed_objective,
    split_tables,
)
from edgeinfer.split.problem import make_solution
from edgeinfer.split.solvers.ligd import project_simplex, round_subchannels
from split.helpers import random_relaxed, tiny


def _hand_instance():
    """3 devices, 2 cells, 1 subchannel: devices 0 and 1 in cell 0 (0 stronger), device 2 in cell 1."""
    inst = tiny(0, users_per_ap=2, num_aps=2, m=1)
    inst = replace(inst, ids=("a", "b", "c"), cell=np.array([0, 0, 1]), models=inst.models[:3],
                   layer_flops=inst.layer_flops[:3], split_bits=inst.split_bits[:3],
                   result_bits=inst.result_bits[:3], dev_flops_per_s=inst.dev_flops_per_s[:3],
                   dev_kappa=inst.dev_kappa[:3], w_latency=inst.w_latency[:3], w_energy=inst.w_energy[:3],
                   uplink_gain=np.array([[[4.0], [0.5]], [[1.0], [0.25]], [[0.2], [2.0]]]) * 1e-9,
                   downlink_gain=np.array([[[3.0], [0.1]], [[1.5], [0.3]], [[0.4], [5.0]]]) * 1e-9,
                   noise_psd_w_per_hz=1e-9 / 5e6, bandwidth_up_hz=5e6, bandwidth_down_hz=5e6)
    return inst


def test_noma_sinr_hand_computed_three_users_two_cells() -> None:
    inst = _hand_instance()
    p = np.array([0.1, 0.2, 0.3])
    pw = np.array([0.5, 0.8, 0.4])
    dec = Decision(np.array([1, 1, 1]), np.zeros(3, int), np.zeros(3, int), p, pw, np.full(3, 2.0))
    ev = evaluate(inst, dec)
    n = 1e-9  # noise on the one subchannel: N0 * B / M
    g = 1e-9
    # uplink (eq. 5): AP 0 decodes a (gain 4) first: intra from b, inter from c via gain c->AP0
    up = [0.1 * 4 * g / (0.2 * 1 * g + 0.3 * 0.2 * g + n),
          0.2 * 1 * g / (0.3 * 0.2 * g + n),
          0.3 * 2 * g / (0.1 * 0.5 * g + 0.2 * 0.25 * g + n)]
    # downlink (eq. 8 corrected): b (weaker) suffers a's signal through b's own channel
    dn = [0.5 * 3 * g / (0.4 * 0.1 * g + n),
          0.8 * 1.5 * g / (1.5 * g * 0.5 + 0.4 * 0.3 * g + n),
          0.4 * 5 * g / ((0.5 + 0.8) * 0.4 * g + n)]
    assert ev.sinr_up == pytest.approx(up, rel=1e-12)
    assert ev.sinr_down == pytest.approx(dn, rel=1e-12)
    assert ev.rate_up_bps == pytest.approx(5e6 * np.log2(1 + np.array(up)), rel=1e-12)
    # latency (12) and energy (17) of device a by hand
    tb = split_tables(inst, dec.split)
    f_loc, f_edge = tb.local_flops[0], tb.edge_flops[0]
    speed = 2.0**inst.theta * inst.edge_unit_flops_per_s
    t_up = tb.up_bits[0] / ev.rate_up_bps[0]
    t_dn = inst.result_bits[0] / ev.rate_down_bps[0]
    lat = f_loc / inst.dev_flops_per_s[0] + f_edge / speed + t_up + t_dn
    en = (inst.dev_kappa[0] * inst.dev_flops_per_s[0] ** 2 * f_loc + inst.edge_kappa * speed**2 * f_edge
          + 0.1 * t_up + 0.5 * t_dn)
    assert ev.latency_s[0] == pytest.approx(lat, rel=1e-12)
    assert ev.energy_j[0] == pytest.approx(en, rel=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gradients_match_finite_differences(seed: int) -> None:
    inst = tiny(seed, users_per_ap=3, num_aps=2, m=3)
    rng = np.random.default_rng(seed)
    st = RelaxedState.build(inst)
    tb = split_tables(inst, rng.integers(0, 3, inst.num_devices))
    x = dict(zip(("bu", "bd", "p", "pw", "r"), random_relaxed(inst, rng), strict=True))
    val = relaxed_objective(st, tb, x["bu"], x["bd"], x["p"], x["pw"], x["r"])
    grads = {"bu": val.g_beta_up, "bd": val.g_beta_down, "p": val.g_p, "pw": val.g_pw, "r": val.g_r}
    for name, g in grads.items():
        num = np.zeros_like(x[name])
        for idx in np.ndindex(x[name].shape):
            h = 1e-6 * max(abs(x[name][idx]), 1e-3)
            hi = {**x, name: x[name].copy()}
            lo = {**x, name: x[name].copy()}
            hi[name][idx] += h
            lo[name][idx] -= h
            num[idx] = (relaxed_objective(st, tb, *hi.values(), grad=False).value
                        - relaxed_objective(st, tb, *lo.values(), grad=False).value) / (2 * h)
        assert np.max(np.abs(num - g)) <= 1e-5 * np.max(np.abs(g)), name


def test_relaxed_with_onehot_equals_integral_evaluation() -> None:
    inst = tiny(5, users_per_ap=3, num_aps=3, m=2)
    rng = np.random.default_rng(0)
    u, m = inst.num_devices, inst.num_subchannels
    split = rng.integers(0, 3, u)
    up, dn = rng.integers(0, m, u), rng.integers(0, m, u)
    _, _, p, pw, r = random_relaxed(inst, rng)
    eye = np.eye(m)
    v = relaxed_objective(RelaxedState.build(inst), split_tables(inst, split), eye[up], eye[dn], p, pw, r,
                          grad=False).value
    assert v == pytest.approx(evaluate(inst, Decision(split, up, dn, p, pw, r)).objective, rel=1e-12)


def test_ordering_sums() -> None:
    cell = np.array([0, 1, 0, 0, 1])
    gain = np.array([[3.0], [1.0], [5.0], [3.0], [2.0]])
    o = Ordering(cell, gain, 2)
    x = np.array([[1.0], [10.0], [100.0], [1000.0], [10000.0]])
    # cell 0 order (strongest first, ties by index): 2, 0, 3 ; cell 1: 4, 1
    assert o.before(x)[:, 0].tolist() == [100.0, 10000.0, 0.0, 101.0, 0.0]
    assert o.after(x)[:, 0].tolist() == [1000.0, 0.0, 1001.0, 0.0, 10.0]


def test_simplex_projection_and_rounding_limit() -> None:
    rng = np.random.default_rng(1)
    v = rng.normal(size=(20, 5))
    p = project_simplex(v)
    assert np.allclose(p.sum(1), 1) and (p >= 0).all()
    beta = np.tile([0.9, 0.05, 0.05], (7, 1))  # everyone wants subchannel 0
    sub = round_subchannels(beta, np.zeros(7, dtype=int), 1, 3)
    assert np.bincount(sub, minlength=3).tolist() == [3, 3, 1]
    assert (round_subchannels(beta, np.zeros(7, dtype=int), 1, 2) == -1).sum() == 1


def test_optimal_compute_units_is_the_minimum() -> None:
    inst = tiny(3)
    r = optimal_compute_units(inst)
    grid = np.linspace(inst.r_min, inst.r_max, 2001)
    speed = grid**inst.theta * inst.edge_unit_flops_per_s
    cost = inst.w_latency[0] / speed + inst.w_energy[0] * inst.edge_kappa * speed**2
    assert r[0] == pytest.approx(grid[np.argmin(cost)], abs=0.01)


def test_verify_recomputes_and_catches_violations() -> None:
    spec = get_problem("split_noma")
    inst = tiny(2, users_per_ap=2, num_aps=2, m=2, limit=1)
    u = inst.num_devices
    dec = Decision(np.zeros(u, int), np.array([0, 1, 0, 1]), np.array([1, 0, 1, 0]), np.full(u, 0.1),
                   np.full(u, 0.5), np.full(u, 2.0))
    sol = make_solution(inst, "x", SolveStatus.FEASIBLE, dec)
    assert spec.verify(inst, sol).ok
    assert not spec.verify(inst, replace(sol, objective=sol.objective * 1.01)).ok
    lat = sol.latency_s.copy()
    lat[0] *= 2
    assert not spec.verify(inst, replace(sol, latency_s=lat)).ok
    crowded = replace(sol, up_sub=np.zeros(u, dtype=np.int64))
    rep = spec.verify(inst, crowded)
    assert not rep.feasible and any("at most 1" in r for r in rep.violations)
    hot = replace(sol, p_up_w=np.full(u, 10.0))
    assert not spec.verify(inst, hot).feasible
    bad_split = replace(sol, split=np.full(u, 99))
    assert not spec.verify(inst, bad_split).feasible and math.isinf(spec.verify(inst, bad_split).objective)
    local_with_sub = replace(sol, split=inst.num_layers.copy())
    assert not spec.verify(inst, local_with_sub).feasible
