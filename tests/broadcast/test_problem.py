"""File formats, validation and the verifier of ``mba``."""

from __future__ import annotations

import copy
import json
import math
from dataclasses import replace

import numpy as np
import pytest

import edgeinfer.broadcast  # noqa: F401  (registers the problem)
from edgeinfer.broadcast.problem import (
    Transmission,
    dump_solution,
    load_instance,
    load_solution,
    verify,
)
from edgeinfer.core.errors import InvalidInstanceError, InvalidSolutionError
from edgeinfer.core.registry import solve
from edgeinfer.core.solution import SolveOptions
from edgeinfer.core.status import SolveStatus


@pytest.fixture
def doc(example_path):
    return json.loads(example_path.read_text())


def test_load_example(doc):
    inst = load_instance(doc)
    assert inst.scores.shape == (6, 8, 6)
    assert inst.model_ids[inst.own_model[3]] == "t3"
    assert inst.scores[1, 2, 4] == doc["scores"][1][2][4]


@pytest.mark.parametrize("mutate, field, words", [
    (lambda d: d["devices"][2].update(model="t9"), "devices[2].model", "unknown model 't9'"),
    (lambda d: d["scores"].pop(), "scores", "[models=6][positions=8][devices=6]"),
    (lambda d: d["scores"][1].pop(), "scores[1]", "expected 8 positions"),
    (lambda d: d["scores"][1][3].append(0.5), "scores[1][3]", "expected 6 devices"),
    (lambda d: d["devices"][0].update(channel_gain=-1e-3), "devices[0].channel_gain", "greater than 0"),
    (lambda d: d.update(noise_w=0.0), "noise_w", "greater than 0"),
    (lambda d: d["models"].append({"id": "t0"}), "models[6].id", "duplicate id"),
    (lambda d: d.update(extra=1), "extra", "unknown field"),
    (lambda d: d["scores"][0][0].__setitem__(0, "x"), "scores[0][0][0]", ""),
])
def test_bad_instances_name_the_field(doc, mutate, field, words):
    d = copy.deepcopy(doc)
    mutate(d)
    with pytest.raises(InvalidInstanceError) as ei:
        load_instance(d)
    assert ei.value.field == field
    assert words in str(ei.value)


def _solved(doc, algo="greedy"):
    inst = load_instance(doc)
    sol = solve("mba", algo, inst, SolveOptions())
    return inst, sol


def test_round_trip_and_verify(doc):
    inst, sol = _solved(doc)
    out = dump_solution(sol)
    json.dumps(out, allow_nan=False)
    back = load_solution(out, inst)
    rep = verify(inst, back)
    assert rep.ok, rep.reasons
    assert math.isclose(rep.objective, sum(t.duration_s for t in sol.broadcast))


def test_verify_catches_wrong_solutions(doc):
    inst, sol = _solved(doc)
    d0 = inst.device_ids[0]
    # 1. a block that is never broadcast
    asm = dict(sol.assembly)
    unused = next(m for m in inst.model_ids if (m, 0) not in {(t.model, t.position) for t in sol.broadcast})
    asm[d0] = (unused,) + tuple(asm[d0][1:])
    assert not verify(inst, replace(sol, assembly=asm)).feasible
    # 2. too little time for the worst device
    tx = list(sol.broadcast)
    tx[0] = tx[0]._replace(duration_s=tx[0].duration_s * 0.5)
    r = verify(inst, replace(sol, broadcast=tuple(tx)))
    assert not r.ok and any("receives only" in m for m in r.reasons)
    # 3. too much energy
    tx = [t._replace(power_w=t.power_w * 1.01) for t in sol.broadcast]
    r = verify(inst, replace(sol, broadcast=tuple(tx)))
    assert any("exceeds the budget" in m for m in r.reasons)
    # 4. wrong total latency
    r = verify(inst, replace(sol, total_latency_s=sol.total_latency_s * 0.9, objective=sol.objective * 0.9))
    assert not r.ok
    # 5. QoS violated: every device uses model t0 everywhere, broadcast at high power
    tx = tuple(Transmission("t0", n, 1.0, 1.0) for n in range(8))
    asm = {d: ("t0",) * 8 for d in inst.device_ids}
    r = verify(inst, replace(sol, broadcast=tx, assembly=asm, total_latency_s=8.0, objective=8.0, energy_j=8.0))
    assert any("< qos" in m for m in r.reasons)


def test_bad_solutions_raise(doc):
    inst, sol = _solved(doc)
    out = dump_solution(sol)
    for mutate, field in [
        (lambda o: o["assembly"].update(ghost=["t0"] * 8), "assembly.ghost"),
        (lambda o: o["assembly"].update(d1=["t0"] * 7), "assembly.d1"),
        (lambda o: o["broadcast"][0].update(model="zz"), "broadcast[0].model"),
        (lambda o: o["broadcast"][0].update(position=8), "broadcast[0].position"),
        (lambda o: o["assembly"].pop("d2"), "assembly"),
        (lambda o: o.update(status="great"), "status"),
    ]:
        o = copy.deepcopy(out)
        mutate(o)
        with pytest.raises(InvalidSolutionError) as ei:
            load_solution(o, inst)
        assert ei.value.field == field


