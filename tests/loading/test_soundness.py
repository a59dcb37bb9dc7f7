"""verify of partial_loading cannot be fooled (issue 13): exact counts, claimed timings,
tolerances that serve nobody more than an exact solver, range-checked solution files."""

import json
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgeinfer.core.errors import InvalidSolutionError
from edgeinfer.core.registry import solve
from edgeinfer.core.solution import SolveOptions, VerifyReport
from edgeinfer.core.status import SolveStatus
from edgeinfer.loading.model import DEADLINE_RTOL, PLAN_MARGIN, timeline
from edgeinfer.loading.problem import (
    SHARE_TOL,
    Batch,
    PartialLoadingSolution,
    dump_solution,
    load_instance,
    load_solution,
    verify,
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "partial_loading_backbone.json"


@pytest.fixture(scope="module")
def solved():
    inst = load_instance(json.loads(EXAMPLE.read_text()))
    sol = solve("partial_loading", "spec", inst, SolveOptions(seed=0))
    return inst, sol, dump_solution(sol, inst)


def test_integer_objective_compared_exactly():
    # the case: rel_tol 1e-6 would accept 1000002 for 1,000,001
    assert math.isclose(1000001.0, 1000002.0, rel_tol=1e-6)
    assert not VerifyReport(feasible=True, objective=1000001.0, reported_objective=1000002.0, integer=True).ok
    assert VerifyReport(feasible=True, objective=1000001.0, reported_objective=1000001.0, integer=True).ok


def test_claimed_served_off_by_one_is_wrong(solved):
    inst, sol, doc = solved
    assert verify(inst, sol).ok
    for delta in (1, -1):
        bad = dict(doc, served=doc["served"] + delta)
        assert not verify(inst, load_solution(bad, inst)).ok


@pytest.mark.parametrize("field", ["start_s", "upload_s", "load_s", "compute_s", "end_s"])
def test_claimed_timing_checked_when_present_on_one_batch(solved, field):
    inst, _, doc = solved
    bad = json.loads(json.dumps(doc))
    for b in bad["batches"]:  # only the last batch keeps any claims
        for f in ("start_s", "upload_s", "load_s", "compute_s", "end_s"):
            b.pop(f, None)
    last = bad["batches"][-1]
    real = timeline(load_instance(json.loads(EXAMPLE.read_text())), load_solution(bad, inst).batches)[-1]
    last[field] = getattr(real, field) * 0.9 + 1e-6
    rep = verify(inst, load_solution(bad, inst))
    assert not rep.ok and any(field in r for r in rep.reasons)
    last[field] = getattr(real, field)
    assert verify(inst, load_solution(bad, inst)).ok


@pytest.mark.parametrize("value", [-1.0, float("inf"), float("nan"), 1e400])
def test_out_of_range_timings_and_shares_refused(solved, value):
    inst, _, doc = solved
    for key in ("end_s", "bandwidth_share"):
        bad = json.loads(json.dumps(doc))
        b = bad["batches"][0]
        if key == "bandwidth_share":
            b[key] = [value] + b[key][1:]
        else:
            b[key] = value
        with pytest.raises(InvalidSolutionError):
            load_solution(bad, inst)


def _knife_edge(extra: float, *, max_batch: int):
    """Two users that fill the deadline exactly, plus user ``e`` costing ``extra * deadline``."""
    unit = 0.05  # seconds of upload with the whole band
    doc = {"problem": "partial_loading", "bandwidth_hz": 1e6, "deadline_s": 1.0,
           "load": {"disk_bytes_per_s": 1e9, "host_to_device_bytes_per_s": 1e9},
           "blocks": [{"id": "b", "bytes": 0.0}],
           "models": [{"id": "m", "blocks": ["b"], "compute_per_sample_s": 0.0, "compute_fixed_s": 0.0,
                       "max_batch": max_batch}],
           "users": [{"id": "u0", "model": "m", "data_bits": unit * 1e6, "spectral_efficiency": 1.0},
                     {"id": "u1", "model": "m", "data_bits": unit * 1e6, "spectral_efficiency": 1.0}]}
    inst = load_instance(doc)
    one = [Batch(0, (0,), (1.0,)), Batch(0, (1,), (1.0,))] if max_batch == 1 else [Batch(0, (0, 1), (0.5, 0.5))]
    T = timeline(inst, one)[-1].end_s  # the optimum of u0, u1 ends exactly at the deadline
    doc["deadline_s"] = T
    doc["users"].append({"id": "e", "model": "m", "data_bits": extra * T * 1e6, "spectral_efficiency": 1.0})
    return load_instance(doc)


def _exact_served(inst) -> int:
    best = 0
    for alg in ("exact", "spec"):
        sol = solve("partial_loading", alg, inst, SolveOptions(seed=0))
        assert verify(inst, sol).ok
        best = max(best, int(verify(inst, sol).objective))
    return best


#: knife edges at fractions of each tolerance (the band (1 - PLAN_MARGIN/DEADLINE_RTOL, 1] of the
#: deadline slack is the documented residual), at the old slack 1e-9 and well beyond
EXTRAS = [0.5 * DEADLINE_RTOL, 0.8 * DEADLINE_RTOL, 2 * DEADLINE_RTOL, 0.5e-9, 0.9 * SHARE_TOL, 1e-6]


@pytest.mark.parametrize("extra", EXTRAS)
def test_deadline_slack_serves_nobody_more_than_exact(extra):
    inst = _knife_edge(extra, max_batch=1)
    best = _exact_served(inst)
    # hand-made: all three users, one batch each, each with the whole band
    sol = PartialLoadingSolution(problem="partial_loading", algorithm="hand", status=SolveStatus.FEASIBLE,
                                 objective=3.0, instance=inst,
                                 batches=(Batch(0, (0,), (1.0,)), Batch(0, (1,), (1.0,)), Batch(0, (2,), (1.0,))))
    rep = verify(inst, sol)
    assert rep.objective <= best, (extra, rep.objective, best)


@pytest.mark.parametrize("extra", EXTRAS)
def test_share_slack_serves_nobody_more_than_exact(extra):
    inst = _knife_edge(extra, max_batch=3)
    best = _exact_served(inst)
    # hand-made: one batch, shares unit_k / T (sum 1 + extra, within SHARE_TOL for small extras)
    unit = inst.unit_upload_s
    T = inst.deadline_s
    shares = tuple(float(u / T) for u in unit)
    sol = PartialLoadingSolution(problem="partial_loading", algorithm="hand", status=SolveStatus.FEASIBLE,
                                 objective=3.0, instance=inst, batches=(Batch(0, (0, 1, 2), shares),))
    rep = verify(inst, sol)
    assert rep.objective <= best, (extra, rep.objective, best, sum(shares))


def test_residual_band_is_documented():
    assert 0 < PLAN_MARGIN < DEADLINE_RTOL <= 1e-12


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_mutated_shares_never_beat_the_optimum(solved, data):
    """Scale one batch's shares up by a hair (exploiting the share slack): never more users."""
    inst, sol, doc = solved
    best = int(verify(inst, sol).objective)
    n = data.draw(st.integers(0, len(sol.batches) - 1))
    f = data.draw(st.floats(1.0, 1.0 + 2 * SHARE_TOL))
    extra_user = data.draw(st.booleans())
    batches = list(sol.batches)
    b = batches[n]
    batches[n] = Batch(b.model, b.users, tuple(min(1.0, s * f) for s in b.shares))
    if extra_user:  # append an unserved user of that model as a batch of its own
        used = {k for bb in batches for k in bb.users}
        free = [k for k in range(inst.n_users) if k not in used]
        if free:
            k = free[0]
            batches.append(Batch(int(inst.user_model[k]), (k,), (1.0,)))
    mutated = PartialLoadingSolution(problem="partial_loading", algorithm="hand", status=SolveStatus.FEASIBLE,
                                     objective=float(best + 1), instance=inst, batches=tuple(batches))
    rep = verify(inst, mutated)
    assert rep.objective <= best
    assert not rep.ok


def test_instance_rate_overflow_refused():
    from edgeinfer.core.errors import InvalidInstanceError

    doc = json.loads(EXAMPLE.read_text())
    doc["bandwidth_hz"] = 1e300
    doc["users"][2]["spectral_efficiency"] = 1e10
    with pytest.raises(InvalidInstanceError, match=r"users\[2\].spectral_efficiency"):
        load_instance(doc)
    doc = json.loads(EXAMPLE.read_text())
    doc["load"]["disk_bytes_per_s"] = 1e-310
    with pytest.raises(InvalidInstanceError, match="load"):
        load_instance(doc)
