"""3-D volume scores of a study shown flipped (viewer/orientation.py): the viewer scores the
3-D map on the stored grid, the model's, with the ROI mapped back, so its numbers equal
``score_explanation`` on the stored volume exactly. Scoring on the display grid instead
would give the same relevance mass, Dice/IoU, pointing game, AUROC, seed overlap and the
3-D translation p-value (every translation is tried, a flip maps them one to one), but not
always the same relevance rank / IoU of the top N: ties among the N highest voxels are
broken in row-major order, which a flip reverses (shown at the end)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from series_cards import densenet3d_card

from coloc_viewer.explain.scoring import score_explanation
from coloc_viewer.imaging.load import load_volume
from coloc_viewer.imaging.volume import Volume
from coloc_viewer.metrics.volume import score_volume
from coloc_viewer.viewer.analysis import AnalysisKey, AnalysisSettings, VolumeSlice, explain_volume
from coloc_viewer.viewer.maps import select_map
from coloc_viewer.viewer.orientation import orientation_of, oriented
from coloc_viewer.viewer.state import ViewerState

TIE_FREE = ("relevance_mass", "dice", "iou", "pointing_game", "auroc", "seed_overlap",
            "p_value", "n_shifts")


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    from coloc_viewer.model.loading import load_model

    return load_model(str(densenet3d_card(tmp_path_factory.mktemp("flip3d"))))


def _synthetic(direction: np.ndarray) -> Volume:
    rng = np.random.default_rng(5)
    z, y, x = np.mgrid[:10, :36, :30]
    vox = (100 * np.exp(-((y - 12) ** 2 + (x - 20) ** 2) / 60.0) + rng.normal(0, 3, z.shape))
    return Volume(vox.astype(np.float32), spacing=(3.0, 1.0, 1.2), direction=direction,
                  metadata={"modality": "MR"})


def _volumes(nibabel_data: Path) -> list[tuple[str, Volume]]:
    return [("anatomical.nii (LAS)", load_volume(nibabel_data / "anatomical.nii")),
            ("RAS", _synthetic(np.diag([-1.0, -1.0, 1.0]))),
            ("coronal, swapped", _synthetic(np.array([[0.0, 1, 0], [0, 0, 1], [-1, 0, 0]])))]


def test_display_volume_scores_equal_the_stored_grid_scores(model, nibabel_data):
    for what, stored in _volumes(nibabel_data):
        shown = oriented(stored)
        orient = orientation_of(shown)
        assert not orient.identity, what  # each case is flipped (or swapped) for display
        roi_stored = np.zeros(stored.shape, bool)
        n_z, n_y, n_x = stored.shape
        roi_stored[n_z // 3:n_z // 3 + 3, n_y // 4:n_y // 4 + 6, n_x // 5:n_x // 5 + 5] = True

        key = AnalysisKey("s", 0, AnalysisSettings(model="m", methods=("gradcam",)))
        whole, _ = explain_volume(model, shown, key)
        state = ViewerState()
        state.set_volume(shown)
        state.rois["lesion"].mask[...] = orient.to_display(roi_stored)
        state.rois_changed()
        state.set_explanations({z: VolumeSlice(whole, z) for z in range(shown.shape[0])})
        for choice, name in (("top", "top_map"), ("gradcam", "cam")):
            state.set_overlay(choice=choice)
            state.refresh_volume_scores()
            got = state.volume_scores["lesion"]
            expected = score_explanation(whole.stored, roi_stored,
                                         threshold=state.overlay.threshold)[name]
            assert got["p_value"] is not None and got["n_shifts"] > 10, what
            for k, v in expected.items():
                if k != "slices":
                    assert got[k] == v, (what, choice, k)
            # the same map and ROI on the display grid: the tie-free scores agree
            shown_map = select_map(whole, choice)  # what the viewer shows (display grid)
            seed = whole.seed_map if choice == "top" else None
            on_display = score_volume(shown_map, orient.to_display(roi_stored), shifts="3d",
                                      seed_map=seed)["aggregate"]
            for k in TIE_FREE:
                assert on_display[k] == pytest.approx(expected[k], rel=1e-9, abs=1e-12), \
                    (what, choice, k)


def test_ties_make_the_top_n_ranking_depend_on_the_axis_order():
    """Why the viewer maps back: a plateau of equal values wider than the ROI."""
    saliency = np.zeros((2, 8, 8), np.float32)
    saliency[:, 2:4, 1:7] = 1.0  # 24 tied voxels
    roi = np.zeros(saliency.shape, bool)
    roi[0, 2, 1:4] = True  # 3 of them, the first in row-major order
    stored = score_volume(saliency, roi, shifts="3d")["aggregate"]
    flip = np.flip  # the display's column flip
    flipped = score_volume(flip(saliency, -1), flip(roi, -1), shifts="3d")["aggregate"]
    assert (stored["relevance_rank"], flipped["relevance_rank"]) == (1.0, 0.0)
    for k in TIE_FREE:
        assert flipped[k] == pytest.approx(stored[k]), k
