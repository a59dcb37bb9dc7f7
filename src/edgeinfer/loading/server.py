"""``server.json``: a server's measured constants for PartialLoading (issue 15), and ``run.json``,
the record of a plan executed on it (:class:`RunDoc`); torch-free.

``edgeinfer calibrate`` (:mod:`edgeinfer.loading.calibrate`) writes it; ``edgeinfer make``
reads it through :func:`instance_constants` so that an instance's loading speeds (eq. 8: V1
disk -> host memory, V2 host -> device) and batch latencies (eq. 9:
``compute_per_sample_s * b + compute_fixed_s``) are the ones measured on the machine, and its
``max_batch`` comes from the device memory. The assumed constants of
:mod:`edgeinfer.loading.scenario` (``server_constants``) stay only as the documented fallback.

The document (``schema_version`` 1, JSON Schema in ``docs/schemas/server.schema.json``, fields in
docs/formats.md "server.json"):

* ``device``: kind (``cpu``/``cuda``), name, memory in bytes and how it was found;
* ``disk``: read bandwidth disk -> host memory of the library's own tensors, whether the reads
  were ``cold`` (pages dropped with ``posix_fadvise(DONTNEED)`` first) or ``warm``, with the
  bytes read and repeats;
* ``host_to_device``: the copy bandwidth host -> device of the same tensors as the executor
  makes it (``effective_bytes_per_s``), and, on a GPU, pinned and pageable bandwidths of one
  large buffer (``null`` with ``skipped`` giving the reason on a CPU);
* ``models``: per model, the measured batch latencies at each batch size, the least-squares fit
  of eq. (9) (``compute_per_sample_s``, ``compute_fixed_s``) with its relative RMS and largest
  relative error, the activation bytes per sample and the ``max_batch`` the memory allows;
* ``streaming`` (optional): per-layer fixed costs of the SLIDE streaming runtime's receiver
  (``edgeinfer.streaming.runtime.predict_finish`` uses them);
* ``budget``: the measurement budget used (repeats, batch sizes, ...);
* ``provenance``: device name, torch version, date (UTC), command line, load average.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field, model_validator

from edgeinfer.core.errors import InvalidInstanceError
from edgeinfer.core.validation import (
    Id,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    StrictModel,
    check_unique_ids,
    parse_model,
)

__all__ = [
    "SERVER_SCHEMA_VERSION",
    "NO_COPY_BYTES_PER_S",
    "ServerDoc",
    "ModelCalibration",
    "StreamingCalibration",
    "ModelConstants",
    "InstanceConstants",
    "load_server",
    "instance_constants",
    "fit_batch_latency",
    "RUN_SCHEMA_VERSION",
    "RunDoc",
]

SERVER_SCHEMA_VERSION = 1
#: V2 of an instance on a CPU device, where there is no host -> device copy (eq. 8's second phase
#: is empty): so large that a byte's copy time is negligible (1e-18 s), finite for the format.
NO_COPY_BYTES_PER_S = 1e18
#: By default :func:`instance_constants` takes every fit, however poor (its error is in the file:
#: tiny models on a loaded CPU are noise-bound); pass ``max_fit_rel_rmse`` to refuse poor ones.
MAX_FIT_REL_RMSE = math.inf


class DeviceInfo(StrictModel):
    kind: Literal["cpu", "cuda"]
    name: str = Field(min_length=1, max_length=400)
    memory_bytes: PositiveFloat
    memory_source: str = Field(max_length=400)


class DiskCalibration(StrictModel):
    """Read bandwidth disk -> host memory (V1 of eq. 8), measured on the library's tensors."""

    read_bytes_per_s: PositiveFloat
    cache: Literal["cold", "warm"]
    cache_note: str = Field(max_length=400)
    bytes_read: PositiveFloat
    repeats: PositiveInt
    warm_read_bytes_per_s: PositiveFloat | None = None


class HostToDeviceCalibration(StrictModel):
    """Copy bandwidth host -> device (V2 of eq. 8)."""

    effective_bytes_per_s: PositiveFloat | None
    method: str = Field(max_length=400)
    pinned_bytes_per_s: PositiveFloat | None = None
    pageable_bytes_per_s: PositiveFloat | None = None
    buffer_bytes: PositiveFloat | None = None
    skipped: str | None = Field(default=None, max_length=400)


