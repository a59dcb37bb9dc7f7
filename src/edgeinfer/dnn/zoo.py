"""A small PyTorch model zoo, each model exposed as the chain of logical layers the papers split at.

torchvision cannot be installed beside the CPU build of torch used here, so the
architectures are written out below. The ResNets, VGG-16 and AlexNet use
torchvision's attribute names (``conv1``, ``layer1.0.conv2``, ``features.0``,
``classifier.6`` ...) and therefore have exactly torchvision's parameter counts
and state-dict keys; ViT-B/16 has exactly torchvision's ``vit_b_16`` parameter
count (86,567,656) with a simpler module layout.

Every model is an ordinary :class:`torch.nn.Module` with its own ``forward``;
:func:`chain` extracts the ordered list of ``(name, module)`` logical layers
(the split points) from it, and running the chain in sequence gives exactly the
model's output (tested). The split points (see ``docs/dnn.md``):

==============  ======  =========================================================
model           layers  chain
==============  ======  =========================================================
resnet18        10      stem, layer1.0 ... layer4.1 (8 basic blocks), head
resnet34        18      stem, 16 basic blocks, head
resnet50        18      stem, 16 bottleneck blocks, head
vgg16           24      13 conv+ReLU, 5 max-pools, flatten, fc6, relu6, fc7,
                        relu7, fc8 (the ECC paper's "VGG16 (24 layers)")
alexnet         12      conv1, pool1, conv2, pool2, conv3, conv4, conv5, pool5,
                        flatten, fc6, fc7, fc8
nin             9       mlpconv1, pool1, mlpconv2, pool2, mlpconv3, pool3, drop3,
                        mlpconv4, gap (ImageNet NiN at 3x224x224)
tiny_yolov2     17      conv1..conv6 each followed by its max-pool (12),
                        conv7, conv8, conv9 (1x1 detector), reshape, region
                        (Darknet tiny-yolo-voc at 3x416x416)
vit_b16         14      patch_embed, block0 ... block11, head
vit_tiny        8       patch_embed, block0 ... block5, head (CIFAR-size ViT
                        for tests, 3x32x32, patch 4, width 128)
==============  ======  =========================================================
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from edgeinfer.core.errors import UnknownNameError

__all__ = ["ZOO", "ZooEntry", "chain", "get_model", "default_input_shape", "param_layers", "run_chain"]

Chain = list[tuple[str, nn.Module]]


# --------------------------------------------------------------------------- ResNet

def _conv3x3(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)


class BasicBlock(nn.Module):
    """ResNet basic block (two 3x3 convolutions), torchvision layout."""

    expansion = 1

    def __init__(self, cin: int, planes: int, stride: int = 1, downsample: nn.Module | None = None) -> None:
        super().__init__()
        self.conv1 = _conv3x3(cin, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = _conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """ResNet v1.5 bottleneck (stride on the 3x3 convolution), torchvision layout."""

    expansion = 4

    def __init__(self, cin: int, planes: int, stride: int = 1, downsample: nn.Module | None = None) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = _conv3x3(planes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ResNet(nn.Module):
    """ResNet (He et al. 2016) with torchvision's module names and initialisation."""

    def __init__(self, block: type[BasicBlock] | type[Bottleneck], layers: list[int], num_classes: int = 1000) -> None:
        super().__init__()
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2)
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def _make_layer(self, block: type[BasicBlock] | type[Bottleneck], planes: int, n: int,
                    stride: int = 1) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes * block.expansion, 1, stride=stride, bias=False),
                nn.BatchNorm2d(planes * block.expansion),
            )
        blocks: list[nn.Module] = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        blocks += [block(self.inplanes, planes) for _ in range(1, n)]
        return nn.Sequential(*blocks)

    def forward(self, x: Tensor) -> Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))

    def chain(self) -> Chain:
        out: Chain = [("stem", nn.Sequential(self.conv1, self.bn1, self.relu, self.maxpool))]
        for li in range(1, 5):
            layer = getattr(self, f"layer{li}")
            out += [(f"layer{li}.{bi}", blk) for bi, blk in enumerate(layer)]
        out.append(("head", nn.Sequential(self.avgpool, nn.Flatten(1), self.fc)))
        return out


# --------------------------------------------------------------------------- VGG-16

_VGG16_CFG: list[int | str] = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]


