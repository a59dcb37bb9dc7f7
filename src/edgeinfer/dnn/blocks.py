"""Parameter-block libraries: models as sequences of named parameter blocks that may be shared.

PartialLoading (Qu et al., Sec. III-B) describes an AI-model library as a set of
parameter blocks ``J`` (a (sub-)layer, a model block or a backbone) and models
made of blocks; a block contained in more than one model is a *shared
parameter block* (Definition 1). Loading model ``i`` right after model ``i'``
only needs the blocks of ``i`` that ``i'`` does not hold.

This module is torch-free at import (only :func:`library_from_state_dicts`
imports torch, and only when given torch tensors). It provides

* :class:`Block` and :class:`BlockLibrary` (validation, sharing detection,
  sharing ratio, bytes to load after another model, Definition-2 check, JSON);
* builders for synthetic libraries from layer profiles:

  - :func:`backbone_sharing_library`: the *backbone sharing* (BS) case
    (Definition 2): one pre-trained network per cluster; model ``i`` is
    fine-tuned from it with its bottom ``l_i`` layers frozen (shared with the
    pre-trained network, hence with the other models of the cluster) and the
    rest model-specific;
  - :func:`general_sharing_library`: the general case: each model keeps an
    arbitrary subset of the pre-trained layers (any positions) frozen;

* :func:`library_from_state_dicts`: blocks of real PyTorch (or NumPy) state
  dicts, through the checkpoint scanner's grouping and content hashing
  (:mod:`edgeinfer.dnn.library`, which also reads safetensors checkpoints and adapters).

Sharing ratio. The builders target the paper's ``theta`` (Sec. VII-A: "models
share an average of theta of layers with the corresponding pre-trained
models"): the average over models of the fraction of a model that is frozen,
i.e. taken unchanged from its cluster's pre-trained network. ``measure="bytes"``
(the default) weighs layers by their parameter bytes, ``measure="layers"``
counts logical layers as the paper's text does. :meth:`BlockLibrary.sharing_ratio`
measures Definition 1 instead (blocks contained in at least two models of the
library); the two agree whenever every frozen layer is frozen in at least two
models of its cluster, which is the usual case with tens of models per cluster.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edgeinfer.core.errors import InvalidInstanceError

__all__ = [
    "Block",
    "BlockLibrary",
    "backbone_sharing_library",
    "general_sharing_library",
    "library_from_state_dicts",
    "tensor_digest",
]

MEASURES = ("bytes", "layers")


@dataclass(frozen=True)
class Block:
    """A parameter block: a unique id, its size in bytes and a human-readable name (e.g. its layer)."""

    id: str
    bytes: float
    name: str = ""


@dataclass(frozen=True)
class BlockLibrary:
    """A model library over shared parameter blocks.

    Attributes
    ----------
    blocks: every block once.
    models: model id -> ordered tuple of block ids (bottom layer first).
    clusters: model id -> cluster (pre-trained network) id, when known.
    arch: model id -> architecture / profile name (e.g. ``"resnet18"``), when known;
        block ``l`` of the model is then layer ``l`` of that profile.
    frozen: model id -> indices of its blocks taken from the cluster's pre-trained
        network (builders only); for the BS case ``range(l_i)``.
    meta: free-form information (builder, target and achieved ratios, seed ...).
    """

    blocks: tuple[Block, ...]
    models: Mapping[str, tuple[str, ...]]
    clusters: Mapping[str, str] = field(default_factory=dict)
    arch: Mapping[str, str] = field(default_factory=dict)
    frozen: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        seen: dict[str, int] = {}
        for j, b in enumerate(self.blocks):
            if not isinstance(b.id, str) or not b.id:
                raise InvalidInstanceError(f"blocks[{j}].id", "must be a non-empty string")
            if b.id in seen:
                raise InvalidInstanceError(f"blocks[{j}].id", f"duplicate block id {b.id!r}")
            seen[b.id] = j
            if not (isinstance(b.bytes, int | float) and math.isfinite(b.bytes) and b.bytes >= 0):
                raise InvalidInstanceError(f"blocks[{j}].bytes", f"must be a finite number >= 0, got {b.bytes!r}")
        if not self.models:
            raise InvalidInstanceError("models", "must contain at least one model")
        for m, ids in self.models.items():
            if not ids:
                raise InvalidInstanceError(f"models[{m}]", "a model needs at least one block")
            if len(set(ids)) != len(ids):
                raise InvalidInstanceError(f"models[{m}]", "a block appears twice in the same model")
            for pos, bid in enumerate(ids):
                if bid not in seen:
                    raise InvalidInstanceError(f"models[{m}][{pos}]", f"unknown block {bid!r}")
        for name, mapping in (("clusters", self.clusters), ("arch", self.arch), ("frozen", self.frozen)):
            for m in mapping:
                if m not in self.models:
                    raise InvalidInstanceError(f"{name}[{m}]", f"unknown model {m!r}")
        for m, idx in self.frozen.items():
            if any(not 0 <= k < len(self.models[m]) for k in idx):
                raise InvalidInstanceError(f"frozen[{m}]", "block index out of range")

    # ------------------------------------------------------------------ basics
    @property
    def model_ids(self) -> list[str]:
        return list(self.models)

    @property
    def block_bytes(self) -> dict[str, float]:
        """Block id -> bytes."""
        return {b.id: float(b.bytes) for b in self.blocks}

    @property
    def num_blocks(self) -> int:
        return len(self.blocks)

    def model_bytes(self, model: str) -> float:
        """Total bytes of a model's blocks."""
        size = self.block_bytes
        return float(sum(size[b] for b in self.models[model]))

    def layer_bytes(self, model: str) -> np.ndarray:
        """Bytes of each block of ``model`` in order (PartialLoading's ``S'_{i,l}``)."""
        size = self.block_bytes
        return np.array([size[b] for b in self.models[model]], dtype=float)

    # ---------------------------------------------------------------- sharing
    def block_models(self) -> dict[str, tuple[str, ...]]:
        """Block id -> the models that contain it (in library order)."""
        users: dict[str, list[str]] = {b.id: [] for b in self.blocks}
        for m, ids in self.models.items():
            for b in ids:
                users[b].append(m)
        return {b: tuple(ms) for b, ms in users.items()}

    def shared_blocks(self) -> dict[str, tuple[str, ...]]:
        """The shared parameter blocks (Definition 1: contained in more than one model) and their models."""
        return {b: ms for b, ms in self.block_models().items() if len(ms) > 1}

    def is_shared(self, block: str) -> bool:
        return block in self.shared_blocks()

    def shared_bytes(self, model: str) -> float:
        """Bytes of ``model`` that lie in shared blocks."""
        shared = self.shared_blocks()
        size = self.block_bytes
        return float(sum(size[b] for b in self.models[model] if b in shared))

    def sharing_ratio(self, model: str | None = None, measure: str = "bytes") -> float:
        """Fraction of a model (bytes or blocks) in shared blocks; averaged over models if ``model`` is None."""
        _check_measure(measure)
        shared = self.shared_blocks()
        size = self.block_bytes

        def one(m: str) -> float:
            ids = self.models[m]
            if measure == "layers":
                return sum(b in shared for b in ids) / len(ids)
            total = sum(size[b] for b in ids)
            return sum(size[b] for b in ids if b in shared) / total if total > 0 else 0.0

        if model is not None:
            return float(one(model))
        return float(np.mean([one(m) for m in self.models]))

    def frozen_ratio(self, model: str | None = None, measure: str = "bytes") -> float:
        """Fraction of a model taken from its pre-trained network (the builders' target ``theta``)."""
        _check_measure(measure)

        def one(m: str) -> float:
            idx = set(self.frozen.get(m, ()))
            if measure == "layers":
                return len(idx) / len(self.models[m])
            s = self.layer_bytes(m)
            return float(s[sorted(idx)].sum() / s.sum()) if s.sum() > 0 else 0.0

        if model is not None:
            return one(model)
        return float(np.mean([one(m) for m in self.models]))

    def common_bytes(self, a: str, b: str) -> float:
        """Bytes of the blocks that models ``a`` and ``b`` both contain."""
        size = self.block_bytes
        other = set(self.models[b])
        return float(sum(size[x] for x in self.models[a] if x in other))

    def load_bytes(self, model: str, resident: str | Iterable[str] | None = None) -> float:
        """Bytes to load for ``model`` when ``resident`` (a model id, or a set of block ids) is in memory."""
        if resident is None:
            have: set[str] = set()
        elif isinstance(resident, str):
            have = set(self.models[resident])
        else:
            have = set(resident)
        size = self.block_bytes
        return float(sum(size[x] for x in self.models[model] if x not in have))

    def shared_prefix_len(self, model: str) -> int:
        """Number of leading blocks of ``model`` that are shared (the BS case's ``l_i``)."""
        shared = self.shared_blocks()
        n = 0
        for b in self.models[model]:
            if b not in shared:
                break
            n += 1
        return n

    def backbone_clusters(self) -> dict[str, list[str]] | None:
        """If the library is a backbone-sharing (BS) library (Definition 2), its clusters; else ``None``.

        BS means: every shared block of a model lies in its leading run of shared
        blocks, and models that share anything form clusters in which each
        model's shared prefix is a prefix of one common backbone sequence; no
        block is shared across clusters. Clusters are the connected components
        of the "shares a block" relation (models sharing nothing are singletons);
        ``clusters`` given at construction are not trusted.
        """
        shared = self.shared_blocks()
        parent = {m: m for m in self.models}

        def find(m: str) -> str:
            while parent[m] != m:
                parent[m] = parent[parent[m]]
                m = parent[m]
            return m

        for ms in shared.values():
            for other in ms[1:]:
                parent[find(other)] = find(ms[0])
        comps: dict[str, list[str]] = {}
        for m in self.models:
            comps.setdefault(find(m), []).append(m)
        for m, ids in self.models.items():
            k = self.shared_prefix_len(m)
            if any(b in shared for b in ids[k:]):
                return None
        for members in comps.values():
            prefixes = sorted((self.models[m][: self.shared_prefix_len(m)] for m in members), key=len)
            longest = prefixes[-1]
            if any(p != longest[: len(p)] for p in prefixes):
                return None
        return {members[0]: members for members in comps.values()}

    def is_backbone_sharing(self) -> bool:
        """Whether Definition 2 (clustered backbone sharing) holds; see :meth:`backbone_clusters`."""
        return self.backbone_clusters() is not None

    # ------------------------------------------------------------------- JSON
    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "blocks": [{"id": b.id, "bytes": b.bytes, **({"name": b.name} if b.name else {})} for b in self.blocks],
            "models": {m: list(ids) for m, ids in self.models.items()},
        }
        if self.clusters:
            doc["clusters"] = dict(self.clusters)
        if self.arch:
            doc["arch"] = dict(self.arch)
        if self.frozen:
            doc["frozen"] = {m: list(v) for m, v in self.frozen.items()}
        if self.meta:
            doc["meta"] = dict(self.meta)
        return doc

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> BlockLibrary:
        """Parse :meth:`to_dict`'s output; malformed input raises :class:`InvalidInstanceError`."""
        if not isinstance(doc, Mapping):
            raise InvalidInstanceError("", "a block library must be a JSON object")
        extra = set(doc) - {"blocks", "models", "clusters", "arch", "frozen", "meta"}
        if extra:
            raise InvalidInstanceError(sorted(extra)[0], "unknown field")
        raw_blocks = doc.get("blocks")
        if not isinstance(raw_blocks, list):
            raise InvalidInstanceError("blocks", "must be a list")
        blocks = []
        for j, d in enumerate(raw_blocks):
            if not isinstance(d, Mapping) or not isinstance(d.get("id"), str):
                raise InvalidInstanceError(f"blocks[{j}]", "needs a string id and a number bytes")
            size = d.get("bytes")
            if isinstance(size, bool) or not isinstance(size, int | float):
                raise InvalidInstanceError(f"blocks[{j}].bytes", "must be a number")
            blocks.append(Block(d["id"], float(size), str(d.get("name", ""))))
        raw_models = doc.get("models")
        if not isinstance(raw_models, Mapping):
            raise InvalidInstanceError("models", "must be an object {model: [block ids]}")
        models = {}
        for m, ids in raw_models.items():
            if not isinstance(ids, list) or not all(isinstance(x, str) for x in ids):
                raise InvalidInstanceError(f"models[{m}]", "must be a list of block ids")
            models[str(m)] = tuple(ids)
        frozen_raw = doc.get("frozen", {})
        if not isinstance(frozen_raw, Mapping) or not all(
                isinstance(v, list) and all(isinstance(k, int) and not isinstance(k, bool) for k in v)
                for v in frozen_raw.values()):
            raise InvalidInstanceError("frozen", "must be an object {model: [block indices]}")
        for name in ("clusters", "arch"):
            val = doc.get(name, {})
            if not isinstance(val, Mapping) or not all(isinstance(v, str) for v in val.values()):
                raise InvalidInstanceError(name, "must be an object {model: string}")
        return cls(
            blocks=tuple(blocks), models=models, clusters=dict(doc.get("clusters", {})),
            arch=dict(doc.get("arch", {})), frozen={m: tuple(v) for m, v in frozen_raw.items()},
            meta=dict(doc.get("meta", {})),
        )