class ModelCalibration(StrictModel):
    """One model's measured batch latencies and their eq. (9) fit."""

    id: Id
    batch_sizes: list[PositiveInt] = Field(min_length=2)
    latency_s: list[PositiveFloat] = Field(min_length=2)
    compute_per_sample_s: NonNegativeFloat
    compute_fixed_s: NonNegativeFloat
    fit_rel_rmse: NonNegativeFloat
    fit_max_rel_error: NonNegativeFloat
    param_bytes: NonNegativeFloat
    activation_bytes_per_sample: NonNegativeFloat
    max_batch: PositiveInt
    input_shape: list[PositiveInt] = Field(min_length=1, max_length=8)

    @model_validator(mode="after")
    def _same_length(self) -> ModelCalibration:
        if len(self.batch_sizes) != len(self.latency_s):
            raise ValueError("batch_sizes and latency_s need the same length")
        if len(set(self.batch_sizes)) != len(self.batch_sizes):
            raise ValueError("batch_sizes repeat")
        return self


class StreamingCalibration(StrictModel):
    """Per-layer fixed costs of the SLIDE runtime (``edgeinfer.streaming.runtime``).

    A frame of ``n`` bytes costs the receiver thread ``recv_fixed_s + recv_s_per_byte * n``
    (digest check, safetensors decoding, socket reads) after it arrived, and the compute side
    ``apply_fixed_s`` (``load_state_dict``, the hand-off between the threads) before the layer runs.
    """

    recv_fixed_s: NonNegativeFloat
    recv_s_per_byte: NonNegativeFloat
    apply_fixed_s: NonNegativeFloat
    layers_measured: PositiveInt
    chain: str = Field(max_length=200)


class Budget(StrictModel):
    repeats: PositiveInt
    batch_sizes: list[PositiveInt] = Field(min_length=2)
    warmup: int = Field(ge=0)
    h2d_buffer_bytes: PositiveFloat
    batch_cap: PositiveInt
    memory_reserve: float = Field(ge=0, lt=1)


class Provenance(StrictModel):
    device_name: str = Field(max_length=400)
    torch_version: str = Field(max_length=100)
    python_version: str = Field(max_length=100)
    platform: str = Field(max_length=400)
    date_utc: str = Field(max_length=100)
    command: list[str]
    edgeinfer_version: str = Field(max_length=100)
    load_average: list[NonNegativeFloat] | None = None
    threads: PositiveInt | None = None


class ServerDoc(StrictModel):
    """The ``server.json`` document (docs/formats.md, "server.json")."""

    format: Literal["edgeinfer.server"]
    schema_version: Literal[1]
    device: DeviceInfo
    disk: DiskCalibration
    host_to_device: HostToDeviceCalibration
    models: list[ModelCalibration]
    budget: Budget
    provenance: Provenance
    library: str | None = Field(default=None, max_length=4096)
    streaming: StreamingCalibration | None = None


RUN_SCHEMA_VERSION = 1


# ----------------------------------------------------------------------------- run.json (edgeinfer execute)
class PhaseTimes(StrictModel):
    start_s: NonNegativeFloat
    upload_s: NonNegativeFloat
    load_s: NonNegativeFloat
    compute_s: NonNegativeFloat
    end_s: NonNegativeFloat


class MeasuredTimes(PhaseTimes):
    read_s: NonNegativeFloat
    copy_s: NonNegativeFloat
    build_s: NonNegativeFloat
    evict_s: NonNegativeFloat


class BatchRun(StrictModel):
    index: NonNegativeInt
    model: str
    users: NonNegativeInt
    loaded_blocks: list[str]
    evicted_blocks: NonNegativeInt
    loaded_bytes: NonNegativeInt
    predicted: PhaseTimes
    measured: MeasuredTimes
    served_predicted: NonNegativeInt
    served_measured: NonNegativeInt
    finish_rel_error: float


class RunSummary(StrictModel):
    batches: NonNegativeInt
    served_predicted: NonNegativeInt
    served_measured: NonNegativeInt
    deadline_s: NonNegativeFloat
    median_abs_finish_rel_error: NonNegativeFloat
    max_abs_finish_rel_error: NonNegativeFloat
    mean_signed_rel_error: dict[str, float]
    measured_makespan_s: NonNegativeFloat
    predicted_makespan_s: NonNegativeFloat


class RunDoc(StrictModel):
    """The ``run.json`` document (docs/formats.md, "run.json")."""

    format: Literal["edgeinfer.run"]
    schema_version: Literal[1]
    instance: str
    solution: str
    library: str
    device: str
    device_name: str
    upload: Literal["emulated", "model"]
    cache: Literal["cold", "warm"]
    warmup: bool
    seq_len: int = Field(ge=1)
    batches: list[BatchRun]
    summary: RunSummary
    provenance: dict[str, Any]



@dataclass(frozen=True)
class ModelConstants:
    """eq. (9) constants and the batch limit of one model."""

    compute_per_sample_s: float
    compute_fixed_s: float
    max_batch: int


