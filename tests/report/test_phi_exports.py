"""Exports carry no patient name, ID or birth date unless asked (files read back)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pytest
from pdf_text import pdf_text
from report_fixtures import PHI, PHI_STRINGS

from coloc_viewer import score
from coloc_viewer.metrics.scorer import SCORE_KEYS
from coloc_viewer.report import (
    MapPanel,
    PhiGuard,
    case_report,
    export_case,
    patient_identity,
    scores_csv_text,
)


def _report(case):
    k = case.slice_index
    sal = case.saliency
    panels = [
        MapPanel("A: demo top channel", sal, score(sal, case.roi[k]), model="demo-net",
                 layer="layer4", method="top channel", target=1, rank="contribution", channel=7),
        MapPanel("B: demo Grad-CAM", 2 * sal, score(2 * sal, case.roi[k]), model="demo-net",
                 layer="layer4", method="gradcam", target=1, rank="contribution",
                 scale=(0.0, 2.0), scale_label="common over 2 maps"),
    ]
    return case_report(case.volume, k, case.roi, panels,
                       model_cards=[{"name": "demo-net", "architecture": "resnet18",
                                     "classes": ["no lesion", "lesion"]}])


def _read_all(paths: dict[str, Path]) -> dict[str, str]:
    texts = {}
    for kind, path in paths.items():
        data = path.read_bytes()
        texts[kind] = pdf_text(data) if kind == "pdf" else data.decode("utf-8")
        texts[kind + "-raw"] = data.decode("latin-1")
    return texts


def test_identity_is_read_from_the_series(phi_case) -> None:
    assert patient_identity(phi_case.volume) == {
        "patient_name": PHI["name"], "patient_id": PHI["id"], "patient_birth_date": PHI["birth"],
        "accession_number": ""}
    assert PHI["name"] not in repr(phi_case.volume)


@pytest.fixture(scope="module")
def exports(phi_case, tmp_path_factory):
    report = _report(phi_case)
    out = tmp_path_factory.mktemp("exports")
    return (report, export_case(report, out / "plain"),
            export_case(report, out / "with_phi", include_phi=True))


def test_default_exports_contain_no_phi(exports) -> None:
    _, plain, _ = exports
    texts = _read_all(plain)
    assert "Relevance mass" in texts["pdf"] and "Relevance mass" in texts["html"]
    for kind, text in texts.items():
        for needle in PHI_STRINGS:
            assert needle.lower() not in text.lower(), (kind, needle)
    for path in plain.values():
        assert not any(n.lower() in str(path).lower() for n in PHI_STRINGS)
        assert "series" not in path.name  # no part of the input path either
    assert "[removed]" in texts["html"]  # the name in the series description was scrubbed


def test_include_phi_puts_identity_into_every_export_but_not_file_names(exports) -> None:
    _, _, with_phi = exports
    texts = _read_all(with_phi)
    for kind in ("html", "pdf", "csv"):
        for needle in (PHI["name"], PHI["id"], PHI["birth"]):
            assert needle in texts[kind], (kind, needle)
    for path in with_phi.values():
        assert not any(n.lower() in path.name.lower() for n in PHI_STRINGS)


def test_csv_rows_hold_the_scores_and_definitions(exports, phi_case) -> None:
    report, plain, _ = exports
    text = plain["csv"].read_text()
    comments = [line for line in text.splitlines() if line.startswith("#")]
    for key in SCORE_KEYS:
        assert any(line.startswith(f"# {key}:") for line in comments)
    rows = list(csv.DictReader(io.StringIO("\n".join(
        line for line in text.splitlines() if not line.startswith("#")))))
    assert [r["pane"] for r in rows] == ["A: demo top channel", "B: demo Grad-CAM"]
    k = phi_case.slice_index
    expected = score(2 * phi_case.saliency, phi_case.roi[k])
    for key in ("relevance_mass", "auroc", "p_value", "iou_top_n"):
        assert float(rows[1][key]) == pytest.approx(expected[key], rel=1e-12)
    assert rows[1]["pointing_game"] == ("true" if expected["pointing_game"] else "false")
    assert rows[0]["slice"] == str(k) and rows[0]["series_uid"] == report.series_uid
    assert rows[0]["channel"] == "7" and rows[1]["scale"].startswith("common over 2 maps")


def test_guard_refuses_text_that_would_leak() -> None:
    guard = PhiGuard({"patient_name": "Doe^Janet", "patient_id": "X991",
                      "patient_birth_date": "19600101"})
    assert guard.clean("scan of JANET DOE, id X991, born 1960-01-01") == \
        "scan of [removed], id [removed], born [removed]"
    with pytest.raises(ValueError):
        guard.check(["fine", "Janet was here"])
    rows = [{"pane": "Doe^Janet's map", "relevance_mass": 0.5}]
    text = scores_csv_text(rows, identity=guard.identity)
    assert "Janet" not in text and "[removed]" in text
    assert "Janet" in scores_csv_text(rows, identity=guard.identity, include_phi=True)


def test_empty_roi_gives_null_scores_not_errors(phi_case, tmp_path) -> None:
    k = phi_case.slice_index
    empty = np.zeros(phi_case.roi[k].shape, bool)
    panel = MapPanel("A", phi_case.saliency, score(phi_case.saliency, empty))
    report = case_report(phi_case.volume, k, empty, [panel])
    written = export_case(report, tmp_path, pdf=False)
    assert "n/a" in written["html"].read_text()
    assert ",," in written["csv"].read_text()


def test_slice_rows_cover_every_slice_and_roi(phi_case, tmp_path) -> None:
    from coloc_viewer.report import slice_score_rows, write_scores_csv

    rois = {"lesion": phi_case.roi, "background": ~phi_case.roi}
    maps = {k: phi_case.saliency * (k + 1) for k in range(phi_case.volume.shape[0])}
    rows = slice_score_rows(maps, rois, model="m", method="gradcam", p_value=False)
    assert [(r["slice"], r["roi"]) for r in rows] == [
        (k, n) for k in range(phi_case.volume.shape[0]) for n in ("lesion", "background")]
    k = phi_case.slice_index
    expected = score(maps[k], phi_case.roi[k], p_value=False)
    got = next(r for r in rows if r["slice"] == k and r["roi"] == "lesion")
    assert {key: got[key] for key in expected} == expected
    empty = next(r for r in rows if r["slice"] == 0 and r["roi"] == "lesion")
    assert empty["relevance_mass"] is None  # no ROI on slice 0: undefined, not an error
    text = write_scores_csv(rows, tmp_path / "all.csv").read_text()
    assert len([ln for ln in text.splitlines() if not ln.startswith("#")]) == 1 + len(rows)


def test_guard_matches_whole_words_only() -> None:
    guard = PhiGuard({"patient_name": "Eva^Ove", "patient_id": "123",
                      "patient_birth_date": ""})
    text = "Relevance of slice 41234 for eva; Ove's scan, id 123, UID 1.2.41234.5"
    assert guard.clean(text) == ("Relevance of slice 41234 for [removed]; [removed]'s scan, "
                                 "id [removed], UID 1.2.41234.5")
    guard.check([guard.clean(text)])  # "[removed]" contains "ove" but is no leak
    with pytest.raises(ValueError):
        guard.check(["seen by Eva"])


def test_display_name_reads_a_dicom_person_name_as_people_do():
    from coloc_viewer.report.phi import display_name

    assert display_name("DOE^JANE") == "DOE JANE"
    assert display_name("DOE^JANE^^DR^") == "DOE JANE DR"
    assert display_name("SYNTHETIC^PHANTOM") == "SYNTHETIC PHANTOM"
    assert display_name("") == ""
