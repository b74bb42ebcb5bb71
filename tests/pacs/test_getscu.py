"""C-GET through DCMTK's getscu against a real Orthanc: the same files and voxels as the
pynetdicom backend, decode while retrieving, progress per instance, one-line errors
(AE titles, refused, unreachable, failed sub-operations, a server that dies), cancel keeps
nothing, the backend choice (``dimse_backend``) and its settings."""

from __future__ import annotations

import io
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pacs_helpers import OUR_AET, demo_study_uid, picky_scp, series_uid_of

from coloc_viewer.errors import InputError
from coloc_viewer.imaging.dicom_write import write_dicom_series
from coloc_viewer.imaging.load import load_volume
from coloc_viewer.pacs.cache import StudyCache
from coloc_viewer.pacs.errors import PacsError, RetrievalCancelled
from coloc_viewer.pacs.getscu import ENV_GETSCU, find_getscu, getscu_command
from coloc_viewer.pacs.orthanc_local import LocalOrthanc, free_port
from coloc_viewer.pacs.retrieve import Progress, connect, retrieve_series, retrieve_volume
from coloc_viewer.pacs.servers import ServerConfig, load_servers, save_servers, settings_file
from coloc_viewer.resources import demo_dir

CASE2_T2 = demo_dir() / "case-02" / "dicom"
BIG = 60  # 60 x 512 x 512 (31 MB): far more than the socket buffers hold


@pytest.fixture
def getscu() -> str:
    found = find_getscu()
    if found is None:
        pytest.skip("DCMTK's getscu is not installed: sudo apt-get install dcmtk")
    return found


@pytest.fixture
def dcmtk(getscu: str, dimse_server: ServerConfig) -> ServerConfig:
    return replace(dimse_server, dimse_backend="dcmtk")


def dataset_part(path: Path) -> tuple[str, bytes]:
    """The transfer syntax and the data set's bytes after the file meta group."""
    data = path.read_bytes()
    meta = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True).file_meta
    return str(meta.TransferSyntaxUID), data[144 + meta.FileMetaInformationGroupLength:]


def test_same_files_and_voxels_as_pynetdicom(dcmtk: ServerConfig, tmp_path: Path) -> None:
    client = connect(dcmtk)
    assert client.retrieves_into_folder()
    seen: list[Progress] = []
    folder = retrieve_series(client, StudyCache(tmp_path / "a"), demo_study_uid(),
                             series_uid_of(CASE2_T2), seen.append, total=20)
    assert [p.done for p in seen] == list(range(1, 21))
    assert {p.path for p in seen} == set(folder.glob("*.dcm"))  # each instance, its path
    assert all(p.path.parent == folder and p.total == 20 for p in seen)
    other = replace(dcmtk, dimse_backend="pynetdicom")
    assert not connect(other).retrieves_into_folder()
    theirs = retrieve_series(connect(other), StudyCache(tmp_path / "b"), demo_study_uid(),
                             series_uid_of(CASE2_T2), total=20)
    names = sorted(p.name for p in folder.glob("*.dcm"))
    assert names == sorted(p.name for p in theirs.glob("*.dcm")) and len(names) == 20
    originals = {str(pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID): p
                 for p in CASE2_T2.glob("*.dcm")}
    for name in names:
        assert (folder / name).stat().st_mode & 0o777 == 0o600
        assert dataset_part(folder / name) == dataset_part(theirs / name)  # as sent
        ds = pydicom.dcmread(folder / name)
        want = pydicom.dcmread(originals[str(ds.SOPInstanceUID)])
        assert ds.file_meta.TransferSyntaxUID == want.file_meta.TransferSyntaxUID  # kept
        np.testing.assert_array_equal(ds.pixel_array, want.pixel_array)
    np.testing.assert_array_equal(load_volume(folder).voxels, load_volume(CASE2_T2).voxels)


def test_decode_while_retrieving_through_getscu(dcmtk: ServerConfig, tmp_path: Path) -> None:
    seen: list[Progress] = []
    folder, volume = retrieve_volume(connect(dcmtk), StudyCache(tmp_path / "c"),
                                     demo_study_uid(), series_uid_of(CASE2_T2), seen.append,
                                     total=20)
    assert [p.done for p in seen] == list(range(1, 21))
    want = load_volume(folder)
    assert volume.shape == want.shape and volume.files == want.files
    np.testing.assert_array_equal(volume.voxels, want.voxels)
    np.testing.assert_allclose(volume.origin, want.origin)
    np.testing.assert_allclose(volume.spacing, want.spacing)
    assert volume.metadata == want.metadata
    np.testing.assert_array_equal(volume.voxels, load_volume(CASE2_T2).voxels)


