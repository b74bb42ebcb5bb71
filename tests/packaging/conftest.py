"""Fixtures for the packaging tests: an installed-like resources folder (a generated DICOM
demo case and a small real model card), independent of the bundled demo."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest


def _phantom(shape: tuple[int, int, int] = (6, 96, 88), seed: int = 1) -> np.ndarray:
    """Body ellipse plus a bright lesion blob, MR-like units, integer valued."""
    rng = np.random.default_rng(seed)
    z, h, w = shape
    yy, xx = np.mgrid[:h, :w]
    body = (((yy - h / 2) / (0.4 * h)) ** 2 + ((xx - w / 2) / (0.42 * w)) ** 2) < 1
    out = np.empty(shape, np.float64)
    for k in range(z):
        blob = np.exp(-(((yy - 0.42 * h) ** 2 + (xx - 0.58 * w) ** 2) / (2 * (5.0 + k) ** 2)))
        out[k] = 280 * body + 520 * blob + rng.normal(0, 12, (h, w))
    return np.round(np.clip(out, 0, None))


@pytest.fixture(scope="session")
def resources_tree(tmp_path_factory) -> Path:
    """``<root>/demo/case-a/dicom`` (a DICOM MR series) and ``<root>/models/tiny.json``."""
    import torch
    from safetensors.torch import save_file

    from coloc_viewer.imaging.dicom_write import write_dicom_series
    from coloc_viewer.model.architectures import build_torchvision

    root = tmp_path_factory.mktemp("resources")
    write_dicom_series(_phantom(), root / "demo" / "case-a" / "dicom",
                       spacing=(3.0, 0.9, 0.9), origin=(-40.0, -43.2, 5.0), modality="MR",
                       series_description="packaging test phantom")
    models = root / "models"
    models.mkdir()
    torch.manual_seed(0)
    module = build_torchvision("resnet18", 2, 1).eval()
    save_file({k: v.contiguous() for k, v in module.state_dict().items()},
              str(models / "tiny.safetensors"))
    card = {"name": "tiny", "architecture": "resnet18", "weights": "tiny.safetensors",
            "in_channels": 1, "input_size": [64, 64], "normalization": {"mode": "zscore"},
            "classes": ["no lesion", "lesion"], "positive_class": 1, "target_layer": "layer3"}
    (models / "tiny.json").write_text(json.dumps(card))
    (root / "icons").mkdir()
    return root
