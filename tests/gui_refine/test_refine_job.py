"""The Qt-free half of the refine action: which slices train, the training case and manifest
written for the open study (on its stored grid, merged with the user's manifest), the ETA,
and the one-sentence checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from coloc_viewer.cohort.manifest import read_manifest
from coloc_viewer.imaging.load import load_volume
from coloc_viewer.imaging.roi import RoiSet
from coloc_viewer.imaging.roi_io import load_rois
from coloc_viewer.imaging.volume import Volume
from coloc_viewer.viewer.orientation import orientation_of, oriented
from coloc_viewer.viewer.refine_job import (
    RefineRequest,
    check_request,
    snapshot_rois,
    training_slices,
    write_training_set,
)
from coloc_viewer.viewer.refine_progress import ProgressClock, training_warning


def _lesion(n_z: int, zs: list[int]) -> np.ndarray:
    m = np.zeros((n_z, 8, 8), bool)
    for z in zs:
        m[z, 2:4, 3:5] = True
    return m


def test_training_slices_by_policy():
    lesion = _lesion(20, [6, 7, 8, 9])
    assert training_slices(lesion, "lesion") == [6, 7, 8, 9]
    assert training_slices(lesion, "all") == list(range(20))
    balanced = training_slices(lesion, "balanced")
    others = [z for z in balanced if z not in (6, 7, 8, 9)]
    assert len(others) == 4 and others[0] == 0 and others[-1] == 19  # spread, both ends
    assert set(balanced) >= {6, 7, 8, 9}
    with pytest.raises(ValueError):
        training_slices(lesion, "most")


@pytest.fixture
def study():
    """A display-oriented volume whose stored rows run bottom-up (so display != stored)."""
    rng = np.random.default_rng(0)
    vox = rng.normal(100, 10, (6, 12, 10)).astype(np.float32)
    direction = np.diag([1.0, -1.0, 1.0])  # rows point anterior: the display flips them
    stored = Volume(vox, spacing=(3.0, 0.7, 0.7), direction=direction,
                    metadata={"modality": "MR"})
    shown = oriented(stored)
    assert not orientation_of(shown).identity
    rois = RoiSet.for_volume(shown)
    lesion = np.zeros(shown.shape, bool)
    lesion[2, 1:4, 2:5] = True  # top rows on screen
    rois.add("lesion", lesion, record=False)
    marker = np.zeros(shown.shape, bool)
    marker[:, 0, 0] = True
    rois.add("marker", marker, record=False)
    return stored, shown, rois


def test_training_case_is_the_stored_grid_and_the_manifest_merges(study, tmp_path):
    stored, shown, rois = study
    extra_dir = tmp_path / "cohort"
    extra_dir.mkdir()
    (extra_dir / "m.csv").write_text("case_id,image,roi,slices\n"
                                     "this-study,a/img.nii.gz,a/roi.nii.gz,1-2\n"
                                     "p2,b/img.nii.gz,b/roi.nii.gz,\n")
    work = tmp_path / "out" / "training"
    manifest = write_training_set(shown, snapshot_rois(rois, shown), work, "lesion",
                                  "lesion", str(extra_dir / "m.csv"))
    cases = read_manifest(manifest)
    assert [c.case_id for c in cases] == ["this-study", "this-study-2", "p2"]
    assert cases[0].slices == (2,)
    assert cases[1].image == str(extra_dir / "a" / "img.nii.gz") and cases[1].slices == (1, 2)
    assert cases[2].slices is None
    image = load_volume(cases[0].image)
    np.testing.assert_array_equal(image.voxels, stored.voxels)  # the stored grid, exactly
    back = load_rois(cases[0].roi, like=image)
    assert back.names == ["lesion", "marker"]
    np.testing.assert_array_equal(back["lesion"].mask,
                                  orientation_of(shown).to_storage(rois["lesion"].mask))


def test_snapshot_is_not_touched_by_later_edits(study):
    _stored, shown, rois = study
    snap = snapshot_rois(rois, shown)
    rois["lesion"].mask[:] = False
    assert snap["lesion"].mask.any() and snap.active == rois.active


def test_eta_from_the_time_per_batch():
    now = [100.0]
    seen = []
    clock = ProgressClock(seen.append, clock=lambda: now[0])
    clock.on_plan(3, 4, 2)  # resumed after epoch 1: 8 batches to go
    now[0] = 110.0
    clock.progress(2, 2, 0.5)
    step = seen[-1]
    assert (step.done, step.total) == (2, 8)
    assert step.eta_s == pytest.approx(30.0)
    assert step.text() == "epoch 2/3 (resumed after epoch 1), batch 2/4, loss 0.5, ETA 30 s"


def _request(tmp_path: Path, **kw) -> RefineRequest:
    base = dict(model="demo-shortcut", source="demo-shortcut", method="actdiff", lam=1.0,
                epochs=1, lr=1e-4, seed=0, lesion_roi="lesion", out_dir=tmp_path / "o")
    base.update(kw)
    return RefineRequest(**base)


def test_checks_are_one_sentence(study, tmp_path):
    _stored, shown, rois = study
    assert check_request(_request(tmp_path), shown, rois) is None
    problems = [
        check_request(_request(tmp_path), None, None),
        check_request(_request(tmp_path, lesion_roi=""), shown, rois),
        check_request(_request(tmp_path, shortcut_roi="lesion"), shown, rois),
        check_request(_request(tmp_path, organ_roi="lesion"), shown, rois),
        check_request(_request(tmp_path, organ_roi="nowhere"), shown, rois),
        check_request(_request(tmp_path, epochs=0), shown, rois),
        check_request(_request(tmp_path, method="magic"), shown, rois),
        check_request(_request(tmp_path, schedule="step"), shown, rois),
        check_request(_request(tmp_path, method="rrr", actdiff_layer="layer4"), shown, rois),
        check_request(_request(tmp_path, batch_size=0), shown, rois),
        check_request(_request(tmp_path, weight_decay=-1.0), shown, rois),
        check_request(_request(tmp_path, extra_manifest=str(tmp_path / "no.csv")), shown, rois),
        check_request(_request(tmp_path, slices="lesion"), shown, rois),  # one class only
    ]
    assert "one class" in problems[-1]
    for text in problems:
        assert text and "\n" not in text and text.endswith((".", ")")), text


def test_a_run_that_fit_worse_is_flagged():
    worse = [{"ce": 0.09}, {"ce": 0.8}, {"ce": 2.57}]
    better = [{"ce": 0.86}, {"ce": 0.43}, {"ce": 0.03}]
    text = training_warning(worse, 2)
    assert text is not None and "2.57" in text and "0.09" in text
    assert training_warning(better, 2) is None
    assert training_warning([{"ce": 0.3}, {"ce": 0.71}], 2) is not None  # at chance (ln 2)
    assert training_warning([], 2) is None
