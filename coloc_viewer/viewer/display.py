"""Qt-free display rules: windowing, colour maps, ROI fills/outlines, orientation labels.

Everything here maps numpy arrays to numpy arrays so the rendering rules can be tested
without a screen; the Qt widgets only hand the results to pyqtgraph.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from coloc_viewer.imaging.display import robust_window as imaging_robust_window
from coloc_viewer.report.overlay import overlay_alpha

# OHIF's CT presets (centre, width), keys 1-5; MR studies use percentile-based presets.
CT_PRESETS: tuple[tuple[str, float, float], ...] = (
    ("Soft tissue", 40.0, 400.0),
    ("Lung", -600.0, 1500.0),
    ("Liver", 90.0, 150.0),
    ("Bone", 480.0, 2500.0),
    ("Brain", 40.0, 80.0),
)
MR_PRESET_PERCENTILES: tuple[tuple[str, float, float], ...] = (
    ("Default (1-99 %)", 1.0, 99.0),
    ("Full range", 0.0, 100.0),
    ("Bright (50-99.9 %)", 50.0, 99.9),
    ("Dark (0-80 %)", 0.0, 80.0),
    ("Soft (5-95 %)", 5.0, 95.0),
)


@dataclass(frozen=True)
class WindowLevel:
    """A display window: ``center`` and ``width`` in the volume's physical units."""

    center: float
    width: float

    @property
    def low(self) -> float:
        return self.center - self.width / 2.0

    @property
    def high(self) -> float:
        return self.center + self.width / 2.0

    @classmethod
    def from_range(cls, low: float, high: float) -> WindowLevel:
        width = max(float(high) - float(low), 1e-6)
        return cls(center=(float(high) + float(low)) / 2.0, width=width)


def robust_window(voxels: np.ndarray, low_pct: float = 1.0, high_pct: float = 99.0) -> WindowLevel:
    """The 1-99 % window of :func:`coloc_viewer.imaging.display.robust_window` (the one
    initial-window rule of every view)."""
    centre, width = imaging_robust_window(voxels, low_pct, high_pct)
    return WindowLevel(centre, width if width > 1e-6 else 1.0)


def sample_voxels(voxels: np.ndarray, limit: int = 200_000) -> np.ndarray:
    """A deterministic strided sample of at most about ``limit`` finite voxels."""
    flat = np.asarray(voxels).reshape(-1)
    if flat.size > limit:
        flat = flat[:: int(np.ceil(flat.size / limit))]
    return flat[np.isfinite(flat)]


def presets_for(modality: str | None, voxels: np.ndarray) -> list[tuple[str, WindowLevel]]:
    """The five W/L presets for keys 1-5: OHIF's CT presets, percentile windows otherwise
    (from one sort of a voxel sample, so a 200-slice series costs milliseconds)."""
    if (modality or "").upper() == "CT":
        return [(name, WindowLevel(c, w)) for name, c, w in CT_PRESETS]
    sample = sample_voxels(voxels)
    if sample.size == 0:
        return [(name, WindowLevel(0.0, 1.0)) for name, _, _ in MR_PRESET_PERCENTILES]
    qs = sorted({q for _, lo, hi in MR_PRESET_PERCENTILES for q in (lo, hi)})
    values = dict(zip(qs, np.percentile(sample, qs), strict=True))
    out = []
    for name, lo, hi in MR_PRESET_PERCENTILES:
        low, high = float(values[lo]), float(values[hi])
        out.append((name, WindowLevel.from_range(low, high if high > low else low + 1.0)))
    return out


def apply_window(image: np.ndarray, window: WindowLevel, *, invert: bool = False) -> np.ndarray:
    """Map physical values to uint8 grey levels through a linear window (MONOCHROME1: invert)."""
    scaled = (np.asarray(image, dtype=np.float32) - window.low) * (255.0 / window.width)
    out = np.clip(scaled, 0.0, 255.0).astype(np.uint8)
    return 255 - out if invert else out


# Anchors of matplotlib's perceptually uniform "inferno" map at 0, 1/8, ..., 1 (black ->
# purple -> orange -> pale yellow): readable on dark images and in grey-scale print.
_INFERNO_ANCHORS = np.array([
    (0, 0, 4), (31, 12, 72), (85, 15, 109), (136, 34, 106), (186, 54, 85),
    (227, 89, 51), (249, 140, 10), (249, 201, 50), (252, 255, 164)], dtype=float)


def _colormap_table() -> np.ndarray:
    """256 x 3 uint8 table interpolated between the anchors (no matplotlib import)."""
    x = np.linspace(0.0, 1.0, len(_INFERNO_ANCHORS))
    t = np.linspace(0.0, 1.0, 256)
    table = np.stack([np.interp(t, x, _INFERNO_ANCHORS[:, c]) for c in range(3)], axis=1)
    return np.round(table).astype(np.uint8)


_LUT: np.ndarray | None = None


def colormap_lut() -> np.ndarray:
    """The overlay colour table (256 x 3 uint8)."""
    global _LUT
    if _LUT is None:
        _LUT = _colormap_table()
    return _LUT


def normalise_map(saliency: np.ndarray, low: float | None = None,
                  high: float | None = None) -> tuple[np.ndarray, float, float]:
    """Scale a raw map to [0, 1] between ``low`` and ``high`` (per image: its min and max).

    Returns the scaled map and the raw (low, high) range actually used (for the colour bar).
    """
    raw = np.asarray(saliency, dtype=np.float32)
    lo = float(np.nanmin(raw)) if low is None else float(low)
    hi = float(np.nanmax(raw)) if high is None else float(high)
    span = hi - lo if hi > lo else 1.0
    return np.clip((raw - lo) / span, 0.0, 1.0), lo, hi


