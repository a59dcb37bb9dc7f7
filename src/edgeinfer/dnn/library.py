"""Block libraries of real checkpoints: the library document, the safetensors scanner, and the
shared grouping/hashing code behind :func:`edgeinfer.dnn.blocks.library_from_state_dicts`.

PartialLoading (Qu et al., Sec. III-B) plans over a library of models made of parameter blocks;
a block contained in more than one model is a *shared parameter block* (Definition 1). This
module finds the blocks of real models from their bytes:

* :func:`scan_paths` reads safetensors checkpoints (a ``.safetensors`` file, or a folder of
  shards, with its ``config.json`` when present) and PEFT adapter folders
  (``adapter_config.json`` + ``adapter_model.safetensors``) by parsing the safetensors header
  itself and memory-mapping the data (no framework, no ``torch.load``, nothing copied whole);
* tensors are grouped into blocks (``granularity``: one block per tensor, per module or per
  layer), each block is hashed with xxh3-128 over its tensors' dtype, shape and raw bytes, and a
  block whose digest matches one already seen is compared byte for byte before it is shared, so
  sharing never rests on the hash alone (a digest collision gives a distinct block id);
* an adapter model is its base's blocks followed by its own (unmerged, as multi-adapter servers
  run them);
* the result is a :class:`LibraryDoc` (the ``library.json`` format, docs/formats.md), which
  :func:`block_library` turns into the :class:`~edgeinfer.dnn.blocks.BlockLibrary` the
  ``partial_loading`` instances are built from.

Block ids are content ids: ``"xxh3_128:<32 hex>"`` of the block's local tensor names (the
name below the group: ``weight`` at module granularity, ``self_attn.q_proj.weight`` at layer
granularity, nothing at tensor granularity), dtypes, shapes and bytes; identical content under
another module path is the same block. The ``k``-th occurrence of identical content inside one
model is its own block ``"<id>#k"`` (a model's bytes stay the sum of its tensors).

Torch-free at import: torch is imported only by :func:`torch_tensor_source` (state dicts of
torch tensors) and when ordering a zoo checkpoint's blocks like the zoo model.
"""

from __future__ import annotations

import json
import math
import mmap
import os
import re
import stat
import struct
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field

from edgeinfer.core.errors import InvalidInstanceError
from edgeinfer.core.validation import (
    Id,
    NonNegativeInt,
    StrictModel,
    check_ref,
    check_unique_ids,
    parse_model,
)

__all__ = [
    "FORMAT",
    "SCHEMA_VERSION",
    "HASH",
    "GRANULARITIES",
    "DTYPE_BYTES",
    "TensorDoc",
    "BlockDoc",
    "ArchDoc",
    "ModelDoc",
    "LibraryDoc",
    "Library",
    "SourceTensor",
    "LibraryBuilder",
    "validate_library",
    "load_library",
    "library_from_doc",
    "dump_library",
    "block_library",
    "sharing_summary",
    "format_summary",
    "scan_paths",
    "read_safetensors_header",
    "tensor_bytes",
    "group_key",
    "content_digest",
]

FORMAT = "edgeinfer.library"
SCHEMA_VERSION = 1
HASH = "xxh3_128"
GRANULARITIES = ("tensor", "module", "layer")
#: safetensors dtype -> bytes per element (sub-byte and unknown dtypes are refused)
DTYPE_BYTES: dict[str, int] = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1, "F8_E8M0": 1,
    "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
    "I32": 4, "U32": 4, "F32": 4,
    "I64": 8, "U64": 8, "F64": 8, "C64": 8,
}
#: The largest safetensors header read (the safetensors library's own limit is 100 MB).
MAX_HEADER_BYTES = 100 * 2**20
#: The largest number of tensors in one file, and of path components in a tensor name.
MAX_TENSORS_PER_FILE = 1_000_000
_DIGEST_RE = r"^xxh3_128:[0-9a-f]{32}$"
_CHUNK = 1 << 22

DType = Literal["BOOL", "U8", "I8", "F8_E4M3", "F8_E5M2", "F8_E8M0", "I16", "U16", "F16", "BF16", "I32", "U32",
                "F32", "I64", "U64", "F64", "C64"]


# ============================================================================ the document
class TensorDoc(StrictModel):
    """One tensor of a block, where its bytes are: ``file`` (relative to the library file's folder,
    or absolute) and the absolute byte range ``offsets = [begin, end)`` in that file."""

    name: str = Field(min_length=1, max_length=1000)
    dtype: DType
    shape: list[NonNegativeInt]
    file: str = Field(min_length=1, max_length=4096)
    offsets: list[NonNegativeInt] = Field(min_length=2, max_length=2)


class BlockDoc(StrictModel):
    """A parameter block: its content id, bytes, digest, source file, group name and tensors
    (sorted by their local names; their names in each model are in ``ModelDoc.tensor_names``)."""

    id: Id
    bytes: NonNegativeInt
    digest: str = Field(pattern=_DIGEST_RE)
    name: str = Field(max_length=1000)
    file: str = Field(min_length=1, max_length=4096)
    tensors: list[TensorDoc] = Field(min_length=1)


class ArchDoc(StrictModel):
    """Architecture hints for building the model: a zoo name (``edgeinfer.dnn.zoo``), and/or a
    ``transformers`` ``config.json`` (its path, relative like the tensor files, and content)."""

    zoo: str | None = None
    config_path: str | None = None
    config: dict[str, Any] | None = None


