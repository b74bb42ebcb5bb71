"""Generated cohorts for the cohort tests: small NIfTI cases with lesion masks, a corrupt
image, an ROI on the wrong grid, and tiny model cards (resnet18, fixed random weights)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

SHAPE = (5, 64, 64)
SPACING_XYZ = (0.8, 0.8, 3.0)


def _disc(shape2d, centre, radius):
    yy, xx = np.mgrid[: shape2d[0], : shape2d[1]]
    return (yy - centre[0]) ** 2 + (xx - centre[1]) ** 2 <= radius ** 2


def write_nifti(array: np.ndarray, path: Path, spacing=SPACING_XYZ) -> Path:
    import SimpleITK as sitk

    img = sitk.GetImageFromArray(array)
    img.SetSpacing(spacing)
    sitk.WriteImage(img, str(path))
    return path


def make_case(folder: Path, name: str, seed: int, shape=SHAPE) -> tuple[Path, Path]:
    """A noisy volume with a bright disc lesion on slices 1-3 inside a larger "organ"
    disc; the ROI file is a label map with a sidecar naming "lesion" and "organ"."""
    from coloc_viewer.imaging.load import load_volume
    from coloc_viewer.imaging.roi import RoiSet
    from coloc_viewer.imaging.roi_io import save_rois

    rng = np.random.default_rng(seed)
    vol = rng.normal(100.0, 10.0, shape).astype(np.float32)
    lesion = np.zeros(shape, bool)
    organ = np.zeros(shape, bool)
    cy, cx = rng.integers(20, shape[1] - 20, 2)
    for z, r in zip((1, 2, 3), (4, 7, 5)):
        d = _disc(shape[1:], (cy + z, cx), r + int(rng.integers(0, 2)))
        vol[z][d] += 80.0
        lesion[z] = d
        organ[z] = _disc(shape[1:], (cy, cx), 14)
    image = write_nifti(vol, folder / f"{name}_img.nii.gz")
    like = load_volume(image)
    rois = RoiSet.for_volume(like)
    rois.add("lesion", lesion)
    rois.add("organ", organ)
    roi_path = folder / f"{name}_roi.nii.gz"
    save_rois(rois, roi_path, like)
    return image, roi_path


def make_model(folder: Path, name: str, seed: int) -> Path:
    import torch
    from safetensors.torch import save_file

    from coloc_viewer.model.architectures import build_torchvision

    torch.manual_seed(seed)
    module = build_torchvision("resnet18", 2, 1)
    save_file(module.state_dict(), str(folder / f"{name}.safetensors"))
    card = {"name": name, "architecture": "resnet18", "weights": f"{name}.safetensors",
            "in_channels": 1, "input_size": [128, 128],
            "normalization": {"mode": "zscore"}, "classes": ["no lesion", "lesion"],
            "positive_class": 1, "target_layer": "layer4"}
    path = folder / f"{name}.json"
    path.write_text(json.dumps(card), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def models(tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("models")
    return [make_model(folder, "tiny-a", 0), make_model(folder, "tiny-b", 1)]


@pytest.fixture(scope="session")
def cohort(tmp_path_factory) -> dict:
    """Manifest with 4 good cases, a corrupt image and an ROI on the wrong grid."""
    root = tmp_path_factory.mktemp("cohort")
    data = root / "data"
    data.mkdir()
    rows = ["image,roi,case_id,slices,label"]
    for i in range(4):
        img, roi = make_case(data, f"c{i}", seed=10 + i)
        slices = "1-2;4" if i == 3 else ""
        rows.append(f"data/{img.name},data/{roi.name},case{i},{slices},{i % 2}")
    (data / "corrupt_img.nii.gz").write_bytes(b"\x1f\x8b not really gzip" * 20)
    _, good_roi = make_case(data, "x", seed=99)
    rows.append(f"data/corrupt_img.nii.gz,data/{good_roi.name},corrupt,,")
    img, _ = make_case(data, "g", seed=98)
    wrong = write_nifti(np.ones((5, 32, 32), np.uint8), data / "wrong_roi.nii.gz")
    rows.append(f"data/{img.name},{wrong},wronggeom,,")
    manifest = root / "manifest.csv"
    manifest.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return {"manifest": manifest, "good": [f"case{i}" for i in range(4)],
            "bad": ["corrupt", "wronggeom"]}


@pytest.fixture(scope="session")
def helpers():
    """``make_case`` and ``write_nifti`` for test modules (a conftest is not importable by
    name when several test folders have one)."""
    from types import SimpleNamespace

    return SimpleNamespace(make_case=make_case, write_nifti=write_nifti)
