"""The rotating log file and the PHI redaction filter, on real DICOM headers."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pydicom
import pytest

from coloc_viewer import logging_setup
from coloc_viewer.logging_setup import LOG_FILE_NAME, configure_logging, log_dir, redact_phi

# pydicom test files whose headers carry a patient name, ID (and some a birth date).
PHI_FILES = ["CT_small.dcm", "MR_small.dcm", "examples_overlay.dcm", "waveform_ecg.dcm"]


@pytest.fixture
def logs(tmp_path, monkeypatch):
    """A log folder in tmp; our handlers are removed again after the test."""
    monkeypatch.setenv("COLOC_VIEWER_LOG_DIR", str(tmp_path / "logs"))
    root = logging.getLogger()
    level = root.level
    yield tmp_path / "logs"
    logging_setup._remove_previous(root)
    root.setLevel(level)
    logging.captureWarnings(False)


def _flush() -> None:
    for handler in logging.getLogger().handlers:
        handler.flush()


def _phi_values(ds: pydicom.Dataset) -> list[str]:
    values = [str(ds.get(k, "")) for k in ("PatientName", "PatientID", "PatientBirthDate")]
    values += [part for part in str(ds.get("PatientName", "")).split("^") if len(part) > 2]
    return [v for v in values if v]


def test_log_file_goes_to_the_override_folder(logs):
    path = configure_logging()
    assert path == logs / LOG_FILE_NAME
    logging.getLogger("coloc_viewer.test").info("opened series %s", "1.2.3")
    _flush()
    text = path.read_text(encoding="utf-8")
    assert "coloc_viewer.test: opened series 1.2.3" in text
    assert "coloc-viewer 0." in text  # the start-up line with the version


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="XDG layout")
def test_default_folder_is_the_users_state_log_dir(tmp_path, monkeypatch):
    monkeypatch.delenv("COLOC_VIEWER_LOG_DIR", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert log_dir() == tmp_path / "state" / "coloc-viewer" / "log"


def test_rotation_keeps_backup_count_files_of_bounded_size(logs):
    path = configure_logging(max_bytes=4000, backup_count=2)
    log = logging.getLogger("coloc_viewer.rot")
    for i in range(400):
        log.info("line %04d %s", i, "x" * 60)
    _flush()
    files = sorted(p.name for p in logs.iterdir())
    assert files == [LOG_FILE_NAME, LOG_FILE_NAME + ".1", LOG_FILE_NAME + ".2"]
    for p in logs.iterdir():
        assert p.stat().st_size <= 4000
    # the newest record is in the live file, the oldest ones were rotated away
    assert "line 0399" in path.read_text(encoding="utf-8")
    kept = "".join(p.read_text(encoding="utf-8") for p in logs.iterdir())
    assert "line 0000" not in kept
    assert "line 0398" in kept


def test_configuring_twice_does_not_duplicate_records(logs):
    configure_logging()
    path = configure_logging()
    logging.getLogger("coloc_viewer.dup").warning("only once")
    _flush()
    assert path.read_text(encoding="utf-8").count("only once") == 1


def test_unwritable_folder_is_reported_not_raised(tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    monkeypatch.setenv("COLOC_VIEWER_LOG_DIR", str(blocker / "logs"))
    try:
        assert configure_logging() is None
    finally:
        logging_setup._remove_previous(logging.getLogger())
    assert "no log file" in capsys.readouterr().err


@pytest.mark.parametrize("name", PHI_FILES)
def test_patient_identifiers_in_real_headers_never_reach_the_log(logs, pydicom_data, name):
    ds = pydicom.dcmread(pydicom_data / name, stop_before_pixels=True)
    secret = _phi_values(ds)
    assert secret, "the test file must carry PHI for this test to mean anything"
    path = configure_logging()
    log = logging.getLogger("coloc_viewer.phi")
    log.info("header dump:\n%s", ds)
    log.info("json: %s", ds.to_json_dict())
    log.info("PatientName=%s PatientID=%s", ds.PatientName, ds.PatientID)
    try:
        raise ValueError(f"bad header: (0010,0010) {ds.PatientName!r}, PatientID={ds.PatientID}")
    except ValueError:
        log.exception("reading failed")
    _flush()
    text = path.read_text(encoding="utf-8")
    for value in secret:
        assert value not in text, "a patient identifier leaked into the log"
    # non-identifying header values survive the filter
    assert str(ds.SOPInstanceUID) in text
    assert "[REDACTED]" in text and "reading failed" in text


@pytest.mark.parametrize("text", [
    "loaded 24 slices, spacing 3.0 x 0.5 x 0.5 mm, MR",
    "series 1.2.840.113619.2.1 (0020,000e) ok",
    "StudyDate=20240101 Modality=MR",
])
def test_ordinary_messages_are_untouched(text):
    assert redact_phi(text) == text


@pytest.mark.parametrize(("text", "secret"), [
    ("{'PatientName': 'Doe^John', 'Modality': 'MR'}", "Doe"),
    ("patient_id=A1234567, series 1.2.3", "A1234567"),
    ('{"00100030": {"vr": "DA", "Value": ["19700101"]}}', "19700101"),
    ("Date of birth: 1970-01-01", "1970-01-01"),
    ("/data/Doe^John^^^/IM0001.dcm", "John"),
])
def test_identifiers_in_other_shapes_are_redacted(text, secret):
    out = redact_phi(text)
    assert secret not in out
    assert "[REDACTED]" in out


def test_identifiers_passed_as_arguments_are_redacted(logs):
    # %-style args are merged before redaction, so a name passed as an argument is caught too
    path = configure_logging()
    logging.getLogger("coloc_viewer.args").info("case %s", "PatientID: 987654")
    _flush()
    assert "987654" not in Path(path).read_text(encoding="utf-8")


def test_highdicom_narration_stays_out_unless_it_warns(logs, monkeypatch):
    """Writing one DICOM SEG made highdicom log ~16 INFO lines with source UIDs."""
    monkeypatch.setattr(logging.getLogger("highdicom"), "level", logging.NOTSET)
    path = configure_logging()
    library = logging.getLogger("highdicom.seg.sop")
    library.info("Add segment #1 of source 1.2.826.0.1.3680043")
    library.warning("frame of reference differs")
    _flush()
    text = path.read_text(encoding="utf-8")
    assert "Add segment" not in text and "frame of reference differs" in text
