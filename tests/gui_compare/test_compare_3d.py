"""A compare pane with a 3-D model runs it once per volume and settings; scrolling shows the
slices of that one cached run (issue 13), through real wheel events."""

from __future__ import annotations

import pytest
import torch
from compare_fixtures import phantom_study_volume
from test_links import wheel
from torch import nn

from coloc_viewer.explain.engine import explain
from coloc_viewer.viewer.compare import ModelRegistry, PaneSpec

pytestmark = pytest.mark.gui


class Tiny3d(nn.Module):
    """conv3d-relu-conv3d-relu, global average pool, linear."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(5)
        self.features = nn.Sequential(nn.Conv3d(1, 4, 3, padding=1), nn.ReLU(),
                                      nn.Conv3d(4, 8, 3, stride=2, padding=1), nn.ReLU())
        self.fc = nn.Linear(8, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x).mean(dim=(2, 3, 4)))


def test_scrolling_a_3d_pane_never_runs_the_model_again(qtbot, study) -> None:
    from coloc_viewer.gui.compare_window import CompareWindow
    from coloc_viewer.model.loading import wrap_module

    module = Tiny3d()
    model = wrap_module(module, in_channels=1, input_size=(6, 32, 32), name="tiny-3d",
                        classes=["no lesion", "lesion"], device="cpu")
    registry = ModelRegistry({"tiny-3d": model})
    registry.layers("tiny-3d")  # the layer listings' dry runs happen before counting
    explain(model, phantom_study_volume(seed=3), None)
    runs = []
    module.features[0].register_forward_hook(lambda *_a: runs.append(1))
    specs = [PaneSpec("tiny-3d"), PaneSpec("tiny-3d", map_choice="gradcam")]
    win = CompareWindow(study, registry, n_panes=2, specs=specs)
    qtbot.addWidget(win)
    win.resize(1000, 600)
    win.show()
    qtbot.waitExposed(win)
    win.set_pane_count(2)
    with qtbot.waitSignal(win.results_ready, timeout=60000):
        win.analyse()
    assert len(runs) == 1  # one forward of the whole volume for both panes
    win.auto_box.setChecked(True)  # analyse again on every slice change
    lead = win.panes[0]
    wheel(lead, lead.slice_index)  # wheel up to the first slice, then down through all
    seen = []
    for _ in range(study.n_slices):
        for pane in win.panes:  # shown at once, from the cached 3-D run
            res = pane.model.shown_result
            assert res is not None and res.explanation.z == pane.slice_index
        seen.append(lead.slice_index)
        with qtbot.waitSignal(win.results_ready, timeout=60000):
            win.analyse()  # what Auto starts: answered from the cache
        wheel(lead, -1)  # next slice
    assert seen == list(range(study.n_slices))
    assert len(runs) == 1
    assert win.table_values()[0]["prediction"] in ("no lesion", "lesion")
    win.close()
