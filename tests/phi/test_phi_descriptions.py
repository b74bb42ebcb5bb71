"""Issue 14, failure 8: a patient name inside a DICOM description is scrubbed everywhere the
product shows or writes it outside the live viewer -- the Series panel (screenshots),
reports, CSV tables, the workspace's session.json and logs -- on word boundaries only."""

from __future__ import annotations

import json
import logging
import re

import numpy as np
import pytest

from coloc_viewer import score
from coloc_viewer.imaging.dicom_write import write_dicom_series
from coloc_viewer.imaging.inspect import scan
from coloc_viewer.imaging.load import load_volume
from coloc_viewer.imaging.redact import REMOVED, redact_description, redact_text

IDENTITY = {"patient_name": "DEMO^PHANTOM", "patient_id": "PID-4711",
            "accession_number": "ACC0815"}
DESCRIPTION = "T2 AX Phantom^Demo acc0815 follow-up"
LEAK = re.compile(r"(?<![^\W_])(phantom|demo|PID-4711|ACC0815)(?![^\W_])", re.IGNORECASE)


@pytest.mark.parametrize("text,description,free", [
    ("DEMO PHANTOM t2", f"{REMOVED} t2", f"{REMOVED} t2"),
    ("Phantom^Demo", REMOVED, REMOVED),
    ("t2 DEMO_PHANTOM", f"t2 {REMOVED}", f"t2 {REMOVED}"),
    ("T2 (Phantom)", f"T2 ({REMOVED})", f"T2 ({REMOVED})"),
    ("seen by Demo.", f"seen by {REMOVED}.", f"seen by {REMOVED}."),
    ("Demo's scan", f"{REMOVED}'s scan", f"{REMOVED}'s scan"),
    ("model demo-clean", f"model {REMOVED}-clean", "model demo-clean"),
    ("resources/demo/case-01", f"resources/{REMOVED}/case-01", "resources/demo/case-01"),
    ("Demonstration phantoms", "Demonstration phantoms", "Demonstration phantoms"),
    ("id PID-4711, acc ACC0815", f"id {REMOVED}, acc {REMOVED}",
     f"id {REMOVED}, acc {REMOVED}"),
    ("xPID-4711 ACC08150", "xPID-4711 ACC08150", "xPID-4711 ACC08150"),
])
def test_rules(text, description, free):
    assert redact_description(text, IDENTITY) == description
    assert redact_text(text, IDENTITY) == free


@pytest.fixture(scope="module")
def series(tmp_path_factory):
    folder = tmp_path_factory.mktemp("phi") / "series"
    yy, xx = np.mgrid[:32, :32]
    vox = np.stack([100.0 * ((yy - 16) ** 2 + (xx - 16) ** 2 < 100) + k for k in range(3)])
    write_dicom_series(vox, folder, patient_name=IDENTITY["patient_name"],
                       patient_id=IDENTITY["patient_id"], series_description=DESCRIPTION,
                       extra={"AccessionNumber": IDENTITY["accession_number"]})
    return folder


def test_series_info_keeps_identity_private(series):
    info = scan(series)[0]
    assert info.safe_description == f"T2 AX {REMOVED} {REMOVED} follow-up"
    assert "identity" not in info.to_dict() and "DEMO" not in repr(info).replace(
        info.description, "")


@pytest.mark.gui
def test_series_panel_shows_the_redacted_description(series, qtbot):
    from coloc_viewer.gui.series_browser import SeriesBrowser

    browser = SeriesBrowser()
    qtbot.addWidget(browser)
    browser.set_series(str(series), scan(series))
    item = browser.tree.topLevelItem(0)
    shown = [item.text(c) for c in range(browser.tree.columnCount())]
    assert shown[0] == f"T2 AX {REMOVED} {REMOVED} follow-up"
    assert not any(LEAK.search(t) for t in [*shown, item.toolTip(0)])


def test_session_json_holds_no_identifier(series, tmp_path):
    from coloc_viewer.workspace.session import StudySession

    volume = load_volume(series)
    session = StudySession.open(volume, root=tmp_path)
    try:
        session.state_changed(slice=1)
    finally:
        session.close()
    files = [p for p in tmp_path.rglob("*.json")]
    assert any(p.name == "session.json" for p in files)
    for path in files:
        text = path.read_text()
        assert not LEAK.search(text), (path.name, text)
    info = json.loads(next(p for p in files if p.name == "session.json").read_text())
    assert "follow-up" in info.get("description", "")


def _report(series):
    from coloc_viewer.report import MapPanel, case_report

    volume = load_volume(series)
    roi = volume.voxels > 50
    sal = np.exp(-((np.mgrid[:32, :32][0] - 16.0) ** 2) / 50).astype(np.float32)
    panel = MapPanel("A: demo-clean top channel", sal, score(sal, roi[1]), model="demo-clean",
                     layer="layer4", method="top channel", target=1, rank="contribution",
                     channel=3)
    return case_report(volume, 1, roi, [panel],
                       model_cards=[{"name": "demo-clean", "architecture": "resnet18"}])


def test_report_scrubs_the_description_but_keeps_model_names(series, tmp_path):
    from coloc_viewer.report import export_case

    report = _report(series)
    assert report.identity["accession_number"] == IDENTITY["accession_number"]
    paths = export_case(report, tmp_path)
    html = next(p for p in paths.values() if str(p).endswith(".html")).read_text()
    assert f"T2 AX {REMOVED} {REMOVED} follow-up" in html
    assert "demo-clean" in html and f"{REMOVED}-clean" not in html
    visible = re.sub(r"demo-clean", "", html)
    assert not LEAK.search(visible)


def test_csv_description_column_is_scrubbed():
    from coloc_viewer.report import scores_csv_text

    text = scores_csv_text([{"series_description": DESCRIPTION, "model": "demo-clean"}],
                           identity=IDENTITY)
    assert f"T2 AX {REMOVED} {REMOVED} follow-up" in text and "demo-clean" in text


def test_loading_logs_no_identifier(series, caplog):
    with caplog.at_level(logging.DEBUG):
        load_volume(series)
        scan(series)
    assert not LEAK.search(caplog.text)


@pytest.mark.gui
def test_recent_studies_text_of_a_pacs_series_is_redacted() -> None:
    """Recent studies keeps its menu text in the settings file: a PACS series' description
    naming the patient is stored redacted (a review found "T2 AX big synthetic" there for
    patient SYNTHETIC^BIGSERIES)."""
    from coloc_viewer.gui.pacs_tables import opening_message, recent_entry
    from coloc_viewer.pacs.query import SeriesRow, StudyRow
    from coloc_viewer.pacs.servers import ServerConfig

    study = StudyRow("1.2.3", "PID-4711", "DEMO^PHANTOM", "20230315", "ACC0815",
                     "Prostate Demo", "MR", 1, 20)
    series = SeriesRow("1.2.3", "1.2.3.4", "MR", 3, DESCRIPTION, 20)
    server = ServerConfig("hospital", url="http://pacs/dicom-web")
    for row in (series, None):  # a series, or the whole study
        address, label = recent_entry(server, study, row)
        assert address.startswith("pacs://hospital/1.2.3")
        assert label.startswith("PACS hospital: ") and "(2023-03-15)" in label
        assert not LEAK.search(label) and REMOVED in label, label
        what = label.removeprefix("PACS hospital: ")
        assert opening_message(label) == f"Opening {what} from PACS hospital…"
    assert opening_message("case-01") == "Opening case-01…"
