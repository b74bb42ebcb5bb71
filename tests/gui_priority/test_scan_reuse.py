"""The progressive loader keeps its folder scan, so the viewer can list the series without
scanning every header a second time while the first slice is being painted."""

from __future__ import annotations

import numpy as np

from coloc_viewer.imaging.dicom_write import write_dicom_series
from coloc_viewer.imaging.inspect import scan
from coloc_viewer.imaging.progressive import open_series


def test_loader_scan_result_matches_a_fresh_scan(tmp_path):
    rng = np.random.default_rng(3)
    write_dicom_series(rng.integers(0, 900, (6, 20, 24)).astype(np.float32), tmp_path / "a",
                       spacing=(2.0, 0.5, 0.7), modality="MR", series_description="big",
                       dtype="uint16")
    write_dicom_series(rng.integers(0, 900, (3, 16, 16)).astype(np.float32), tmp_path / "b",
                       spacing=(1.0, 1.0, 1.0), modality="CT", series_description="small",
                       dtype="uint16")
    loader = open_series(tmp_path)
    fresh = scan(tmp_path)
    kept = loader.scan_result
    assert kept is not None
    assert [(g.key, g.shape, len(g.files)) for g in kept.series] == \
        [(s.series_key, tuple(s.shape), s.n_files) for s in fresh if s.kind == "image"]
    assert kept.series[0].shape == loader.shape == (6, 20, 24)  # the series being loaded
    assert loader.result().shape == (6, 20, 24)