def _check_measure(measure: str) -> None:
    if measure not in MEASURES:
        raise InvalidInstanceError("measure", f"must be one of {MEASURES}, got {measure!r}")


# ---------------------------------------------------------------------------- builders

def _resolve_profiles(base_profiles: Mapping[str, Any] | Sequence[str]) -> dict[str, Any]:
    from edgeinfer.dnn.profiles import ModelProfile, load_profile

    items = base_profiles.items() if isinstance(base_profiles, Mapping) else [(n, n) for n in base_profiles]
    out: dict[str, ModelProfile] = {}
    for cluster, prof in items:
        if isinstance(prof, str):
            prof = load_profile(prof)
        if not isinstance(prof, ModelProfile):
            raise InvalidInstanceError(f"base_profiles[{cluster}]", "must be a ModelProfile or a profile name")
        if prof.param_bytes <= 0:
            raise InvalidInstanceError(f"base_profiles[{cluster}]", "the model has no parameters")
        out[str(cluster)] = prof
    if not out:
        raise InvalidInstanceError("base_profiles", "at least one pre-trained model (cluster) is needed")
    return out


def _cluster_sizes(n_models: int, clusters: list[str], sizes: Sequence[int] | None) -> list[int]:
    if sizes is None:
        q, r = divmod(n_models, len(clusters))
        return [q + (1 if c < r else 0) for c in range(len(clusters))]
    if len(sizes) != len(clusters) or sum(sizes) != n_models or any(s < 0 for s in sizes):
        raise InvalidInstanceError("cluster_sizes", f"must be {len(clusters)} non-negative ints summing to {n_models}")
    return list(sizes)


