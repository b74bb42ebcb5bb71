"""The PACS client against a real Orthanc: search, retrieve over DICOMweb, C-GET and C-MOVE
with voxel equality, store, and what goes wrong (AE titles, refused and unreachable peers,
a wrong password)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from pacs_helpers import USER, demo_study_uid, picky_scp, series_uid_of

from coloc_viewer.imaging.load import load_volume
from coloc_viewer.pacs.cache import StudyCache
from coloc_viewer.pacs.errors import PacsError
from coloc_viewer.pacs.orthanc_local import free_port
from coloc_viewer.pacs.query import Query
from coloc_viewer.pacs.retrieve import connect, retrieve_series, retrieve_study
from coloc_viewer.pacs.servers import ServerConfig
from coloc_viewer.resources import demo_dir

CASE1_T2 = demo_dir() / "case-01" / "dicom"
CASE2_T2 = demo_dir() / "case-02" / "dicom"


@pytest.fixture(params=["web", "get", "move"])
def server(request: pytest.FixtureRequest, web_server: ServerConfig,
           dimse_server: ServerConfig) -> ServerConfig:
    if request.param == "web":
        return web_server
    return ServerConfig(**{**dimse_server.to_json(), "retrieve": request.param})


def test_search_by_patient_name_modality_and_date(server: ServerConfig) -> None:
    client = connect(server)
    client.echo()
    everything = client.find_studies(Query())
    assert len(everything) >= 5  # two demo studies + the DICOMDIR tree's studies
    by_id = client.find_studies(Query(patient_id="SYNTH-01"))
    assert [r.patient_id for r in by_id] == ["SYNTH-01"]
    assert by_id[0].n_series == 3
    by_name = client.find_studies(Query(patient_name="SYNTHETIC*"))
    assert sorted(r.patient_id for r in by_name) == ["SYNTH-01", "SYNTH-02"]
    # the name with its component separator, as the search field's hint shows it
    for pattern in ("SYNTHETIC^PHANTOM", "SYNTHETIC^P*", "synthetic^phantom", "*^PHANT?M"):
        found = client.find_studies(Query(patient_name=pattern))
        assert sorted(r.patient_id for r in found) == ["SYNTH-01", "SYNTH-02"], pattern
    for pattern in ("SYNTH^PHANTOM", "SYNTHETIC^X*", "PHANTOM^SYNTHETIC"):
        assert client.find_studies(Query(patient_name=pattern)) == [], pattern
    assert client.find_studies(Query(patient_id="SYNTH-01", date_from="1999-01-01",
                                     date_to="1999-12-31")) == []
    assert len(client.find_studies(Query(patient_id="SYNTH-01", date_from="20000101"))) == 1
    assert client.find_studies(Query(patient_id="SYNTH-01", modality="CT")) == []
    mr = client.find_studies(Query(modality="MR"))
    assert {"SYNTH-01", "SYNTH-02"} <= {r.patient_id for r in mr}
    series = client.find_series(by_id[0].study_uid)
    assert sorted(s.n_instances for s in series) == [15, 15, 20]
    assert series_uid_of(CASE1_T2) in {s.series_uid for s in series}


def test_retrieve_gives_the_original_voxels(server: ServerConfig, tmp_path: Path) -> None:
    client = connect(server)
    cache = StudyCache(tmp_path / "c")
    seen: list[int] = []
    folder = retrieve_series(client, cache, demo_study_uid(), series_uid_of(CASE2_T2),
                             progress=lambda p: seen.append(p.done), total=20)
    assert seen == list(range(1, 21))
    got, want = load_volume(folder), load_volume(CASE2_T2)
    assert got.shape == want.shape == (20, *want.shape[1:])
    np.testing.assert_array_equal(got.voxels, want.voxels)
    np.testing.assert_allclose(got.spacing, want.spacing)
    np.testing.assert_allclose(got.origin, want.origin)


def test_whole_study_from_dicomdir_tree(web_server: ServerConfig, tmp_path: Path,
                                        pydicom_data: Path) -> None:
    """A study of pydicom's DICOMDIR tree (several series) arrives whole; every instance
    decodes to the pixels of its original file."""
    import pydicom

    src = pydicom_data / "dicomdirtests" / "98892003"
    studies: dict[str, dict[str, Path]] = {}
    for f in (p for p in src.rglob("*") if p.is_file()):
        ds = pydicom.dcmread(f, stop_before_pixels=True)
        studies.setdefault(str(ds.StudyInstanceUID), {})[str(ds.SOPInstanceUID)] = f
    study, originals = max(studies.items(), key=lambda kv: len(kv[1]))
    folder = retrieve_study(connect(web_server), StudyCache(tmp_path / "c"), study)
    got = sorted(folder.rglob("*.dcm"))
    assert len(got) == len(originals)
    assert len({p.parent for p in got}) >= 2  # several series
    for path in got:
        ds = pydicom.dcmread(path)
        original = pydicom.dcmread(originals[str(ds.SOPInstanceUID)])
        np.testing.assert_array_equal(ds.pixel_array, original.pixel_array)


def _first_header(folder: Path):
    import pydicom

    first = next(p for p in sorted(folder.iterdir()) if p.is_file() and p.name[0] != ".")
    return pydicom.dcmread(first, stop_before_pixels=True)


def series_uid_of_any(folder: Path) -> str:
    return str(_first_header(folder).SeriesInstanceUID)


def study_uid_of_any(folder: Path) -> str:
    return str(_first_header(folder).StudyInstanceUID)


def test_store_and_read_back_a_seg(server: ServerConfig, tmp_path: Path) -> None:
    """The ROI set as DICOM SEG goes to the PACS (STOW-RS or C-STORE) and comes back, over
    the same protocol, as the same segments with the same voxels."""
    import highdicom as hd
    import pydicom

    from coloc_viewer.imaging.roi_io import load_rois, save_rois

    volume = load_volume(CASE2_T2)
    rois = load_rois(demo_dir() / "case-02" / "rois.nii.gz", like=volume)
    seg_path = save_rois(rois, tmp_path / "out.seg.dcm", like=volume)
    sent = pydicom.dcmread(seg_path)
    client = connect(server)
    assert client.store([seg_path]) == 1
    folder = retrieve_series(client, StudyCache(tmp_path / "c"), str(sent.StudyInstanceUID),
                             str(sent.SeriesInstanceUID), total=1)
    (back_path,) = folder.glob("*.dcm")
    seg = hd.seg.Segmentation.from_dataset(pydicom.dcmread(back_path))
    assert str(seg.SOPInstanceUID) == str(sent.SOPInstanceUID)
    assert [s.SegmentLabel for s in seg.SegmentSequence] == list(rois.names)
    back = load_rois(back_path, like=volume)
    assert back.names == rois.names
    for a, b in zip(back, rois, strict=True):
        np.testing.assert_array_equal(a.mask, b.mask)


def test_store_and_read_back_seg_and_sr(server: ServerConfig, tmp_path: Path) -> None:
    """SEG + the scores' SR (``report.dicom_sr``) go by STOW-RS or C-STORE and come back
    from Orthanc: highdicom reads the SR, whose measurements are the scores sent."""
    import highdicom as hd
    import pydicom

    from coloc_viewer.imaging.roi_io import load_rois
    from coloc_viewer.metrics.scores import score
    from coloc_viewer.report.dicom_sr import build_dicom_results

    volume = load_volume(CASE2_T2)
    rois = load_rois(demo_dir() / "case-02" / "rois.nii.gz", like=volume)
    z = int(np.argmax(rois[0].mask.sum(axis=(1, 2))))
    yy, xx = np.mgrid[: volume.shape[1], : volume.shape[2]]
    cy, cx = np.argwhere(rois[0].mask[z]).mean(axis=0)
    saliency = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 50.0)
    rows = [{"roi": r.name, "map": "gradcam", "slice": z, **score(saliency, r.mask[z]),
             "verdict": "test"} for r in rois if r.mask[z].any()]
    seg, sr = build_dicom_results(volume, rois, rows, {"name": "demo", "card_hash": "0" * 16,
                                                       "layer": "layer3", "rank": "max"})
    paths = [tmp_path / "seg.dcm", tmp_path / "sr.dcm"]
    seg.save_as(paths[0], enforce_file_format=True)
    sr.save_as(paths[1], enforce_file_format=True)
    client = connect(server)
    assert client.store(paths) == 2
    folder = retrieve_series(client, StudyCache(tmp_path / "c"), str(sr.StudyInstanceUID),
                             str(sr.SeriesInstanceUID), total=1)
    back = pydicom.dcmread(next(folder.glob("*.dcm")))
    assert str(back.SOPInstanceUID) == str(sr.SOPInstanceUID)
    hd.sr.Comprehensive3DSR.from_dataset(back)

    def numbers(items):
        for item in items:
            if "MeasuredValueSequence" in item:
                yield (item.ConceptNameCodeSequence[0].CodeValue,
                       float(item.MeasuredValueSequence[0].NumericValue))
            if "ContentSequence" in item:
                yield from numbers(item.ContentSequence)

    got = sorted(v for code, v in numbers(back.ContentSequence) if code == "RMASS")
    want = sorted(r["relevance_mass"] for r in rows if r["relevance_mass"] is not None)
    np.testing.assert_allclose(got, want, rtol=1e-6)
    assert len(got) >= 1


def test_wrong_called_ae_title_is_one_line(dimse_server: ServerConfig) -> None:
    bad = ServerConfig(**{**dimse_server.to_json(), "called_aet": "NOT-ORTHANC"})
    # Orthanc rejects; under load its reset can overtake the rejection (an abort then)
    with pytest.raises(PacsError, match="association rejected|aborted the association") as err:
        connect(bad).echo()
    assert "\n" not in str(err.value) and "orthanc-dimse" in str(err.value)
    assert "'NOT-ORTHANC'" in str(err.value)


def test_unknown_calling_ae_may_not_query(dimse_server: ServerConfig) -> None:
    stranger = ServerConfig(**{**dimse_server.to_json(), "calling_aet": "STRANGER"})
    connect(stranger).echo()  # anyone may echo
    for attempt in (lambda c: c.find_studies(Query()),
                    lambda c: c.fetch_series(demo_study_uid(), series_uid_of(CASE2_T2),
                                             lambda uid, data: None)):
        with pytest.raises(PacsError, match="refused.*'STRANGER'"):
            attempt(connect(stranger))


def test_cmove_to_a_listener_the_pacs_cannot_reach(dimse_server: ServerConfig,
                                                   tmp_path: Path) -> None:
    """C-MOVE with our listener on another port than the one the PACS has for our AE title:
    the PACS's failure status comes with what to check, not a bare status code."""
    moved = ServerConfig(**{**dimse_server.to_json(), "retrieve": "move",
                            "move_port": free_port()})
    with pytest.raises(PacsError) as err:
        retrieve_series(connect(moved), StudyCache(tmp_path / "c"), demo_study_uid(),
                        series_uid_of(CASE2_T2), total=20)
    text = str(err.value)
    assert text.startswith("PACS orthanc-dimse: C-MOVE") and "\n" not in text
    assert f"our AE title 'COLOCVIEWER' with this computer's address and port " \
        f"{moved.move_port}" in text


