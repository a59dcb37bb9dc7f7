"""The ``lymdo_slot`` problem through the registry and the command line."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest

from edgeinfer.cli import main
from edgeinfer.core.errors import (
    InvalidInstanceError,
    InvalidOptionError,
    InvalidSolutionError,
    UnsupportedInstanceError,
)
from edgeinfer.core.io import dump_solution, load_instance
from edgeinfer.core.registry import get_problem, solve
from edgeinfer.core.solution import SolveOptions

DATA = Path(__file__).parent / "data"
DOC = json.loads((DATA / "slot3.json").read_text())


def _free(doc: dict) -> dict:
    d = copy.deepcopy(doc)
    for dev in d["devices"]:
        dev.pop("split", None)
    return d


def test_convex_solution_verifies_and_matches_allocate() -> None:
    spec, inst = load_instance(DOC)
    sol = solve("lymdo_slot", "convex", inst)
    rep = spec.verify(inst, sol)
    assert rep.ok, rep.reasons
    assert list(sol.split) == [6, 0, 10]
    assert sol.alpha.sum() == pytest.approx(1.0)


def test_exhaustive_is_optimal_and_greedy_never_beats_it() -> None:
    spec, inst = load_instance(_free(DOC))
    ex = solve("lymdo_slot", "exhaustive", inst)
    gr = solve("lymdo_slot", "greedy-dpp", inst)
    assert spec.verify(inst, ex).ok and spec.verify(inst, gr).ok
    assert gr.objective >= ex.objective * (1 - 1e-12)
    # the optimum is no worse than the fixed splits of the original instance
    _, fixed = load_instance(DOC)
    assert ex.objective <= solve("lymdo_slot", "convex", fixed).objective * (1 + 1e-12)


def test_verify_catches_tampering() -> None:
    spec, inst = load_instance(DOC)
    doc = dump_solution(spec, solve("lymdo_slot", "convex", inst))
    bad = copy.deepcopy(doc)
    bad["devices"][0]["alpha"] = 0.9  # shares now sum above 1
    assert not spec.verify(inst, spec.load_solution(bad, inst)).ok
    bad = copy.deepcopy(doc)
    bad["objective"] *= 0.9
    assert not spec.verify(inst, spec.load_solution(bad, inst)).ok
    bad = copy.deepcopy(doc)
    bad["devices"][2]["f_ue_hz"] = 1e6  # unstable local queue
    assert not spec.verify(inst, spec.load_solution(bad, inst)).ok
    bad = copy.deepcopy(doc)
    bad["devices"][0]["id"] = "ghost"
    with pytest.raises(InvalidSolutionError):
        spec.load_solution(bad, inst)


def test_bad_instances_name_the_field() -> None:
    spec = get_problem("lymdo_slot")
    d = copy.deepcopy(DOC)
    d["devices"][1]["model"] = "alexnett"
    with pytest.raises(InvalidInstanceError, match=r"devices\[1\]\.model"):
        spec.load_instance(d)
    d = copy.deepcopy(DOC)
    d["devices"][0]["split"] = 99
    with pytest.raises(InvalidInstanceError, match=r"devices\[0\]\.split"):
        spec.load_instance(d)
    d = copy.deepcopy(DOC)
    d["devices"][2]["id"] = "ue1"
    with pytest.raises(InvalidInstanceError, match="duplicate"):
        spec.load_instance(d)
    d = copy.deepcopy(DOC)
    d["devices"][0]["channel_gain"] = -1.0
    with pytest.raises(InvalidInstanceError, match="channel_gain"):
        spec.load_instance(d)


@pytest.mark.parametrize("bandwidth_hz", [1.6e169, 1e-300])
def test_a_bandwidth_outside_its_range_is_refused_not_a_crash(bandwidth_hz: float) -> None:
    # both crashed greedy-dpp with "math domain error" (exit 3) before the range [1, 1e12] Hz
    d = _free(DOC)
    d.setdefault("system", {})["bandwidth_hz"] = bandwidth_hz
    with pytest.raises(InvalidInstanceError, match=r"system\.bandwidth_hz"):
        get_problem("lymdo_slot").load_instance(d)
    for edge in (1.0, 1e12):  # the ends of the range solve
        d["system"]["bandwidth_hz"] = edge
        assert solve("lymdo_slot", "greedy-dpp", get_problem("lymdo_slot").load_instance(d)).objective is not None


def test_unsupported_and_infeasible() -> None:
    _, inst = load_instance(_free(DOC))
    with pytest.raises(UnsupportedInstanceError):
        solve("lymdo_slot", "convex", inst)
    d = copy.deepcopy(DOC)
    d["devices"][2]["arrival_rate"] = 50.0  # ResNet-18 all local cannot keep up
    _, inst = load_instance(d)
    assert solve("lymdo_slot", "convex", inst).status.value == "infeasible"
    with pytest.raises(UnsupportedInstanceError):
        solve("lymdo_slot", "exhaustive", load_instance(_free(DOC))[1],
              SolveOptions(params={"max_combinations": 10}))


def test_cli_solve_verify_roundtrip(tmp_path, capsys) -> None:
    inst_path = tmp_path / "i.json"
    inst_path.write_text(json.dumps(_free(DOC)))
    out = tmp_path / "s.json"
    assert main(["solve", str(inst_path), "-a", "exhaustive", "-o", str(out)]) == 0
    assert main(["verify", str(inst_path), str(out)]) == 0
    sol = json.loads(out.read_text())
    sol["devices"][1]["f_es_hz"] = 1e12
    out.write_text(json.dumps(sol))
    assert main(["verify", str(inst_path), str(out)]) == 1
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"problem": "lymdo_slot", "devices": []}))
    assert main(["solve", str(bad), "-a", "convex"]) == 2
    assert "devices" in capsys.readouterr().err


def test_dump_instance_roundtrip() -> None:
    spec, inst = load_instance(DOC)
    again = spec.load_instance(spec.dump_instance(inst))
    np.testing.assert_array_equal(again.h, inst.h)
    assert again.split == inst.split


@pytest.mark.parametrize(("algorithm", "params", "name"), [
    ("exhaustive", {"max_combination": 10}, "max_combination"),  # misspelt
    ("exhaustive", {"max_combinations": 0}, "max_combinations"),  # out of range
    ("greedy-dpp", {"max_sweeps": "many"}, "max_sweeps"),  # mistyped
    ("convex", {"method": "golden"}, "method"),  # convex takes no parameters
])
def test_bad_params_are_invalid_options_naming_them(algorithm: str, params: dict, name: str) -> None:
    from edgeinfer.core.errors import InvalidOptionError

    _, inst = load_instance(_free(DOC))
    with pytest.raises(InvalidOptionError) as exc:
        solve("lymdo_slot", algorithm, inst, SolveOptions(params=params))
    assert name in str(exc.value)


def test_scenario_draws_validated_slots() -> None:
    from edgeinfer.online.scenario import ScenarioConfig, make_instance

    a = make_instance(seed=3)
    b = make_instance(ScenarioConfig(), seed=3)
    np.testing.assert_array_equal(a.h, b.h)
    np.testing.assert_array_equal(a.lam, b.lam)
    assert not np.array_equal(make_instance(seed=4).h, a.h)
    c = make_instance(seed=1, models=("alexnet",) * 2, arrival_rate=1.5, energy_queue=2.0)
    assert c.ids == ("ue0", "ue1") and (c.Q == 2.0).all() and c.split == (None, None)
    spec = get_problem("lymdo_slot")
    again = spec.load_instance(spec.dump_instance(c))  # a drawn slot is a valid file
    np.testing.assert_array_equal(again.lam, c.lam)
    assert spec.verify(c, solve("lymdo_slot", "exhaustive", c)).ok
    with pytest.raises(InvalidOptionError, match="did you mean 'arrival_rate'"):
        make_instance(arrival_rat=1.0)
    with pytest.raises(InvalidOptionError, match="not both"):
        make_instance(seed=1, rng=np.random.default_rng(1))
    with pytest.raises(InvalidInstanceError):
        make_instance(tx_power_w=-1.0)
