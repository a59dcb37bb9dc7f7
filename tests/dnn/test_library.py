"""Block libraries of real checkpoints (edgeinfer.dnn.library, `edgeinfer library scan`, `make`).

Sharing is checked against an independent reference: every pair of tensors of the tiny models,
loaded with ``safetensors.torch.load_file`` and compared with ``torch.equal``.
"""

from __future__ import annotations

import copy
import json
import struct
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("torch")
pytest.importorskip("xxhash")

import torch  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402

from edgeinfer.cli import main  # noqa: E402
from edgeinfer.core.errors import InvalidInstanceError  # noqa: E402
from edgeinfer.dnn import library as L  # noqa: E402
from edgeinfer.dnn.blocks import library_from_state_dicts  # noqa: E402


def _files(tm: Any, model: str) -> dict[str, torch.Tensor]:
    p = tm.paths[model]
    if p.is_file():
        return load_file(str(p))
    name = "adapter_model.safetensors" if (p / "adapter_config.json").exists() else "model.safetensors"
    return load_file(str(p / name))


def _name_to_block(doc: L.LibraryDoc, model: str) -> dict[str, str]:
    m = next(x for x in doc.models if x.id == model)
    return {n: bid for bid, names in zip(m.blocks, m.tensor_names, strict=True) for n in names}


@pytest.fixture(scope="module")
def tensor_doc(tiny_models: Any) -> L.LibraryDoc:
    return L.scan_paths(tiny_models.all_paths(), granularity="tensor")


def test_tensor_blocks_match_byte_comparison(tiny_models: Any, tensor_doc: L.LibraryDoc) -> None:
    """Two tensors of two models have one content id iff their dtype, shape and bytes are equal
    (the ``#k`` suffix numbers repeated content inside one model: fresh LayerNorm weights are all ones)."""
    checkpoints = [m.id for m in tensor_doc.models if m.kind == "checkpoint"]
    for a in checkpoints:  # inside a model: the k-th copy of a content is "<id>#k", in tensor order
        m = next(x for x in tensor_doc.models if x.id == a)
        count: dict[str, int] = {}
        for bid in m.blocks:
            root = bid.split("#")[0]
            count[root] = count.get(root, 0) + 1
            assert bid == (root if count[root] == 1 else f"{root}#{count[root]}")
    for a in checkpoints:
        ta, ba = _files(tiny_models, a), _name_to_block(tensor_doc, a)
        for b in checkpoints:
            if b <= a:
                continue
            tb, bb = _files(tiny_models, b), _name_to_block(tensor_doc, b)
            for na, xa in ta.items():
                for nb, xb in tb.items():
                    same = xa.dtype == xb.dtype and xa.shape == xb.shape and torch.equal(xa, xb)
                    assert (ba[na].split("#")[0] == bb[nb].split("#")[0]) == same, (a, na, b, nb)


def test_fine_tunes_renamed_and_changed(tiny_models: Any, tensor_doc: L.LibraryDoc) -> None:
    base = _name_to_block(tensor_doc, "base")
    for model, rename in (("ft_mlp", ""), ("ft_attn", ""), ("renamed", "renamed.")):
        mine = _name_to_block(tensor_doc, model)
        changed = tiny_models.changed[model]
        assert changed or model == "renamed"
        for name, bid in base.items():
            assert (mine[rename + name] == bid) == (name not in changed), (model, name)
    # a renamed identical tensor is shared: the renamed copy is all shared blocks
    lib = L.block_library(tensor_doc)
    assert lib.sharing_ratio("renamed") == 1.0
    assert set(lib.models["renamed"]) == set(lib.models["base"])


