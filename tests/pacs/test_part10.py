"""Received C-STORE data sets written as Part 10 files without decoding them, and the
C-GET association settings that make the transfer faster (checked against Orthanc)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from pacs_helpers import demo_study_uid, series_uid_of

from coloc_viewer.pacs.cache import StudyCache
from coloc_viewer.pacs.part10 import part10_bytes, part10_header
from coloc_viewer.pacs.retrieve import connect, retrieve_series
from coloc_viewer.pacs.servers import ServerConfig
from coloc_viewer.resources import demo_dir

CASE2_T2 = demo_dir() / "case-02" / "dicom"


def _dataset_bytes(path: Path) -> tuple[pydicom.Dataset, bytes]:
    """A file's data set as a C-STORE request carries it (no preamble, no file meta)."""
    raw = path.read_bytes()
    assert raw[128:132] == b"DICM" and raw[132:136] == b"\x02\x00\x00\x00"
    start = 144 + int.from_bytes(raw[140:144], "little")
    return pydicom.dcmread(path), raw[start:]


def test_part10_bytes_read_back_as_the_original(tmp_path: Path) -> None:
    src = sorted(CASE2_T2.glob("*.dcm"))[3]
    ds, raw = _dataset_bytes(src)
    data = part10_bytes(ds.SOPClassUID, ds.SOPInstanceUID, ds.file_meta.TransferSyntaxUID, raw)
    (tmp_path / "x.dcm").write_bytes(data)
    back = pydicom.dcmread(tmp_path / "x.dcm")
    assert back.file_meta.TransferSyntaxUID == ds.file_meta.TransferSyntaxUID
    assert back.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
    assert back.file_meta.MediaStorageSOPClassUID == ds.SOPClassUID
    assert back.SOPInstanceUID == ds.SOPInstanceUID
    np.testing.assert_array_equal(back.pixel_array, ds.pixel_array)
    # the group length covers exactly the meta group
    header = part10_header(ds.SOPClassUID, ds.SOPInstanceUID, "1.2.840.10008.1.2")
    assert len(header) == 132 + 12 + int.from_bytes(header[140:144], "little")


@pytest.mark.parametrize("bad", ["", "1.2.x", "1." * 40])
def test_part10_refuses_what_is_not_a_uid(bad: str) -> None:
    with pytest.raises(ValueError):
        part10_header(bad, "1.2.3", "1.2.840.10008.1.2.1")


def test_cget_stores_what_orthanc_stored_without_transcoding(dimse_server: ServerConfig,
                                                              tmp_path: Path) -> None:
    """Same transfer syntax as the original, the same data set bytes after the meta, and
    large PDUs negotiated (our maximum: no limit)."""

    folder = retrieve_series(connect(dimse_server), StudyCache(tmp_path / "c"),
                             demo_study_uid(), series_uid_of(CASE2_T2), total=20)
    originals = {str(pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID): p
                 for p in CASE2_T2.glob("*.dcm")}
    got = sorted(folder.glob("*.dcm"))
    assert len(got) == 20
    for path in got:
        ds = pydicom.dcmread(path)
        want = pydicom.dcmread(originals[str(ds.SOPInstanceUID)])
        assert ds.file_meta.TransferSyntaxUID == want.file_meta.TransferSyntaxUID
        np.testing.assert_array_equal(ds.pixel_array, want.pixel_array)


def test_cget_association_settings(dimse_server: ServerConfig, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """No PDU limit negotiated (Orthanc then sends its largest PDUs, not 16 kB ones) and
    the DUL reactor does not nap between PDUs."""
    from coloc_viewer.pacs import dimse

    seen: list[tuple[int, float]] = []
    original = dimse.no_reactor_nap

    def spy(assoc):  # noqa: ANN001, ANN202
        original(assoc)
        seen.append((assoc.requestor.maximum_length, assoc.dul._run_loop_delay))

    monkeypatch.setattr(dimse, "no_reactor_nap", spy)
    retrieve_series(connect(dimse_server), StudyCache(tmp_path / "c"), demo_study_uid(),
                    series_uid_of(CASE2_T2), total=20)
    assert seen == [(0, 0.0)]


def test_small_instances_do_not_wait_for_delayed_acks(orthanc, dimse_server: ServerConfig,
                                                      tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Orthanc (Debian's DCMTK) keeps Nagle's algorithm on: without our quick ACKs each small
    instance of a C-GET waited ~48 ms for a delayed ACK (40 instances: 2.05 s)."""
    import time

    from coloc_viewer.imaging.dicom_write import write_dicom_series
    from coloc_viewer.pacs import pynetdicom_speed

    n = 40
    vox = np.random.default_rng(3).integers(0, 500, size=(n, 64, 64)).astype(np.float32)
    paths = write_dicom_series(vox, tmp_path / "small", patient_id="ACK-01",
                               patient_name="QUICK^ACK")
    orthanc.upload(paths)
    ds = pydicom.dcmread(paths[0], stop_before_pixels=True)
    acks: list[int] = []
    original = pynetdicom_speed.quick_ack
    monkeypatch.setattr(pynetdicom_speed, "quick_ack", lambda e: (acks.append(1), original(e)))
    t0 = time.perf_counter()
    folder = retrieve_series(connect(dimse_server), StudyCache(tmp_path / "c"),
                             str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID), total=n)
    elapsed = time.perf_counter() - t0
    assert len(list(folder.glob("*.dcm"))) == n
    assert len(acks) >= n  # after every C-STORE response at least
    print(f"{n} small instances over C-GET: {elapsed:.2f} s (2.05 s with delayed ACKs)")
