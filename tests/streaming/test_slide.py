"""slide against brute force, the baselines' order, verify, the example optimum, bad input, CLI."""

from __future__ import annotations

import copy
import itertools
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgeinfer.cli import main
from edgeinfer.core.errors import InvalidInstanceError, InvalidSolutionError
from edgeinfer.core.registry import get_problem, solve
from edgeinfer.core.solution import SolveOptions
from edgeinfer.streaming.model import (
    best_speed,
    finish_time_closed,
    finish_time_recursion,
    least_rate,
)
from edgeinfer.streaming.problem import UserAlloc, load_instance

EXAMPLES = Path(__file__).parents[2] / "examples"
def random_doc(rng: np.random.Generator, n_users: int, n_models: int, max_layers: int = 4) -> dict[str, Any]:
    models = []
    for m in range(n_models):
        n_l = int(rng.integers(1, max_layers + 1))
        models.append({"id": f"m{m}", "layers": [{"bits": float(rng.uniform(1e5, 1e6)),
                                                 "flops": float(rng.uniform(1e7, 1e8))} for _ in range(n_l)]})
    users = []
    for k in range(n_users):
        c = rng.choice(n_models, size=int(rng.integers(1, n_models + 1)), replace=False)
        users.append({"id": f"u{k}", "models": [f"m{int(j)}" for j in c],
                      "spectral_efficiency": float(rng.uniform(1, 5)), "deadline_s": float(rng.uniform(0.3, 3.0)),
                      "max_flops_per_s": float(rng.uniform(1e8, 1e9)),
                      "energy_coefficient": float(rng.choice([0.0, 1e-27])),
                      "energy_budget_j": float(rng.uniform(0.005, 0.1))})
    return {"problem": "slide", "bandwidth_hz": 1e6, "models": models, "users": users}


SPEC = get_problem("slide")
ALGOS = ("slide", "sequential", "equal-bandwidth", "slide-dynamic")


def _solve(inst, algo):
    sol = solve("slide", algo, inst, SolveOptions(seed=0))
    rep = SPEC.verify(inst, sol)
    assert rep.ok, (algo, rep.reasons)
    # the document round-trips and verifies again
    back = SPEC.load_solution(json.loads(json.dumps(SPEC.dump_solution(sol))), inst)
    assert SPEC.verify(inst, back).ok
    return sol


def _bisect_share(inst, k, m, f):
    """Least share by bisection on the simulated recursion (no closed form)."""
    bits, flops = inst.model_bits[m], inst.model_flops[m]
    full = inst.full_rate_bps(k)
    T = inst.deadline_s[k]
    if finish_time_recursion(bits, flops, full, f) > T:
        return math.inf
    lo, hi = 0.0, 1.0
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        if mid > 0 and finish_time_recursion(bits, flops, mid * full, f) <= T:
            hi = mid
        else:
            lo = mid
    return hi


def _brute_force(inst):
    n = inst.num_users
    least = {}
    for k in range(n):
        for m in inst.candidates[k]:
            F = float(inst.model_flops[m].sum())
            fstar = best_speed(inst.max_flops_per_s[k], inst.energy_coefficient[k], inst.energy_budget_j[k], F)
            s = _bisect_share(inst, k, m, fstar)
            # slower speeds never need less bandwidth (Theorem 2)
            for frac in (0.5, 0.9):
                assert _bisect_share(inst, k, m, frac * fstar) >= s - 1e-9
            least[k, m] = s
    best = 0
    for subset in itertools.product([False, True], repeat=n):
        users = [k for k in range(n) if subset[k]]
        if len(users) <= best:
            continue
        for choice in itertools.product(*[inst.candidates[k] for k in users]):
            if sum(least[k, m] for k, m in zip(users, choice, strict=True)) <= 1.0:
                best = len(users)
                break
    return best


@pytest.mark.parametrize("seed", range(40))
def test_slide_equals_brute_force_and_order(seed):
    rng = np.random.default_rng(seed)
    inst = load_instance(random_doc(rng, int(rng.integers(1, 7)), int(rng.integers(1, 4))))
    sols = {a: _solve(inst, a) for a in ALGOS}
    assert sols["slide"].objective == _brute_force(inst)
    assert sols["sequential"].objective <= sols["slide"].objective <= sols["slide-dynamic"].objective
    assert sols["equal-bandwidth"].objective <= sols["slide"].objective


def _amount(hi: float) -> st.SearchStrategy[float]:
    """Bits or FLOPs of a layer as the model has them: none, or at least one (no subnormals)."""
    return st.one_of(st.just(0.0), st.floats(1.0, hi, allow_subnormal=False))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(_amount(1e6), _amount(1e9)), min_size=1, max_size=12),
       st.floats(1e3, 1e8, allow_subnormal=False), st.floats(1e6, 1e11, allow_subnormal=False))
