"""`coloc-viewer analyze` says what a reader should know about the study: a CT given to an
MR model (the card's ``expects``), and a slice the loader skipped, also when that skipped
slice is why the ROI no longer fits."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pydicom

from coloc_viewer.cli.main import main
from coloc_viewer.imaging.load import load_volume
from coloc_viewer.imaging.roi_io import save_roi
from coloc_viewer.resources import demo_dir

TEST_FILES = Path(pydicom.__file__).parent / "data" / "test_files"


def _run(capsys, *argv) -> tuple[int, str, str]:
    code = main(["analyze", *map(str, argv)])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_a_ct_given_to_an_mr_model_is_warned_about(capsys, tmp_path):
    ct = TEST_FILES / "CT_small.dcm"
    volume = load_volume(ct)
    mask = np.zeros(volume.shape, bool)
    mask[0, 20:40, 20:40] = True
    save_roi(mask, tmp_path / "roi.nii.gz", like=volume)
    code, out, err = _run(capsys, ct, "--roi", tmp_path / "roi.nii.gz", "--model",
                          "demo-clean", "--json")
    assert code == 0, err
    assert "warning: outside the model's domain: modality CT, the model expects MR" in err
    assert any("modality CT" in w for w in json.loads(out)["warnings"])


def test_a_skipped_slice_is_said_with_the_roi_that_no_longer_fits(capsys, tmp_path):
    case = demo_dir() / "case-01"
    folder = tmp_path / "dicom"
    shutil.copytree(case / "dicom", folder)
    victim = sorted(folder.iterdir())[3]
    with open(victim, "r+b") as fh:  # cut inside the pixel data
        fh.truncate(os.path.getsize(victim) // 2)
    code, out, err = _run(capsys, folder, "--roi", case / "rois.nii.gz", "--model",
                          "demo-clean")
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 2 and len(lines) == 1, err
    assert "the image loaded with warnings" in lines[0] and victim.name in lines[0], lines[0]
