"""Translation test: does the ROI hold more relevance than the same shape placed elsewhere?

For every non-zero whole-pixel translation (dy, dx) that keeps the translated ROI inside the
image (and, with a body mask, wholly inside the body mask), the relevance mass of the
translated ROI is compared with the observed one:

    p = (1 + #{shifts with mass >= observed}) / (1 + #shifts)

Ties: a shift counts as ">= observed" when its mass is at least ``observed - TIE_TOL * total``
(``total`` = sum of P over the image), i.e. relevance masses equal to within 1e-9 count as
equal. This absorbs the rounding of the FFT so that exact ties (e.g. a constant map) are
counted as ties.

All translations at once: the ROI is cropped to its bounding box K; the mass at box position
(u, v) is sum_ij K[i, j] P[u + i, v + j], a cross-correlation computed with one real FFT of K
against the cached FFT of P. Box positions that keep the box inside the image never wrap
around, so an FFT size of (at least) the image size is enough; it is rounded up to a 5-smooth
length. The same code works on a stack of slices (k, H, W): one 2-D translation is applied to
every slice and the masses of the slices are added (volume-level test).
"""

from __future__ import annotations

import numpy as np

TIE_TOL = 1e-9


def next_fast_len(n: int) -> int:
    """Smallest integer >= n whose only prime factors are 2, 3 and 5."""
    best = 1 << max(int(n) - 1, 0).bit_length()
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            m = p35
            while m < n:
                m *= 2
            best = min(best, m)
            p35 *= 3
        p5 *= 5
    return best


class ShiftTest:
    """FFT of P (and of the body mask) cached for repeated translation tests.

    ``relevance`` and ``body`` are (k, H, W) stacks; ``body`` may be None (shifts limited
    only by the image border).
    """

    def __init__(self, relevance: np.ndarray, body: np.ndarray | None = None):
        self.shape = relevance.shape[1:]
        self.fft_shape = tuple(next_fast_len(n) for n in self.shape)
        self.total = float(relevance.sum())
        self._relevance_hat = np.fft.rfft2(relevance, s=self.fft_shape)
        self._body_hat = None if body is None else np.fft.rfft2(body, s=self.fft_shape)

    def __call__(self, roi: np.ndarray, observed: float) -> tuple[float | None, int]:
        """(p-value, number of shifts) for the boolean ROI stack whose mass is ``observed``.

        The p-value is None when no shift is possible (ROI as large as the image, or no
        placement inside the body mask) or when P is zero everywhere.
        """
        rows = np.flatnonzero(roi.any(axis=(0, 2)))
        cols = np.flatnonzero(roi.any(axis=(0, 1)))
        if rows.size == 0:
            return None, 0
        y0, x0 = int(rows[0]), int(cols[0])
        box = roi[:, y0 : rows[-1] + 1, x0 : cols[-1] + 1]
        n_u = self.shape[0] - box.shape[1] + 1
        n_v = self.shape[1] - box.shape[2] + 1
        if n_u * n_v == 1:
            return None, 0
        box_hat_conj = np.conj(np.fft.rfft2(box.astype(np.float64), s=self.fft_shape))
        valid = np.ones((n_u, n_v), dtype=bool)
        if self._body_hat is not None:
            inside = self._correlate(box_hat_conj, self._body_hat, n_u, n_v)
            valid &= inside > np.count_nonzero(box) - 0.5
        valid[y0, x0] = False
        n_shifts = int(np.count_nonzero(valid))
        if n_shifts == 0 or self.total <= 0.0:
            return None, n_shifts
        mass = self._correlate(box_hat_conj, self._relevance_hat, n_u, n_v)[valid]
        at_least = int(np.count_nonzero(mass >= observed - TIE_TOL * self.total))
        return (1 + at_least) / (1 + n_shifts), n_shifts

    def _correlate(self, box_hat_conj: np.ndarray, other_hat: np.ndarray, n_u: int, n_v: int):
        spectrum = np.einsum("kij,kij->ij", box_hat_conj, other_hat)
        return np.fft.irfft2(spectrum, s=self.fft_shape)[:n_u, :n_v]
