"""Per-layer DNN profiles: the numbers every framework's solver uses (no torch needed).

Profiles of the zoo models are generated with PyTorch by ``make profiles``
(``python -m edgeinfer.dnn.build_profiles``) and shipped as JSON in
``edgeinfer/dnn/profiles/``; :func:`load_profile` reads them with the standard
library and NumPy only.

A profile is found by NAME only, never by path: a shipped profile (:func:`shipped_profiles`)
or one registered in code with :func:`register_profile` (validated: finite numbers, positive
where a size must be). Instance files name models, so no file content ever chooses a file.

JSON format (also what ``edgeinfer profile MODEL --json`` prints)::

    {"model": "resnet18", "params": 11689512, "macs": 1.81e9,
     "input_shape": [3, 224, 224], "input_bytes": 602112, "dtype_bytes": 4,
     "layers": [{"name": "stem", "params": 9536, "macs": 1.18e8, "output_bytes": 802816}, ...]}

``output_bytes`` is the size of the layer's output activation for ONE sample.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from edgeinfer.core.errors import InvalidInstanceError, UnknownNameError

__all__ = ["LayerProfile", "ModelProfile", "load_profile", "list_profiles", "shipped_profiles", "profile_from_dict",
           "register_profile", "unregister_profile", "validate_profile"]


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
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        raise InvalidInstanceError("profile", f"malformed model profile: {exc}") from None


#: a profile name: letters, digits and ``_ . + -``, starting with a letter or digit
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,99}")
_REGISTERED: dict[str, ModelProfile] = {}


def _finite(v: Any) -> bool:
    return isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool) and math.isfinite(v)


def validate_profile(profile: ModelProfile, where: str = "profile") -> ModelProfile:
    """Check a profile's numbers (raises :class:`InvalidInstanceError` naming the field).

    Every number is finite; ``params``, ``macs`` and ``param_bytes`` are non-negative; each
    layer's ``output_bytes``, the ``input_bytes``, ``dtype_bytes`` and the input shape are
    positive; the model has at least one layer and some computation; totals do not overflow.
    """
    if not isinstance(profile, ModelProfile):
        raise InvalidInstanceError(where, f"must be a ModelProfile, not {type(profile).__name__}")
    if not isinstance(profile.name, str) or not _NAME.fullmatch(profile.name):
        raise InvalidInstanceError(f"{where}.name", "must be 1-100 letters, digits or _ . + - "
                                                    f"(starting with a letter or digit), got {profile.name!r}")
    if not profile.layers:
        raise InvalidInstanceError(f"{where}.layers", "needs at least one layer")
    for k, lp in enumerate(profile.layers):
        at = f"{where}.layers[{k}]"
        if not isinstance(lp, LayerProfile):
            raise InvalidInstanceError(at, f"must be a LayerProfile, not {type(lp).__name__}")
        if not isinstance(lp.params, int | np.integer) or isinstance(lp.params, bool) or lp.params < 0:
            raise InvalidInstanceError(f"{at}.params", f"must be a non-negative integer, got {lp.params!r}")
        for name in ("macs", "param_bytes"):
            v = getattr(lp, name)
            if not (_finite(v) and v >= 0):
                raise InvalidInstanceError(f"{at}.{name}", f"must be a finite non-negative number, got {v!r}")
        if not (_finite(lp.output_bytes) and lp.output_bytes > 0):
            raise InvalidInstanceError(f"{at}.output_bytes", f"must be a finite positive number, got {lp.output_bytes!r}")
    if not (_finite(profile.input_bytes) and profile.input_bytes > 0):
        raise InvalidInstanceError(f"{where}.input_bytes", f"must be a finite positive number, got {profile.input_bytes!r}")
    if not isinstance(profile.dtype_bytes, int) or isinstance(profile.dtype_bytes, bool) or profile.dtype_bytes < 1:
        raise InvalidInstanceError(f"{where}.dtype_bytes", f"must be a positive integer, got {profile.dtype_bytes!r}")
    if not profile.input_shape or not all(isinstance(d, int) and not isinstance(d, bool) and d > 0
                                          for d in profile.input_shape):
        raise InvalidInstanceError(f"{where}.input_shape", f"must be positive integers, got {profile.input_shape!r}")
    for name in ("macs", "param_bytes"):
        total = getattr(profile, name)
        if not math.isfinite(total):
            raise InvalidInstanceError(f"{where}.layers", f"the {name} of the layers sum to {total} (overflow)")
    if profile.macs <= 0:
        raise InvalidInstanceError(f"{where}.layers", "no layer computes anything (every macs is 0)")
    return profile


def register_profile(profile: ModelProfile, *, replace: bool = False) -> ModelProfile:
    """Make ``profile`` loadable by its name (``load_profile(profile.name)``, and so usable as a
    ``model`` in instances), after :func:`validate_profile`.

    A shipped name cannot be taken; registering another profile under a registered name needs
    ``replace=True`` (registering the same profile again is a no-op). Returns the profile.
    """
    validate_profile(profile)
    if profile.name in _shipped():
        raise InvalidInstanceError("profile.name", f"{profile.name!r} is a shipped profile; choose another name")
    old = _REGISTERED.get(profile.name)
    if old is not None and old != profile and not replace:
        raise InvalidInstanceError("profile.name", f"a different profile {profile.name!r} is already registered "
                                                   "(pass replace=True to replace it)")
    _REGISTERED[profile.name] = profile
    return profile


def unregister_profile(name: str) -> None:
    """Forget a profile registered with :func:`register_profile` (no error if absent)."""
    _REGISTERED.pop(name, None)


def _profile_dir() -> Path:
    return Path(str(resources.files("edgeinfer.dnn") / "profiles"))


@lru_cache(maxsize=1)
def _shipped() -> frozenset[str]:
    return frozenset(p.stem for p in _profile_dir().glob("*.json") if _NAME.fullmatch(p.stem))


def shipped_profiles() -> list[str]:
    """Names of the zoo profiles shipped with the package."""
    return sorted(_shipped())


def list_profiles() -> list[str]:
    """Names :func:`load_profile` accepts: the shipped zoo profiles and the registered ones."""
    return sorted(_shipped() | set(_REGISTERED))


@lru_cache(maxsize=64)
def _load_shipped(name: str) -> ModelProfile:
    doc = json.loads((_profile_dir() / f"{name}.json").read_text(encoding="utf-8"))
    return validate_profile(profile_from_dict(doc), f"profile {name}")


def load_profile(name: str) -> ModelProfile:
    """A profile by name: a shipped zoo profile (e.g. ``"resnet18"``, ``"vgg16"``) or one
    registered with :func:`register_profile`. Never a path: any other name raises
    :class:`UnknownNameError` with the nearest known name."""
    if not isinstance(name, str):
        raise UnknownNameError("model profile", repr(name), list_profiles())
    reg = _REGISTERED.get(name)
    if reg is not None:
        return reg
    if name in _shipped():
        return _load_shipped(name)
    raise UnknownNameError("model profile", name, list_profiles())
