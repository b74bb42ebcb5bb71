"""``coloc-viewer inspect`` prints series descriptions without the patient's identifiers,
in its table and its JSON, unless the user asks for them with ``--show-identifiers``."""

from __future__ import annotations

import json
import re

import numpy as np

from coloc_viewer.cli.main import main
from coloc_viewer.imaging.dicom_write import write_dicom_series
from coloc_viewer.imaging.redact import REMOVED

NAME, PID, ACC = "SMITH^JANE", "PID-0042", "ACC7"
DESCRIPTION = "T2 AX Jane Smith PID-0042 smithfield"
LEAK = re.compile(r"(?<![^\W_])(smith|jane|PID-0042|ACC7)(?![^\W_])", re.IGNORECASE)


def _series(tmp_path):
    folder = tmp_path / "series"
    vox = np.stack([np.full((16, 16), 10.0 * k) for k in range(3)])
    write_dicom_series(vox, folder, patient_name=NAME, patient_id=PID,
                       series_description=DESCRIPTION, extra={"AccessionNumber": ACC})
    return folder


def test_inspect_table_and_json_are_redacted(tmp_path, capsys):
    folder = _series(tmp_path)
    assert main(["inspect", str(folder)]) == 0
    table = capsys.readouterr().out
    line = next(x for x in table.splitlines() if "T2 AX" in x)
    assert line.endswith(f"T2 AX {REMOVED} {REMOVED} smithfield")  # name as one phrase
    assert not LEAK.search(table)
    assert main(["inspect", str(folder), "--json"]) == 0
    row = json.loads(capsys.readouterr().out.splitlines()[0])
    assert row["description"] == f"T2 AX {REMOVED} {REMOVED} smithfield"


def test_inspect_shows_identifiers_when_asked(tmp_path, capsys):
    folder = _series(tmp_path)
    assert main(["inspect", str(folder), "--json", "--show-identifiers"]) == 0
    row = json.loads(capsys.readouterr().out.splitlines()[0])
    assert row["description"] == DESCRIPTION
