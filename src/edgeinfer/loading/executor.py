"""Run a ``partial_loading`` plan for real and measure it against its prediction (issue 15).

``edgeinfer execute INSTANCE SOLUTION --library library.json [--device cpu|cuda] -o run.json``
(:mod:`edgeinfer.loading.execute_cmd`) calls :func:`execute`. Imports torch; the solvers never
import it.

What runs, batch after batch in the solution's order (the paper's timeline, eqs. 1, 6-9: each
batch's upload, then its partial load, then its compute, after the previous batch ended):

1. **upload**: either emulated (``upload="emulated"``): every user of the batch sends its
   ``data_bits`` over its own loopback TCP connection, paced by the token bucket of the SLIDE
   streaming runtime's :class:`~edgeinfer.streaming.runtime.LayerServer` at its rate
   ``y_k B R_k`` (eq. 4; its share of the band times its spectral efficiency), the phase ending
   when the last user's bytes arrived and passed their digest; or taken from the model
   (``upload="model"``): the phase lasts the predicted ``max_k D_k / (y_k B R_k)`` (eq. 7) on the
   run's clock, nothing is sent. ``run.json`` says which.
2. **load** (eq. 8): the pool (:class:`~edgeinfer.loading.realmodels.BlockPool`) evicts every block
   the batch's model does not hold (the GPU holds one model, eq. 10d), then reads exactly the
   missing blocks from their safetensors files (cold: their pages dropped from the page cache
   first, outside the clock); shared blocks stay resident as the same tensors. When the model
   changes it is built from the resident tensors (no copy); the building time is part of the
   measured load phase (the model has no term for it: a systematic error, reported).
3. **compute** (eq. 9): the model runs the batch on synthetic inputs of its shape (made before
   the run starts); the device is synchronised before each timestamp.

Work that only sets the experiment up (making the users' payloads, opening the sockets,
dropping pages from the cache) runs with the clock paused, so it is not charged to any phase.
Before the run each distinct model is loaded, built and run once on one sample (``warmup``:
first-call costs of torch), then the pool is emptied: the run starts from an empty device, as
the model's first batch loads its whole model.
"""

from __future__ import annotations

import math
import socket
import statistics
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from edgeinfer.core.errors import InvalidInstanceError, InvalidOptionError, InvalidSolutionError
from edgeinfer.dnn.library import Library
from edgeinfer.loading.model import DEADLINE_RTOL, timeline
from edgeinfer.loading.problem import PartialLoadingInstance, PartialLoadingSolution, verify
from edgeinfer.loading.realmodels import (
    DEFAULT_SEQ_LEN,
    BlockPool,
    ModelCache,
    check_library_files,
    drop_cache_supported,
    provenance,
    resolve_device,
    run_batch,
    synchronize,
    synthetic_input,
)
from edgeinfer.loading.server import RUN_SCHEMA_VERSION, RunDoc

__all__ = ["ExecuteOptions", "check_agreement", "execute", "format_table", "timeline_figure"]

#: token-bucket depth of the emulated uploads (bytes): small, so a user's few tens of KB are paced
#: from their first byte (the streaming runtime's 16 KiB would let the first 16 KiB out at once)
UPLOAD_CHUNK_BYTES = 1024


@dataclass(frozen=True)
class ExecuteOptions:
    """Options of :func:`execute` (the CLI's flags)."""

    device: str = "cpu"
    cache: str = "cold"
    upload: str = "emulated"
    seq_len: int = DEFAULT_SEQ_LEN
    warmup: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        if self.upload not in ("emulated", "model"):
            raise InvalidOptionError("--upload", f"must be emulated or model, not {self.upload!r}")
        if self.cache not in ("cold", "warm"):
            raise InvalidOptionError("--cache", f"must be cold or warm, not {self.cache!r}")
        if not 1 <= self.seq_len <= 65536:
            raise InvalidOptionError("--seq-len", f"must be in [1, 65536], got {self.seq_len}")


