"""Zoo models: published parameter counts and MACs, chain structure, chain == forward."""

from __future__ import annotations

import copy

import pytest

torch = pytest.importorskip("torch")

from edgeinfer.core.errors import UnknownNameError  # noqa: E402
from edgeinfer.dnn import load_profile  # noqa: E402
from edgeinfer.dnn.profiler import profile_chain, profile_model  # noqa: E402
from edgeinfer.dnn.zoo import ZOO, chain, default_input_shape, get_model, run_chain  # noqa: E402

# name -> (published parameter count, published GMACs at 224x224)
PUBLISHED = {
    "resnet18": (11_689_512, 1.81),
    "resnet34": (21_797_672, 3.66),
    "resnet50": (25_557_032, 4.09),
    "vgg16": (138_357_544, 15.47),
    "alexnet": (61_100_840, 0.71),
    "vit_b16": (86_567_656, 17.56),
}

CHAIN_LENGTHS = {"resnet18": 10, "resnet34": 18, "resnet50": 18, "vgg16": 24, "alexnet": 12, "nin": 9,
                 "tiny_yolov2": 17, "vit_b16": 14, "vit_tiny": 8}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_published_params_exact(name: str) -> None:
    model = get_model(name, device="meta")
    assert sum(p.numel() for p in model.parameters()) == PUBLISHED[name][0]


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_published_macs_within_2_percent(name: str) -> None:
    prof = profile_model(name, (3, 224, 224))
    assert prof.macs / 1e9 == pytest.approx(PUBLISHED[name][1], rel=0.02)
    assert prof.params == PUBLISHED[name][0]  # the chain covers every parameter exactly once


@pytest.mark.parametrize("name", sorted(ZOO))
def test_chain_lengths_and_names(name: str) -> None:
    layers = chain(get_model(name, device="meta"))
    assert len(layers) == CHAIN_LENGTHS[name]
    names = [n for n, _ in layers]
    assert len(set(names)) == len(names)


def test_split_points_documented() -> None:
    assert [n for n, _ in chain(get_model("resnet18", device="meta"))] == [
        "stem", "layer1.0", "layer1.1", "layer2.0", "layer2.1", "layer3.0", "layer3.1", "layer4.0", "layer4.1", "head"]
    vgg = [n for n, _ in chain(get_model("vgg16", device="meta"))]
    assert sum(n.startswith("conv") for n in vgg) == 13 and sum(n.startswith("pool") for n in vgg) == 5
    assert vgg[-6:] == ["flatten", "fc6", "relu6", "fc7", "relu7", "fc8"]
    vit = [n for n, _ in chain(get_model("vit_b16", device="meta"))]
    assert vit[0] == "patch_embed" and vit[-1] == "head" and vit[1:-1] == [f"block{i}" for i in range(12)]


# small inputs where the architecture allows it (ViT's position embedding fixes its size)
SMALL_INPUT = {"resnet18": 64, "resnet34": 64, "resnet50": 64, "vgg16": 32, "alexnet": 64, "nin": 96,
               "tiny_yolov2": 64, "vit_b16": 224, "vit_tiny": 32}


@pytest.mark.parametrize("name", sorted(ZOO))
def test_chain_output_equals_forward(name: str) -> None:
    torch.manual_seed(0)
    model = get_model(name)
    size = SMALL_INPUT[name]
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        whole = model(x)
        chained = run_chain(chain(model), x.clone())
    assert whole.shape == chained.shape and whole.shape[0] == 2
    assert torch.equal(whole, chained)


def test_chain_reuses_the_model_modules() -> None:
    model = get_model("resnet18", device="meta")
    chain_ids = {id(p) for _, m in chain(model) for p in m.parameters()}
    assert chain_ids == {id(p) for p in model.parameters()}


def test_unknown_model() -> None:
    with pytest.raises(UnknownNameError, match="resnet18"):
        get_model("resnet81")


