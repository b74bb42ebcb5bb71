"""A loopback relay between DCMTK's ``getscu`` and the PACS that acknowledges the PACS's data
at once (Linux ``TCP_QUICKACK`` after every read): the fallback of :mod:`.quick_ack` where
borrowing getscu's own socket is refused (why quick ACKs matter: see there).

The relay connects to the PACS first (so an unreachable server is one clear error, not an
association that dies), then takes exactly one connection on 127.0.0.1 and moves bytes both
ways with ``os.splice`` (kernel to kernel, no copy through Python). The end of one side's
data is passed on (half-close) and the relay ends when both have ended or either resets.
No data is read or logged.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import selectors
import socket
import threading
from types import TracebackType

from coloc_viewer.pacs.errors import PacsError
from coloc_viewer.pacs.tcp_ack import TCP_QUICKACK, ack_now

log = logging.getLogger(__name__)

__all__ = ["AckRelay", "relay_available"]

PIPE_BYTES = 1 << 20  # the pipe between the two sockets (Linux's unprivileged maximum)


def relay_available() -> bool:
    """True where the relay works (Linux: ``TCP_QUICKACK``, ``os.splice``)."""
    return TCP_QUICKACK is not None and hasattr(os, "splice")


class _Pipe:
    """A kernel pipe that carries one direction's bytes from one socket to the other."""

    def __init__(self) -> None:
        self.read_end, self.write_end = os.pipe()
        with contextlib.suppress(OSError, AttributeError):
            fcntl.fcntl(self.write_end, fcntl.F_SETPIPE_SZ, PIPE_BYTES)

    def move(self, src: socket.socket, dst: socket.socket) -> int:
        """Bytes waiting on ``src`` into ``dst`` (0: ``src`` has closed)."""
        try:
            n = os.splice(src.fileno(), self.write_end, PIPE_BYTES,
                          flags=os.SPLICE_F_MOVE | os.SPLICE_F_NONBLOCK)
        except BlockingIOError:
            return -1
        left = n
        while left:
            left -= os.splice(self.read_end, dst.fileno(), left, flags=os.SPLICE_F_MOVE)
        return n

    def close(self) -> None:
        for fd in (self.read_end, self.write_end):
            with contextlib.suppress(OSError):
                os.close(fd)


class AckRelay:
    """``with AckRelay(host, port, timeout) as relay:`` point the receiver at
    ``127.0.0.1:relay.port``. Raises :class:`PacsError` when the PACS cannot be reached."""

    def __init__(self, host: str, port: int, timeout: float, label: str = ""):
        self.host, self.upstream_port, self.timeout, self.label = host, port, timeout, label
        self._listener: socket.socket | None = None
        self._upstream: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    @property
    def port(self) -> int:
        assert self._listener is not None, "use the relay as a context manager"
        return int(self._listener.getsockname()[1])

    def __enter__(self) -> AckRelay:
        try:
            self._upstream = socket.create_connection((self.host, self.upstream_port),
                                                      timeout=min(self.timeout, 10.0))
        except OSError:
            raise PacsError(f"cannot connect to {self.host}:{self.upstream_port} "
                            "(unreachable or not listening)", self.label) from None
        self._upstream.settimeout(None)
        self._upstream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(1)
        self._thread = threading.Thread(target=self._run, name="ack-relay", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        for sock in (self._listener, self._upstream):
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)
        for sock in (self._listener, self._upstream):
            if sock is not None:
                sock.close()

    def _accept(self) -> socket.socket | None:
        """The receiver's connection (None when the relay is closed before it came)."""
        assert self._listener is not None
        self._listener.settimeout(0.2)
        while not self._stop.is_set():
            try:
                down, _peer = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return None
            self._listener.close()  # one connection only
            down.settimeout(None)
            down.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return down
        return None

    def _run(self) -> None:
        up = self._upstream
        assert up is not None
        down = self._accept()
        if down is None:
            return
        pipes = {up: _Pipe(), down: _Pipe()}
        try:
            with selectors.DefaultSelector() as sel:
                sel.register(up, selectors.EVENT_READ, down)
                sel.register(down, selectors.EVENT_READ, up)
                while sel.get_map() and not self._stop.is_set():
                    for key, _events in sel.select(timeout=0.5):
                        src: socket.socket = key.fileobj  # type: ignore[assignment]
                        n = pipes[src].move(src, key.data)
                        if src is up:
                            ack_now(up)
                        if n == 0:  # this side is done sending: tell the other one
                            sel.unregister(src)
                            key.data.shutdown(socket.SHUT_WR)
        except OSError as err:  # reset by either side: both go down
            log.debug("ack relay: %s", err.strerror or type(err).__name__)
        finally:
            for sock in (down, up):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            down.close()
            for pipe in pipes.values():
                pipe.close()
