"""RoiSet editing: brush in mm, polygon, hole fill, undo/redo across ROIs and slices."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from coloc_viewer.imaging import roi_edit
from coloc_viewer.imaging.roi import CODES, RoiSet
from coloc_viewer.imaging.roi_history import EditHistory


def test_brush_in_mm_on_anisotropic_pixels_is_an_ellipse():
    rois = RoiSet((3, 101, 101), spacing=(3.0, 0.5, 1.25))
    rois.add("lesion")
    roi_edit.paint(rois, "lesion", 1, (50, 50), radius_mm=10.0)
    mask = rois.mask("lesion")
    assert mask[0].sum() == 0 and mask[2].sum() == 0
    ys, xs = np.nonzero(mask[1])
    assert ys.max() - ys.min() + 1 == 41  # 10 mm / 0.5 mm on each side + centre
    assert xs.max() - xs.min() + 1 == 17  # 10 mm / 1.25 mm = 8 pixels each side
    # Independent check: every pixel centre within 10 mm, and exactly those.
    yy, xx = np.mgrid[0:101, 0:101]
    expected = ((yy - 50) * 0.5) ** 2 + ((xx - 50) * 1.25) ** 2 <= 100.0
    np.testing.assert_array_equal(mask[1], expected)
    # Area in mm^2 is close to pi r^2.
    assert mask[1].sum() * 0.5 * 1.25 == pytest.approx(np.pi * 100, rel=0.05)


def test_erase_polygon_fill_holes_clear_slice():
    rois = RoiSet((2, 40, 40))
    rois.add("organ")
    square = [(5, 5), (5, 30), (30, 30), (30, 5)]  # (y, x) vertices
    roi_edit.polygon_fill(rois, "organ", 0, square)
    m = rois.mask("organ")[0]
    assert m[5:30, 5:30].all() and m.sum() == 25 * 25
    roi_edit.erase(rois, "organ", 0, (17, 17), radius_mm=4)
    assert not m[17, 17] and m.sum() < 625
    holes_before = ndimage.label(~m)[1]
    roi_edit.fill_holes(rois, "organ", 0)
    assert m.sum() == 625 and ndimage.label(~m)[1] < holes_before
    triangle = [(0, 0), (0, 20), (20, 0)]
    roi_edit.polygon_fill(rois, "organ", 1, triangle)
    tri = rois.mask("organ")[1]
    yy, xx = np.mgrid[0:40, 0:40]
    assert tri[yy + xx < 19].all() and not tri[yy + xx > 21].any()
    roi_edit.clear_slice(rois, "organ", 0)
    assert not rois.mask("organ")[0].any() and tri.any()


def test_undo_redo_spans_rois_slices_and_properties():
    rois = RoiSet((4, 30, 30))
    rois.add("lesion")
    rois.add("prostate")
    states = [{n: rois[n].mask.copy() for n in rois.names}]
    roi_edit.paint(rois, "lesion", 1, (10, 10), 3)
    states.append({n: rois[n].mask.copy() for n in rois.names})
    rois.history.begin_stroke("paint")
    for x in range(5, 25):  # one stroke of 20 dabs on another ROI and slice
        roi_edit.paint(rois, "prostate", 2, (15, x), 2)
    rois.history.end_stroke()
    states.append({n: rois[n].mask.copy() for n in rois.names})
    rois.rename("prostate", "gland")
    assert rois.names == ["lesion", "gland"]

    assert rois.history.undo().label == "rename" and rois.names == ["lesion", "prostate"]
    step = rois.history.undo()
    assert step.label == "paint" and step.roi_names == ["prostate"] and step.z_range == (2, 3)
    for n in rois.names:
        np.testing.assert_array_equal(rois[n].mask, states[1][n])
    rois.history.undo()
    for n in rois.names:
        np.testing.assert_array_equal(rois[n].mask, states[0][n])
    rois.history.redo()
    rois.history.redo()
    for n in rois.names:
        np.testing.assert_array_equal(rois[n].mask, states[2][n])
    rois.history.redo()
    assert rois.names == ["lesion", "gland"]
    # Undo of "add ROI" removes it; redo restores the same object.
    added = rois.add("marker")
    rois.history.undo()
    assert "marker" not in rois
    rois.history.redo()
    assert rois["marker"] is added and added.code == CODES["marker"]


def test_history_keeps_at_least_100_steps_and_stores_only_boxes():
    rois = RoiSet((1, 512, 512), spacing=(1.0, 0.5, 0.5))
    rois.add("lesion", record=False)
    for k in range(150):
        roi_edit.paint(rois, "lesion", 0, (100 + k, 100 + k), 2.0)
    assert len(rois.history) == 150
    assert rois.history.nbytes() < 150 * 2 * 64  # two packed 9x9 boxes per step, not masks
    for _ in range(150):
        assert rois.history.undo() is not None
    assert not rois.mask("lesion").any()
    small = EditHistory(max_steps=100)
    rs = RoiSet((1, 8, 8), history=small)
    rs.add("a", record=False)
    for k in range(120):
        roi_edit.paint(rs, "a", 0, (3, 3), 0.1, value=bool(k % 2 == 0))  # toggles a pixel
    assert len(small) == 100


def test_locked_roi_cannot_be_edited_and_new_redo_is_cleared():
    rois = RoiSet((1, 10, 10))
    rois.add("a")
    rois.set_property("a", "locked", True)
    with pytest.raises(ValueError, match="locked"):
        roi_edit.paint(rois, "a", 0, (5, 5), 2)
    rois.set_property("a", "locked", False)
    roi_edit.paint(rois, "a", 0, (5, 5), 2)
    rois.history.undo()
    assert rois.history.can_redo
    roi_edit.paint(rois, "a", 0, (1, 1), 1)
    assert not rois.history.can_redo
    with pytest.raises(ValueError, match="already exists"):
        rois.add("b")
        rois.rename("b", "a")
