"""``split_noma`` through the file formats and the command line."""

from __future__ import annotations

import copy
import json

import pytest

from edgeinfer.cli import main
from edgeinfer.core.errors import InvalidInstanceError, InvalidSolutionError
from edgeinfer.core.io import dump_solution, load_instance, load_solution
from edgeinfer.core.registry import get_problem, solve
from edgeinfer.core.solution import SolveOptions
from edgeinfer.split.problem import dump_instance
from edgeinfer.split.scenario import make_instance

INST = make_instance(seed=4, model="nin", num_aps=2, users_per_ap=3, num_subchannels=3)
DOC = json.loads(json.dumps(dump_instance(INST)))


def test_instance_round_trip() -> None:
    spec, inst = load_instance(DOC)
    assert spec.name == "split_noma"
    assert json.loads(json.dumps(dump_instance(inst))) == DOC
    a = solve("split_noma", "ecc-oma", INST, SolveOptions())
    b = solve("split_noma", "ecc-oma", inst, SolveOptions())
    assert a.objective == pytest.approx(b.objective, rel=1e-9)


def test_solution_round_trip_verifies() -> None:
    spec, inst = load_instance(DOC)
    sol = solve("split_noma", "li-gd", inst, SolveOptions())
    doc = json.loads(json.dumps(dump_solution(spec, sol)))
    back = load_solution(doc, spec, inst)
    assert spec.verify(inst, back).ok
    assert back.objective == sol.objective


def test_cli_solve_and_verify(tmp_path, capsys) -> None:
    inst_path = tmp_path / "inst.json"
    inst_path.write_text(json.dumps(DOC))
    out = tmp_path / "sol.json"
    assert main(["solve", str(inst_path), "-a", "li-gd", "-o", str(out), "--param", "eps=1e-6"]) == 0
    assert main(["verify", str(inst_path), str(out)]) == 0
    sol = json.loads(out.read_text())
    assert sol["problem"] == "split_noma" and len(sol["devices"]) == INST.num_devices
    assert {"split", "uplink_subchannel", "downlink_subchannel", "uplink_power_w", "downlink_power_w",
            "compute_units", "latency_s", "energy_j"} <= set(sol["devices"][0])
    sol["objective"] *= 0.9
    out.write_text(json.dumps(sol))
    capsys.readouterr()
    assert main(["verify", str(inst_path), str(out)]) == 1
    assert "differs" in capsys.readouterr().out
    assert main(["list", "--problem", "split_noma"]) == 0
    assert "li-gd" in capsys.readouterr().out


@pytest.mark.parametrize(("mutate", "field"), [
    (lambda d: d["devices"][0].update(model="m9"), "devices[0].model"),
    (lambda d: d["devices"][1].update(ap="nowhere"), "devices[1].ap"),
    (lambda d: d["devices"][0]["uplink_gain"].pop(), "devices[0].uplink_gain"),
    (lambda d: d["devices"][0]["downlink_gain"][0].append(1e-9), "devices[0].downlink_gain"),
    (lambda d: d["devices"][0]["uplink_gain"][0].__setitem__(0, -1.0), "devices[0].uplink_gain"),
    (lambda d: d["system"].update(device_power_min_w=5.0), "system.device_power_min"),
    (lambda d: d["system"].update(num_subchannels=0), "system.num_subchannels"),
    (lambda d: d["devices"].append(copy.deepcopy(d["devices"][0])), "devices[6].id"),
    (lambda d: d.update(devices=[]), "devices"),
    (lambda d: d["models"][0].update(layers=[]), "models[0].layers"),
    (lambda d: d.update(extra=1), "extra"),
])
def test_bad_instances_name_the_field(mutate, field: str, tmp_path, capsys) -> None:
    doc = copy.deepcopy(DOC)
    mutate(doc)
    with pytest.raises(InvalidInstanceError) as exc:
        load_instance(doc)
    assert exc.value.field.startswith(field)
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(doc))
    assert main(["solve", str(p), "-a", "li-gd"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_bad_solutions() -> None:
    spec, inst = load_instance(DOC)
    good = dump_solution(spec, solve("split_noma", "device-only", inst, SolveOptions()))
    for mutate in (lambda d: d["devices"][0].update(id="ghost"), lambda d: d["devices"].pop(),
                   lambda d: d.update(status="great"), lambda d: d.update(access="tdma"),
                   lambda d: d["devices"][0].update(split=-1)):
        doc = copy.deepcopy(good)
        mutate(doc)
        with pytest.raises(InvalidSolutionError):
            load_solution(doc, spec, inst)
    doc = copy.deepcopy(good)
    doc["devices"][0]["split"] = 0  # offloads without subchannels: infeasible, not malformed
    rep = get_problem("split_noma").verify(inst, load_solution(doc, spec, inst))
    assert not rep.feasible


def test_docs_examples_are_valid() -> None:
    import re
    from pathlib import Path

    text = (Path(__file__).parents[2] / "docs" / "formats.md").read_text()
    sec = text[text.index("## `split_noma`"):]
    inst_doc, sol_doc = (json.loads(b) for b in re.findall(r"```json\n(.*?)```", sec, re.S)[:2])
    spec, inst = load_instance(inst_doc)
    assert spec.verify(inst, load_solution(sol_doc, spec, inst)).ok
