"""Small real inputs for the compare-window tests: a phantom study and tiny CNNs."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from coloc_viewer.imaging.volume import Volume

SHAPE = (6, 64, 64)


def phantom_study_volume(seed: int = 0, lesion_at: tuple[int, int] = (22, 40)) -> Volume:
    """A noisy disc "body" with a bright lesion on slices 2-3; 0.8 x 0.8 x 3 mm voxels."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[: SHAPE[1], : SHAPE[2]]
    body = 300.0 * (((yy - 32) / 28.0) ** 2 + ((xx - 32) / 26.0) ** 2 < 1)
    vox = np.stack([body + rng.normal(0, 15, SHAPE[1:]) for _ in range(SHAPE[0])])
    ly, lx = lesion_at
    lesion = ((yy - ly) ** 2 + (xx - lx) ** 2) < 36
    vox[2:4, lesion] += 250.0
    return Volume(vox.astype(np.float32), spacing=(3.0, 0.8, 0.8),
                  metadata={"series_uid": f"1.2.3.{seed}", "modality": "MR",
                                                    "description": f"phantom {seed}",
                                                    "window": [200.0, 600.0]},
                  source=f"/data/phantom{seed}")


def lesion_roi(volume: Volume, lesion_at: tuple[int, int] = (22, 40)) -> np.ndarray:
    yy, xx = np.mgrid[: volume.shape[1], : volume.shape[2]]
    roi = np.zeros(volume.shape, bool)
    roi[2:4] = ((yy - lesion_at[0]) ** 2 + (xx - lesion_at[1]) ** 2) < 36
    return roi


class TinyNet(nn.Module):
    """conv-relu-conv-relu, global average pool, linear: a CAM-compatible classifier."""

    def __init__(self, seed: int) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.features = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(),
                                      nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU())
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pool(self.features(x)).flatten(1))


def tiny_models() -> dict[str, object]:
    from coloc_viewer.model.loading import wrap_module

    torch.set_num_threads(1)
    return {name: wrap_module(TinyNet(seed), in_channels=1, input_size=(64, 64),
                              classes=["no lesion", "lesion"], name=name,
                              normalization={"mode": "zscore"}, device="cpu")
            for name, seed in (("tiny-a", 1), ("tiny-b", 2))}
