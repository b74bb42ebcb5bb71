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


def _stats(ref: torch.Tensor, norm: Mapping[str, Any]) -> tuple[float, float]:
    """(shift, divisor) of a per-slice mode, from the slice's own finite pixels."""
    mode = norm["mode"]
    if ref.numel() == 0:
        return 0.0, 1.0
    if mode == "zscore":
        sd, mu = torch.std_mean(ref, correction=0)
        return float(mu), (float(sd) if float(sd) > 0 else 1.0)
    if mode == "minmax":
        lo, hi = float(ref.min()), float(ref.max())
    else:  # percentile
        lo, hi = (float(v) for v in np.percentile(ref.numpy(), [norm["low"], norm["high"]]))
    return lo, (hi - lo if hi > lo else 1.0)


def _normalize(x: np.ndarray, stats_from: np.ndarray, norm: Mapping[str, Any],
               in_channels: int) -> torch.Tensor:
    """(in_channels, h, w) float32 tensor: the 2-D ``x`` normalised per the card."""
    t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    if norm["mode"] == "fixed":
        mean = np.resize(np.asarray(norm["mean"], dtype=np.float64), in_channels)
        std = np.resize(np.asarray(norm["std"], dtype=np.float64), in_channels)
        if (mean == mean[0]).all() and (std == std[0]).all():
            return ((t - float(mean[0])) / float(std[0]))[None].repeat(in_channels, 1, 1)
        return torch.stack([(t - float(m)) / float(s) for m, s in zip(mean, std)])
    ref = torch.from_numpy(np.ascontiguousarray(stats_from, dtype=np.float32)).reshape(-1)
    shift, div = _stats(ref, norm)
    if norm["mode"] == "percentile":
        t = t.clamp(shift, shift + div)
    return ((t - shift) / div)[None].repeat(in_channels, 1, 1)


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
        img = np.asarray(slice2d)
        if img.ndim != 2:
            raise ValueError(f"expected a 2-D slice, got shape {img.shape}")
        if img.dtype not in (np.float32, np.float64):
            img = img.astype(np.float32)
        tf = self.transform_for(img.shape, pixel_spacing)
        finite = np.isfinite(img)
        all_finite = bool(finite.all())
        ref = img if all_finite else img[finite]
        pad = float(ref.min()) if ref.size else 0.0
        if not all_finite:
            img = np.where(finite, img, pad)
        placed = img if tf.is_identity else tf.to_input_grid(img, pad_value=pad)
        x = _normalize(placed, ref, self.normalization, self.in_channels)
        return x[None].to(device), tf
