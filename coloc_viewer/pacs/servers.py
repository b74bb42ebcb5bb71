"""Configured PACS servers: a Qt-free dataclass, a JSON settings file, passwords in the keyring.

The settings file (``pacs_servers.json`` in the user's config folder, see
:func:`settings_dir`) holds names, addresses, AE titles and user names. A password lives
only in the OS keyring (service ``coloc-viewer-pacs``, user ``NAME/USER``), never in the
file. A server can also be named on the command line without configuring it: a DICOMweb
root URL (``http(s)://host:port/dicom-web``) or ``dicom://AET@host:port``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from urllib.parse import unquote, urlsplit

from coloc_viewer.errors import InputError
from coloc_viewer.workspace.atomic import atomic_write_text

__all__ = ["DEFAULT_CALLING_AET", "DIMSE_BACKENDS", "ENV_CONFIG_DIR", "KEYRING_SERVICE",
           "ServerConfig", "delete_password", "get_password", "load_cache_limit", "load_servers",
           "parse_server", "save_cache_limit", "save_servers", "set_password", "settings_dir",
           "settings_file"]

ENV_CONFIG_DIR = "COLOC_VIEWER_CONFIG_DIR"
KEYRING_SERVICE = "coloc-viewer-pacs"
DEFAULT_CALLING_AET = "COLOCVIEWER"
SETTINGS_NAME = "pacs_servers.json"
DIMSE_BACKENDS = ("auto", "dcmtk", "pynetdicom")
_AET = re.compile(r"^[ -~]{1,16}$")
_DIMSE = re.compile(r"^dicom://(?P<aet>[^@/]+)@(?P<host>\[[^\]]+\]|[^:/]+):(?P<port>\d+)/?$",
                    re.IGNORECASE)


@dataclass(frozen=True)
class ServerConfig:
    """One PACS: DICOMweb (``url``) or DIMSE (``host``, ``port``, ``called_aet``)."""

    name: str
    protocol: str = "dicomweb"  # "dicomweb" or "dimse"
    url: str = ""  # DICOMweb root, e.g. http://pacs:8042/dicom-web
    host: str = ""
    port: int = 104
    called_aet: str = "ANY-SCP"  # the PACS's AE title
    calling_aet: str = DEFAULT_CALLING_AET  # ours
    tls: bool = False
    username: str = ""  # basic auth (DICOMweb); the password is in the keyring
    retrieve: str = "get"  # DIMSE: "get" (C-GET) or "move" (C-MOVE to our listener)
    move_port: int = 11113  # our storage listener for C-MOVE
    timeout: float = 30.0
    # DIMSE C-GET: "auto" (DCMTK's getscu when installed and usable, else pynetdicom),
    # "dcmtk" (getscu required) or "pynetdicom"; C-MOVE always goes through pynetdicom
    dimse_backend: str = "auto"
    # TLS: CA certificates (PEM) to trust instead of the system's (a hospital's own CA),
    # and our certificate + key (PEM) for a PACS that asks for one (mutual TLS)
    ca_file: str = ""
    client_cert: str = ""
    client_key: str = ""

    def __post_init__(self) -> None:
        if self.protocol not in ("dicomweb", "dimse"):
            raise InputError(f"server {self.name!r}: protocol must be dicomweb or dimse, "
                             f"not {self.protocol!r}")
        if self.protocol == "dicomweb" and not re.match(r"^https?://", self.url, re.I):
            raise InputError(f"server {self.name!r}: a DICOMweb server needs an http(s):// URL")
        if self.dimse_backend not in DIMSE_BACKENDS:
            raise InputError(f"server {self.name!r}: dimse_backend must be one of "
                             f"{', '.join(DIMSE_BACKENDS)}, not {self.dimse_backend!r}")
        if self.protocol == "dimse":
            if not self.host or not 0 < int(self.port) < 65536:
                raise InputError(f"server {self.name!r}: a DIMSE server needs a host and a "
                                 "port 1-65535")
            for label, aet in (("called", self.called_aet), ("calling", self.calling_aet)):
                if not _AET.match(aet) or aet != aet.strip() or "\\" in aet:
                    raise InputError(f"server {self.name!r}: bad {label} AE title {aet!r} "
                                     "(1-16 printable characters, no backslash)")
            if self.retrieve not in ("get", "move"):
                raise InputError(f"server {self.name!r}: retrieve must be get or move")

    @property
    def address(self) -> str:
        """The address without credentials: the URL, or ``dicom://AET@host:port``."""
        if self.protocol == "dicomweb":
            return self.url.rstrip("/")
        return f"dicom://{self.called_aet}@{self.host}:{self.port}"

    @property
    def label(self) -> str:
        """How messages name the server: its configured name, else its address."""
        return self.name or self.address

    def password(self) -> str | None:
        return get_password(self) if self.username else None

    def to_json(self) -> dict:
        """The settings-file record (never a password)."""
        return asdict(self)

    @classmethod
    def from_json(cls, record: dict) -> ServerConfig:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in record.items() if k in known}
        if "password" in record:
            raise InputError(f"server {record.get('name')!r}: a password does not belong in "
                             "the settings file (it is kept in the OS keyring)")
        return cls(**values)


