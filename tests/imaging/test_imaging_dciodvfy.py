"""Issue 14, failure 9: the DICOM coloc_viewer writes passes dicom3tools' ``dciodvfy``.

Demo series (T2, ADC, DWI), series written by ``write_dicom_series`` (MR, CT, Secondary
Capture; plain and RLE) and DICOM SEG from ``save_rois``: no "Error" line. Skipped when
dicom3tools is not installed (``make install`` installs it where it may).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from pydicom.uid import RLELossless

from coloc_viewer.imaging.dicom_write import write_dicom_series
from coloc_viewer.imaging.load import load_volume
from coloc_viewer.imaging.roi import RoiSet
from coloc_viewer.imaging.roi_io import save_rois

DEMO = Path(__file__).resolve().parents[2] / "resources" / "demo"

pytestmark = pytest.mark.skipif(shutil.which("dciodvfy") is None,
                                reason="dicom3tools (dciodvfy) is not installed")


def dciodvfy_errors(path: Path) -> list[str]:
    out = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=60)
    return [ln for ln in (out.stdout + out.stderr).splitlines() if ln.startswith("Error")]


def _demo_files() -> list[Path]:
    files = sorted(DEMO.glob("case-*/*/slice_0000.dcm")) + sorted(DEMO.glob("case-*/*.dcm"))
    return files


@pytest.mark.parametrize("path", _demo_files(), ids=lambda p: str(p.relative_to(DEMO)))
def test_bundled_demo_dicom_validates(path):
    assert dciodvfy_errors(path) == []


@pytest.mark.parametrize("modality,syntax", [("MR", None), ("CT", None), ("OT", None),
                                             ("MR", RLELossless)])
def test_written_series_and_seg_validate(tmp_path, modality, syntax):
    voxels = np.zeros((3, 32, 32))
    voxels[:, 8:24, 8:24] = 100
    kwargs = {"transfer_syntax": syntax} if syntax else {}
    paths = write_dicom_series(voxels, tmp_path / "s", modality=modality, **kwargs)
    assert dciodvfy_errors(paths[1]) == []
    vol = load_volume(tmp_path / "s")
    rois = RoiSet.for_volume(vol)
    rois.add("lesion", vol.voxels > 50, record=False)
    save_rois(rois, tmp_path / "rois.seg.dcm", like=vol)
    assert dciodvfy_errors(tmp_path / "rois.seg.dcm") == []