def test_refused_association() -> None:
    """A DICOM peer that only talks to another AE title rejects the association."""
    from pynetdicom.sop_class import Verification

    with picky_scp(Verification) as port:
        cfg = ServerConfig("picky", protocol="dimse", host="127.0.0.1", port=port,
                           called_aet="PICKY", timeout=5)
        with pytest.raises(PacsError, match="association rejected"):
            connect(cfg).echo()


def test_unreachable_server(dimse_server: ServerConfig) -> None:
    port = free_port()
    for cfg in (ServerConfig("gone", protocol="dimse", host="127.0.0.1", port=port, timeout=3),
                ServerConfig("gone-web", url=f"http://127.0.0.1:{port}/dicom-web", timeout=3)):
        with pytest.raises(PacsError, match="cannot connect") as err:
            connect(cfg).find_studies(Query())
        assert str(err.value).count("\n") == 0


def test_wrong_password(web_server: ServerConfig, memory_keyring) -> None:
    from coloc_viewer.pacs.servers import set_password

    set_password(web_server, "not-the-password")
    with pytest.raises(PacsError, match="401"):
        connect(web_server).echo()
    anonymous = ServerConfig("anon", url=web_server.url)
    with pytest.raises(PacsError, match="401"):
        connect(anonymous).find_studies(Query())
    assert USER


def test_no_patient_identifier_in_the_log(server: ServerConfig, tmp_path: Path,
                                          caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    client = connect(server)
    rows = client.find_studies(Query(patient_id="SYNTH-02"))
    retrieve_study(client, StudyCache(tmp_path / "c"), rows[0].study_uid)
    text = caplog.text
    assert "retrieved" in text  # the log did say something
    for phi in ("SYNTH-02", "SYNTHETIC", "PHANTOM"):
        assert phi not in text