# ------------------------------------------------------------------------------------------ checks
def check_agreement(inst: PartialLoadingInstance, lib: Library) -> None:
    """The instance's models and blocks are the library's: every model is a library model with the
    same set of blocks, every block a library block of the same bytes. Else an
    ``InvalidInstanceError`` naming the field (one line, exit 2)."""
    lib_models = {m.id: m for m in lib.doc.models}
    lib_blocks = {b.id: b for b in lib.doc.blocks}
    for j, bid in enumerate(inst.block_ids):
        b = lib_blocks.get(bid)
        if b is None:
            raise InvalidInstanceError(f"instance: blocks[{j}].id", f"block {bid[:60]!r} is not in the library")
        if not math.isclose(float(b.bytes), float(inst.block_bytes[j]), rel_tol=0, abs_tol=0.5):
            raise InvalidInstanceError(f"instance: blocks[{j}].bytes", f"{inst.block_bytes[j]:g} bytes, the library's "
                                                                       f"block has {b.bytes}")
    for i, mid in enumerate(inst.model_ids):
        m = lib_models.get(mid)
        if m is None:
            raise InvalidInstanceError(f"instance: models[{i}].id", f"model {mid[:60]!r} is not in the library")
        mine = {inst.block_ids[j] for j in inst.model_blocks[i]}
        if mine != set(m.blocks):
            odd = sorted(mine ^ set(m.blocks))[0]
            raise InvalidInstanceError(f"instance: models[{i}].blocks", f"differ from the library's model {mid!r} "
                                                                        f"(block {odd[:60]!r})")