@dataclass(frozen=True)
class InstanceConstants:
    """What a PartialLoading instance takes from ``server.json``."""

    disk_bytes_per_s: float
    host_to_device_bytes_per_s: float
    models: dict[str, ModelConstants]
    device: str
    cache: str

    def load_doc(self) -> dict[str, float]:
        """The instance's ``load`` object."""
        return {"disk_bytes_per_s": self.disk_bytes_per_s, "host_to_device_bytes_per_s": self.host_to_device_bytes_per_s}


def load_server(source: str | os.PathLike[str] | dict[str, Any]) -> ServerDoc:
    """Parse and validate a ``server.json`` (a path or the parsed document).

    Raises :class:`InvalidInstanceError` naming the field (``server: models[2].latency_s: ...``).
    """
    if isinstance(source, dict):
        doc: Any = source
    else:
        from edgeinfer.core.io import read_json

        doc = read_json(source)
    if isinstance(doc, dict) and doc.get("format") == "edgeinfer.server" and doc.get("schema_version") != 1:
        raise InvalidInstanceError("server: schema_version",
                                   f"this edgeinfer reads schema version 1, not {doc.get('schema_version')!r}")
    d = parse_model(ServerDoc, doc, prefix="server")
    check_unique_ids([m.id for m in d.models], "server: models")
    for i, m in enumerate(d.models):
        if not all(math.isfinite(x) for x in m.latency_s):
            raise InvalidInstanceError(f"server: models[{i}].latency_s", "must be finite")
    return d


def instance_constants(server: ServerDoc, models: Iterable[str], *, max_fit_rel_rmse: float = MAX_FIT_REL_RMSE,
                       batch_cap: int | None = None) -> InstanceConstants:
    """The instance constants of ``models`` from a calibrated server (``edgeinfer make`` calls this).

    Every model must have been calibrated (``server: models``: a missing one is an
    ``InvalidInstanceError`` naming it), and its eq. (9) fit must be within
    ``max_fit_rel_rmse`` relative RMS error (default: any). ``batch_cap`` lowers ``max_batch`` further.
    """
    by_id = {m.id: m for m in server.models}
    out: dict[str, ModelConstants] = {}
    for mid in models:
        if mid not in by_id:
            known = ", ".join(sorted(by_id)[:5])
            raise InvalidInstanceError("server: models", f"model {mid!r} was not calibrated (calibrated: {known}); "
                                                         "rerun `edgeinfer calibrate` with this library")
        m = by_id[mid]
        if m.fit_rel_rmse > max_fit_rel_rmse:
            raise InvalidInstanceError(f"server: models[{mid}].fit_rel_rmse",
                                       f"{m.fit_rel_rmse:.3g} above {max_fit_rel_rmse:g}: eq. (9) does not fit "
                                       "this model's measured latencies; recalibrate with more repeats")
        cap = m.max_batch if batch_cap is None else max(1, min(m.max_batch, int(batch_cap)))
        out[mid] = ModelConstants(float(m.compute_per_sample_s), float(m.compute_fixed_s), int(cap))
    return InstanceConstants(
        disk_bytes_per_s=float(server.disk.read_bytes_per_s),
        host_to_device_bytes_per_s=float(server.host_to_device.effective_bytes_per_s or NO_COPY_BYTES_PER_S),
        models=out, device=server.device.kind, cache=server.disk.cache,
    )


def fit_batch_latency(batch_sizes: Iterable[int], latency_s: Iterable[float]) -> tuple[float, float, float, float]:
    """Least-squares fit of eq. (9), ``t(b) = mu b + beta`` with ``mu, beta >= 0``.

    Returns ``(mu, beta, rel_rmse, max_rel_error)``; the errors are relative to each measured
    latency. A negative unconstrained coefficient is clamped to 0 and the other refitted.
    """
    bs = [float(b) for b in batch_sizes]
    ts = [float(t) for t in latency_s]
    n = len(bs)
    if n < 2 or n != len(ts) or len(set(bs)) < 2:
        raise InvalidInstanceError("batch_sizes", "need at least two different batch sizes with one latency each")
    mb, mt = sum(bs) / n, sum(ts) / n
    sbb = sum((b - mb) ** 2 for b in bs)
    mu = sum((b - mb) * (t - mt) for b, t in zip(bs, ts, strict=True)) / sbb
    beta = mt - mu * mb
    if mu < 0:
        mu, beta = 0.0, mt
    if beta < 0:
        beta = 0.0
        mu = max(0.0, sum(b * t for b, t in zip(bs, ts, strict=True)) / sum(b * b for b in bs))
    rel = [(mu * b + beta - t) / t for b, t in zip(bs, ts, strict=True)]
    rmse = math.sqrt(sum(r * r for r in rel) / n)
    return float(mu), float(beta), float(rmse), float(max(abs(r) for r in rel))
