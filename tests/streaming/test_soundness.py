"""verify of slide cannot be fooled (issue 13): overflow, exact counts, tolerances that serve
nobody more than the exact ``slide`` solver, claimed latencies checked whenever present."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgeinfer.core.errors import InvalidSolutionError
from edgeinfer.core.registry import solve
from edgeinfer.core.solution import SolveOptions
from edgeinfer.core.status import SolveStatus
from edgeinfer.streaming.problem import (
    SHARE_ATOL,
    SPEED_RTOL,
    TIMELINE_RTOL,
    SlideSolution,
    UserAlloc,
    dump_solution,
    load_instance,
    load_solution,
    verify,
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "slide_small.json"
OPTIMUM = 11  # examples/README.md


@pytest.fixture(scope="module")
def inst():
    return load_instance(json.loads(EXAMPLE.read_text()))


def _sol(inst, allocs, objective):
    return SlideSolution(problem="slide", algorithm="hand", status=SolveStatus.FEASIBLE, objective=float(objective),
                         allocs=tuple(allocs), user_ids=inst.user_ids, model_ids=inst.model_ids)


def test_infinite_volume_timeline_exploit(inst):
    """The review's exploit: a row [0, 1e308, share] gave infinite volume and 'served' 21."""
    rows = [{"user": u, "model": inst.model_ids[inst.candidates[k][0]], "bandwidth_share": 1.0,
             "compute_flops_per_s": float(inst.max_flops_per_s[k]) * 0.5,
             "share_timeline": [[0.0, 1e308, 1.0 / inst.num_users]]} for k, u in enumerate(inst.user_ids)]
    doc = {"problem": "slide", "algorithm": "x", "status": "feasible", "served": 21, "users": rows}
    with pytest.raises(InvalidSolutionError, match="share_timeline"):
        load_solution(doc, inst)
    allocs = [UserAlloc(user=k, model=inst.candidates[k][0], share=1.0, speed=float(inst.max_flops_per_s[k]) * 0.5,
                        timeline=np.array([[0.0, t_end, 1.0 / inst.num_users]]))
              for k in range(inst.num_users) for t_end in (1e308,)]
    rep = verify(inst, _sol(inst, allocs, 21))
    assert not rep.ok and rep.objective <= OPTIMUM


def test_served_compared_exactly(inst):
    sol = solve("slide", "slide", inst, SolveOptions(seed=0))
    doc = dump_solution(sol)
    assert verify(inst, load_solution(doc, inst)).ok
    for served in (OPTIMUM + 1, OPTIMUM - 1):
        bad = dict(doc, served=served, objective=float(served))
        assert not verify(inst, load_solution(bad, inst)).ok
    with pytest.raises(InvalidSolutionError):
        load_solution(dict(doc, served=-1, objective=-1.0), inst)


def test_claimed_latency_checked_whenever_present(inst):
    sol = solve("slide", "slide", inst, SolveOptions(seed=0))
    doc = dump_solution(sol)
    for u in doc["users"]:
        u.pop("latency_s", None)
    doc["users"][0]["latency_s"] = 1e-3  # only one user claims, and wrongly
    rep = verify(inst, load_solution(doc, inst))
    assert not rep.ok and any("reported latency" in r for r in rep.reasons)


def _knife_edge(delta: float, flops: float = 0.0):
    """Two users of one single-layer model, each needing share 0.5 (1 + delta): optimum 1."""
    B, se, bits = 1e6, 1.0, 1e5
    T = bits / (0.5 * (1 + delta) * B * se)
    users = [{"id": f"u{k}", "models": ["m"], "spectral_efficiency": se, "deadline_s": T + (flops / 1e9 if flops else 0),
              "max_flops_per_s": 1e9, "energy_coefficient": 0.0, "energy_budget_j": 0.0} for k in range(2)]
    # with compute, layer order: the download must finish by T - flops/f: deadline T + flops/f
    doc = {"problem": "slide", "bandwidth_hz": B, "models": [{"id": "m", "layers": [{"bits": bits, "flops": flops}]}],
           "users": users}
    return load_instance(doc)


DELTAS = [1e-15, 1e-14, 0.5 * SHARE_ATOL, 0.5 * TIMELINE_RTOL, 2 * TIMELINE_RTOL, 5e-8, 1e-6]