def _weights(prof: Any, measure: str) -> np.ndarray:
    if measure == "layers":
        return np.full(prof.num_layers, 1.0 / prof.num_layers)
    b = prof.layer_param_bytes()
    return b / b.sum()


def _greedy(fracs: list[float], moves: Callable[[int], Iterable[tuple[Any, float]]], apply: Callable[[int, Any], None],
            target: float, max_steps: int = 100_000) -> float:
    """Greedy local search on the average of ``fracs``: apply the single move that best closes the gap."""
    n = len(fracs)
    total = float(sum(fracs))
    for _ in range(max_steps):
        err = abs(total / n - target)
        best: tuple[float, int, Any, float] | None = None
        for i in range(n):
            for mv, new in moves(i):
                e = abs((total - fracs[i] + new) / n - target)
                if e < err - 1e-12 and (best is None or e < best[0]):
                    best = (e, i, mv, new)
        if best is None:
            break
        _, i, mv, new = best
        apply(i, mv)
        total += new - fracs[i]
        fracs[i] = new
    return total / n


def _assemble(profiles: dict[str, Any], assign: list[tuple[str, str]], frozen_sets: list[set[int]],
              meta: dict[str, Any]) -> BlockLibrary:
    blocks: dict[str, Block] = {}
    models: dict[str, tuple[str, ...]] = {}
    for (model, cluster), fz in zip(assign, frozen_sets, strict=True):
        prof = profiles[cluster]
        ids = []
        for j, lp in enumerate(prof.layers):
            bid = f"{cluster}/{lp.name}" if j in fz else f"{model}/{lp.name}"
            blocks.setdefault(bid, Block(bid, float(lp.param_bytes), lp.name))
            ids.append(bid)
        models[model] = tuple(ids)
    return BlockLibrary(
        blocks=tuple(blocks.values()), models=models,
        clusters={m: c for m, c in assign}, arch={m: profiles[c].name for m, c in assign},
        frozen={m: tuple(sorted(fz)) for (m, _), fz in zip(assign, frozen_sets, strict=True)}, meta=meta,
    )


