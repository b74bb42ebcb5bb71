"""The series-list entry of a volume decoded already (a PACS retrieval opens its folder
while the files are still being written) equals what scanning the folder gives."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from coloc_viewer.imaging.dicom_write import write_dicom_series
from coloc_viewer.imaging.inspect import scan, series_info_of
from coloc_viewer.imaging.load import load_volume
from coloc_viewer.resources import demo_dir


def folders(tmp: Path) -> list[Path]:
    found = sorted(p for p in demo_dir().rglob("dicom") if p.is_dir())
    vox = np.random.default_rng(3).integers(0, 900, size=(7, 24, 20)).astype(np.float32)
    write_dicom_series(vox, tmp / "written", spacing=(2.5, 0.7, 0.9), patient_id="SI-01",
                       patient_name="SERIES^INFO")
    return [*found, tmp / "written"]


def test_equals_the_scan_of_the_folder(tmp_path: Path) -> None:
    checked = 0
    for folder in folders(tmp_path):
        volume = load_volume(folder)
        want = next(i for i in scan(folder) if i.series_key == volume.metadata["series_key"])
        got = series_info_of(volume)
        assert asdict(got) == asdict(want), folder
        assert got.identity == want.identity  # kept for the GUI, never in to_dict
        checked += 1
    assert checked >= 3


def test_a_volume_without_a_series_is_not_described() -> None:
    pytest.importorskip("nibabel")
    import nibabel

    nii = Path(nibabel.__file__).parent / "tests" / "data" / "anatomical.nii"
    assert not load_volume(nii).metadata.get("series_uid")  # study.py scans such a path