class VGG(nn.Module):
    """VGG-16 (configuration D, no batch norm) with torchvision's module names."""

    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = 3
        for v in _VGG16_CFG:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                assert isinstance(v, int)
                layers += [nn.Conv2d(cin, v, 3, padding=1), nn.ReLU(inplace=True)]
                cin = v
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096), nn.ReLU(True), nn.Dropout(),
            nn.Linear(4096, 4096), nn.ReLU(True), nn.Dropout(),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))

    def chain(self) -> Chain:
        out: Chain = []
        block, idx, i = 1, 1, 0
        f = self.features
        while i < len(f):
            if isinstance(f[i], nn.MaxPool2d):
                out.append((f"pool{block}", f[i]))
                block, idx, i = block + 1, 1, i + 1
            else:
                out.append((f"conv{block}_{idx}", nn.Sequential(f[i], f[i + 1])))
                idx, i = idx + 1, i + 2
        c = self.classifier
        out += [
            ("flatten", nn.Sequential(self.avgpool, nn.Flatten(1))),
            ("fc6", c[0]), ("relu6", nn.Sequential(c[1], c[2])),
            ("fc7", c[3]), ("relu7", nn.Sequential(c[4], c[5])),
            ("fc8", c[6]),
        ]
        return out


# --------------------------------------------------------------------------- AlexNet

class AlexNet(nn.Module):
    """AlexNet, torchvision's single-GPU variant (64-192-384-256-256 channels; 61,100,840 params)."""

    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, 11, stride=4, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
            nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
            nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(inplace=True),
            nn.Dropout(), nn.Linear(4096, 4096), nn.ReLU(inplace=True),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))

    def chain(self) -> Chain:
        f, c = self.features, self.classifier
        return [
            ("conv1", nn.Sequential(f[0], f[1])), ("pool1", f[2]),
            ("conv2", nn.Sequential(f[3], f[4])), ("pool2", f[5]),
            ("conv3", nn.Sequential(f[6], f[7])),
            ("conv4", nn.Sequential(f[8], f[9])),
            ("conv5", nn.Sequential(f[10], f[11])), ("pool5", f[12]),
            ("flatten", nn.Sequential(self.avgpool, nn.Flatten(1))),
            ("fc6", nn.Sequential(c[0], c[1], c[2])),
            ("fc7", nn.Sequential(c[3], c[4], c[5])),
            ("fc8", c[6]),
        ]


# --------------------------------------------------------------------------- NiN

def _mlpconv(cin: int, cout: int, k: int, stride: int, pad: int, mid: int | None = None) -> nn.Sequential:
    mid = cout if mid is None else mid
    return nn.Sequential(
        nn.Conv2d(cin, mid, k, stride=stride, padding=pad), nn.ReLU(inplace=True),
        nn.Conv2d(mid, mid, 1), nn.ReLU(inplace=True),
        nn.Conv2d(mid, cout, 1), nn.ReLU(inplace=True),
    )


class NiN(nn.Module):
    """Network in Network, ImageNet variant (Lin et al. 2014; Caffe ``NIN-Imagenet``) at 3x224x224.

    Four mlpconv blocks (a spatial convolution then two 1x1 convolutions),
    3x3/2 max-pools after the first three, dropout before the last, global
    average pooling over the 1000 class maps.
    """

    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        self.mlpconv1 = _mlpconv(3, 96, 11, 4, 0)
        self.pool1 = nn.MaxPool2d(3, 2)
        self.mlpconv2 = _mlpconv(96, 256, 5, 1, 2)
        self.pool2 = nn.MaxPool2d(3, 2)
        self.mlpconv3 = _mlpconv(256, 384, 3, 1, 1)
        self.pool3 = nn.MaxPool2d(3, 2)
        self.drop3 = nn.Dropout(0.5)
        self.mlpconv4 = _mlpconv(384, num_classes, 3, 1, 1, mid=1024)
        self.gap = nn.Sequential(nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(1))

    _ORDER = ("mlpconv1", "pool1", "mlpconv2", "pool2", "mlpconv3", "pool3", "drop3", "mlpconv4", "gap")

    def forward(self, x: Tensor) -> Tensor:
        for name in self._ORDER:
            x = getattr(self, name)(x)
        return x

    def chain(self) -> Chain:
        return [(name, getattr(self, name)) for name in self._ORDER]


# --------------------------------------------------------------------------- tiny YOLOv2

def _dark_conv(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
                         nn.LeakyReLU(0.1, inplace=True))


