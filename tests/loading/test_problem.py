"""partial_loading file formats, verifier, bandwidth split (Prop. 1) and the command line."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import minimize

from edgeinfer.cli import main
from edgeinfer.core.errors import InvalidInstanceError, InvalidSolutionError
from edgeinfer.core.registry import solve
from edgeinfer.loading import (
    Batch,
    dump_instance,
    dump_solution,
    load_instance,
    load_solution,
    verify,
)
from edgeinfer.loading.scenario import synthetic_instance_doc

EXAMPLES = Path(__file__).parents[2] / "examples"
P = "partial_loading"


@pytest.fixture
def doc():
    return json.loads((EXAMPLES / "partial_loading_backbone.json").read_text())


def test_instance_round_trip(doc):
    inst = load_instance(doc)
    again = load_instance(dump_instance(inst))
    assert again.model_ids == inst.model_ids and again.user_ids == inst.user_ids
    np.testing.assert_array_equal(again.block_bytes, inst.block_bytes)
    assert inst.n_models == 6 and inst.n_users == 30


@pytest.mark.parametrize(
    "mutate, field, msg",
    [
        (lambda d: d["users"][3].__setitem__("model", "m9"), "users[3].model", "unknown model"),
        (lambda d: d["models"][1].__setitem__("max_batch", 0), "models[1].max_batch", "greater than 0"),
        (lambda d: d["models"][2].__setitem__("blocks", []), "models[2].blocks", "at least one"),
        (lambda d: d["users"][4].__setitem__("id", d["users"][0]["id"]), "users[4].id", "duplicate"),
        (lambda d: d["models"][3].__setitem__("id", d["models"][0]["id"]), "models[3].id", "duplicate"),
        (lambda d: d["blocks"][1].__setitem__("id", d["blocks"][0]["id"]), "blocks[1].id", "duplicate"),
        (lambda d: d["models"][0]["blocks"].append("nope"), "models[0].blocks[6]", "unknown block"),
        (lambda d: d["models"][0]["blocks"].append(d["models"][0]["blocks"][0]), "models[0].blocks[6]", "twice"),
        (lambda d: d["blocks"][0].__setitem__("bytes", -1.0), "blocks[0].bytes", "greater than or equal"),
        (lambda d: d["users"][0].__setitem__("spectral_efficiency", 0.0), "users[0].spectral_efficiency",
         "greater than 0"),
        (lambda d: d.__setitem__("models", []), "models", "must not be empty"),
        (lambda d: d.pop("load"), "load", "missing"),
        (lambda d: d.__setitem__("bandwidth_hz", float("nan")), "bandwidth_hz", "finite"),
        (lambda d: d.__setitem__("extra", 1), "extra", "unknown field"),
    ],
)
def test_bad_instances(doc, mutate, field, msg):
    mutate(doc)
    with pytest.raises(InvalidInstanceError) as exc:
        load_instance(doc)
    assert exc.value.field == field
    assert msg in str(exc.value)


def _solved(doc, algo="spec"):
    inst = load_instance(doc)
    sol = solve(P, algo, inst)
    return inst, sol, dump_solution(sol)


def test_solution_round_trip(doc):
    inst, sol, sdoc = _solved(doc)
    back = load_solution(json.loads(json.dumps(sdoc)), inst)
    assert back.batches == sol.batches
    rep = verify(inst, back)
    assert rep.ok and rep.objective == 19 == sdoc["served"]
    assert sdoc["batches"][-1]["end_s"] <= inst.deadline_s


@pytest.mark.parametrize(
    "mutate, field, msg",
    [
        (lambda s: s["batches"][0]["users"].__setitem__(0, "ghost"), "batches[0].users[0]", "unknown user"),
        (lambda s: s["batches"][1]["users"].append(s["batches"][0]["users"][0]) or
         s["batches"][1]["bandwidth_share"].append(0.0), "batches[1].users", "already in"),
        (lambda s: s["batches"][0]["bandwidth_share"].pop(), "batches[0].bandwidth_share", "shares for"),
        (lambda s: s["batches"][0].__setitem__("model", "zzz"), "batches[0].model", "unknown model"),
        (lambda s: s["batches"][0].__setitem__("users", []) or s["batches"][0].__setitem__("bandwidth_share", []),
         "batches[0].users", "at least one"),
        (lambda s: s.__setitem__("served", -1), "served", "greater than or equal"),
    ],
)
def test_malformed_solutions(doc, mutate, field, msg):
    inst, _, sdoc = _solved(doc)
    mutate(sdoc)
    with pytest.raises(InvalidSolutionError) as exc:
        load_solution(sdoc, inst)
    assert exc.value.field.startswith(field)
    assert msg in str(exc.value)


def test_user_in_wrong_model_batch(doc):
    inst, _, sdoc = _solved(doc)
    other = next(b for b in sdoc["batches"] if b["model"] != sdoc["batches"][0]["model"])
    sdoc["batches"][0]["users"][0] = other["users"][0]
    other["users"].pop(0)
    other["bandwidth_share"].pop(0)
    with pytest.raises(InvalidSolutionError, match="requests model"):
        load_solution(sdoc, inst)


def test_verify_violations(doc):
    inst, sol, _ = _solved(doc)
    b0 = sol.batches[0]
    # shares summing above one
    bad = Batch(b0.model, b0.users, tuple(s * 1.5 for s in b0.shares))
    rep = verify(inst, type(sol)(**{**sol.__dict__, "batches": (bad, *sol.batches[1:])}))
    assert not rep.feasible and any("sum to" in r for r in rep.violations)
    # over max_batch: put all users of a model in one batch
    i = b0.model
    users = tuple(int(k) for k in inst.users_of(i))
    assert len(users) > inst.max_batch[i]
    big = Batch(i, users, tuple(1.0 / len(users) for _ in users))
    rep = verify(inst, type(sol)(**{**sol.__dict__, "batches": (big,), "objective": float(len(users))}))
    assert any("exceed max_batch" in r for r in rep.violations)
    # wrong reported objective
    rep = verify(inst, type(sol)(**{**sol.__dict__, "objective": sol.objective + 1}))
    assert rep.feasible and not rep.ok
    # a late batch is allowed but serves nobody
    rest = [k for k in range(inst.n_users) if all(k not in b.users for b in sol.batches)]
    j = int(inst.user_model[rest[0]])
    late = Batch(j, (rest[0],), (1.0,))
    rep = verify(inst, type(sol)(**{**sol.__dict__, "batches": (*sol.batches, late)}))
    assert rep.ok and rep.objective == sol.objective and rep.details["late_batches"] == 1


def _check_split(unit: np.ndarray) -> None:
    n = len(unit)

    def t_up(y):
        return float(np.max(unit / y))

    # epigraph form: min t s.t. t >= unit/y, sum y <= 1, y > 0
    x0 = np.concatenate([np.full(n, 1.0 / n), [t_up(np.full(n, 1.0 / n))]])
    cons = [{"type": "ineq", "fun": lambda x: 1.0 - x[:n].sum()}]
    cons += [{"type": "ineq", "fun": lambda x, k=k: x[n] * x[k] - unit[k]} for k in range(n)]
    res = minimize(lambda x: x[n], x0, constraints=cons, bounds=[(1e-6, 1)] * n + [(0, None)], method="SLSQP",
                   options={"ftol": 1e-12, "maxiter": 500})
    assert res.success
    assert res.x[n] == pytest.approx(unit.sum(), rel=1e-5)
    y = unit / unit.sum()
    assert t_up(y) == pytest.approx(unit.sum(), rel=1e-12)
    assert t_up(res.x[:n]) >= unit.sum() * (1 - 1e-6)


def test_bandwidth_split_matches_numerical_minimum():
    """Prop. 1: the least slowest-user upload time is sum D/(B R), reached with y ~ D/R (eq. 12)."""
    rng = np.random.default_rng(0)
    for _ in range(10):
        _check_split(rng.uniform(0.01, 1.0, int(rng.integers(2, 6))))


def test_solver_shares_follow_eq12(doc):
    inst, sol, _ = _solved(doc, "search")
    unit = inst.unit_upload_s
    for b in sol.batches:
        w = unit[list(b.users)]
        np.testing.assert_allclose(b.shares, w / w.sum())
        assert sum(b.shares) <= 1 + 1e-12


def test_cli_round_trip(tmp_path, capsys):
    inst_path = EXAMPLES / "partial_loading_general.json"
    out = tmp_path / "sol.json"
    assert main(["solve", str(inst_path), "-a", "search", "-o", str(out)]) == 0
    assert main(["verify", str(inst_path), str(out)]) == 0
    sdoc = json.loads(out.read_text())
    assert sdoc["served"] == 20
    # corrupted but well-formed: wrong served count -> exit 1
    bad = copy.deepcopy(sdoc)
    bad["served"] = 21
    (tmp_path / "bad1.json").write_text(json.dumps(bad))
    assert main(["verify", str(inst_path), str(tmp_path / "bad1.json")]) == 1
    # shares above one -> exit 1
    bad = copy.deepcopy(sdoc)
    bad["batches"][0]["bandwidth_share"] = [1.0] * len(bad["batches"][0]["users"])
    if len(bad["batches"][0]["users"]) == 1:
        bad["batches"][0]["bandwidth_share"] = [0.0]
    (tmp_path / "bad2.json").write_text(json.dumps(bad))
    assert main(["verify", str(inst_path), str(tmp_path / "bad2.json")]) == 1
    # malformed: dangling user -> exit 2
    bad = copy.deepcopy(sdoc)
    bad["batches"][0]["users"][0] = "ghost"
    (tmp_path / "bad3.json").write_text(json.dumps(bad))
    assert main(["verify", str(inst_path), str(tmp_path / "bad3.json")]) == 2
    # bad instance -> exit 2, one line
    d = json.loads(inst_path.read_text())
    d["models"][0]["max_batch"] = 0
    (tmp_path / "inst.json").write_text(json.dumps(d))
    capsys.readouterr()
    assert main(["solve", str(tmp_path / "inst.json"), "-a", "gen"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "models[0].max_batch" in err[0]
    # spec refuses a general instance -> exit 2
    assert main(["solve", str(inst_path), "-a", "spec"]) == 2
    assert main(["solve", str(inst_path), "-a", "spec-slotted", "-p", "slot_s=-1"]) == 2


def test_cli_list(capsys):
    assert main(["list", "--problem", P]) == 0
    out = capsys.readouterr().out
    for name in ("exact", "spec", "spec-slotted", "independent", "gen", "search", "equal-bandwidth"):
        assert f"  {name} " in out


def test_random_instance_docs_are_valid():
    for kind in ("backbone", "general"):
        for s in range(5):
            inst = load_instance(synthetic_instance_doc(seed=s, kind=kind))
            assert inst.n_models == 4


def test_random_solution_documents_never_crash(doc):
    """Arbitrary batch lists: load_solution raises InvalidSolutionError or verify reports."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    inst = load_instance(doc)
    uids = list(inst.user_ids) + ["ghost"]
    mids = list(inst.model_ids) + ["nomodel"]
    batch = st.builds(
        lambda m, us, sh: {"model": m, "users": us, "bandwidth_share": sh},
        st.sampled_from(mids), st.lists(st.sampled_from(uids), max_size=4),
        st.lists(st.floats(0, 1), max_size=4),
    )

    @settings(max_examples=60, deadline=None)
    @given(st.lists(batch, max_size=5), st.integers(0, 40))
    def check(batches, served):
        sdoc = {"problem": P, "algorithm": "x", "status": "feasible", "served": served, "batches": batches}
        try:
            sol = load_solution(sdoc, inst)
        except InvalidSolutionError:
            return
        rep = verify(inst, sol)
        assert rep.objective <= sum(len(b["users"]) for b in batches)
        if rep.ok:
            assert rep.objective == served

    check()
