"""Calibration, the block pool and the executor on tiny local models (issue 15). No timing
assertions: the measured numbers are checked for shape and consistency only."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")

from edgeinfer.cli import main  # noqa: E402
from edgeinfer.core.errors import InvalidInstanceError  # noqa: E402
from edgeinfer.loading.server import RunDoc, ServerDoc, instance_constants, load_server  # noqa: E402

MODELS = ("base", "ft_mlp", "lora_a", "zoo_vit")
FAST = ["--repeats", "1", "--warmup", "0", "--batch-sizes", "1,2", "--max-read-mib", "64"]


@pytest.fixture(scope="module")
def setup(tiny_models: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """scan -> calibrate (tiny budget) -> make -> solve, once for the module."""
    d = tmp_path_factory.mktemp("exec")
    paths = {k: d / f"{k}.json" for k in ("library", "server", "instance", "solution")}
    assert main(["library", "scan", *(str(tiny_models.paths[m]) for m in MODELS), "-o", str(paths["library"])]) == 0
    assert main(["calibrate", "--library", str(paths["library"]), "-o", str(paths["server"]), *FAST]) == 0
    assert main(["make", "partial_loading", "--library", str(paths["library"]), "--server", str(paths["server"]),
                 "--users", "8", "--bandwidth-hz", "50e6", "--deadline-s", "2", "--seed", "0",
                 "-o", str(paths["instance"])]) == 0
    assert main(["solve", str(paths["instance"]), "-a", "exact", "-o", str(paths["solution"])]) == 0
    return paths


def test_calibrate_writes_a_valid_server(setup: dict[str, Path]) -> None:
    doc = json.loads(setup["server"].read_text())
    server = ServerDoc.model_validate(doc)
    assert server.device.kind == "cpu" and server.schema_version == 1
    assert server.disk.cache in ("cold", "warm") and server.disk.read_bytes_per_s > 0
    assert server.host_to_device.effective_bytes_per_s is None and server.host_to_device.skipped
    assert {m.id for m in server.models} == set(MODELS)
    for m in server.models:
        assert m.batch_sizes == [1, 2] and len(m.latency_s) == 2 and 1 <= m.max_batch <= 32
    assert server.budget.repeats == 1 and server.provenance.torch_version
    consts = instance_constants(load_server(setup["server"]), MODELS)
    inst = json.loads(setup["instance"].read_text())
    assert inst["load"] == consts.load_doc()  # make took the measured constants
    by_id = {m["id"]: m for m in inst["models"]}
    for mid, c in consts.models.items():
        assert by_id[mid]["compute_per_sample_s"] == c.compute_per_sample_s
        assert by_id[mid]["compute_fixed_s"] == c.compute_fixed_s


def test_server_document_checks(setup: dict[str, Path]) -> None:
    doc = json.loads(setup["server"].read_text())
    with pytest.raises(InvalidInstanceError, match="schema_version"):
        load_server({**doc, "schema_version": 2})
    with pytest.raises(InvalidInstanceError, match="latency_s"):
        load_server({**doc, "models": [{**doc["models"][0], "latency_s": [1.0]}]})
    with pytest.raises(InvalidInstanceError, match="not calibrated"):
        instance_constants(load_server(doc), ["nope"])


@pytest.mark.parametrize("upload", ["model", "emulated"])
def test_execute_end_to_end(setup: dict[str, Path], tmp_path: Path, upload: str,
                            capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run.json"
    args = ["execute", str(setup["instance"]), str(setup["solution"]), "--library", str(setup["library"]),
            "-o", str(out), "--upload", upload]
    assert main(args) == 0
    assert "served by the deadline" in capsys.readouterr().out
    run = RunDoc.model_validate(json.loads(out.read_text()))
    sol = json.loads(setup["solution"].read_text())
    assert run.upload == upload and run.device == "cpu"
    assert len(run.batches) == len(sol["batches"])
    assert run.summary.served_predicted == sol["served"]
    t = 0.0
    for b, planned in zip(run.batches, sol["batches"], strict=True):
        assert b.model == planned["model"] and b.users == len(planned["users"])
        assert b.predicted.end_s == pytest.approx(planned["end_s"])
        assert b.measured.start_s >= t - 1e-9 and b.measured.end_s >= b.measured.start_s
        assert b.measured.end_s == pytest.approx(b.measured.start_s + b.measured.upload_s + b.measured.load_s
                                                 + b.measured.compute_s, abs=1e-6)
        t = b.measured.end_s
        if upload == "model":
            assert b.measured.upload_s == pytest.approx(b.predicted.upload_s, abs=1e-9)
    assert (tmp_path / "run.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_pool_shares_and_evicts(setup: dict[str, Path]) -> None:
    import torch

    from edgeinfer.dnn.library import load_library
    from edgeinfer.loading.realmodels import BlockPool, ModelCache, run_batch, synthetic_input

    lib = load_library(setup["library"])
    base, ft, lora = lib.model("base"), lib.model("ft_mlp"), lib.model("lora_a")
    shared = [b for b in base.blocks if b in set(ft.blocks)]
    assert shared and len(shared) < len(base.blocks)
    cache = ModelCache(lib)
    with BlockPool(lib, torch.device("cpu"), cache="warm") as pool:
        pool.load(base.blocks)
        pool.load(ft.blocks)  # only ft's own blocks are read
        pool.load(lora.blocks)
        assert set(pool.load_count.values()) == {1}
        assert set(pool.load_count) == set(base.blocks) | set(ft.blocks) | set(lora.blocks)
        m_base, m_ft, m_lora = cache.get(base, pool), cache.get(ft, pool), cache.get(lora, pool)
        by_name = {n: t for bid, names in zip(base.blocks, base.tensor_names, strict=True)
                   for n, t in zip(names, pool.resident[bid], strict=True)}
        bid = shared[0]
        name = base.tensor_names[base.blocks.index(bid)][0]
        p_base = m_base.get_parameter(name)
        assert p_base is m_ft.get_parameter(ft.tensor_names[ft.blocks.index(bid)][0]) is by_name[name]
        for mod, doc in ((m_base, base), (m_ft, ft), (m_lora, lora)):
            out = run_batch(mod, synthetic_input(doc, lib, 2, torch.device("cpu")))
            assert torch.isfinite(out.logits).all()
        with torch.inference_mode():  # the unmerged adapter changes the output
            x = synthetic_input(base, lib, 1, torch.device("cpu"), generator=torch.Generator().manual_seed(1))
            assert not torch.allclose(m_base(x).logits, m_lora(x).logits)
        cache.release("ft_mlp")
        cache.release("lora_a")
        gone = pool.evict_except(base.blocks)
        assert set(gone) == (set(ft.blocks) | set(lora.blocks)) - set(base.blocks)
        assert set(pool.resident) == set(base.blocks)
        assert all(p.is_meta for n, p in m_ft.named_parameters() if "mlp" in n and "layers.1" in n)
        pool.load(ft.blocks)  # evicted blocks are read again, resident ones are not
        assert all(pool.load_count[b] == (2 if b in gone else 1) for b in ft.blocks)
        assert cache.get(ft, pool) is m_ft and not any(p.is_meta for p in m_ft.parameters())


def _run_bad(args: list[str], out: Path, capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert not out.exists() and not out.with_suffix(".png").exists()
    return err


def test_bad_inputs_exit_2(setup: dict[str, Path], tiny_models: Any, tmp_path: Path,
                           capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run.json"
    inst = json.loads(setup["instance"].read_text())
    plain = json.loads(setup["solution"].read_text())  # without its claimed timings (edited instances retime)
    for b in plain["batches"]:
        for k in ("start_s", "upload_s", "load_s", "compute_s", "end_s"):
            del b[k]
    (tmp_path / "plain.json").write_text(json.dumps(plain))
    sol, lib = str(tmp_path / "plain.json"), str(setup["library"])

    def run_with(instance: dict[str, Any] | None = None, library: str = lib, solution: str = sol,
                 extra: tuple[str, ...] = ()) -> str:
        ipath = tmp_path / "inst.json"
        ipath.write_text(json.dumps(instance if instance is not None else inst))
        return _run_bad(["execute", str(ipath), solution, "--library", library, "-o", str(out), *extra], out, capsys)

    # the plan names a block the library does not have
    bad = json.loads(json.dumps(inst))
    bad["blocks"].append({"id": "ghost", "bytes": 0.0})  # 0 bytes: the plan still verifies
    used = json.loads(setup["solution"].read_text())["batches"][0]["model"]
    next(m for m in bad["models"] if m["id"] == used)["blocks"].append("ghost")
    assert "ghost" in run_with(bad)
    # sizes disagree
    bad = json.loads(json.dumps(inst))
    bad["blocks"][0]["bytes"] += 4
    assert "blocks[0].bytes" in run_with(bad)
    # a model the library does not have
    bad = json.loads(json.dumps(inst))
    bad["models"][0]["id"] = "other"
    for u in bad["users"]:
        u["model"] = "other" if u["model"] == inst["models"][0]["id"] else u["model"]
    assert "error" in run_with(bad)
    # a solution that does not verify (claims more users served)
    wrong = json.loads(json.dumps(plain))
    wrong["served"] += 1
    wpath = tmp_path / "wrong.json"
    wpath.write_text(json.dumps(wrong))
    assert "verify" in run_with(solution=str(wpath))
    # no CUDA here (or a bad device name)
    import torch

    if not torch.cuda.is_available():
        assert "cuda" in run_with(extra=("--device", "cuda"))
    # a corrupted safetensors file: copy the library's files, break one header
    libdoc = json.loads(setup["library"].read_text())
    root = setup["library"].parent
    files = sorted({t["file"] for b in libdoc["blocks"] for t in b["tensors"]})
    copy_dir = tmp_path / "copy"
    for f in files:
        src = Path(f) if Path(f).is_absolute() else root / f
        dst = copy_dir / src.name / "x.safetensors"
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_bytes(src.read_bytes())
    mapping = {f: str(copy_dir / (Path(f) if Path(f).is_absolute() else root / f).name / "x.safetensors")
               for f in files}
    for b in libdoc["blocks"]:
        b["file"] = mapping[b["file"]]
        for t in b["tensors"]:
            t["file"] = mapping[t["file"]]
    lpath = tmp_path / "lib.json"
    lpath.write_text(json.dumps(libdoc))
    victim = Path(mapping[files[0]])
    raw = bytearray(victim.read_bytes())
    raw[8:16] = b"{{{{{{{{"
    victim.write_bytes(bytes(raw))
    assert "error" in run_with(library=str(lpath))
    # the same for calibrate
    sout = tmp_path / "server.json"
    assert _run_bad(["calibrate", "--library", str(lpath), "-o", str(sout), *FAST], sout, capsys)
    # and a truncated file (header intact, data cut)
    victim.write_bytes(Path(mapping[files[1]]).read_bytes()[:-100] if len(files) > 1 else b"")
    assert "error" in run_with(library=str(lpath))


def test_calibrate_bad_options(setup: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "s.json"
    lib = str(setup["library"])
    for extra in (["--repeats", "0"], ["--batch-sizes", "4"], ["--batch-sizes", "1,1"], ["--memory-reserve", "2"]):
        _run_bad(["calibrate", "--library", lib, "-o", str(out), *extra], out, capsys)
    import torch

    if not torch.cuda.is_available():
        assert "cuda" in _run_bad(["calibrate", "--library", lib, "-o", str(out), "--device", "cuda"], out, capsys)


def test_predict_finish_with_stream_costs() -> None:
    from edgeinfer.streaming.runtime import StreamCosts, predict_finish

    bits, comp, rate = [8e5, 8e5, 8e5], [0.01, 0.02, 0.005], 1e8
    paper = predict_finish(bits, comp, rate, "pipelined")
    assert predict_finish(bits, comp, rate, "pipelined", StreamCosts()) == pytest.approx(paper)
    assert predict_finish(bits, comp, rate, "sequential") == pytest.approx(sum(bits) / rate + sum(comp))
    c = StreamCosts(recv_fixed_s=1e-3, recv_s_per_byte=1e-9, apply_fixed_s=2e-3)
    assert predict_finish(bits, comp, rate, "pipelined", c) > paper
    seq = predict_finish(bits, comp, rate, "sequential", c)
    assert seq == pytest.approx(sum(bits) / rate + c.recv_s(bits[-1]) + sum(comp) + 3 * c.apply_fixed_s)


def test_unbuildable_model_is_refused(tiny_models: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A checkpoint with neither a zoo architecture nor a config.json cannot be built or timed."""
    lib = tmp_path / "lib.json"
    assert main(["library", "scan", str(tiny_models.paths["base"]), str(tiny_models.paths["renamed"]),
                 "-o", str(lib)]) == 0
    out = tmp_path / "server.json"
    err = _run_bad(["calibrate", "--library", str(lib), "-o", str(out), *FAST], out, capsys)
    assert "renamed" in err and "config" in err
