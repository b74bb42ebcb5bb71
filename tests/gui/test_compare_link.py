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


def test_the_compare_window_starts_from_the_main_windows_view(qtbot, window, study_dir,
                                                              model_card):
    """A review opened compare from demo-shortcut with Grad-CAM and got demo-clean and
    demo-mpmri with the top channel: pane A now shows the main window's model, layer,
    ranking and map, pane B the same map of another model."""
    from gui_events import load_model

    open_study(qtbot, window, study_dir)
    load_model(qtbot, window, model_card)
    panel = window.model_panel
    panel.map_box.setCurrentIndex(panel.map_box.findData("gradcam"))
    panel.layer_box.setCurrentIndex(panel.layer_box.findData("layer2"))
    c = window.state.choices
    assert (c.map_choice, c.layer) == ("gradcam", "layer2")
    compare = window.open_compare()
    qtbot.addWidget(compare)
    a, b = (p.spec() for p in compare.panes[:2])
    assert (a.model, a.layer, a.map_choice, a.rank) == (c.model, "layer2", "gradcam", c.rank)
    assert b.model != c.model and b.map_choice == "gradcam" and b.layer is None
    # from demo-clean (the first bundled model) B is not demo-mpmri, next in the list, a
    # model of three series that would ask for them: a model of this one series
    assert window.registry.names.index("demo-mpmri") == window.registry.names.index(
        "demo-clean") + 1
    window.state.choices.set(model="demo-clean")
    a, b = window._compare_specs()  # noqa: SLF001
    assert a.model == "demo-clean" and b.model not in ("demo-clean", "demo-mpmri"), b
    assert compare.panes[0].map_box.currentData() == "gradcam"
