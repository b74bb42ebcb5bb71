"""Report figures as PNG bytes (matplotlib, Agg canvas: no GUI toolkit involved)."""

from __future__ import annotations

import io
from collections.abc import Sequence

import matplotlib
import numpy as np
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from coloc_viewer.report.overlay import overlay_alpha

MAP_CMAP = "inferno"
ROI_COLOUR = "#00e5ff"


def _window(image: np.ndarray, window: tuple[float, float] | None) -> tuple[float, float]:
    if window is not None and window[1] > 0:
        return window[0] - window[1] / 2.0, window[0] + window[1] / 2.0
    lo, hi = np.percentile(image, [1.0, 99.0]) if image.size else (0.0, 1.0)
    return float(lo), float(max(hi, lo + 1e-6))


def _png(fig: Figure, dpi: int) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def _draw_slice(ax, image, roi, window, aspect) -> None:
    lo, hi = _window(image, window)
    ax.imshow(image, cmap="gray", vmin=lo, vmax=hi, interpolation="nearest", aspect=aspect)
    if roi.any():
        ax.contour(roi.astype(np.float32), levels=[0.5], colors=ROI_COLOUR, linewidths=1.2)
    ax.set_xticks([])
    ax.set_yticks([])


def slice_figure(image: np.ndarray, roi: np.ndarray, *, window: tuple[float, float] | None = None,
                 aspect: float = 1.0, title: str = "", dpi: int = 100) -> bytes:
    """The slice in grey (window = (center, width)) with the ROI outline, as PNG bytes."""
    fig = Figure(figsize=(4.2, 4.4))
    ax = fig.add_axes((0.02, 0.02, 0.96, 0.88))
    _draw_slice(ax, image, roi, window, aspect)
    ax.set_title(title, fontsize=9)
    return _png(fig, dpi)


def overlay_figure(image: np.ndarray, roi: np.ndarray, saliency: np.ndarray,
                   display_range: tuple[float, float], *,
                   window: tuple[float, float] | None = None, aspect: float = 1.0,
                   title: str = "", legend: Sequence[str] = (), opacity: float = 0.5,
                   dpi: int = 100) -> bytes:
    """Slice + map overlay (``display_range`` raw values -> colour bar ends) + ROI outline,
    with a colour bar labelled in raw map values and the legend lines below."""
    fig = Figure(figsize=(4.8, 4.4 + 0.17 * len(legend)))
    bottom = 0.02 + 0.17 * len(legend) / fig.get_figheight()
    ax = fig.add_axes((0.02, bottom, 0.78, 0.9 - bottom))
    cax = fig.add_axes((0.84, bottom + 0.05, 0.04, 0.9 - bottom - 0.1))
    _draw_slice(ax, image, np.zeros_like(roi), window, aspect)
    low, high = display_range
    if not high > low:
        high = low + 1e-6
    norm = Normalize(vmin=low, vmax=high, clip=True)
    scaled = np.asarray(norm(np.asarray(saliency, dtype=np.float64)).filled(0.0))
    rgba = matplotlib.colormaps[MAP_CMAP](scaled)
    rgba[..., 3] = overlay_alpha(scaled, opacity)  # quiet areas transparent, as in the viewer
    ax.imshow(rgba, interpolation="nearest", aspect=aspect)
    shown = ScalarMappable(norm=norm, cmap=MAP_CMAP)
    if roi.any():
        ax.contour(roi.astype(np.float32), levels=[0.5], colors=ROI_COLOUR, linewidths=1.2)
    fig.colorbar(shown, cax=cax).set_label("raw map value", fontsize=8)
    cax.tick_params(labelsize=7)
    ax.set_title(title, fontsize=9)
    for i, line in enumerate(legend):
        fig.text(0.02, bottom - 0.02 - i * 0.17 / fig.get_figheight() * 1.0, line, fontsize=8,
                 va="top", family="monospace")
    return _png(fig, dpi)
