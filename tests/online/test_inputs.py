"""Files stay safe (issue 13): instance content never names a file, saved policies are data.

* ``lymdo_slot``'s ``devices[].model`` is a profile NAME (shipped or registered in code), never a
  path: absolute paths, ``../``, a FIFO, a crafted profile with NaN are refused naming the field.
* ``register_profile`` validates what it registers.
* ``load_policy`` never unpickles: a crafted zip whose pickle would create a marker file is
  refused and the marker never appears; so are unknown keys, wrong shapes, NaN weights.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import zipfile
from pathlib import Path

import pytest

from edgeinfer.core.errors import InvalidInstanceError, UnknownNameError
from edgeinfer.dnn.profiles import (
    LayerProfile,
    ModelProfile,
    list_profiles,
    load_profile,
    register_profile,
    shipped_profiles,
    unregister_profile,
)
from edgeinfer.online.problem import load_instance


def _doc(model: str) -> dict:
    return {"problem": "lymdo_slot",
            "devices": [{"id": "ue1", "model": model, "channel_gain": 1.2e-11, "arrival_rate": 1.0}]}


def _crafted_profile(tmp_path: Path) -> Path:
    doc = load_profile("alexnet").to_dict()
    doc["layers"][0]["macs"] = float("nan")
    p = tmp_path / "evil.json"
    p.write_text(json.dumps(doc))
    return p


# ------------------------------------------------------------------------------------- models


def test_model_names_never_reach_the_filesystem(tmp_path: Path) -> None:
    evil = _crafted_profile(tmp_path)
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)  # opening it for reading would block forever
    shipped = Path(__file__).parents[2] / "src/edgeinfer/dnn/profiles/alexnet.json"
    for name in (str(evil), str(fifo), str(shipped), "../profiles/alexnet", "/etc/passwd", "alexnet.json",
                 "profiles/../alexnet", "x" * 10_000):
        with pytest.raises(InvalidInstanceError) as ei:
            load_instance(_doc(name))
        assert ei.value.field == "devices[0].model", name
        assert len(str(ei.value)) < 400


def test_unknown_model_suggests_the_nearest_name() -> None:
    with pytest.raises(InvalidInstanceError, match=r"devices\[0\]\.model: unknown model profile 'resnet1'; "
                                                   r"did you mean 'resnet18'"):
        load_instance(_doc("resnet1"))


def test_load_profile_takes_names_only(tmp_path: Path) -> None:
    with pytest.raises(UnknownNameError):
        load_profile(str(_crafted_profile(tmp_path)))
    with pytest.raises(UnknownNameError):
        load_profile(str(Path(__file__).parents[2] / "src/edgeinfer/dnn/profiles/alexnet.json"))
    assert set(shipped_profiles()) <= set(list_profiles())
    assert load_profile("alexnet").num_layers == 12


def test_cli_refuses_a_path_as_model_with_one_line(tmp_path: Path, capsys) -> None:
    from edgeinfer.cli import main

    inst = tmp_path / "inst.json"
    inst.write_text(json.dumps(_doc(str(_crafted_profile(tmp_path)))))
    assert main(["solve", str(inst), "-a", "greedy-dpp", "-o", str(tmp_path / "sol.json")]) == 2
    err = capsys.readouterr().err
    assert "devices[0].model" in err and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "sol.json").exists()


def _tiny(name: str = "tinynet", macs: float = 1e6, out: float = 4000.0) -> ModelProfile:
    layers = tuple(LayerProfile(f"l{i}", params=1000, macs=macs, output_bytes=out) for i in range(3))
    return ModelProfile(name, layers, input_shape=(3, 32, 32), input_bytes=3 * 32 * 32 * 4.0)


def test_registered_profiles_are_usable_by_name() -> None:
    prof = register_profile(_tiny())
    try:
        assert load_profile("tinynet") is prof and "tinynet" in list_profiles()
        inst = load_instance({**_doc("tinynet"), "devices": [{**_doc("tinynet")["devices"][0], "split": 3}]})
        assert inst.tables.num_layers.tolist() == [3]
        register_profile(_tiny())  # the same again: fine
        with pytest.raises(InvalidInstanceError, match="already registered"):
            register_profile(_tiny(macs=2e6))
        assert register_profile(_tiny(macs=2e6), replace=True).macs == 6e6
    finally:
        unregister_profile("tinynet")
    with pytest.raises(InvalidInstanceError, match=r"devices\[0\]\.model"):
        load_instance(_doc("tinynet"))


@pytest.mark.parametrize(("bad", "field"), [
    (_tiny(macs=float("nan")), "profile.layers[0].macs"),
    (_tiny(macs=float("inf")), "profile.layers[0].macs"),
    (_tiny(macs=-1.0), "profile.layers[0].macs"),
    (_tiny(out=0.0), "profile.layers[0].output_bytes"),
    (_tiny(out=float("nan")), "profile.layers[0].output_bytes"),
    (_tiny(macs=0.0), "profile.layers"),
    (_tiny(macs=1e308), "profile.layers"),  # the sum overflows
    (_tiny(name="../evil"), "profile.name"),
    (_tiny(name="alexnet"), "profile.name"),  # a shipped name
    (ModelProfile("empty", ()), "profile.layers"),
    (ModelProfile("neg", _tiny().layers, input_bytes=-1.0), "profile.input_bytes"),
])
def test_register_profile_validates(bad: ModelProfile, field: str) -> None:
    with pytest.raises(InvalidInstanceError) as ei:
        register_profile(bad)
    assert ei.value.field == field
    assert bad.name not in list_profiles() or bad.name in shipped_profiles()


# ------------------------------------------------------------------------------------ policies

pytest.importorskip("stable_baselines3")


class _Payload:
    """Unpickling this creates ``path`` (what a crafted policy zip would do to its loader)."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self):  # noqa: ANN204
        return (Path.touch, (Path(self.path),))