def test_fetch_series_still_gives_bytes(dcmtk: ServerConfig) -> None:
    got: dict[str, bytes] = {}
    connect(dcmtk).fetch_series(demo_study_uid(), series_uid_of(CASE2_T2),
                                lambda key, data: got.setdefault(key, data))
    assert len(got) == 20
    for key, data in got.items():
        assert str(pydicom.dcmread(io.BytesIO(data)).SOPInstanceUID) == key


def one_line_error(server: ServerConfig, tmp_path: Path, match: str) -> PacsError:
    cache = StudyCache(tmp_path / "c")
    with pytest.raises(PacsError, match=match) as err:
        retrieve_series(connect(server), cache, demo_study_uid(), series_uid_of(CASE2_T2),
                        total=20)
    assert "\n" not in str(err.value) and server.label in str(err.value)
    assert not cache.series_dir(server.address, demo_study_uid(),
                                series_uid_of(CASE2_T2)).exists()
    return err.value


def test_wrong_called_ae_unknown_calling_ae_and_unreachable(dcmtk: ServerConfig,
                                                            tmp_path: Path) -> None:
    one_line_error(replace(dcmtk, called_aet="NOT-ORTHANC"), tmp_path,
                   "association rejected.*'NOT-ORTHANC'")
    one_line_error(replace(dcmtk, calling_aet="STRANGER"), tmp_path, "refused.*'STRANGER'")
    one_line_error(replace(dcmtk, port=free_port(), timeout=3), tmp_path, "cannot connect")


def test_refused_association(getscu: str, tmp_path: Path) -> None:
    """A DICOM peer that only talks to another AE title rejects the association."""
    from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelGet

    with picky_scp(StudyRootQueryRetrieveInformationModelGet) as port:
        cfg = ServerConfig("picky", protocol="dimse", host="127.0.0.1", port=port,
                           called_aet="PICKY", timeout=5, dimse_backend="dcmtk")
        one_line_error(cfg, tmp_path, "association rejected")


@pytest.fixture(scope="module")
def big_series(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    vox = np.random.default_rng(0).integers(0, 4000, size=(BIG, 512, 512)).astype(np.float32)
    return write_dicom_series(vox, tmp_path_factory.mktemp("big"), spacing=(2.0, 0.5, 0.5),
                              patient_id="BIG-01", patient_name="LARGE^SERIES")


@pytest.fixture(scope="module")
def spare(tmp_path_factory: pytest.TempPathFactory, big_series: list[Path],
          orthanc: LocalOrthanc) -> Iterator[LocalOrthanc]:
    """A second Orthanc (the session one keeps its contents): the big series and a JPEG
    2000 image that Orthanc cannot transcode to the uncompressed syntaxes."""
    server = LocalOrthanc(tmp_path_factory.mktemp("spare"), modalities={OUR_AET: 104}).start()
    server.upload([*big_series, Path(pydicom.__file__).parent / "data" / "test_files"
                   / "JPEG2000.dcm"])
    yield server
    server.stop()


def uids(path: Path) -> tuple[str, str]:
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    return str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID)


def config(server: LocalOrthanc, **kw: object) -> ServerConfig:
    return ServerConfig("spare", protocol="dimse", host="127.0.0.1", port=server.dicom_port,
                        called_aet=server.aet, calling_aet=OUR_AET, timeout=5,
                        dimse_backend="dcmtk", **kw)  # type: ignore[arg-type]


def test_cancel_mid_transfer_keeps_nothing(getscu: str, spare: LocalOrthanc,
                                           big_series: list[Path], tmp_path: Path) -> None:
    cfg, (study, series) = config(spare), uids(big_series[0])
    cache = StudyCache(tmp_path / "c")
    cancel = threading.Event()
    seen: list[int] = []

    def progress(p: Progress) -> None:
        seen.append(p.done)
        if p.done == 1:
            cancel.set()

    with pytest.raises(RetrievalCancelled):
        retrieve_series(connect(cfg), cache, study, series, progress, cancel, total=BIG)
    assert seen == [1]
    assert not cache.series_dir(cfg.address, study, series).exists()
    folder = retrieve_series(connect(cfg), cache, study, series, total=BIG)  # works again
    assert len(list(folder.glob("*.dcm"))) == BIG


def test_cancel_stops_a_waiting_getscu(getscu: str, tmp_path: Path) -> None:
    """A peer that accepts the connection and says nothing: getscu waits for its answer
    until Cancel, which ends it at once (not after the 15 s timeout)."""
    with socket.socket() as mute:
        mute.bind(("127.0.0.1", 0))
        mute.listen()
        cfg = ServerConfig("mute", protocol="dimse", host="127.0.0.1",
                           port=mute.getsockname()[1], timeout=15, dimse_backend="dcmtk")
        cancel = threading.Event()
        threading.Timer(0.5, cancel.set).start()
        cache = StudyCache(tmp_path / "c")
        t0 = time.monotonic()
        with pytest.raises(RetrievalCancelled):
            retrieve_series(connect(cfg), cache, "1.2.3", "1.2.3.4", cancel=cancel)
        assert time.monotonic() - t0 < 4
        assert not cache.series_dir(cfg.address, "1.2.3", "1.2.3.4").exists()


