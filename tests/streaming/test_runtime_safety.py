"""The streaming runtime trusts no peer (issue 13): frames are checked against the skeleton
(a huge length prefix, a wrong dtype or shape closes the connection with one error and nothing
of the claimed size is allocated), and a shared-secret handshake guards it; listening on
anything but loopback needs a secret. Everything runs on 127.0.0.1 and stops by itself."""

from __future__ import annotations

import socket
import threading
import time
import tracemalloc

import pytest

torch = pytest.importorskip("torch")

from safetensors.torch import save as st_save  # noqa: E402

from edgeinfer.core.errors import InvalidOptionError  # noqa: E402
from edgeinfer.streaming.runtime import (  # noqa: E402
    END,
    HEADER,
    MAGIC,
    FrameRejectedError,
    LayerCorruptedError,
    LayerServer,
    StreamAuthError,
    StreamDroppedError,
    is_loopback,
    layer_payloads,
    mlp_chain,
    receive_and_infer,
    stream_and_infer,
)

SECRET = b"correct horse battery staple"


def _builder():
    return mlp_chain(32, 2, seed=1)


class _RawPeer:
    """A hostile server on 127.0.0.1: sends ``data`` to the first client, then records whether
    the client closed the connection (it must, by itself, within ``wait_s``)."""

    def __init__(self, data: bytes, wait_s: float = 5.0) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.sock.settimeout(wait_s)
        self.port = self.sock.getsockname()[1]
        self.data, self.wait_s = data, wait_s
        self.client_closed = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            conn, _ = self.sock.accept()
            with conn:
                conn.settimeout(self.wait_s)
                conn.sendall(self.data)
                self.client_closed = conn.recv(1) == b""
        except OSError:
            pass
        finally:
            self.sock.close()

    def join(self) -> None:
        self.thread.join(self.wait_s + 1)


def _frame(idx: int, payload: bytes, length: int | None = None) -> bytes:
    import hashlib

    n = len(payload) if length is None else length
    return HEADER.pack(MAGIC, idx, n, hashlib.sha256(payload).digest()) + payload


def _client(port: int, **kw):
    return receive_and_infer("127.0.0.1", port, _builder, torch.randn(2, 32), timeout_s=10, io_timeout_s=5, **kw)


def test_huge_length_prefix_is_refused_before_any_allocation() -> None:
    with pytest.raises(StreamDroppedError):  # warm-up (imports, skeleton) outside the traced part
        _client(_RawPeer(b"", wait_s=1).port)
    peer = _RawPeer(HEADER.pack(MAGIC, 0, 2**62, b"\0" * 32), wait_s=20)
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        with pytest.raises(FrameRejectedError, match=r"layer 0: frame claims 4611686018427387904 bytes.*at most \d+"):
            _client(peer.port)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    peer.join()
    assert time.perf_counter() - t0 < 15 and peak < 50 * 2**20
    assert peer.client_closed


def test_a_length_just_above_the_layer_is_refused() -> None:
    good = layer_payloads(_builder())
    from edgeinfer.streaming.runtime import _layer_specs, _skeleton

    cap = _layer_specs(_skeleton(_builder))[0].max_bytes
    assert len(good[0]) <= cap < 2 * len(good[0])  # the cap is tight, not a blanket limit
    peer = _RawPeer(_frame(0, b"", length=cap + 1))
    with pytest.raises(FrameRejectedError, match="layer 0: frame claims"):
        _client(peer.port)
    peer.join()
    assert peer.client_closed


def _tensors(layer: int = 0) -> dict[str, torch.Tensor]:
    return {k: v.detach().contiguous() for k, v in _builder()[layer][1].state_dict().items()}