def test_closed_form_equals_recursion(layers, rate, speed):
    bits = np.array([b for b, _ in layers])
    flops = np.array([w for _, w in layers])
    rec = finish_time_recursion(bits, flops, rate, speed)
    assert finish_time_closed(bits, flops, rate, speed) == pytest.approx(rec, rel=1e-9, abs=1e-12)
    # the closed-form least rate meets a deadline exactly when the deadline is reachable
    T = rec * 1.3 + 1e-9
    r = least_rate(bits, flops, T, speed)
    assert r <= rate * (1 + 1e-9)
    if r > 0:
        assert finish_time_recursion(bits, flops, r, speed) <= T * (1 + 1e-9)
        assert finish_time_recursion(bits, flops, r * (1 - 1e-6), speed) > T


def test_example_optimum_and_dynamic_gain():
    _, doc = None, json.loads((EXAMPLES / "slide_small.json").read_text())
    inst = load_instance(doc)
    sols = {a: _solve(inst, a) for a in ALGOS}
    assert sols["slide"].objective == 11  # known optimum of the example
    assert sols["slide-dynamic"].objective >= 11
    assert sols["sequential"].objective <= 11


def test_dynamic_never_below_slide_larger():
    rng = np.random.default_rng(7)
    for _ in range(5):
        inst = load_instance(random_doc(rng, 40, 3, 6))
        a, b = _solve(inst, "slide"), _solve(inst, "slide-dynamic")
        assert b.objective >= a.objective


def _doc():
    return json.loads((EXAMPLES / "slide_small.json").read_text())


@pytest.mark.parametrize(("mutate", "field"), [
    (lambda d: d["users"][0].__setitem__("models", []), "users[0].models"),
    (lambda d: d["users"][1].__setitem__("models", ["m9"]), "users[1].models[0]"),
    (lambda d: d["users"][2].__setitem__("max_flops_per_s", 0.0), "users[2].max_flops_per_s"),
    (lambda d: d["models"][0].__setitem__("layers", []), "models[0].layers"),
    (lambda d: d["models"][1].__setitem__("id", "m0"), "models[1].id"),
    (lambda d: d["users"][0].__setitem__("deadline_s", -1.0), "users[0].deadline_s"),
    (lambda d: d["models"][0]["layers"][0].__setitem__("bits", float("nan")), "models[0].layers[0].bits"),
])
def test_bad_instances(mutate, field):
    d = _doc()
    mutate(d)
    with pytest.raises(InvalidInstanceError) as e:
        load_instance(d)
    assert e.value.field == field


def test_verify_catches_violations():
    inst = load_instance(_doc())
    sol = solve("slide", "slide", inst, SolveOptions())
    a0 = sol.allocs[0]

    def with_alloc(**kw):
        allocs = list(sol.allocs)
        fields = {"user": a0.user, "model": a0.model, "share": a0.share, "speed": a0.speed}
        fields.update(kw)
        allocs[0] = UserAlloc(**fields)
        return SPEC.verify(inst, type(sol)(**{**sol.__dict__, "allocs": tuple(allocs)}))

    assert not with_alloc(share=a0.share * 0.9).feasible  # misses the deadline
    assert not with_alloc(speed=inst.max_flops_per_s[a0.user] * 1.01).feasible
    assert not with_alloc(share=a0.share + 1.0 - sum(a.share for a in sol.allocs) + 1e-3).feasible
    other = [m for m in range(len(inst.model_ids)) if m not in inst.candidates[a0.user]]
    if other:
        assert not with_alloc(model=other[0]).feasible
    # an overlapping timeline pushes the instantaneous total above 1
    dyn = solve("slide", "slide-dynamic", inst, SolveOptions())
    doc = SPEC.dump_solution(dyn)
    doc["users"][1]["share_timeline"] = [[0.0, 10.0, 1.0]]
    assert not SPEC.verify(inst, SPEC.load_solution(doc, inst)).feasible
    # wrong claimed objective
    doc = SPEC.dump_solution(sol)
    doc["served"] = doc["objective"] = 12
    assert not SPEC.verify(inst, SPEC.load_solution(doc, inst)).ok


