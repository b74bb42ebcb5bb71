"""Fixtures for the viewer tests: a generated DICOM study, a small real model card, the
window, and helpers that drive the slice view with real mouse events."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from gui_phantom import phantom

from coloc_viewer.imaging.volume import Volume


@pytest.fixture(scope="session")
def study_dir(tmp_path_factory) -> Path:
    """A real DICOM MR series (anisotropic pixels) written with the imaging layer."""
    from coloc_viewer.imaging.dicom_write import write_dicom_series

    folder = tmp_path_factory.mktemp("study")
    write_dicom_series(phantom(), folder, spacing=(3.0, 0.8, 1.0), origin=(-40.0, -38.4, 10.0),
                       direction=np.eye(3), modality="MR", series_description="T2 phantom",
                       dtype="uint16")
    return folder


@pytest.fixture(scope="session")
def volume() -> Volume:
    return Volume(phantom(), spacing=(3.0, 0.8, 1.0), metadata={"modality": "MR"},
                  private={"patient_name": "DOE^JANE"})


@pytest.fixture(scope="session")
def model_card(tmp_path_factory) -> Path:
    """A resnet18 card with fixed random weights (1 channel, 64 x 64), written like a user's."""
    import torch
    from safetensors.torch import save_file

    from coloc_viewer.model.architectures import build_torchvision

    folder = tmp_path_factory.mktemp("model")
    torch.manual_seed(0)
    module = build_torchvision("resnet18", 2, 1).eval()
    save_file({k: v.contiguous() for k, v in module.state_dict().items()},
              str(folder / "tiny.safetensors"))
    card = {"name": "tiny-resnet18", "architecture": "resnet18",
            "weights": "tiny.safetensors", "in_channels": 1, "input_size": [64, 64],
            "normalization": {"mode": "zscore"}, "classes": ["no lesion", "lesion"],
            "positive_class": 1, "target_layer": "layer3"}
    path = folder / "tiny.json"
    path.write_text(json.dumps(card))
    return path


@pytest.fixture(autouse=True)
def every_mouse_move(monkeypatch):
    """pyqtgraph drops mouse moves closer than 10 ms; synthetic strokes come faster."""
    import pyqtgraph as pg

    pg.setConfigOption("mouseRateLimit", 0)
    yield
    pg.setConfigOption("mouseRateLimit", 100)


@pytest.fixture
def window(qtbot, qapp):
    from coloc_viewer.gui.main_window import MainWindow
    from coloc_viewer.gui.theme import apply_dark_theme

    apply_dark_theme(qapp)
    win = MainWindow()
    qtbot.addWidget(win)
    win.resize(1400, 900)
    win.show()
    qtbot.waitExposed(win)
    win.activateWindow()
    win.view.graphics.setFocus()
    yield win
    win.runner.shutdown(10000)