def test_failed_sub_operations(getscu: str, spare: LocalOrthanc, tmp_path: Path) -> None:
    """Orthanc cannot transcode JPEG 2000 for getscu 3.6.7 (it proposes uncompressed syntaxes
    only): one line saying what was not sent. A getscu that accepts every syntax gets the
    original, still compressed."""
    j2k = Path(pydicom.__file__).parent / "data" / "test_files" / "JPEG2000.dcm"
    cfg, (study, series) = config(spare), uids(j2k)
    cache = StudyCache(tmp_path / "c")
    try:
        folder = retrieve_series(connect(cfg), cache, study, series, total=1)
    except PacsError as err:
        # getscu's final status (its counts are in the verbose log only, not read)
        assert "Failed: UnableToProcess (0 instances received)" in str(err)
        assert "\n" not in str(err)
        assert not cache.series_dir(cfg.address, study, series).exists()
    else:
        (got,) = folder.glob("*.dcm")
        assert dataset_part(got)[0] == str(pydicom.dcmread(j2k).file_meta.TransferSyntaxUID)


def test_server_dies_mid_transfer(getscu: str, big_series: list[Path], orthanc: LocalOrthanc,
                                  tmp_path: Path) -> None:
    server = LocalOrthanc(tmp_path / "doomed", modalities={OUR_AET: 104}).start()
    try:
        server.upload(big_series)
        cfg, (study, series) = config(server), uids(big_series[0])
        cache = StudyCache(tmp_path / "c")

        def progress(p: Progress) -> None:
            if p.done == 1:
                server.kill()

        with pytest.raises(PacsError) as err:
            retrieve_series(connect(cfg), cache, study, series, progress, total=BIG)
        assert "\n" not in str(err.value)
        assert not cache.series_complete(cfg.address, study, series)
        assert not cache.series_dir(cfg.address, study, series).exists()
    finally:
        server.stop()


def test_dcmtk_required_but_missing(dimse_server: ServerConfig, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_GETSCU, str(tmp_path / "no-such-getscu"))
    err = one_line_error(replace(dimse_server, dimse_backend="dcmtk"), tmp_path, "getscu")
    assert "dcmtk" in str(err)
    auto = connect(replace(dimse_server, dimse_backend="auto"))  # pynetdicom then
    assert not auto.retrieves_into_folder()
    folder = retrieve_series(auto, StudyCache(tmp_path / "c"), demo_study_uid(),
                             series_uid_of(CASE2_T2), total=20)
    assert len(list(folder.glob("*.dcm"))) == 20


def test_backend_choice(getscu: str, dimse_server: ServerConfig) -> None:
    assert ServerConfig("x", url="http://pacs/dicom-web").dimse_backend == "auto"
    assert connect(replace(dimse_server, dimse_backend="auto")).getscu() == getscu
    for changes in ({"dimse_backend": "pynetdicom"}, {"tls": True}, {"retrieve": "move"},
                    {"tls": True, "dimse_backend": "dcmtk"}):
        assert connect(replace(dimse_server, **changes)).getscu() is None, changes


def test_command_line(dimse_server: ServerConfig, tmp_path: Path) -> None:
    cmd = getscu_command("/usr/bin/getscu", replace(dimse_server, timeout=7.5), "1.2", "1.2.3",
                         tmp_path)
    text = " ".join(cmd)
    for part in ("-S", f"-aet {OUR_AET}", f"-aec {dimse_server.called_aet}", "-pdu 131072",
                 "+B", f"-od {tmp_path}", "-ta 8", "-td 8", "-to 8",
                 "QueryRetrieveLevel=SERIES", "StudyInstanceUID=1.2",
                 "SeriesInstanceUID=1.2.3"):
        assert part in text, part
    assert cmd[-2:] == ["127.0.0.1", str(dimse_server.port)]


def test_settings_keep_the_backend(dimse_server: ServerConfig) -> None:
    save_servers([replace(dimse_server, dimse_backend="dcmtk")])
    (loaded,) = load_servers()
    assert loaded.dimse_backend == "dcmtk"
    text = settings_file().read_text()
    settings_file().write_text(text.replace(',\n      "dimse_backend": "dcmtk"', ""))
    assert "dimse_backend" not in settings_file().read_text()  # an older settings file
    (old,) = load_servers()
    assert old.dimse_backend == "auto" and replace(old, dimse_backend="dcmtk") == loaded
    with pytest.raises(InputError, match="dimse_backend"):
        replace(dimse_server, dimse_backend="fastest")
