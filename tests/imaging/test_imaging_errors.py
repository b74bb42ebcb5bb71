"""Bad input: one clear InputError (file + reason), never a traceback; CLI exit status 2."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pydicom
import pytest

from coloc_viewer.cli.main import main
from coloc_viewer.errors import InputError
from coloc_viewer.imaging.load import load_volume


def _one_line_error(path, match):
    with pytest.raises(InputError, match=match) as err:
        load_volume(path)
    message = str(err.value)
    assert "\n" not in message and str(path) in message
    return message


def test_nonexistent_path(tmp_path):
    _one_line_error(tmp_path / "nope", "no such file")


def test_zero_byte_file(tmp_path):
    (tmp_path / "empty.dcm").write_bytes(b"")
    _one_line_error(tmp_path / "empty.dcm", "empty file")
    (tmp_path / "empty.nii.gz").write_bytes(b"")
    _one_line_error(tmp_path / "empty.nii.gz", "empty file")


def test_truncated_file(pydicom_data):
    _one_line_error(pydicom_data / "MR_truncated.dcm", "truncated")


def test_file_without_pixel_data(pydicom_data, tmp_path):
    ds = pydicom.dcmread(pydicom_data / "MR_small.dcm")
    del ds.PixelData
    ds.save_as(tmp_path / "nopix.dcm")
    _one_line_error(tmp_path / "nopix.dcm", "no pixel data")


def test_unknown_transfer_syntax(pydicom_data, tmp_path):
    ds = pydicom.dcmread(pydicom_data / "MR_small_RLE.dcm")
    ds.file_meta.TransferSyntaxUID = "1.2.826.0.1.3680043.9999.1"
    ds.save_as(tmp_path / "odd.dcm", enforce_file_format=True)
    _one_line_error(tmp_path / "odd.dcm", "transfer syntax")


def test_non_dicom_file_and_empty_folder(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    _one_line_error(tmp_path / "notes.txt", "not a DICOM file")
    (tmp_path / "empty").mkdir()
    _one_line_error(tmp_path / "empty", "no DICOM files")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads folders regardless of permissions")
def test_unreadable_folder(tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0)
    try:
        _one_line_error(folder, "not readable")
    finally:
        folder.chmod(0o755)


FUZZ_SOURCES = ["MR_small.dcm", "CT_small.dcm", "MR_small_RLE.dcm", "MR_small_jp2klossless.dcm",
                "MR_small_implicit.dcm", "MR_small_bigendian.dcm", "JPEG2000.dcm"]


def test_fuzzed_files_never_crash(pydicom_data, tmp_path):
    """Truncated and byte-flipped copies either load (finite float32 voxels) or raise
    InputError naming the file -- never any other exception."""
    rng = np.random.default_rng(2024)
    outcomes = {"loaded": 0, "error": 0}
    for name in FUZZ_SOURCES:
        raw = (pydicom_data / name).read_bytes()
        for trial in range(12):
            data = bytearray(raw)
            if trial % 3 == 0:
                data = data[: int(rng.integers(0, len(raw)))]
            else:
                for pos in rng.integers(0, len(raw), size=int(rng.integers(1, 12))):
                    data[pos] = int(rng.integers(0, 256))
            path = tmp_path / f"{name}.{trial}.dcm"
            path.write_bytes(bytes(data))
            try:
                vol = load_volume(path)
            except InputError as err:
                assert str(path) in str(err) and "\n" not in str(err)
                outcomes["error"] += 1
            else:
                assert vol.voxels.dtype == np.float32 and vol.voxels.ndim == 3
                outcomes["loaded"] += 1
    assert outcomes["error"] > 0 and outcomes["loaded"] > 0


def test_inspect_json_lists_series(series_dir, pydicom_data, capsys):
    shutil.copy(pydicom_data / "rtplan.dcm", series_dir / "plan.dcm")
    assert main(["inspect", str(series_dir), "--json"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    rows = [json.loads(line) for line in lines]
    assert len(rows) == 2
    image, plan = rows
    for key in ("series_uid", "modality", "description", "shape", "spacing", "origin",
                "n_files", "warnings"):
        assert key in image and key in plan
    assert image["shape"] == [6, 24, 20] and image["n_files"] == 6
    np.testing.assert_allclose(image["spacing"], [2.5, 0.8, 0.6], atol=1e-6)
    assert plan["kind"] == "RT plan" and plan["shape"] is None
    assert "ANON" not in "".join(lines) and "DEMO0001" not in "".join(lines)


def test_inspect_table_and_bad_input_exit_status(series_dir, tmp_path, capsys):
    assert main(["inspect", str(series_dir)]) == 0
    out = capsys.readouterr().out
    assert "6 x 24 x 20" in out and "MR" in out
    (tmp_path / "zero.dcm").write_bytes(b"")
    assert main(["inspect", str(tmp_path / "zero.dcm")]) == 2
    captured = capsys.readouterr()
    err_lines = captured.err.strip().splitlines()
    assert len(err_lines) == 1 and "zero.dcm" in err_lines[0] and "empty file" in err_lines[0]
    assert "Traceback" not in captured.err
    assert main(["inspect", str(tmp_path / "missing")]) == 2
