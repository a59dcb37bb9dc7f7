"""Proposition 2 (closed form + eq. 12 root) against a cvxpy solve of P3.1; constant power;
the Lemma 1 counterexample and the latency algorithm."""

from __future__ import annotations

import math

import numpy as np
import pytest

import edgeinfer.broadcast  # noqa: F401
from edgeinfer.broadcast.model import block_cost, constant_power, min_energy_j, optimal_power
from edgeinfer.broadcast.problem import build_instance, verify
from edgeinfer.broadcast.solvers import milp_select
from edgeinfer.core.registry import solve
from edgeinfer.core.solution import SolveOptions
from edgeinfer.core.status import SolveStatus

B, N0, Q = 100e6, 0.5e-9, 5e6


def cvxpy_p31(H, E):
    """P3.1 as a convex program in (T, e = T p): Q ln2 / B <= T ln(1 + e H / (T N0)) = -rel_entr(T, T + e H / N0).

    Time in ms and energy in J keep the numbers near 1 for the solver."""
    cp = pytest.importorskip("cvxpy")
    n = len(H)
    t = cp.Variable(n, pos=True)  # ms
    e = cp.Variable(n, nonneg=True)  # J
    a = H / N0 * 1e3  # so that e H / (T N0) = a e / t with t in ms
    cons = [-cp.rel_entr(t, t + cp.multiply(a, e)) >= Q * math.log(2) / B * 1e3, cp.sum(e) <= E]
    prob = cp.Problem(cp.Minimize(cp.sum(t)), cons)
    prob.solve(solver=cp.CLARABEL, tol_gap_abs=1e-12, tol_gap_rel=1e-12, tol_feas=1e-12, max_iter=500)
    return prob.value * 1e-3


@pytest.mark.parametrize("seed", range(4))
def test_closed_form_matches_cvxpy(seed):
    rng = np.random.default_rng(seed)
    H = 1e-3 * rng.exponential(1.0, size=8 + 4 * seed)
    E = float(min_energy_j(H, B, N0, Q) * rng.uniform(3, 300))
    plan = optimal_power(H, bandwidth_hz=B, noise_w=N0, block_bits=Q, energy_j=E)
    ref = cvxpy_p31(H, E)
    assert plan.total_latency_s == pytest.approx(ref, rel=1e-6)
    assert plan.energy_j == pytest.approx(E, rel=1e-9)  # the whole budget is spent
    bits = plan.duration_s * B * np.log2(1 + plan.power_w * H / N0)
    np.testing.assert_allclose(bits, Q, rtol=1e-9)
    # eq. (11): weaker blocks get more power and more time
    order = np.argsort(H)
    assert np.all(np.diff(plan.duration_s[order]) <= 1e-15)


def test_constant_power_spends_budget_and_is_not_better():
    rng = np.random.default_rng(7)
    H = 1e-3 * rng.exponential(1.0, size=30)
    for mult in (1.5, 10, 1000):
        E = mult * min_energy_j(H, B, N0, Q)
        opt = optimal_power(H, bandwidth_hz=B, noise_w=N0, block_bits=Q, energy_j=E)
        con = constant_power(H, bandwidth_hz=B, noise_w=N0, block_bits=Q, energy_j=E)
        assert con.energy_j == pytest.approx(E, rel=1e-9)
        assert np.ptp(con.power_w) == 0
        assert con.total_latency_s >= opt.total_latency_s * (1 - 1e-12)


def test_budget_at_or_below_minimum_is_infeasible():
    H = np.array([1e-3, 2e-4])
    e_min = min_energy_j(H, B, N0, Q)
    assert optimal_power(H, bandwidth_hz=B, noise_w=N0, block_bits=Q, energy_j=e_min) is None
    assert constant_power(H, bandwidth_hz=B, noise_w=N0, block_bits=Q, energy_j=0.5 * e_min) is None
    near = optimal_power(H, bandwidth_hz=B, noise_w=N0, block_bits=Q, energy_j=e_min * (1 + 1e-6))
    assert near is not None and near.energy_j <= e_min * (1 + 1e-6)


def test_block_cost_decreasing_in_gain():
    g = block_cost(np.logspace(-7, -1, 20), 1e-5, bandwidth_hz=B, noise_w=N0, block_bits=Q)
    assert np.all(np.diff(g) < 0)


def lemma1_counterexample(weak=1e-9, strong=1e-3):
    """N = 1; devices w1, w2 (weak) and s1, s2, s3 (strong); models A..E; score 1 = usable.

    A serves {w1, s1, s2}, B {w2, s3}, C {w1, w2, s2}, D {s1, s2}, E {s3}. The only 2-block
    selection is {A, B}: both blocks have a weak requesting device. {C, D, E} needs 3 blocks
    but only C is slow."""
    users = {"A": "w1 s1 s2", "B": "w2 s3", "C": "w1 w2 s2", "D": "s1 s2", "E": "s3"}
    devs = ["w1", "w2", "s1", "s2", "s3"]
    models = list(users)
    I = np.zeros((5, 1, 5))  # noqa: E741
    for i, m in enumerate(models):
        for d in users[m].split():
            I[i, 0, devs.index(d)] = 1.0
    own = np.array([models.index(m) for m in ("A", "B", "D", "C", "E")])
    gains = np.array([weak, weak, strong, strong, strong])
    return build_instance(scores=I, gains=gains, qos=np.ones(5), own_model=own, energy_j=1.0,
                         model_ids=tuple(models), device_ids=tuple(devs))


def test_lemma1_decomposition_is_strictly_suboptimal():
    inst = lemma1_counterexample()
    sel = milp_select(inst.scores, inst.qos)
    assert sel.blocks == 2  # P2.1 optimum: {A, B}, unique
    two = solve("mba", "bnb", inst, SolveOptions())
    assert {t.model for t in two.broadcast} == {"A", "B"}
    joint = solve("mba", "latency", inst, SolveOptions())
    assert verify(inst, joint).ok and verify(inst, two).ok
    assert len(joint.broadcast) == 3  # {C, D, E} or its dominance image {C, A (s1, s2), B (s3)}
    c_users = [d for d, m in joint.assembly.items() if m == ("C",)]
    assert sorted(c_users) == ["w1", "w2"]  # one slow block only
    assert joint.total_latency_s < 0.75 * two.total_latency_s  # 28% faster with MORE blocks
    assert joint.status is SolveStatus.OPTIMAL  # Lagrangian lower bound closes the gap here


def test_latency_never_worse_than_p21_optimum(example_path):
    import json

    from edgeinfer.broadcast.problem import load_instance

    inst = load_instance(json.loads(example_path.read_text()))
    lat = solve("mba", "latency", inst, SolveOptions(time_limit_s=4))
    assert verify(inst, lat).ok
    assert lat.total_latency_s <= lat.stats["start_latency_s"] * (1 + 1e-12)
    assert lat.stats["bound"] <= lat.total_latency_s * (1 + 1e-9)
    assert lat.stats["iterations"] == len(lat.stats["history"]) - 1 and 0 <= lat.stats["gap"] < 1