def test_unreachable_qos_is_a_status_naming_the_device(doc):
    d = copy.deepcopy(doc)
    d["devices"][4]["qos"] = 100.0
    inst = load_instance(d)
    for algo in ("greedy", "bnb", "milp", "unicast", "latency"):
        sol = solve("mba", algo, inst, SolveOptions())
        assert sol.status is SolveStatus.INFEASIBLE
        assert "d4" in sol.stats["message"]
        rep = verify(inst, sol)  # the infeasibility is certified from the instance
        assert rep.ok
        json.dumps(dump_solution(sol), allow_nan=False)


def test_energy_infeasible(doc):
    d = copy.deepcopy(doc)
    d["energy_j"] = 1e-5  # below N * N0 Q ln2 / (B H_min) = 3.3e-5 J
    inst = load_instance(d)
    for algo in ("greedy", "bnb", "unicast"):
        sol = solve("mba", algo, inst, SolveOptions())
        assert sol.status is SolveStatus.INFEASIBLE
        assert "energy" in sol.stats["message"]
        assert verify(inst, sol).ok  # certified: the weakest device alone needs more


def test_infeasible_claim_on_feasible_instance_is_wrong(doc):
    inst, sol = _solved(doc)
    fake = replace(sol, status=SolveStatus.INFEASIBLE, broadcast=(), assembly={}, objective=math.inf,
                   total_latency_s=math.inf)
    assert not verify(inst, fake).ok


def test_scores_read_only(doc):
    inst = load_instance(doc)
    with pytest.raises(ValueError):
        inst.scores[0, 0, 0] = 1.0
    assert isinstance(inst.scores, np.ndarray)


def test_scenario_make_instance_is_a_validated_random_draw():
    from edgeinfer.broadcast.problem import dump_instance
    from edgeinfer.broadcast.scenario import ScenarioConfig, make_instance
    from edgeinfer.core.errors import InvalidOptionError

    a = make_instance(seed=3, num_devices=4, num_positions=5)
    b = make_instance(ScenarioConfig(num_devices=4, num_positions=5), rng=np.random.default_rng(3))
    assert a.scores.shape == (4, 5, 4) and np.array_equal(a.scores, b.scores) and np.array_equal(a.gains, b.gains)
    assert not np.array_equal(a.gains, make_instance(seed=4, num_devices=4, num_positions=5).gains)
    assert dump_instance(load_instance(dump_instance(a))) == dump_instance(a)
    assert not a.scores.flags.writeable  # the same frozen arrays as a loaded file
    default = make_instance()
    assert (default.num_devices, default.num_positions, default.energy_j) == (21, 24, 250.0)
    with pytest.raises(InvalidOptionError) as ei:
        make_instance(num_device=3)
    assert ei.value.field == "num_device" and "num_devices" in str(ei.value)


@pytest.mark.parametrize("field, value", [("bandwidth_hz", 1.6e169), ("bandwidth_hz", 1e300), ("noise_w", 1e-300),
                                          ("energy_j", 1e300)])
def test_a_budget_beyond_the_power_controls_range_is_refused_not_a_crash(doc, field, value, tmp_path, capsys):
    """Each of these crashed every mba solver with "could not bracket beta" (exit 3): the budget
    was over 1e163 times the least energy of any broadcast. Now the instance is refused, one line
    naming energy_j (exit 2); a budget just inside the range solves and verifies."""
    from edgeinfer.broadcast.model import MAX_BUDGET_SPAN, budget_span
    from edgeinfer.cli import main
    bad = {**doc, field: value}
    with pytest.raises(InvalidInstanceError, match=r"energy_j"):
        load_instance(bad)
    path = tmp_path / "i.json"
    path.write_text(json.dumps(bad))
    assert main(["solve", str(path), "-a", "greedy", "-o", str(tmp_path / "s.json")]) == 2
    err = capsys.readouterr().err.strip()
    assert "energy_j" in err and len(err.splitlines()) == 1
    span = budget_span(doc["energy_j"], doc["bandwidth_hz"], doc["noise_w"], doc["block_bits"],
                       max(d["channel_gain"] for d in doc["devices"]), doc["num_positions"])
    edge = {**doc, "energy_j": doc["energy_j"] * MAX_BUDGET_SPAN / span * (1 - 1e-9)}
    inst = load_instance(edge)
    for algorithm in ("greedy", "unicast"):
        sol = solve("mba", algorithm, inst)
        assert sol.status.has_solution and verify(inst, sol).ok
