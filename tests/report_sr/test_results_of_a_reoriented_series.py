"""The viewer shows a series in standard orientation (flipped or transposed in-plane when
its rows and columns run otherwise); the ROIs it exports or sends as DICOM SEG must cover the
same voxels of the stored images the reader drew on. highdicom reads the SEG back per source
image, independently of our reader."""

from __future__ import annotations

import numpy as np
import pytest

from coloc_viewer import load_volume
from coloc_viewer.imaging.dicom_write import write_dicom_series
from coloc_viewer.imaging.roi import RoiSet
from coloc_viewer.viewer.orientation import orientation_of, oriented

# columns = LPS directions of the x (column), y (row) and slice axes
FLIPPED = np.array([[-1.0, 0, 0], [0, 1, 0], [0, 0, -1]])  # columns run to the patient's right
TRANSPOSED = np.array([[0, 1.0, 0], [1, 0, 0], [0, 0, -1]])  # x runs posterior, y left


def _stored_mask_per_source(seg_path, stored) -> np.ndarray:
    """The SEG's first segment on the stored grid, looked up frame by source image UID."""
    import highdicom as hd
    import pydicom

    seg = hd.seg.segread(seg_path)
    uids = [pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID
            for f in dict.fromkeys(stored.files)]
    pixels = seg.get_pixels_by_source_instance(source_sop_instance_uids=uids,
                                               segment_numbers=[1])
    return pixels[..., 0].astype(bool)


@pytest.mark.parametrize("direction", [FLIPPED, TRANSPOSED], ids=["flipped", "transposed"])
def test_exported_and_sent_seg_cover_the_voxels_drawn_on_the_shown_grid(tmp_path, direction):
    from coloc_viewer.gui.pacs_send import write_results
    from coloc_viewer.viewer.dicom_results import write_dicom_results

    rng = np.random.default_rng(0)
    write_dicom_series(rng.integers(0, 1000, (4, 24, 32)), tmp_path / "series",
                       spacing=(3.0, 0.8, 0.8), direction=direction)
    stored = load_volume(tmp_path / "series")
    shown = oriented(stored)
    orient = orientation_of(shown)
    assert not orient.identity and shown.shape != stored.shape or orient.flip_cols
    drawn = np.zeros(shown.shape, bool)
    drawn[2, 3:7, 1:5] = True  # a corner block: any flip or transpose moves it
    rois = RoiSet.for_volume(shown)
    rois.add("lesion", drawn)
    rows = [{"roi": "lesion", "map": "Grad-CAM", "slice": 2, "relevance_mass": 0.4,
             "relevance_rank": 0.5, "auroc": 0.9, "p_value": 0.01, "verdict": "looks at it"}]
    info = {"name": "demo", "card_hash": "0" * 64, "layer": "layer3", "rank": "gradcam"}
    expected = orient.to_storage(drawn)
    assert expected.shape == stored.shape

    for name in ("send", "seg_only"):
        (tmp_path / name).mkdir()
    exported = write_dicom_results(shown, rois, rows, info, tmp_path / "export")
    sent = write_results(shown, rois, rows, info, tmp_path / "send")
    seg_only = write_results(shown, rois, rows, info, tmp_path / "seg_only", with_sr=False)
    for seg in (exported[0], sent[0], seg_only[0]):
        assert np.array_equal(_stored_mask_per_source(seg, stored), expected), seg.name
