"""`coloc-viewer analyze` on a small generated case (NIfTI volume + label-map ROIs)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
import torch
from safetensors.torch import save_file

from coloc_viewer.cli.main import main
from coloc_viewer.imaging.load import load_volume
from coloc_viewer.imaging.roi import RoiSet
from coloc_viewer.imaging.roi_io import save_roi, save_rois
from coloc_viewer.model.architectures import build_torchvision

SCORE_KEYS = {"relevance_mass", "relevance_rank", "iou_top_n", "dice", "iou", "pointing_game",
              "auroc", "p_value", "seed_overlap"}


@pytest.fixture(scope="module")
def case(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("analyze")
    rng = np.random.default_rng(0)
    vox = rng.normal(100, 20, size=(5, 40, 56)).astype(np.float32)
    vox[:, 15:25, 20:34] += 80  # a bright "lesion"
    img = sitk.GetImageFromArray(vox)
    img.SetSpacing((0.8, 1.1, 3.0))  # x, y, z: anisotropic in-plane
    sitk.WriteImage(img, str(root / "vol.nii.gz"))
    vol = load_volume(root / "vol.nii.gz")
    mask = np.zeros(vol.shape, bool)
    mask[1, 16:20, 22:26] = True
    mask[3, 14:26, 19:35] = True  # largest on slice 3
    save_roi(mask, root / "roi.nii.gz", like=vol)
    rois = RoiSet.from_mask(mask, vol.spacing, name="lesion")
    other = np.zeros(vol.shape, bool)
    other[:, 30:36, 5:12] = True
    rois.add("background", other)
    save_rois(rois, root / "multi.nii.gz", like=vol)
    torch.manual_seed(0)
    model = build_torchvision("resnet18", 2, 1)
    save_file(model.state_dict(), str(root / "m.safetensors"))
    (root / "m.json").write_text(json.dumps({
        "name": "tiny-r18", "architecture": "resnet18", "weights": "m.safetensors",
        "in_channels": 1, "input_size": [64, 64], "normalization": {"mode": "zscore"},
        "classes": ["no lesion", "lesion"], "positive_class": 1, "target_layer": "layer4"}))
    return {"root": root, "vol": root / "vol.nii.gz", "roi": root / "roi.nii.gz",
            "multi": root / "multi.nii.gz", "card": root / "m.json"}


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["analyze", *map(str, argv)])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_json_keys_and_default_slice(case, capsys) -> None:
    code, out, err = _run(capsys, case["vol"], "--roi", case["roi"], "--model", case["card"],
                          "--json")
    assert code == 0, err
    data = json.loads(out)
    assert {"model", "layer", "slice", "prediction", "target", "rank", "top_channels",
            "scores"} <= data.keys()
    assert data["model"] == "tiny-r18" and data["layer"] == "layer4" and data["slice"] == 3
    assert data["rank"] == "contribution" and data["method"] == "gradcam"
    assert set(data["prediction"]) == {"index", "label", "probabilities"}
    assert len(data["top_channels"]) == 10
    imps = [c["importance"] for c in data["top_channels"]]
    assert imps == sorted(imps, reverse=True)
    assert set(data["scores"]) == {"top_map", "cam"}
    for part in ("top_map", "cam"):
        assert data["scores"][part].keys() >= SCORE_KEYS
    assert data["decomposition"]["exact"]


def test_options_and_multi_roi(case, capsys) -> None:
    code, out, err = _run(capsys, case["vol"], "--roi", case["multi"], "--model", case["card"],
                          "--slice", "1", "--rank", "max", "--method", "layercam",
                          "--target", "lesion", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["slice"] == 1 and data["rank"] == "max" and data["target"] == 1
    assert data["method"] == "layercam" and data["roi"] == "lesion"
    assert set(data["scores"]["per_roi"]) == {"lesion", "background"}
    assert data["scores"]["per_roi"]["lesion"]["cam"] == data["scores"]["cam"]
    code, out, _ = _run(capsys, case["vol"], "--roi", case["multi"], "--model", case["card"],
                        "--roi-name", "background", "--json")
    data = json.loads(out)
    assert code == 0 and data["roi"] == "background" and "per_roi" not in data["scores"]
    assert data["slice"] == 0  # the background ROI is equally large on every slice


def test_text_output(case, capsys) -> None:
    code, out, _ = _run(capsys, case["vol"], "--roi", case["roi"], "--model", case["card"])
    assert code == 0
    assert "tiny-r18" in out and "relevance_mass" in out and "p_value" in out


@pytest.mark.parametrize("extra, needle", [
    (["--slice", "9"], "out of range"),
    (["--roi-name", "nope"], "no ROI named 'nope'"),
    (["--method", "magic"], "unknown method"),
    (["--layer", "layer9"], "no layer 'layer9'"),
])
def test_errors_are_one_line_exit_2(case, capsys, extra, needle) -> None:
    code, out, err = _run(capsys, case["vol"], "--roi", case["roi"], "--model", case["card"],
                          *extra)
    assert code == 2 and out == ""
    assert needle in err and err.count("\n") == 1 and "Traceback" not in err


def test_missing_model_card(case, capsys) -> None:
    code, _, err = _run(capsys, case["vol"], "--roi", case["roi"], "--model",
                        case["root"] / "none.json")
    assert code == 2 and "none.json" in err and "not found" in err


def test_default_model_is_the_first_bundled(case, capsys, monkeypatch, tmp_path) -> None:
    models = tmp_path / "res" / "models"
    models.mkdir(parents=True)
    card = json.loads(case["card"].read_text())
    shutil.copy(case["root"] / "m.safetensors", models / "m.safetensors")  # weights beside it
    card.update(name="demo-clean", weights="m.safetensors")
    (models / "demo-clean.json").write_text(json.dumps(card))
    monkeypatch.setenv("COLOC_VIEWER_RESOURCES", str(tmp_path / "res"))
    code, out, err = _run(capsys, case["vol"], "--roi", case["roi"], "--json")
    assert code == 0, err
    assert json.loads(out)["model"] == "demo-clean"