class _Reshape(nn.Module):
    """``(N, A*(5+C), H, W)`` -> ``(N, A, 5+C, H, W)``."""

    def __init__(self, anchors: int) -> None:
        super().__init__()
        self.anchors = anchors

    def forward(self, x: Tensor) -> Tensor:
        n, c, h, w = x.shape
        return x.view(n, self.anchors, c // self.anchors, h, w)


class _Region(nn.Module):
    """Darknet region-layer decoding: sigmoid of x, y and objectness, exp of w, h, softmax of classes."""

    def forward(self, x: Tensor) -> Tensor:
        xy = torch.sigmoid(x[:, :, 0:2])
        wh = torch.exp(x[:, :, 2:4])
        obj = torch.sigmoid(x[:, :, 4:5])
        cls = torch.softmax(x[:, :, 5:], dim=2)
        return torch.cat([xy, wh, obj, cls], dim=2)


class TinyYOLOv2(nn.Module):
    """Tiny YOLOv2 (Darknet ``yolov2-tiny-voc.cfg``: 20 classes, 5 anchors) at 3x416x416."""

    def __init__(self, num_classes: int = 20, anchors: int = 5) -> None:
        super().__init__()
        chans = [3, 16, 32, 64, 128, 256, 512]
        for i in range(1, 7):
            setattr(self, f"conv{i}", _dark_conv(chans[i - 1], chans[i]))
            if i < 6:
                setattr(self, f"pool{i}", nn.MaxPool2d(2, 2))
        # Darknet's size-2 stride-1 max-pool keeps 13x13 by padding right and bottom.
        self.pool6 = nn.Sequential(nn.ReplicationPad2d((0, 1, 0, 1)), nn.MaxPool2d(2, 1))
        self.conv7 = _dark_conv(512, 1024)
        self.conv8 = _dark_conv(1024, 1024)
        self.conv9 = nn.Conv2d(1024, anchors * (5 + num_classes), 1)
        self.reshape = _Reshape(anchors)
        self.region = _Region()

    _ORDER = tuple(n for i in range(1, 7) for n in (f"conv{i}", f"pool{i}")) + (
        "conv7", "conv8", "conv9", "reshape", "region")

    def forward(self, x: Tensor) -> Tensor:
        for name in self._ORDER:
            x = getattr(self, name)(x)
        return x

    def chain(self) -> Chain:
        return [(name, getattr(self, name)) for name in self._ORDER]


# --------------------------------------------------------------------------- ViT

class Attention(nn.Module):
    """Multi-head self-attention written with explicit matrix products (counted by FlopCounterMode)."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        n, t, d = x.shape
        qkv = self.qkv(x).reshape(n, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        att = torch.softmax((q @ k.transpose(-2, -1)) / math.sqrt(d // self.heads), dim=-1)
        out = (att @ v).transpose(1, 2).reshape(n, t, d)
        return self.proj(out)


class EncoderBlock(nn.Module):
    """Pre-norm transformer encoder block (LayerNorm eps 1e-6, GELU MLP), as in torchvision's ViT."""

    def __init__(self, dim: int, heads: int, mlp_dim: int) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads)
        self.ln_2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp_dim), nn.GELU(), nn.Linear(mlp_dim, dim))

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class PatchEmbed(nn.Module):
    """Patchify convolution, class token and learned position embedding."""

    def __init__(self, image_size: int, patch: int, dim: int) -> None:
        super().__init__()
        self.conv_proj = nn.Conv2d(3, dim, patch, stride=patch)
        self.class_token = nn.Parameter(torch.zeros(1, 1, dim))
        tokens = (image_size // patch) ** 2 + 1
        self.pos_embedding = nn.Parameter(torch.empty(1, tokens, dim).normal_(std=0.02))

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv_proj(x).flatten(2).transpose(1, 2)
        cls = self.class_token.expand(x.shape[0], -1, -1)
        return torch.cat([cls, x], dim=1) + self.pos_embedding


class ClassifierHead(nn.Module):
    """Final LayerNorm, class-token pooling and the linear classifier."""

    def __init__(self, dim: int, num_classes: int) -> None:
        super().__init__()
        self.ln = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.ln(x)[:, 0])


