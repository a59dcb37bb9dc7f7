"""Allocators of LyMDO (P3, P4, P5) against cvxpy and brute force; M/D/1 against simulation."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from edgeinfer.dnn.profiles import load_profile
from edgeinfer.online.model import (
    LyMDOConfig,
    build_tables,
    dpp_objective,
    evaluate_slot,
    memory_cost_bytes,
)
from edgeinfer.online.scenario import draw_arrivals, draw_channels
from edgeinfer.online.solvers.allocation import (
    allocate,
    bandwidth_objective,
    bandwidth_shares,
    edge_frequencies,
    local_frequency,
    local_objective,
    repair_split,
)
from edgeinfer.online.solvers.greedy import greedy_split
from edgeinfer.system.energy import md1_sojourn_time_s

cp = pytest.importorskip("cvxpy")

CFG = LyMDOConfig()
TABLES = build_tables(CFG)


def _rel(a: float, b: float) -> float:
    return abs(a - b) / max(abs(b), 1e-300)


# ----------------------------------------------------------------------------- P3

def _p3_cases(n: int, seed: int):
    rng = np.random.default_rng(seed)
    for _ in range(n):
        d = rng.uniform(1e7, 2.5e8)
        f_max = 1.5e9
        lam = rng.uniform(0.0, 0.95 * f_max / d)
        Q = rng.choice([0.0, rng.uniform(0, 100)])
        a = Q * CFG.kappa * d * lam
        yield d, lam, a, f_max


def test_local_frequency_matches_cvxpy() -> None:
    V = CFG.V
    for d, lam, a, f_max in _p3_cases(12, 1):
        f = local_frequency(d, lam, a, V, f_max)
        assert d * lam < f <= f_max
        # cvxpy in the scaled variable x = f / f_max
        dn, c = d / f_max, d * lam / f_max
        x = cp.Variable(pos=True)
        obj = (a * f_max**2) * cp.square(x) + V * dn * cp.inv_pos(x) \
            + (V * dn * dn * lam / 2.0) * cp.power(cp.geo_mean(cp.hstack([x, x - c])), -2)
        prob = cp.Problem(cp.Minimize(obj), [x <= 1.0, x >= c + 1e-12])
        prob.solve(solver=cp.CLARABEL)
        ours = local_objective(f, d, lam, a, V)
        ref = local_objective(min(float(x.value), 1.0) * f_max, d, lam, a, V)  # clip solver slack
        assert ours <= ref * (1 + 1e-9)
        assert _rel(ours, ref) < 1e-6


def test_local_frequency_newton_matches_golden_and_grid() -> None:
    V = CFG.V
    for d, lam, a, f_max in _p3_cases(40, 2):
        fn = local_frequency(d, lam, a, V, f_max)
        fg = local_frequency(d, lam, a, V, f_max, method="golden")
        assert abs(fn - fg) / f_max < 1e-6
        on, og = local_objective(fn, d, lam, a, V), local_objective(fg, d, lam, a, V)
        assert on <= og * (1 + 1e-12)
        grid = np.linspace(d * lam, f_max, 20001)[1:]
        best = min(local_objective(float(g), d, lam, a, V) for g in grid[::50])
        assert on <= best * (1 + 1e-12)


def test_local_frequency_edge_cases() -> None:
    assert local_frequency(0.0, 2.0, 1.0, 10.0, 1.5e9) == 0.0
    assert math.isnan(local_frequency(1e9, 2.0, 0.0, 10.0, 1.5e9))  # C7 impossible
    # no energy price: as fast as possible
    assert local_frequency(1e8, 2.0, 0.0, 10.0, 1.5e9) == 1.5e9
    # a huge energy price pushes towards the stability bound but never onto it
    f = local_frequency(1e8, 2.0, 1e-6, 10.0, 1.5e9)
    assert 2e8 < f < 1.5e9


# ----------------------------------------------------------------------------- P4

def test_edge_frequencies_square_root_rule_matches_cvxpy() -> None:
    rng = np.random.default_rng(3)
    F = CFG.f_es_max_hz
    for _ in range(8):
        d = rng.uniform(0, 3e8, 5)
        d[rng.random(5) < 0.3] = 0.0
        f = edge_frequencies(d, F)
        assert f.sum() <= F * (1 + 1e-12)
        pos = d > 0
        if not pos.any():
            assert np.all(f == 0)
            continue
        ours = float(np.sum(d[pos] / f[pos]))
        assert _rel(ours, float(np.sum(np.sqrt(d))) ** 2 / F) < 1e-12
        x = cp.Variable(int(pos.sum()), pos=True)
        prob = cp.Problem(cp.Minimize(cp.sum(cp.multiply(d[pos] / F, cp.inv_pos(x)))), [cp.sum(x) <= 1])
        prob.solve(solver=cp.CLARABEL)
        assert _rel(ours, prob.value) < 1e-6
        # the paper's eq. (21) as printed (V d / f = u0) would give f proportional to d: worse
        lin = F * d[pos] / d[pos].sum()
        assert ours <= float(np.sum(d[pos] / lin)) + 1e-12


# ----------------------------------------------------------------------------- P5

def _p5_cvxpy(w: np.ndarray, s: np.ndarray, W_hz: float) -> tuple[np.ndarray, float]:
    idx = np.flatnonzero(w > 0)
    x = cp.Variable(len(idx), pos=True)
    g = -cp.rel_entr(x, x + s[idx])  # alpha ln(1 + s/alpha)
    scale = float(w[idx].max())  # conditioning for the conic solver
    obj = cp.sum(cp.multiply(w[idx] / scale, cp.inv_pos(g)))
    prob = cp.Problem(cp.Minimize(obj), [cp.sum(x) <= 1])
    prob.solve(solver=cp.CLARABEL)
    a = np.zeros(len(w))
    a[idx] = x.value
    return a, float(prob.value) * scale * math.log(2) / W_hz


def test_bandwidth_shares_match_cvxpy() -> None:
    rng = np.random.default_rng(4)
    W_hz = CFG.bandwidth_hz
    for k in range(15):
        n = int(rng.integers(2, 7))
        s = 79.0 * rng.exponential(size=n) + 1e-3
        w = rng.uniform(1e4, 1e8, n) * rng.uniform(1, 100, n)
        if k % 3 == 0:
            w[0] = 0.0
        a = bandwidth_shares(w, s)
        assert a.min() >= 0 and abs(a.sum() - 1) < 1e-12
        assert np.all(a[w == 0] == 0)
        ref_a, ref = _p5_cvxpy(w, s, W_hz)
        ours = bandwidth_objective(a, w, s, W_hz)
        assert ours <= ref * (1 + 1e-9)
        assert _rel(ours, ref) < 1e-6
        assert np.max(np.abs(a - ref_a)) < 1e-4


def test_bandwidth_shares_kkt_and_bruteforce_two_users() -> None:
    rng = np.random.default_rng(5)
    for _ in range(20):
        s = rng.exponential(50, 2) + 0.01
        w = rng.uniform(1e5, 1e7, 2)
        a = bandwidth_shares(w, s)
        grid = np.linspace(1e-6, 1 - 1e-6, 20001)
        vals = [bandwidth_objective(np.array([g, 1 - g]), w, s, 1.0) for g in grid]
        ours = bandwidth_objective(a, w, s, 1.0)
        assert ours <= min(vals) * (1 + 1e-12)
        assert abs(a[0] - grid[int(np.argmin(vals))]) < 2e-4


def test_bandwidth_shares_extreme_snr_uses_fallback_or_newton() -> None:
    # very different SNRs and weights still satisfy the KKT conditions
    s = np.array([1e-2, 1e3, 3.0, 1e4])
    w = np.array([1e5, 1.0, 1e2, 1e3])
    a = bandwidth_shares(w, s)
    assert abs(a.sum() - 1) < 1e-12 and np.all(a > 0)
    ref_a, ref = _p5_cvxpy(w, s, 1.0)
    assert bandwidth_objective(a, w, s, 1.0) <= ref * (1 + 1e-7)
    from edgeinfer.online.solvers.allocation import _shares_bisection

    b = _shares_bisection(list(w / w.max()), list(s))
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_bandwidth_single_and_no_sender() -> None:
    assert list(bandwidth_shares([0.0, 5.0, 0.0], [1.0, 2.0, 3.0])) == [0.0, 1.0, 0.0]
    assert list(bandwidth_shares([0.0, 0.0], [1.0, 2.0])) == [0.0, 0.0]


# ----------------------------------------------------------------------------- whole slot

def _slot(seed: int, rate: float = 2.0):
    rng = np.random.default_rng(seed)
    h = draw_channels(rng, TABLES)
    lam = draw_arrivals(rng, TABLES.n, rate, CFG.slot_s)
    Q = rng.uniform(0, 30, TABLES.n)
    W = rng.uniform(0, 5, TABLES.n)
    return h, lam, Q, W, rng


def test_allocate_metrics_match_independent_evaluation() -> None:
    for seed in range(10):
        h, lam, Q, W, rng = _slot(seed)
        split = [int(rng.integers(0, L + 1)) for L in TABLES.num_layers]
        al = allocate(CFG, TABLES, split, h, lam, Q, W)
        m = evaluate_slot(CFG, TABLES, al.split, al.f_ue_hz, al.f_es_hz, al.alpha, h, lam)
        assert m.stable.all()
        np.testing.assert_allclose(al.metrics.delay_s, m.delay_s, rtol=1e-12)
        np.testing.assert_allclose(al.metrics.energy_j, m.energy_j, rtol=1e-12)
        assert _rel(al.objective, dpp_objective(CFG, m, Q, W)) < 1e-12
        assert al.f_es_hz.sum() <= CFG.f_es_max_hz * (1 + 1e-12)
        assert al.alpha.sum() <= 1 + 1e-12
        assert np.all(al.f_ue_hz <= CFG.f_ue_max_hz)


def test_allocation_is_optimal_against_perturbations() -> None:
    """Any feasible perturbation of the resources does not lower objective (11)."""
    rng = np.random.default_rng(11)
    for seed in range(5):
        h, lam, Q, W, _ = _slot(seed)
        split = [int(rng.integers(0, L)) for L in TABLES.num_layers]
        al = allocate(CFG, TABLES, split, h, lam, Q, W)
        for _ in range(30):
            a2 = al.alpha * np.exp(rng.normal(0, 0.05, TABLES.n))
            a2 /= a2.sum()
            f2 = al.f_es_hz * np.exp(rng.normal(0, 0.05, TABLES.n))
            f2 *= CFG.f_es_max_hz / f2.sum()
            u2 = np.minimum(al.f_ue_hz * np.exp(rng.normal(0, 0.02, TABLES.n)), CFG.f_ue_max_hz)
            m = evaluate_slot(CFG, TABLES, al.split, u2, f2, a2, h, lam)
            assert dpp_objective(CFG, m, Q, W) >= al.objective * (1 - 1e-12)


def test_repair_moves_split_earlier_for_stability() -> None:
    lam = np.full(TABLES.n, 9.0)  # ResNet-18 all-local needs 9 x 2.2e8 > 1.5 GHz
    sp, rep = repair_split(CFG, TABLES, TABLES.num_layers, lam)
    for i in range(TABLES.n):
        assert TABLES.cycles_ue[i][sp[i]] * lam[i] < CFG.f_ue_max_hz
        if rep[i]:
            assert TABLES.cycles_ue[i][sp[i] + 1] * lam[i] >= CFG.f_ue_max_hz
    assert rep[2:].all()


def test_greedy_never_beats_exhaustive_and_beats_fixed_policies() -> None:
    cfg = LyMDOConfig(models=("alexnet", "resnet18"))
    tables = build_tables(cfg)
    for seed in range(3):
        rng = np.random.default_rng(seed)
        h = draw_channels(rng, tables)
        lam = draw_arrivals(rng, 2, 2.0, 1.0)
        Q, W = rng.uniform(0, 30, 2), rng.uniform(0, 5, 2)
        best = math.inf
        for sp in itertools.product(*(range(int(L) + 1) for L in tables.num_layers)):
            best = min(best, allocate(cfg, tables, sp, h, lam, Q, W).objective)
        g_sp, g_val = greedy_split(cfg, tables, h, lam, Q, W)
        assert g_val >= best * (1 - 1e-12)
        assert _rel(g_val, allocate(cfg, tables, g_sp, h, lam, Q, W).objective) < 1e-12
        for fixed in (tables.num_layers, [0, 0]):
            assert g_val <= allocate(cfg, tables, fixed, h, lam, Q, W).objective * (1 + 1e-12)


# ----------------------------------------------------------------------------- models

def test_md1_formula_matches_discrete_event_simulation() -> None:
    rng = np.random.default_rng(7)
    for lam, mu in [(2.0, 6.0), (2.5, 4.0), (1.0, 1.25)]:
        n = 200_000
        inter = rng.exponential(1 / lam, n)
        service = 1.0 / mu
        wait = np.empty(n)
        w = 0.0
        for k in range(n):  # Lindley recursion
            wait[k] = w
            w = max(0.0, w + service - inter[k])
        sim = float(np.mean(wait[n // 10:]) + service)
        assert _rel(sim, float(md1_sojourn_time_s(lam, mu))) < 0.03


def test_memory_model_eq6_endpoints() -> None:
    p = load_profile("resnet18")
    mem = memory_cost_bytes(p, 0.2, 0.8)
    w = p.split_output_bytes()
    assert math.isclose(mem[-1], 0.2 * p.param_bytes + float(np.max(w)))
    assert math.isclose(mem[0], 0.8 * p.param_bytes + float(np.max(w[1:])))