def _validate_common(n_models: int, target: float, measure: str, spread: float) -> None:
    if isinstance(n_models, bool) or not isinstance(n_models, int) or n_models < 1:
        raise InvalidInstanceError("n_models", f"must be a positive integer, got {n_models!r}")
    if not (isinstance(target, int | float) and 0.0 <= target <= 1.0):
        raise InvalidInstanceError("target_sharing_ratio", f"must be in [0, 1], got {target!r}")
    if not (isinstance(spread, int | float) and 0.0 <= spread <= 1.0):
        raise InvalidInstanceError("spread", f"must be in [0, 1], got {spread!r}")
    _check_measure(measure)


def _check_reached(achieved: float, target: float, tol: float, lo: float, hi: float) -> None:
    if abs(achieved - target) > tol:
        raise InvalidInstanceError(
            "target_sharing_ratio",
            f"cannot reach {target:.4f} within {tol:g} (got {achieved:.4f}; reachable range about [{lo:.4f}, {hi:.4f}])")


def backbone_sharing_library(
    rng: np.random.Generator,
    base_profiles: Mapping[str, Any] | Sequence[str],
    n_models: int,
    target_sharing_ratio: float,
    *,
    measure: str = "bytes",
    spread: float = 0.1,
    tol: float = 0.01,
    cluster_sizes: Sequence[int] | None = None,
    model_prefix: str = "m",
) -> BlockLibrary:
    """Backbone-sharing (BS) library (PartialLoading Definition 2, Sec. VII-A).

    Each cluster is one pre-trained network (``base_profiles``: cluster id ->
    :class:`~edgeinfer.dnn.profiles.ModelProfile` or profile name, e.g.
    ``{"resnet18": "resnet18", "resnet34": "resnet34", "resnet50": "resnet50"}``;
    a list of names uses each name as its cluster id). ``n_models`` models are
    spread over the clusters (equal sizes unless ``cluster_sizes``), named
    ``m0, m1, ...``. Model ``i`` freezes its bottom ``l_i`` logical layers: block
    ``"<cluster>/<layer>"`` (shared with the pre-trained network and every other
    model of the cluster that froze that layer); its other layers are blocks
    ``"<model>/<layer>"``. The top parameterised layer (the classifier) is never
    frozen, so ``0 <= l_i <= `` index of the last layer with parameters.

    ``l_i`` is chosen so that the average frozen fraction (``measure="bytes"``:
    parameter bytes; ``"layers"``: logical layers) is within ``tol`` of
    ``target_sharing_ratio``: each model draws its own target uniformly in
    ``target +- spread``, takes the closest ``l_i``, then a greedy search moves
    single ``l_i`` by one until the average is as close as it gets.

    Raises :class:`InvalidInstanceError` when the target cannot be reached
    within ``tol`` (e.g. 0.99 of the bytes while every classifier is 4%).
    """
    _validate_common(n_models, target_sharing_ratio, measure, spread)
    profiles = _resolve_profiles(base_profiles)
    names = list(profiles)
    sizes = _cluster_sizes(n_models, names, cluster_sizes)
    assign = [(f"{model_prefix}{k}", c) for k, c in enumerate(c for c, s in zip(names, sizes, strict=True)
                                                               for _ in range(s))]
    cum: dict[str, np.ndarray] = {}
    lmax: dict[str, int] = {}
    for c, prof in profiles.items():
        cum[c] = np.concatenate([[0.0], np.cumsum(_weights(prof, measure))])
        lmax[c] = int(np.flatnonzero(prof.layer_param_bytes() > 0)[-1])  # the classifier stays trainable
    depth: list[int] = []
    fracs: list[float] = []
    for _, c in assign:
        goal = float(np.clip(target_sharing_ratio + rng.uniform(-spread, spread), 0.0, 1.0))
        l_i = int(np.argmin(np.abs(cum[c][: lmax[c] + 1] - goal)))
        depth.append(l_i)
        fracs.append(float(cum[c][l_i]))

    def moves(i: int) -> Iterable[tuple[int, float]]:
        c = assign[i][1]
        for d in (-1, 1):
            if 0 <= depth[i] + d <= lmax[c]:
                yield d, float(cum[c][depth[i] + d])

    def apply(i: int, d: int) -> None:
        depth[i] += d

    achieved = _greedy(fracs, moves, apply, float(target_sharing_ratio))
    hi = float(np.mean([cum[c][lmax[c]] for _, c in assign]))
    _check_reached(achieved, float(target_sharing_ratio), tol, 0.0, hi)
    meta = {"builder": "backbone_sharing", "measure": measure, "target_sharing_ratio": float(target_sharing_ratio),
            "achieved_frozen_ratio": achieved, "spread": spread}
    lib = _assemble(profiles, assign, [set(range(d)) for d in depth], meta)
    lib.meta["definition1_sharing_ratio"] = lib.sharing_ratio(measure=measure)
    return lib