def test_adapters_are_base_plus_own(tiny_models: Any, tensor_doc: L.LibraryDoc) -> None:
    models = {m.id: m for m in tensor_doc.models}
    blocks = {b.id: b for b in tensor_doc.blocks}
    own: dict[str, set[str]] = {}
    for a in ("lora_a", "lora_b", "lora_c"):
        m = models[a]
        assert m.kind == "adapter" and m.base == "base"  # lora_b names its base by absolute path
        n = len(models["base"].blocks)
        assert m.blocks[:n] == models["base"].blocks
        own[a] = set(m.blocks[n:])
        names = {x for ns in m.tensor_names[n:] for x in ns}
        assert names == set(_files(tiny_models, a)) and all("lora_" in x for x in names)
        assert sum(blocks[b].bytes for b in own[a]) == sum(t.numel() * t.element_size()
                                                           for t in _files(tiny_models, a).values())
        assert m.adapter_config is not None and m.adapter_config["peft_type"] == "LORA"
    assert not own["lora_a"] & own["lora_b"] and not own["lora_a"] & own["lora_c"]


def test_sharing_ratio_definition1(tiny_models: Any, tensor_doc: L.LibraryDoc) -> None:
    """Sharing ratio (Definition 1, bytes): the bytes of a model in blocks another model contains,
    averaged over models. Reference by brute force: the ``k``-th copy of a content in a model is
    its own block, shared iff another model holds at least ``k`` copies."""
    contents: dict[str, list[torch.Tensor]] = {}
    base = _files(tiny_models, "base")
    for m in tensor_doc.models:
        ts = list(_files(tiny_models, m.id).values())
        contents[m.id] = ts + (list(base.values()) if m.kind == "adapter" else [])

    def key(t: torch.Tensor) -> tuple[Any, ...]:  # the exact content, no hash
        return (str(t.dtype), tuple(t.shape), t.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())

    counts = {m: Counter(key(t) for t in ts) for m, ts in contents.items()}
    ratios = []
    for m, ts in contents.items():
        tot = sum(t.numel() * t.element_size() for t in ts)
        sh = 0
        seen: Counter[tuple[Any, ...]] = Counter()
        for t in ts:
            k = key(t)
            seen[k] += 1
            if any(c[k] >= seen[k] for o, c in counts.items() if o != m):
                sh += t.numel() * t.element_size()
        ratios.append(sh / tot)
    summary = L.sharing_summary(tensor_doc)
    assert summary["sharing_ratio"] == pytest.approx(float(np.mean(ratios)), rel=1e-12)
    assert summary["models"] == 9 and summary["adapters"] == 3


def test_granularities(tiny_models: Any) -> None:
    paths = [str(tiny_models.paths[m]) for m in ("base", "ft_mlp", "renamed")]
    mod = L.scan_paths(paths, granularity="module")
    layer = L.scan_paths(paths, granularity="layer")
    blib = L.block_library(mod)
    assert blib.sharing_ratio("renamed") == 1.0  # module paths differ, local names and bytes do not
    names = {b.id: b.name for b in layer.blocks}
    lm = L.block_library(layer)
    shared = {names[b] for b in lm.models["ft_mlp"] if b in lm.models["base"]}
    assert shared == {"model.embed_tokens", "model.layers.0", "model.norm"}  # layer 1 and the head changed
    assert [names[b] for b in lm.models["base"]] == ["model.embed_tokens", "model.layers.0", "model.layers.1",
                                                     "model.norm", "lm_head"]
    for doc in (mod, layer):
        for m in ("base", "ft_mlp"):
            assert L.block_library(doc).model_bytes(m) == sum(t.numel() * t.element_size()
                                                              for t in _files(tiny_models, m).values())


def test_order_of_paths_does_not_matter(tiny_models: Any) -> None:
    paths = tiny_models.all_paths()
    a = L.dump_library(L.scan_paths(paths, granularity="module"))
    b = L.dump_library(L.scan_paths(list(reversed(paths)), granularity="module"))
    rng = np.random.default_rng(0)
    c = L.dump_library(L.scan_paths([paths[i] for i in rng.permutation(len(paths))], granularity="module"))
    assert a == b == c


