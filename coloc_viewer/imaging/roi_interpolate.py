"""ROI edits across slices: "fill between slices" (interpolate the slices between the ones
the reader drew) and copying one slice's outline to another slice.

Interpolation is morphological contour interpolation (Albu et al. 2008; Zukic et al., the
ITK filter ``MorphologicalContourInterpolator`` 3D Slicer's "Fill between slices" uses)
when ITK's module is installed (the ``interpolation`` extra:
``itk-morphologicalcontourinterpolation``); SimpleITK's wheels do not include that filter.
Without it, shape-based interpolation (Raya & Udupa 1990: linear interpolation of the
signed distance maps of the two drawn slices, SimpleITK's ``SignedMaurerDistanceMap``) fills
the gap. Only the empty slices between drawn ones change; drawn slices stay as drawn. Each
call is one undo step of the set's history.
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from coloc_viewer.imaging.roi import Roi, RoiSet
from coloc_viewer.imaging.roi_history import Region

__all__ = ["METHODS", "copy_slice", "drawn_slices", "has_morphological", "interpolate_mask",
           "interpolate_slices"]

METHODS = ("auto", "morphological", "shape")


def _editable(roiset: RoiSet, name: str | None) -> Roi:
    roi = roiset[name or roiset.active or ""]
    if roi.locked:
        raise ValueError(f"ROI {roi.name!r} is locked")
    return roi


def drawn_slices(mask: np.ndarray) -> list[int]:
    """Indices of the slices with at least one ROI pixel."""
    return [int(k) for k in np.flatnonzero(np.asarray(mask).reshape(mask.shape[0], -1).any(1))]


def has_morphological() -> bool:
    """ITK's MorphologicalContourInterpolator is importable."""
    try:
        import itk

        return hasattr(itk, "MorphologicalContourInterpolator")
    except ImportError:
        return False


def _morphological(mask: np.ndarray, spacing: tuple[float, float, float]) -> np.ndarray:
    import itk

    image = itk.image_from_array(np.ascontiguousarray(mask, dtype=np.uint8))
    image.SetSpacing([float(s) for s in spacing[::-1]])
    out = itk.morphological_contour_interpolator(image, axis=2, label=1)
    return itk.array_from_image(out) > 0


def _signed_distance(plane: np.ndarray, spacing_yx: tuple[float, float]) -> np.ndarray:
    img = sitk.GetImageFromArray(plane.astype(np.uint8))
    img.SetSpacing([float(spacing_yx[1]), float(spacing_yx[0])])
    dist = sitk.SignedMaurerDistanceMap(img, insideIsPositive=False, squaredDistance=False,
                                        useImageSpacing=True)
    return sitk.GetArrayFromImage(dist)


def _shape_based(mask: np.ndarray, spacing: tuple[float, float, float]) -> np.ndarray:
    out = mask.copy()
    drawn = drawn_slices(mask)
    for a, b in zip(drawn, drawn[1:]):
        if b - a < 2:
            continue
        da = _signed_distance(mask[a], spacing[1:])
        db = _signed_distance(mask[b], spacing[1:])
        for k in range(a + 1, b):
            t = (k - a) / (b - a)
            out[k] = (1.0 - t) * da + t * db <= 0.0
    return out


def interpolate_mask(mask: np.ndarray, spacing: tuple[float, float, float] = (1.0, 1.0, 1.0),
                     method: str = "auto") -> np.ndarray:
    """The (z, y, x) mask with the empty slices between drawn slices filled.

    ``method``: "morphological" (ITK's filter), "shape" (signed-distance interpolation) or
    "auto" (morphological when ITK's module is installed). Drawn slices are unchanged.
    """
    if method not in METHODS:
        raise ValueError(f"unknown interpolation {method!r} (one of {', '.join(METHODS)})")
    m = np.asarray(mask, dtype=bool)
    drawn = drawn_slices(m)
    if len(drawn) < 2:
        return m.copy()
    lo, hi = drawn[0], drawn[-1] + 1
    use_itk = method == "morphological" or (method == "auto" and has_morphological())
    if method == "morphological" and not has_morphological():
        raise ValueError("morphological interpolation needs ITK's module (pip install "
                         "itk-morphologicalcontourinterpolation)")
    part = (_morphological if use_itk else _shape_based)(m[lo:hi], spacing)
    out = m.copy()
    empty = [k for k in range(lo, hi) if k not in set(drawn)]
    for k in empty:
        out[k] = part[k - lo]
    return out


def interpolate_slices(roiset: RoiSet, name: str | None = None, method: str = "auto",
                       filled: np.ndarray | None = None) -> Region | None:
    """Fill between the drawn slices of ROI ``name`` (the active one) as one undo step;
    returns the changed region or None when nothing changed (fewer than two drawn slices,
    or no gap between them).

    ``filled``: :func:`interpolate_mask`'s result computed elsewhere (a worker thread); only
    slices still empty take it, so a slice drawn meanwhile stays as drawn.
    """
    roi = _editable(roiset, name)
    if filled is None:
        filled = interpolate_mask(roi.mask, roiset.spacing, method)
    elif filled.shape != roi.mask.shape:
        raise ValueError(f"filled mask {filled.shape} does not match the ROI {roi.mask.shape}")
    empty = ~roi.mask.reshape(roi.mask.shape[0], -1).any(axis=1)
    changed = (np.asarray(filled, bool) & empty[:, None, None]) & ~roi.mask
    if not changed.any():
        return None
    zs, ys, xs = (np.flatnonzero(changed.any(axis=axes)) for axes in ((1, 2), (0, 2), (0, 1)))
    region: Region = (slice(int(zs[0]), int(zs[-1]) + 1), slice(int(ys[0]), int(ys[-1]) + 1),
                      slice(int(xs[0]), int(xs[-1]) + 1))
    with roiset.history.stroke("fill between slices") as stroke:
        stroke.record(roi, region)
        roi.mask[region] |= changed[region]
    return region


def copy_slice(roiset: RoiSet, name: str | None, z_from: int, z_to: int) -> Region | None:
    """Add slice ``z_from``'s outline of ROI ``name`` to slice ``z_to`` (what is already
    drawn there stays) as one undo step; None when there is nothing to add."""
    roi = _editable(roiset, name)
    n = roiset.shape[0]
    for z in (z_from, z_to):
        if not 0 <= int(z) < n:
            raise IndexError(f"slice {z} outside 0..{n - 1}")
    src = roi.mask[int(z_from)]
    new = src & ~roi.mask[int(z_to)]
    if not new.any():
        return None
    ys, xs = np.nonzero(new)
    region: Region = (slice(int(z_to), int(z_to) + 1), slice(int(ys.min()), int(ys.max()) + 1),
                      slice(int(xs.min()), int(xs.max()) + 1))
    with roiset.history.stroke("copy slice") as stroke:
        stroke.record(roi, region)
        roi.mask[region] |= src[region[1:]]
    return region
