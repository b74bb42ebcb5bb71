"""Screenshots of both windows at 1600 x 1000 on the demo case (kept in artifacts/)."""

from __future__ import annotations

from gui_events import analyse, load_model
from PySide6.QtGui import QImage


def test_both_windows_at_1600_by_1000(qtbot, window, artifacts_dir):
    from coloc_viewer.gui.app import default_study
    from coloc_viewer.resources import models_dir
    from coloc_viewer.viewer.compare import PaneSpec

    image, rois = default_study()
    window.resize(1600, 1000)
    with qtbot.waitSignal(window.study_loaded, timeout=60000):
        window.open_path(image, rois=rois)
    rois_now = window.state.rois
    areas = rois_now[0].mask.reshape(rois_now.shape[0], -1).sum(axis=1)
    window.state.set_slice(int(areas.argmax()))
    load_model(qtbot, window, models_dir() / "demo-clean.json")
    analyse(qtbot, window)
    qtbot.wait(200)
    main_png = artifacts_dir / "issue15-main-1600x1000.png"
    assert window.grab().save(str(main_png))
    shot = QImage(str(main_png))
    assert (shot.width(), shot.height()) == (1600, 1000)

    window.registry.add(str(models_dir() / "demo-shortcut.json"))
    compare = window.open_compare()
    qtbot.addWidget(compare)
    # it opens as large as the main window (Qt's default size had left its tables unreadable)
    assert (compare.width(), compare.height()) == (1600, 1000)
    compare.panes[0].set_spec(PaneSpec(str(models_dir() / "demo-clean.json")))
    compare.panes[1].set_spec(PaneSpec(str(models_dir() / "demo-shortcut.json"),
                                       map_choice="gradcam"))
    with qtbot.waitSignal(compare.results_ready, timeout=120000):
        compare.analyse()
    qtbot.wait(200)
    compare_png = artifacts_dir / "issue15-compare-1600x1000.png"
    assert compare.grab().save(str(compare_png))
    assert all(p.scores.table.rowCount() >= 1 for p in compare.panes)
    assert QImage(str(compare_png)).width() == 1600
