"""The lymdo study runs end to end on a tiny configuration and writes its outputs."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("stable_baselines3")
pytest.importorskip("matplotlib")

from edgeinfer.online import study  # noqa: E402


def test_tiny_study_writes_figures_summary_and_claims(tmp_path) -> None:
    res = study.compute(quick=True, rates=(1.0, 2.5),
                        params={"episodes": 2, "steps": 64, "eval_slots": 15, "eval_seeds": 1})
    summ = study.summarize(res)
    assert set(summ["agents"]) == set(study.AGENTS)
    for s in summ["agents"].values():
        assert s["avg_delay_s"] > 0 and s["avg_energy_j"] > 0 and isinstance(s["energy_budget_met"], bool)
    names = {c["claim"] for c in summ["claims"]}
    assert {"delay_reduction_vs_ppo", "energy_queue_reduction_alexnet", "energy_queue_reduction_resnet18"} <= names
    files = study.plot(res, tmp_path)
    assert all(f.exists() and f.stat().st_size > 1000 for f in files)
    assert len(res["fig5"]["lymdo"]["alexnet"]) == 15
    json.dumps(res)  # JSON-ready
    assert "| lymdo |" in study.report_md(res, summ)


def test_study_uses_pretrained_policies(tmp_path) -> None:
    from edgeinfer.online.agents import load_training_log, save_policy, train

    res = train("lymdo", episodes=2, steps=64, seed=1)
    path = save_policy(res, tmp_path / "ly")
    assert path.suffix == ".zip" and path.exists()
    assert load_training_log(path)["episode_rewards"] == res.episode_rewards
    out = study.compute(quick=True, rates=(2.5,), agents=("lymdo", "local"), pretrained={"lymdo": str(path)},
                        params={"episodes": 1, "steps": 8, "eval_slots": 10, "eval_seeds": 1})
    assert out["training"]["lymdo"]["timesteps"] == res.timesteps
    assert out["training"]["lymdo"]["pretrained"] == str(path)


def test_engine_study_runs_tiny(tmp_path) -> None:
    pytest.importorskip("pandas")
    from edgeinfer.experiments.engine import run_study

    assert study.STUDY is not None and study.STUDY.name == "lymdo"
    res = run_study("lymdo", tmp_path / "out", quick=True, realisations=1, jobs=1, figures=False,
                    overrides={"episodes": 2, "steps": 32, "eval_slots": 10})
    assert res.tasks_executed == res.tasks_total == 3
    summ = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert "lymdo" in json.dumps(summ) and "greedy-dpp" in json.dumps(summ)
