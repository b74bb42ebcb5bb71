"""The geometric link between a slice's (or volume's) grid and a model's input grid.

Convention (continuous pixel coordinates, pixel centres at integer indices, the same as
``F.interpolate(..., align_corners=False)``): the slice (H, W) with pixel spacing
(sy, sx) mm is shown on the model input (h_in, w_in) with square pixels of
``p = max(H*sy/h_in, W*sx/w_in)`` mm, centred, the rest padded. Along each axis an image
coordinate Y maps to the input coordinate ``i = (Y + 0.5) * r + off - 0.5`` with
``r = s / p`` and ``off = (n_in - n_img * r) / 2``. A layer grid of n cells spans the
input grid evenly: input coordinate i is layer coordinate ``u = (i + 0.5) * n / n_in - 0.5``.

:class:`VolumeTransform` applies the same rule to 3-D inputs: in-plane as above, and along
z the slab fills the input depth (no padding). Everything here is numpy only, so
transforms travel with pickled explanations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def _axis_weights(src: np.ndarray, n_src: int) -> np.ndarray:
    """(len(src), n_src) linear-interpolation weights sampling a grid of ``n_src`` cells at
    fractional coordinates ``src`` (clamped to the edge cells, like
    ``F.interpolate(..., align_corners=False)``)."""
    src = np.clip(np.asarray(src, dtype=np.float64), 0.0, n_src - 1.0)
    i0 = np.floor(src).astype(int)
    i1 = np.minimum(i0 + 1, n_src - 1)
    frac = src - i0
    w = np.zeros((src.size, n_src))
    rows = np.arange(src.size)
    np.add.at(w, (rows, i0), 1.0 - frac)
    np.add.at(w, (rows, i1), frac)
    return w


def _hat_integral(t: np.ndarray) -> np.ndarray:
    """Antiderivative of the unit hat function max(0, 1 - |t|)."""
    t = np.clip(t, -1.0, 1.0)
    return np.where(t < 0, 0.5 * (t + 1.0) ** 2, 1.0 - 0.5 * (1.0 - t) ** 2)


def _axis_box_weights(src: np.ndarray, n_src: int, width: float) -> np.ndarray:
    """Weights of the mean, over [src - width/2, src + width/2], of the linear interpolant
    of a grid of ``n_src`` cells (extended by its edge values): an anti-aliasing filter for
    shrinking that, unlike a sampled triangle, reproduces linear ramps exactly."""
    src = np.asarray(src, dtype=np.float64)
    a, b = src - width / 2.0, src + width / 2.0
    lo, hi = np.clip(a, 0.0, n_src - 1.0), np.clip(b, 0.0, n_src - 1.0)
    grid = np.arange(n_src, dtype=np.float64)
    w = _hat_integral(hi[:, None] - grid[None]) - _hat_integral(lo[:, None] - grid[None])
    w[:, 0] += np.clip(np.minimum(b, 0.0) - a, 0.0, None)
    w[:, -1] += np.clip(b - np.maximum(a, n_src - 1.0), 0.0, None)
    return w / width


def _axis_nearest(src: np.ndarray, n_src: int) -> np.ndarray:
    return np.clip(np.floor(np.asarray(src) + 0.5), 0, n_src - 1).astype(int)


@dataclass(frozen=True)
class SliceTransform:
    """How one slice was placed on a model's input grid (see the module docstring)."""

    image_shape: tuple[int, int]
    input_size: tuple[int, int]
    pixel_spacing: tuple[float, float]
    scale: tuple[float, float]
    offset: tuple[float, float]

    @classmethod
    def fit(cls, image_shape: tuple[int, int], input_size: tuple[int, int],
            pixel_spacing: tuple[float, float] = (1.0, 1.0)) -> SliceTransform:
        """The aspect-preserving, centred placement of ``image_shape`` on ``input_size``."""
        (H, W), (h, w) = image_shape, input_size
        sy, sx = (float(s) for s in pixel_spacing)
        if sy <= 0 or sx <= 0:
            raise ValueError(f"pixel spacing must be positive, got {pixel_spacing}")
        p = max(H * sy / h, W * sx / w)
        ry, rx = sy / p, sx / p
        return cls((int(H), int(W)), (int(h), int(w)), (sy, sx), (ry, rx),
                   ((h - H * ry) / 2.0, (w - W * rx) / 2.0))

    @property
    def is_identity(self) -> bool:
        """True when the slice is the model input as is (same size, square pixels)."""
        return (self.image_shape == self.input_size and self.scale == (1.0, 1.0)
                and self.offset == (0.0, 0.0))

    # --- image -> input ---------------------------------------------------------------
    def _input_to_image(self, axis: int) -> np.ndarray:
        i = np.arange(self.input_size[axis], dtype=np.float64)
        return (i + 0.5 - self.offset[axis]) / self.scale[axis] - 0.5

    def to_input_grid(self, image: np.ndarray, pad_value: float = 0.0) -> np.ndarray:
        """Resample a (H, W) image onto the (h_in, w_in) input grid, ``pad_value`` outside
        the image. Enlarging axes use linear interpolation; shrinking axes average the
        linear interpolant over each input pixel's footprint (anti-aliased, and exact for
        linear ramps)."""
        image = np.asarray(image, dtype=np.float64)
        if image.shape != self.image_shape:
            raise ValueError(f"image shape {image.shape} != transform's {self.image_shape}")
        if self.is_identity:
            return image.copy()
        mats, inside = [], []
        for axis in (0, 1):
            src = self._input_to_image(axis)
            n = self.image_shape[axis]
            r = self.scale[axis]
            mats.append(_axis_weights(src, n) if r >= 1.0 else _axis_box_weights(src, n, 1 / r))
            inside.append((src >= -0.5) & (src <= n - 0.5))
        out = mats[0] @ image @ mats[1].T
        mask = np.outer(inside[0], inside[1])
        out[~mask] = pad_value
        return out

    def content_mask(self) -> np.ndarray:
        """Boolean (h_in, w_in): input pixels whose centre lies on the slice (not padding)."""
        inside = []
        for axis in (0, 1):
            src = self._input_to_image(axis)
            inside.append((src >= -0.5) & (src <= self.image_shape[axis] - 0.5))
        return np.outer(inside[0], inside[1])

    # --- map -> image -----------------------------------------------------------------
    def image_to_map_coords(self, axis: int, n_map: int) -> np.ndarray:
        """Fractional coordinates, on a map of ``n_map`` cells spanning the input grid, of
        the slice's pixel centres along ``axis`` (0 = rows, 1 = columns)."""
        Y = np.arange(self.image_shape[axis], dtype=np.float64)
        i = (Y + 0.5) * self.scale[axis] + self.offset[axis] - 0.5
        return (i + 0.5) * n_map / self.input_size[axis] - 0.5

    def to_image_grid(self, map2d: np.ndarray, mode: str = "bilinear") -> np.ndarray:
        """Map a (h, w) map of the input grid or of any layer's grid onto the slice's (H, W)
        pixel grid: ``bilinear`` (edge-clamped, like ``align_corners=False``) or
        ``nearest`` (the cell whose area holds the pixel centre). Returns float32."""
        m = np.asarray(map2d, dtype=np.float64)
        if m.ndim != 2:
            raise ValueError(f"expected a 2-D map, got shape {m.shape}")
        ys = self.image_to_map_coords(0, m.shape[0])
        xs = self.image_to_map_coords(1, m.shape[1])
        if mode == "nearest":
            out = m[np.ix_(_axis_nearest(ys, m.shape[0]), _axis_nearest(xs, m.shape[1]))]
        elif mode == "bilinear":
            out = _axis_weights(ys, m.shape[0]) @ m @ _axis_weights(xs, m.shape[1]).T
        else:
            raise ValueError(f"mode must be 'bilinear' or 'nearest', not {mode!r}")
        return out.astype(np.float32)


