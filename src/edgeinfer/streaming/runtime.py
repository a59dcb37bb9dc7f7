"""A real SLIDE streaming runtime over TCP (imports torch; never imported by the solvers).

A :class:`LayerServer` thread listens (on ``127.0.0.1`` by default) and sends a model's logical
layers (their real tensors, one safetensors blob per layer) in order, paced at a set rate by a
token bucket. The client (:func:`receive_and_infer`; :func:`stream_and_infer` runs both ends on
loopback) knows the architecture (a skeleton on the ``meta`` device, no weights) and runs each
layer on the CPU as soon as its weights have arrived and its input is ready (``pipelined``), or
only after the whole model arrived (``sequential``).

Wire format, one frame per layer::

    magic b"SLD1" | layer index (u32, big-endian) | payload length (u64) | digest (32 B) | payload

ending with a frame of index ``0xFFFFFFFF`` and length 0. The digest is sha256(payload), or,
after a handshake, HMAC-SHA256(session key, index | length | payload).

Nothing the peer sends is trusted: the client checks each frame against the skeleton before
using it. A length above what the layer's tensors need (their bytes plus a header allowance) is
refused before any of it is received or allocated; tensors with other names, dtypes or shapes,
a bad magic or index are refused (:class:`FrameRejectedError`); the connection is closed with
that one error. A connection that closes early raises :class:`StreamDroppedError`; a payload
whose digest differs raises :class:`LayerCorruptedError` (all :class:`StreamError`, an
:class:`~edgeinfer.core.errors.EdgeInferError`): the client never computes with weights it did
not verify, and never returns a result unless every layer arrived.

Shared-secret handshake (``secret=``, at least 16 bytes; required to listen on anything but
loopback, the server refuses to start otherwise): the server sends ``b"SLDH"`` and a 32-byte
random challenge ``ns``; the client answers its own ``nc`` and ``HMAC(secret, "SLD1 client" ns
nc)``; the server checks it (else it closes the connection) and proves itself with
``HMAC(secret, "SLD1 server" nc ns)``; both derive the session key ``HMAC(secret, "SLD1
session" ns nc)``. A failed handshake is a :class:`StreamAuthError`. Every wait is bounded
(accept, each read and write, each layer).

The prediction beside each measurement is the model of docs/streaming.md: ``D_l`` = the bits of
frames ``1..l`` over the rate, ``C_l = max(C_{l-1}, D_l) + t_l`` with ``t_l`` each layer's
compute time measured alone beforehand (least of a few runs). With calibrated per-layer costs
(:class:`StreamCosts`, :func:`measure_stream_costs`; issue 15) the receiver thread is modelled
too: frame ``l`` is ready at ``R_l = max(R_{l-1}, D_l) + r_l`` (``r_l = recv_fixed_s +
recv_s_per_byte * bytes_l``: socket reads, digest, safetensors decoding, checks) and
``C_l = max(C_{l-1}, R_l) + apply_fixed_s + t_l`` (``load_state_dict`` and the hand-off).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
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

from edgeinfer.core.errors import EdgeInferError, InvalidOptionError

__all__ = ["StreamError", "StreamDroppedError", "LayerCorruptedError", "FrameRejectedError", "StreamAuthError",
           "LayerServer", "StreamResult", "mlp_chain", "cnn_chain", "zoo_chain", "layer_payloads", "is_loopback",
           "receive_and_infer", "stream_and_infer", "measure_layer_times", "predict_finish", "compare",
           "StreamCosts", "measure_stream_costs"]

MAGIC = b"SLD1"
HEADER = struct.Struct(">4sIQ32s")
END = 0xFFFFFFFF
#: first bytes the server sends when it has a secret: ``HELLO`` + a random challenge
HELLO = b"SLDH"
NONCE_BYTES = 32
MIN_SECRET_BYTES = 16


class StreamError(EdgeInferError):
    """The layer stream failed; no result is returned."""


class StreamDroppedError(StreamError):
    """The connection closed before every layer arrived."""


class LayerCorruptedError(StreamError):
    """A layer's payload does not match its sha256 digest (or is not a valid tensor blob)."""


class FrameRejectedError(LayerCorruptedError):
    """A frame asks for what the architecture does not have: more bytes than the layer's tensors
    need, other tensor names, dtypes or shapes, a bad magic or index."""


