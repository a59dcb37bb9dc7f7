"""``edgeinfer profile MODEL [--input CxHxW] [--batch N] [--json]``."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")

from edgeinfer.cli import main  # noqa: E402


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_profile_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "profile", "resnet18", "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["model"] == "resnet18"
    assert doc["params"] == 11_689_512
    assert doc["macs"] == pytest.approx(1.81e9, rel=0.02)
    assert len(doc["layers"]) == 10
    assert set(doc["layers"][0]) >= {"name", "params", "macs", "output_bytes"}
    assert sum(layer["params"] for layer in doc["layers"]) == doc["params"]
    assert sum(layer["macs"] for layer in doc["layers"]) == pytest.approx(doc["macs"])


def test_profile_json_input_and_batch(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "profile", "resnet18", "--input", "3x112x112", "--batch", "8", "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["input_shape"] == [3, 112, 112] and doc["batch"] == 8
    assert doc["layers"][0]["macs"] == 64 * 3 * 49 * 56 * 56  # stem conv at 56x56, per sample
    assert doc["macs"] < 1.814e9 / 3
    assert doc["layers"][0]["output_bytes"] == 64 * 28 * 28 * 4
    assert doc["peak_activation_bytes"] == pytest.approx(8 * 2 * 64 * 28 * 28 * 4)


def test_profile_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "profile", "vgg16")
    assert code == 0
    assert "conv1_1" in out and "fc8" in out and "total" in out
    assert "138,357,544" in out


@pytest.mark.parametrize("argv", [
    ["profile", "resnet81"],
    ["profile", "resnet18", "--input", "3xbig"],
    ["profile", "resnet18", "--input", "3x0x224"],
    ["profile", "resnet18", "--input", "224x224"],
    ["profile", "resnet18", "--input", "1x224x224"],
    ["profile", "alexnet", "--input", "3x8x8"],
    ["profile", "vit_b16", "--input", "3x64x64"],
    ["profile", "resnet18", "--batch", "0"],
    ["profile", "resnet18", "--batch", "two"],
])
def test_profile_bad_input_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    with pytest.raises(SystemExit) as info:  # argparse errors exit directly
        raise SystemExit(main(argv))
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_unknown_model_suggests(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "profile", "resnet81")
    assert code == 2 and "resnet18" in err and "--input" not in err


def test_bad_input_names_field(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "profile", "resnet18", "--input", "3xbig")
    assert code == 2 and "--input" in err


def test_profile_subprocess() -> None:
    import subprocess
    import sys

    ok = subprocess.run([sys.executable, "-m", "edgeinfer.cli", "profile", "nin", "--json"],
                        capture_output=True, text=True, check=False)
    assert ok.returncode == 0
    doc = json.loads(ok.stdout)
    assert [layer["name"] for layer in doc["layers"]][-1] == "gap" and len(doc["layers"]) == 9
    bad = subprocess.run([sys.executable, "-m", "edgeinfer.cli", "profile", "resnet81"],
                         capture_output=True, text=True, check=False)
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.strip().count("\n") == 0 and "did you mean 'resnet18'" in bad.stderr