class ModelDoc(StrictModel):
    """A model: a checkpoint, or an adapter over the checkpoint ``base`` (its ``blocks`` are the
    base's blocks followed by its own). ``tensor_names[i]`` are this model's names of the tensors
    of block ``blocks[i]``, in the block's tensor order."""

    id: Id
    kind: Literal["checkpoint", "adapter"]
    base: str | None = None
    path: str = Field(min_length=1, max_length=4096)
    arch: ArchDoc
    adapter_config: dict[str, Any] | None = None
    blocks: list[str] = Field(min_length=1)
    tensor_names: list[list[str]]


class LibraryDoc(StrictModel):
    """The ``library.json`` document (docs/formats.md)."""

    format: Literal["edgeinfer.library"]
    schema_version: Literal[1]
    granularity: Literal["tensor", "module", "layer"]
    hash: Literal["xxh3_128"]
    models: list[ModelDoc] = Field(min_length=1)
    blocks: list[BlockDoc] = Field(min_length=1)
    created_by: str | None = None


def validate_library(doc: LibraryDoc) -> LibraryDoc:
    """Cross-field checks of a parsed library; raises :class:`InvalidInstanceError` naming the field.

    Unique model and block ids; each tensor's byte range holds exactly ``prod(shape)`` elements
    of its dtype and a block's ``bytes`` is the sum of its tensors; ``file`` is its first
    tensor's; every model's blocks are known, none twice, each with one name per tensor (names
    unique in the model); an adapter's ``base`` is a checkpoint whose blocks start the adapter's;
    a checkpoint has no base; every block belongs to some model.
    """
    check_unique_ids((m.id for m in doc.models), "models")
    check_unique_ids((b.id for b in doc.blocks), "blocks")
    by_id = {b.id: b for b in doc.blocks}
    for j, b in enumerate(doc.blocks):
        total = 0
        for t_i, t in enumerate(b.tensors):
            where = f"blocks[{j}].tensors[{t_i}]"
            begin, end = t.offsets
            if end < begin:
                raise InvalidInstanceError(f"{where}.offsets", f"end {end} is before begin {begin}")
            want = _numel(t.shape, f"{where}.shape") * DTYPE_BYTES[t.dtype]
            if end - begin != want:
                raise InvalidInstanceError(f"{where}.offsets", f"{end - begin} bytes, but {t.dtype} of shape "
                                                               f"{t.shape} needs {want}")
            total += want
        if total != b.bytes:
            raise InvalidInstanceError(f"blocks[{j}].bytes", f"{b.bytes}, but its tensors hold {total} bytes")
        if b.file != b.tensors[0].file:
            raise InvalidInstanceError(f"blocks[{j}].file", "must be the file of its first tensor")
    models = {m.id: m for m in doc.models}
    used: set[str] = set()
    for i, m in enumerate(doc.models):
        where = f"models[{i}]"
        if len(set(m.blocks)) != len(m.blocks):
            raise InvalidInstanceError(f"{where}.blocks", "a block appears twice in the same model")
        if len(m.tensor_names) != len(m.blocks):
            raise InvalidInstanceError(f"{where}.tensor_names", f"{len(m.tensor_names)} entries for "
                                                                f"{len(m.blocks)} blocks")
        names: set[str] = set()
        for k, bid in enumerate(m.blocks):
            check_ref(bid, by_id, f"{where}.blocks[{k}]", "block")
            if len(m.tensor_names[k]) != len(by_id[bid].tensors):
                raise InvalidInstanceError(f"{where}.tensor_names[{k}]", f"{len(m.tensor_names[k])} names for "
                                                                         f"{len(by_id[bid].tensors)} tensors")
            for n in m.tensor_names[k]:
                if not n or len(n) > 1000:
                    raise InvalidInstanceError(f"{where}.tensor_names[{k}]", "names are 1 to 1000 characters")
                if n in names:
                    raise InvalidInstanceError(f"{where}.tensor_names[{k}]", f"tensor {n[:80]!r} named twice")
                names.add(n)
        used.update(m.blocks)
        if m.kind == "checkpoint":
            if m.base is not None:
                raise InvalidInstanceError(f"{where}.base", "a checkpoint has no base (only adapters do)")
        else:
            if m.base is None:
                raise InvalidInstanceError(f"{where}.base", "an adapter needs its base model")
            check_ref(m.base, models, f"{where}.base", "model")
            base = models[m.base]
            if base.kind != "checkpoint":
                raise InvalidInstanceError(f"{where}.base", f"{m.base!r} is an adapter; the base must be a checkpoint")
            if m.blocks[: len(base.blocks)] != base.blocks or len(m.blocks) == len(base.blocks):
                raise InvalidInstanceError(f"{where}.blocks", f"must be the blocks of its base {m.base!r} followed "
                                                              "by at least one of its own")
    for j, b in enumerate(doc.blocks):
        if b.id not in used:
            raise InvalidInstanceError(f"blocks[{j}].id", f"block {b.id!r} belongs to no model")
    _check_finite(doc)
    return doc


def _numel(shape: Sequence[int], where: str) -> int:
    n = 1
    for d in shape:
        n *= d
        if n > 2**62:
            raise InvalidInstanceError(where, "too many elements")
    return n


