"""The Gymnasium environment: checker, determinism, reward = -(11), registration."""

from __future__ import annotations

import numpy as np
import pytest

gymnasium = pytest.importorskip("gymnasium")

from edgeinfer.online.env import ENV_ID, CoopInferenceEnv  # noqa: E402
from edgeinfer.online.solvers.allocation import allocate  # noqa: E402


@pytest.mark.parametrize("mode", ["partition", "joint"])
def test_check_env_passes(mode: str) -> None:
    from gymnasium.utils.env_checker import check_env

    env = CoopInferenceEnv(action_mode=mode, episode_slots=20)
    check_env(env, skip_render_check=True)


def test_gymnasium_make_by_id() -> None:
    env = gymnasium.make(ENV_ID, arrival_rate=1.5, episode_slots=5)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (20,)
    steps = 0
    while True:
        obs, r, term, trunc, _ = env.step(env.action_space.sample())
        steps += 1
        if term or trunc:
            break
    assert steps == 5
    env2 = gymnasium.make("edgeinfer.online.env:" + ENV_ID)
    assert env2.unwrapped.cfg.arrival_rate == 2.0


def _rollout(env: CoopInferenceEnv, seed: int, n: int = 30) -> tuple[np.ndarray, list[float]]:
    obs, _ = env.reset(seed=seed)
    env.action_space.seed(seed)
    obs_list, rewards = [obs], []
    for _ in range(n):
        obs, r, *_ = env.step(env.action_space.sample())
        obs_list.append(obs)
        rewards.append(r)
    return np.array(obs_list), rewards


def test_reset_seed_reseeds_everything() -> None:
    env = CoopInferenceEnv()
    a1, r1 = _rollout(env, 3)
    _rollout(env, 99)  # disturb the state in between
    a2, r2 = _rollout(env, 3)
    b, rb = _rollout(env, 4)
    np.testing.assert_array_equal(a1, a2)
    assert r1 == r2
    assert not np.array_equal(a1, b)
    assert r1 != rb


def test_reward_is_minus_dpp_objective_and_queues_follow_eqs_8_9() -> None:
    env = CoopInferenceEnv(arrival_rate=2.5)
    env.reset(seed=1)
    cfg, tb = env.cfg, env.tables
    for _ in range(10):
        st = env.state
        action = env.action_space.sample()
        al = allocate(cfg, tb, action, st["h"], st["lam"], st["Q"], st["W"])
        _, r, _, _, info = env.step(action)
        assert r == pytest.approx(-al.objective, rel=1e-12)
        expect_q = np.maximum(st["Q"] + cfg.nu_e * (al.metrics.energy_j - tb.energy_budget_j), 0)
        np.testing.assert_allclose(env.Q, expect_q, rtol=1e-12)
        expect_w = np.maximum(st["W"] + cfg.nu_c * (al.metrics.memory_bytes - tb.memory_budget_bytes) / 1e9, 0)
        np.testing.assert_allclose(env.W, expect_w, rtol=1e-12, atol=1e-15)
        assert np.all(info["stable"])


def test_joint_mode_penalises_unstable_choices() -> None:
    env = CoopInferenceEnv(action_mode="joint", arrival_rate=2.5)
    env.reset(seed=0)
    n = env.n
    y = np.full(4 * n, -1.0, dtype=np.float32)
    y[:n] = 1.0  # all local ...
    y[2 * n:3 * n] = -1.0  # ... at zero speed: unstable
    _, r, _, _, info = env.step(y)
    assert not info["stable"].any()
    assert np.all(info["split"] == env.tables.num_layers)
    assert np.all(info["delay_s"] == pytest.approx(env.cfg.delay_cap_s))


def _fresh(code: str) -> str:
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()[-1]


def test_import_edgeinfer_online_registers_the_id_without_importing_gymnasium() -> None:
    """`import edgeinfer.online` registers the id (as Gymnasium packages do), lazily: Gymnasium
    (and torch/SB3) stay unimported until the user imports Gymnasium, in either order."""
    heavy = ("gymnasium", "torch", "stable_baselines3")
    assert _fresh(f"import sys, edgeinfer.online; print([m for m in {heavy!r} if m in sys.modules])") == "[]"
    make = ("env = gymnasium.make('edgeinfer/CoopInference-v0', episode_slots=3); env.reset(seed=0); "
            "print(type(env.unwrapped).__name__)")
    assert _fresh(f"import edgeinfer.online, gymnasium; {make}") == "CoopInferenceEnv"
    assert _fresh(f"import gymnasium, edgeinfer.online; {make}") == "CoopInferenceEnv"
    assert _fresh(f"import edgeinfer.online, gymnasium, sys; {make.split(';')[0]}; "
                  "print([m for m in ('torch', 'stable_baselines3') if m in sys.modules])") == "[]"
