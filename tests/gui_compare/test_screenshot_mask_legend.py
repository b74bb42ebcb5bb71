"""File > Save screenshot's legend lists the predicted mask's classes while that overlay is
shown (issue 13): a 3-class MONAI UNet (built here) on the demo T2, analysed with a mouse
click; M (a key press) hides the mask and its line; the saved PNG carries the line."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage

from coloc_viewer.resources import demo_dir

pytestmark = pytest.mark.gui

T2 = demo_dir() / "case-01" / "dicom"


def unet_card(folder, name: str = "tiny-unet-3") -> str:
    """A seeded 3-class MONAI UNet segmentation card (background, gland, lesion), 64 x 64."""
    import torch
    from monai.networks.nets import UNet
    from safetensors.torch import save_file

    torch.manual_seed(21)
    args = {"spatial_dims": 2, "in_channels": 1, "out_channels": 3, "channels": [8, 16, 32],
            "strides": [2, 2], "num_res_units": 0}
    module = UNet(**args).eval()
    save_file({k: v.contiguous() for k, v in module.state_dict().items()},
              str(folder / f"{name}.safetensors"))
    card = {"name": name, "weights": f"{name}.safetensors", "architecture": "monai:UNet",
            "architecture_args": args, "in_channels": 1, "spatial_dims": 2,
            "input_size": [64, 64], "task": "segmentation", "normalization": {"mode": "zscore"},
            "classes": ["background", "gland", "lesion"], "positive_class": 2}
    path = folder / f"{name}.json"
    path.write_text(json.dumps(card))
    return str(path)


@pytest.fixture
def window(qtbot, qapp, tmp_path, monkeypatch):
    from coloc_viewer.gui.main_window import MainWindow

    monkeypatch.setenv("COLOC_VIEWER_DATA_DIR", str(tmp_path / "data"))
    win = MainWindow()
    qtbot.addWidget(win)
    win.resize(1600, 900)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.runner.shutdown(10000)


def test_screenshot_legend_lists_the_predicted_mask_classes(qtbot, window, tmp_path,
                                                            monkeypatch, artifacts_dir):
    with qtbot.waitSignal(window.study_loaded, timeout=60000):
        window.open_path(T2)
    with qtbot.waitSignal(window.model_ready, timeout=60000):
        window.select_model(unet_card(tmp_path))
    with qtbot.waitSignal(window.analysis_finished, timeout=60000):
        qtbot.mouseClick(window.model_panel.analyse, Qt.MouseButton.LeftButton)
    ex = window.state.explanation
    assert ex.task == "segmentation" and window.mask_overlay.legend.isVisible()
    shares = ex.prediction["pixel_shares"]
    legend = window.screenshot_legend()
    mask = [line for line in legend if line.startswith("predicted mask")]
    assert mask == [f"predicted mask (share of the slice): gland {shares[1]:.1%}, "
                    f"lesion {shares[2]:.1%}"]
    assert legend[0].startswith("tiny-unet-3 / ")  # the usual lines stay first

    window.view.graphics.setFocus()
    qtbot.keyClick(window.view.graphics, Qt.Key.Key_M)  # hide the predicted mask
    assert not window.mask_overlay.legend.isVisible()
    hidden = window.screenshot_legend()
    assert hidden == [line for line in legend if line not in mask]

    qtbot.keyClick(window.view.graphics, Qt.Key.Key_M)  # show it again, then save
    png = tmp_path / "shot.png"
    monkeypatch.setattr("PySide6.QtWidgets.QFileDialog.getSaveFileName",
                        lambda *a, **k: (str(png), "PNG (*.png)"))
    window.actions_by_name["Save screenshot…"].trigger()
    saved = QImage(str(png))
    without = window.screenshot(legend=False)
    lines = window.screenshot_legend()
    assert lines == legend
    assert saved.height() > without.height()
    # one band line per legend line: the mask line adds one line's height
    from coloc_viewer.gui.screenshot_painter import with_legend

    assert saved.height() == with_legend(without, lines).height()
    assert saved.height() > with_legend(without, hidden).height()
    (artifacts_dir / "gui_screenshot_mask_legend.png").write_bytes(png.read_bytes())


def test_mask_line_names_the_volume_for_a_3d_model_and_omits_unknown_shares():
    from types import SimpleNamespace

    from coloc_viewer.viewer.exports import mask_line, view_legend

    ex = SimpleNamespace(layer="model.1", target=1, rank="contribution", spatial_dims=3)
    lines = view_legend("tiny-unet-3d", ex, "gradcam", "per-image", None,
                        mask_rows=[(1, "lesion", 0.0123)])
    assert lines[-1] == "predicted mask (share of the volume): lesion 1.2%"
    assert view_legend("m", ex, "gradcam", "per-image", None)[-1].startswith("scale:")
    assert mask_line([(1, "lesion", None)]) == "predicted mask: lesion"
    assert mask_line([]) is None
