"""Card-driven preprocessing: a slice or a volume in physical units -> the model's input.

Steps: (1) place each channel image on the input grid with :class:`SliceTransform` (2-D
``input_size``) or :class:`VolumeTransform` (3-D): aspect ratio and anisotropic pixels kept,
centred, padded with the image minimum; no resampling when the image already has the input
size and square (in-plane) pixels; (2) intensity normalisation from the card, with
statistics taken from each channel image's own pixels (never the padding); (3) one image is
replicated to ``in_channels``; several images (one per input series, already on one grid)
become the channels in order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from coloc_viewer.errors import InputError
from coloc_viewer.model.transform import SliceTransform, VolumeTransform, fit_transform

Transform = SliceTransform | VolumeTransform


def _stats(ref: torch.Tensor, norm: Mapping[str, Any]) -> tuple[float, float]:
    """(shift, divisor) of a per-image mode, from the image's own finite pixels."""
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
               in_channels: int, channel: int | None = None) -> torch.Tensor:
    """(in_channels, ...) float32 tensor of ``x`` normalised per the card; with ``channel``
    the single channel (1, ...) of that index (its own fixed mean/std)."""
    t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    n_out = in_channels if channel is None else 1
    reps = (n_out,) + (1,) * t.ndim
    if norm["mode"] == "fixed":
        mean = np.resize(np.asarray(norm["mean"], dtype=np.float64), in_channels)
        std = np.resize(np.asarray(norm["std"], dtype=np.float64), in_channels)
        if channel is not None:
            return ((t - float(mean[channel])) / float(std[channel]))[None]
        if (mean == mean[0]).all() and (std == std[0]).all():
            return ((t - float(mean[0])) / float(std[0]))[None].repeat(*reps)
        return torch.stack([(t - float(m)) / float(s) for m, s in zip(mean, std)])
    ref = torch.from_numpy(np.ascontiguousarray(stats_from, dtype=np.float32)).reshape(-1)
    shift, div = _stats(ref, norm)
    if norm["mode"] == "percentile":
        t = t.clamp(shift, shift + div)
    return ((t - shift) / div)[None].repeat(*reps)


class Preprocessor:
    """Callable ``(image or [images], spacing) -> (input tensor (1, C, *input_size),
    transform)``. ``input_size`` [h, w] takes 2-D slices; [d, h, w] takes (z, y, x) volumes.
    """

    def __init__(self, in_channels: int, input_size: Sequence[int],
                 normalization: Mapping[str, Any]):
        self.in_channels = int(in_channels)
        self.input_size = tuple(int(v) for v in input_size)
        if len(self.input_size) not in (2, 3):
            raise ValueError(f"input_size must be [h, w] or [d, h, w], got {input_size}")
        self.normalization = dict(normalization)

    @property
    def spatial_dims(self) -> int:
        return len(self.input_size)

    def transform_for(self, image_shape: tuple[int, ...],
                      pixel_spacing: Sequence[float] | None = None) -> Transform:
        nd = self.spatial_dims
        spacing = (1.0,) * nd if pixel_spacing is None else tuple(float(s) for s in
                                                                   pixel_spacing)
        return fit_transform(tuple(image_shape), self.input_size, spacing[-nd:])

    def _channel(self, img: np.ndarray, tf: Transform, index: int | None) -> torch.Tensor:
        if img.dtype not in (np.float32, np.float64):
            img = img.astype(np.float32)
        finite = np.isfinite(img)
        all_finite = bool(finite.all())
        ref = img if all_finite else img[finite]
        pad = float(ref.min()) if ref.size else 0.0
        if not all_finite:
            img = np.where(finite, img, pad)
        placed = img if tf.is_identity else tf.to_input_grid(img, pad_value=pad)
        return _normalize(placed, ref, self.normalization, self.in_channels, index)

    def __call__(self, image: np.ndarray | Sequence[np.ndarray],
                 pixel_spacing: Sequence[float] | None = None,
                 device: torch.device | str = "cpu") -> tuple[torch.Tensor, Transform]:
        """One image (replicated to ``in_channels``) or a list/tuple of ``in_channels``
        images of one shape (one per input series). ``pixel_spacing``: (sy, sx) for 2-D,
        (sz, sy, sx) for 3-D, default 1 mm."""
        nd = self.spatial_dims
        many = isinstance(image, list | tuple)
        imgs = [np.asarray(i) for i in (image if many else [image])]
        kind = "slice" if nd == 2 else "volume"
        for img in imgs:
            if img.ndim != nd:
                raise InputError(f"this model takes a {nd}-D {kind}; got an array of shape "
                                 f"{img.shape}")
        if many and len(imgs) != self.in_channels:
            raise InputError(f"this model takes {self.in_channels} input channels; got "
                             f"{len(imgs)} series")
        if any(i.shape != imgs[0].shape for i in imgs):
            raise InputError("the input series are not on one grid: shapes "
                             + ", ".join(str(i.shape) for i in imgs))
        tf = self.transform_for(imgs[0].shape, pixel_spacing)
        if many:
            x = torch.cat([self._channel(img, tf, k) for k, img in enumerate(imgs)])
        else:
            x = self._channel(imgs[0], tf, None)
        return x[None].to(device), tf