def test_state_dict_path_is_the_scan_path(tiny_models: Any) -> None:
    """library_from_state_dicts gives the scan's block ids (one grouping and hashing code)."""
    ids = ("base", "ft_mlp", "ft_attn", "zoo_vit", "zoo_vit_ft")
    for gran in ("tensor", "module", "layer"):
        doc = L.scan_paths([str(tiny_models.paths[m]) for m in ids], granularity=gran)
        scanned = L.block_library(doc)
        sd = library_from_state_dicts({m: _files(tiny_models, m) for m in ids}, granularity=gran)
        for m in ids:
            assert set(sd.models[m]) == set(scanned.models[m]), (gran, m)
        assert sd.block_bytes == scanned.block_bytes


def test_zoo_order_and_tensor_bytes(tiny_models: Any, tmp_path: Path) -> None:
    from edgeinfer.dnn.zoo import get_model

    out = tmp_path / "lib.json"
    assert main(["library", "scan", str(tiny_models.paths["zoo_vit"]), str(tiny_models.paths["base"]),
                 "-o", str(out)]) == 0
    lib = L.load_library(out)
    vit = lib.model("zoo_vit")
    assert vit.arch.zoo == "vit_tiny"
    groups = [L.group_key(names[0], "module")[0] for names in vit.tensor_names]
    zoo = list(dict.fromkeys(L.group_key(n, "module")[0] for n in get_model("vit_tiny", device="meta").state_dict()))
    assert groups == zoo  # blocks in the zoo model's order, not the file's
    assert lib.model("base").arch.config is not None and lib.model("base").arch.config["model_type"] == "llama"
    ref = _files(tiny_models, "base")
    for bid, names in zip(lib.model("base").blocks, lib.model("base").tensor_names, strict=True):
        for t, n in zip(lib.block(bid).tensors, names, strict=True):
            raw = L.tensor_bytes(lib, t)
            want = ref[n].contiguous().reshape(-1).view(torch.uint8).numpy()
            assert np.array_equal(np.asarray(raw), want)
    assert not Path(lib.doc.blocks[0].file).is_absolute()  # relative to the library's folder


