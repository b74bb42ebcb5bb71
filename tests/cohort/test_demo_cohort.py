"""The cohort command on the bundled demo: both 2-D models, one label for every case; the
3-D multi-sequence model with role columns."""

from __future__ import annotations

import csv
import io
import json

import pytest

from coloc_viewer.cli.main import main
from coloc_viewer.resources import demo_dir


def test_demo_manifest_runs_without_failures(tmp_path, capsys):
    out = tmp_path / "run"
    rc = main(["cohort", str(demo_dir() / "manifest.csv"), "--out", str(out),
               "--model", "demo-clean", "--model", "demo-shortcut"])
    assert rc == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["units"]["failed"] == 0, summary["failures"]
    with open(out / "slices.csv", newline="") as f:
        rows = list(csv.DictReader(row for row in f if not row.startswith("#")))
    methods = {r["method"] for r in rows}
    assert any(m.startswith("principal") for m in methods), methods
    assert {r["roi"] for r in rows} == {"lesion", "prostate", "marker"}
    assert {r["model"] for r in rows} == {"demo-clean", "demo-shortcut"}
    assert "0 failed" in capsys.readouterr().err


@pytest.mark.slow
def test_demo_mpmri_cohort_reads_role_columns_and_scores_the_volume(tmp_path):
    """The bundled 3-D T2+ADC+DWI model on demo case 1 (its ADC and DWI folders given in
    role columns): volume rows, and its Grad-CAM beats chance on the lesion."""
    from coloc_viewer.cohort.runner import CohortOptions, run_cohort

    case = demo_dir() / "case-01"
    manifest = tmp_path / "mp.csv"
    manifest.write_text("image,roi,ADC,DWI,case_id,label\n"
                        f"{case / 'dicom'},{case / 'rois.nii.gz'},{case / 'adc'},"
                        f"{case / 'dwi'},demo-01,lesion\n", encoding="utf-8")
    run = run_cohort(manifest, tmp_path / "out",
                     CohortOptions(models=("demo-mpmri",), workers=1, report=False,
                                   principal_ratio=None, roi_names=("lesion",)),
                     stream=io.StringIO())
    assert run.n_failed == 0
    (cam,) = [r for r in run.slices if r["method"] == "gradcam"]
    assert cam["slice"] is None and cam["correct"] is True
    assert cam["p_value"] < 0.05