@dataclass(frozen=True)
class Library:
    """A validated library document and the folder its relative file paths start from."""

    doc: LibraryDoc
    root: Path

    def file_path(self, name: str) -> Path:
        """The path of a tensor file or config file named in the document."""
        return self.root / name

    def model(self, model_id: str) -> ModelDoc:
        for m in self.doc.models:
            if m.id == model_id:
                return m
        raise InvalidInstanceError("model", f"unknown model {model_id!r}")

    def block(self, block_id: str) -> BlockDoc:
        for b in self.doc.blocks:
            if b.id == block_id:
                return b
        raise InvalidInstanceError("block", f"unknown block {block_id!r}")

    def block_library(self) -> Any:
        return block_library(self.doc)


def library_from_doc(doc: Any, root: str | os.PathLike[str] = ".") -> Library:
    """Validate a parsed JSON document as a library (``root``: the folder of relative paths)."""
    if isinstance(doc, dict) and doc.get("format") == FORMAT and doc.get("schema_version") not in (None, SCHEMA_VERSION):
        raise InvalidInstanceError("schema_version", f"this edgeinfer reads library schema version {SCHEMA_VERSION}, "
                                                     f"not {doc.get('schema_version')!r}")
    parsed = parse_model(LibraryDoc, doc)
    if parsed.schema_version != SCHEMA_VERSION:  # pragma: no cover - the Literal refuses it first
        raise InvalidInstanceError("schema_version", f"must be {SCHEMA_VERSION}")
    return Library(validate_library(parsed), Path(root))


def load_library(path: str | os.PathLike[str]) -> Library:
    """Read and validate ``library.json`` (through :mod:`edgeinfer.core.io`: regular file, size
    cap, strict JSON); a bad file raises :class:`InvalidInstanceError` naming the field."""
    from edgeinfer.core.io import read_json

    return library_from_doc(read_json(path), Path(path).parent)


def dump_library(doc: LibraryDoc) -> dict[str, Any]:
    """The JSON document of a library (fields at their defaults omitted)."""
    return doc.model_dump(mode="json", exclude_none=True)


def block_library(doc: LibraryDoc) -> Any:
    """The :class:`~edgeinfer.dnn.blocks.BlockLibrary` of a library document: its blocks (id,
    bytes, group name) and models (block ids in order); ``arch`` holds the zoo name or the
    config's ``model_type``; ``clusters`` maps each adapter and each checkpoint to its base
    checkpoint's id (the network it was derived from)."""
    from edgeinfer.dnn.blocks import Block, BlockLibrary

    arch = {}
    for m in doc.models:
        a = m.arch.zoo or (str(m.arch.config.get("model_type", "")) if m.arch.config else "")
        if a:
            arch[m.id] = a
    clusters = {m.id: (m.base if m.base is not None else m.id) for m in doc.models}
    return BlockLibrary(
        blocks=tuple(Block(b.id, float(b.bytes), b.name) for b in doc.blocks),
        models={m.id: tuple(m.blocks) for m in doc.models}, clusters=clusters, arch=arch,
        meta={"builder": "scan", "granularity": doc.granularity, "hash": doc.hash},
    )


def tensor_bytes(library: Library, tensor: TensorDoc) -> np.ndarray:
    """The raw bytes of a tensor as a read-only ``uint8`` array memory-mapped from its file.

    The file must still be a safetensors file whose header lists ``tensor.name`` with the same
    dtype, shape and offsets (a changed or swapped file is refused, naming the tensor).
    """
    path = library.file_path(tensor.file)
    header = read_safetensors_header(path)
    entry = header.tensors.get(tensor.name)
    if entry is None or (entry.dtype, list(entry.shape), entry.begin, entry.end) != (
            tensor.dtype, list(tensor.shape), *tensor.offsets):
        raise InvalidInstanceError(f"{tensor.file}", f"tensor {tensor.name!r} is not where the library says "
                                                     "(the file changed since the scan: rescan)")
    n = tensor.offsets[1] - tensor.offsets[0]
    if n == 0:
        return np.zeros(0, np.uint8)
    return np.memmap(path, dtype=np.uint8, mode="r", offset=tensor.offsets[0], shape=(n,))


# ============================================================================ summary
def sharing_summary(doc: LibraryDoc) -> dict[str, Any]:
    """Models, blocks, bytes and the sharing ratio of Definition 1 (the fraction of a model's bytes
    in blocks contained in more than one model, averaged over models)."""
    lib = block_library(doc)
    shared = lib.shared_blocks()
    size = lib.block_bytes
    total_model_bytes = sum(lib.model_bytes(m) for m in lib.models)
    unique = sum(size.values())
    return {
        "models": len(doc.models),
        "checkpoints": sum(m.kind == "checkpoint" for m in doc.models),
        "adapters": sum(m.kind == "adapter" for m in doc.models),
        "blocks": len(doc.blocks),
        "shared_blocks": len(shared),
        "unique_bytes": int(unique),
        "shared_bytes": int(sum(size[b] for b in shared)),
        "sum_model_bytes": int(total_model_bytes),
        "sharing_ratio": lib.sharing_ratio(measure="bytes"),
        "sharing_ratio_blocks": lib.sharing_ratio(measure="layers"),
        "per_model": {m: {"bytes": int(lib.model_bytes(m)), "blocks": len(ids),
                          "sharing_ratio": lib.sharing_ratio(m, measure="bytes")} for m, ids in lib.models.items()},
    }


