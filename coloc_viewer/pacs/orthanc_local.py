"""A throw-away local Orthanc (Debian packages ``orthanc`` and ``orthanc-dicomweb``) for the
tests, the benchmark, and trying the client out: free localhost ports (HTTP and DICOM), a
temporary storage folder, a generated JSON configuration with the DICOMweb plugin, our AE
title registered for C-GET/C-MOVE, and optional HTTP basic authentication.

    with LocalOrthanc(folder, users={"reader": "secret"},
                      modalities={"COLOCVIEWER": 11113}) as pacs:
        pacs.upload(paths)
        print(pacs.dicomweb_url, pacs.dicom_port)
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from pathlib import Path

__all__ = ["ORTHANC_PACKAGES", "LocalOrthanc", "find_orthanc", "free_port"]

ORTHANC_PACKAGES = "orthanc orthanc-dicomweb"
PLUGIN_DIRS = ("/usr/share/orthanc/plugins", "/usr/lib/orthanc/plugins",
               "/usr/local/share/orthanc/plugins")
PLUGIN_NAME = "libOrthancDicomWeb.so"


def find_orthanc() -> tuple[str, str] | None:
    """(the Orthanc executable, the DICOMweb plugin) or None when either is missing."""
    exe = shutil.which("Orthanc") or next(
        (p for p in ("/usr/sbin/Orthanc", "/usr/bin/Orthanc") if os.access(p, os.X_OK)), None)
    plugin = next((os.path.join(d, PLUGIN_NAME) for d in PLUGIN_DIRS
                   if os.path.isfile(os.path.join(d, PLUGIN_NAME))), None)
    return (exe, plugin) if exe and plugin else None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _end_with_parent() -> None:
    """In the child before exec (Linux): SIGTERM when the process that started it dies, so a
    test run killed from outside does not leave its Orthanc running. Elsewhere a no-op."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
    except (OSError, AttributeError):
        pass


_PR_SET_PDEATHSIG = 1


class LocalOrthanc:
    """One Orthanc process on 127.0.0.1; :meth:`start` waits until it answers."""

    def __init__(self, folder: str | os.PathLike[str], aet: str = "ORTHANC",
                 users: dict[str, str] | None = None,
                 modalities: dict[str, int] | None = None, http_port: int | None = None,
                 dicom_port: int | None = None, tls: dict[str, str] | None = None,
                 nodelay: bool = False):
        """``tls``: PEM paths ``cert``, ``key`` and ``ca`` for DICOM TLS on the DICOM port
        (``ca`` signs the client certificates it accepts), optionally ``require_client``
        ("1": a peer must present one). HTTP stays plain: Debian's Orthanc 1.10.1 crashes
        (SIGSEGV) on the first HTTPS request, so a test puts a TLS proxy in front.
        ``nodelay``: DCMTK's ``TCP_NODELAY=1`` in Orthanc's environment (Nagle's algorithm
        off on its DICOM connections; as Debian ships it, it is on, and each instance it
        sends by C-STORE can wait for an acknowledgement)."""
        self.nodelay = nodelay
        found = find_orthanc()
        if found is None:
            raise RuntimeError(f"Orthanc is not installed (Debian: {ORTHANC_PACKAGES})")
        self.executable, self.plugin = found
        self.folder = Path(folder)
        self.aet = aet
        self.users = dict(users or {})
        self.modalities = dict(modalities or {})
        self.http_port = http_port or free_port()
        self.dicom_port = dicom_port or free_port()
        self.tls = dict(tls or {})
        self.process: subprocess.Popen | None = None

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def dicomweb_url(self) -> str:
        return f"{self.http_url}/dicom-web"

    def config(self) -> dict:
        return {
            "Name": "coloc-viewer-test", "StorageDirectory": str(self.folder / "db"),
            "IndexDirectory": str(self.folder / "db"), "HttpPort": self.http_port,
            "DicomPort": self.dicom_port, "DicomAet": self.aet, "DicomCheckCalledAet": True,
            "RemoteAccessAllowed": False, "AuthenticationEnabled": bool(self.users),
            "RegisteredUsers": self.users, "Plugins": [self.plugin],
            "DicomWeb": {"Enable": True, "Root": "/dicom-web/", "EnableWado": True,
                         "StudiesMetadata": "Full", "SeriesMetadata": "Full"},
            # only registered modalities may query and retrieve; anyone may echo and store
            "DicomModalities": {aet.lower(): [aet, "127.0.0.1", port]
                                for aet, port in self.modalities.items()},
            "DicomAlwaysAllowEcho": True, "DicomAlwaysAllowStore": True,
            "UnknownSopClassAccepted": True, "HttpsVerifyPeers": False,
            "StableAge": 1, "ConcurrentJobs": 2, "SaveJobs": False,
            "DicomScuTimeout": 10, "HttpTimeout": 30, "StorageCompression": False,
        }

    def _tls_config(self) -> dict:
        if not self.tls:
            return {}
        return {"DicomTlsEnabled": True, "DicomTlsCertificate": self.tls["cert"],
                "DicomTlsPrivateKey": self.tls["key"],
                "DicomTlsTrustedCertificates": self.tls["ca"],
                "DicomTlsRemoteCertificateRequired": self.tls.get("require_client") == "1"}

    def start(self, timeout: float = 30.0) -> LocalOrthanc:
        self.folder.mkdir(parents=True, exist_ok=True)
        cfg = self.folder / "orthanc.json"
        cfg.write_text(json.dumps({**self.config(), **self._tls_config()}, indent=1),
                       encoding="utf-8")
        log = open(self.folder / "orthanc.log", "ab")  # noqa: SIM115 - owned by the process
        env = {k: v for k, v in os.environ.items() if k != "TCP_NODELAY"}
        if self.nodelay:
            env["TCP_NODELAY"] = "1"
        self.process = subprocess.Popen([self.executable, str(cfg)], stdout=log,
                                        stderr=subprocess.STDOUT, cwd=self.folder,
                                        start_new_session=True, env=env,
                                        preexec_fn=_end_with_parent)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                tail = (self.folder / "orthanc.log").read_text(errors="replace")[-400:]
                raise RuntimeError(f"Orthanc exited at start ({self.process.returncode}): "
                                   f"{tail}")
            if self._answers():
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"Orthanc did not answer within {timeout:g} s")

    def _answers(self) -> bool:
        try:
            self.rest("GET", "/system")
            with socket.create_connection(("127.0.0.1", self.dicom_port), timeout=0.5):
                return True
        except (OSError, urllib.error.URLError):
            return False

    def rest(self, method: str, path: str, data: bytes | None = None,
             content_type: str = "application/dicom") -> object:
        """One call to Orthanc's REST API (JSON answer decoded)."""
        req = urllib.request.Request(self.http_url + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", content_type)
        if self.users:
            user, password = next(iter(self.users.items()))
            token = base64.b64encode(f"{user}:{password}".encode()).decode()
            req.add_header("Authorization", f"Basic {token}")
        with urllib.request.urlopen(req, timeout=30) as resp:
            body = resp.read()
        return json.loads(body) if body[:1] in (b"{", b"[") else body

    def upload(self, paths: Iterable[str | os.PathLike[str]]) -> int:
        """Store DICOM files through the REST API; returns how many were sent."""
        n = 0
        for p in paths:
            self.rest("POST", "/instances", Path(p).read_bytes())
            n += 1
        return n

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """Kill the server at once (SIGKILL): a PACS that dies mid-transfer."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def __enter__(self) -> LocalOrthanc:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
