"""C-GET of one series through DCMTK's ``getscu`` (Debian package ``dcmtk``), as a subprocess.

getscu receives straight into a folder (``-od``, ``+B``: each data set written as it arrives,
its bytes as sent; file name = SOP Instance UID), one file after the other. A file is
complete once a file with a later modification time exists, or getscu has ended: the folder
is watched for that (getscu's own per-instance log, ``-d``/``-v``, more than doubled its
time). Its errors and final status (stderr at the default level) are parsed here and never
passed on (only counts reach our DEBUG log).

Speed (200 x 512 x 512, 105 MB, local Orthanc, getscu alone): 9.3 s as getscu starts by
default (each instance waits ~48 ms: Nagle's algorithm against a delayed ACK), 3.3 s with
``TCP_NODELAY=1`` (DCMTK's switch, set for the child), 0.8 s with 128 kB PDUs as well
(``-pdu``; getscu's default is 16 kB), 0.35 s without the debug log; pynetdicom: 1.3 s.
On Linux, :mod:`coloc_viewer.pacs.quick_ack` has getscu's data acknowledged at once, so a PACS
with Nagle on does not wait ~46 ms per instance (40 x 128 x 128: 1.85 -> 0.08 s).

Transfer syntaxes: getscu 3.6.7 proposes the uncompressed ones (explicit VR little endian
first, as pynetdicom does); when the installed getscu offers ``--accept-all`` it is used, so
compressed originals can arrive as stored. getscu has no TLS: such servers use pynetdicom.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import os
import re
import selectors
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from threading import Event

from coloc_viewer.pacs.ack_relay import AckRelay
from coloc_viewer.pacs.errors import PacsError, RetrievalCancelled
from coloc_viewer.pacs.quick_ack import BorrowedAcks, quick_ack_mode
from coloc_viewer.pacs.servers import ServerConfig

log = logging.getLogger(__name__)

__all__ = ["DEBIAN_PACKAGE", "ENV_GETSCU", "find_getscu", "getscu_command", "run_getscu"]

ENV_GETSCU = "COLOC_VIEWER_GETSCU"
DEBIAN_PACKAGE = "dcmtk"
PDU_RANGE = (4096, 131072)  # what getscu's --max-pdu accepts
GRACE_S = 1.0  # after SIGTERM, before SIGKILL
POLL_S = 0.005  # how often the folder is looked at while getscu runs
_COUNT = re.compile(r"Number of (?P<kind>Completed|Failed|Warning) Suboperations\s*:\s*(?P<n>\d+)")
_STATUS = re.compile(r"DIMSE status is:\s*(?P<status>[^\r\n]+)")

OnFile = Callable[[Path], object]


def find_getscu() -> str | None:
    """getscu's path: ``$COLOC_VIEWER_GETSCU`` when set (None if that is not executable),
    else the one on PATH (None when DCMTK is not installed)."""
    override = os.environ.get(ENV_GETSCU)
    if override:
        return override if os.path.isfile(override) and os.access(override, os.X_OK) else None
    return shutil.which("getscu")


@functools.lru_cache(maxsize=4)
def _long_options(exe: str) -> frozenset[str]:
    """The ``--options`` the installed getscu lists in its help."""
    try:
        out = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=10,
                             check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return frozenset()
    return frozenset(re.findall(r"--[a-z][a-z0-9-]+", out))


def _seconds(value: float) -> str:
    return str(max(1, math.ceil(value)))


def getscu_command(exe: str, server: ServerConfig, study_uid: str, series_uid: str,
                   folder: Path, max_pdu: int = 0) -> list[str]:
    """The command line of a Study Root, series-level C-GET into ``folder``.
    ``max_pdu`` 0 (no limit) asks for getscu's largest."""
    pdu = PDU_RANGE[1] if max_pdu <= 0 else min(max(max_pdu, PDU_RANGE[0]), PDU_RANGE[1])
    accept = "+xa" if "--accept-all" in _long_options(exe) else "+xe"
    t = server.timeout
    return [exe, "-S", "-aet", server.calling_aet, "-aec", server.called_aet,
            "-to", _seconds(min(t, 10.0)), "-ta", _seconds(t), "-td", _seconds(t),
            "-pdu", str(pdu), accept, "+B", "-od", str(folder),
            "-k", "QueryRetrieveLevel=SERIES", "-k", f"StudyInstanceUID={study_uid}",
            "-k", f"SeriesInstanceUID={series_uid}", server.host, str(int(server.port))]


def _stop(proc: subprocess.Popen) -> None:
    """Terminate getscu, then kill it after a short grace; always reaped."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=GRACE_S)
        except subprocess.TimeoutExpired:
            proc.kill()
    proc.wait()


class _Log:
    """What getscu's stderr said: the final counts and status, the errors."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.status: str | None = None
        self.rejected = self.unreachable = self.aborted = self.timeout = False
        self.fatal: list[str] = []

    def parse(self, line: str) -> None:
        if (match := _COUNT.search(line)) is not None:
            self.counts[match["kind"]] = int(match["n"])
        elif (match := _STATUS.search(line)) is not None:
            self.status = match["status"].strip()
        elif line.startswith(("F:", "E:")):
            self.rejected |= "Association Rejected" in line
            self.unreachable |= "TCP Initialization Error" in line
            self.aborted |= "aborted" in line.lower() or "Read PDV failed" in line
            self.timeout |= "timeout" in line.lower()
            if len(self.fatal) < 3:
                self.fatal.append(line[2:].strip())


