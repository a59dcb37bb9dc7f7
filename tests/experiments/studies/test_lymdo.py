"""The lymdo study through the engine on a tiny configuration: trained or saved policies."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("stable_baselines3")
pytest.importorskip("pandas")

from edgeinfer.experiments.engine import run_study  # noqa: E402
from edgeinfer.experiments.studies import lymdo  # noqa: E402

TINY = {"episodes": 2, "steps": 32, "eval_slots": 10}


def test_engine_study_runs_tiny(tmp_path) -> None:
    assert lymdo.STUDY.name == "lymdo"
    res = run_study("lymdo", tmp_path / "out", quick=True, realisations=1, jobs=1, figures=False, overrides=TINY)
    assert res.tasks_executed == res.tasks_total == 3
    summ = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert set(summ["metrics"]) == set(lymdo.AGENTS)
    for s in summ["metrics"].values():
        assert s["avg_delay_s"]["mean"] > 0 and s["avg_energy_j"]["mean"] > 0
    claims = {c["claim"]: c for c in summ["claims"]}
    assert all(c["measured"] is not None for c in claims.values())


def test_saved_policies_are_evaluated_not_trained(tmp_path, monkeypatch) -> None:
    """``--set policy_lymdo=FILE`` evaluates a policy saved by ``edgeinfer train``; its training
    curve (saved beside it) is Fig. 3's; nothing is trained."""
    import pandas as pd

    from edgeinfer.online.agents import save_policy, train

    saved = train("lymdo", episodes=2, steps=32, seed=1)
    path = save_policy(saved, tmp_path / "ly")

    def no_training(*a, **k):
        raise AssertionError("trained although a saved policy was given")

    monkeypatch.setattr(lymdo, "_trained", no_training)
    res = run_study("lymdo", tmp_path / "out", quick=True, realisations=1, jobs=1, figures=False,
                    overrides={**TINY, "policy_lymdo": str(path)}, algorithms=["lymdo", "local"])
    assert set(res.summary["metrics"]) == {"lymdo", "local"}
    df = pd.read_parquet(tmp_path / "out" / "results.parquet")
    curve = df[(df["sweep"] == "default") & (df["algorithm"] == "lymdo") & df["train_reward"].notna()]
    curve = curve.sort_values("episode")
    assert curve["train_reward"].tolist() == pytest.approx(saved.episode_rewards)
    claims = {c["claim"]: c for c in res.summary["claims"]}
    assert all(c["measured"] is None and "not measured" in c["note"] for c in claims.values())


def test_algorithms_other_than_its_agents_are_refused(tmp_path, capsys) -> None:
    from edgeinfer.cli import main

    code = main(["reproduce", "lymdo", "--algorithms", "lymdo,convex", "--out", str(tmp_path / "o")])
    assert code == 2
    err = capsys.readouterr().err
    assert "compares only its own algorithms" in err and "lymdo_slot" in err
    assert not (tmp_path / "o").exists()
