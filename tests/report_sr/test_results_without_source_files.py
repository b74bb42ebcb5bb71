"""DICOM results need the series' own files (the SEG references each source image): when
they are gone (deleted, or the PACS cache purged while the series is shown), writing says so
in one line naming the series, instead of "cannot read source image" on a cache path."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from coloc_viewer.errors import InputError
from coloc_viewer.imaging.load import load_volume
from coloc_viewer.imaging.roi import RoiSet
from coloc_viewer.resources import demo_dir
from coloc_viewer.viewer.study import save_rois_to


def test_writing_a_seg_after_the_files_went(tmp_path: Path) -> None:
    folder = tmp_path / "series"
    shutil.copytree(demo_dir() / "case-02" / "dicom", folder)
    volume = load_volume(folder)
    rois = RoiSet.for_volume(volume)
    mask = np.zeros(volume.shape, bool)
    mask[5, 40:60, 40:60] = True
    rois.add("lesion", mask, record=False)
    save_rois_to(rois, tmp_path / "before.seg.dcm", volume)  # the files are there: fine
    shutil.rmtree(folder)
    with pytest.raises(InputError) as err:
        save_rois_to(rois, tmp_path / "after.seg.dcm", volume)
    text = str(err.value)
    assert "no longer on disk" in text and "open the series again" in text
    assert str(folder) in text and "\n" not in text
    assert not (tmp_path / "after.seg.dcm").exists()