@pytest.mark.parametrize("delta", DELTAS)
@pytest.mark.parametrize("flops", [0.0, 1e7])
def test_constant_share_exploits_never_beat_slide(delta, flops):
    inst = _knife_edge(delta, flops)
    sol = solve("slide", "slide", inst, SolveOptions(seed=0))
    assert verify(inst, sol).ok
    best = int(sol.objective)
    need = float(0.5 * (1 + delta))
    f = float(inst.max_flops_per_s[0])
    for share, speed in [(need, f), (0.5, f), (0.5 * (1 + SHARE_ATOL), f), (0.5, f * (1 + 0.9 * SPEED_RTOL)),
                         (need * (1 - 1e-16), f), (math.nextafter(0.5, 1.0), f)]:
        allocs = [UserAlloc(user=k, model=0, share=share, speed=speed) for k in range(2)]
        rep = verify(inst, _sol(inst, allocs, 2))
        assert rep.objective <= best, (delta, share, speed, rep.objective, best)


@pytest.mark.parametrize("delta", [d for d in DELTAS if d > TIMELINE_RTOL])
def test_timeline_exploits_never_beat_the_optimum(delta):
    """Timelines (the slide-dynamic relaxation) have no exact solver; on this instance the
    dynamic optimum is 1 too (the two downloads need (1 + delta) T of channel time)."""
    inst = _knife_edge(delta)
    T = float(inst.deadline_s[0])
    plans = [
        [np.array([[0.0, 2 * T, 0.5]]), np.array([[0.0, 2 * T, 0.5]])],  # shares 0.5 throughout
        [np.array([[0.0, T / 2 * (1 + delta), 1.0]]), np.array([[T / 2 * (1 + delta), 2 * T, 1.0]])],  # one by one
    ]
    for tls in plans:
        allocs = [UserAlloc(user=k, model=0, share=1.0, speed=1e9, timeline=tl) for k, tl in enumerate(tls)]
        rep = verify(inst, _sol(inst, allocs, 2))
        assert rep.objective <= 1, (delta, rep.objective, rep.details)


def test_solvers_still_verify_on_knife_edges():
    for delta in DELTAS:
        inst = _knife_edge(delta, 1e7)
        for alg in ("slide", "slide-dynamic", "sequential", "equal-bandwidth"):
            sol = solve("slide", alg, inst, SolveOptions(seed=0))
            assert verify(inst, sol).ok, (delta, alg, verify(inst, sol).reasons)


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_mutated_solutions_never_beat_the_optimum(inst, data):
    """Scale the shares and speeds of slide's optimum by a hair and add an unserved user with
    the leftover share: never more than the optimum."""
    sol = solve("slide", "slide", inst, SolveOptions(seed=0))
    fs = data.draw(st.floats(1.0 - 1e-6, 1.0 + 1e-6))
    fv = data.draw(st.floats(1.0, 1.0 + 1e-6))
    allocs = [UserAlloc(user=a.user, model=a.model, share=min(1.0, a.share * fs), speed=a.speed * fv)
              for a in sol.allocs]
    used = {a.user for a in allocs}
    free = [k for k in range(inst.num_users) if k not in used]
    k = data.draw(st.sampled_from(free))
    left = max(0.0, 1.0 - sum(a.share for a in allocs)) * data.draw(st.floats(1.0, 1.0 + 1e-6))
    allocs.append(UserAlloc(user=k, model=inst.candidates[k][0], share=min(1.0, left),
                            speed=float(inst.max_flops_per_s[k])))
    rep = verify(inst, _sol(inst, allocs, OPTIMUM + 1))
    assert rep.objective <= OPTIMUM
    assert not rep.ok


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n_users=st.integers(1, 40))
def test_least_share_is_the_solvers_share_to_the_bit(seed, n_users):
    """verify's closed-form test reproduces pair_table exactly, for both executions, so the
    deadline of a constant-share user needs no slack."""
    from edgeinfer.streaming.model import least_share, speed_cap
    from edgeinfer.streaming.scenario import make_instance
    from edgeinfer.streaming.solvers import pair_table

    inst = make_instance(seed=seed, n_users=n_users)
    for execution in ("pipelined", "sequential"):
        table = pair_table(inst, execution)
        for u, m, share, speed in zip(table.user, table.model, table.share, table.speed, strict=True):
            assert speed_cap(inst, int(u), int(m)) == speed
            assert least_share(inst, int(u), int(m), float(speed), execution) == share


def test_instance_rate_overflow_refused():
    from edgeinfer.core.errors import InvalidInstanceError

    doc = json.loads(EXAMPLE.read_text())
    doc["bandwidth_hz"] = 1e300
    doc["users"][2]["spectral_efficiency"] = 1e10
    with pytest.raises(InvalidInstanceError, match=r"users\[2\].spectral_efficiency"):
        load_instance(doc)
