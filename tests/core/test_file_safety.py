"""Files stay safe: inputs are regular files under a size cap; outputs never destroy anything."""

import json
import os
import stat

import pytest

from edgeinfer.cli import main
from toyproblem import VALID, register

register()


def _inst(tmp_path):
    p = tmp_path / "i.json"
    p.write_text(json.dumps(VALID))
    return p


def _one_line_error(capsys, *needles):
    err = capsys.readouterr().err
    assert err.startswith("edgeinfer: error: ") and err.count("\n") == 1, err
    for n in needles:
        assert n in err, err
    return err


def test_output_equal_to_input_is_refused(tmp_path, capsys):
    inst = _inst(tmp_path)
    before = inst.read_bytes()
    assert main(["solve", str(inst), "-a", "greedy", "-o", str(inst)]) == 2
    _one_line_error(capsys, "also an input")
    link = tmp_path / "alias.json"
    os.link(inst, link)  # the same file under another name
    assert main(["solve", str(inst), "-a", "greedy", "-o", str(link)]) == 2
    _one_line_error(capsys, "also an input")
    assert main(["solve", str(inst), "-a", "greedy", "-o", str(tmp_path / "." / "i.json")]) == 2
    capsys.readouterr()
    assert inst.read_bytes() == before


def test_links_devices_and_fifos_at_the_output_are_not_replaced(tmp_path, capsys):
    inst = _inst(tmp_path)
    target = tmp_path / "target.json"
    target.write_text("keep")
    sym = tmp_path / "sym.json"
    sym.symlink_to(target)
    assert main(["solve", str(inst), "-a", "greedy", "-o", str(sym)]) == 2
    _one_line_error(capsys, "symbolic link")
    assert sym.is_symlink() and target.read_text() == "keep"
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert main(["solve", str(inst), "-a", "greedy", "-o", str(fifo)]) == 2
    _one_line_error(capsys, "not a regular file")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert main(["solve", str(inst), "-a", "greedy", "-o", os.devnull]) == 2
    _one_line_error(capsys, "not a regular file")
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)
    assert main(["solve", str(inst), "-a", "greedy", "-o", str(tmp_path)]) == 2
    _one_line_error(capsys, "is a directory")


def test_output_respects_the_umask(tmp_path, capsys):
    inst = _inst(tmp_path)
    out = tmp_path / "o.json"
    old = os.umask(0o022)
    try:
        assert main(["solve", str(inst), "-a", "greedy", "-o", str(out)]) == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o644
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".o.json.")]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_folder_is_one_line(tmp_path, capsys):
    inst = _inst(tmp_path)
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        assert main(["solve", str(inst), "-a", "greedy", "-o", str(ro / "o.json")]) == 2
        _one_line_error(capsys, "cannot write")
    finally:
        ro.chmod(0o700)


def test_unwritable_output_is_one_line(tmp_path, capsys):
    inst = _inst(tmp_path)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["solve", str(inst), "-a", "greedy", "-o", str(blocker / "o.json")]) == 2  # parent is a file
    _one_line_error(capsys, "output", "Not a directory")


@pytest.mark.parametrize("kind", ["dir", "fifo", "dev", "big", "bigint", "nan", "binary"])
def test_bad_inputs_are_one_line(tmp_path, capsys, monkeypatch, kind):
    if kind == "dir":
        path, needle = tmp_path, "is a directory"
    elif kind == "fifo":
        path, needle = tmp_path / "f", "FIFO"
        os.mkfifo(path)
    elif kind == "dev":
        path, needle = "/dev/zero", "device"
    elif kind == "big":
        monkeypatch.setenv("EDGEINFER_MAX_INPUT_BYTES", "100")
        path, needle = _inst(tmp_path), "larger than the input limit"
    elif kind == "bigint":
        path, needle = tmp_path / "b.json", "too large"
        path.write_text(json.dumps(VALID).replace('"capacity_kg": 3.0', '"capacity_kg": ' + "9" * 5000))
    elif kind == "nan":
        path, needle = tmp_path / "n.json", "capacity_kg: must be a finite number"
        path.write_text(json.dumps(VALID).replace('"capacity_kg": 3.0', '"capacity_kg": NaN'))
    else:
        path, needle = tmp_path / "x.json", "not UTF-8"
        path.write_bytes(b"\xff\xfe\x00{")
    assert main(["solve", str(path), "-a", "greedy"]) == 2
    _one_line_error(capsys, needle)
