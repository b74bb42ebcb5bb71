"""The main window and its compare window share one study (ROI set), one registry and one
cache; ROI edits in either appear in both; the compare window follows a new study."""

from __future__ import annotations

import numpy as np
from gui_events import drag, open_study
from gui_phantom import phantom

from coloc_viewer.imaging.dicom_write import write_dicom_series


def test_compare_shares_rois_registry_and_cache_with_the_main_window(qtbot, window,
                                                                     study_dir):
    open_study(qtbot, window, study_dir)
    window.registry.add("my-card.json", object())
    compare = window.open_compare()
    qtbot.addWidget(compare)
    qtbot.waitExposed(compare)
    assert compare.registry is window.registry and compare._cache is window.cache
    box = compare.panes[0].model_box
    names = [box.itemData(i) for i in range(box.count())]
    assert "my-card.json" in names  # offered, shown by its stem
    assert box.itemText(names.index("my-card.json")) == "my-card"
    assert compare.studies[0].rois is window.state.rois

    window.state.set_tool("brush")
    z = window.state.slice_index
    compare.panes[0].set_slice(z)
    drag(window.view, [(30, 30), (32, 36)])  # drawn in the main window
    for pane in compare.panes:
        assert (pane.outline_item.image[..., 3] > 0)[31, 33]

    compare.set_tool("brush")
    pane = compare.panes[1]
    drag(pane.canvas, [(60, 20), (62, 24)])  # drawn in a pane
    assert window.state.rois.mask()[z, 60:63, 20:25].any()
    assert window.unsaved_edits


def test_the_compare_window_follows_a_new_study(qtbot, window, study_dir, tmp_path):
    open_study(qtbot, window, study_dir)
    compare = window.open_compare()
    qtbot.addWidget(compare)
    other = tmp_path / "other"
    write_dicom_series(phantom((5, 64, 72), seed=3), other, spacing=(2.0, 1.0, 1.0),
                       origin=(0.0, 0.0, 0.0), direction=np.eye(3), modality="MR",
                       series_description="other phantom", dtype="uint16")
    open_study(qtbot, window, other)
    followed = window._compare
    qtbot.addWidget(followed)
    assert followed is not None and followed.isVisible()
    assert followed.studies[0].volume is window.state.volume
    assert followed.panes[0].state.volume.shape == (5, 64, 72)