class _Watch:
    """The files getscu completed in ``folder``, in arrival order: a file is complete once
    another one has a later modification time (getscu writes one file at a time)."""

    def __init__(self, folder: Path):
        self.folder = folder
        # inodes: the caller may rename a reported file (but must not delete one while
        # getscu runs: a new file could reuse its inode)
        self.reported: set[int] = set()

    def complete(self, ended: bool = False) -> list[Path]:
        """Files completed since the last call (every file left when getscu has ended)."""
        found: list[tuple[int, str, int]] = []
        with os.scandir(self.folder) as entries:
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                with contextlib.suppress(OSError):
                    if entry.inode() in self.reported or not entry.is_file(
                            follow_symlinks=False):
                        continue
                    found.append((entry.stat(follow_symlinks=False).st_mtime_ns,
                                  entry.name, entry.inode()))
        if not found:
            return []
        found.sort()
        newest = found[-1][0]
        done = [(name, inode) for mtime, name, inode in found if ended or mtime < newest]
        self.reported.update(inode for _name, inode in done)
        return [self.folder / name for name, _inode in done]


def _failure(parsed: _Log, code: int, received: int, server: ServerConfig) -> str | None:
    """One line for what went wrong (None: getscu succeeded)."""
    s = server
    if parsed.rejected:
        return (f"association rejected (called AE title {s.called_aet!r}, ours "
                f"{s.calling_aet!r}: is our AE title registered at the PACS and its AE "
                "title right?)")
    if parsed.unreachable:
        return f"cannot connect to {s.host}:{s.port} (unreachable or not listening)"
    if parsed.aborted and received == 0:
        return (f"refused by the server (it aborted the association before sending anything:"
                f" is our AE title {s.calling_aet!r} registered there and allowed to "
                "retrieve?)")
    if parsed.aborted or (parsed.timeout and received):
        return f"the connection was lost mid-transfer (after {received} instances)"
    if parsed.timeout:
        return "the server did not answer in time"
    failed = parsed.counts.get("Failed", 0)
    if failed or (parsed.status and not parsed.status.startswith(("Success", "Warning"))):
        status = (parsed.status or "failed").split("(")[0].strip()
        return f"{status}" + (f" ({failed} instances not sent)" if failed else
                              f" ({received} instances received)")
    if code != 0:
        # getscu's own words (its fatal lines hold no data set, only DCMTK's reason)
        return f"getscu failed (exit status {code}: {'; '.join(parsed.fatal) or 'no reason'})"
    return None


def run_getscu(server: ServerConfig, study_uid: str, series_uid: str, folder: Path,
               on_file: OnFile, cancel: Event | None = None, exe: str | None = None,
               max_pdu: int = 0) -> int:
    """C-GET the series into ``folder`` (which must exist); ``on_file(path)`` for each
    complete file, in arrival order, on this thread. Returns how many arrived.

    ``cancel`` set: getscu is stopped and :class:`RetrievalCancelled` raised. Any failure
    (refused, unreachable, lost mid-transfer, sub-operations failed) is one
    :class:`PacsError`; an exception from ``on_file`` stops getscu and propagates."""
    exe = exe or find_getscu()
    if exe is None:
        raise PacsError(f"C-GET through DCMTK: getscu not found (install the Debian package "
                        f"{DEBIAN_PACKAGE}, or set {ENV_GETSCU})", server.label)
    folder = Path(folder).resolve()
    mode = quick_ack_mode()  # a PACS with Nagle on must not wait on our delayed ACKs
    with contextlib.ExitStack() as stack:
        target = server
        if mode == "relay":
            relay = stack.enter_context(AckRelay(server.host, int(server.port), server.timeout,
                                                 server.label))
            target = replace(server, host="127.0.0.1", port=relay.port)
        cmd = getscu_command(exe, target, study_uid, series_uid, folder, max_pdu)
        try:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.PIPE, cwd=folder, umask=0o077,
                                    env={**os.environ, "TCP_NODELAY": "1"})
        except OSError as err:
            raise PacsError(f"C-GET: cannot run getscu ({err.strerror})",
                            server.label) from None
        if mode == "borrow":
            stack.enter_context(BorrowedAcks(proc))
        return _follow(proc, server, folder, on_file, cancel)


def _follow(proc: subprocess.Popen, server: ServerConfig, folder: Path, on_file: OnFile,
            cancel: Event | None) -> int:
    """Report getscu's files as they complete, raise its failure as one line."""
    parsed, watch = _Log(), _Watch(folder)
    seen: list[Path] = []

    def report(paths: list[Path]) -> None:
        for path in paths:
            seen.append(path)
            on_file(path)

    try:
        with selectors.DefaultSelector() as sel:
            assert proc.stderr is not None
            fd = proc.stderr.fileno()
            sel.register(fd, selectors.EVENT_READ)
            pending = b""
            while True:
                if cancel is not None and cancel.is_set():
                    raise RetrievalCancelled("retrieval cancelled", server.label)
                ready = sel.select(timeout=POLL_S)
                report(watch.complete())
                if not ready:
                    continue
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    break
                *lines, pending = (pending + chunk).split(b"\n")
                for raw in lines:
                    parsed.parse(raw.decode("utf-8", "replace"))
        code = proc.wait()
    finally:
        _stop(proc)
        with contextlib.suppress(OSError):
            proc.stderr.close()  # type: ignore[union-attr]
    if cancel is not None and cancel.is_set():
        raise RetrievalCancelled("retrieval cancelled", server.label)
    rest = watch.complete(ended=True)  # the last file(s): getscu has ended
    reason = _failure(parsed, code, len(seen) + len(rest), server)
    log.debug("getscu: exit %d, %d files, counts %s", code, len(seen) + len(rest),
              parsed.counts)
    if reason is not None:
        raise PacsError(f"C-GET (getscu): {reason}", server.label)
    report(rest)
    return len(seen)