@pytest.mark.parametrize("name", sorted(ZOO))
def test_shipped_profiles_are_current(name: str) -> None:
    shipped = load_profile(name)
    fresh = profile_model(name)
    assert shipped.input_shape == default_input_shape(name)
    assert [(lp.name, lp.params, lp.macs, lp.output_bytes) for lp in shipped.layers] == [
        (lp.name, lp.params, lp.macs, lp.output_bytes) for lp in fresh.layers]


def test_profile_known_values() -> None:
    r18 = load_profile("resnet18")
    assert r18.layers[0].output_bytes == 64 * 56 * 56 * 4  # stem: conv 7x7/2 + max-pool 3x3/2
    assert r18.layers[-1].output_bytes == 1000 * 4
    assert r18.input_bytes == 3 * 224 * 224 * 4
    assert r18.layers[-1].macs == 512 * 1000  # fc
    vgg = load_profile("vgg16")
    assert vgg.layers[0].macs == 64 * 3 * 9 * 224 * 224  # conv1_1
    assert vgg.layers[0].output_bytes == 64 * 224 * 224 * 4
    yolo = load_profile("tiny_yolov2")
    assert yolo.input_shape == (3, 416, 416)
    assert yolo.layers[-1].output_bytes == 125 * 13 * 13 * 4


def test_profile_chain_batch_and_device_independent() -> None:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(),
                              torch.nn.Linear(8 * 5 * 5, 7))
    layers = list(net.named_children())
    p1 = profile_chain(layers, (3, 5, 5), batch=1, device="cpu")
    p4 = profile_chain(layers, (3, 5, 5), batch=4, device="cpu")
    assert p1 == p4
    assert [lp.macs for lp in p1.layers] == [8 * 3 * 9 * 25, 0, 0, 200 * 7]
    assert [lp.output_bytes for lp in p1.layers] == [8 * 25 * 4, 8 * 25 * 4, 200 * 4, 7 * 4]
    assert [lp.params for lp in p1.layers] == [8 * 27 + 8, 0, 0, 200 * 7 + 7]
    assert p1.layers[3].param_bytes == (200 * 7 + 7) * 4
    assert profile_chain(layers, (3, 5, 5)) == p1  # device inferred from the parameters (CPU)
    meta_net = copy.deepcopy(net).to("meta")
    assert profile_chain(list(meta_net.named_children()), (3, 5, 5), batch=2) == p1


def test_profile_chain_real_resnet_equals_meta() -> None:
    real = profile_chain(chain(get_model("resnet18")), (3, 64, 64), batch=2, name="resnet18")
    meta = profile_model("resnet18", (3, 64, 64))
    assert real == meta


@pytest.mark.parametrize("name, n", [("resnet18", 21), ("resnet34", 37), ("resnet50", 54), ("vgg16", 16),
                                     ("alexnet", 8), ("vit_b16", 51)])
def test_param_layers_profile(name: str, n: int) -> None:
    from edgeinfer.dnn.profiler import profile_param_layers
    from edgeinfer.dnn.zoo import param_layers

    fine = profile_param_layers(name)
    coarse = profile_model(name)
    assert fine.name == f"{name}_fine" and fine.num_layers == n
    assert fine.params == coarse.params and fine.param_bytes == coarse.param_bytes
    assert fine.macs == coarse.macs  # every MAC charged to exactly one parameter layer
    assert fine.meta["split_points"] is False
    groups = param_layers(get_model(name, device="meta"))
    assert [g for g, _ in groups] == [lp.name for lp in fine.layers]
    if name.startswith("resnet"):
        assert fine.layers[0].name == "conv1" and fine.layers[0].params == 64 * 3 * 49 + 2 * 64  # conv1 + bn1
        assert fine.layers[-1].name == "fc"


@pytest.mark.parametrize("name", ["resnet18", "resnet34", "resnet50"])
def test_shipped_fine_profiles_are_current(name: str) -> None:
    from edgeinfer.dnn.profiler import profile_param_layers

    shipped = load_profile(f"{name}_fine")
    fresh = profile_param_layers(name)
    assert [(lp.name, lp.params, lp.macs, lp.output_bytes) for lp in shipped.layers] == [
        (lp.name, lp.params, lp.macs, lp.output_bytes) for lp in fresh.layers]
