"""The quick-ACK relay between getscu and the PACS (the fallback of ``pacs.quick_ack``): bytes
pass unchanged both ways, the end of either side's data reaches the other, an unreachable
PACS is one clear error, and a relay nobody connected to ends at once."""

from __future__ import annotations

import hashlib
import socket
import threading
import time

import pytest

from coloc_viewer.pacs.ack_relay import AckRelay, relay_available
from coloc_viewer.pacs.errors import PacsError
from coloc_viewer.pacs.orthanc_local import free_port

pytestmark = pytest.mark.skipif(not relay_available(), reason="Linux only (TCP_QUICKACK)")


class DigestServer:
    """Reads everything a client sends until it half-closes, answers with the SHA-256 of it
    followed by ``reply`` bytes, then closes."""

    def __init__(self, reply: bytes):
        self.reply = reply
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.sock.accept()
        with conn:
            digest = hashlib.sha256()
            while chunk := conn.recv(1 << 16):
                digest.update(chunk)
            conn.sendall(digest.digest() + self.reply)


def read_all(sock: socket.socket) -> bytes:
    parts = []
    while chunk := sock.recv(1 << 16):
        parts.append(chunk)
    return b"".join(parts)


def test_bytes_pass_unchanged_both_ways() -> None:
    rng_bytes = hashlib.shake_256(b"relay").digest(3_000_000)  # 3 MB each way
    server = DigestServer(reply=rng_bytes[::-1])
    with AckRelay("127.0.0.1", server.port, timeout=5) as relay, \
            socket.create_connection(("127.0.0.1", relay.port), timeout=10) as client:
        client.sendall(rng_bytes)
        client.shutdown(socket.SHUT_WR)  # the server answers once it saw the end
        answer = read_all(client)
    assert answer[:32] == hashlib.sha256(rng_bytes).digest()
    assert answer[32:] == rng_bytes[::-1]


def test_a_server_that_closes_closes_the_client() -> None:
    listener = socket.create_server(("127.0.0.1", 0))

    def hang_up() -> None:
        conn, _ = listener.accept()
        conn.sendall(b"bye")
        conn.close()

    threading.Thread(target=hang_up, daemon=True).start()
    with AckRelay("127.0.0.1", listener.getsockname()[1], timeout=5) as relay, \
            socket.create_connection(("127.0.0.1", relay.port), timeout=5) as client:
        assert read_all(client) == b"bye"  # then EOF, not a hang
    listener.close()


def test_unreachable_pacs_is_one_line() -> None:
    port = free_port()
    with pytest.raises(PacsError, match=f"cannot connect to 127.0.0.1:{port}") as err, \
            AckRelay("127.0.0.1", port, timeout=2, label="nowhere"):
        pass
    assert "\n" not in str(err.value)


def test_closed_before_anyone_connected() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    t0 = time.monotonic()
    with AckRelay("127.0.0.1", listener.getsockname()[1], timeout=5) as relay:
        port = relay.port
    assert time.monotonic() - t0 < 2
    with pytest.raises(OSError):  # the relay no longer listens
        socket.create_connection(("127.0.0.1", port), timeout=1)
    listener.close()