class StreamAuthError(StreamError):
    """The shared-secret handshake failed (or one side has a secret and the other none)."""


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


# ------------------------------------------------------------------------------------------ handshake


def _secret_bytes(secret: bytes | str | None) -> bytes | None:
    if secret is None:
        return None
    key = secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
    if len(key) < MIN_SECRET_BYTES:
        raise InvalidOptionError("secret", f"needs at least {MIN_SECRET_BYTES} bytes, got {len(key)}")
    return key


def is_loopback(host: str) -> bool:
    """Whether every address ``host`` stands for is a loopback address (``127.0.0.0/8``, ``::1``,
    ``localhost``); ``""`` and ``0.0.0.0`` (every interface) are not."""
    if host in ("", "0.0.0.0", "::"):
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    if host.lower() != "localhost":
        try:
            infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
        except OSError:
            return False
        return bool(infos) and all(ipaddress.ip_address(i[4][0]).is_loopback for i in infos)
    return True


def _mac(key: bytes, label: bytes, *parts: bytes) -> bytes:
    return hmac.new(key, label + b"".join(parts), hashlib.sha256).digest()


def _frame_digest(session: bytes | None, idx: int, payload: bytes) -> bytes:
    """sha256 of the payload, or (after a handshake) its HMAC under the session key, bound to
    the layer index and length so a frame cannot be replayed in another place."""
    if session is None:
        return hashlib.sha256(payload).digest()
    return hmac.new(session, struct.pack(">IQ", idx, len(payload)) + payload, hashlib.sha256).digest()


# ------------------------------------------------------------------------------------------ server