def _zip(path: Path, entries: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for k, v in entries.items():
            zf.writestr(k, v)
    return path


def _valid_entries() -> dict[str, bytes]:
    """A well-formed policy file's entries, built without training."""
    from safetensors.torch import save as st_save

    from edgeinfer.online.agents import POLICY_CONFIG, POLICY_WEIGHTS, _build_policy, _PolicyConfig

    conf = {"format": "edgeinfer-policy", "version": 1, "agent": "lymdo", "models": ["alexnet", "resnet18"],
            "num_layers": [12, 10], "log_obs": True, "net_arch": {"pi": [16], "vf": [16]}, "activation": "tanh"}
    pol = _build_policy(_PolicyConfig.model_validate(conf))
    return {POLICY_CONFIG: json.dumps(conf).encode(),
            POLICY_WEIGHTS: st_save({k: v.contiguous() for k, v in pol.state_dict().items()})}


def test_crafted_pickle_zip_is_refused_without_running_it(tmp_path: Path) -> None:
    from edgeinfer.online.agents import POLICY_CONFIG, POLICY_WEIGHTS, load_policy

    # the payload is real: unpickling it does create its marker
    probe = tmp_path / "probe"
    pickle.loads(pickle.dumps(_Payload(probe)))
    assert probe.exists()

    marker = tmp_path / "pwned"
    evil = pickle.dumps(_Payload(marker))
    # an SB3-shaped zip (SB3's loader unpickles "data" / torch-loads "policy.pth")
    sb3_like = _zip(tmp_path / "sb3.zip", {"data": json.dumps({"policy_class": {":serialized:": evil.hex()}}).encode(),
                                           "policy.pth": evil, "pytorch_variables.pth": evil,
                                           "_stable_baselines3_version": b"2.9.2"})
    # our two entry names, with pickles inside
    ours_pickled = _zip(tmp_path / "ours.zip", {POLICY_CONFIG: _valid_entries()[POLICY_CONFIG],
                                                POLICY_WEIGHTS: evil})
    conf_pickled = _zip(tmp_path / "conf.zip", {POLICY_CONFIG: evil, POLICY_WEIGHTS: _valid_entries()[POLICY_WEIGHTS]})
    for f in (sb3_like, ours_pickled, conf_pickled):
        with pytest.raises(InvalidInstanceError) as ei:
            load_policy(f)
        msg = str(ei.value)
        assert ei.value.field == "policy" and str(f) in msg and "\n" not in msg
    assert "Stable-Baselines3" in str(pytest.raises(InvalidInstanceError, load_policy, sb3_like).value)
    assert not marker.exists()


def _refused(tmp_path: Path, entries: dict[str, bytes], match: str) -> None:
    from edgeinfer.online.agents import load_policy

    f = _zip(tmp_path / "p.zip", entries)
    with pytest.raises(InvalidInstanceError, match=match):
        load_policy(f)


def _with_conf(**changes) -> dict[str, bytes]:
    from edgeinfer.online.agents import POLICY_CONFIG

    e = _valid_entries()
    conf = {**json.loads(e[POLICY_CONFIG]), **changes}
    return {**e, POLICY_CONFIG: json.dumps(conf).encode()}


def _with_tensors(edit) -> dict[str, bytes]:  # noqa: ANN001
    from safetensors.torch import load as st_load
    from safetensors.torch import save as st_save

    from edgeinfer.online.agents import POLICY_WEIGHTS

    e = _valid_entries()
    t = st_load(e[POLICY_WEIGHTS])
    edit(t)
    return {**e, POLICY_WEIGHTS: st_save(t)}


def test_a_valid_policy_file_loads_and_acts(tmp_path: Path) -> None:
    import numpy as np

    from edgeinfer.online.agents import load_policy

    pol = load_policy(_zip(tmp_path / "ok.zip", _valid_entries()))
    assert pol.agent == "lymdo" and pol.models == ("alexnet", "resnet18")
    a, _ = pol.model.predict(np.zeros(8, dtype=np.float32), deterministic=True)
    assert a.shape == (2,) and 0 <= a[0] <= 12 and 0 <= a[1] <= 10


def test_policy_files_asking_for_anything_else_are_refused(tmp_path: Path) -> None:
    import torch

    from edgeinfer.online.agents import POLICY_CONFIG

    def nan(t: dict) -> None:
        t["action_net.weight"][0, 0] = float("nan")

    def reshape(t: dict) -> None:
        t["action_net.bias"] = torch.zeros(3)

    def extra(t: dict) -> None:
        t["extra"] = torch.zeros(1)

    def dtype(t: dict) -> None:
        t["value_net.bias"] = t["value_net.bias"].double()

    _refused(tmp_path, _with_conf(class_name="os.system"), "class_name")
    _refused(tmp_path, _with_conf(agent="dqn"), "agent")
    _refused(tmp_path, _with_conf(models=["/etc/passwd", "resnet18"]), r"models\[0\]")
    _refused(tmp_path, _with_conf(num_layers=[11, 10]), r"num_layers\[0\]")
    _refused(tmp_path, _with_conf(net_arch={"pi": [10**9], "vf": [16]}), "net_arch")
    _refused(tmp_path, _with_tensors(nan), "non-finite")
    _refused(tmp_path, _with_tensors(reshape), "action_net.bias")
    _refused(tmp_path, _with_tensors(extra), "unexpected")
    _refused(tmp_path, _with_tensors(dtype), "float64")
    _refused(tmp_path, {**_valid_entries(), "extra.bin": b""}, "exactly")
    _refused(tmp_path, {POLICY_CONFIG: b"{not json"}, "exactly")
    _refused(tmp_path, {**_valid_entries(), POLICY_CONFIG: b"{not json"}, "not JSON")
    bad = tmp_path / "not.zip"
    bad.write_bytes(b"PK\x03\x04 nope")
    with pytest.raises(InvalidInstanceError, match="not a zip"):
        from edgeinfer.online.agents import load_policy

        load_policy(bad)


def test_policy_fifo_and_zip_bomb_are_refused(tmp_path: Path) -> None:
    from edgeinfer.online.agents import MAX_POLICY_BYTES, POLICY_CONFIG, POLICY_WEIGHTS, load_policy

    fifo = tmp_path / "fifo.zip"
    os.mkfifo(fifo)
    with pytest.raises(InvalidInstanceError, match="not a regular file"):
        load_policy(fifo)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(POLICY_CONFIG, b"{}")
        zf.writestr(POLICY_WEIGHTS, b"\0" * (MAX_POLICY_BYTES + 1))
    bomb = tmp_path / "bomb.zip"
    bomb.write_bytes(buf.getvalue())
    assert bomb.stat().st_size < 1 << 20
    with pytest.raises(InvalidInstanceError, match="unpack"):
        load_policy(bomb)


def test_loaded_policy_refuses_other_devices(tmp_path: Path) -> None:
    from edgeinfer.online.agents import evaluate, load_policy

    pol = load_policy(_zip(tmp_path / "ok.zip", _valid_entries()))
    with pytest.raises(InvalidInstanceError, match="trained for devices"):
        evaluate("lymdo", arrival_rate=1.0, slots=2, policy=pol)  # default env: five devices


def test_train_refuses_a_link_as_output_before_training(tmp_path: Path, capsys) -> None:
    from edgeinfer.cli import main

    target = tmp_path / "target.zip"
    target.write_text("keep")
    link = tmp_path / "link.zip"
    link.symlink_to(target)
    assert main(["train", "lymdo", "--episodes", "1000", "--out", str(link), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "symbolic link" in err and err.count("\n") == 1
    assert target.read_text() == "keep"


@pytest.mark.parametrize("option, value", [("--arrival-rate", "1e300"), ("--arrival-rate", "0.5,nan"),
                                           ("--eval-rate", "1.7e308"), ("--eval-rate", "nan"), ("--eval-rate", "1,2")])
def test_train_refuses_rates_outside_their_range_before_training(tmp_path: Path, capsys, option, value) -> None:
    """``--arrival-rate 1e300`` crashed the environment's Poisson draw ("lam value too large",
    exit 3), and ``--eval-rate 1e300`` did so after training and saving; rates now lie in [0, 1e9]
    req/s, as ``lymdo_slot``'s ``arrival_rate``: one line, exit 2, nothing trained or written."""
    from edgeinfer.cli import main
    out = tmp_path / "p.zip"
    assert main(["train", "lymdo", "--episodes", "1", "--steps", "2", "--no-progress", option, value,
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert option in err and len(err.splitlines()) == 1
    assert not out.exists()
