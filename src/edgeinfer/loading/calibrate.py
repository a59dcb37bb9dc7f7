"""Measure a server's PartialLoading constants on the machine it runs on (issue 15; imports torch).

``edgeinfer calibrate [--device cpu|cuda] --library library.json -o server.json``
(:mod:`edgeinfer.loading.calibrate_cmd`) calls :func:`calibrate`, which returns the
``server.json`` document (:mod:`edgeinfer.loading.server`). It measures, with the executor's own
code paths (:mod:`edgeinfer.loading.realmodels`), so that the plan's prediction and the run
agree by construction where the model's form allows:

* **V1, disk -> host memory** (eq. 8): every block of the library (up to ``max_bytes``) read from
  its safetensors file as the executor reads it, ``repeats`` times; ``cold`` when the OS drops
  the ranges' pages (``posix_fadvise(DONTNEED)``, Linux), ``warm`` (page cache) otherwise; the
  median time gives ``read_bytes_per_s``. The warm figure is recorded too.
* **V2, host -> device** (eq. 8): on CUDA, the same blocks' copies from the pinned staging buffer
  (``effective_bytes_per_s``), and one ``h2d_buffer_bytes`` buffer copied from pinned and from
  pageable memory; on the CPU there is no such copy (the pool's tensors are host memory): the
  fields are ``null`` with the reason.
* **eq. (9)**: each model (built from resident tensors as the executor builds it) runs batches of
  each size in ``batch_sizes`` on synthetic inputs, ``warmup`` untimed runs then ``repeats``
  timed ones (device synchronised), each on freshly loaded tensors as in a run (the batch after
  a load: its weights not in the CPU's caches), the median per size; ``mu`` and ``beta`` are the
  least-squares fit (both >= 0) with its relative RMS and largest relative error.
* **device memory and batch limits**: CUDA's free memory (``torch.cuda.mem_get_info``), the CPU's
  ``MemAvailable``; the activation bytes per sample are CUDA's peak allocation over a batch of
  the largest size less the resident parameters, divided by the batch size, or on the CPU the
  sum of every module output's bytes for one sample (an upper bound: inference frees them as it
  goes); ``max_batch = min(batch_cap, floor(((1 - memory_reserve) * memory - largest model's
  bytes) / activation per sample))``.
* optionally (``streaming=True``) the SLIDE runtime's per-layer costs
  (:func:`edgeinfer.streaming.runtime.measure_stream_costs` on a 5-layer CNN chain).
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from edgeinfer.core.errors import InvalidOptionError
from edgeinfer.dnn.library import Library
from edgeinfer.loading.realmodels import (
    DEFAULT_SEQ_LEN,
    BlockPool,
    ModelCache,
    check_library_files,
    drop_cache_supported,
    input_shape,
    provenance,
    resolve_device,
    run_batch,
    synchronize,
    synthetic_input,
)
from edgeinfer.loading.server import SERVER_SCHEMA_VERSION, ServerDoc, fit_batch_latency

__all__ = ["CalibrateOptions", "calibrate", "BUDGET_BOUNDS"]

#: declared ranges of the measurement budget (the CLI refuses values outside them)
BUDGET_BOUNDS: dict[str, tuple[float, float]] = {
    "repeats": (1, 100), "warmup": (0, 20), "batch_size": (1, 4096), "batch_sizes": (2, 16),
    "h2d_buffer_bytes": (1 << 20, 1 << 34), "batch_cap": (1, 65536), "memory_reserve": (0.0, 0.9),
    "max_bytes": (1, 1 << 40),
}


@dataclass(frozen=True)
class CalibrateOptions:
    device: str = "cpu"
    repeats: int = 5
    warmup: int = 1
    batch_sizes: tuple[int, ...] = (1, 2, 4, 8)
    h2d_buffer_bytes: int = 256 << 20
    batch_cap: int = 32
    memory_reserve: float = 0.1
    cache: str = "cold"
    seq_len: int = DEFAULT_SEQ_LEN
    max_bytes: int = 4 << 30
    streaming: bool = False
    threads: int | None = None

    def __post_init__(self) -> None:
        def rng(name: str, v: float) -> None:
            lo, hi = BUDGET_BOUNDS[name]
            if not lo <= v <= hi:
                raise InvalidOptionError(f"--{name.replace('_', '-')}", f"must be in [{lo:g}, {hi:g}], got {v:g}")

        rng("repeats", self.repeats)
        rng("warmup", self.warmup)
        rng("batch_sizes", len(set(self.batch_sizes)))
        for b in self.batch_sizes:
            rng("batch_size", b)
        if len(set(self.batch_sizes)) != len(self.batch_sizes):
            raise InvalidOptionError("--batch-sizes", "sizes repeat")
        rng("h2d_buffer_bytes", self.h2d_buffer_bytes)
        rng("batch_cap", self.batch_cap)
        rng("memory_reserve", self.memory_reserve)
        rng("max_bytes", self.max_bytes)
        if self.cache not in ("cold", "warm"):
            raise InvalidOptionError("--cache", f"must be cold or warm, not {self.cache!r}")


def _memory(device: torch.device) -> tuple[float, str]:
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return float(free), "torch.cuda.mem_get_info (free)"
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024.0, "/proc/meminfo MemAvailable"
    except OSError:
        pass
    return float(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")), "physical pages (sysconf)"


def _median_time(fn: Any, repeats: int, device: torch.device) -> float:
    times = []
    for _ in range(repeats):
        synchronize(device)
        t = time.perf_counter()
        fn()
        synchronize(device)
        times.append(time.perf_counter() - t)
    return float(statistics.median(times))


def _disk(lib: Library, blocks: list[str], device: torch.device, opt: CalibrateOptions) -> tuple[dict[str, Any],
                                                                                                  list[float]]:
    cold_ok = opt.cache == "cold" and drop_cache_supported()
    reads: dict[str, list[float]] = {"cold": [], "warm": []}
    copies: list[float] = []
    total = 0
    with BlockPool(lib, device, cache="cold" if cold_ok else "warm") as pool:
        pool.load(blocks)  # first pass: opens the files, allocates; untimed
        pool.evict_except(())
        for mode in (("cold", "warm") if cold_ok else ("warm",)):
            pool.cache = mode
            for _ in range(opt.repeats):
                pool.drop_cache(blocks)
                lt = pool.load(blocks)
                reads[mode].append(lt.read_s)
                copies.append(lt.copy_s)
                total = lt.bytes
                pool.evict_except(())
    main = "cold" if cold_ok else "warm"
    note = ("pages of each byte range dropped with posix_fadvise(POSIX_FADV_DONTNEED) before every read"
            if cold_ok else ("--cache warm asked" if opt.cache == "warm"
                             else "posix_fadvise unavailable on this OS: reads from the page cache"))
    doc = {"read_bytes_per_s": total / max(statistics.median(reads[main]), 1e-12), "cache": main,
           "cache_note": note, "bytes_read": float(total), "repeats": opt.repeats,
           "warm_read_bytes_per_s": total / max(statistics.median(reads["warm"]), 1e-12)}
    return doc, copies


def _h2d(device: torch.device, copies: list[float], total_bytes: float, opt: CalibrateOptions) -> dict[str, Any]:
    if device.type != "cuda":
        return {"effective_bytes_per_s": None, "method": "none: a CPU device computes on host memory",
                "skipped": "no host-to-device copy on a CPU device (the pool's tensors are read straight into "
                           "host memory); pinned/pageable bandwidths need a GPU"}
    n = int(opt.h2d_buffer_bytes)
    dev = torch.empty(n, dtype=torch.uint8, device=device)
    out: dict[str, Any] = {"effective_bytes_per_s": total_bytes / max(statistics.median(copies), 1e-12),
                           "method": "the library's blocks copied from a pinned staging buffer (non_blocking, then "
                                     "torch.cuda.synchronize), as the executor loads them",
                           "buffer_bytes": float(n)}
    for kind, pin in (("pinned", True), ("pageable", False)):
        host = torch.empty(n, dtype=torch.uint8, pin_memory=pin)
        host.fill_(1)
        dev.copy_(host, non_blocking=pin)
        t = _median_time(lambda host=host, pin=pin: dev.copy_(host, non_blocking=pin), opt.repeats, device)
        out[f"{kind}_bytes_per_s"] = n / max(t, 1e-12)
        del host
    return out


def _activation_bytes(module: torch.nn.Module, x: torch.Tensor, device: torch.device, param_bytes: float) -> float:
    b = int(x.shape[0])
    if device.type == "cuda":
        synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        run_batch(module, x)
        synchronize(device)
        return max(0.0, float(torch.cuda.max_memory_allocated(device) - base)) / b
    total = [0]

    def hook(_m: Any, _i: Any, out: Any) -> None:
        for t in (out if isinstance(out, tuple | list) else (getattr(out, "logits", out),)):
            if isinstance(t, torch.Tensor):
                total[0] += t.numel() * t.element_size()

    handles = [m.register_forward_hook(hook) for m in module.modules()]
    try:
        run_batch(module, x[:1])
    finally:
        for h in handles:
            h.remove()
    return float(total[0])


def calibrate(lib: Library, options: CalibrateOptions | None = None, *, library_name: str | None = None,
              command: Sequence[str] | None = None) -> dict[str, Any]:
    """Measure this machine for ``lib`` and return the validated ``server.json`` document."""
    opt = options or CalibrateOptions()
    device = resolve_device(opt.device)
    if opt.threads is not None:
        torch.set_num_threads(int(opt.threads))
    all_blocks = [b.id for b in lib.doc.blocks]
    check_library_files(lib, all_blocks)
    picked: list[str] = []
    size = 0
    for blk in lib.doc.blocks:  # library order, up to the byte budget (at least one block)
        if picked and size + blk.bytes > opt.max_bytes:
            break
        picked.append(blk.id)
        size += blk.bytes
    disk, copies = _disk(lib, picked, device, opt)
    h2d = _h2d(device, copies, float(size), opt)
    memory, memory_source = _memory(device)
    models: list[dict[str, Any]] = []
    cache = ModelCache(lib)
    gen = torch.Generator().manual_seed(0)
    largest = max(sum(lib.block(b).bytes for b in m.blocks) for m in lib.doc.models)
    with BlockPool(lib, device, cache="warm") as pool:
        for m in sorted(lib.doc.models, key=lambda m: m.id):
            pool.evict_except(m.blocks)
            pool.load(m.blocks)
            module = cache.get(m, pool)
            lat: list[float] = []
            for b in opt.batch_sizes:
                x = synthetic_input(m, lib, b, device, seq_len=opt.seq_len, generator=gen)
                for _ in range(opt.warmup):
                    run_batch(module, x)
                times: list[float] = []
                for _ in range(opt.repeats):
                    # as in a run: the batch is the first after the model's tensors were loaded anew
                    cache.release(m.id)
                    pool.evict_except(())
                    pool.load(m.blocks)
                    module = cache.get(m, pool)
                    times.append(_median_time(lambda x=x, module=module: run_batch(module, x), 1, device))
                lat.append(float(statistics.median(times)))
            mu, beta, rmse, worst = fit_batch_latency(opt.batch_sizes, lat)
            param_bytes = float(sum(lib.block(b).bytes for b in m.blocks))
            x = synthetic_input(m, lib, int(max(opt.batch_sizes)), device, seq_len=opt.seq_len, generator=gen)
            act = _activation_bytes(module, x, device, param_bytes)
            room = (1.0 - opt.memory_reserve) * memory - largest
            by_memory = int(room // act) if act > 0 else opt.batch_cap
            models.append({
                "id": m.id, "batch_sizes": list(opt.batch_sizes), "latency_s": lat,
                "compute_per_sample_s": mu, "compute_fixed_s": beta, "fit_rel_rmse": rmse,
                "fit_max_rel_error": worst, "param_bytes": param_bytes, "activation_bytes_per_sample": act,
                "max_batch": max(1, min(opt.batch_cap, by_memory)),
                "input_shape": list(input_shape(m, lib, opt.seq_len)),
            })
            cache.release(m.id)
            del module
    doc: dict[str, Any] = {
        "format": "edgeinfer.server", "schema_version": SERVER_SCHEMA_VERSION,
        "device": {"kind": device.type, "name": provenance(device, command)["device_name"], "memory_bytes": memory,
                   "memory_source": memory_source},
        "disk": disk, "host_to_device": h2d, "models": models,
        "budget": {"repeats": opt.repeats, "batch_sizes": list(opt.batch_sizes), "warmup": opt.warmup,
                   "h2d_buffer_bytes": float(opt.h2d_buffer_bytes), "batch_cap": opt.batch_cap,
                   "memory_reserve": opt.memory_reserve},
        "provenance": provenance(device, command),
    }
    if library_name is not None:
        doc["library"] = library_name
    if opt.streaming:
        from edgeinfer.streaming.runtime import cnn_chain, measure_stream_costs

        layers = cnn_chain(64, 5)
        costs = measure_stream_costs(layers, torch.randn(4, 3, 64, 64), repeats=max(1, min(opt.repeats, 5)))
        doc["streaming"] = {"recv_fixed_s": costs.recv_fixed_s, "recv_s_per_byte": costs.recv_s_per_byte,
                            "apply_fixed_s": costs.apply_fixed_s, "layers_measured": len(layers),
                            "chain": "cnn_chain(64, 5), batch 4 x 3 x 64 x 64"}
    ServerDoc.model_validate(doc)
    return doc
