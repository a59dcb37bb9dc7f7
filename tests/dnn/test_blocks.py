"""Parameter-block libraries: sharing detection, builders, state-dict hashing."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgeinfer.core.errors import InvalidInstanceError
from edgeinfer.dnn import load_profile
from edgeinfer.dnn.blocks import (
    Block,
    BlockLibrary,
    backbone_sharing_library,
    general_sharing_library,
    library_from_state_dicts,
    tensor_digest,
)

RESNETS = ["resnet18", "resnet34", "resnet50"]


def _lib(models: dict[str, list[str]], sizes: dict[str, float] | None = None) -> BlockLibrary:
    ids = sorted({b for bs in models.values() for b in bs})
    sizes = sizes or {}
    return BlockLibrary(blocks=tuple(Block(b, sizes.get(b, 10.0)) for b in ids),
                        models={m: tuple(bs) for m, bs in models.items()})


# ---------------------------------------------------------------- the library itself

def test_sharing_detection_by_hand() -> None:
    lib = _lib({"a": ["w1", "w2", "a3"], "b": ["w1", "w2", "b3"], "c": ["w1", "c2", "c3"], "d": ["d1"]},
               {"w1": 10, "w2": 20, "a3": 70, "b3": 30, "c2": 40, "c3": 50, "d1": 5})
    assert lib.shared_blocks() == {"w1": ("a", "b", "c"), "w2": ("a", "b")}
    assert lib.is_shared("w2") and not lib.is_shared("a3")
    assert lib.shared_bytes("a") == 30
    assert lib.sharing_ratio("a") == pytest.approx(0.3)
    assert lib.sharing_ratio("b") == pytest.approx(0.5)
    assert lib.sharing_ratio("c") == pytest.approx(0.1)
    assert lib.sharing_ratio("d") == 0.0
    assert lib.sharing_ratio() == pytest.approx((0.3 + 0.5 + 0.1 + 0.0) / 4)
    assert lib.sharing_ratio("a", measure="layers") == pytest.approx(2 / 3)
    assert lib.common_bytes("a", "b") == 30 and lib.common_bytes("a", "c") == 10
    assert lib.load_bytes("b", "a") == 30 and lib.load_bytes("b") == 60
    assert lib.load_bytes("c", {"w1", "c3"}) == 40
    assert [lib.shared_prefix_len(m) for m in "abcd"] == [2, 2, 1, 0]
    assert lib.layer_bytes("c").tolist() == [10, 40, 50]
    assert lib.is_backbone_sharing()
    clusters = lib.backbone_clusters()
    assert clusters is not None and sorted(map(sorted, clusters.values())) == [["a", "b", "c"], ["d"]]


def test_not_backbone_sharing() -> None:
    middle = _lib({"a": ["x", "s", "a3"], "b": ["y", "s", "b3"]})  # shared block in the middle
    assert middle.shared_blocks() == {"s": ("a", "b")} and not middle.is_backbone_sharing()
    forked = _lib({"a": ["w1", "w2", "a"], "b": ["w1", "w2", "b"], "c": ["w1", "v2", "c"], "d": ["w1", "v2", "d"]})
    assert not forked.is_backbone_sharing()  # two different backbones below one shared stem
    ok = _lib({"a": ["w1", "w2", "a"], "b": ["w1", "w2", "b"], "c": ["w1", "c2"]})
    assert ok.is_backbone_sharing()


@pytest.mark.parametrize("kwargs, field", [
    ({"blocks": (Block("x", 1), Block("x", 2)), "models": {"a": ("x",)}}, "blocks[1].id"),
    ({"blocks": (Block("x", -1),), "models": {"a": ("x",)}}, "blocks[0].bytes"),
    ({"blocks": (Block("x", float("nan")),), "models": {"a": ("x",)}}, "blocks[0].bytes"),
    ({"blocks": (Block("x", 1),), "models": {"a": ("y",)}}, "models[a][0]"),
    ({"blocks": (Block("x", 1),), "models": {"a": ()}}, "models[a]"),
    ({"blocks": (Block("x", 1),), "models": {"a": ("x", "x")}}, "models[a]"),
    ({"blocks": (Block("x", 1),), "models": {}}, "models"),
    ({"blocks": (Block("x", 1),), "models": {"a": ("x",)}, "clusters": {"b": "c"}}, "clusters[b]"),
])
def test_library_validation(kwargs: dict, field: str) -> None:
    with pytest.raises(InvalidInstanceError) as info:
        BlockLibrary(**kwargs)
    assert info.value.field == field


def test_json_round_trip_and_malformed() -> None:
    lib = backbone_sharing_library(np.random.default_rng(0), RESNETS, 9, 0.8)
    doc = json.loads(json.dumps(lib.to_dict()))
    back = BlockLibrary.from_dict(doc)
    assert back == lib
    assert back.frozen == lib.frozen and back.arch == lib.arch
    for bad, field in [({**doc, "extra": 1}, "extra"), ({**doc, "blocks": {}}, "blocks"),
                       ({**doc, "models": {"m0": ["nope"]}}, "models[m0][0]"),
                       ({**doc, "blocks": [{"id": "a", "bytes": "1"}]}, "blocks[0].bytes"),
                       ({**doc, "frozen": {"m0": [1.5]}}, "frozen")]:
        with pytest.raises(InvalidInstanceError) as info:
            BlockLibrary.from_dict(bad)
        assert info.value.field == field


# ---------------------------------------------------------------- builders

@pytest.mark.parametrize("theta", [0.75, 0.8, 0.85, 0.9, 0.95])
def test_backbone_builder_hits_target_bytes(theta: float) -> None:
    lib = backbone_sharing_library(np.random.default_rng(7), RESNETS, 50, theta)
    assert lib.frozen_ratio() == pytest.approx(theta, abs=0.01)
    assert lib.meta["achieved_frozen_ratio"] == pytest.approx(lib.frozen_ratio())
    # with ~17 models per cluster, Definition 1 agrees closely with the frozen fraction
    assert lib.sharing_ratio() == pytest.approx(theta, abs=0.02)
    assert lib.is_backbone_sharing()
    assert len(lib.models) == 50 and sorted(set(lib.clusters.values())) == RESNETS
    for m, ids in lib.models.items():
        prof = load_profile(lib.arch[m])
        assert lib.layer_bytes(m).tolist() == prof.layer_param_bytes().tolist()
        fz = lib.frozen[m]
        assert fz == tuple(range(len(fz)))  # bottom layers
        assert all(ids[j].startswith(lib.clusters[m] + "/") for j in fz)
        assert all(ids[j].startswith(m + "/") for j in range(len(fz), len(ids)))
        assert len(fz) < len(ids)  # the classifier is never frozen
        assert lib.shared_prefix_len(m) <= len(fz)


@pytest.mark.parametrize("theta", [0.5, 0.75, 0.85, 0.9])
def test_backbone_builder_hits_target_layers(theta: float) -> None:
    lib = backbone_sharing_library(np.random.default_rng(3), RESNETS, 50, theta, measure="layers")
    assert lib.frozen_ratio(measure="layers") == pytest.approx(theta, abs=0.01)
    ls = [len(v) for v in lib.frozen.values()]
    assert len(set(ls)) > 1  # models differ in l_i


def test_backbone_builder_unreachable() -> None:
    with pytest.raises(InvalidInstanceError, match="reachable"):  # 10 logical layers, the fc stays trainable
        backbone_sharing_library(np.random.default_rng(0), ["resnet18"], 10, 0.95, measure="layers")
    with pytest.raises(InvalidInstanceError) as info:
        backbone_sharing_library(np.random.default_rng(0), RESNETS, 10, 1.5)
    assert info.value.field == "target_sharing_ratio"
    with pytest.raises(InvalidInstanceError) as info:
        backbone_sharing_library(np.random.default_rng(0), RESNETS, 0, 0.5)
    assert info.value.field == "n_models"


@pytest.mark.parametrize("theta", [0.75, 0.85, 0.95])
def test_general_builder_hits_target(theta: float) -> None:
    lib = general_sharing_library(np.random.default_rng(11), {"r18": "resnet18"}, 25, theta)
    assert lib.frozen_ratio() == pytest.approx(theta, abs=0.01)
    assert set(lib.clusters.values()) == {"r18"} and set(lib.arch.values()) == {"resnet18"}
    assert not lib.is_backbone_sharing()
    assert any(fz != tuple(range(len(fz))) for fz in lib.frozen.values())  # arbitrary positions
    for m in lib.models:  # every model keeps a trainable parameterised layer of its own
        assert any(b.startswith(m + "/") and lib.block_bytes[b] > 0 for b in lib.models[m])


def test_builders_seeded_reproducibility() -> None:
    for builder in (backbone_sharing_library, general_sharing_library):
        a = builder(np.random.default_rng(5), RESNETS, 30, 0.85)
        b = builder(np.random.default_rng(5), RESNETS, 30, 0.85)
        c = builder(np.random.default_rng(6), RESNETS, 30, 0.85)
        assert a == b
        assert a.frozen != c.frozen


@settings(max_examples=25, deadline=None)
@given(theta=st.floats(0.3, 0.9), n=st.integers(20, 60), seed=st.integers(0, 2**31))
def test_builders_property(theta: float, n: int, seed: int) -> None:
    for builder in (backbone_sharing_library, general_sharing_library):
        lib = builder(np.random.default_rng(seed), RESNETS, n, theta)
        assert abs(lib.frozen_ratio() - theta) <= 0.01
        for m in lib.models:
            assert lib.model_bytes(m) == pytest.approx(load_profile(lib.arch[m]).param_bytes)


# ---------------------------------------------------------------- real state dicts

torch = pytest.importorskip("torch")


def _finetune(base: Any, trainable: list[str], seed: int) -> Any:
    """Copy ``base`` and re-initialise the parameters of the named (trainable) sub-modules."""
    model = copy.deepcopy(base)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name in trainable:
            for p in model.get_submodule(name).parameters():
                p.copy_(torch.randn(p.shape, generator=gen))
    return model


def _tiny() -> Any:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
                               torch.nn.Conv2d(4, 4, 3), torch.nn.Flatten(), torch.nn.Linear(16, 5))


def test_state_dict_detection_tiny() -> None:
    base = _tiny()
    a = _finetune(base, ["5"], 1)           # only the head trained
    b = _finetune(base, ["3", "5"], 2)      # the last conv and the head trained
    lib = library_from_state_dicts({"a": a.state_dict(), "b": b.state_dict(), "base": base.state_dict()})
    names = {bid: blk.name for bid, blk in zip(lib.block_bytes, lib.blocks, strict=True)}
    shared = {names[bid]: set(ms) for bid, ms in lib.shared_blocks().items()}
    assert shared == {"0": {"a", "b", "base"}, "1": {"a", "b", "base"}, "3": {"a", "base"}}
    assert [names[x] for x in lib.models["a"]] == ["0", "1", "3", "5"]
    conv0 = (4 * 3 * 9 + 4) * 4
    bn = 4 * 4 * 4 + 8  # weight, bias, running mean, running var + num_batches_tracked (int64)
    assert lib.shared_bytes("b") == conv0 + bn
    assert lib.is_backbone_sharing()
    tensors = library_from_state_dicts({"a": a.state_dict(), "b": b.state_dict()}, granularity="tensor",
                                       include_buffers=False)
    assert len(tensors.models["a"]) == 2 + 4 + 2 + 2  # no num_batches_tracked
    assert len(tensors.shared_blocks()) == 6
    # NumPy arrays work too and hash like the same content
    np_lib = library_from_state_dicts({m: {k: v.numpy() for k, v in sd.items()}
                                       for m, sd in {"a": a.state_dict(), "b": b.state_dict()}.items()})
    assert len(np_lib.shared_blocks()) == 2


def test_state_dict_detection_resnet18() -> None:
    from edgeinfer.dnn.zoo import get_model

    base = get_model("resnet18")
    tuned = _finetune(base, ["layer4", "fc"], 3)
    other = _finetune(base, ["layer3", "layer4", "fc"], 4)
    lib = library_from_state_dicts({"tuned": tuned.state_dict(), "other": other.state_dict()})
    shared_names = {blk.name for blk in lib.blocks if lib.is_shared(blk.id)}
    assert shared_names == {"conv1", "bn1"} | {n for n in {blk.name for blk in lib.blocks}
                                               if n.startswith(("layer1", "layer2"))}
    shared_params = sum(p.numel() for n, p in base.named_parameters() if n.startswith(("conv1", "bn1", "layer1",
                                                                                        "layer2")))
    shared_buffers = sum(b.numel() * b.element_size() for n, b in base.named_buffers()
                         if n.startswith(("bn1", "layer1", "layer2")))
    assert lib.shared_bytes("tuned") == shared_params * 4 + shared_buffers
    assert lib.is_backbone_sharing()


def test_tensor_digest() -> None:
    t = torch.arange(6, dtype=torch.float32)
    assert tensor_digest(t) == tensor_digest(t.clone())
    assert tensor_digest(t)[0] != tensor_digest(t.reshape(2, 3))[0]  # shape matters
    assert tensor_digest(t)[0] != tensor_digest(t.double())[0]
    assert tensor_digest(t.bfloat16())[1] == 12
    assert tensor_digest(t[::2])[0] == tensor_digest(t[::2].contiguous())[0]


def test_blocks_module_is_torch_free() -> None:
    code = ("import sys, edgeinfer.dnn, edgeinfer.dnn.blocks, edgeinfer.dnn.profiles; "
            "print([m for m in ('torch', 'matplotlib') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


_json = st.recursive(st.none() | st.booleans() | st.integers(-5, 5) | st.floats(allow_nan=True) | st.text(max_size=3),
                     lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=3), c, max_size=3),
                     max_leaves=8)


@settings(max_examples=150, deadline=None)
@given(blocks=_json, models=_json, frozen=_json, base=st.booleans())
def test_from_dict_fuzz_only_invalid_instance(blocks: object, models: object, frozen: object, base: bool) -> None:
    doc: dict[str, object] = {"blocks": blocks, "models": models}
    if base:
        doc = {"blocks": [{"id": "a", "bytes": 1.0}], "models": {"m": ["a"]}, "frozen": frozen}
    try:
        lib = BlockLibrary.from_dict(doc)
    except InvalidInstanceError as exc:
        assert exc.field is not None
    else:
        assert BlockLibrary.from_dict(lib.to_dict()) == lib


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_backbone_check_random(data: st.DataObject) -> None:
    """Prefix-of-one-backbone libraries pass Definition 2; a shared block moved above a private one fails."""
    n_clusters = data.draw(st.integers(1, 3))
    models: dict[str, list[str]] = {}
    for c in range(n_clusters):
        depth = data.draw(st.integers(1, 5))
        for k in range(data.draw(st.integers(2, 4))):
            lk = data.draw(st.integers(1, depth))
            models[f"c{c}m{k}"] = [f"c{c}/bb{j}" for j in range(lk)] + [f"c{c}m{k}/top"]
    lib = _lib(models)
    assert lib.is_backbone_sharing()
    clusters = lib.backbone_clusters()
    assert clusters is not None
    for members in clusters.values():
        assert len({m.split("m")[0] for m in members}) == 1  # never merges two clusters
    victim = data.draw(st.sampled_from(sorted(models)))
    shared = [b for b in models[victim] if lib.is_shared(b)]
    if shared:
        bad = dict(models)
        bad[victim] = [f"{victim}/private", *models[victim]]  # a private block below the shared ones
        assert not _lib(bad).is_backbone_sharing()


@pytest.mark.parametrize("theta", [0.75, 0.95])
def test_fine_profiles_reach_paper_theta_in_layers(theta: float) -> None:
    fine = {r: f"{r}_fine" for r in RESNETS}
    lib = backbone_sharing_library(np.random.default_rng(1), fine, 50, theta, measure="layers")
    assert lib.frozen_ratio(measure="layers") == pytest.approx(theta, abs=0.01)
    assert lib.is_backbone_sharing()
    assert set(lib.arch.values()) == {f"{r}_fine" for r in RESNETS}
