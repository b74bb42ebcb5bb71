"""``coloc-viewer pacs find|get|send|echo|cache`` and pacs:// inputs of ``analyze`` and cohort
manifests, against the real Orthanc."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import quote

import pytest
from pacs_helpers import OUR_AET, demo_study_uid, series_uid_of, study_uid_of

from coloc_viewer.cli.main import main
from coloc_viewer.pacs.orthanc_local import free_port
from coloc_viewer.pacs.servers import ServerConfig
from coloc_viewer.resources import demo_dir

CASE2 = demo_dir() / "case-02"


def _run(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str, str]:
    code = main(["pacs", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_find_json_one_object_per_study_and_series(configured: list[ServerConfig],
                                                   capsys: pytest.CaptureFixture) -> None:
    dimse = configured[1]
    for server in ("orthanc-web", dimse.address):  # a configured name; dicom://AET@host:port
        code, out, err = _run(capsys, "find", "--server", server, "--patient-name",
                              "SYNTHETIC*", "--json", "--calling-aet", OUR_AET)
        assert code == 0, err
        rows = [json.loads(line) for line in out.splitlines()]
        assert sorted(r["patient_id"] for r in rows) == ["SYNTH-01", "SYNTH-02"]
        assert {r["level"] for r in rows} == {"study"}
    code, out, err = _run(capsys, "find", "--server", "orthanc-dimse", "--patient-id",
                          "SYNTH-01", "--series", "--json")
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["level"] for r in rows] == ["study", "series", "series", "series"]
    code, out, _ = _run(capsys, "find", "--server", "orthanc-web", "--accession", "NOPE",
                        "--json")
    assert code == 0 and out == ""
    code, out, _ = _run(capsys, "find", "--server", "orthanc-web", "--study", demo_study_uid())
    assert code == 0 and out.startswith("series ") and "20 instances" in out


def test_get_prints_the_cached_folder_and_send_stores(configured: list[ServerConfig],
                                                      capsys: pytest.CaptureFixture,
                                                      tmp_path: Path) -> None:
    study, series = demo_study_uid(), series_uid_of(CASE2 / "dicom")
    code, out, err = _run(capsys, "get", "--server", "orthanc-dimse", study, "--series",
                          series)
    assert code == 0, err
    folder = Path(out.strip())
    assert len(list(folder.glob("*.dcm"))) == 20 and "retrieving 20/20" in err
    code, out, err = _run(capsys, "get", "--server", "orthanc-dimse", study, "--series",
                          series)
    assert Path(out.strip()) == folder and "in the cache already" in err
    code, out, _ = _run(capsys, "cache")
    assert code == 0 and ": 1 series of 1 study, " in out
    code, out, _ = _run(capsys, "cache", "--purge")
    assert code == 0 and "purged" in out and not folder.exists()
    # another program holds the series' lock for half a second: get says it waits
    import threading

    from coloc_viewer.pacs.cache import StudyCache

    lock = StudyCache().series_lock(folder)
    lock.acquire()
    threading.Timer(0.5, lock.release).start()
    code, out, err = _run(capsys, "get", "--server", "orthanc-dimse", study, "--series",
                          series)
    assert code == 0 and Path(out.strip()) == folder
    assert "waiting: another program is retrieving this series" in err
    assert "retrieving 20/20" in err
    _run(capsys, "cache", "--purge")

    from coloc_viewer.imaging.load import load_volume
    from coloc_viewer.imaging.roi_io import load_rois, save_rois

    volume = load_volume(CASE2 / "dicom")
    seg = save_rois(load_rois(CASE2 / "rois.nii.gz", like=volume), tmp_path / "r.seg.dcm",
                    like=volume)
    for server in ("orthanc-web", "orthanc-dimse"):
        code, out, err = _run(capsys, "send", "--server", server, str(seg))
        assert code == 0, err
        assert out.strip() == f"sent 1 object(s) to {server}"


def test_bad_input_is_one_line_exit_2(configured: list[ServerConfig],
                                      capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    web, dimse = configured
    not_dicom = tmp_path / "notes.txt"
    not_dicom.write_text("hello")
    port = free_port()
    cases = [
        (["echo", "--server", "nowhere"], "not a configured PACS"),
        (["echo", "--server", f"dicom://ORTHANC@127.0.0.1:{port}"], "cannot connect"),
        (["echo", "--server", dimse.address.replace("ORTHANC@", "WRONG@")],
         "association rejected|aborted the association"),  # see test_client
        (["find", "--server", web.url], "401"),  # no user given: refused
        (["find", "--server", "orthanc-web", "--date-from", "2020-13"], "not YYYYMMDD"),
        (["find", "--server", "orthanc-web", "--date-to", "2021-02-29"], "not a calendar date"),
        (["send", "--server", "orthanc-web", str(not_dicom)], "not a DICOM file"),
        (["get", "--server", "orthanc-web", "pacs://orthanc-web/1.2.3/4.5.6"],
         "no such series"),
    ]
    for argv, reason in cases:
        code, out, err = _run(capsys, *argv)
        assert code == 2, (argv, err)
        assert err.count("\n") == 1 and re.search(reason, err), (argv, err)
        assert "Traceback" not in err
    code, out, err = _run(capsys, "echo", "--server", "orthanc-dimse")
    assert code == 0 and "answers (C-ECHO and C-FIND)" in out
    # Orthanc answers C-ECHO from any AE title but refuses searches from unknown ones: the
    # test says so instead of "answers"
    dimse = configured[1]
    code, out, err = _run(capsys, "echo", "--server",
                          f"dicom://{dimse.called_aet}@{dimse.host}:{dimse.port}",
                          "--calling-aet", "STRANGER")
    assert code == 0  # C-ECHO works; a store-only node offers no search either
    assert "answers C-ECHO only: searching and retrieving will fail" in out
    assert "C-FIND" in out and "'STRANGER'" in out and out.count("\n") == 1


@pytest.mark.slow
def test_analyze_takes_a_pacs_url(configured: list[ServerConfig],
                                  capsys: pytest.CaptureFixture) -> None:
    """``analyze pacs://...`` gives the result of ``analyze`` on the original folder."""
    study, series = demo_study_uid(), series_uid_of(CASE2 / "dicom")
    roi = str(CASE2 / "rois.nii.gz")
    url = f"pacs://{quote(configured[1].address, safe='')}/{study}/{series}"
    results = []
    for image in (str(CASE2 / "dicom"), url):
        code = main(["analyze", image, "--roi", roi, "--json"])
        out = capsys.readouterr()
        assert code == 0, out.err
        results.append(json.loads(out.out))
    assert results[0] == results[1]


