"""The study cache with a real Orthanc: private folders, no second download, cancel, a server
that dies mid-transfer, purge and the size limit; settings keep passwords out; pacs://."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import numpy as np
import pytest
from pacs_helpers import PASSWORD, demo_study_uid, series_uid_of

from coloc_viewer.errors import InputError
from coloc_viewer.imaging.dicom_write import write_dicom_series
from coloc_viewer.imaging.load import load_volume
from coloc_viewer.pacs.cache import MARKER, StudyCache
from coloc_viewer.pacs.errors import PacsError, RetrievalCancelled
from coloc_viewer.pacs.orthanc_local import LocalOrthanc
from coloc_viewer.pacs.query import Query
from coloc_viewer.pacs.resolve import local_path, parse_pacs_url
from coloc_viewer.pacs.retrieve import Progress, connect, retrieve_series, retrieve_study
from coloc_viewer.pacs.servers import (
    ServerConfig,
    load_servers,
    save_servers,
    set_password,
    settings_file,
)
from coloc_viewer.resources import demo_dir

CASE2_T2 = demo_dir() / "case-02" / "dicom"


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_cache_is_private_and_a_study_is_downloaded_once(web_server: ServerConfig,
                                                         tmp_path: Path) -> None:
    cache = StudyCache(tmp_path / "cache")
    client = connect(web_server)
    events: list[Progress] = []
    folder = retrieve_study(client, cache, demo_study_uid(), events.append)
    on_server = client.find_studies(Query(patient_id="SYNTH-02"))[0].n_instances
    assert sum(1 for e in events if e.path is not None) == on_server >= 20  # + sent SEGs
    assert (folder / MARKER).is_file()
    for p in [cache.root, *[q for q in cache.root.rglob("*") if q.is_dir()]]:
        assert _mode(p) == 0o700, p
    for f in folder.rglob("*.dcm"):
        assert _mode(f) == 0o600
    stamps = {f: f.stat().st_mtime_ns for f in folder.rglob("*.dcm")}

    class NoNetwork:
        server = web_server

        def __getattr__(self, name: str) -> None:
            raise AssertionError(f"the cached study went to the network ({name})")

    again: list[Progress] = []
    assert retrieve_study(NoNetwork(), cache, demo_study_uid(), again.append) == folder
    assert [e.cached for e in again] == [True]
    assert {f: f.stat().st_mtime_ns for f in folder.rglob("*.dcm")} == stamps


def test_cancel_keeps_nothing(web_server: ServerConfig, tmp_path: Path) -> None:
    cache = StudyCache(tmp_path / "cache")
    cancel = threading.Event()
    seen: list[int] = []

    def progress(p: Progress) -> None:
        seen.append(p.done)
        if p.done == 3:
            cancel.set()

    series = series_uid_of(CASE2_T2)
    with pytest.raises(RetrievalCancelled):
        retrieve_series(connect(web_server), cache, demo_study_uid(), series, progress,
                        cancel, total=20)
    assert max(seen) < 20
    assert not cache.series_complete(web_server.address, demo_study_uid(), series)
    assert not cache.series_dir(web_server.address, demo_study_uid(), series).exists()


def test_cancel_over_c_get(dimse_server: ServerConfig, tmp_path: Path) -> None:
    cache = StudyCache(tmp_path / "cache")
    cancel = threading.Event()
    series = series_uid_of(CASE2_T2)
    with pytest.raises(RetrievalCancelled):
        retrieve_series(connect(dimse_server), cache, demo_study_uid(), series,
                        lambda p: cancel.set() if p.done == 2 else None, cancel, total=20)
    assert not cache.series_dir(dimse_server.address, demo_study_uid(), series).exists()
    # the association was aborted cleanly: the next retrieval works
    folder = retrieve_series(connect(dimse_server), cache, demo_study_uid(), series, total=20)
    assert len(list(folder.glob("*.dcm"))) == 20


@pytest.fixture
def doomed_orthanc(tmp_path: Path, orthanc: LocalOrthanc) -> tuple[LocalOrthanc, str, str]:
    """A second Orthanc (ours to kill) holding a 40 x 512 x 512 series (20 MB): more than
    the socket buffers hold, so a kill really cuts the transfer."""
    rng = np.random.default_rng(0)
    vox = rng.integers(0, 4000, size=(40, 512, 512)).astype(np.float32)
    paths = write_dicom_series(vox, tmp_path / "big", spacing=(2.0, 0.5, 0.5))
    server = LocalOrthanc(tmp_path / "doomed", modalities={"COLOCVIEWER": 104}).start()
    server.upload(paths)
    import pydicom

    ds = pydicom.dcmread(paths[0], stop_before_pixels=True)
    yield server, str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID)
    server.stop()


@pytest.mark.parametrize("protocol", ["dicomweb", "dimse"])
def test_server_dies_mid_transfer(doomed_orthanc: tuple[LocalOrthanc, str, str],
                                  protocol: str, tmp_path: Path) -> None:
    server, study, series = doomed_orthanc
    cfg = (ServerConfig("doomed", url=server.dicomweb_url, timeout=5) if protocol == "dicomweb"
           else ServerConfig("doomed", protocol="dimse", host="127.0.0.1",
                             port=server.dicom_port, called_aet=server.aet, timeout=5))
    cache = StudyCache(tmp_path / "cache")

    def progress(p: Progress) -> None:
        if p.done == 2:
            server.kill()

    with pytest.raises(PacsError) as err:
        retrieve_series(connect(cfg), cache, study, series, progress, total=40)
    assert "\n" not in str(err.value)
    assert not cache.series_complete(cfg.address, study, series)
    assert not cache.series_dir(cfg.address, study, series).exists()
    assert not cache.study_complete(cfg.address, study)


def test_purge_and_size_limit(web_server: ServerConfig, tmp_path: Path) -> None:
    client = connect(web_server)
    studies = [r.study_uid for r in client.find_studies(
        Query(patient_name="SYNTHETIC*"))]
    assert len(studies) == 2
    big = StudyCache(tmp_path / "big")
    first = retrieve_study(client, big, studies[0])
    size_first = big.size_bytes()
    second = retrieve_study(client, big, studies[1])
    assert first.exists() and second.exists()
    # a limit that holds only one study: retrieving the other evicts the older one
    small = StudyCache(tmp_path / "big", limit_bytes=int(big.size_bytes() - 1))
    os.utime(second / MARKER, (1, 1))  # second is now the least recently used
    retrieve_study(client, small, studies[0])  # cached: touches the first, evicts nothing
    assert first.exists() and second.exists()
    small.enforce_limit(keep=first)
    assert first.exists() and not second.exists()
    assert small.size_bytes() <= small.limit_bytes
    assert size_first > 0
    freed = small.purge()
    assert freed > 0 and small.size_bytes() == 0 and small.root.exists()
    assert not first.exists()


def test_password_stays_out_of_the_settings_file(web_server: ServerConfig,
                                                 memory_keyring) -> None:
    save_servers([web_server])
    text = settings_file().read_text()
    assert web_server.username in text and PASSWORD not in text
    assert _mode(settings_file()) == 0o600
    (loaded,) = load_servers()
    assert loaded == web_server and loaded.password() == PASSWORD
    assert PASSWORD in memory_keyring.store.values()
    settings_file().write_text(text.replace('"username"', '"password": "x", "username"'))
    with pytest.raises(InputError, match="password does not belong"):
        load_servers()


def test_pacs_urls_resolve_to_cached_folders(configured: list[ServerConfig],
                                             tmp_path: Path) -> None:
    from urllib.parse import quote

    web, dimse = configured
    study, series = demo_study_uid(), series_uid_of(CASE2_T2)
    cache = StudyCache(tmp_path / "c")
    want = load_volume(CASE2_T2).voxels
    for server_text in ("orthanc-web", quote(web.url, safe=""), quote(dimse.address, safe="")):
        url = f"pacs://{server_text}/{study}/{series}"
        folder = local_path(url, cache=cache)
        np.testing.assert_array_equal(load_volume(folder).voxels, want)
    assert local_path(str(CASE2_T2)) == str(CASE2_T2)
    whole = local_path(f"pacs://orthanc-dimse/{study}", cache=cache)
    assert (Path(whole) / MARKER).is_file()
    for bad in ("pacs://orthanc-web", "pacs://orthanc-web/not-a-uid",
                f"pacs://no-such-server/{study}"):
        with pytest.raises(InputError):
            parse_pacs_url(bad)


def test_dicomweb_basic_auth_uses_the_keyring(web_server: ServerConfig) -> None:
    set_password(web_server, PASSWORD)
    assert connect(web_server).find_studies(Query(patient_id="SYNTH-02"))