def overlay_lut(opacity: float) -> np.ndarray:
    """256 x 4 RGBA table: the colour map; alpha is 0 for the lowest 15 % (the anatomy stays
    clean where the map is quiet) and rises to full ``opacity`` at 65 % of the scale."""
    lut = np.empty((256, 4), dtype=np.uint8)
    lut[:, :3] = colormap_lut()
    lut[:, 3] = (overlay_alpha(np.arange(256) / 255.0, 1.0) * (255.0 * float(opacity))
                 ).astype(np.uint8)
    return lut


def overlay_rgba(scaled: np.ndarray, opacity: float) -> np.ndarray:
    """RGBA (h, w, 4) uint8 of a [0, 1] map: colour from the LUT, alpha grows with the value
    (one table lookup per pixel)."""
    idx = (np.clip(np.asarray(scaled, dtype=np.float32), 0.0, 1.0) * 255.0).astype(np.uint8)
    return overlay_lut(opacity)[idx]


def mask_outline(mask: np.ndarray) -> np.ndarray:
    """Pixels of ``mask`` with at least one 4-neighbour outside it (the drawn outline)."""
    m = np.asarray(mask, dtype=bool)
    inner = m.copy()
    inner[1:, :] &= m[:-1, :]
    inner[:-1, :] &= m[1:, :]
    inner[:, 1:] &= m[:, :-1]
    inner[:, :-1] &= m[:, 1:]
    inner[0, :] = inner[-1, :] = False
    inner[:, 0] = inner[:, -1] = False
    return m & ~inner


def rois_rgba(masks: list[tuple[np.ndarray, tuple[int, int, int]]], *, fill_alpha: float = 0.3,
              outline: bool = True) -> np.ndarray | None:
    """Composite visible ROI slices: translucent fills, then opaque outlines over every fill.
    The first ROI of the list is drawn last (on top), so a small lesion listed first stays
    visible inside the organ that holds it."""
    if not masks:
        return None
    shape = masks[0][0].shape
    rgba = np.zeros(shape + (4,), dtype=np.uint8)
    alpha = int(round(255 * fill_alpha))
    layers = [(np.asarray(m, dtype=bool), c) for m, c in reversed(masks)]
    for m, colour in layers:
        if m.any():
            rgba[m] = (*colour, alpha)
    if outline:
        for m, colour in layers:
            if m.any():
                rgba[mask_outline(m)] = (*colour, 255)
    return rgba


#: Colours of a segmentation model's predicted classes 1, 2, ... (label 0, the background,
#: is not drawn): Okabe-Ito hues, distinct from the inferno map and from each other.
LABEL_COLOURS: tuple[tuple[int, int, int], ...] = (
    (0, 158, 115), (86, 180, 233), (240, 228, 66), (204, 121, 167), (0, 114, 178),
    (213, 94, 0), (230, 159, 0))


def label_colour(label: int) -> tuple[int, int, int]:
    """The colour of predicted class ``label`` (>= 1) in the mask overlay and its legend."""
    return LABEL_COLOURS[(int(label) - 1) % len(LABEL_COLOURS)]


def label_mask_rgba(labels: np.ndarray, *, fill_alpha: float = 0.25) -> np.ndarray:
    """RGBA (h, w, 4) of a predicted label map: each class > 0 a translucent fill in its
    :func:`label_colour` with an opaque outline; the background stays transparent."""
    arr = np.asarray(labels)
    present = [int(k) for k in np.unique(arr) if k > 0]
    layers = [(arr == k, label_colour(k)) for k in present]
    rgba = rois_rgba(layers, fill_alpha=fill_alpha)
    return rgba if rgba is not None else np.zeros(arr.shape + (4,), np.uint8)


_AXIS_LETTERS = (("R", "L"), ("A", "P"), ("F", "H"))  # LPS: +x = L, +y = P, +z = H


def direction_letter(vector: np.ndarray) -> str:
    """Patient-direction letters (up to two, strongest first) a LPS vector points towards."""
    v = np.asarray(vector, dtype=float)
    order = np.argsort(-np.abs(v))
    letters = []
    for axis in order[:2]:
        if abs(v[axis]) < 0.25:
            continue
        letters.append(_AXIS_LETTERS[axis][1] if v[axis] > 0 else _AXIS_LETTERS[axis][0])
    return "".join(letters) or "?"


def orientation_labels(direction: np.ndarray) -> dict[str, str]:
    """Letters at the left/right/top/bottom edges of a slice shown row 0 at the top.

    Column j of ``direction`` is the LPS unit vector of index axis j (0 = column, 1 = row).
    """
    d = np.asarray(direction, dtype=float).reshape(3, 3)
    col, row = d[:, 0], d[:, 1]
    return {"right": direction_letter(col), "left": direction_letter(-col),
            "bottom": direction_letter(row), "top": direction_letter(-row)}


def value_units(metadata: dict) -> str:
    """The unit of a pixel value: HU for CT, the series' unit when it names one (PET's
    BQML, ...), else "" (MR and others: arbitrary units; DICOM's "US" means unspecified)."""
    modality = str(metadata.get("modality") or "").upper()
    units = str(metadata.get("units") or "").strip()
    if modality == "CT":
        return "HU"
    if units.upper() in ("", "US", "NONE", "UNSPECIFIED"):
        return ""
    return units
