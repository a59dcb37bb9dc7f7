"""Issue 13 for ``lymdo_slot``: ``verify`` recomputes with exactly the solvers' model (no delay
cap), checks claimed per-device values whenever present, range-checks resources, and its
tolerances cannot beat the exhaustive optimum; infeasible slots are statuses through the CLI
(exit 0), malformed files exit 2, never 3."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import numpy as np
import pytest

from edgeinfer.cli import main
from edgeinfer.core.registry import solve
from edgeinfer.core.solution import SolveOptions
from edgeinfer.online import problem as op
from edgeinfer.online.model import dpp_objective, evaluate_slot
from edgeinfer.online.problem import dump_solution, load_instance, load_solution, verify

DATA = Path(__file__).parent / "data"
DOC = json.loads((DATA / "slot3.json").read_text())


def _free(doc: dict) -> dict:
    out = copy.deepcopy(doc)
    for d in out["devices"]:
        d.pop("split", None)
    return out


def _sol(doc: dict) -> dict:
    return json.loads(json.dumps(dump_solution(doc)))


def test_delay_cap_exploit_is_refused() -> None:
    """Weak channels and tiny bandwidth shares give transfers of hundreds of seconds; the old
    verify capped them at 10 s and accepted the capped objective."""
    doc = copy.deepcopy(DOC)
    for d in doc["devices"]:
        d["split"] = 0
        d["channel_gain"] = 1e-15
    inst = load_instance(doc)
    n = len(inst.ids)
    split = np.zeros(n, dtype=np.int64)
    f_ue, f_es, alpha = np.zeros(n), np.full(n, inst.cfg.f_es_max_hz / n), np.full(n, 1e-3)
    capped = evaluate_slot(inst.cfg, inst.tables, split, f_ue, f_es, alpha, inst.h, inst.lam)
    exact = evaluate_slot(inst.cfg, inst.tables, split, f_ue, f_es, alpha, inst.h, inst.lam, exact=True)
    assert exact.delay_s.min() > 100.0  # the real delays
    claim = {"problem": "lymdo_slot", "algorithm": "hand", "status": "feasible",
             "objective": dpp_objective(inst.cfg, capped, inst.Q, inst.W),
             "devices": [{"id": inst.ids[i], "split": 0, "f_ue_hz": 0.0, "f_es_hz": float(f_es[i]),
                          "alpha": float(alpha[i])} for i in range(n)]}
    rep = verify(inst, load_solution(claim, inst))
    assert not rep.ok
    assert rep.objective == pytest.approx(dpp_objective(inst.cfg, exact, inst.Q, inst.W), rel=1e-12)
    assert min(rep.details["delay_s"]) > 100.0


def test_solver_answers_verify_with_long_delays() -> None:
    """The solvers and verify share the uncapped model: at -120 dBm/Hz and weak channels the
    optimum has delays far above the old 10 s cap and still verifies."""
    doc = copy.deepcopy(DOC)
    doc["system"] = {"noise_psd_dbm_per_hz": -120.0}
    inst = load_instance(doc)
    sol = solve("lymdo_slot", "convex", inst, SolveOptions())
    rep = verify(inst, sol)
    assert rep.ok, rep.reasons
    assert max(rep.details["delay_s"]) > 10.0


def test_claimed_per_device_values_are_checked_whenever_present() -> None:
    inst = load_instance(DOC)
    sol = solve("lymdo_slot", "convex", inst, SolveOptions())
    doc = _sol(sol)
    assert all("delay_s" in d for d in doc["devices"])
    assert verify(inst, load_solution(doc, inst)).ok
    for name in ("delay_s", "energy_j", "memory_bytes"):
        lied = copy.deepcopy(doc)
        for d in lied["devices"]:
            for k in ("delay_s", "energy_j", "memory_bytes"):
                d.pop(k, None)
        lied["devices"][1][name] = 1e-6  # only one device claims it
        rep = verify(inst, load_solution(lied, inst))
        assert not rep.ok and any(name in r for r in rep.reasons), name


@pytest.mark.parametrize("field,value", [("alpha", 2.0), ("f_ue_hz", 1e300), ("f_es_hz", 1e300)])
def test_out_of_range_resources_are_invalid(field: str, value: float) -> None:
    inst = load_instance(DOC)
    doc = _sol(solve("lymdo_slot", "convex", inst, SolveOptions()))
    for d in doc["devices"]:
        for k in ("delay_s", "energy_j", "memory_bytes"):
            d.pop(k, None)
    doc["devices"][0][field] = value
    assert not verify(inst, load_solution(doc, inst)).feasible


def test_overflowing_objective_is_invalid_and_solvers_answer_infeasible() -> None:
    # the file format refuses such queues and rates now (energy_queue <= 1e15, arrival_rate <= 1e9:
    # 1.7e308 crashed the bandwidth split); the solvers' own guard is tested on a slot built in code
    import dataclasses
    inst = load_instance(_free(DOC))
    inst = dataclasses.replace(inst, Q=np.full(len(inst.ids), 1e308), lam=np.full(len(inst.ids), 1e6))
    for algo in ("exhaustive", "greedy-dpp"):
        sol = solve("lymdo_slot", algo, inst, SolveOptions())
        assert sol.status.value == "infeasible"
        assert verify(inst, sol).ok  # the certificate: no split has a finite cost
    # a hand-made solution of that slot cannot verify: its objective overflows
    split = [0] * len(inst.ids)
    claim = {"problem": "lymdo_slot", "algorithm": "hand", "status": "feasible", "objective": 1.0,
             "devices": [{"id": i, "split": 0, "f_ue_hz": 0.0, "f_es_hz": 5e9, "alpha": 1 / 3} for i in inst.ids]}
    assert split and not verify(inst, load_solution(claim, inst)).ok


def test_infeasible_status_needs_a_certificate() -> None:
    inst = load_instance(DOC)
    claim = {"problem": "lymdo_slot", "algorithm": "hand", "status": "infeasible", "objective": None,
             "devices": [{"id": i, "split": s, "f_ue_hz": 0.0, "f_es_hz": 0.0, "alpha": 0.0}
                         for i, s in zip(inst.ids, (6, 0, 10), strict=True)]}
    rep = verify(inst, load_solution(claim, inst))
    assert not rep.ok and "not certifiably infeasible" in rep.reasons[0]


def test_tolerances_do_not_let_a_solution_beat_the_exhaustive_optimum() -> None:
    """Scale every resource up to the edge its tolerance allows and claim the lowest objective
    the objective tolerance admits: still no better than the optimum beyond that tolerance."""
    doc = _free(DOC)
    inst = load_instance(doc)
    opt = solve("lymdo_slot", "exhaustive", inst, SolveOptions()).objective
    sol = _sol(solve("lymdo_slot", "exhaustive", inst, SolveOptions()))
    f = 1 + op.RESOURCE_REL_TOL * 0.999
    for d in sol["devices"]:
        for k in ("delay_s", "energy_j", "memory_bytes"):
            d.pop(k, None)
        d["alpha"] *= f
        d["f_es_hz"] *= f
        if d["f_ue_hz"] >= inst.cfg.f_ue_max_hz:
            d["f_ue_hz"] = inst.cfg.f_ue_max_hz * f
    rep = verify(inst, load_solution(sol, inst))
    assert rep.feasible, rep.reasons
    assert rep.objective >= opt * (1 - op.OBJECTIVE_REL_TOL)
    sol["objective"] = rep.objective * (1 - 0.9 * op.OBJECTIVE_REL_TOL)
    assert verify(inst, load_solution(sol, inst)).ok
    sol["objective"] = rep.objective * (1 - 2 * op.OBJECTIVE_REL_TOL)
    assert not verify(inst, load_solution(sol, inst)).ok
    # one step beyond the resource tolerance is refused
    sol["devices"][0]["alpha"] = 1.0 + 3 * op.RESOURCE_REL_TOL
    assert not verify(inst, load_solution(sol, inst)).feasible


def _cli(tmp_path: Path, doc: dict, algo: str, capsys) -> tuple[int, str, dict | None]:
    i, o = tmp_path / "i.json", tmp_path / f"{algo}.json"
    i.write_text(json.dumps(doc))
    o.unlink(missing_ok=True)
    rc = main(["solve", str(i), "-a", algo, "-o", str(o)])
    err = capsys.readouterr().err
    out = json.loads(o.read_text()) if o.exists() else None
    if out is not None:
        assert main(["verify", str(i), str(o)]) == 0
        capsys.readouterr()
    return rc, err, out


CASES = {
    "c7-fixed": ({"noise_psd_dbm_per_hz": -174.0}, 1e4, 3, True),
    "noise-120": ({"noise_psd_dbm_per_hz": -120.0}, 2.0, 0, False),
    "noise-60": ({"noise_psd_dbm_per_hz": -60.0}, 2.0, 1, False),
    # SNRs of 2e-19 and 2e-41: log2(1 + s) made the rate 0 and a fixed offloading split infeasible;
    # with log1p the rate is tiny and the transfer finite but enormous (a status, not a crash, either way)
    "noise+30": ({"noise_psd_dbm_per_hz": 30.0}, 2.0, 0, False),
    "noise+250": ({"noise_psd_dbm_per_hz": 250.0}, 2.0, 1, False),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_cli_infeasible_or_extreme_slots_are_statuses_not_crashes(case: str, tmp_path: Path, capsys) -> None:
    system, lam, split, infeasible = CASES[case]
    base = {"problem": "lymdo_slot", "system": system,
            "devices": [{"id": "a", "model": "alexnet", "channel_gain": 1e-11, "arrival_rate": lam, "split": split},
                        {"id": "b", "model": "alexnet", "channel_gain": 2e-11, "arrival_rate": 2.0, "split": 1}]}
    for algo, doc in (("convex", base), ("exhaustive", base), ("greedy-dpp", _free(base)), ("exhaustive", _free(base))):
        rc, err, out = _cli(tmp_path, doc, algo, capsys)
        assert rc == 0, (algo, err)
        assert "Traceback" not in err and "internal error" not in err
        assert out is not None
        fixed = any("split" in d for d in doc["devices"])
        if infeasible and fixed:
            assert out["status"] == "infeasible" and out["objective"] is None and out["stats"]["message"]
        else:
            assert out["status"] in ("optimal", "feasible") and math.isfinite(out["objective"])


@pytest.mark.parametrize("mutate", [
    lambda d: d["devices"][0].update(arrival_rate=float("nan")),
    lambda d: d["devices"][0].update(arrival_rate=-1.0),
    lambda d: d["system"].update(noise_psd_dbm_per_hz="loud"),
    lambda d: d["devices"][0].update(split=99),
])
def test_cli_malformed_slot_exits_2(mutate, tmp_path: Path, capsys) -> None:
    doc = copy.deepcopy(DOC)
    doc["system"] = {}
    mutate(doc)
    p = tmp_path / "i.json"
    p.write_text(json.dumps(doc))
    assert main(["solve", str(p), "-a", "convex", "-o", str(tmp_path / "o.json")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o.json").exists()


def test_a_tiny_snr_gives_a_tiny_rate_not_zero() -> None:
    """1e-15 W, a gain of 1e-30 and 1 THz at -300 dBm/Hz (each in its field's range) give an SNR of
    1e-24, which ``log2(1 + snr)`` rounds to a zero rate (an infinite transfer); the model, the
    bound and the allocation compute ``log1p(snr) / ln 2`` (``system.rates``)."""
    doc = copy.deepcopy(DOC)
    doc["system"] = {"tx_power_w": 1e-15, "bandwidth_hz": 1e12, "noise_psd_dbm_per_hz": -300.0}
    for d in doc["devices"]:
        d["split"] = 0
        d["channel_gain"] = 1e-30
    inst = load_instance(doc)
    n = len(inst.ids)
    cfg = inst.cfg
    snr = cfg.tx_power_w * inst.h / (cfg.bandwidth_hz * cfg.noise_psd_w_per_hz)
    assert 1e-25 < snr.max() < 1e-23
    split, alpha = np.zeros(n, dtype=np.int64), np.full(n, 1.0 / n)
    m = evaluate_slot(cfg, inst.tables, split, np.zeros(n), np.full(n, cfg.f_es_max_hz / n), alpha, inst.h, inst.lam,
                      exact=True)
    psi = np.array([inst.tables.psi_bits[i][0] for i in range(n)], float)
    want = psi / (alpha * cfg.bandwidth_hz * np.log1p(snr / alpha) / np.log(2.0))
    assert np.all(np.isfinite(m.t_trans_s))
    np.testing.assert_allclose(m.t_trans_s, want, rtol=1e-12)
    from edgeinfer.online.solvers.allocation import bandwidth_objective

    assert math.isfinite(bandwidth_objective(alpha, psi, snr, cfg.bandwidth_hz))
    assert all(math.isfinite(op.lower_bound_terms(inst, i, 0)) for i in range(n))