def format_summary(summary: Mapping[str, Any]) -> str:
    """The sharing summary as a few lines of text."""
    lines = [
        f"models: {summary['models']} ({summary['checkpoints']} checkpoints, {summary['adapters']} adapters)",
        f"blocks: {summary['blocks']} ({summary['shared_blocks']} shared by two or more models)",
        f"bytes: {summary['unique_bytes']} unique, {summary['sum_model_bytes']} summed over models, "
        f"{summary['shared_bytes']} in shared blocks",
        f"sharing ratio (Definition 1, bytes): {summary['sharing_ratio']:.4f} "
        f"(blocks: {summary['sharing_ratio_blocks']:.4f})",
    ]
    for m, s in summary["per_model"].items():
        lines.append(f"  {m}: {s['blocks']} blocks, {s['bytes']} bytes, sharing ratio {s['sharing_ratio']:.4f}")
    return "\n".join(lines)


# ============================================================================ grouping and hashing
_NUM = re.compile(r"(\d+)")


def natural_key(name: str) -> tuple[Any, ...]:
    """Sort key that orders ``layers.2`` before ``layers.10``."""
    return tuple(int(p) if p.isdigit() else p for p in _NUM.split(name))


_FIRST = re.compile(r"(^|\.)(embed\w*|embeddings|wte|wpe|patch_embed\w*|tok_\w+|cls_token|pos_embed\w*)(\.|$)")
_LAST = re.compile(r"(^|\.)(lm_head|head|heads|classifier|score|fc|output|pooler)(\.|$)")


def model_order_key(name: str) -> tuple[Any, ...]:
    """Block order of a checkpoint without a framework: embeddings first (``embed*``, ``wte``,
    ``wpe``, ``patch_embed`` ...), then the numbered layers in natural order (``layers.2`` before
    ``layers.10``), then other unnumbered tensors (final norms), then heads (``lm_head``,
    ``head``, ``classifier`` ...). A heuristic: safetensors keeps no module order."""
    numbered = any(p.isdigit() for p in name.split("."))
    phase = 1 if numbered else 0 if _FIRST.search(name) else 3 if _LAST.search(name) else 2
    return (phase, natural_key(name))


def group_key(name: str, granularity: str) -> tuple[str, str]:
    """``(group, local name)`` of a tensor name.

    ``tensor``: the tensor itself, no local name (pure content: a renamed identical tensor is the
    same block); ``module``: the name without its last component (``q_proj`` holds ``weight`` and
    ``bias``); ``layer``: the name up to its first all-digit component (``model.layers.3`` holds
    ``self_attn.q_proj.weight`` ...); a name without one groups by module.
    """
    if granularity == "tensor":
        return name, ""
    parts = name.split(".")
    if granularity == "layer":
        for k, p in enumerate(parts[:-1]):
            if p.isdigit():
                return ".".join(parts[: k + 1]), ".".join(parts[k + 1:])
    if len(parts) == 1:
        return name, name
    return ".".join(parts[:-1]), parts[-1]


def content_digest(dtype: str, shape: Sequence[int], data: Any) -> str:
    """xxh3-128 hex digest of a tensor's dtype, shape and raw bytes (``data``: a buffer)."""
    import xxhash

    h = xxhash.xxh3_128()
    h.update(f"{dtype}|{tuple(int(d) for d in shape)}|".encode())
    h.update(data)
    return h.hexdigest()


def _group_digest(members: Sequence[tuple[str, str]]) -> str:
    import xxhash

    h = xxhash.xxh3_128()
    for local, dig in members:
        h.update(f"{local}:{dig};".encode())
    return h.hexdigest()


def _equal_buffers(a: Any, b: Any) -> bool:
    x = np.frombuffer(a, np.uint8)
    y = np.frombuffer(b, np.uint8)
    if x.size != y.size:
        return False
    for i in range(0, x.size, _CHUNK):
        if not np.array_equal(x[i:i + _CHUNK], y[i:i + _CHUNK]):
            return False
    return True


