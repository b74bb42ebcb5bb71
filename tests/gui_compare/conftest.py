"""Fixtures of the compare-window tests: a phantom study, tiny models, a window."""

from __future__ import annotations

import pytest
from compare_fixtures import lesion_roi, phantom_study_volume, tiny_models


@pytest.fixture(scope="package")
def registry():
    from coloc_viewer.viewer.compare import ModelRegistry

    return ModelRegistry(tiny_models())


@pytest.fixture()
def study():
    from coloc_viewer.viewer.compare import Study

    vol = phantom_study_volume()
    return Study(vol, lesion_roi(vol))


@pytest.fixture()
def make_window(qtbot, registry):
    from coloc_viewer.gui.compare_window import CompareWindow

    def make(studies, n_panes=3, specs=None):
        win = CompareWindow(studies, registry, n_panes=n_panes, specs=specs)
        qtbot.addWidget(win)
        win.resize(1200, 600)
        win.show()
        qtbot.waitExposed(win)
        return win

    return make