class LayerServer:
    """Sends the payloads to one client over TCP at ``rate_bps`` (token bucket).

    It listens on ``host`` (default ``127.0.0.1``). On any address that is not loopback it
    refuses to start without a ``secret`` (:class:`~edgeinfer.core.errors.InvalidOptionError`);
    with a secret, the client must answer an HMAC-SHA256 challenge before any byte of a layer
    is sent, the server proves it knows the secret too, and each frame's digest is an HMAC
    under a per-connection key. It serves one connection, waits at most ``accept_timeout_s``
    for it and ``io_timeout_s`` for each read or write, then stops.

    ``fault``: ``None``; ``"drop"`` closes the connection halfway through layer ``fault_layer``;
    ``"corrupt"`` flips one payload byte of layer ``fault_layer`` after its digest was computed.
    """

    def __init__(self, payloads: Sequence[bytes], rate_bps: float, *, host: str = "127.0.0.1", port: int = 0,
                 secret: bytes | str | None = None, chunk_bytes: int = 16384, fault: str | None = None,
                 fault_layer: int = 1, accept_timeout_s: float = 60.0, io_timeout_s: float = 30.0) -> None:
        if rate_bps <= 0:
            raise ValueError("rate_bps must be positive")
        self.key = _secret_bytes(secret)
        if self.key is None and not is_loopback(host):
            raise InvalidOptionError("secret", f"refusing to listen on {host or 'every interface'!r} (not loopback) "
                                               "without a shared secret: pass secret=... to server and client")
        self.payloads = list(payloads)
        self.rate_bps = float(rate_bps)
        self.chunk = int(chunk_bytes)
        self.fault = fault
        self.fault_layer = fault_layer
        self.io_timeout_s = float(io_timeout_s)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.sock.bind((host, port))
            self.sock.listen(1)
        except OSError:
            self.sock.close()
            raise
        self.sock.settimeout(float(accept_timeout_s))
        self.host = host
        self.port = self.sock.getsockname()[1]
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def start(self) -> LayerServer:
        self.thread.start()
        return self

    def _handshake(self, conn: socket.socket) -> bytes | None:
        """Challenge the client; return the session key (``None`` without a secret)."""
        if self.key is None:
            return None
        nonce_s = os.urandom(NONCE_BYTES)
        conn.sendall(HELLO + nonce_s)
        reply = _recv_exact(conn, NONCE_BYTES + 32, "the client's handshake")
        nonce_c, mac_c = reply[:NONCE_BYTES], reply[NONCE_BYTES:]
        if not hmac.compare_digest(mac_c, _mac(self.key, b"SLD1 client", nonce_s, nonce_c)):
            raise StreamAuthError("the client failed the shared-secret handshake; connection closed")
        conn.sendall(_mac(self.key, b"SLD1 server", nonce_c, nonce_s))
        return _mac(self.key, b"SLD1 session", nonce_s, nonce_c)

    def _serve(self) -> None:
        try:
            conn, _ = self.sock.accept()
            with conn:
                conn.settimeout(self.io_timeout_s)
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                session = self._handshake(conn)
                bucket = _TokenBucket(self.rate_bps, self.chunk)
                for i, p in enumerate(self.payloads):
                    digest = _frame_digest(session, i, p)
                    if self.fault == "corrupt" and i == self.fault_layer and p:
                        p = bytes([p[0] ^ 0xFF]) + p[1:]
                    frame = HEADER.pack(MAGIC, i, len(p), digest) + p
                    if self.fault == "drop" and i == self.fault_layer:
                        bucket.send(conn, frame[: len(frame) // 2])
                        return
                    bucket.send(conn, frame)
                conn.sendall(HEADER.pack(MAGIC, END, 0, b"\0" * 32))
        except (OSError, StreamError) as exc:  # client went away, never came, or failed the handshake
            self.error = exc
        finally:
            self.sock.close()

    def close(self) -> None:
        """Stop listening (a pending ``accept`` ends)."""
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


@dataclass(frozen=True)
class _LayerSpec:
    """What a layer's frame must hold: tensor name -> (dtype, shape), and its largest size."""

    tensors: dict[str, tuple[torch.dtype, tuple[int, ...]]]
    max_bytes: int


def _layer_specs(skeleton: Chain) -> list[_LayerSpec]:
    """From the weightless skeleton: each layer's tensors and the most bytes its safetensors blob
    can take (the tensors' bytes plus a generous header allowance)."""
    specs = []
    for _, m in skeleton:
        sd = m.state_dict()
        tensors = {k: (v.dtype, tuple(v.shape)) for k, v in sd.items()}
        data = sum(v.numel() * v.element_size() for v in sd.values())
        header = 8 + 1024 + sum(256 + 2 * len(k) + 24 * len(v.shape) for k, v in sd.items())
        specs.append(_LayerSpec(tensors, data + header))
    return specs


def _check_tensors(idx: int, sd: dict[str, torch.Tensor], spec: _LayerSpec) -> None:
    if set(sd) != set(spec.tensors):
        extra, missing = sorted(set(sd) - set(spec.tensors)), sorted(set(spec.tensors) - set(sd))
        raise FrameRejectedError(f"layer {idx}: tensors do not match the architecture (unexpected {extra[:3]}, "
                                 f"missing {missing[:3]}); connection closed")
    for k, (dtype, shape) in spec.tensors.items():
        t = sd[k]
        if t.dtype != dtype or tuple(t.shape) != shape:
            raise FrameRejectedError(f"layer {idx}: tensor {k} is {t.dtype} {list(t.shape)}, the architecture "
                                     f"needs {dtype} {list(shape)}; connection closed")


def _client_handshake(conn: socket.socket, key: bytes | None) -> bytes | None:
    """Read the server's first bytes; with a secret, answer its challenge and check its proof.
    Returns the session key, or ``None`` (no secret: the first frame's magic was already read,
    so the caller gets it back through ``_Pending``)."""
    magic = _recv_exact(conn, 4, "the first frame")
    if magic == HELLO:
        if key is None:
            raise StreamAuthError("the server requires a shared secret (pass secret=...)")
        nonce_s = _recv_exact(conn, NONCE_BYTES, "the server's challenge")
        nonce_c = os.urandom(NONCE_BYTES)
        conn.sendall(nonce_c + _mac(key, b"SLD1 client", nonce_s, nonce_c))
        try:
            proof = _recv_exact(conn, 32, "the server's proof")
        except StreamDroppedError:
            raise StreamAuthError("the server closed the connection during the handshake "
                                  "(the secrets differ?)") from None
        if not hmac.compare_digest(proof, _mac(key, b"SLD1 server", nonce_c, nonce_s)):
            raise StreamAuthError("the server failed the shared-secret handshake; connection closed")
        return _mac(key, b"SLD1 session", nonce_s, nonce_c)
    if key is not None:
        raise StreamAuthError("the server did not authenticate (no handshake) although a secret was given")
    raise _Pending(magic)


class _Pending(Exception):  # noqa: N818 - internal control flow: the first frame's magic, already read
    def __init__(self, magic: bytes) -> None:
        self.magic = magic


def _receiver(host: str, port: int, specs: list[_LayerSpec], out: queue.Queue, t0: list[float],
              key: bytes | None, io_timeout_s: float) -> None:
    """Receive frames, check them, put ``(index, state_dict, arrival_s, frame_bytes)`` (or an exception)."""
    n_layers = len(specs)
    try:
        with socket.create_connection((host, port), timeout=io_timeout_s) as conn:
            t0.append(time.perf_counter())
            first: bytes | None = None
            try:
                session = _client_handshake(conn, key)
            except _Pending as p:
                session, first = None, p.magic
            for expected in range(n_layers + 1):
                what = f"frame {expected} header"
                raw = (first + _recv_exact(conn, HEADER.size - 4, what)) if first is not None else \
                    _recv_exact(conn, HEADER.size, what)
                first = None
                magic, idx, length, digest = HEADER.unpack(raw)
                if magic != MAGIC:
                    raise FrameRejectedError(f"frame {expected}: bad magic {magic!r}; connection closed")
                if idx == END:
                    if expected != n_layers:
                        raise StreamDroppedError(f"stream ended after {expected} of {n_layers} layers")
                    if length != 0:
                        raise FrameRejectedError(f"end-of-stream frame claims {length} bytes; connection closed")
                    out.put(None)
                    return
                if idx != expected:
                    raise FrameRejectedError(f"frame {expected}: got layer index {idx}; connection closed")
                cap = specs[idx].max_bytes
                if length > cap:  # refuse before receiving (or allocating) anything of it
                    raise FrameRejectedError(f"layer {idx}: frame claims {length} bytes, its architecture needs at "
                                             f"most {cap}; connection closed")
                payload = _recv_exact(conn, length, f"layer {idx} ({length} bytes)")
                if not hmac.compare_digest(_frame_digest(session, idx, payload), digest):
                    raise LayerCorruptedError(f"layer {idx}: {'HMAC' if session else 'sha256'} mismatch "
                                              "(corrupted in transit)")
                try:
                    sd = st_load(payload)
                except Exception as exc:  # noqa: BLE001 - any decoding failure is a corrupted layer
                    raise LayerCorruptedError(f"layer {idx}: not a valid safetensors blob ({exc})") from None
                _check_tensors(idx, sd, specs[idx])
                out.put((idx, sd, time.perf_counter(), HEADER.size + length))
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


def receive_and_infer(host: str, port: int, builder: Callable[[], Chain], x: torch.Tensor, *,
                      mode: str = "pipelined", secret: bytes | str | None = None, timeout_s: float = 120.0,
                      io_timeout_s: float = 30.0, rate_bps: float = float("nan")) -> StreamResult:
    """The client: connect to a :class:`LayerServer` at ``host:port``, receive every layer of
    ``builder()`` and run ``x`` through them (``pipelined`` or ``sequential``).

    Every frame is checked against the weightless skeleton of ``builder()`` before it is used:
    a length above what the layer's tensors need is refused before anything of it is received;
    tensors with other names, dtypes or shapes are refused. ``secret``: the server's shared
    secret (needed when it has one). Any failure is a :class:`StreamError` and closes the
    connection; no result is returned unless every layer arrived and passed its digest.
    """
    if mode not in ("pipelined", "sequential"):
        raise ValueError(f"unknown mode {mode!r}")
    key = _secret_bytes(secret)
    skeleton = _skeleton(builder)
    specs = _layer_specs(skeleton)
    q: queue.Queue = queue.Queue()
    t0: list[float] = []
    rx = threading.Thread(target=_receiver, args=(host, port, specs, q, t0, key, io_timeout_s), daemon=True)
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
    bits: list[float] = []
    with torch.inference_mode():
        if mode == "sequential":
            items = [get() for _ in skeleton]
            if get() is not None:
                raise LayerCorruptedError("extra frame after the last layer")
        h = x
        for i, (_, module) in enumerate(skeleton):
            idx, sd, t_arr, nbytes = items[i] if mode == "sequential" else get()
            try:
                module.load_state_dict(sd, strict=True, assign=True)
            except RuntimeError as exc:
                raise LayerCorruptedError(f"layer {idx}: tensors do not fit the architecture ({exc})") from None
            module.eval()
            arrival.append(t_arr - t0[0])
            bits.append(8.0 * nbytes)
            h = module(h)
            done.append(time.perf_counter() - t0[0])
        if mode == "pipelined" and get() is not None:
            raise LayerCorruptedError("extra frame after the last layer")
    rx.join(5)
    return StreamResult(output=h, mode=mode, rate_bps=rate_bps, total_s=done[-1], arrival_s=arrival, done_s=done,
                        bits=bits)


def stream_and_infer(builder: Callable[[], Chain], x: torch.Tensor, rate_bps: float, *, mode: str = "pipelined",
                     server_layers: Chain | None = None, fault: str | None = None, fault_layer: int = 1,
                     timeout_s: float = 120.0, secret: bytes | str | None = None) -> StreamResult:
    """Serve ``server_layers`` (default ``builder()``) at ``rate_bps`` on loopback and run them
    on a client (:func:`receive_and_infer`); ``secret`` makes both sides do the handshake.

    The client holds only a weightless skeleton of ``builder()``; every tensor it computes with
    arrived over the socket and passed its checksum. Times are from the connection's start.
    """
    if mode not in ("pipelined", "sequential"):
        raise ValueError(f"unknown mode {mode!r}")
    layers = server_layers if server_layers is not None else builder()
    payloads = layer_payloads(layers)
    server = LayerServer(payloads, rate_bps, fault=fault, fault_layer=fault_layer, secret=secret,
                         accept_timeout_s=timeout_s).start()
    try:
        return receive_and_infer("127.0.0.1", server.port, builder, x, mode=mode, secret=secret,
                                 timeout_s=timeout_s, rate_bps=rate_bps)
    finally:
        server.close()
        server.join(5)


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


@dataclass(frozen=True)
class StreamCosts:
    """Per-layer fixed costs of the client (calibrated by :func:`measure_stream_costs`).

    A frame of ``n`` bytes costs the receiver thread ``recv_fixed_s + recv_s_per_byte * n``
    after it arrived (socket reads into a buffer, the digest, safetensors decoding, the checks
    against the skeleton); the compute side spends ``apply_fixed_s`` on it (``load_state_dict``
    with ``assign=True`` and the queue hand-off) before the layer runs.
    """

    recv_fixed_s: float = 0.0
    recv_s_per_byte: float = 0.0
    apply_fixed_s: float = 0.0

    def recv_s(self, frame_bits: float) -> float:
        return self.recv_fixed_s + self.recv_s_per_byte * frame_bits / 8.0


def _least(fn: Callable[[], Any], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def measure_stream_costs(layers: Chain, x: torch.Tensor, repeats: int = 3) -> StreamCosts:
    """Measure the client's per-layer costs on this machine, on ``layers``' own payloads.

    1. The receiver's work on each frame alone (reading the payload out of 64 KiB socket-sized
       pieces into one buffer, sha256, ``safetensors`` decoding, the checks against the
       skeleton), least of ``repeats`` runs, fitted to ``recv_fixed_s + recv_s_per_byte * bytes``
       (least squares, both >= 0).
    2. What running inside the stream adds per layer (``apply_fixed_s``): the chain is streamed
       over loopback at an unpaced rate (1 Tbit/s, so the transfer is negligible) ``repeats``
       times in ``pipelined`` mode, and the fastest run's time beyond the prediction with
       step 1's costs and the layers' compute times measured alone (least of 5 runs), divided
       by the number of layers. It holds ``load_state_dict``, the hand-off between the receiver
       and the compute thread, the three threads' contention for the interpreter lock and the
       cores, and first-call costs of a freshly assigned module.
    """
    if repeats < 1:
        raise InvalidOptionError("repeats", f"must be >= 1, got {repeats}")
    payloads = layer_payloads(layers)
    specs = _layer_specs(layers)
    sizes: list[float] = []
    recv: list[float] = []
    for i, p in enumerate(payloads):

        def receive(p: bytes = p, i: int = i) -> None:
            buf = bytearray()
            view = memoryview(p)
            for k in range(0, len(view), 1 << 16):  # loopback recv() returns about this much
                buf += view[k:k + (1 << 16)]
            data = bytes(buf)
            if not hmac.compare_digest(_frame_digest(None, i, data), hashlib.sha256(p).digest()):
                raise LayerCorruptedError(f"layer {i}: calibration copy differs")
            _check_tensors(i, st_load(data), specs[i])

        recv.append(_least(receive, repeats))
        sizes.append(float(HEADER.size + len(p)))
    fixed, per_byte = _fit_line(sizes, recv)
    base = StreamCosts(recv_fixed_s=fixed, recv_s_per_byte=per_byte)
    rate = 1e12
    best = None
    for _ in range(repeats):
        res = stream_and_infer(lambda: _meta_copy(layers), x, rate, mode="pipelined", server_layers=layers)
        if best is None or res.total_s < best.total_s:
            best = res
    assert best is not None
    comp = measure_layer_times(layers, x)
    extra = (best.total_s - predict_finish(best.bits, comp, rate, "pipelined", base)) / len(layers)
    return StreamCosts(recv_fixed_s=fixed, recv_s_per_byte=per_byte, apply_fixed_s=max(0.0, extra))


def _meta_copy(layers: Chain) -> Chain:
    import copy

    return [(n, copy.deepcopy(m).to("meta")) for n, m in layers]


def _fit_line(x: Sequence[float], y: Sequence[float]) -> tuple[float, float]:
    """Least-squares ``y = a + b x`` with ``a, b >= 0`` (one point or equal x: ``a`` = mean)."""
    n = len(x)
    mx, my = sum(x) / n, sum(y) / n
    sxx = sum((v - mx) ** 2 for v in x)
    if n < 2 or sxx == 0:
        return max(0.0, my), 0.0
    b = sum((u - mx) * (v - my) for u, v in zip(x, y, strict=True)) / sxx
    a = my - b * mx
    if b < 0:
        return max(0.0, my), 0.0
    if a < 0:
        return 0.0, max(0.0, sum(u * v for u, v in zip(x, y, strict=True)) / sum(u * u for u in x))
    return a, b


def predict_finish(bits: Sequence[float], compute_s: Sequence[float], rate_bps: float, mode: str,
                   costs: StreamCosts | None = None) -> float:
    """The model's end-to-end time: recursion (R) (pipelined) or download-then-infer.

    ``costs`` (calibrated per-layer costs) adds the receiver's ``r_l`` and the compute side's
    ``apply_fixed_s`` (module docstring); ``None`` is the paper's model (no fixed costs).
    """
    c = costs if costs is not None else StreamCosts()
    if len(bits) != len(compute_s):
        raise ValueError("bits and compute_s need one entry per layer")
    d = ready = done = 0.0
    for b, t in zip(bits, compute_s, strict=True):
        d += b / rate_bps
        ready = max(ready, d) + c.recv_s(b)
        if mode != "sequential":
            done = max(done, ready) + c.apply_fixed_s + t
    if mode == "sequential":
        return ready + sum(c.apply_fixed_s + t for t in compute_s)
    return done


def compare(models: dict[str, tuple[Callable[[], Chain], torch.Tensor]], rates_bps: Sequence[float],
            repeats: int = 1, threads: int | None = 1, calibrate: bool = True) -> list[dict[str, Any]]:
    """Measured vs predicted end-to-end time for each model, rate and mode (rows for a table).

    Each configuration is streamed ``repeats`` times (the fastest run is kept) and the layer
    compute times are re-measured just before it; ``threads`` fixes torch's intra-op threads.
    ``predicted_s`` is the paper's model (no per-layer costs); with ``calibrate`` the per-layer
    costs are measured once per model (:func:`measure_stream_costs`) and ``calibrated_s`` /
    ``calibrated_error_pct`` use them.
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
        costs = measure_stream_costs(layers, x) if calibrate else None
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
                row = {"model": name, "rate_mbps": rate / 1e6, "mode": mode,
                       "megabits": sum(best.bits) / 1e6, "compute_s": sum(comp),
                       "measured_s": best.total_s, "predicted_s": pred,
                       "error_pct": 100.0 * (best.total_s - pred) / pred}
                if costs is not None:
                    cal = predict_finish(best.bits, comp, rate, mode, costs)
                    row.update(calibrated_s=cal, calibrated_error_pct=100.0 * (best.total_s - cal) / cal,
                               recv_fixed_ms=1e3 * costs.recv_fixed_s, apply_fixed_ms=1e3 * costs.apply_fixed_s,
                               recv_ns_per_byte=1e9 * costs.recv_s_per_byte)
                rows.append(row)
    return rows