@dataclass
class SourceTensor:
    """A tensor to be grouped: its name in the model, dtype (safetensors name), shape, bytes and
    a function returning its raw bytes as a buffer; ``file``/``offsets`` locate it on disk."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    nbytes: int
    data: Callable[[], Any]
    file: str | None = None
    offsets: tuple[int, int] | None = None


@dataclass
class _BlockRecord:
    id: str
    digest: str
    name: str
    bytes: int
    members: list[tuple[str, SourceTensor]]


@dataclass
class LibraryBuilder:
    """Groups the tensors of models into content-addressed blocks (the one implementation behind
    both :func:`scan_paths` and :func:`~edgeinfer.dnn.blocks.library_from_state_dicts`)."""

    granularity: str
    blocks: dict[str, _BlockRecord] = field(default_factory=dict)
    models: dict[str, tuple[list[str], list[list[str]]]] = field(default_factory=dict)
    _by_digest: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.granularity not in GRANULARITIES:
            raise InvalidInstanceError("granularity", f"must be one of {', '.join(GRANULARITIES)}, "
                                                      f"not {str(self.granularity)[:40]!r}")

    def add_model(self, model: str, tensors: Iterable[SourceTensor], *, prefix: Sequence[str] = (),
                  prefix_names: Sequence[Sequence[str]] = ()) -> list[str]:
        """Add ``model`` made of ``prefix`` blocks (an adapter's base) then groups of ``tensors``
        (in the order given; groups in order of first appearance). Returns its block ids."""
        groups: dict[str, list[tuple[str, SourceTensor]]] = {}
        for t in tensors:
            g, local = group_key(t.name, self.granularity)
            groups.setdefault(g, []).append((local, t))
        ids = list(prefix)
        names = [list(n) for n in prefix_names]
        seen: dict[str, int] = {}
        for bid in prefix:
            base = bid.split("#", 1)[0]
            seen[base] = seen.get(base, 0) + 1
        for gname, members in groups.items():
            members.sort(key=lambda lt: natural_key(lt[0]))
            locals_ = [lt[0] for lt in members]
            if len(set(locals_)) != len(locals_):
                raise InvalidInstanceError(f"models[{model}]", f"tensor {gname!r} named twice")
            digests = [(local, content_digest(t.dtype, t.shape, t.data())) for local, t in members]
            digest = _group_digest(digests)
            base = self._content_id(digest, members, gname)
            seen[base] = seen.get(base, 0) + 1
            bid = base if seen[base] == 1 else f"{base}#{seen[base]}"
            if bid not in self.blocks:
                self.blocks[bid] = _BlockRecord(bid, f"xxh3_128:{digest}", gname,
                                                sum(t.nbytes for _, t in members), members)
            ids.append(bid)
            names.append([t.name for _, t in members])
        if not ids:
            raise InvalidInstanceError(f"models[{model}]", "no tensors")
        self.models[model] = (ids, names)
        return ids

    def _content_id(self, digest: str, members: list[tuple[str, SourceTensor]], gname: str) -> str:
        """The id of the content: an earlier block with this digest whose bytes are equal, else new."""
        known = self._by_digest.setdefault(digest, [])
        for bid in known:
            if self._same(self.blocks[bid].members, members):
                return bid
        bid = f"xxh3_128:{digest}" if not known else f"xxh3_128:{digest}~{len(known) + 1}"
        known.append(bid)
        if bid not in self.blocks:
            self.blocks[bid] = _BlockRecord(bid, f"xxh3_128:{digest}", gname, sum(t.nbytes for _, t in members),
                                            members)
        return bid

    @staticmethod
    def _same(a: list[tuple[str, SourceTensor]], b: list[tuple[str, SourceTensor]]) -> bool:
        if len(a) != len(b):
            return False
        for (la, ta), (lb, tb) in zip(a, b, strict=True):
            if la != lb or ta.dtype != tb.dtype or tuple(ta.shape) != tuple(tb.shape) or ta.nbytes != tb.nbytes:
                return False
            if not _equal_buffers(ta.data(), tb.data()):
                return False
        return True

    def block_records(self) -> list[_BlockRecord]:
        """Blocks in order of first use by the models (models in insertion order)."""
        out: dict[str, _BlockRecord] = {}
        for ids, _ in self.models.values():
            for bid in ids:
                if bid not in out:
                    out[bid] = self.blocks[bid]
        return list(out.values())


# ============================================================================ safetensors reading
@dataclass(frozen=True)
class HeaderEntry:
    name: str
    dtype: str
    shape: tuple[int, ...]
    begin: int  # absolute file offsets
    end: int


@dataclass(frozen=True)
class SafetensorsHeader:
    path: Path
    size: int
    tensors: dict[str, HeaderEntry]
    metadata: dict[str, str]


def _open_regular(path: Path, field: str) -> tuple[int, os.stat_result]:
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except ValueError:
        raise InvalidInstanceError(field, f"{path}: not a valid file name") from None
    except FileNotFoundError:
        raise InvalidInstanceError(field, f"{path}: no such file") from None
    except OSError as exc:
        raise InvalidInstanceError(field, f"{path}: cannot read ({exc.strerror or type(exc).__name__})") from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise InvalidInstanceError(field, f"{path}: not a regular file (a safetensors file was expected)")
    return fd, st


def read_safetensors_header(path: str | os.PathLike[str], *, field: str = "") -> SafetensorsHeader:
    """Parse and check a safetensors header (8-byte little-endian length, then JSON).

    Refused, naming the file: fewer than 8 bytes, a header length above :data:`MAX_HEADER_BYTES`
    or beyond the file, a header that is not a UTF-8 JSON object, an entry without a known dtype,
    a non-negative integer shape and ``data_offsets`` holding exactly its bytes, a range outside
    the file's data, overlapping ranges. Only the header is read.
    """
    p = Path(path)
    where = field or str(p)
    fd, st = _open_regular(p, field or str(p))
    try:
        with os.fdopen(fd, "rb", closefd=True) as f:
            fd = -1
            head = f.read(8)
            if len(head) < 8:
                raise InvalidInstanceError(where, "not a safetensors file (shorter than its 8-byte header length)")
            (n,) = struct.unpack("<Q", head)
            if n > MAX_HEADER_BYTES:
                raise InvalidInstanceError(where, f"safetensors header length {n} is above the limit of "
                                                  f"{MAX_HEADER_BYTES} bytes")
            if 8 + n > st.st_size:
                raise InvalidInstanceError(where, f"safetensors header length {n} runs past the end of the file "
                                                  f"({st.st_size} bytes): truncated?")
            raw = f.read(n)
    except OSError as exc:
        raise InvalidInstanceError(where, f"cannot read ({exc.strerror or type(exc).__name__})") from None
    finally:
        if fd >= 0:
            os.close(fd)
    if len(raw) != n:
        raise InvalidInstanceError(where, "truncated safetensors header")
    try:
        doc = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise InvalidInstanceError(where, f"safetensors header is not valid JSON ({type(exc).__name__})") from None
    if not isinstance(doc, dict):
        raise InvalidInstanceError(where, "safetensors header must be a JSON object")
    data_start = 8 + n
    data_len = st.st_size - data_start
    meta_raw = doc.pop("__metadata__", None) or {}
    if not isinstance(meta_raw, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in meta_raw.items()):
        raise InvalidInstanceError(f"{where}: __metadata__", "must be an object of strings")
    if len(doc) > MAX_TENSORS_PER_FILE:
        raise InvalidInstanceError(where, f"more than {MAX_TENSORS_PER_FILE} tensors")
    tensors: dict[str, HeaderEntry] = {}
    for name, e in doc.items():
        label = f"{where}: tensor {_short(name)}"
        if not name or len(name) > 1000:
            raise InvalidInstanceError(label, "names are 1 to 1000 characters")
        if not isinstance(e, dict) or set(e) != {"dtype", "shape", "data_offsets"}:
            raise InvalidInstanceError(label, "needs exactly dtype, shape and data_offsets")
        dtype, shape, offs = e["dtype"], e["shape"], e["data_offsets"]
        if not isinstance(dtype, str) or dtype not in DTYPE_BYTES:
            raise InvalidInstanceError(f"{label}.dtype", f"unsupported dtype {str(dtype)[:20]!r}")
        if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and 0 <= d < 2**62
                                                  for d in shape):
            raise InvalidInstanceError(f"{label}.shape", "must be a list of non-negative integers")
        if (not isinstance(offs, list) or len(offs) != 2
                or not all(isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in offs)):
            raise InvalidInstanceError(f"{label}.data_offsets", "must be [begin, end], non-negative integers")
        begin, end = offs
        want = _numel(shape, f"{label}.shape") * DTYPE_BYTES[dtype]
        if end < begin or end - begin != want:
            raise InvalidInstanceError(f"{label}.data_offsets", f"[{begin}, {end}] does not hold {want} bytes of "
                                                                f"{dtype} {shape}")
        if end > data_len:
            raise InvalidInstanceError(f"{label}.data_offsets", f"end {end} is beyond the file's {data_len} data "
                                                                "bytes (truncated?)")
        tensors[name] = HeaderEntry(name, dtype, tuple(shape), data_start + begin, data_start + end)
    ranges = sorted((t.begin, t.end, t.name) for t in tensors.values() if t.end > t.begin)
    for (_, e0, n0), (b1, _, n1) in zip(ranges, ranges[1:], strict=False):
        if b1 < e0:
            raise InvalidInstanceError(f"{where}: tensor {_short(n1)}.data_offsets", f"overlaps tensor {_short(n0)}")
    return SafetensorsHeader(p, int(st.st_size), tensors, dict(meta_raw))


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _short(name: str) -> str:
    return repr(name[:80])


class _MappedFile:
    """A read-only memory map of one file, kept open while the scan runs."""

    def __init__(self, header: SafetensorsHeader) -> None:
        self.header = header
        fd, st = _open_regular(header.path, str(header.path))
        try:
            if st.st_size != header.size:
                raise InvalidInstanceError(str(header.path), "the file changed while it was read")
            self.map: mmap.mmap | None = mmap.mmap(fd, 0, access=mmap.ACCESS_READ) if st.st_size else None
        finally:
            os.close(fd)
        self.view = memoryview(self.map) if self.map is not None else memoryview(b"")

    def data(self, begin: int, end: int) -> memoryview:
        return self.view[begin:end]

    def close(self) -> None:
        try:
            self.view.release()
        except BufferError:  # pragma: no cover - an array still holds a slice; it goes with it
            return
        if self.map is not None:
            try:
                self.map.close()
            except BufferError:  # a slice is still referenced; the map closes when it goes
                pass


# ============================================================================ scanning
@dataclass
class _Source:
    index: int
    path: Path
    id: str
    kind: str
    files: list[Path]
    config: dict[str, Any] | None = None
    config_path: Path | None = None
    adapter_config: dict[str, Any] | None = None
    base_ref: str | None = None
    base: str | None = None
    zoo: str | None = None


def _read_json_object(path: Path, field: str) -> dict[str, Any]:
    from edgeinfer.core.io import parse_json_text, read_text_file

    doc = parse_json_text(read_text_file(path), str(path))
    if not isinstance(doc, dict):
        raise InvalidInstanceError(field, f"{path} must hold a JSON object")
    return doc


def _model_id_of(path: Path) -> str:
    if path.is_file():
        stem = path.name[: -len(".safetensors")] if path.name.endswith(".safetensors") else path.stem
        if stem in ("model", "adapter_model") or stem.startswith("model-0"):
            return path.resolve().parent.name or stem
        return stem
    return path.resolve().name


def _describe_source(index: int, raw: str) -> _Source:
    field = f"paths[{index}]"
    p = Path(raw)
    try:
        st = os.stat(p)
    except FileNotFoundError:
        raise InvalidInstanceError(field, f"{raw}: no such file or folder") from None
    except (OSError, ValueError) as exc:
        raise InvalidInstanceError(field, f"{raw}: cannot use ({exc})") from None
    if stat.S_ISREG(st.st_mode):
        if not p.name.endswith(".safetensors"):
            raise InvalidInstanceError(field, f"{raw}: expected a .safetensors file or a model folder")
        src = _Source(index, p, _model_id_of(p), "checkpoint", [p])
        cfg = p.parent / "config.json"
        if p.name == "model.safetensors" and cfg.is_file():
            src.config, src.config_path = _read_json_object(cfg, field), cfg
        return src
    if not stat.S_ISDIR(st.st_mode):
        raise InvalidInstanceError(field, f"{raw}: not a file or folder")
    adapter_cfg = p / "adapter_config.json"
    if adapter_cfg.exists():
        acfg = _read_json_object(adapter_cfg, field)
        base = acfg.get("base_model_name_or_path")
        if not isinstance(base, str) or not base:
            raise InvalidInstanceError(f"{adapter_cfg}: base_model_name_or_path",
                                       "missing or not a string (the adapter's base model)")
        weights = p / "adapter_model.safetensors"
        if not weights.exists():
            raise InvalidInstanceError(field, f"{weights}: no such file (only safetensors adapters are read; "
                                              "adapter_model.bin is never unpickled)")
        return _Source(index, p, _model_id_of(p), "adapter", [weights], adapter_config=acfg, base_ref=base)
    index_file = p / "model.safetensors.index.json"
    if index_file.exists():
        idx = _read_json_object(index_file, field)
        wm = idx.get("weight_map")
        if not isinstance(wm, dict) or not wm or not all(isinstance(v, str) for v in wm.values()):
            raise InvalidInstanceError(f"{index_file}: weight_map", "must be an object {tensor: shard file}")
        names = sorted(set(wm.values()), key=natural_key)
        for n in names:
            if Path(n).name != n or not n.endswith(".safetensors"):
                raise InvalidInstanceError(f"{index_file}: weight_map", f"{n[:80]!r} is not a shard file of "
                                                                        "this folder")
        files = [p / n for n in names]
    else:
        files = sorted((q for q in p.iterdir() if q.name.endswith(".safetensors") and not q.name.startswith(".")),
                       key=lambda q: natural_key(q.name))
    if not files:
        raise InvalidInstanceError(field, f"{raw}: no .safetensors files (and no adapter_config.json)")
    src = _Source(index, p, _model_id_of(p), "checkpoint", files)
    cfg = p / "config.json"
    if cfg.exists():
        src.config, src.config_path = _read_json_object(cfg, field), cfg
    return src


def _resolve_bases(sources: list[_Source]) -> None:
    checkpoints = [s for s in sources if s.kind == "checkpoint"]
    for s in sources:
        if s.kind != "adapter":
            continue
        ref = str(s.base_ref)
        cands: list[_Source] = []
        for c in checkpoints:  # by path (as written, or relative to the adapter folder)
            for guess in (Path(ref), s.path / ref):
                try:
                    if guess.exists() and (guess.resolve() == c.path.resolve()
                                           or guess.resolve() == c.path.resolve().parent and c.path.is_file()):
                        cands.append(c)
                except OSError:
                    pass
        if not cands:  # by name: the model id, or a config's _name_or_path
            last = ref.rstrip("/").rsplit("/", 1)[-1]
            cands = [c for c in checkpoints if c.id in (ref, last)
                     or (c.config is not None and c.config.get("_name_or_path") == ref)]
        uniq = {id(c): c for c in cands}
        if len(uniq) != 1:
            known = ", ".join(sorted(c.id for c in checkpoints)) or "none"
            what = "matches several scanned checkpoints" if uniq else "is not among the scanned checkpoints"
            raise InvalidInstanceError(f"{s.path / 'adapter_config.json'}: base_model_name_or_path",
                                       f"{ref[:200]!r} {what} (scanned: {known}); scan the base model too")
        s.base = next(iter(uniq.values())).id


def _rel(path: Path, relative_to: Path | None) -> str:
    if relative_to is None:
        return str(path.resolve())
    try:
        return os.path.relpath(path.resolve(), relative_to.resolve())
    except ValueError:  # another drive (Windows)
        return str(path.resolve())


def _zoo_order(zoo: str | None, names: list[str]) -> list[str] | None:
    """The zoo model's state-dict order of ``names`` (when the file names a zoo model and torch
    is installed); else None."""
    if not zoo:
        return None
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        return None
    from edgeinfer.dnn.zoo import ZOO, get_model

    if zoo not in ZOO:
        return None
    order = {k: i for i, k in enumerate(get_model(zoo, device="meta").state_dict())}
    if set(names) != set(order):
        return None
    return sorted(names, key=order.__getitem__)


def scan_paths(paths: Sequence[str | os.PathLike[str]], *, granularity: str = "module",
               relative_to: str | os.PathLike[str] | None = None, created_by: str | None = None) -> LibraryDoc:
    """Scan checkpoints and adapters into a validated :class:`LibraryDoc`.

    ``paths``: ``.safetensors`` files, checkpoint folders (shards, ``config.json``) and PEFT
    adapter folders; an adapter's ``base_model_name_or_path`` must name one of the scanned
    checkpoints (its path, its model id, i.e. folder or file name, or its config's
    ``_name_or_path``). Model ids are folder names (file stems for single files other than
    ``model.safetensors``). The result does not depend on the order of ``paths``: checkpoints
    are processed in id order, then adapters. File paths are written relative to
    ``relative_to`` (the library file's folder) when given, else absolute.

    Tensor order inside a model (block order): a zoo checkpoint (``__metadata__`` key
    ``edgeinfer.zoo``) follows the zoo model's state dict; others follow the natural order of
    tensor names with embeddings first and heads last (:func:`model_order_key`), since
    safetensors does not keep the framework's order.
    """
    if not paths:
        raise InvalidInstanceError("paths", "at least one checkpoint or adapter is needed")
    builder = LibraryBuilder(granularity)
    sources = [_describe_source(i, str(p)) for i, p in enumerate(paths)]
    by_id: dict[str, _Source] = {}
    for s in sources:
        if s.id in by_id:
            raise InvalidInstanceError(f"paths[{s.index}]", f"model id {s.id!r} is also the id of "
                                                            f"{by_id[s.id].path}; rename one folder")
        by_id[s.id] = s
    _resolve_bases(sources)
    rel_root = Path(relative_to) if relative_to is not None else None
    order = sorted((s for s in sources if s.kind == "checkpoint"), key=lambda s: s.id) + \
        sorted((s for s in sources if s.kind == "adapter"), key=lambda s: s.id)
    mapped: list[_MappedFile] = []
    try:
        for s in order:
            tensors: list[SourceTensor] = []
            seen_names: dict[str, Path] = {}
            for f in s.files:
                header = read_safetensors_header(f)
                if s.zoo is None:
                    s.zoo = header.metadata.get("edgeinfer.zoo") or None
                mf = _MappedFile(header)
                mapped.append(mf)
                rel = _rel(f, rel_root)
                for e in header.tensors.values():
                    if e.name in seen_names:
                        raise InvalidInstanceError(f"paths[{s.index}]", f"tensor {_short(e.name)} is in both "
                                                                        f"{seen_names[e.name]} and {f}")
                    seen_names[e.name] = f
                    tensors.append(SourceTensor(e.name, e.dtype, e.shape, e.end - e.begin,
                                                _slicer(mf, e.begin, e.end), rel, (e.begin, e.end)))
            if not tensors:
                raise InvalidInstanceError(f"paths[{s.index}]", f"{s.path}: holds no tensors")
            by_name = {t.name: t for t in tensors}
            zoo_order = _zoo_order(s.zoo, list(by_name)) if s.kind == "checkpoint" else None
            names = zoo_order or sorted(by_name, key=model_order_key)
            ordered = [by_name[n] for n in names]
            if s.kind == "adapter":
                base_ids, base_names = builder.models[str(s.base)]
                builder.add_model(s.id, ordered, prefix=base_ids, prefix_names=base_names)
            else:
                builder.add_model(s.id, ordered)
        doc = _document(builder, order, by_id, rel_root, created_by)
    finally:
        for mf in mapped:
            mf.close()
    return doc


def _slicer(mf: _MappedFile, begin: int, end: int) -> Callable[[], memoryview]:
    return lambda: mf.data(begin, end)


def _document(builder: LibraryBuilder, order: list[_Source], by_id: dict[str, _Source], rel_root: Path | None,
              created_by: str | None) -> LibraryDoc:
    blocks = []
    for rec in builder.block_records():
        tensors = [{"name": t.name, "dtype": t.dtype, "shape": list(t.shape), "file": t.file,
                    "offsets": list(t.offsets or (0, 0))} for _, t in rec.members]
        blocks.append({"id": rec.id, "bytes": rec.bytes, "digest": rec.digest, "name": rec.name,
                       "file": tensors[0]["file"], "tensors": tensors})
    models = []
    for s in order:
        ids, names = builder.models[s.id]
        arch: dict[str, Any] = {}
        if s.zoo:
            arch["zoo"] = s.zoo
        if s.config is not None and s.config_path is not None:
            arch["config_path"] = _rel(s.config_path, rel_root)
            arch["config"] = s.config
        m: dict[str, Any] = {"id": s.id, "kind": s.kind, "path": _rel(s.path, rel_root), "arch": arch,
                             "blocks": ids, "tensor_names": names}
        if s.kind == "adapter":
            m["base"] = s.base
            m["adapter_config"] = s.adapter_config
            if not arch and s.base is not None:  # the adapter builds on its base's architecture
                m["arch"] = {k: v for k, v in (("zoo", by_id[s.base].zoo),) if v}
        models.append(m)
    doc = {"format": FORMAT, "schema_version": SCHEMA_VERSION, "granularity": builder.granularity, "hash": HASH,
           "models": models, "blocks": blocks}
    if created_by:
        doc["created_by"] = created_by
    return library_from_doc(doc).doc


def _check_finite(doc: LibraryDoc) -> None:
    for i, m in enumerate(doc.models):
        for name, blob in (("arch.config", m.arch.config), ("adapter_config", m.adapter_config)):
            if blob is not None and not _json_finite(blob):
                raise InvalidInstanceError(f"models[{i}].{name}", "holds NaN or infinity (not JSON)")


def _json_finite(x: Any) -> bool:
    stack = [x]
    while stack:
        v = stack.pop()
        if isinstance(v, float) and not math.isfinite(v):
            return False
        if isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return True
