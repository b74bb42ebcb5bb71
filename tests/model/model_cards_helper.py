"""Write small model cards for tests (imported by tests/model)."""

from __future__ import annotations

import json
from pathlib import Path


def write_card(folder: Path, name: str = "tiny", **fields) -> Path:
    card = {"name": name, "architecture": "resnet18", "weights": f"{name}.safetensors",
            "in_channels": 1, "input_size": [64, 64],
            "normalization": {"mode": "fixed", "mean": [0.0], "std": [1.0]},
            "classes": ["no lesion", "lesion"], "positive_class": 1, "target_layer": "layer4"}
    card.update(fields)
    path = folder / f"{name}.json"
    path.write_text(json.dumps(card))
    return path


def analyze_json(folder: Path, card: Path, capsys) -> dict:
    """`coloc-viewer analyze --json` with ``card`` on a small NIfTI case (3 x 48 x 48, ROI
    on slice 1) written to ``folder``: the parsed output (asserts exit status 0)."""
    import numpy as np
    import SimpleITK as sitk

    from coloc_viewer.cli.main import main

    vox = np.random.default_rng(0).normal(100, 20, (3, 48, 48)).astype(np.float32)
    sitk.WriteImage(sitk.GetImageFromArray(vox), str(folder / "v.nii.gz"))
    roi = np.zeros(vox.shape, np.uint8)
    roi[1, 10:20, 10:20] = 1
    sitk.WriteImage(sitk.GetImageFromArray(roi), str(folder / "r.nii.gz"))
    code = main(["analyze", str(folder / "v.nii.gz"), "--roi", str(folder / "r.nii.gz"),
                 "--model", str(card), "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)
