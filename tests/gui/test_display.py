"""Qt-free display rules: windowing, outlines, orientation letters, presets, map scaling."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from coloc_viewer.viewer.display import (
    WindowLevel,
    apply_window,
    mask_outline,
    normalise_map,
    orientation_labels,
    overlay_rgba,
    presets_for,
    rois_rgba,
)


def test_apply_window_is_the_dicom_linear_window():
    values = np.linspace(-500, 1500, 2001, dtype=np.float32)
    win = WindowLevel(center=400.0, width=800.0)
    out = apply_window(values, win)
    expected = np.clip(np.floor((values - 0.0) * 255.0 / 800.0), 0, 255)
    np.testing.assert_array_equal(out, expected.astype(np.uint8))
    assert out[values <= 0].max() == 0 and out[values >= 800].min() == 255
    np.testing.assert_array_equal(apply_window(values, win, invert=True), 255 - out)


def test_mask_outline_equals_mask_minus_its_erosion():
    rng = np.random.default_rng(1)
    mask = ndimage.binary_opening(rng.random((64, 48)) > 0.4)
    inner = ndimage.binary_erosion(mask, structure=ndimage.generate_binary_structure(2, 1),
                                   border_value=0)
    np.testing.assert_array_equal(mask_outline(mask), mask & ~inner)


def test_orientation_letters_for_axial_coronal_and_sagittal():
    # axial LPS: columns run to patient left, rows to posterior
    assert orientation_labels(np.eye(3)) == {"right": "L", "left": "R", "top": "A",
                                             "bottom": "P"}
    coronal = np.array([[1, 0, 0], [0, 0, 1], [0, -1, 0]], float)  # rows run to feet
    labels = orientation_labels(coronal)
    assert (labels["top"], labels["bottom"], labels["left"]) == ("H", "F", "R")
    sagittal = np.array([[0, 0, 1], [1, 0, 0], [0, -1, 0]], float)
    labels = orientation_labels(sagittal)
    assert (labels["left"], labels["right"], labels["top"]) == ("A", "P", "H")


def test_ct_presets_are_ohif_and_mr_presets_follow_percentiles():
    ct = presets_for("CT", np.zeros((2, 4, 4)))
    assert [(n, w.center, w.width) for n, w in ct][:2] == [("Soft tissue", 40, 400),
                                                           ("Lung", -600, 1500)]
    vox = np.arange(1000, dtype=np.float32).reshape(10, 10, 10)
    mr = dict(presets_for("MR", vox))
    assert len(mr) == 5
    full = mr["Full range"]
    assert (full.low, full.high) == pytest.approx((0.0, 999.0))


def test_normalise_map_reports_raw_range_and_overlay_alpha_grows():
    raw = np.array([[-2.0, 0.0], [2.0, 6.0]])
    scaled, lo, hi = normalise_map(raw)
    assert (lo, hi) == (-2.0, 6.0)
    np.testing.assert_allclose(scaled, [[0, 0.25], [0.5, 1.0]])
    scaled2, lo2, hi2 = normalise_map(raw, 0.0, 4.0)
    np.testing.assert_allclose(scaled2, [[0, 0], [0.5, 1.0]])
    rgba = overlay_rgba(scaled, opacity=1.0)
    # alpha: 0 up to 15 % of the scale, full at 65 %: (0.25 - 0.15) / 0.5 * 255 = 51
    assert rgba[0, 0, 3] == 0 and abs(int(rgba[0, 1, 3]) - 51) <= 2 and rgba[1, 1, 3] == 255
    assert np.all(np.diff(rgba[..., 3].ravel()) >= 0)
    half = overlay_rgba(scaled, 0.5)[..., 3].astype(int)
    assert np.all(np.abs(half - rgba[..., 3].astype(int) / 2) <= 1)


def test_roi_composite_has_translucent_fill_and_opaque_outline():
    m = np.zeros((12, 12), bool)
    m[3:9, 2:10] = True
    rgba = rois_rgba([(m, (10, 200, 30))], fill_alpha=0.25)
    assert tuple(rgba[5, 5]) == (10, 200, 30, 64)
    assert tuple(rgba[3, 5]) == (10, 200, 30, 255)
    assert rgba[0, 0, 3] == 0


def test_colormap_follows_matplotlib_inferno():
    from matplotlib import colormaps

    from coloc_viewer.viewer.display import colormap_lut

    ours = colormap_lut().astype(float)
    ref = colormaps["inferno"](np.linspace(0, 1, 256))[:, :3] * 255
    assert ours.shape == (256, 3)
    assert np.abs(ours - ref).max() < 20  # anchors every 1/8, linear in between
    assert np.all(np.diff(ours.sum(axis=1)) >= 0)  # brightness never decreases


def test_first_roi_is_drawn_on_top_and_outlines_over_fills():
    organ = np.zeros((20, 20), bool)
    organ[2:18, 2:18] = True
    lesion = np.zeros((20, 20), bool)
    lesion[8:12, 8:12] = True
    rgba = rois_rgba([(lesion, (255, 0, 0)), (organ, (0, 255, 0))], fill_alpha=0.25)
    assert tuple(rgba[10, 10]) == (255, 0, 0, 64)  # the lesion's fill, inside the organ
    assert tuple(rgba[8, 10]) == (255, 0, 0, 255)  # its outline
    assert tuple(rgba[2, 10]) == (0, 255, 0, 255)  # the organ's outline
    assert tuple(rgba[5, 5]) == (0, 255, 0, 64)
