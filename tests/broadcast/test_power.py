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


def _sound(plan, H, b, n0, q, E) -> bool:
    """A plan the verifier accepts: finite positive powers, durations in (0, MAX_DURATION_S],
    within the budget and delivering every block (the verifier's tolerances)."""
    from edgeinfer.broadcast.model import MAX_DURATION_S, rate_bps
    from edgeinfer.broadcast.problem import BITS_RTOL, ENERGY_RTOL
    bits = plan.duration_s * rate_bps(plan.power_w, H, b, n0)
    return bool(np.all(np.isfinite(plan.power_w)) and np.all(plan.power_w > 0) and np.all(plan.duration_s > 0)
                and np.all(plan.duration_s <= MAX_DURATION_S)
                and float(np.dot(plan.power_w, plan.duration_s)) <= E * (1 + ENERGY_RTOL)
                and np.all(bits >= q * (1 - BITS_RTOL)))


@pytest.mark.parametrize("seed", range(4))
def test_power_control_gives_a_sound_plan_or_none_over_wide_ranges(seed):
    """Bandwidths 1 Hz-100 THz, noise 1e-40-1e3 W, blocks 1 bit-100 Tbit, gains spread up to 1e40
    and budgets from 1e-13 above the least energy to MAX_BUDGET_SPAN times it: before, budgets
    above ~1e163 times the least energy raised ArithmeticError (exit 3), budgets near it broke
    the constant power's bracket, and log2(1 + s) lost the digits the verifier needs."""
    from edgeinfer.broadcast.model import MAX_BUDGET_SPAN, budget_span
    rng = np.random.default_rng(seed)
    done = 0
    while done < 60:
        b, n0, q = 10 ** rng.uniform(0, 14), 10 ** rng.uniform(-40, 3), 10 ** rng.uniform(0, 14)
        H = 10 ** (rng.uniform(-30, 5) + rng.uniform(0, rng.uniform(0, 40), int(rng.integers(1, 30))))
        lr = rng.uniform(-13, 160)
        E = min_energy_j(H, b, n0, q) * ((1 + 10 ** lr) if lr < 0 else 10 ** lr)
        if not (math.isfinite(E) and E > 0) or budget_span(E, b, n0, q, float(H.max()), 1) > MAX_BUDGET_SPAN:
            continue
        done += 1
        for control in (optimal_power, constant_power):
            plan = control(H, bandwidth_hz=b, noise_w=n0, block_bits=q, energy_j=E)
            assert plan is None or _sound(plan, H, b, n0, q, E), (control.__name__, b, n0, q, E)


def test_the_longest_transmission_is_kept():
    """A budget a hair above the least energy would need transmissions of ~1e11 s: the plan keeps
    every one at most MAX_DURATION_S, or there is none (the energy within it exceeds the budget)."""
    from edgeinfer.broadcast.model import MAX_DURATION_S, least_energy_j
    H = np.array([1e-3, 2e-4, 5e-5])
    e_min, e_cap = min_energy_j(H, B, N0, Q), least_energy_j(H, B, N0, Q)
    assert e_min < e_cap < e_min * (1 + 1e-10)
    for control in (optimal_power, constant_power):
        assert control(H, bandwidth_hz=B, noise_w=N0, block_bits=Q, energy_j=e_min * (1 + 1e-12)) is None
        plan = control(H, bandwidth_hz=B, noise_w=N0, block_bits=Q, energy_j=e_min * (1 + 1e-9))
        assert plan is not None and _sound(plan, H, B, N0, Q, e_min * (1 + 1e-9))
        assert plan.duration_s.max() <= MAX_DURATION_S
    opt = optimal_power(H, bandwidth_hz=B, noise_w=N0, block_bits=Q, energy_j=e_cap * (1 + 3e-12))
    assert opt is not None and _sound(opt, H, B, N0, Q, e_cap * (1 + 3e-12))
    assert opt.duration_s.max() >= MAX_DURATION_S * (1 - 1e-12)  # on the bound: it binds


@pytest.mark.parametrize("rel", [1e-6, 1e-9])
@pytest.mark.parametrize("power", ["optimal", "constant"])
def test_unicast_near_its_least_energy_verifies(example_path, rel, power):
    """Before log1p in the rate, unicast's optimal plan at a budget 1e-6 above its least energy
    failed verification (a block delivered 1e-7 short of its bits): exit 3."""
    import json

    from edgeinfer.broadcast.problem import load_instance
    doc = json.loads(example_path.read_text())
    inst = load_instance(doc)
    doc["energy_j"] = min_energy_j(np.repeat(inst.gains, inst.num_positions), inst.bandwidth_hz, inst.noise_w,
                                   inst.block_bits) * (1 + rel)
    inst = load_instance(doc)
    sol = solve("mba", "unicast", inst, SolveOptions(params={"power": power}))
    assert sol.status is SolveStatus.FEASIBLE
    assert verify(inst, sol).ok


def test_a_duration_on_the_cap_is_not_an_ulp_above_it():
    """Found by the wide-range draw: here the clipped ``u`` gives a duration one ulp above
    MAX_DURATION_S, which the verifier refuses; the plan clips it (the bits fall by 1e-16)."""
    H = np.array([1.0443429961367289e-07, 2.875435661874646e-08, 1.0661302269549406e-08, 3.1127202679572567e-07,
                  5.041095189072122e-11, 5.0337124613660505e-09, 5.778457962489215e-13, 8.354267483031976e-14,
                  8.63354269598277e-13, 3.1752222987826104e-05, 1.9454634078537203e-08, 5.2734896461828214e-11,
                  1.2694741216973348e-07, 7.62213074295115e-12])
    b, n0, q, E = 74.13350468462583, 2.6223327356413094e-16, 7697719.250136315, 283.67263551114576
    plan = optimal_power(H, bandwidth_hz=b, noise_w=n0, block_bits=q, energy_j=E)
    assert plan is not None and _sound(plan, H, b, n0, q, E)
