"""A real SLIDE streaming runtime over loopback TCP (imports torch; never imported by the solvers).

A :class:`LayerServer` thread listens on ``127.0.0.1`` and sends a model's logical layers (their
real tensors, one safetensors blob per layer) in order, paced at a set rate by a token bucket.
The client (:func:`stream_and_infer`) knows the architecture (a skeleton on the ``meta`` device,
no weights) and runs each layer on the CPU as soon as its weights have arrived and its input is
ready (``pipelined``), or only after the whole model arrived (``sequential``).

Wire format, one frame per layer::

    magic b"SLD1" | layer index (u32, big-endian) | payload length (u64) | sha256(payload) (32 B) | payload

ending with a frame of index ``0xFFFFFFFF`` and length 0. A connection that closes early raises
:class:`StreamDroppedError`; a payload whose digest differs raises :class:`LayerCorruptedError`
(both :class:`StreamError`, an :class:`~edgeinfer.core.errors.EdgeInferError`): the client never
computes with weights it did not verify, and never returns a result unless every layer arrived.

The prediction beside each measurement is the model of docs/streaming.md: ``D_l`` = the bits of
frames ``1..l`` over the rate, ``C_l = max(C_{l-1}, D_l) + t_l`` with ``t_l`` each layer's
compute time measured alone beforehand (median of a few runs).
"""

from __future__ import annotations

import hashlib
import queue
import socket
import struct
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save
from torch import nn

from edgeinfer.core.errors import EdgeInferError

__all__ = ["StreamError", "StreamDroppedError", "LayerCorruptedError", "LayerServer", "StreamResult",
           "mlp_chain", "cnn_chain", "zoo_chain", "layer_payloads", "stream_and_infer", "measure_layer_times",
           "predict_finish", "compare"]

MAGIC = b"SLD1"
HEADER = struct.Struct(">4sIQ32s")
END = 0xFFFFFFFF


class StreamError(EdgeInferError):
    """The layer stream failed; no result is returned."""


class StreamDroppedError(StreamError):
    """The connection closed before every layer arrived."""


class LayerCorruptedError(StreamError):
    """A layer's payload does not match its sha256 digest (or is not a valid tensor blob)."""


Chain = list[tuple[str, nn.Module]]


# ------------------------------------------------------------------------------------------ models


def mlp_chain(width: int = 512, depth: int = 6, seed: int = 0) -> Chain:
    """A chain of ``depth`` Linear+ReLU layers (``width**2`` weights each)."""
    g = torch.Generator().manual_seed(seed)
    out: Chain = []
    for i in range(depth):
        lin = nn.Linear(width, width)
        with torch.no_grad():
            lin.weight.copy_(torch.randn(width, width, generator=g) / width**0.5)
            lin.bias.copy_(torch.randn(width, generator=g) * 0.01)
        out.append((f"fc{i}", nn.Sequential(lin, nn.ReLU())))
    return out


def cnn_chain(channels: int = 64, depth: int = 5, seed: int = 0) -> Chain:
    """A chain of 3x3 conv + BatchNorm + ReLU layers on ``channels`` channels (first takes 3)."""
    torch.manual_seed(seed)  # module init; only used to build the server's weights
    out: Chain = []
    cin = 3
    for i in range(depth):
        out.append((f"conv{i}", nn.Sequential(nn.Conv2d(cin, channels, 3, padding=1), nn.BatchNorm2d(channels),
                                              nn.ReLU())))
        cin = channels
    for _, m in out:
        m.eval()
    return out


def zoo_chain(name: str) -> Chain:
    """The logical layers of a zoo model (``edgeinfer.dnn.zoo.chain``), random weights, eval mode."""
    from edgeinfer.dnn.zoo import chain, get_model

    return chain(get_model(name))


def _skeleton(builder: Callable[[], Chain]) -> Chain:
    with torch.device("meta"):
        layers = builder()
    return layers


def layer_payloads(layers: Chain) -> list[bytes]:
    """One safetensors blob per layer (its state dict, contiguous)."""
    return [st_save({k: v.detach().contiguous() for k, v in m.state_dict().items()}) for _, m in layers]


# ------------------------------------------------------------------------------------------ server


