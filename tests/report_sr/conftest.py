"""One real analysis of the bundled demo case (DICOM T2 + its ROIs), written as SEG + SR by
``coloc-viewer analyze --seg --sr``; the tests read both back."""

from __future__ import annotations

import pytest
from sr_helpers import DEMO, WrittenResults, run_analyze


@pytest.fixture(scope="package")
def written(tmp_path_factory: pytest.TempPathFactory) -> WrittenResults:
    folder = tmp_path_factory.mktemp("dicom_results")
    seg, sr = folder / "rois.seg.dcm", folder / "scores.sr.dcm"
    image, roi = DEMO / "dicom", DEMO / "rois.nii.gz"
    out = run_analyze([str(image), "--roi", str(roi), "--seg", str(seg), "--sr", str(sr)])
    return WrittenResults(out, seg, sr, image, roi)