def _apply_axes(arr: np.ndarray, mats: list[np.ndarray]) -> np.ndarray:
    """Apply one (n_out, n_in) matrix along each axis of ``arr`` (separable resampling)."""
    out = arr
    for axis, m in enumerate(mats):
        out = np.moveaxis(np.tensordot(m, out, axes=([1], [axis])), 0, axis)
    return out


@dataclass(frozen=True)
class VolumeTransform:
    """How a volume (D, H, W) was placed on a 3-D model input (d, h, w).

    In-plane the rule of :class:`SliceTransform` holds (square input pixels of
    ``p = max(H*sy/h, W*sx/w)`` mm, centred, padded); along z the slab fills the input
    depth (``r_z = d / D``, no padding), so a volume of the input size with square in-plane
    pixels is not resampled whatever its slice thickness. Per axis, image coordinate Y sits
    at input coordinate ``i = (Y + 0.5)*r + off - 0.5`` and a layer grid of n cells spans
    the input evenly, exactly as in 2-D.
    """

    image_shape: tuple[int, int, int]
    input_size: tuple[int, int, int]
    spacing: tuple[float, float, float]
    scale: tuple[float, float, float]
    offset: tuple[float, float, float]

    @classmethod
    def fit(cls, image_shape: tuple[int, int, int], input_size: tuple[int, int, int],
            spacing: tuple[float, float, float] = (1.0, 1.0, 1.0)) -> VolumeTransform:
        """Slab fitted to the depth, in-plane aspect kept and centred (see the class)."""
        (D, H, W), (d, h, w) = (tuple(int(v) for v in image_shape),
                                tuple(int(v) for v in input_size))
        sz, sy, sx = (float(s) for s in spacing)
        if min(sz, sy, sx) <= 0:
            raise ValueError(f"voxel spacing must be positive, got {spacing}")
        plane = SliceTransform.fit((H, W), (h, w), (sy, sx))
        return cls((D, H, W), (d, h, w), (sz, sy, sx), (d / D, *plane.scale),
                   (0.0, *plane.offset))

    @property
    def is_identity(self) -> bool:
        """True when the volume is the model input as is (same size, square pixels)."""
        return (self.image_shape == self.input_size and self.scale == (1.0, 1.0, 1.0)
                and self.offset == (0.0, 0.0, 0.0))

    def _input_to_image(self, axis: int) -> np.ndarray:
        i = np.arange(self.input_size[axis], dtype=np.float64)
        return (i + 0.5 - self.offset[axis]) / self.scale[axis] - 0.5

    def _inside(self, axis: int) -> np.ndarray:
        src = self._input_to_image(axis)
        return (src >= -0.5) & (src <= self.image_shape[axis] - 0.5)

    def to_input_grid(self, volume: np.ndarray, pad_value: float = 0.0) -> np.ndarray:
        """Resample a (D, H, W) volume onto the (d, h, w) input grid, ``pad_value`` outside;
        per axis the filters of :meth:`SliceTransform.to_input_grid`."""
        vol = np.asarray(volume, dtype=np.float64)
        if vol.shape != self.image_shape:
            raise ValueError(f"volume shape {vol.shape} != transform's {self.image_shape}")
        if self.is_identity:
            return vol.copy()
        mats = []
        for axis in range(3):
            src, n, r = self._input_to_image(axis), self.image_shape[axis], self.scale[axis]
            mats.append(_axis_weights(src, n) if r >= 1.0 else _axis_box_weights(src, n, 1 / r))
        out = _apply_axes(vol, mats)
        mask = self.content_mask()
        out[~mask] = pad_value
        return out

    def content_mask(self) -> np.ndarray:
        """Boolean (d, h, w): input voxels whose centre lies in the volume (not padding)."""
        z, y, x = (self._inside(a) for a in range(3))
        return z[:, None, None] & y[None, :, None] & x[None, None, :]

    def image_to_map_coords(self, axis: int, n_map: int) -> np.ndarray:
        """Fractional coordinates, on a map of ``n_map`` cells spanning the input grid, of
        the volume's voxel centres along ``axis`` (0 = z, 1 = rows, 2 = columns)."""
        Y = np.arange(self.image_shape[axis], dtype=np.float64)
        i = (Y + 0.5) * self.scale[axis] + self.offset[axis] - 0.5
        return (i + 0.5) * n_map / self.input_size[axis] - 0.5

    def to_image_grid(self, map3d: np.ndarray, mode: str = "bilinear",
                      z: int | None = None) -> np.ndarray:
        """Map a (d', h', w') map of the input or of any layer's grid onto the volume's
        (D, H, W) grid -- or only onto slice ``z`` (H, W), the same values as that slice of
        the whole: ``bilinear`` (trilinear, edge-clamped, like ``align_corners=False``) or
        ``nearest`` (the cell that holds the voxel centre). Returns float32."""
        m = np.asarray(map3d, dtype=np.float64)
        if m.ndim != 3:
            raise ValueError(f"expected a 3-D map, got shape {m.shape}")
        coords = [self.image_to_map_coords(a, m.shape[a]) for a in range(3)]
        if z is not None:
            if not 0 <= z < self.image_shape[0]:
                raise ValueError(f"slice {z} is outside 0..{self.image_shape[0] - 1}")
            coords[0] = coords[0][[z]]
        if mode == "nearest":
            idx = [_axis_nearest(c, n) for c, n in zip(coords, m.shape)]
            out = m[np.ix_(*idx)]
        elif mode == "bilinear":
            out = _apply_axes(m, [_axis_weights(c, n) for c, n in zip(coords, m.shape)])
        else:
            raise ValueError(f"mode must be 'bilinear' or 'nearest', not {mode!r}")
        return (out[0] if z is not None else out).astype(np.float32)


def fit_transform(image_shape: tuple[int, ...], input_size: tuple[int, ...],
                  spacing: tuple[float, ...]) -> SliceTransform | VolumeTransform:
    """:class:`SliceTransform` for a 2-D input size, :class:`VolumeTransform` for 3-D."""
    if len(input_size) == 3:
        return VolumeTransform.fit(image_shape, input_size, spacing)  # type: ignore[arg-type]
    return SliceTransform.fit(image_shape, input_size, spacing)  # type: ignore[arg-type]