class LayerServer:
    """Sends the payloads to one client over loopback TCP at ``rate_bps`` (token bucket).

    ``fault``: ``None``; ``"drop"`` closes the connection halfway through layer ``fault_layer``;
    ``"corrupt"`` flips one payload byte of layer ``fault_layer`` after its digest was computed.
    """

    def __init__(self, payloads: Sequence[bytes], rate_bps: float, *, chunk_bytes: int = 16384,
                 fault: str | None = None, fault_layer: int = 1) -> None:
        if rate_bps <= 0:
            raise ValueError("rate_bps must be positive")
        self.payloads = list(payloads)
        self.rate_bps = float(rate_bps)
        self.chunk = int(chunk_bytes)
        self.fault = fault
        self.fault_layer = fault_layer
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.port = self.sock.getsockname()[1]
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def start(self) -> LayerServer:
        self.thread.start()
        return self

    def _serve(self) -> None:
        try:
            conn, _ = self.sock.accept()
            with conn:
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                bucket = _TokenBucket(self.rate_bps, self.chunk)
                for i, p in enumerate(self.payloads):
                    digest = hashlib.sha256(p).digest()
                    if self.fault == "corrupt" and i == self.fault_layer and p:
                        p = bytes([p[0] ^ 0xFF]) + p[1:]
                    frame = HEADER.pack(MAGIC, i, len(p), digest) + p
                    if self.fault == "drop" and i == self.fault_layer:
                        bucket.send(conn, frame[: len(frame) // 2])
                        return
                    bucket.send(conn, frame)
                conn.sendall(HEADER.pack(MAGIC, END, 0, b"\0" * 32))
        except OSError as exc:  # client went away
            self.error = exc
        finally:
            self.sock.close()

    def join(self, timeout: float | None = None) -> None:
        self.thread.join(timeout)


class _TokenBucket:
    """Token bucket of depth one chunk, refilled at ``rate`` bit/s: chunks leave no earlier
    than their tokens allow, so the average rate is ``rate`` from the first byte."""

    def __init__(self, rate_bps: float, chunk: int) -> None:
        self.rate = rate_bps
        self.chunk = chunk
        self.t_next = time.perf_counter()

    def send(self, conn: socket.socket, data: bytes) -> None:
        view = memoryview(data)
        for k in range(0, len(view), self.chunk):
            piece = view[k:k + self.chunk]
            delay = self.t_next - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            conn.sendall(piece)
            self.t_next = max(self.t_next, time.perf_counter() - 8 * self.chunk / self.rate) + 8 * len(piece) / self.rate


# ------------------------------------------------------------------------------------------ client


def _recv_exact(conn: socket.socket, n: int, what: str) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        try:
            part = conn.recv(min(1 << 20, n - len(buf)))
        except OSError as exc:
            raise StreamDroppedError(f"connection failed while receiving {what}: {exc}") from None
        if not part:
            raise StreamDroppedError(f"connection dropped while receiving {what} ({len(buf)} of {n} bytes)")
        buf += part
    return bytes(buf)


def _receiver(port: int, n_layers: int, out: queue.Queue, t0: list[float]) -> None:
    """Receive frames, check them, put ``(index, state_dict, arrival_s)`` (or an exception)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
            t0.append(time.perf_counter())
            for expected in range(n_layers + 1):
                magic, idx, length, digest = HEADER.unpack(_recv_exact(conn, HEADER.size, f"frame {expected} header"))
                if magic != MAGIC:
                    raise LayerCorruptedError(f"frame {expected}: bad magic {magic!r}")
                if idx == END:
                    if expected != n_layers:
                        raise StreamDroppedError(f"stream ended after {expected} of {n_layers} layers")
                    out.put(None)
                    return
                if idx != expected:
                    raise LayerCorruptedError(f"frame {expected}: got layer index {idx}")
                payload = _recv_exact(conn, length, f"layer {idx} ({length} bytes)")
                if hashlib.sha256(payload).digest() != digest:
                    raise LayerCorruptedError(f"layer {idx}: sha256 mismatch (corrupted in transit)")
                try:
                    sd = st_load(payload)
                except Exception as exc:  # noqa: BLE001 - any decoding failure is a corrupted layer
                    raise LayerCorruptedError(f"layer {idx}: not a valid safetensors blob ({exc})") from None
                out.put((idx, sd, time.perf_counter()))
            raise StreamDroppedError(f"no end-of-stream frame after {n_layers} layers")
    except StreamError as exc:
        out.put(exc)
    except OSError as exc:
        out.put(StreamDroppedError(f"connection failed: {exc}"))


@dataclass
class StreamResult:
    output: torch.Tensor
    mode: str
    rate_bps: float
    total_s: float
    arrival_s: list[float] = field(default_factory=list)
    done_s: list[float] = field(default_factory=list)
    bits: list[float] = field(default_factory=list)


def stream_and_infer(builder: Callable[[], Chain], x: torch.Tensor, rate_bps: float, *, mode: str = "pipelined",
                     server_layers: Chain | None = None, fault: str | None = None, fault_layer: int = 1,
                     timeout_s: float = 120.0) -> StreamResult:
    """Serve ``server_layers`` (default ``builder()``) at ``rate_bps`` and run them on the client.

    The client holds only a weightless skeleton of ``builder()``; every tensor it computes with
    arrived over the socket and passed its checksum. Times are from the connection's start.
    """
    if mode not in ("pipelined", "sequential"):
        raise ValueError(f"unknown mode {mode!r}")
    layers = server_layers if server_layers is not None else builder()
    payloads = layer_payloads(layers)
    skeleton = _skeleton(builder)
    server = LayerServer(payloads, rate_bps, fault=fault, fault_layer=fault_layer).start()
    q: queue.Queue = queue.Queue()
    t0: list[float] = []
    rx = threading.Thread(target=_receiver, args=(server.port, len(skeleton), q, t0), daemon=True)
    rx.start()

    def get() -> Any:
        try:
            item = q.get(timeout=timeout_s)
        except queue.Empty:
            raise StreamDroppedError(f"no layer within {timeout_s} s") from None
        if isinstance(item, BaseException):
            raise item
        return item

    arrival: list[float] = []
    done: list[float] = []
    with torch.inference_mode():
        if mode == "sequential":
            items = [get() for _ in skeleton]
            if get() is not None:
                raise LayerCorruptedError("extra frame after the last layer")
        h = x
        for i, (_, module) in enumerate(skeleton):
            idx, sd, t_arr = items[i] if mode == "sequential" else get()
            try:
                module.load_state_dict(sd, strict=True, assign=True)
            except RuntimeError as exc:
                raise LayerCorruptedError(f"layer {idx}: tensors do not fit the architecture ({exc})") from None
            module.eval()
            arrival.append(t_arr - t0[0])
            h = module(h)
            done.append(time.perf_counter() - t0[0])
        if mode == "pipelined" and get() is not None:
            raise LayerCorruptedError("extra frame after the last layer")
    server.join(5)
    rx.join(5)
    return StreamResult(output=h, mode=mode, rate_bps=rate_bps, total_s=done[-1], arrival_s=arrival, done_s=done,
                        bits=[8.0 * (len(p) + HEADER.size) for p in payloads])


# ------------------------------------------------------------------------------------------ prediction


def measure_layer_times(layers: Chain, x: torch.Tensor, repeats: int = 5) -> list[float]:
    """Least compute time of each layer on its real input over ``repeats`` runs (after a warm-up
    pass); the least, not the median, because the CPU is shared with other processes."""
    times: list[list[float]] = [[] for _ in layers]
    with torch.inference_mode():
        for r in range(repeats + 1):
            h = x
            for i, (_, m) in enumerate(layers):
                t = time.perf_counter()
                h = m(h)
                if r:
                    times[i].append(time.perf_counter() - t)
    return [min(t) for t in times]


def predict_finish(bits: Sequence[float], compute_s: Sequence[float], rate_bps: float, mode: str) -> float:
    """The model's end-to-end time: recursion (R) (pipelined) or download-then-infer."""
    d = c = 0.0
    if mode == "sequential":
        return sum(bits) / rate_bps + sum(compute_s)
    for b, t in zip(bits, compute_s, strict=True):
        d += b / rate_bps
        c = max(c, d) + t
    return c


def compare(models: dict[str, tuple[Callable[[], Chain], torch.Tensor]], rates_bps: Sequence[float],
            repeats: int = 1, threads: int | None = 1) -> list[dict[str, Any]]:
    """Measured vs predicted end-to-end time for each model, rate and mode (rows for a table).

    Each configuration is streamed ``repeats`` times (the fastest run is kept) and the layer
    compute times are re-measured just before it; ``threads`` fixes torch's intra-op threads.
    """
    if threads is not None:
        torch.set_num_threads(threads)
    rows = []
    for name, (builder, x) in models.items():
        layers = builder()
        ref = None
        with torch.inference_mode():
            h = x
            for _, m in layers:
                h = m(h)
            ref = h
        for rate in rates_bps:
            for mode in ("pipelined", "sequential"):
                comp = measure_layer_times(layers, x)
                best = None
                for _ in range(repeats):
                    res = stream_and_infer(builder, x, rate, mode=mode, server_layers=layers)
                    if not torch.allclose(res.output, ref, rtol=1e-5, atol=1e-6):
                        raise StreamError(f"{name}: streamed output differs from the local model")
                    if best is None or res.total_s < best.total_s:
                        best = res
                comp = [min(a, b) for a, b in zip(comp, measure_layer_times(layers, x), strict=True)]
                assert best is not None
                pred = predict_finish(best.bits, comp, rate, mode)
                rows.append({"model": name, "rate_mbps": rate / 1e6, "mode": mode,
                             "megabits": sum(best.bits) / 1e6, "compute_s": sum(comp),
                             "measured_s": best.total_s, "predicted_s": pred,
                             "error_pct": 100.0 * (best.total_s - pred) / pred})
    return rows
