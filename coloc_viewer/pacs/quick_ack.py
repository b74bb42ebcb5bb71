"""Quick ACKs for DCMTK's ``getscu``: how its C-GET avoids a PACS's Nagle stall.

A PACS that keeps Nagle's algorithm on its DICOM sockets (Debian's Orthanc) holds the last
segment of each C-STORE until its earlier data is acknowledged, and a receiving Linux kernel
that sees a request/response exchange delays that acknowledgement by up to 40 ms: ~46 ms
per instance (40 x 128 x 128 from Debian's Orthanc: 1.85 s). getscu cannot ask for quick
ACKs itself. Two ways to do it for it (Linux ``TCP_QUICKACK``), chosen by
:func:`quick_ack_mode`:

* ``borrow`` (preferred): a duplicate of getscu's own socket, taken with ``pidfd_getfd``
  (Linux 5.6+, allowed for our own child unless a sandbox forbids it), gets
  ``TCP_QUICKACK`` every half millisecond while getscu runs; a pending ACK then goes out at
  once. No byte passes through us: 40 x 128 x 128 in 0.08 s, 200 x 512 x 512 0.48 -> 0.27 s.
* ``relay`` (where borrowing is refused): :class:`~coloc_viewer.pacs.ack_relay.AckRelay`,
  a loopback relay whose socket to the PACS asks for quick ACKs: as fast for small
  instances, but every byte crosses loopback twice (0.32 s for 200 x 512 x 512, and on two
  cores it slows the decoding beside it).
* ``off``: getscu connects directly (``$COLOC_VIEWER_QUICK_ACK=off``, or not Linux).

``$COLOC_VIEWER_QUICK_ACK`` (``auto``, the default, ``borrow``, ``relay`` or ``off``)
overrides the choice.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import logging
import os
import platform
import socket
import subprocess
import threading
import time
from types import TracebackType

from coloc_viewer.pacs.ack_relay import relay_available
from coloc_viewer.pacs.tcp_ack import TCP_QUICKACK, ack_now

log = logging.getLogger(__name__)

__all__ = ["ENV_QUICK_ACK", "MODES", "BorrowedAcks", "borrowing_works", "quick_ack_mode"]

ENV_QUICK_ACK = "COLOC_VIEWER_QUICK_ACK"
MODES = ("auto", "borrow", "relay", "off")
POKE_S = 0.0005  # how often the borrowed socket is asked for a quick ACK (0.5-4 ms tried)
FIND_S = 0.0005  # how often getscu's descriptors are looked at until its socket exists
# pidfd_getfd has the same number on every Linux architecture but Alpha (since 5.6)
_SYS_PIDFD_GETFD = 438 if platform.machine() not in ("alpha",) else None


def _pidfd_getfd(pidfd: int, target_fd: int) -> int:
    """A duplicate, in this process, of another process's descriptor (raises OSError)."""
    if _SYS_PIDFD_GETFD is None:
        raise OSError(38, "pidfd_getfd: unknown on this architecture")
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.syscall(ctypes.c_long(_SYS_PIDFD_GETFD), ctypes.c_int(pidfd),
                      ctypes.c_int(target_fd), ctypes.c_uint(0))
    if fd < 0:
        errno = ctypes.get_errno()
        raise OSError(errno, os.strerror(errno))
    return int(fd)


@functools.lru_cache(maxsize=1)
def borrowing_works() -> bool:
    """Whether this process may borrow its children's descriptors (tried once on a child
    ``sleep``: a sandbox's seccomp or ptrace rules may refuse it)."""
    if TCP_QUICKACK is None or not hasattr(os, "pidfd_open"):
        return False
    try:
        child = subprocess.Popen(["sleep", "5"], stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except OSError:
        return False
    try:
        pidfd = os.pidfd_open(child.pid)
        try:
            os.close(_pidfd_getfd(pidfd, 0))
            return True
        finally:
            os.close(pidfd)
    except OSError as err:
        log.info("quick ACKs: cannot borrow a child's socket (%s): relay instead",
                 err.strerror or err)
        return False
    finally:
        child.kill()
        child.wait()


def quick_ack_mode() -> str:
    """``borrow``, ``relay`` or ``off``: what getscu's C-GET uses (see the module)."""
    wanted = os.environ.get(ENV_QUICK_ACK, "auto").strip().lower() or "auto"
    if wanted not in MODES:
        log.warning("%s=%r is not one of %s: auto", ENV_QUICK_ACK, wanted, ", ".join(MODES))
        wanted = "auto"
    if wanted == "off" or TCP_QUICKACK is None:
        return "off"
    if wanted in ("auto", "borrow") and borrowing_works():
        return "borrow"
    if wanted in ("auto", "relay", "borrow") and relay_available():
        return "relay"
    return "off"


class BorrowedAcks:
    """``with BorrowedAcks(proc):`` while ``proc`` (getscu) runs, its TCP socket is asked for
    a quick ACK every :data:`POKE_S`. Only a duplicate is held (closed at the end; getscu's
    connection is never shut down from here). Failing to find or borrow the socket only
    logs: the transfer goes on, with the delayed ACKs."""

    def __init__(self, proc: subprocess.Popen):
        self.proc = proc
        self.pokes = 0
        self.borrowed = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="quick-ack", daemon=True)

    def __enter__(self) -> BorrowedAcks:
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _running(self) -> bool:
        return not self._stop.is_set() and self.proc.poll() is None

    def _find_socket(self, pidfd: int) -> socket.socket | None:
        """getscu's TCP socket, borrowed, once it exists (None if getscu ended first)."""
        fd_dir = f"/proc/{self.proc.pid}/fd"
        while self._running():
            with contextlib.suppress(OSError):
                for name in os.listdir(fd_dir):
                    with contextlib.suppress(OSError):
                        if os.readlink(f"{fd_dir}/{name}").startswith("socket:"):
                            sock = socket.socket(fileno=_pidfd_getfd(pidfd, int(name)))
                            if sock.type == socket.SOCK_STREAM and sock.family in (
                                    socket.AF_INET, socket.AF_INET6):
                                return sock
                            sock.close()
            time.sleep(FIND_S)
        return None

    def _run(self) -> None:
        try:
            pidfd = os.pidfd_open(self.proc.pid)
        except OSError as err:  # ended already, or refused
            log.debug("quick ACKs: %s", err.strerror or err)
            return
        try:
            sock = self._find_socket(pidfd)
            if sock is None:
                return
            self.borrowed = True
            with sock:  # close() drops our duplicate only
                while self._running():
                    try:
                        ack_now(sock)
                    except OSError:  # the connection is gone: getscu is ending
                        break
                    self.pokes += 1
                    self._stop.wait(POKE_S)
        finally:
            os.close(pidfd)