def general_sharing_library(
    rng: np.random.Generator,
    base_profiles: Mapping[str, Any] | Sequence[str],
    n_models: int,
    target_sharing_ratio: float,
    *,
    measure: str = "bytes",
    spread: float = 0.1,
    tol: float = 0.01,
    cluster_sizes: Sequence[int] | None = None,
    model_prefix: str = "m",
) -> BlockLibrary:
    """General-case library (PartialLoading Sec. VI): shared blocks at arbitrary positions.

    As :func:`backbone_sharing_library`, but each model freezes an arbitrary
    subset of its pre-trained network's layers (not necessarily the bottom
    ones): a random order of the layers is frozen greedily towards the model's
    own target (uniform in ``target +- spread``), then single layers are frozen,
    unfrozen or swapped (one frozen for one trainable, for fine steps when one
    layer holds 40% of the bytes), always the move that best closes the gap,
    to bring the average frozen fraction within ``tol`` of the target. At least one parameterised layer of each model stays trainable.
    The result is in general NOT a backbone-sharing library.
    """
    _validate_common(n_models, target_sharing_ratio, measure, spread)
    profiles = _resolve_profiles(base_profiles)
    names = list(profiles)
    sizes = _cluster_sizes(n_models, names, cluster_sizes)
    assign = [(f"{model_prefix}{k}", c) for k, c in enumerate(c for c, s in zip(names, sizes, strict=True)
                                                               for _ in range(s))]
    w = {c: _weights(p, measure) for c, p in profiles.items()}
    has_params = {c: p.layer_param_bytes() > 0 for c, p in profiles.items()}
    frozen_sets: list[set[int]] = []
    fracs: list[float] = []
    for _, c in assign:
        goal = float(np.clip(target_sharing_ratio + rng.uniform(-spread, spread), 0.0, 1.0))
        fz: set[int] = set()
        acc = 0.0
        for j in rng.permutation(len(w[c])):
            j = int(j)
            trainable_left = sum(1 for k in np.flatnonzero(has_params[c]) if k not in fz and k != j)
            if has_params[c][j] and trainable_left == 0:
                continue
            if abs(acc + w[c][j] - goal) < abs(acc - goal):
                fz.add(j)
                acc += float(w[c][j])
        frozen_sets.append(fz)
        fracs.append(acc)

    def moves(i: int) -> Iterable[tuple[tuple[int, int], float]]:
        # freeze one layer, unfreeze one, or swap a frozen layer for an unfrozen one (finer steps)
        c = assign[i][1]
        fz = frozen_sets[i]
        wc = w[c]
        trainable = int(sum(1 for k in np.flatnonzero(has_params[c]) if k not in fz))
        ins = [j for j in range(len(wc)) if j not in fz]
        outs = sorted(fz)
        for j in outs:
            yield (-1, j), fracs[i] - float(wc[j])
        for j in ins:
            if not (has_params[c][j] and trainable <= 1):
                yield (j, -1), fracs[i] + float(wc[j])
            for k in outs:
                if not (has_params[c][j] and not has_params[c][k] and trainable <= 1):
                    yield (j, k), fracs[i] + float(wc[j] - wc[k])

    def apply(i: int, mv: tuple[int, int]) -> None:
        j_in, j_out = mv
        if j_in >= 0:
            frozen_sets[i].add(j_in)
        if j_out >= 0:
            frozen_sets[i].discard(j_out)

    achieved = _greedy(fracs, moves, apply, float(target_sharing_ratio))
    hi = float(np.mean([1.0 - float(w[c][has_params[c]].min()) for _, c in assign]))
    _check_reached(achieved, float(target_sharing_ratio), tol, 0.0, hi)
    meta = {"builder": "general_sharing", "measure": measure, "target_sharing_ratio": float(target_sharing_ratio),
            "achieved_frozen_ratio": achieved, "spread": spread}
    lib = _assemble(profiles, assign, frozen_sets, meta)
    lib.meta["definition1_sharing_ratio"] = lib.sharing_ratio(measure=measure)
    return lib


