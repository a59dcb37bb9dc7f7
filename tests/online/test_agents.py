"""Agents: baselines act sensibly, a short PPO run trains, saves, loads and acts; CLI train."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("stable_baselines3")

from edgeinfer.online.agents import (  # noqa: E402
    AGENTS,
    evaluate,
    load_policy,
    make_env,
    make_policy,
    save_policy,
    train,
)


def test_fixed_baselines_take_their_splits() -> None:
    env = make_env("local", arrival_rate=1.0)
    obs, _ = env.reset(seed=0)
    a = make_policy("local").act(env, obs)
    assert np.array_equal(a, env.tables.num_layers)
    assert np.all(make_policy("edge").act(env, obs) == 0)


def test_random_agent_repeats_with_its_seed_across_rates() -> None:
    r1 = evaluate("random", arrival_rate=0.5, slots=20, seed=3)
    r2 = evaluate("random", arrival_rate=2.5, slots=20, seed=3)
    # same splits whatever the rate (Fig. 4(c) remark), so the same memory cost
    np.testing.assert_array_equal(r1.memory_bytes, r2.memory_bytes)


def test_greedy_dpp_beats_fixed_and_random_on_reward() -> None:
    res = {a: evaluate(a, arrival_rate=2.5, slots=40, seed=1).summary() for a in ("local", "edge", "random", "greedy-dpp")}
    for other in ("local", "edge", "random"):
        assert res["greedy-dpp"]["avg_reward"] >= res[other]["avg_reward"]


def test_evaluate_summary_fields() -> None:
    s = evaluate("local", arrival_rate=1.0, slots=10, seed=0).summary()
    for key in ("avg_delay_s", "avg_energy_j", "energy_budget_met", "avg_energy_queue", "avg_memory_mb"):
        assert key in s
    assert s["avg_delay_s"] > 0 and s["avg_energy_j"] > 0


@pytest.mark.parametrize("agent", ["lymdo", "ppo"])
def test_short_training_saves_loads_and_acts(agent: str, tmp_path) -> None:
    res = train(agent, episodes=3, steps=100, seed=0)
    assert res.timesteps == 300 and len(res.episode_rewards) == 3
    assert all(np.isfinite(res.episode_rewards))
    path = save_policy(res, tmp_path / f"{agent}.zip")
    pol = load_policy(path)
    assert pol.agent == agent
    ev = evaluate(agent, arrival_rate=2.0, slots=20, seed=0, policy=pol)
    assert ev.delay_s.shape == (20, 5) and np.all(np.isfinite(ev.reward))
    # the loaded policy acts like the trained one
    env = make_env(agent, arrival_rate=2.0)
    obs, _ = env.reset(seed=5)
    a1, _ = res.model.predict(obs, deterministic=True)
    a2 = pol.act(env, obs)
    np.testing.assert_array_equal(a1, a2)


def test_cli_train_and_errors(tmp_path, capsys) -> None:
    from edgeinfer.cli import main

    out = tmp_path / "p.zip"
    rc = main(["train", "lymdo", "--episodes", "2", "--steps", "64", "--out", str(out), "--no-progress"])
    assert rc == 0 and out.exists()
    assert load_policy(out).agent == "lymdo"
    assert main(["train", "lymdo", "--episodes", "0", "--out", str(out)]) == 2
    assert "episodes" in capsys.readouterr().err
    assert main(["train", "dqn", "--out", str(out)]) == 2  # an argparse error is exit 2, one line
    assert capsys.readouterr().err.count("\n") == 1


def test_load_policy_rejects_bad_files(tmp_path) -> None:
    from edgeinfer.core.errors import InvalidInstanceError

    bad = tmp_path / "bad.zip"
    bad.write_text("not a zip")
    with pytest.raises(InvalidInstanceError):
        load_policy(bad)
    with pytest.raises(InvalidInstanceError):
        load_policy(tmp_path / "missing.zip")


def test_agent_names() -> None:
    assert set(AGENTS) == {"lymdo", "ppo", "local", "edge", "random", "greedy-dpp"}


@pytest.mark.slow
def test_lymdo_learns_to_beat_random() -> None:
    res = train("lymdo", episodes=100, steps=200, seed=0)
    pol = make_policy("lymdo", model=res.model)
    ly = evaluate("lymdo", arrival_rate=2.5, slots=200, seed=7, policy=pol).summary()
    rnd = evaluate("random", arrival_rate=2.5, slots=200, seed=7).summary()
    assert ly["avg_reward"] > rnd["avg_reward"]
