"""Paint soft-edged shapes on one slice: analytic partial-volume edges at native resolution.

Shapes are given in *anatomy* coordinates (mm, x towards the patient's left, y towards
posterior) and placed on the image by a similarity transform (rotation, scale, shift). A
pixel's coverage is ``clip(0.5 - d / pixel, 0, 1)`` with ``d`` the radial signed distance to
the boundary, which reproduces the partial-volume blur of a pixel straddling an edge.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

Wobble = Sequence[tuple[int, float, float]]  # (harmonic k, relative amplitude, phase)


class SlicePainter:
    """A float32 image of ``size`` x ``size`` pixels and the anatomy -> pixel transform."""

    def __init__(self, size: int, pixel_mm: float, angle_rad: float, scale: float,
                 shift_mm: tuple[float, float], background: float = 0.0) -> None:
        self.size = size
        self.pixel_mm = pixel_mm
        self.scale = scale
        self.shift = np.asarray(shift_mm, dtype=float)
        self.cos, self.sin = float(np.cos(angle_rad)), float(np.sin(angle_rad))
        self.image = np.full((size, size), background, dtype=np.float32)
        centre = (size - 1) / 2.0
        self._u = (np.arange(size) - centre) * pixel_mm  # image mm of columns
        self._v = (np.arange(size) - centre) * pixel_mm  # image mm of rows
        self.pixel_anat = pixel_mm / scale  # one pixel in anatomy mm

    def to_pixel(self, x: float, y: float) -> tuple[float, float]:
        """(row, col) of anatomy point (x, y)."""
        xs, ys = self.scale * x, self.scale * y
        u = self.cos * xs - self.sin * ys + self.shift[0]
        v = self.sin * xs + self.cos * ys + self.shift[1]
        centre = (self.size - 1) / 2.0
        return v / self.pixel_mm + centre, u / self.pixel_mm + centre

    def _window(self, x: float, y: float, radius: float) -> tuple[slice, slice] | None:
        row, col = self.to_pixel(x, y)
        r = radius * self.scale / self.pixel_mm + 2
        r0, r1 = max(int(row - r), 0), min(int(row + r) + 2, self.size)
        c0, c1 = max(int(col - r), 0), min(int(col + r) + 2, self.size)
        if r0 >= r1 or c0 >= c1:
            return None
        return slice(r0, r1), slice(c0, c1)

    def _anatomy_grid(self, win: tuple[slice, slice]) -> tuple[np.ndarray, np.ndarray]:
        u = self._u[win[1]][np.newaxis, :] - self.shift[0]
        v = self._v[win[0]][:, np.newaxis] - self.shift[1]
        x = (self.cos * u + self.sin * v) / self.scale
        y = (-self.sin * u + self.cos * v) / self.scale
        return x, y

    def ellipse(self, cx: float, cy: float, a: float, b: float, angle_deg: float = 0.0,
                wobble: Wobble = ()) -> tuple[tuple[slice, slice], np.ndarray] | None:
        """Coverage (0..1) of an ellipse with semi-axes ``a``, ``b`` (mm), rotated by
        ``angle_deg``, its radius modulated by ``1 + sum(amp * cos(k * phi + phase))``.

        Returns the pixel window and the coverage inside it, or None when off-image.
        """
        if a <= 0 or b <= 0:
            return None
        reach = max(a, b) * (1 + sum(abs(w[1]) for w in wobble))
        win = self._window(cx, cy, reach)
        if win is None:
            return None
        x, y = self._anatomy_grid(win)
        t = np.deg2rad(angle_deg)
        p = (x - cx) * np.cos(t) + (y - cy) * np.sin(t)
        q = -(x - cx) * np.sin(t) + (y - cy) * np.cos(t)
        r = np.hypot(p, q)
        phi = np.arctan2(q, p)
        boundary = a * b / np.sqrt((b * np.cos(phi)) ** 2 + (a * np.sin(phi)) ** 2)
        if wobble:
            boundary = boundary * (1 + sum(amp * np.cos(k * phi + ph) for k, amp, ph in wobble))
        cov = np.clip(0.5 - (r - boundary) / self.pixel_anat, 0.0, 1.0).astype(np.float32)
        if not cov.any():
            return None
        return win, cov

    def paint(self, shape: tuple[tuple[slice, slice], np.ndarray] | None,
              value: float | np.ndarray, clip: np.ndarray | None = None) -> np.ndarray | None:
        """Blend ``value`` (a number, or a full-image array) into the image with the shape's
        coverage (times ``clip``, a full-image coverage, when given).

        Returns the full-image coverage that was used (None if nothing was painted).
        """
        if shape is None:
            return None
        win, cov = shape
        if clip is not None:
            cov = cov * clip[win]
        val = value[win] if isinstance(value, np.ndarray) else np.float32(value)
        region = self.image[win]
        region += cov * (val - region)
        full = np.zeros_like(self.image)
        full[win] = cov
        return full

    def ring(self, cx: float, cy: float, a: float, b: float, wall: float, wall_value: float,
             inner_value: float | np.ndarray, angle_deg: float = 0.0,
             wobble: Wobble = ()) -> np.ndarray | None:
        """An ellipse with a wall of thickness ``wall`` mm: outer painted ``wall_value``,
        inner ellipse ``inner_value``. Returns the outer coverage."""
        outer = self.paint(self.ellipse(cx, cy, a, b, angle_deg, wobble), wall_value)
        self.paint(self.ellipse(cx, cy, a - wall, b - wall, angle_deg, wobble), inner_value)
        return outer


def smooth_noise(rng: np.random.Generator, size: int, sigma_px: float) -> np.ndarray:
    """A ``size`` x ``size`` Gaussian random field with correlation length ``sigma_px`` pixels,
    zero mean and unit standard deviation (white noise filtered in the Fourier domain)."""
    white = rng.standard_normal((size, size))
    f = np.fft.rfftfreq(size)[np.newaxis, :]
    g = np.fft.fftfreq(size)[:, np.newaxis]
    kernel = np.exp(-2 * (np.pi * sigma_px) ** 2 * (f**2 + g**2))
    field = np.fft.irfft2(np.fft.rfft2(white) * kernel, s=(size, size))
    std = field.std()
    return (field / std if std > 0 else field).astype(np.float32)
