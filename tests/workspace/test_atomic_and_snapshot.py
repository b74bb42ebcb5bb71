"""Atomic writes and the ROI file format."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coloc_viewer.imaging.volume import Volume
from coloc_viewer.workspace import RoiSnapshot, Workspace, read_snapshot, workspace_key
from coloc_viewer.workspace.atomic import atomic_open, atomic_write_json


def test_failed_write_keeps_old_content_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    atomic_write_json(target, {"slice": 1})
    with pytest.raises(RuntimeError), atomic_open(target, "w") as handle:
        handle.write('{"slice": 2')
        raise RuntimeError("power cut")
    assert json.loads(target.read_text()) == {"slice": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


@settings(max_examples=25, deadline=None)
@given(z=st.integers(1, 3), y=st.integers(1, 17), x=st.integers(1, 13),
       seed=st.integers(0, 2**32 - 1), n=st.integers(1, 3))
def test_snapshot_round_trip_is_exact(tmp_path_factory, z, y, x, seed, n) -> None:
    rng = np.random.default_rng(seed)
    masks = {f"roi {i}": rng.random((z, y, x)) < 0.3 for i in range(n)}
    colours = {f"roi {i}": (255, 10 * i, 0) for i in range(n)}
    path = tmp_path_factory.mktemp("snap") / "rois.npz"
    with open(path, "wb") as handle:
        RoiSnapshot(masks, colours, generation=seed % 1000, active="roi 0").write(handle)
    back = read_snapshot(path)
    assert list(back.masks) == list(masks)
    for name, mask in masks.items():
        assert back.masks[name].dtype == bool
        np.testing.assert_array_equal(back.masks[name], mask)
    assert back.colours == colours and back.generation == seed % 1000 and back.active == "roi 0"


def test_truncated_file_is_rejected_not_misread(tmp_path: Path) -> None:
    path = tmp_path / "rois.npz"
    with open(path, "wb") as handle:
        RoiSnapshot({"a": np.ones((2, 8, 8), bool)}).write(handle)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError):
        read_snapshot(path)


def test_keys_hide_uid_and_path_and_are_stable(data_dir: Path) -> None:
    uid = "1.2.826.0.1.3680043.8.498.123"
    assert workspace_key(series_uid=uid) == workspace_key(series_uid=uid, source="/other")
    assert workspace_key(series_uid=uid) != workspace_key(series_uid=uid + "4")
    vol = Volume(np.zeros((2, 4, 4), np.float32), metadata={"series_uid": uid},
                 source="/data/DOE^JANE/MR")
    ws = Workspace.for_volume(vol)
    ws.save_state({"slice": 1})
    no_uid = Workspace.for_volume(Volume(np.zeros((2, 4, 4)), source="/data/DOE^JANE/t2.nii"))
    no_uid.save_state({"slice": 0})
    assert ws.key != no_uid.key
    for path in data_dir.rglob("*"):
        rel = str(path.relative_to(data_dir))
        assert "DOE" not in rel and uid not in rel and "t2" not in rel


def test_restore_returns_rois_state_and_unsaved_flag(data_dir: Path) -> None:
    ws = Workspace.for_source("/data/case1.nii.gz")
    mask = np.zeros((3, 5, 5), bool)
    mask[1, 2, 2] = True
    ws.save_rois(RoiSnapshot({"lesion": mask}, generation=4))
    ws.save_state({"model": "demo", "layer": "layer4", "slice": 1, "window": [40, 400]})
    ws.save_state({"slice": 2})
    again = Workspace.for_source("/data/case1.nii.gz").restore()
    np.testing.assert_array_equal(again.rois.masks["lesion"], mask)
    assert again.state == {"model": "demo", "layer": "layer4", "slice": 2, "window": [40, 400]}
    assert again.unsaved
    ws.mark_explicit_save(4, "/data/lesion.nii.gz")
    assert not Workspace.for_source("/data/case1.nii.gz").restore().unsaved


def test_roiset_round_trip_through_autosave_and_explicit_save(data_dir: Path) -> None:
    """A RoiSet edited with the imaging tools comes back whole; "Save ROI as" clears it."""
    from coloc_viewer.imaging.roi import RoiSet
    from coloc_viewer.imaging.roi_edit import paint
    from coloc_viewer.imaging.roi_io import load_rois, save_rois
    from coloc_viewer.workspace import Autosaver, find_recoverable, to_roiset

    vol = Volume(np.zeros((4, 32, 32), np.float32), spacing=(3.0, 0.5, 0.5),
                 metadata={"series_uid": "2.25.1"}, source=str(data_dir / "in.nii.gz"))
    rois = RoiSet.for_volume(vol)
    rois.add("lesion", color=(255, 0, 0))
    rois.add("prostate", color=(0, 128, 255))
    rois.set_property("prostate", "locked", True)
    ws = Workspace.for_volume(vol)
    assert ws.begin_session()
    saver = Autosaver(ws)
    paint(rois, "lesion", 1, (10, 12), 2.0)
    saver.changed(rois)
    paint(rois, "lesion", 2, (20, 20), 3.0)
    saver.changed(rois)
    assert saver.flush()
    back = to_roiset(Workspace.for_volume(vol).restore().rois, vol.spacing)
    assert back.names == ["lesion", "prostate"] and back.active == "lesion"
    np.testing.assert_array_equal(back.mask("lesion"), rois.mask("lesion"))
    assert back["prostate"].color == (0, 128, 255) and back["prostate"].locked
    assert back["lesion"].describe() == rois["lesion"].describe()

    # simulate a crash: the session stays marked open, the OS releases the lock
    ws._lock.release()
    assert [r.key for r in find_recoverable()] == [ws.key]
    out = save_rois(back, data_dir / "saved.nii.gz", vol)  # the user's "Save ROI as"
    ws.mark_explicit_save(saver.generation, out)
    assert find_recoverable() == []
    np.testing.assert_array_equal(load_rois(out, vol).mask("lesion"), rois.mask("lesion"))


def test_study_session_restores_is_exclusive_and_feeds_recovery(data_dir: Path) -> None:
    from coloc_viewer.imaging.roi import RoiSet
    from coloc_viewer.imaging.roi_edit import paint
    from coloc_viewer.workspace import StudySession, describe_recoverable, find_recoverable

    vol = Volume(np.zeros((3, 24, 24), np.float32), spacing=(2.0, 1.0, 1.0),
                 metadata={"series_uid": "2.25.77", "description": "T2 ax", "modality": "MR"},
                 source="/data/case7")
    first = StudySession.open(vol, delay=0.05)
    assert first.restored_roiset() is None and not first.read_only
    second = StudySession.open(vol)  # the same study in a second window: no second writer
    assert second.read_only
    rois = RoiSet.for_volume(vol)
    rois.add("lesion")
    paint(rois, "lesion", 1, (12, 12), 3.0)
    first.rois_changed(rois)
    first.state_changed(slice=1, model="demo", window=[40, 400])
    first.autosaver.flush()
    first.workspace._lock.release()  # what the OS does when the process is killed
    found = find_recoverable()
    assert [f.key for f in found] == [first.workspace.key]
    assert describe_recoverable(found[0]).startswith("MR T2 ax (case7), ROIs edited ")
    again = StudySession.open(vol)
    assert again.state == {"slice": 1, "model": "demo", "window": [40, 400]}
    np.testing.assert_array_equal(again.restored_roiset().mask("lesion"), rois.mask("lesion"))
    again.saved_as("/data/lesion.nii.gz")
    again.close()
    assert find_recoverable() == []
    smaller = Volume(np.zeros((2, 24, 24)), metadata={"series_uid": "2.25.77"})
    assert StudySession.open(smaller).restored_roiset() is None  # another grid: not applied


def test_atomic_writes_get_the_permissions_a_plain_open_gives(tmp_path):
    """mkstemp's 0o600 left refined models, reports and DICOM results unreadable to the
    colleagues of a shared folder; a file that exists keeps its own mode."""
    import os
    import stat

    from coloc_viewer.workspace.atomic import atomic_write_bytes

    old = os.umask(0o022)
    try:
        plain = tmp_path / "plain.bin"
        plain.write_bytes(b"x")
        atomic = tmp_path / "atomic.bin"
        atomic_write_bytes(atomic, b"x")
        assert stat.S_IMODE(atomic.stat().st_mode) == stat.S_IMODE(plain.stat().st_mode) \
            == 0o644
        private = tmp_path / "private.bin"
        private.write_bytes(b"x")
        private.chmod(0o600)
        atomic_write_bytes(private, b"y")
        assert stat.S_IMODE(private.stat().st_mode) == 0o600 and private.read_bytes() == b"y"
    finally:
        os.umask(old)
