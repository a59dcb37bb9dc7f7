"""Block libraries of real checkpoints: scan throughput and the content-hash comparison.

``python benchmarks/run.py library [--quick]``.

* hash: GB/s of xxh3-128 (``xxhash``), BLAKE3 (``blake3``, one thread and its own threads),
  BLAKE2b-128 and SHA-256 (``hashlib``) over one buffer in memory, best of ``n``, and each as a
  ratio to xxh3-128 in the same process; plus the byte comparison that confirms every digest
  match (``numpy.array_equal`` in 4 MiB chunks) and a plain memory copy, for scale;
* scan: ``edgeinfer.dnn.library.scan_paths`` of four float32 checkpoints written with
  ``safetensors`` (a base and three fine-tunes that share 75 % of its tensors), file bytes per
  second. The files were just written, so they are in the page cache: WARM reads; then the same
  scan after dropping the files' pages with ``posix_fadvise(DONTNEED)`` (no root needed; a
  virtual machine's host may still cache them, so "cold" is best effort).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from pathlib import Path

import numpy as np


def _best(fn, n: int) -> float:
    best = float("inf")
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _checkpoints(root: Path, mb: int, n_models: int = 4, n_tensors: int = 32) -> list[str]:
    from safetensors.numpy import save_file

    rng = np.random.default_rng(0)
    per = mb * 2**20 // 4 // n_tensors
    base = {f"model.layers.{k}.mlp.weight": rng.standard_normal(per, dtype=np.float32) for k in range(n_tensors)}
    paths = []
    for i in range(n_models):
        sd = dict(base)
        if i:
            for k in range(n_tensors * 3 // 4, n_tensors):  # the top quarter is fine-tuned
                sd[f"model.layers.{k}.mlp.weight"] = base[f"model.layers.{k}.mlp.weight"] + np.float32(0.01 * i)
        p = root / f"m{i}.safetensors"
        save_file(sd, str(p))
        paths.append(str(p))
    return paths


def run(quick: bool = False) -> list[dict]:
    import blake3
    import xxhash

    from edgeinfer.dnn.library import _equal_buffers, scan_paths

    n = 2 if quick else 3
    size = (32 if quick else 256) * 2**20
    buf = np.random.default_rng(1).bytes(size)
    other = bytes(buf)
    mv = memoryview(buf)
    rows: list[dict] = []
    hashes = {
        "xxh3_128 (xxhash)": lambda: xxhash.xxh3_128(mv).digest(),
        "blake3, 1 thread": lambda: blake3.blake3(mv).digest(),
        "blake3, auto threads": lambda: blake3.blake3(mv, max_threads=blake3.blake3.AUTO).digest(),
        "blake2b-128 (hashlib)": lambda: hashlib.blake2b(mv, digest_size=16).digest(),
        "sha256 (hashlib)": lambda: hashlib.sha256(mv).digest(),
        "byte comparison (confirms a digest match)": lambda: _equal_buffers(mv, other),
        "memory copy (bytes(), for scale)": lambda: bytes(mv),
    }
    speed = {}
    for name, fn in hashes.items():
        speed[name] = size / _best(fn, n) / 1e9
        rows.append({"benchmark": "library", "case": f"hash {size >> 20} MiB: {name}", "value": speed[name],
                     "unit": "GB/s"})
    ref = speed["xxh3_128 (xxhash)"]
    for name in ("blake3, 1 thread", "blake3, auto threads", "blake2b-128 (hashlib)", "sha256 (hashlib)"):
        rows.append({"benchmark": "library", "case": f"xxh3_128 speed / {name}", "value": ref / speed[name],
                     "unit": "x"})
    mb = 16 if quick else 64
    with tempfile.TemporaryDirectory() as tmp:
        paths = _checkpoints(Path(tmp), mb)
        total = sum(Path(p).stat().st_size for p in paths)
        for gran in ("tensor", "module"):
            t = _best(lambda gran=gran: scan_paths(paths, granularity=gran), n)
            rows.append({"benchmark": "library", "case": f"scan 4 x {mb} MB checkpoints ({gran}), warm page cache",
                         "value": total / t / 1e9, "unit": "GB/s"})
        def cold() -> None:  # best effort: drop the files' pages (no root needed), then scan
            for p in paths:
                fd = os.open(p, os.O_RDONLY)
                try:
                    os.fsync(fd)
                    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
                finally:
                    os.close(fd)
            scan_paths(paths, granularity="module")

        if hasattr(os, "posix_fadvise"):
            warm = _best(lambda: scan_paths(paths, granularity="module"), n)
            t_cold = _best(cold, n)
            rows.append({"benchmark": "library", "case": f"scan 4 x {mb} MB checkpoints (module), pages dropped first "
                         "(posix_fadvise DONTNEED; the VM host may still cache)", "value": total / t_cold / 1e9,
                         "unit": "GB/s"})
            rows.append({"benchmark": "library", "case": "scan time, pages dropped / warm", "value": t_cold / warm,
                         "unit": "x"})
        doc = scan_paths(paths, granularity="module")
        shared = sum(len(m.blocks) for m in doc.models) - len(doc.blocks)
        rows.append({"benchmark": "library", "case": "  of which blocks confirmed byte for byte", "value": shared,
                     "unit": "blocks"})
    return rows
