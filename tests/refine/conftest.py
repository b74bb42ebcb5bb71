"""Tiny generated cohorts and a tiny card for the refine tests.

Cases are 64x64 slices of smooth noise; a lesion (a faint disc, ROI ``lesion``) sits on a
few middle slices inside a central disc (ROI ``organ``, on every slice); a bright square
marker (ROI ``marker``) sits in a corner on
``p_marker_lesion`` of the lesion slices and ``p_marker_other`` of the others -- with
0.95 / 0.0 the marker is a shortcut a classifier learns first.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

SIZE = 64
N_SLICES = 8


def write_cohort(folder: Path, n_cases: int, seed: int, p_marker_lesion: float,
                 p_marker_other: float, lesion_signal: float = 0.4) -> Path:
    """Write NIfTI images + ROI label maps (names lesion, marker, organ) and a manifest."""
    import SimpleITK as sitk

    from coloc_viewer.imaging.roi import RoiSet
    from coloc_viewer.imaging.roi_io import save_rois
    from coloc_viewer.imaging.sitk_io import to_sitk_image
    from coloc_viewer.imaging.volume import Volume

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:SIZE, :SIZE]
    organ = (yy - SIZE / 2) ** 2 + (xx - SIZE / 2) ** 2 <= (SIZE / 2 - 6) ** 2
    rows = ["image,roi,case_id"]
    for i in range(n_cases):
        img = rng.normal(0.0, 0.25, (N_SLICES, SIZE, SIZE)).astype(np.float32) + 1.0
        lesion = np.zeros(img.shape, bool)
        marker = np.zeros(img.shape, bool)
        cy, cx = rng.integers(20, SIZE - 20, 2)
        r = rng.uniform(5, 8)
        disc = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
        with_lesion = rng.random() < 0.8
        for z in range(N_SLICES):
            has = with_lesion and 2 <= z <= 5
            if has:
                img[z][disc] += lesion_signal
                lesion[z] = disc
            if rng.random() < (p_marker_lesion if has else p_marker_other):
                y0, x0 = (2, 2) if rng.random() < 0.5 else (2, SIZE - 10)
                img[z, y0:y0 + 8, x0:x0 + 8] = 3.0
                marker[z, y0:y0 + 8, x0:x0 + 8] = True
        vol = Volume(voxels=img, spacing=(3.0, 1.0, 1.0), origin=(0.0, 0.0, 0.0),
                     direction=np.eye(3), metadata={"modality": "MR"})
        sitk.WriteImage(to_sitk_image(img, vol), str(folder / f"c{i}.nii.gz"))
        rois = RoiSet.for_volume(vol)
        rois.add("lesion", lesion, record=False)
        rois.add("marker", marker, record=False)
        rois.add("organ", np.broadcast_to(organ, img.shape).copy(), record=False)
        save_rois(rois, folder / f"c{i}_rois.nii.gz", like=vol)
        rows.append(f"c{i}.nii.gz,c{i}_rois.nii.gz,case{seed}-{i}")
    manifest = folder / "manifest.csv"
    manifest.write_text("\n".join(rows) + "\n")
    return manifest


TINY_ARGS = {"block": "basic", "layers": [1, 1, 1, 1], "block_inplanes": [8, 16, 32, 64],
             "spatial_dims": 2, "n_input_channels": 1, "num_classes": 2}


def write_card(folder: Path, name: str = "tiny", seed: int = 0) -> Path:
    """A small ResNet (monai ResNet, one basic block per stage, 8-64 channels: 78k
    parameters; 1 channel, 2 classes, 64x64, target layer layer3) with random weights."""
    import torch
    from safetensors.torch import save_file

    from coloc_viewer.model.architectures import build_architecture

    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    module = build_architecture("monai:ResNet", 2, 1, TINY_ARGS)
    save_file(module.state_dict(), str(folder / f"{name}.safetensors"))
    card = {"name": name, "architecture": "monai:ResNet", "architecture_args": TINY_ARGS,
            "weights": f"{name}.safetensors",
            "in_channels": 1, "input_size": [SIZE, SIZE],
            "normalization": {"mode": "fixed", "mean": [1.0], "std": [0.5]},
            "classes": ["no lesion", "lesion"], "positive_class": 1,
            "target_layer": "layer3"}
    path = folder / f"{name}.json"
    path.write_text(json.dumps(card))
    return path


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("refine")


@pytest.fixture(scope="session")
def shortcut_manifest(tiny_dir: Path) -> Path:
    return write_cohort(tiny_dir / "train", 8, seed=1, p_marker_lesion=0.95, p_marker_other=0.0)


@pytest.fixture(scope="session")
def val_manifest(tiny_dir: Path) -> Path:
    """Held-out cases where the marker is independent of the lesion."""
    return write_cohort(tiny_dir / "val", 4, seed=7, p_marker_lesion=0.5, p_marker_other=0.5)


@pytest.fixture(scope="session")
def tiny_card(tiny_dir: Path) -> Path:
    return write_card(tiny_dir / "card")