class VisionTransformer(nn.Module):
    """ViT (Dosovitskiy et al. 2021); ``vit_b16`` has torchvision ``vit_b_16``'s 86,567,656 parameters."""

    def __init__(self, image_size: int = 224, patch: int = 16, dim: int = 768, depth: int = 12,
                 heads: int = 12, mlp_dim: int = 3072, num_classes: int = 1000) -> None:
        super().__init__()
        self.patch_embed = PatchEmbed(image_size, patch, dim)
        self.blocks = nn.ModuleList([EncoderBlock(dim, heads, mlp_dim) for _ in range(depth)])
        self.head = ClassifierHead(dim, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.patch_embed(x)
        for blk in self.blocks:
            x = blk(x)
        return self.head(x)

    def chain(self) -> Chain:
        return [("patch_embed", self.patch_embed), *[(f"block{i}", b) for i, b in enumerate(self.blocks)],
                ("head", self.head)]


# --------------------------------------------------------------------------- registry

@dataclass(frozen=True)
class ZooEntry:
    """A zoo model: its constructor, default input shape (C, H, W) and a one-line description."""

    build: Callable[[], nn.Module]
    input_shape: tuple[int, int, int]
    description: str


ZOO: dict[str, ZooEntry] = {
    "resnet18": ZooEntry(lambda: ResNet(BasicBlock, [2, 2, 2, 2]), (3, 224, 224), "ResNet-18 (He et al. 2016)"),
    "resnet34": ZooEntry(lambda: ResNet(BasicBlock, [3, 4, 6, 3]), (3, 224, 224), "ResNet-34"),
    "resnet50": ZooEntry(lambda: ResNet(Bottleneck, [3, 4, 6, 3]), (3, 224, 224), "ResNet-50 (v1.5)"),
    "vgg16": ZooEntry(VGG, (3, 224, 224), "VGG-16 (configuration D)"),
    "alexnet": ZooEntry(AlexNet, (3, 224, 224), "AlexNet (torchvision single-GPU variant)"),
    "nin": ZooEntry(NiN, (3, 224, 224), "Network in Network, ImageNet variant"),
    "tiny_yolov2": ZooEntry(TinyYOLOv2, (3, 416, 416), "Tiny YOLOv2 (VOC, 20 classes)"),
    "vit_b16": ZooEntry(VisionTransformer, (3, 224, 224), "ViT-B/16 (Dosovitskiy et al. 2021)"),
    "vit_tiny": ZooEntry(
        lambda: VisionTransformer(image_size=32, patch=4, dim=128, depth=6, heads=4, mlp_dim=512, num_classes=10),
        (3, 32, 32), "small ViT for tests: 32x32 input, patch 4, width 128, depth 6, 10 classes"),
}


def _entry(name: str) -> ZooEntry:
    if name not in ZOO:
        raise UnknownNameError("model", name, ZOO)
    return ZOO[name]


def get_model(name: str, *, device: str | torch.device | None = None) -> nn.Module:
    """Build zoo model ``name`` in eval mode (random weights).

    ``device="meta"`` builds it without allocating memory (enough for
    parameter counts and profiling with :mod:`edgeinfer.dnn.profiler`).
    """
    entry = _entry(name)
    if device is None:
        model = entry.build()
    else:
        with torch.device(device):
            model = entry.build()
    return model.eval()


def default_input_shape(name: str) -> tuple[int, int, int]:
    """The model's canonical input shape ``(C, H, W)`` (3x416x416 for tiny YOLOv2, 3x32x32 for vit_tiny)."""
    return _entry(name).input_shape


def chain(model: str | nn.Module) -> Chain:
    """The ordered logical layers ``[(name, module), ...]`` of a zoo model (by name or instance).

    The modules are the model's own (shared, not copied); running them in order
    (:func:`run_chain`) reproduces ``model(x)``. A plain :class:`torch.nn.Sequential`
    is accepted too (its children are the layers).
    """
    if isinstance(model, str):
        model = get_model(model)
    method = getattr(model, "chain", None)
    if callable(method):
        return list(method())
    if isinstance(model, nn.Sequential):
        return list(model.named_children())
    raise TypeError(f"{type(model).__name__} has no chain(); wrap it in nn.Sequential")


def run_chain(layers: Chain, x: Tensor) -> Tensor:
    """Run the logical layers in order."""
    for _, module in layers:
        x = module(x)
    return x


_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.LayerNorm, nn.GroupNorm)


def param_layers(model: nn.Module) -> list[tuple[str, list[tuple[str, nn.Module]]]]:
    """Fine-grained parameter layers: ``[(name, [(module path, module), ...]), ...]`` in registration order.

    Every module that owns parameters directly starts a new parameter layer named
    by its path, except normalisation layers (BatchNorm, LayerNorm, GroupNorm),
    which join the preceding one (a convolution and its BatchNorm are one layer).
    ResNet-18 has 21 (17 convolutions, 3 downsampling convolutions, the fc),
    ResNet-34 37, ResNet-50 54. These are loading units, not split points: a
    residual network cannot be cut between them. Each parameter appears once.
    """
    groups: list[tuple[str, list[tuple[str, nn.Module]]]] = []
    for path, module in model.named_modules():
        if not any(True for _ in module.parameters(recurse=False)):
            continue
        if isinstance(module, _NORMS) and groups:
            groups[-1][1].append((path, module))
        else:
            groups.append((path or "root", [(path, module)]))
    return groups