# ---------------------------------------------------------------------------- real state dicts

def _tensor_source(name: str, tensor: Any) -> Any:
    """A :class:`~edgeinfer.dnn.library.SourceTensor` of a NumPy array or torch tensor (dtype in
    safetensors' names, so a state dict and its saved safetensors file hash alike)."""
    from edgeinfer.dnn.library import SourceTensor

    if isinstance(tensor, np.ndarray):
        arr = np.ascontiguousarray(tensor)
        dtype = _NUMPY_DTYPES.get(arr.dtype.str.lstrip("<>|="))
        if dtype is None or arr.dtype.byteorder == ">":
            raise InvalidInstanceError(f"state_dict[{name}]", f"unsupported array dtype {arr.dtype}")
        raw = arr.reshape(-1).view(np.uint8)
        return SourceTensor(name, dtype, tuple(int(d) for d in arr.shape), int(raw.nbytes), lambda: raw)
    import torch

    if not isinstance(tensor, torch.Tensor):
        raise InvalidInstanceError(f"state_dict[{name}]", f"expected tensors, got {type(tensor).__name__}")
    t = tensor.detach().to("cpu").contiguous()
    tname = str(t.dtype).removeprefix("torch.")
    if tname not in _TORCH_DTYPES:
        raise InvalidInstanceError(f"state_dict[{name}]", f"unsupported tensor dtype {t.dtype}")
    raw = t.reshape(-1).view(torch.uint8).numpy() if t.numel() else np.zeros(0, np.uint8)
    return SourceTensor(name, _TORCH_DTYPES[tname], tuple(int(d) for d in t.shape), int(raw.nbytes), lambda: raw)


