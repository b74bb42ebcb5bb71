"""ROI tools across slices and with intensity limits: fill between slices (against ITK's
MorphologicalContourInterpolator called directly, and shape-based interpolation against a
scipy signed-distance reference), copy to another slice, the threshold brush (against a
mask computed here), each one undo step."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from coloc_viewer.imaging import roi_interpolate, roi_threshold
from coloc_viewer.imaging.roi import RoiSet

SPACING = (3.0, 0.7, 0.9)
# ITK's SWIG wrappers warn ~1000 times while they load; nothing to act on here
pytestmark = pytest.mark.filterwarnings("ignore:builtin type .* has no __module__ attribute")


def _ellipse(shape, cy, cx, ry, rx) -> np.ndarray:
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    return ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1.0


def _drawn_set() -> RoiSet:
    """A lesion drawn on slices 2, 6 and 7 (the reader's slices) of a (10, 64, 72) grid."""
    rois = RoiSet((10, 64, 72), spacing=SPACING)
    mask = np.zeros(rois.shape, bool)
    mask[2] = _ellipse(rois.shape[1:], 30, 30, 8, 10)
    mask[6] = _ellipse(rois.shape[1:], 36, 40, 14, 12)
    mask[7] = _ellipse(rois.shape[1:], 37, 41, 12, 11)
    rois.add("lesion", mask, record=False)
    rois.add("prostate", _ellipse(rois.shape[1:], 32, 36, 25, 30)[None].repeat(10, 0),
             record=False)
    return rois


@pytest.fixture(scope="module")
def itk():
    itk = pytest.importorskip("itk")
    if not roi_interpolate.has_morphological():
        pytest.skip("ITK's MorphologicalContourInterpolation module is not installed")
    return itk


def test_fill_between_slices_equals_itks_filter_called_directly(itk):
    rois = _drawn_set()
    drawn = rois["lesion"].mask.copy()
    image = itk.image_from_array(drawn.astype(np.uint8))
    image.SetSpacing([SPACING[2], SPACING[1], SPACING[0]])
    expected = itk.array_from_image(
        itk.morphological_contour_interpolator(image, axis=2, label=1)) > 0
    region = roi_interpolate.interpolate_slices(rois, "lesion", method="morphological")
    got = rois["lesion"].mask
    assert region is not None and (region[0].start, region[0].stop) == (3, 6)
    np.testing.assert_array_equal(got, expected)
    for z in (2, 6, 7):  # drawn slices stay as drawn, outside the drawn range nothing
        np.testing.assert_array_equal(got[z], drawn[z])
    assert not got[:2].any() and not got[8:].any()
    assert all(got[z].any() for z in range(2, 8))
    assert roi_interpolate.interpolate_mask(drawn, SPACING, "auto").sum() == got.sum()


def _sdf(plane: np.ndarray, sampling) -> np.ndarray:
    """Signed distance to the boundary, negative inside (scipy, an independent reference)."""
    outside = ndimage.distance_transform_edt(~plane, sampling=sampling)
    inside = ndimage.distance_transform_edt(plane, sampling=sampling)
    return np.where(plane, -inside, outside)


def test_shape_based_fill_matches_a_signed_distance_reference():
    rois = _drawn_set()
    drawn = rois["lesion"].mask.copy()
    roi_interpolate.interpolate_slices(rois, "lesion", method="shape")
    got = rois["lesion"].mask
    da, db = _sdf(drawn[2], SPACING[1:]), _sdf(drawn[6], SPACING[1:])
    for z in (3, 4, 5):
        t = (z - 2) / 4
        sdf = (1 - t) * da + t * db
        ref = sdf <= 0
        iou = (ref & got[z]).sum() / (ref | got[z]).sum()
        assert iou > 0.8, (z, iou)
        # the two distance conventions (to the contour pixel / to the nearest other pixel)
        # put the edge up to one pixel apart: every disagreement lies on that band
        assert np.all(np.abs(sdf[ref != got[z]]) <= max(SPACING[1:]) + 1e-6)
    for z in (2, 6, 7):
        np.testing.assert_array_equal(got[z], drawn[z])


def test_fill_is_one_undo_step_and_other_rois_stay():
    rois = _drawn_set()
    before = {r.name: r.mask.copy() for r in rois}
    n = len(rois.history)
    assert roi_interpolate.interpolate_slices(rois, "lesion", method="shape") is not None
    assert len(rois.history) == n + 1 and rois.history.labels[-1] == "fill between slices"
    after = rois["lesion"].mask.copy()
    np.testing.assert_array_equal(rois["prostate"].mask, before["prostate"])
    rois.history.undo()
    np.testing.assert_array_equal(rois["lesion"].mask, before["lesion"])
    rois.history.redo()
    np.testing.assert_array_equal(rois["lesion"].mask, after)
    # filled already: nothing more to do, no new step
    assert roi_interpolate.interpolate_slices(rois, "lesion", method="shape") is None
    assert len(rois.history) == n + 1


def test_a_fill_computed_elsewhere_keeps_slices_drawn_meanwhile():
    rois = _drawn_set()
    filled = roi_interpolate.interpolate_mask(rois["lesion"].mask, SPACING, "shape")
    rois["lesion"].mask[4, 0:3, 0:3] = True  # the reader drew on slice 5 meanwhile
    drawn4 = rois["lesion"].mask[4].copy()
    roi_interpolate.interpolate_slices(rois, "lesion", filled=filled)
    np.testing.assert_array_equal(rois["lesion"].mask[4], drawn4)
    np.testing.assert_array_equal(rois["lesion"].mask[3], filled[3])


def test_fewer_than_two_drawn_slices_or_locked_roi():
    rois = RoiSet((5, 20, 20))
    rois.add("a", record=False)
    rois["a"].mask[2, 5:9, 5:9] = True
    assert roi_interpolate.interpolate_slices(rois, "a", method="shape") is None
    rois.set_property("a", "locked", True)
    with pytest.raises(ValueError, match="locked"):
        roi_interpolate.interpolate_slices(rois, "a")
    with pytest.raises(ValueError, match="unknown interpolation"):
        roi_interpolate.interpolate_mask(rois["a"].mask, method="linear")


def test_copy_outline_to_the_next_slice_adds_and_undoes():
    rois = _drawn_set()
    src = rois["lesion"].mask[7].copy()
    rois["lesion"].mask[8, 60:62, 0:2] = True  # something already drawn on the target
    old8 = rois["lesion"].mask[8].copy()
    n = len(rois.history)
    region = roi_interpolate.copy_slice(rois, "lesion", 7, 8)
    assert region is not None and region[0] == slice(8, 9)
    np.testing.assert_array_equal(rois["lesion"].mask[8], src | old8)
    np.testing.assert_array_equal(rois["lesion"].mask[7], src)
    assert len(rois.history) == n + 1
    rois.history.undo()
    np.testing.assert_array_equal(rois["lesion"].mask[8], old8)
    assert roi_interpolate.copy_slice(rois, "lesion", 0, 1) is None  # empty source
    with pytest.raises(IndexError):
        roi_interpolate.copy_slice(rois, "lesion", 9, 10)


def test_threshold_brush_paints_only_the_range_under_the_disk():
    rng = np.random.default_rng(3)
    image = rng.normal(100.0, 40.0, size=(64, 72))
    rois = RoiSet((4, 64, 72), spacing=SPACING)
    rois.add("lesion", record=False)
    low, high = roi_threshold.range_from_window(center=110.0, width=60.0)
    assert (low, high) == (80.0, 140.0)
    region = roi_threshold.paint_in_range(rois, "lesion", 1, (30.4, 33.0), 6.0, image,
                                          (high, low))  # either order
    yy, xx = np.mgrid[:64, :72]
    disk = ((yy - 30.4) * SPACING[1]) ** 2 + ((xx - 33.0) * SPACING[2]) ** 2 <= 36.0
    expected = disk & (image >= 80.0) & (image <= 140.0)
    assert 0 < expected.sum() < disk.sum()
    np.testing.assert_array_equal(rois["lesion"].mask[1], expected)
    assert not rois["lesion"].mask[[0, 2, 3]].any()
    assert region is not None and rois.history.labels[-1] == "threshold paint"
    rois.history.undo()
    assert not rois["lesion"].mask.any()
    assert roi_threshold.paint_in_range(rois, "lesion", 1, (30, 33), 6.0, image,
                                        (1e6, 2e6)) is None
    with pytest.raises(ValueError, match="does not match"):
        roi_threshold.paint_in_range(rois, "lesion", 1, (30, 33), 6.0, image[:10], (0, 1))
