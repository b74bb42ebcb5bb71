"""Card-driven preprocessing: a 2-D slice in physical units -> the model's input tensor.

Steps: (1) place the slice on the input grid with :class:`SliceTransform` (aspect ratio and
anisotropic pixels kept, centred, padded with the slice minimum; no resampling when the
slice already has the input size and square pixels); (2) intensity normalisation from the
card, with statistics taken from the slice's own pixels (never the padding); (3) channel
replication to ``in_channels``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from coloc_viewer.model.transform import SliceTransform


def _normalize(x: np.ndarray, stats_from: np.ndarray, norm: Mapping[str, Any],
               in_channels: int) -> np.ndarray:
    """(in_channels, h, w) float32 normalised copy of the 2-D ``x``."""
    mode = norm["mode"]
    ref = stats_from[np.isfinite(stats_from)]
    if mode == "fixed":
        mean = np.resize(np.asarray(norm["mean"], dtype=np.float64), in_channels)
        std = np.resize(np.asarray(norm["std"], dtype=np.float64), in_channels)
        out = (x[None] - mean[:, None, None]) / std[:, None, None]
        return out.astype(np.float32)
    if mode == "zscore":
        mu, sd = (float(ref.mean()), float(ref.std())) if ref.size else (0.0, 1.0)
        y = (x - mu) / (sd if sd > 0 else 1.0)
    elif mode == "minmax":
        lo, hi = (float(ref.min()), float(ref.max())) if ref.size else (0.0, 1.0)
        y = (x - lo) / (hi - lo if hi > lo else 1.0)
    elif mode == "percentile":
        lo, hi = ((float(np.percentile(ref, norm["low"])), float(np.percentile(ref, norm["high"])))
                  if ref.size else (0.0, 1.0))
        y = (np.clip(x, lo, hi) - lo) / (hi - lo if hi > lo else 1.0)
    else:  # pragma: no cover - cards are validated
        raise ValueError(f"unknown normalization mode {mode!r}")
    return np.repeat(y[None].astype(np.float32), in_channels, axis=0)


class Preprocessor:
    """Callable ``(slice2d, pixel_spacing) -> (input tensor (1, C, h, w), SliceTransform)``."""

    def __init__(self, in_channels: int, input_size: Sequence[int],
                 normalization: Mapping[str, Any]):
        self.in_channels = int(in_channels)
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.normalization = dict(normalization)

    def transform_for(self, image_shape: tuple[int, int],
                      pixel_spacing: Sequence[float] = (1.0, 1.0)) -> SliceTransform:
        return SliceTransform.fit(image_shape, self.input_size,
                                  (float(pixel_spacing[0]), float(pixel_spacing[1])))

    def __call__(self, slice2d: np.ndarray, pixel_spacing: Sequence[float] = (1.0, 1.0),
                 device: torch.device | str = "cpu") -> tuple[torch.Tensor, SliceTransform]:
        img = np.asarray(slice2d, dtype=np.float64)
        if img.ndim != 2:
            raise ValueError(f"expected a 2-D slice, got shape {img.shape}")
        tf = self.transform_for(img.shape, pixel_spacing)
        finite = img[np.isfinite(img)]
        pad = float(finite.min()) if finite.size else 0.0
        img = np.where(np.isfinite(img), img, pad)
        placed = tf.to_input_grid(img, pad_value=pad)
        x = _normalize(placed, img, self.normalization, self.in_channels)
        return torch.from_numpy(np.ascontiguousarray(x))[None].to(device), tf
