"""The shipped pretrained policies: data with a manifest, hash-checked, reproducible."""

from __future__ import annotations

import hashlib
import io
import json
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("stable_baselines3")

from edgeinfer.core.errors import InvalidInstanceError  # noqa: E402
from edgeinfer.online import pretrained  # noqa: E402
from edgeinfer.online.agents import evaluate, load_policy, make_env, save_policy, train  # noqa: E402

PKG = Path(pretrained.__file__).parent


def _package_reader(name: str) -> bytes:
    return (PKG / name).read_bytes()


def test_shipped_manifest_lists_small_policies_with_their_budget() -> None:
    man = pretrained.load_manifest()
    assert {e.agent for e in man.policies} == {"lymdo", "ppo"}
    assert len(man.date) == 10 and man.command.startswith("python -m edgeinfer.online.pretrained")
    assert {"torch", "stable_baselines3", "edgeinfer"} <= set(man.software)
    for e in man.policies:
        data = (PKG / e.file).read_bytes()
        assert len(data) == e.bytes < 80_000  # tens of kB
        assert hashlib.sha256(data).hexdigest() == e.sha256
        with zipfile.ZipFile(io.BytesIO(data)) as zf:  # fixed metadata: the bytes depend on the policy only
            for info in zf.infolist():
                assert info.date_time == (1980, 1, 1, 0, 0, 0) and info.external_attr >> 16 == 0o644
                assert info.compress_type == zipfile.ZIP_DEFLATED
        assert e.episodes * e.steps <= e.timesteps < e.episodes * e.steps + e.hyperparams["n_steps"]  # whole rollouts
        # the same budget for both agents
    assert len({(e.episodes, e.steps, e.seed) for e in man.policies}) == 1


@pytest.mark.parametrize("agent", ["lymdo", "ppo"])
def test_pretrained_policies_load_as_data_and_act(agent: str) -> None:
    pol, curve, entry = pretrained.load_pretrained(agent)
    assert pol.agent == agent and len(curve) == entry.timesteps // entry.steps and all(np.isfinite(curve))
    ev = evaluate(agent, arrival_rate=2.5, slots=5, seed=0, policy=pol)
    assert np.all(np.isfinite(ev.reward))


def test_a_tampered_pretrained_file_is_refused_before_parsing() -> None:
    man = pretrained.load_manifest()
    e = next(x for x in man.policies if x.agent == "lymdo")

    def flipped(name: str) -> bytes:
        data = bytearray(_package_reader(name))
        if name == e.file:
            data[len(data) // 2] ^= 0x01
        return bytes(data)

    with pytest.raises(InvalidInstanceError, match="SHA-256"):
        pretrained.load_pretrained("lymdo", reader=flipped)


def test_a_pickle_zip_is_refused_even_with_a_matching_manifest(tmp_path: Path) -> None:
    """Defence in depth: a manifest rewritten to match a planted file does not make it code."""
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):  # noqa: ANN204
            return (Path.touch, (marker,))

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("data", pickle.dumps(Payload()))
        zf.writestr("policy.pth", pickle.dumps(Payload()))
    evil = buf.getvalue()
    man = json.loads(_package_reader(pretrained.MANIFEST))
    for e in man["policies"]:
        if e["agent"] == "lymdo":
            e["sha256"], e["bytes"] = hashlib.sha256(evil).hexdigest(), len(evil)
    files = {pretrained.MANIFEST: json.dumps(man).encode(), "lymdo.zip": evil}

    with pytest.raises(InvalidInstanceError, match="pickled"):
        pretrained.load_pretrained("lymdo", reader=lambda n: files.get(n) or _package_reader(n))
    assert not marker.exists()


def test_manifest_is_validated() -> None:
    bad = json.loads(_package_reader(pretrained.MANIFEST))
    bad["policies"][0]["file"] = "../../etc/passwd"
    files = {pretrained.MANIFEST: json.dumps(bad).encode()}
    agent = bad["policies"][0]["agent"]
    with pytest.raises(InvalidInstanceError, match="not a file of the package"):
        pretrained.load_pretrained(agent, reader=lambda n: files[n] if n in files else pretrained._package_file(n))
    bad = json.loads(_package_reader(pretrained.MANIFEST))
    bad["exec"] = "os.system"
    with pytest.raises(InvalidInstanceError, match="exec"):
        pretrained.load_manifest(json.dumps(bad).encode())


def test_regeneration_is_deterministic_and_loads(tmp_path: Path) -> None:
    """The regenerating command is seeded: twice the same (tiny) budget, the same bytes; the
    actor-only file acts exactly as the trained model."""
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    ma = pretrained.regenerate(a, episodes=1, steps=32, seed=3, date="2026-01-01")
    mb = pretrained.regenerate(b, agents=["ppo"], episodes=1, steps=32, seed=3, date="2026-01-01")
    pretrained.regenerate(b, agents=["lymdo"], episodes=1, steps=32, seed=3, date="2026-01-01")  # merges
    mb = pretrained.load_manifest((b / pretrained.MANIFEST).read_bytes())
    assert [(e.agent, e.sha256) for e in ma.policies] == [(e.agent, e.sha256) for e in mb.policies]
    for ag in ("lymdo", "ppo"):
        assert (a / f"{ag}.zip").read_bytes() == (b / f"{ag}.zip").read_bytes()
        pol, curve, entry = pretrained.load_pretrained(ag, reader=lambda n: (a / n).read_bytes())
        assert entry.episodes == 1 and entry.steps == 32 and len(curve) == entry.timesteps // 32
    res = train("ppo", episodes=1, steps=32, seed=3)
    env = make_env("ppo", arrival_rate=1.5)
    obs, _ = env.reset(seed=2)
    pol, _, _ = pretrained.load_pretrained("ppo", reader=lambda n: (a / n).read_bytes())
    np.testing.assert_array_equal(res.model.predict(obs, deterministic=True)[0], pol.act(env, obs))


def test_actor_only_files_are_smaller_and_refuse_value_tensors(tmp_path: Path) -> None:
    from safetensors.torch import load as st_load
    from safetensors.torch import save as st_save

    res = train("lymdo", episodes=1, steps=32, seed=0)
    full = save_policy(res, tmp_path / "full.zip", log=False)
    actor = save_policy(res, tmp_path / "actor.zip", actor_only=True, log=False)
    assert actor.stat().st_size < 0.7 * full.stat().st_size
    assert save_policy(res, tmp_path / "again.zip", actor_only=True, log=False).read_bytes() == actor.read_bytes()
    # an actor-only file carrying a value tensor does not fit its network
    with zipfile.ZipFile(actor) as zf:
        conf, w = zf.read("edgeinfer-policy.json"), st_load(zf.read("weights.safetensors"))
    with zipfile.ZipFile(full) as zf:
        w["value_net.weight"] = st_load(zf.read("weights.safetensors"))["value_net.weight"]
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("edgeinfer-policy.json", conf)
        zf.writestr("weights.safetensors", st_save(w))
    with pytest.raises(InvalidInstanceError, match="unexpected"):
        load_policy(bad)


def test_module_cli_refuses_bad_options(tmp_path: Path, capsys) -> None:
    from edgeinfer.online.pretrained.__main__ import main

    assert main(["--out", str(tmp_path), "--agents", "dqn"]) == 2
    assert "--agents" in capsys.readouterr().err
    assert main(["--out", str(tmp_path / "missing"), "--episodes", "1", "--steps", "8"]) == 2
    assert "not a folder" in capsys.readouterr().err
    assert main(["--out", str(tmp_path), "--episodes", "0"]) == 2