def test_digest_collision_is_not_sharing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Sharing never rests on the hash: with every digest equal, only equal bytes share."""
    a = {"x.w": torch.ones(4), "y.w": torch.zeros(4)}
    b = {"x.w": torch.ones(4), "y.w": torch.full((4,), 2.0)}
    save_file(a, str(tmp_path / "a.safetensors"))
    save_file(b, str(tmp_path / "b.safetensors"))
    monkeypatch.setattr(L, "content_digest", lambda dtype, shape, data: "0" * 32)
    doc = L.scan_paths([str(tmp_path / "a.safetensors"), str(tmp_path / "b.safetensors")], granularity="tensor")
    lib = L.block_library(doc)
    assert len(doc.blocks) == 3 and len(lib.shared_blocks()) == 1
    assert _name_to_block(doc, "a")["x.w"] == _name_to_block(doc, "b")["x.w"]
    assert _name_to_block(doc, "a")["y.w"] != _name_to_block(doc, "b")["y.w"]


def test_identical_tensors_in_one_model(tmp_path: Path) -> None:
    save_file({"p.w": torch.ones(3), "q.w": torch.ones(3)}, str(tmp_path / "m.safetensors"))
    doc = L.scan_paths([str(tmp_path / "m.safetensors")], granularity="tensor")
    ids = doc.models[0].blocks
    assert len(ids) == 2 and ids[1] == ids[0] + "#2"
    assert L.block_library(doc).model_bytes("m") == 24


# ----------------------------------------------------------------------------- bad input
def _header_file(path: Path, header: bytes, data: bytes = b"", length: int | None = None) -> str:
    path.write_bytes(struct.pack("<Q", len(header) if length is None else length) + header + data)
    return str(path)


def _bad_files(tmp_path: Path) -> dict[str, tuple[str, str]]:
    ok = json.dumps({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}).encode()
    return {
        "short": (str(_write(tmp_path / "short.safetensors", b"\x01\x02")), "shorter than"),
        "truncated header": (_header_file(tmp_path / "trunc.safetensors", ok[:10], length=len(ok)), "past the end"),
        "bad json": (_header_file(tmp_path / "badjson.safetensors", b"{not json", b"\0" * 8), "not valid JSON"),
        "huge header": (_header_file(tmp_path / "huge.safetensors", b"{}", length=2**62), "above the limit"),
        "offsets out of range": (_header_file(tmp_path / "range.safetensors", json.dumps(
            {"w": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]}}).encode(), b"\0" * 8), "beyond"),
        "size mismatch": (_header_file(tmp_path / "size.safetensors", json.dumps(
            {"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}).encode(), b"\0" * 8), "does not hold"),
        "overlap": (_header_file(tmp_path / "overlap.safetensors", json.dumps(
            {"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
             "v": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}).encode(), b"\0" * 8), "overlaps"),
        "dtype": (_header_file(tmp_path / "dtype.safetensors", json.dumps(
            {"w": {"dtype": "F4", "shape": [2], "data_offsets": [0, 1]}}).encode(), b"\0"), "unsupported dtype"),
        "not an object": (_header_file(tmp_path / "list.safetensors", b"[1, 2]"), "JSON object"),
    }


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_malformed_files_exit_2_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out.json"
    for case, (path, needle) in _bad_files(tmp_path).items():
        assert main(["library", "scan", path, "-o", str(out)]) == 2, case
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and needle in err, (case, err)
        assert not out.exists(), case


def test_adapter_errors(tiny_models: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out.json"
    out.write_text("old")
    # the base was not scanned
    assert main(["library", "scan", str(tiny_models.paths["lora_a"]), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "base_model_name_or_path" in err and "not among the scanned" in err and err.count("\n") == 1
    assert out.read_text() == "old"  # never replaced
    # an adapter config without its base
    bad = tmp_path / "nobase"
    bad.mkdir()
    cfg = json.loads((tiny_models.paths["lora_a"] / "adapter_config.json").read_text())
    del cfg["base_model_name_or_path"]
    (bad / "adapter_config.json").write_text(json.dumps(cfg))
    (bad / "adapter_model.safetensors").write_bytes((tiny_models.paths["lora_a"] / "adapter_model.safetensors")
                                                    .read_bytes())
    assert main(["library", "scan", str(tiny_models.paths["base"]), str(bad), "-o", str(out)]) == 2
    assert "base_model_name_or_path: missing" in capsys.readouterr().err
    # a missing path, an unknown granularity, a duplicate model id
    assert main(["library", "scan", str(tmp_path / "nothing"), "-o", str(out)]) == 2
    assert "paths[0]" in capsys.readouterr().err
    assert main(["library", "scan", str(tiny_models.paths["base"]), "--granularity", "block"]) == 2
    capsys.readouterr()
    assert main(["library", "scan", str(tiny_models.paths["base"]), str(tiny_models.paths["base"])]) == 2
    assert "also the id" in capsys.readouterr().err
    assert out.read_text() == "old"


def test_library_document_checks(tiny_models: Any) -> None:
    doc = L.dump_library(L.scan_paths([str(tiny_models.paths[m]) for m in ("base", "lora_a")]))
    L.library_from_doc(doc)

    def bad(edit: Any, needle: str) -> None:
        d = copy.deepcopy(doc)
        edit(d)
        with pytest.raises(InvalidInstanceError, match=needle):
            L.library_from_doc(d)

    bad(lambda d: d.update(schema_version=2), "schema_version")
    bad(lambda d: d["blocks"][0].update(bytes=d["blocks"][0]["bytes"] + 1), r"blocks\[0\].bytes")
    bad(lambda d: d["blocks"][0]["tensors"][0].update(offsets=[0, 3]), r"blocks\[0\].tensors\[0\].offsets")
    bad(lambda d: d["models"][0]["blocks"].__setitem__(0, "xxh3_128:" + "0" * 32), r"models\[0\].blocks\[0\]")
    bad(lambda d: d["models"][1].update(base="lora_a"), r"models\[1\].base")
    bad(lambda d: d["models"][1]["blocks"].pop(0), r"models\[1\]")
    bad(lambda d: d["models"][1].update(kind="checkpoint"), r"models\[1\].base")
    bad(lambda d: d["models"][0].update(extra=1), "unknown field")
    bad(lambda d: d["blocks"].append(copy.deepcopy(d["blocks"][0])), "duplicate")
    bad(lambda d: d["models"][1]["adapter_config"].update(r=float("nan")), r"models\[1\].adapter_config")


# ----------------------------------------------------------------------------- instances
def test_make_solve_verify(tiny_models: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lib = tmp_path / "library.json"
    assert main(["library", "scan", *tiny_models.all_paths(), "-o", str(lib)]) == 0
    assert "sharing ratio (Definition 1" in capsys.readouterr().out
    inst, sol = tmp_path / "pl.json", tmp_path / "pl.sol.json"
    assert main(["make", "partial_loading", "--library", str(lib), "--users", "10", "--bandwidth-hz", "20e6",
                 "--deadline-s", "0.3", "--seed", "3", "-o", str(inst)]) == 0
    doc = json.loads(inst.read_text())
    library = L.load_library(lib)
    assert {b["id"]: b["bytes"] for b in doc["blocks"]} == {b.id: float(b.bytes) for b in library.doc.blocks}
    assert [m["blocks"] for m in doc["models"]] == [m.blocks for m in library.doc.models]
    assert len(doc["users"]) == 10
    assert main(["solve", str(inst), "-a", "exact", "-o", str(sol)]) == 0
    assert main(["verify", str(inst), str(sol)]) == 0
    again = tmp_path / "pl2.json"
    assert main(["make", "partial_loading", "--library", str(lib), "--users", "10", "--bandwidth-hz", "20e6",
                 "--deadline-s", "0.3", "--seed", "3", "-o", str(again)]) == 0
    assert again.read_text() == inst.read_text()  # same seed, same instance
    sl, ssol = tmp_path / "sl.json", tmp_path / "sl.sol.json"
    assert main(["make", "slide", "--library", str(lib), "--users", "8", "--bandwidth-hz", "20e6",
                 "--deadline-s", "0.5", "--seed", "1", "-o", str(sl)]) == 0
    sdoc = json.loads(sl.read_text())
    base = next(m for m in sdoc["models"] if m["id"] == "base")
    assert [x["bits"] for x in base["layers"]] == [8.0 * sum(t.numel() * t.element_size() for n, t in
                                                             _files(tiny_models, "base").items() if n.startswith(p))
                                                   for p in ("model.embed_tokens", "model.layers.0.",
                                                             "model.layers.1.", "model.norm", "lm_head")]
    assert main(["solve", str(sl), "-a", "slide", "-o", str(ssol)]) == 0
    assert main(["verify", str(sl), str(ssol)]) == 0
    capsys.readouterr()
    # bad options and files: exit 2, nothing written
    out = tmp_path / "no.json"
    assert main(["make", "partial_loading", "--library", str(lib), "--users", "0", "--bandwidth-hz", "1e6",
                 "--deadline-s", "1", "-o", str(out)]) == 2
    assert main(["make", "partial_loading", "--library", str(inst), "--users", "3", "--bandwidth-hz", "1e6",
                 "--deadline-s", "1", "-o", str(out)]) == 2
    assert "format" in capsys.readouterr().err
    assert main(["make", "partial_loading", "--library", str(lib), "--server", str(lib), "--users", "3",
                 "--bandwidth-hz", "1e6", "--deadline-s", "1", "-o", str(out)]) == 2
    assert "server" in capsys.readouterr().err
    assert not out.exists()


def test_make_with_server_constants(tiny_models: Any, tmp_path: Path) -> None:
    """`--server` replaces the assumed constants by the calibrated ones (edgeinfer.loading.server)."""
    lib = tmp_path / "library.json"
    assert main(["library", "scan", *(str(tiny_models.paths[m]) for m in ("base", "ft_mlp", "lora_a")),
                 "-o", str(lib)]) == 0
    ids = ["base", "ft_mlp", "lora_a"]
    server = {
        "format": "edgeinfer.server", "schema_version": 1,
        "device": {"kind": "cpu", "name": "test cpu", "memory_bytes": 1e9, "memory_source": "test"},
        "disk": {"read_bytes_per_s": 1.5e9, "cache": "warm", "cache_note": "test", "bytes_read": 1e6, "repeats": 1},
        "host_to_device": {"effective_bytes_per_s": 7e9, "method": "test"},
        "models": [{"id": m, "batch_sizes": [1, 2], "latency_s": [0.011, 0.012], "compute_per_sample_s": 0.001,
                    "compute_fixed_s": 0.01 + k, "fit_rel_rmse": 0.0, "fit_max_rel_error": 0.0, "param_bytes": 1e5,
                    "activation_bytes_per_sample": 1e3, "max_batch": 5, "input_shape": [16]}
                   for k, m in enumerate(ids)],
        "budget": {"repeats": 1, "batch_sizes": [1, 2], "warmup": 0, "h2d_buffer_bytes": 1e6, "batch_cap": 32,
                   "memory_reserve": 0.1},
        "provenance": {"device_name": "test", "torch_version": "x", "python_version": "3", "platform": "p",
                       "date_utc": "d", "command": ["calibrate"], "edgeinfer_version": "0"},
    }
    srv = tmp_path / "server.json"
    srv.write_text(json.dumps(server))
    inst = tmp_path / "i.json"
    assert main(["make", "partial_loading", "--library", str(lib), "--server", str(srv), "--users", "4",
                 "--bandwidth-hz", "1e7", "--deadline-s", "1", "-o", str(inst)]) == 0
    doc = json.loads(inst.read_text())
    assert doc["load"] == {"disk_bytes_per_s": 1.5e9, "host_to_device_bytes_per_s": 7e9}
    assert [(m["id"], m["compute_fixed_s"], m["max_batch"]) for m in doc["models"]] == [
        ("base", 0.01, 5), ("ft_mlp", 1.01, 5), ("lora_a", 2.01, 5)]
    server["models"][0]["fit_rel_rmse"] = 0.6  # a poor eq. (9) fit: refused under a bound of 0.5
    srv.write_text(json.dumps(server))
    args = ["make", "partial_loading", "--library", str(lib), "--server", str(srv), "--users", "4",
            "--bandwidth-hz", "1e7", "--deadline-s", "1", "-o", str(tmp_path / "k.json")]
    assert main([*args, "--max-fit-rel-rmse", "0.5"]) == 2 and not (tmp_path / "k.json").exists()
    assert main([*args, "--max-fit-rel-rmse", "0.7"]) == 0
    server["models"].pop()
    srv.write_text(json.dumps(server))
    assert main(["make", "partial_loading", "--library", str(lib), "--server", str(srv), "--users", "4",
                 "--bandwidth-hz", "1e7", "--deadline-s", "1", "-o", str(tmp_path / "j.json")]) == 2
    assert not (tmp_path / "j.json").exists()


def test_output_never_replaces_a_scanned_file(tiny_models: Any, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    base = tmp_path / "base"
    shutil.copytree(tiny_models.paths["base"], base)
    before = (base / "model.safetensors").read_bytes()
    for target in ("model.safetensors", "config.json"):
        assert main(["library", "scan", str(base), "-o", str(base / target)]) == 2
        assert "also an input" in capsys.readouterr().err
    assert (base / "model.safetensors").read_bytes() == before
    assert main(["library", "scan", str(base), "-o", "-"]) == 0  # to standard output, absolute paths
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert Path(doc["blocks"][0]["file"]).is_absolute() and "sharing ratio" in captured.err
    assert main(["library", "scan", str(base), "--json", "-o", str(tmp_path / "lib.json")]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["models"] == 1 and summary["shared_blocks"] == 0 and summary["sharing_ratio"] == 0.0


def test_sharded_checkpoint_is_the_single_file(tiny_models: Any, tmp_path: Path) -> None:
    """A folder of shards (model.safetensors.index.json) scans to the same blocks as one file."""
    import shutil

    ref = _files(tiny_models, "base")
    folder = tmp_path / "sharded"
    folder.mkdir()
    shutil.copy(tiny_models.paths["base"] / "config.json", folder / "config.json")
    names = sorted(ref)
    shards = {f"model-0000{k + 1}-of-00003.safetensors": names[k::3] for k in range(3)}
    weight_map = {}
    for fname, keys in shards.items():
        save_file({k: ref[k].contiguous() for k in keys}, str(folder / fname))
        weight_map.update(dict.fromkeys(keys, fname))
    (folder / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    doc = L.scan_paths([str(tiny_models.paths["base"]), str(folder)], granularity="module")
    models = {m.id: m for m in doc.models}
    assert models["sharded"].blocks == models["base"].blocks
    assert {t.file for b in doc.blocks for t in b.tensors} == {str((tiny_models.paths["base"] /
                                                                   "model.safetensors").resolve())}
    only = L.scan_paths([str(folder)], granularity="module")
    assert len({t.file for b in only.blocks for t in b.tensors}) == 3
    # an index naming a file outside the folder is refused
    (folder / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {"w": "../x.safetensors"}}))
    with pytest.raises(InvalidInstanceError, match="weight_map"):
        L.scan_paths([str(folder)])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300), st.integers(0, 2**64 - 1) | st.none())
def test_header_fuzz_only_invalid_instance(tmp_path_factory: Any, data: bytes, length: int | None) -> None:
    p = tmp_path_factory.mktemp("fuzz") / "f.safetensors"
    p.write_bytes((struct.pack("<Q", length) if length is not None else b"") + data)
    try:
        h = L.read_safetensors_header(p)
    except InvalidInstanceError:
        return
    for e in h.tensors.values():  # whatever parses is consistent
        assert 0 <= e.begin <= e.end <= h.size


_VALID_DOC: dict[str, Any] = {}


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_library_doc_fuzz_only_invalid_instance(tmp_path_factory: Any, data: st.DataObject) -> None:
    if not _VALID_DOC:
        root = tmp_path_factory.mktemp("lib")
        save_file({"a.w": torch.ones(2), "a.b": torch.zeros(1), "c.w": torch.arange(3.0)}, str(root / "m.safetensors"))
        save_file({"a.w": torch.ones(2), "a.b": torch.ones(1)}, str(root / "n.safetensors"))
        _VALID_DOC.update(L.dump_library(L.scan_paths([str(root / "m.safetensors"), str(root / "n.safetensors")])))
    doc = copy.deepcopy(_VALID_DOC)
    leaves: list[tuple[Any, Any]] = []
    stack: list[Any] = [doc]
    while stack:
        x = stack.pop()
        items = x.items() if isinstance(x, dict) else enumerate(x) if isinstance(x, list) else ()
        for k, v in items:
            leaves.append((x, k))
            stack.append(v)
    parent, key = data.draw(st.sampled_from(leaves))
    parent[key] = data.draw(st.none() | st.booleans() | st.integers(-3, 2**40) | st.floats(allow_nan=True)
                            | st.text(max_size=5) | st.lists(st.integers(0, 9), max_size=3) | st.just({}))
    try:
        lib = L.library_from_doc(doc)
    except InvalidInstanceError:
        return
    L.block_library(lib.doc)  # what validates builds a BlockLibrary
