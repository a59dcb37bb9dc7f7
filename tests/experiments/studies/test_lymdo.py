"""The lymdo study through the engine on a tiny configuration: trained, saved or shipped policies."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("stable_baselines3")
pytest.importorskip("pandas")

from edgeinfer.experiments.engine import run_study  # noqa: E402
from edgeinfer.experiments.studies import lymdo  # noqa: E402

TINY = {"episodes": 2, "steps": 32, "eval_slots": 10, "budget_slots": 25, "rates": "0.5,2.5",
        "budget_greedy": False}
TRAIN = {**TINY, "policy_lymdo": "", "policy_ppo": ""}


def test_one_task_per_training_seed_with_curves_and_both_horizons(tmp_path) -> None:
    import pandas as pd

    res = run_study("lymdo", tmp_path / "out", quick=True, realisations=2, jobs=1, figures=False, overrides=TRAIN)
    assert res.tasks_executed == res.tasks_total == 2  # one per seed, every rate inside
    df = pd.read_parquet(tmp_path / "out" / "results.parquet")
    curves = df.dropna(subset=["train_reward"])
    # each seed trained once, with its own seed: different curves, the same budget for both agents
    per = {(r, a): g.sort_values("episode")["train_reward"].tolist() for (r, a), g in
           curves.groupby(["realisation", "algorithm"])}
    assert set(per) == {(0, "lymdo"), (0, "ppo"), (1, "lymdo"), (1, "ppo")}
    assert all(len(v) == 2 for v in per.values()) and per[(0, "lymdo")] != per[(1, "lymdo")]
    assert set(curves["train_episodes"]) == {2}
    rate_rows = df.dropna(subset=["avg_delay_s"])
    assert set(rate_rows["arrival_rate"]) == {0.5, 2.5}
    long = rate_rows.dropna(subset=["energy_ratio_long"])
    # quick: the long run at fig5_rate only, greedy-dpp left out
    assert set(long["arrival_rate"]) == {2.5} and "greedy-dpp" not in set(long["algorithm"])
    queues = df.dropna(subset=["q_alexnet"])
    last = queues.groupby("algorithm")["slot"].max()
    assert last.drop("greedy-dpp").eq(25).all() and last["greedy-dpp"] == 10  # the long run where it was made
    summ = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert set(summ["metrics"]) == set(lymdo.AGENTS)
    assert summ["metrics"]["lymdo"]["delay_s"]["n"] == 2
    assert summ["extra"]["train_episodes"] == {"lymdo": 2, "ppo": 2}
    assert all(c["measured"] is not None for c in summ["claims"])


def test_measures_give_one_value_per_seed(tmp_path) -> None:
    import pandas as pd

    run_study("lymdo", tmp_path / "out", quick=True, realisations=2, jobs=1, figures=False, overrides=TRAIN)
    df = pd.read_parquet(tmp_path / "out" / "results.parquet")
    for fn in (lymdo.delay_reduction, lymdo.queue_reduction("q_alexnet"), lymdo.worst_ratio("energy_ratio_long"),
               lymdo.lowest_among_paper_agents("avg_energy_j"), lymdo.final_reward_gap, lymdo.convergence_episode,
               lymdo.greedy_gap):
        vals = fn(df)
        assert len(vals) == 2 and all(v == v for v in vals), fn
    # the long-horizon ratio is what the run measured, worst over rates, per seed
    d = df.dropna(subset=["energy_ratio_long"])
    want = d[d["algorithm"] == "lymdo"].groupby("realisation")["energy_ratio_long"].max().tolist()
    assert lymdo.worst_ratio("energy_ratio_long")(df) == pytest.approx(want)


def test_quick_evaluates_the_shipped_policies_without_training(tmp_path, monkeypatch) -> None:
    from edgeinfer.online.pretrained import load_manifest

    def no_training(*a, **k):
        raise AssertionError("trained although --quick evaluates the shipped policies")

    monkeypatch.setattr(lymdo, "_trained", no_training)
    res = run_study("lymdo", tmp_path / "out", quick=True, realisations=1, jobs=1, figures=False,
                    overrides={k: v for k, v in TINY.items() if k not in ("episodes", "steps")},
                    algorithms=["lymdo", "ppo", "local"])
    budget = {e.agent: e.episodes for e in load_manifest().policies}
    assert res.summary["extra"]["train_episodes"] == budget


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
                    overrides={**TRAIN, "policy_lymdo": str(path)}, algorithms=["lymdo", "local"])
    assert set(res.summary["metrics"]) == {"lymdo", "local"}
    df = pd.read_parquet(tmp_path / "out" / "results.parquet")
    curve = df[(df["algorithm"] == "lymdo") & df["train_reward"].notna()].sort_values("episode")
    assert curve["train_reward"].tolist() == pytest.approx(saved.episode_rewards)
    needs = {c.text: set(c.needs) for c in lymdo.STUDY.claims}
    for c in res.summary["claims"]:
        if needs[c["claim"]] <= {"lymdo", "local"}:
            assert c["measured"] is not None, c
        else:  # it compares an agent this run lacks
            assert c["measured"] is None and "not measured" in c["note"] and c["verdict"] == "not measured"


def test_rates_are_checked() -> None:
    assert lymdo.parse_rates("0.5, 2.5") == (0.5, 2.5)
    for bad in ("", "a,b", "1,1", "-1", "nan", "30"):
        with pytest.raises(ValueError, match="rates"):
            lymdo.parse_rates(bad)


def test_algorithms_other_than_its_agents_are_refused(tmp_path, capsys) -> None:
    from edgeinfer.cli import main

    code = main(["reproduce", "lymdo", "--algorithms", "lymdo,convex", "--out", str(tmp_path / "o")])
    assert code == 2
    err = capsys.readouterr().err
    assert "compares only its own algorithms" in err and "lymdo_slot" in err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("rates", ["1e300", "nan", "1,1", "-1", "x"])
def test_bad_rates_are_refused_before_any_task(tmp_path, capsys, rates):
    """``--set rates=1e300`` used to fail every task (exit 1, a traceback file in the cache); the
    option is now checked with the others (``Param.validate``): one line naming it, exit 2, no
    output folder."""
    from edgeinfer.cli import main
    out = tmp_path / "out"
    assert main(["reproduce", "lymdo", "--quick", "--no-figures", "--set", f"rates={rates}", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "lymdo.rates" in err and len(err.splitlines()) == 1
    assert not out.exists() or not any(out.iterdir())
