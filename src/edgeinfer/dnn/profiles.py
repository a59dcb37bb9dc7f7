"""Per-layer DNN profiles: the numbers every framework's solver uses (no torch needed).

Profiles of the zoo models are generated with PyTorch by ``make profiles``
(``python -m edgeinfer.dnn.build_profiles``) and shipped as JSON in
``edgeinfer/dnn/profiles/``; :func:`load_profile` reads them with the standard
library and NumPy only.

JSON format (also what ``edgeinfer profile MODEL --json`` prints)::

    {"model": "resnet18", "params": 11689512, "macs": 1.81e9,
     "input_shape": [3, 224, 224], "input_bytes": 602112, "dtype_bytes": 4,
     "layers": [{"name": "stem", "params": 9536, "macs": 1.18e8, "output_bytes": 802816}, ...]}

``output_bytes`` is the size of the layer's output activation for ONE sample.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from edgeinfer.core.errors import InvalidInstanceError, UnknownNameError

__all__ = ["LayerProfile", "ModelProfile", "load_profile", "list_profiles", "profile_from_dict"]


@dataclass(frozen=True)
class LayerProfile:
    """One logical layer (or block) of a chain model.

    Attributes
    ----------
    name: e.g. ``"layer2.0"`` or ``"conv3"``.
    params: number of parameters.
    macs: multiply-accumulates for one sample (FLOPs = 2 MACs).
    output_bytes: bytes of the output activation for one sample.
    param_bytes: bytes of the parameters (``params * dtype_bytes`` unless given).
    """

    name: str
    params: int
    macs: float
    output_bytes: float
    param_bytes: float = -1.0

    def __post_init__(self) -> None:
        if self.param_bytes < 0:
            object.__setattr__(self, "param_bytes", float(self.params * 4))

    @property
    def flops(self) -> float:
        return 2.0 * self.macs


@dataclass(frozen=True)
class ModelProfile:
    """An ordered chain of logical layers, as the papers split it."""

    name: str
    layers: tuple[LayerProfile, ...]
    input_shape: tuple[int, ...] = (3, 224, 224)
    input_bytes: float = 3 * 224 * 224 * 4
    dtype_bytes: int = 4
    meta: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def num_layers(self) -> int:
        return len(self.layers)

    @property
    def params(self) -> int:
        return int(sum(layer.params for layer in self.layers))

    @property
    def param_bytes(self) -> float:
        return float(sum(layer.param_bytes for layer in self.layers))

    @property
    def macs(self) -> float:
        return float(sum(layer.macs for layer in self.layers))

    @property
    def flops(self) -> float:
        return 2.0 * self.macs

    def layer_macs(self) -> np.ndarray:
        return np.array([layer.macs for layer in self.layers], dtype=float)

    def layer_param_bytes(self) -> np.ndarray:
        return np.array([layer.param_bytes for layer in self.layers], dtype=float)

    def layer_output_bytes(self) -> np.ndarray:
        return np.array([layer.output_bytes for layer in self.layers], dtype=float)

    def cumulative_macs(self) -> np.ndarray:
        """``c[l]`` = MACs of layers ``0..l-1``; length L+1 with ``c[0] = 0``."""
        return np.concatenate([[0.0], np.cumsum(self.layer_macs())])

    def cumulative_param_bytes(self) -> np.ndarray:
        """``c[l]`` = parameter bytes of layers ``0..l-1``; length L+1."""
        return np.concatenate([[0.0], np.cumsum(self.layer_param_bytes())])

    def split_output_bytes(self) -> np.ndarray:
        """``w[s]`` = bytes crossing a split after ``s`` layers (``w[0]`` = the input); length L+1."""
        return np.concatenate([[self.input_bytes], self.layer_output_bytes()])

    def peak_activation_bytes(self, batch: int = 1) -> float:
        """Peak activation memory for a batch: max over layers of (input + output) bytes x batch."""
        w = self.split_output_bytes()
        return float(batch * np.max(w[:-1] + w[1:]))

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.name,
            "params": self.params,
            "macs": self.macs,
            "input_shape": list(self.input_shape),
            "input_bytes": self.input_bytes,
            "dtype_bytes": self.dtype_bytes,
            "layers": [
                {"name": lp.name, "params": lp.params, "macs": lp.macs, "output_bytes": lp.output_bytes,
                 "param_bytes": lp.param_bytes}
                for lp in self.layers
            ],
            **({"meta": self.meta} if self.meta else {}),
        }


def profile_from_dict(doc: dict[str, Any]) -> ModelProfile:
    """Build a :class:`ModelProfile` from its JSON document (see the module docstring)."""
    try:
        dtype_bytes = int(doc.get("dtype_bytes", 4))
        layers = tuple(
            LayerProfile(
                name=str(d["name"]), params=int(d["params"]), macs=float(d["macs"]),
                output_bytes=float(d["output_bytes"]),
                param_bytes=float(d.get("param_bytes", int(d["params"]) * dtype_bytes)),
            )
            for d in doc["layers"]
        )
        shape = tuple(int(x) for x in doc.get("input_shape", (3, 224, 224)))
        return ModelProfile(
            name=str(doc["model"]), layers=layers, input_shape=shape,
            input_bytes=float(doc.get("input_bytes", int(np.prod(shape)) * dtype_bytes)),
            dtype_bytes=dtype_bytes, meta=dict(doc.get("meta", {})),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInstanceError("profile", f"malformed model profile: {exc}") from None


def _profile_dir() -> Path:
    return Path(str(resources.files("edgeinfer.dnn") / "profiles"))


def list_profiles() -> list[str]:
    """Names of the shipped zoo profiles."""
    return sorted(p.stem for p in _profile_dir().glob("*.json"))


@lru_cache(maxsize=64)
def load_profile(name: str) -> ModelProfile:
    """Load a shipped zoo profile by name (e.g. ``"resnet18"``, ``"vgg16"``) or from a JSON path."""
    path = Path(name)
    if not (path.suffix == ".json" and path.exists()):
        path = _profile_dir() / f"{name}.json"
        if not path.exists():
            raise UnknownNameError("model profile", name, list_profiles())
    return profile_from_dict(json.loads(path.read_text(encoding="utf-8")))
