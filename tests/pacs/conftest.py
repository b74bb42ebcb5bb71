"""A real PACS for the PACS tests: one Orthanc for the session, loaded with the bundled demo
and pydicom's DICOMDIR test tree; configured servers for both protocols; an in-memory
keyring; a private cache and settings folder per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from keyring.backend import KeyringBackend
from pacs_helpers import OUR_AET, PASSWORD, USER, demo_files, dicomdir_files

from coloc_viewer.pacs.orthanc_local import ORTHANC_PACKAGES, LocalOrthanc, find_orthanc, free_port
from coloc_viewer.pacs.servers import ServerConfig, save_servers, set_password


class MemoryKeyring(KeyringBackend):
    """A keyring that forgets everything at exit (tests never touch the user's keyring)."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.store: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.store.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.store[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.store.pop((service, username), None)


def orthanc_or_skip() -> None:
    if find_orthanc() is None:
        pytest.skip(f"Orthanc is not installed: sudo apt-get install {ORTHANC_PACKAGES}")


@pytest.fixture(scope="session")
def move_port() -> int:
    return free_port()


@pytest.fixture(scope="session")
def orthanc(tmp_path_factory: pytest.TempPathFactory, move_port: int) -> Iterator[LocalOrthanc]:
    """Orthanc with basic auth, our AE registered (C-GET/C-MOVE), demo + DICOMDIR loaded."""
    orthanc_or_skip()
    server = LocalOrthanc(tmp_path_factory.mktemp("orthanc"), users={USER: PASSWORD},
                          modalities={OUR_AET: move_port}).start()
    try:
        server.upload(demo_files() + dicomdir_files())
        yield server
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def memory_keyring() -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture(autouse=True)
def private_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Settings and cache of this test only (never the user's)."""
    monkeypatch.setenv("COLOC_VIEWER_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("COLOC_VIEWER_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path


@pytest.fixture
def web_server(orthanc: LocalOrthanc, private_dirs: Path) -> ServerConfig:
    """The DICOMweb side, configured as a user would: password in the keyring."""
    server = ServerConfig(name="orthanc-web", protocol="dicomweb", url=orthanc.dicomweb_url,
                          username=USER)
    set_password(server, PASSWORD)
    return server


@pytest.fixture
def dimse_server(orthanc: LocalOrthanc, move_port: int) -> ServerConfig:
    return ServerConfig(name="orthanc-dimse", protocol="dimse", host="127.0.0.1",
                        port=orthanc.dicom_port, called_aet=orthanc.aet, calling_aet=OUR_AET,
                        move_port=move_port, timeout=15,
                        dimse_backend="pynetdicom")  # its internals are tested here


@pytest.fixture
def configured(web_server: ServerConfig, dimse_server: ServerConfig) -> list[ServerConfig]:
    servers = [web_server, dimse_server]
    save_servers(servers)
    return servers