def test_bad_solutions():
    inst = load_instance(_doc())
    good = SPEC.dump_solution(solve("slide", "slide", inst, SolveOptions()))
    for mut in (lambda d: d["users"][0].__setitem__("user", "nobody"),
                lambda d: d["users"].append(copy.deepcopy(d["users"][0])),
                lambda d: d["users"][0].__setitem__("model", "m9"),
                lambda d: d["users"][0].__setitem__("bandwidth_share", 1.5),
                lambda d: d["users"][0].__setitem__("share_timeline", [[1.0, 0.5, 0.2]]),
                lambda d: d.__setitem__("status", "great")):
        d = copy.deepcopy(good)
        mut(d)
        with pytest.raises(InvalidSolutionError):
            SPEC.load_solution(d, inst)


def test_cli_round_trip(tmp_path, capsys):
    ex = str(EXAMPLES / "slide_small.json")
    for algo in ALGOS:
        out = tmp_path / f"{algo}.json"
        assert main(["solve", ex, "-a", algo, "-o", str(out)]) == 0
        assert main(["verify", ex, str(out)]) == 0
    doc = json.loads((tmp_path / "slide.json").read_text())
    assert doc["served"] == 11
    doc["users"][0]["bandwidth_share"] *= 0.5
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    assert main(["verify", ex, str(bad)]) == 1
    broken = tmp_path / "broken.json"
    d = _doc()
    d["users"][0]["models"] = ["zzz"]
    broken.write_text(json.dumps(d))
    assert main(["solve", str(broken), "-a", "slide"]) == 2
    capsys.readouterr()


def _edf_feasible(jobs):
    jobs = sorted(jobs)
    t = 0.0
    for d, p in jobs:
        t += p
        if t > d * (1 + 1e-9) + 1e-12:
            return False
    return True


@pytest.mark.parametrize("seed", range(15))
def test_dynamic_within_its_exact_optimum(seed):
    """slide-dynamic is a heuristic: never above the time-varying optimum (brute force over
    subsets and models, EDF feasibility at f*), never below slide."""
    from edgeinfer.streaming.solvers import layer_jobs, pair_table

    rng = np.random.default_rng(100 + seed)
    inst = load_instance(random_doc(rng, int(rng.integers(2, 7)), int(rng.integers(1, 4))))
    table = pair_table(inst)
    speed = {(int(u), int(m)): float(f) for u, m, f in zip(table.user, table.model, table.speed, strict=True)}
    best = 0
    for subset in itertools.product([False, True], repeat=inst.num_users):
        users = [k for k in range(inst.num_users) if subset[k]]
        if len(users) <= best:
            continue
        for choice in itertools.product(*[inst.candidates[k] for k in users]):
            jobs = []
            for k, m in zip(users, choice, strict=True):
                p, d = layer_jobs(inst, k, m, speed[k, m])
                jobs += list(zip(d, p, strict=True))
            if _edf_feasible(jobs):
                best = len(users)
                break
    dyn = _solve(inst, "slide-dynamic").objective
    assert _solve(inst, "slide").objective <= dyn <= best


def test_piecewise_download_times():
    from edgeinfer.streaming.model import download_times_piecewise

    tl = np.array([[0.0, 1.0, 0.5], [2.0, 3.0, 1.0]])
    # 10 bit/s at share 1: 5 bits by t=1, nothing in (1, 2), 10 more by t=3
    got = download_times_piecewise(np.array([0.0, 2.5, 5.0, 10.0, 15.0, 16.0]), tl, 10.0)
    assert got[:5] == pytest.approx([0.0, 0.5, 1.0, 2.5, 3.0])
    assert math.isinf(got[5])


@pytest.mark.parametrize("algo, params, name, says", [
    ("slide", {"latncy": "true"}, "latncy", "did you mean 'latency'"),
    ("slide", {"latency": "sometimes"}, "latency", "not one of"),
    ("slide-dynamic", {"tol": -1.0}, "tol", "below the minimum"),
    ("slide-dynamic", {"tol": "tiny"}, "tol", "expected a number"),
    ("sequential", {"tol": 1e-9}, "tol", "unknown parameter"),
])
def test_bad_params_are_invalid_option_errors(algo, params, name, says):
    from edgeinfer.core.errors import InvalidOptionError

    inst = load_instance(json.loads((EXAMPLES / "slide_small.json").read_text()))
    with pytest.raises(InvalidOptionError, match=says) as exc:
        solve("slide", algo, inst, SolveOptions(params=params))
    assert exc.value.field == name and name in str(exc.value)


def test_latency_option():
    inst = load_instance(json.loads((EXAMPLES / "slide_small.json").read_text()))
    on = solve("slide", "slide", inst, SolveOptions(params={"latency": "true"}))
    off = solve("slide", "slide", inst, SolveOptions(params={"latency": "false"}))
    assert all(a.latency_s is not None for a in on.allocs) and all(a.latency_s is None for a in off.allocs)
    assert on.objective == off.objective