def test_cohort_manifest_rows_take_pacs_urls(configured: list[ServerConfig],
                                             tmp_path: Path) -> None:
    """A manifest row's pacs:// image stays an address (not a path under the manifest's
    folder) and the case loads the retrieved study, here for a card with input roles too."""
    import numpy as np

    from coloc_viewer.cohort.inputs import case_inputs
    from coloc_viewer.cohort.manifest import read_manifest
    from coloc_viewer.cohort.worker import load_case
    from coloc_viewer.imaging.load import load_volume

    study1 = study_uid_of(demo_dir() / "case-01" / "dicom")
    url2 = f"pacs://orthanc-web/{demo_study_uid()}"
    manifest = tmp_path / "m.csv"
    manifest.write_text("image,roi,case_id,ADC\n"
                        f"{url2},{CASE2 / 'rois.nii.gz'},c2,\n"
                        f"pacs://orthanc-dimse/{study1},{demo_dir() / 'case-01' / 'lesion.nii.gz'},"
                        f"c1,pacs://orthanc-web/{study1}\n")
    case2, case1 = read_manifest(manifest, roles=("ADC",))
    assert case2.image == url2
    volume, _inputs, masks = load_case(case2, None)
    np.testing.assert_array_equal(volume.voxels, load_volume(CASE2 / "dicom").voxels)
    assert masks

    class Card:
        name = "roles"
        inputs = [{"role": "T2", "series": "(?i)t2"}, {"role": "ADC", "series": "(?i)adc"}]
        spatial_dims, in_channels = 3, 2

    first, stacked = case_inputs(case1, Card())
    np.testing.assert_array_equal(first.voxels,
                                  load_volume(demo_dir() / "case-01" / "dicom").voxels)
    assert set(stacked) == {"T2", "ADC"}