def settings_dir() -> Path:
    """The user's config folder (``$COLOC_VIEWER_CONFIG_DIR`` overrides it, e.g. in tests)."""
    override = os.environ.get(ENV_CONFIG_DIR)
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_config_dir("coloc-viewer", appauthor=False))


def settings_file() -> Path:
    return settings_dir() / SETTINGS_NAME


def _read_settings(p: Path) -> dict:
    if not p.exists():
        return {}
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or not isinstance(data.get("servers", []), list):
            raise ValueError("no 'servers' list")
        return data
    except (OSError, ValueError) as err:
        raise InputError(f"cannot read the PACS settings ({err})", p) from None


def _write_settings(p: Path, data: dict) -> Path:
    p.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(p, json.dumps(data, indent=2) + "\n")
    os.chmod(p, 0o600)
    return p


def load_servers(path: str | os.PathLike[str] | None = None) -> list[ServerConfig]:
    """The configured servers (none when the file does not exist)."""
    p = Path(path) if path is not None else settings_file()
    try:
        return [ServerConfig.from_json(r) for r in _read_settings(p).get("servers", [])]
    except TypeError as err:
        raise InputError(f"cannot read the PACS settings ({err})", p) from None


def save_servers(servers: list[ServerConfig], path: str | os.PathLike[str] | None = None
                 ) -> Path:
    """Write the server list atomically (mode 0600; passwords are not part of it)."""
    p = Path(path) if path is not None else settings_file()
    names = [s.name for s in servers]
    if len(set(names)) != len(names) or not all(names):
        raise InputError("every configured PACS server needs a unique, non-empty name")
    data = _read_settings(p)
    data["servers"] = [s.to_json() for s in servers]
    return _write_settings(p, data)


def load_cache_limit(path: str | os.PathLike[str] | None = None) -> int | None:
    """The cache size limit in bytes the user set (None: the default)."""
    value = _read_settings(Path(path) if path is not None else settings_file()).get(
        "cache_limit_bytes")
    return int(value) if isinstance(value, int | float) and value > 0 else None


def save_cache_limit(limit_bytes: int, path: str | os.PathLike[str] | None = None) -> Path:
    p = Path(path) if path is not None else settings_file()
    data = _read_settings(p)
    data["cache_limit_bytes"] = int(limit_bytes)
    data.setdefault("servers", [])
    return _write_settings(p, data)


def _keyring_user(server: ServerConfig) -> str:
    return f"{server.name or server.address}/{server.username}"


def set_password(server: ServerConfig, password: str) -> None:
    """Keep ``password`` for ``server``'s user in the OS keyring."""
    import keyring
    from keyring.errors import KeyringError

    try:
        keyring.set_password(KEYRING_SERVICE, _keyring_user(server), password)
    except KeyringError as err:
        raise InputError(f"server {server.label!r}: the OS keyring cannot store the password "
                         f"({err.__class__.__name__})") from None


def get_password(server: ServerConfig) -> str | None:
    import keyring
    from keyring.errors import KeyringError

    try:
        return keyring.get_password(KEYRING_SERVICE, _keyring_user(server))
    except KeyringError:
        return None


def delete_password(server: ServerConfig) -> None:
    import keyring
    from keyring.errors import KeyringError, PasswordDeleteError

    with contextlib.suppress(PasswordDeleteError, KeyringError):
        keyring.delete_password(KEYRING_SERVICE, _keyring_user(server))


def parse_server(text: str, calling_aet: str | None = None,
                 servers: list[ServerConfig] | None = None) -> ServerConfig:
    """A configured name, a DICOMweb root URL or ``dicom://AET@host:port`` (URL-quoted or
    not). ``calling_aet`` (our AE title) overrides the configured one when given."""
    raw = unquote(str(text).strip())
    if not raw:
        raise InputError("no PACS server given")
    configured = load_servers() if servers is None else servers
    for server in configured:
        if server.name == raw:
            return replace(server, calling_aet=calling_aet) if calling_aet else server
    ours = calling_aet or DEFAULT_CALLING_AET
    if re.match(r"^https?://", raw, re.I):
        parts = urlsplit(raw)
        if parts.password is not None:
            raise InputError("a password in a server URL would end up in shell history and "
                             "logs; configure the server and keep the password in the keyring")
        if not parts.hostname:
            raise InputError(f"{raw}: not a DICOMweb root URL (http(s)://host:port/dicom-web)")
        return ServerConfig(name="", protocol="dicomweb", url=raw.rstrip("/"),
                            calling_aet=ours, tls=parts.scheme.lower() == "https",
                            username=parts.username or "")
    match = _DIMSE.match(raw)
    if match:
        host = match["host"].strip("[]")
        return ServerConfig(name="", protocol="dimse", host=host, port=int(match["port"]),
                            called_aet=match["aet"], calling_aet=ours)
    names = ", ".join(s.name for s in configured) or "none configured"
    raise InputError(f"{raw}: not a configured PACS ({names}), a DICOMweb URL "
                     "(http(s)://host:port/dicom-web) or dicom://AET@host:port")
