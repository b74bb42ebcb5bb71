"""Standard display orientation for volumes stored LPS, RAS, LAS, oblique and nibabel's
anatomical.nii: letters, exact LPS positions, and ROIs that map back to the right voxels."""

from __future__ import annotations

import numpy as np
import pytest

from coloc_viewer.imaging.volume import Volume
from coloc_viewer.viewer.display import orientation_labels
from coloc_viewer.viewer.orientation import (
    orientation_of,
    oriented,
    shown_explanation,
    storage_of,
)


def _rot_z(deg: float) -> np.ndarray:
    t = np.deg2rad(deg)
    return np.array([[np.cos(t), -np.sin(t), 0], [np.sin(t), np.cos(t), 0], [0, 0, 1.0]])


STORAGE = {
    "LPS": np.eye(3),
    "RAS": np.diag([-1.0, -1.0, 1.0]),
    "RPS": np.diag([-1.0, 1.0, 1.0]),
    "oblique": _rot_z(20.0) @ np.diag([-1.0, -1.0, 1.0]),
    "swapped": np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]),
}
STORAGE["LAS"] = np.diag([1.0, -1.0, 1.0])  # stored L->R? no: x index runs to the left


def _volume(direction: np.ndarray) -> Volume:
    vox = np.arange(3 * 20 * 30, dtype=np.float32).reshape(3, 20, 30)
    return Volume(vox, spacing=(2.0, 0.7, 0.9), origin=(10.0, -20.0, 5.0), direction=direction)


@pytest.mark.parametrize("name", sorted(STORAGE))
def test_axial_slices_show_anterior_up_and_right_on_the_left(name):
    stored = _volume(STORAGE[name])
    shown = oriented(stored)
    labels = orientation_labels(shown.direction)
    assert labels["top"].startswith("A") and labels["bottom"].startswith("P")
    assert labels["left"].startswith("R") and labels["right"].startswith("L")
    orient = orientation_of(shown)
    rng = np.random.default_rng(0)
    for _ in range(20):  # every display voxel is at the LPS position of its stored voxel
        z, r, c = (int(rng.integers(n)) for n in shown.shape)
        np.testing.assert_allclose(shown.index_to_lps((z, r, c)),
                                   stored.index_to_lps(orient.storage_index((z, r, c),
                                                                            shown.shape)))
        zyx = tuple(int(v) for v in orient.storage_index((z, r, c), shown.shape))
        assert shown.voxels[z, r, c] == stored.voxels[zyx]
    back = storage_of(shown)
    assert back.shape == stored.shape and np.allclose(back.direction, stored.direction)
    np.testing.assert_allclose(back.origin, stored.origin)
    assert np.shares_memory(shown.voxels, stored.voxels)  # a view: progressive loads fill it


def test_a_marker_at_the_patients_right_anterior_is_top_left():
    for direction in STORAGE.values():
        stored = _volume(direction)
        stored.voxels[:] = 0
        # the stored voxel whose position is most right (-x) and anterior (-y)
        lps = np.array([[stored.index_to_lps((1, r, c)) for c in range(30)] for r in range(20)])
        score = -lps[..., 0] - lps[..., 1]
        r, c = np.unravel_index(np.argmax(score), score.shape)
        stored.voxels[1, r, c] = 1.0
        shown = oriented(stored)
        rr, cc = np.argwhere(shown.voxels[1] == 1.0)[0]
        assert rr < shown.shape[1] / 2 and cc < shown.shape[2] / 2


def test_nibabel_anatomical_nii_shows_anterior_at_the_top(nibabel_data):
    from coloc_viewer import load_volume

    shown = oriented(load_volume(nibabel_data / "anatomical.nii"))
    labels = orientation_labels(shown.direction)
    assert labels["top"].startswith("A") and labels["left"].startswith("R")


def test_rois_drawn_on_the_display_go_back_to_the_right_stored_voxels(tmp_path):
    from coloc_viewer.imaging.roi_io import load_roi
    from coloc_viewer.viewer.roi_editing import new_roiset
    from coloc_viewer.viewer.study import load_rois_for, save_rois_to

    stored = _volume(STORAGE["oblique"])
    shown = oriented(stored)
    rois = new_roiset(shown)
    rois.mask()[1, 2, 3] = True  # drawn on the screen near the top-left
    path = tmp_path / "rois.nii.gz"
    save_rois_to(rois, path, shown)
    on_disk = load_roi(str(path), like=stored)
    z, y, x = orientation_of(shown).storage_index((1, 2, 3), shown.shape)
    assert on_disk.sum() == 1 and on_disk[int(z), int(y), int(x)]
    again = load_rois_for(path, shown)
    assert again.shape == shown.shape and again[0].mask[1, 2, 3] and again[0].mask.sum() == 1


def test_maps_of_the_stored_slice_are_shown_on_the_display_grid():
    stored = _volume(STORAGE["RAS"])
    shown = oriented(stored)
    grid = np.arange(20 * 30, dtype=float).reshape(20, 30)

    class Ex:
        top_map = grid
        seed_map = grid
        prediction = {"index": 0}

        def cam_map(self, method="gradcam"):
            return grid

    ex = shown_explanation(Ex(), shown)
    orient = orientation_of(shown)
    for r, c in ((0, 0), (5, 7), (19, 29)):
        _, y, x = orient.storage_index((0, r, c), shown.shape)
        assert ex.top_map[r, c] == grid[int(y), int(x)] == ex.cam_map("gradcam")[r, c]
    assert ex.prediction == {"index": 0}


def test_the_window_shows_anatomical_nii_in_standard_orientation(qtbot, window, nibabel_data,
                                                                 tmp_path):
    """Real events: the letters on the canvas, and a brush dab saved to the right voxel."""
    from gui_events import drag, open_study

    from coloc_viewer import load_volume
    from coloc_viewer.imaging.roi_io import load_roi

    path = nibabel_data / "anatomical.nii"
    open_study(qtbot, window, path)
    assert window.view.orient["top"].text().startswith("A")
    assert window.view.orient["left"].text().startswith("R")
    shown = window.state.volume
    window.state.set_tool("brush")
    window.state.set_brush_radius(0.5)
    z = window.state.slice_index
    drag(window.view, [(5, 6), (5, 6)])
    drawn = np.argwhere(window.state.rois.mask()[z])
    assert len(drawn)
    window.save_rois(tmp_path / "roi.nii.gz")
    stored = load_volume(path)
    on_disk = load_roi(str(tmp_path / "roi.nii.gz"), like=stored)
    r, c = drawn[0]
    zyx = tuple(int(v) for v in orientation_of(shown).storage_index((z, r, c), shown.shape))
    assert on_disk[zyx]
    np.testing.assert_allclose(shown.index_to_lps((z, r, c)), stored.index_to_lps(zyx))


CORONAL = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])  # cols L, rows F
SAGITTAL = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])  # cols P, rows F


@pytest.mark.parametrize("flip", [np.diag([1.0, 1.0, 1.0]), np.diag([-1.0, 1.0, 1.0]),
                                  np.diag([1.0, -1.0, 1.0]), np.diag([-1.0, -1.0, 1.0])])
def test_coronal_and_sagittal_slices_show_the_head_up(flip):
    coronal = oriented(_volume(CORONAL @ flip))
    labels = orientation_labels(coronal.direction)
    assert labels["top"].startswith("H") and labels["left"].startswith("R")
    sagittal = oriented(_volume(SAGITTAL @ flip))
    labels = orientation_labels(sagittal.direction)
    assert labels["top"].startswith("H") and labels["left"].startswith("A")