_TORCH_DTYPES = {"float64": "F64", "float32": "F32", "float16": "F16", "bfloat16": "BF16", "int64": "I64",
                 "int32": "I32", "int16": "I16", "int8": "I8", "uint8": "U8", "bool": "BOOL", "uint16": "U16",
                 "uint32": "U32", "uint64": "U64", "float8_e4m3fn": "F8_E4M3", "float8_e5m2": "F8_E5M2",
                 "complex64": "C64"}
_NUMPY_DTYPES = {"f8": "F64", "f4": "F32", "f2": "F16", "i8": "I64", "i4": "I32", "i2": "I16", "i1": "I8",
                 "u1": "U8", "b1": "BOOL", "u2": "U16", "u4": "U32", "u8": "U64", "c8": "C64"}


def tensor_digest(tensor: Any) -> tuple[str, int]:
    """Content digest (xxh3-128, :func:`edgeinfer.dnn.library.content_digest`) of a tensor's dtype,
    shape and raw bytes; returns ``(hex digest, nbytes)``. Torch tensors (any dtype, any device)
    and NumPy arrays; the digest equals that of the same tensor read from a safetensors file."""
    from edgeinfer.dnn.library import content_digest

    src = _tensor_source("tensor", tensor)
    return content_digest(src.dtype, src.shape, src.data()), src.nbytes