@pytest.mark.parametrize(("edit", "match"), [
    (lambda t: t.update({"0.weight": t["0.weight"].half()}), r"tensor 0\.weight is torch\.float16"),
    (lambda t: t.update({"0.weight": t["0.weight"].to(torch.int32)}), r"tensor 0\.weight is torch\.int32"),
    (lambda t: t.update({"0.weight": t["0.weight"].reshape(16, 64)}), r"tensor 0\.weight .*\[16, 64\].*\[32, 32\]"),
    (lambda t: t.update({"evil": torch.zeros(1)}), "unexpected"),
    (lambda t: t.pop("0.bias"), "missing"),
])
def test_wrong_dtype_shape_or_names_close_the_connection(edit, match) -> None:
    t = _tensors()
    edit(t)
    peer = _RawPeer(_frame(0, st_save(t)))
    with pytest.raises(FrameRejectedError, match=match) as ei:
        _client(peer.port)
    assert "connection closed" in str(ei.value) and "\n" not in str(ei.value)
    peer.join()
    assert peer.client_closed


def test_bad_magic_index_and_end_frame_are_refused() -> None:
    for data, match in [(b"EVIL" + b"\0" * 44, "bad magic"),
                        (_frame(1, st_save(_tensors())), "got layer index 1"),
                        (b"".join([_frame(i, p) for i, p in enumerate(layer_payloads(_builder()))])
                         + HEADER.pack(MAGIC, END, 5, b"\0" * 32), "end-of-stream frame claims 5")]:
        peer = _RawPeer(data)
        with pytest.raises(LayerCorruptedError, match=match):
            _client(peer.port)
        peer.join()


def test_a_silent_server_times_out() -> None:
    peer = _RawPeer(b"", wait_s=3)
    t0 = time.perf_counter()
    with pytest.raises(StreamDroppedError):
        receive_and_infer("127.0.0.1", peer.port, _builder, torch.randn(2, 32), timeout_s=10, io_timeout_s=0.5)
    assert time.perf_counter() - t0 < 3
    peer.join()


# ------------------------------------------------------------------------------------ handshake


def test_non_loopback_needs_a_secret() -> None:
    for host in ("0.0.0.0", "", "::", "192.0.2.1"):
        assert not is_loopback(host)
        with pytest.raises(InvalidOptionError, match="refusing to listen .* without a shared secret"):
            LayerServer([b""], 1e6, host=host)
    for host in ("127.0.0.1", "127.1.2.3", "::1", "localhost"):
        assert is_loopback(host)
    with pytest.raises(InvalidOptionError, match="at least 16 bytes"):
        LayerServer([b""], 1e6, secret=b"short")


def test_secret_handshake_streams_the_same_output() -> None:
    layers = _builder()
    x = torch.randn(2, 32)
    res = stream_and_infer(_builder, x, 1e9, server_layers=layers, secret=SECRET, timeout_s=10)
    with torch.inference_mode():
        ref = x
        for _, m in layers:
            ref = m(ref)
    assert torch.allclose(res.output, ref)


def _server(secret, **kw) -> LayerServer:
    return LayerServer(layer_payloads(_builder()), 1e9, secret=secret, accept_timeout_s=5, io_timeout_s=5,
                       **kw).start()


@pytest.mark.parametrize(("server_secret", "client_secret", "match"), [
    (SECRET, b"a different secret, long enough", "secrets differ|failed the shared-secret"),
    (SECRET, None, "requires a shared secret"),
    (None, SECRET, "did not authenticate"),
])
def test_handshake_failures_are_one_clear_error(server_secret, client_secret, match) -> None:
    srv = _server(server_secret)
    with pytest.raises(StreamAuthError, match=match):
        _client(srv.port, secret=client_secret)
    srv.close()
    srv.join(6)
    assert not srv.thread.is_alive()
    if server_secret is not None and client_secret is not None:
        assert isinstance(srv.error, StreamAuthError)  # the server refused the client too


def test_a_client_that_cannot_answer_gets_nothing() -> None:
    """Before the handshake succeeds not one byte of a layer is sent."""
    srv = _server(SECRET)
    got = b""
    with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as c:
        c.sendall(b"\0" * 64)  # a wrong answer
        try:
            while chunk := c.recv(65536):
                got += chunk
        except OSError:
            pass
    srv.join(6)
    assert got[:4] == b"SLDH" and len(got) == 4 + 32
    assert isinstance(srv.error, StreamAuthError)


def test_server_stops_by_itself_without_a_client() -> None:
    srv = LayerServer([b""], 1e6, accept_timeout_s=0.2).start()
    srv.join(3)
    assert not srv.thread.is_alive() and isinstance(srv.error, OSError)