# ------------------------------------------------------------------------------------------ clock
class _Clock:
    """The run's clock: wall time since the start, less the paused set-up work, plus the virtual
    uploads (``upload="model"``)."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.excluded = 0.0
        self.virtual = 0.0

    def now(self) -> float:
        return time.perf_counter() - self.t0 - self.excluded + self.virtual

    @contextmanager
    def paused(self) -> Iterator[None]:
        a = time.perf_counter()
        try:
            yield
        finally:
            self.excluded += time.perf_counter() - a


# ------------------------------------------------------------------------------------------ uploads
class _Upload:
    """One batch's emulated uploads: per user a loopback TCP connection, opened and accepted
    beforehand (outside the clock), whose sender thread waits for :meth:`run`'s start signal and
    then sends the user's bytes as one frame of the streaming runtime's wire format
    (:class:`~edgeinfer.streaming.runtime.LayerServer`'s frames), paced at the user's rate in
    1 KiB chunks like the runtime's token bucket, except that a chunk leaves only once all its
    bits would have crossed the link (the runtime's bucket lets one chunk of credit out at once,
    which for a user's few KB is a third of the upload); the last byte arrives at ``D_k / r_k``.
    The receiver checks the frame's digest. The phase ends when every user's frame arrived."""

    def __init__(self, rates_bps: Sequence[float], nbytes: Sequence[int], rng: np.random.Generator) -> None:
        from edgeinfer.streaming.runtime import HEADER, MAGIC, _frame_digest

        self.go = threading.Event()
        self.errors: list[BaseException] = []
        self.pairs: list[tuple[socket.socket, socket.socket, bytes, float]] = []
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            listener.bind(("127.0.0.1", 0))
            listener.listen(len(rates_bps))
            listener.settimeout(30.0)
            for rate, n in zip(rates_bps, nbytes, strict=True):
                payload = rng.integers(0, 256, max(0, int(n) - HEADER.size), dtype=np.uint8).tobytes()
                frame = HEADER.pack(MAGIC, 0, len(payload), _frame_digest(None, 0, payload)) + payload
                cli = socket.create_connection(listener.getsockname(), timeout=30.0)
                srv, _ = listener.accept()
                srv.settimeout(30.0)
                srv.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self.pairs.append((srv, cli, frame, float(rate)))
        finally:
            listener.close()
        self.senders = [threading.Thread(target=self._send, args=(srv, frame, rate), daemon=True)
                        for srv, _, frame, rate in self.pairs]
        self.receivers = [threading.Thread(target=self._receive, args=(cli,), daemon=True)
                          for _, cli, _, _ in self.pairs]
        for t in (*self.senders, *self.receivers):
            t.start()

    def _send(self, conn: socket.socket, frame: bytes, rate: float) -> None:
        try:
            self.go.wait(60.0)
            t0 = time.perf_counter()
            view = memoryview(frame)
            for k in range(0, len(view), UPLOAD_CHUNK_BYTES):
                piece = view[k:k + UPLOAD_CHUNK_BYTES]
                # a chunk leaves once all its bits would have crossed a link of this rate
                delay = t0 + 8.0 * (k + len(piece)) / rate - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                conn.sendall(piece)
        except BaseException as exc:  # noqa: BLE001 - reported by run()
            self.errors.append(exc)

    def _receive(self, conn: socket.socket) -> None:
        from edgeinfer.streaming.runtime import HEADER, MAGIC, _frame_digest, _recv_exact

        try:
            magic, idx, length, digest = HEADER.unpack(_recv_exact(conn, HEADER.size, "an upload header"))
            if magic != MAGIC:
                raise RuntimeError("bad magic in an emulated upload")
            payload = _recv_exact(conn, length, "an upload")
            if _frame_digest(None, idx, payload) != digest:
                raise RuntimeError("an emulated upload arrived corrupted")
        except BaseException as exc:  # noqa: BLE001 - reported by run()
            self.errors.append(exc)

    def run(self) -> None:
        """Start every sender at once; return when every user's bytes arrived."""
        self.go.set()
        for t in self.receivers:
            t.join(120.0)

    def close(self) -> None:
        for t in self.senders:
            t.join(5.0)
        for srv, cli, _, _ in self.pairs:
            srv.close()
            cli.close()
        if self.errors or any(t.is_alive() for t in self.receivers):
            raise RuntimeError(f"emulated upload failed: {self.errors[0] if self.errors else 'timed out'}")


def _upload_plan(inst: PartialLoadingInstance, users: Sequence[int], shares: Sequence[float]) -> tuple[list[float],
                                                                                                       list[int]]:
    sh = np.asarray(shares, dtype=float)
    total = float(sh.sum())
    if total > 1.0:
        sh = sh / total
    rates = [float(s * inst.bandwidth_hz * inst.spectral_efficiency[k]) for k, s in zip(users, sh, strict=True)]
    nbytes = [int(math.ceil(inst.data_bits[k] / 8.0)) for k in users]
    return rates, nbytes


# ------------------------------------------------------------------------------------------ execute
def execute(inst: PartialLoadingInstance, sol: PartialLoadingSolution, lib: Library,
            options: ExecuteOptions | None = None, *, names: tuple[str, str, str] = ("", "", ""),
            command: Sequence[str] | None = None) -> dict[str, Any]:
    """Run the plan ``sol`` of ``inst`` on the library's real models; return the ``run.json`` document.

    The solution is verified against the instance first (a wrong one is an
    ``InvalidSolutionError``), then the instance is checked against the library
    (:func:`check_agreement`) and the library's files against their headers; nothing runs
    before every check passed.
    """
    opt = options or ExecuteOptions()
    device = resolve_device(opt.device)
    report = verify(inst, sol)
    if not report.ok:
        raise InvalidSolutionError("solution", "does not verify against the instance: " + "; ".join(report.reasons)[:300])
    check_agreement(inst, lib)
    plan_models = [inst.model_ids[b.model] for b in sol.batches]
    docs = {mid: lib.model(mid) for mid in set(plan_models)}
    check_library_files(lib, [bid for m in docs.values() for bid in m.blocks])
    if opt.cache == "cold" and not drop_cache_supported():
        raise InvalidOptionError("--cache", "cold reads need posix_fadvise (not on this OS); use --cache warm")
    predicted = timeline(inst, sol.batches)
    gen = torch.Generator().manual_seed(int(opt.seed))
    rng = np.random.default_rng(int(opt.seed))
    inputs = [synthetic_input(docs[m], lib, len(b.users), device, seq_len=opt.seq_len, generator=gen)
              for m, b in zip(plan_models, sol.batches, strict=True)]
    rows: list[dict[str, Any]] = []
    cache = ModelCache(lib)
    with BlockPool(lib, device, cache=opt.cache) as pool:
        if opt.warmup:  # build every model once (kept as a skeleton) and run it on one sample
            for mid in sorted(docs):
                pool.load(docs[mid].blocks)
                run_batch(cache.get(docs[mid], pool),
                          synthetic_input(docs[mid], lib, 1, device, seq_len=opt.seq_len, generator=gen))
                cache.release(mid)
                pool.evict_except(())
            synchronize(device)
            pool.load_count.clear()
        clock = _Clock()
        module = None
        current: str | None = None
        for n, (b, mid, x, pred) in enumerate(zip(sol.batches, plan_models, inputs, predicted, strict=True)):
            model = docs[mid]
            with clock.paused():
                upload = None
                if opt.upload == "emulated":
                    rates, nbytes = _upload_plan(inst, b.users, b.shares)
                    upload = _Upload(rates, nbytes, rng)
                missing = [bid for bid in model.blocks if bid not in pool.resident]
                pool.drop_cache(missing)
            t_start = clock.now()
            if upload is not None:
                upload.run()
                t_up = clock.now()
            else:  # the model's upload time, exactly (what little real time passed goes to the load)
                clock.virtual += pred.upload_s
                t_up = t_start + pred.upload_s
            if upload is not None:
                with clock.paused():
                    upload.close()
            a = time.perf_counter()
            if current is not None and current != mid:
                cache.release(current)  # the old model's references go before its blocks are evicted
                module = None
            evicted = pool.evict_except(model.blocks)
            evict_s = time.perf_counter() - a
            lt = pool.load(model.blocks)
            a = time.perf_counter()
            if module is None or lt.blocks:
                module = cache.get(model, pool)
                current = mid
            synchronize(device)
            build_s = time.perf_counter() - a
            t_load = clock.now()
            assert module is not None
            run_batch(module, x)
            synchronize(device)
            t_end = clock.now()
            limit = inst.deadline_s * (1.0 + DEADLINE_RTOL)
            rows.append({
                "index": n, "model": mid, "users": len(b.users), "loaded_blocks": missing,
                "evicted_blocks": len(evicted), "loaded_bytes": lt.bytes,
                "predicted": {"start_s": pred.start_s, "upload_s": pred.upload_s, "load_s": pred.load_s,
                              "compute_s": pred.compute_s, "end_s": pred.end_s},
                "measured": {"start_s": t_start, "upload_s": t_up - t_start, "load_s": t_load - t_up,
                             "compute_s": t_end - t_load, "end_s": t_end, "read_s": lt.read_s, "copy_s": lt.copy_s,
                             "build_s": build_s, "evict_s": evict_s},
                "served_predicted": len(b.users) if pred.served else 0,
                "served_measured": len(b.users) if t_end <= limit else 0,
                "finish_rel_error": (t_end - pred.end_s) / pred.end_s if pred.end_s > 0 else 0.0,
            })
        module = None
    errs = [abs(r["finish_rel_error"]) for r in rows]

    def signed(phase: str) -> float:
        vals = [(r["measured"][phase] - r["predicted"][phase]) / r["predicted"][phase]
                for r in rows if r["predicted"][phase] > 0]
        return float(statistics.fmean(vals)) if vals else 0.0

    doc = {
        "format": "edgeinfer.run", "schema_version": RUN_SCHEMA_VERSION,
        "instance": names[0], "solution": names[1], "library": names[2],
        "device": device.type,
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "upload": opt.upload, "cache": opt.cache, "warmup": opt.warmup, "seq_len": opt.seq_len,
        "batches": rows,
        "summary": {
            "batches": len(rows),
            "served_predicted": sum(r["served_predicted"] for r in rows),
            "served_measured": sum(r["served_measured"] for r in rows),
            "deadline_s": inst.deadline_s,
            "median_abs_finish_rel_error": float(statistics.median(errs)) if errs else 0.0,
            "max_abs_finish_rel_error": float(max(errs)) if errs else 0.0,
            "mean_signed_rel_error": {p: signed(p) for p in ("upload_s", "load_s", "compute_s")},
            "measured_makespan_s": rows[-1]["measured"]["end_s"] if rows else 0.0,
            "predicted_makespan_s": rows[-1]["predicted"]["end_s"] if rows else 0.0,
        },
        "provenance": provenance(device, command),
    }
    RunDoc.model_validate(doc)
    return doc


# ------------------------------------------------------------------------------------------ output
def format_table(doc: dict[str, Any]) -> str:
    """The predicted-vs-measured table (milliseconds) and the summary lines."""
    lines = [f"{'#':>3} {'model':<16} {'users':>5} | {'upload ms':>15} | {'load ms':>15} | {'compute ms':>15} | "
             f"{'finish ms':>15} | {'err':>6} | served",
             f"{'':>3} {'':<16} {'':>5} | {'pred':>7} {'meas':>7} | {'pred':>7} {'meas':>7} | {'pred':>7} {'meas':>7} | "
             f"{'pred':>7} {'meas':>7} | {'':>6} | pred/meas"]
    for r in doc["batches"]:
        p, m = r["predicted"], r["measured"]
        lines.append(f"{r['index']:>3} {r['model'][:16]:<16} {r['users']:>5} | "
                     + " | ".join(f"{1e3 * p[k]:7.2f} {1e3 * m[k]:7.2f}" for k in ("upload_s", "load_s", "compute_s",
                                                                                    "end_s"))
                     + f" | {100 * r['finish_rel_error']:+5.1f}% | {r['served_predicted']}/{r['served_measured']}")
    s = doc["summary"]
    lines.append(f"served by the deadline {1e3 * s['deadline_s']:.1f} ms: predicted {s['served_predicted']}, measured "
                 f"{s['served_measured']}; median |finish error| {100 * s['median_abs_finish_rel_error']:.1f} % "
                 f"(max {100 * s['max_abs_finish_rel_error']:.1f} %); upload {doc['upload']}, cache {doc['cache']}, "
                 f"device {doc['device']}")
    return "\n".join(lines)


def timeline_figure(doc: dict[str, Any]) -> bytes:
    """A Gantt chart (PNG bytes) of the planned and the measured batches: one row each, upload,
    load and compute phases coloured, the deadline dashed."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = {"upload_s": "#4c72b0", "load_s": "#dd8452", "compute_s": "#55a868"}
    fig, ax = plt.subplots(figsize=(10, 2.2 + 0.05 * len(doc["batches"])))
    for row, key in ((1, "predicted"), (0, "measured")):
        for r in doc["batches"]:
            t = r[key]["start_s"]
            for phase, c in colours.items():
                w = r[key][phase]
                ax.barh(row, 1e3 * w, left=1e3 * t, color=c, edgecolor="black", linewidth=0.3, height=0.6)
                t += w
            ax.text(1e3 * (r[key]["end_s"]), row + 0.33, str(r["index"]), fontsize=6, ha="right")
    ax.axvline(1e3 * doc["summary"]["deadline_s"], color="red", linestyle="--", linewidth=1)
    ax.set_yticks([0, 1], ["measured", "planned"])
    ax.set_xlabel("time (ms)")
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in colours.values()]
    ax.legend(handles, ["upload", "load", "compute"], loc="upper center", bbox_to_anchor=(0.5, -0.35), ncol=3,
              fontsize=8, frameon=False)
    s = doc["summary"]
    ax.set_title(f"plan vs run ({doc['device']}, upload {doc['upload']}): served {s['served_predicted']} planned, "
                 f"{s['served_measured']} measured; median |finish error| {100 * s['median_abs_finish_rel_error']:.1f} %",
                 fontsize=9)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120)
    plt.close(fig)
    return buf.getvalue()