def library_from_state_dicts(state_dicts: Mapping[str, Mapping[str, Any]], *, granularity: str = "module",
                             include_buffers: bool = True) -> BlockLibrary:
    """A library from in-memory state dicts, through the scanner's own grouping and hashing
    (:class:`edgeinfer.dnn.library.LibraryBuilder`): the same block ids as ``edgeinfer library
    scan`` of the same tensors saved as safetensors.

    Parameters
    ----------
    state_dicts: model id -> ``model.state_dict()`` (or any name -> tensor mapping, in order).
    granularity: ``"tensor"``: one block per tensor (identified by content alone); ``"module"``:
        one block per owning module (the key without its last component, e.g. ``layer1.0.conv1``
        groups ``weight`` and ``bias``; BatchNorm's weight, bias and running statistics form one
        block); ``"layer"``: one block per numbered layer (``model.layers.3``), see
        :func:`edgeinfer.dnn.library.group_key`.
    include_buffers: keep non-float entries such as BatchNorm's ``num_batches_tracked``
        (float buffers such as running means are always kept: they are part of the
        frozen layer).

    A block's id is ``"xxh3_128:<digest>"`` of the local names (``weight``, ``running_var`` ...),
    dtypes, shapes and bytes of its tensors, so identical content under the same local names is
    one shared block wherever it appears, whatever the module path; a digest match is confirmed
    byte for byte. If identical content occurs ``k > 1`` times in one model, its ``k``-th
    occurrence gets the id ``"<id>#k"`` (every model's bytes stay the sum of its tensors).
    Blocks are in the order of the state dicts (groups in order of first appearance); block
    names record the first module path seen. Note that a layer frozen during fine-tuning but
    left in training mode changes its BatchNorm running statistics and is then, correctly, not
    shared.
    """
    from edgeinfer.dnn.library import LibraryBuilder

    if not state_dicts:
        raise InvalidInstanceError("state_dicts", "at least one model is needed")
    builder = LibraryBuilder(granularity)
    for model, sd in state_dicts.items():
        tensors = [_tensor_source(str(key), t) for key, t in sd.items()
                   if include_buffers or not _is_integer_tensor(t)]
        if not tensors:
            raise InvalidInstanceError(f"state_dicts[{model}]", "no tensors")
        builder.add_model(str(model), tensors)
    blocks = tuple(Block(r.id, float(r.bytes), r.name) for r in builder.block_records())
    return BlockLibrary(blocks=blocks, models={m: tuple(ids) for m, (ids, _) in builder.models.items()},
                        meta={"builder": "state_dicts", "granularity": granularity, "hash": "xxh3_128"})


def _is_integer_tensor(tensor: Any) -> bool:
    if isinstance(tensor, np.ndarray):
        return not np.issubdtype(tensor.dtype, np.floating)
    return not bool(getattr(tensor, "is_floating_point", lambda: True)())
