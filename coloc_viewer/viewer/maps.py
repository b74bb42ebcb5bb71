"""The shown map of an explanation: choosing it, and what a worker prepares for the GUI
thread (the map on the image grid, its Scorer, the scores and the overlay colours)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from coloc_viewer.explain.choices import map_of
from coloc_viewer.metrics.scorer import Scorer
from coloc_viewer.viewer.display import normalise_map, overlay_rgba


def select_map(explanation: Any, choice: str) -> np.ndarray | None:
    """Map ``choice`` (a :mod:`coloc_viewer.explain.choices` spelling) of an Explanation on
    the image grid; None for a CAM the explanation does not hold."""
    return map_of(explanation, choice)


def seed_for(explanation: Any, choice: str) -> np.ndarray | None:
    """The nearest-upsampled channel of ``seed_overlap`` (top channel only)."""
    return getattr(explanation, "seed_map", None) if choice == "top" else None


def predicted_mask(explanation: Any) -> np.ndarray | None:
    """A segmentation model's predicted labels on the shown slice (image grid, int16);
    None for classifiers and for explanations without one."""
    get = getattr(explanation, "predicted_mask", None)
    if get is None or getattr(explanation, "output_mask", None) is None:
        return None
    return get()


def mask_legend(explanation: Any, classes: Sequence[str] | None = None,
                ) -> list[tuple[int, str, float | None]]:
    """(label value, class name, share of the image's pixels) of each class the mask overlay
    draws (value >= 1): class k of a K-class model as value k (class 0 is the background),
    the one class of a single-channel (sigmoid) model as value 1. ``classes``: the card's."""
    if getattr(explanation, "output_mask", None) is None:
        return []
    prediction = getattr(explanation, "prediction", None) or {}
    shares = [float(v) for v in prediction.get("pixel_shares") or []]
    n = max(len(shares), 1)

    def name(k: int) -> str:
        if classes is not None and k < len(classes):
            return str(classes[k])
        if k == prediction.get("index") and prediction.get("label") is not None:
            return str(prediction["label"])
        return f"class {k}"

    if n == 1:
        return [(1, name(0), shares[0] if shares else None)]
    return [(k, name(k), shares[k]) for k in range(1, n)]


@dataclass
class PreparedMap:
    """What the GUI thread would otherwise compute when a map arrives, made in a worker:
    the map on the image grid, its Scorer, the scores of the ROI slices as they were when
    the run started (used only if they are unchanged), and the per-image overlay RGBA."""

    choice: str
    threshold: float
    saliency: np.ndarray
    scorer: Any = None
    masks: list[tuple[str, np.ndarray]] = field(default_factory=list)
    scores: dict[str, dict[str, Any]] | None = None
    overlay: tuple[float, np.ndarray, float, float] | None = None  # opacity, rgba, low, high


def prepare_map(explanation: Any, choice: str, threshold: float,
                masks: list[tuple[str, np.ndarray]] | None = None,
                opacity: float | None = None) -> PreparedMap | None:
    """Upsample the chosen map, build its Scorer, score ``masks`` (name, 2-D copy) with
    p-values, and colour the per-image overlay at ``opacity``."""
    saliency = select_map(explanation, choice)
    if saliency is None:
        return None
    scorer = Scorer(saliency, threshold=threshold, seed_map=seed_for(explanation, choice))
    masks = list(masks or [])
    scores = {name: dict(scorer.update(mask, p_value=True), n_pixels=int(np.asarray(mask).size))
              for name, mask in masks}
    overlay = None
    if opacity is not None:
        scaled, low, high = normalise_map(saliency)
        overlay = (float(opacity), overlay_rgba(scaled, opacity), low, high)
    return PreparedMap(choice, threshold, saliency, scorer, masks, scores, overlay)


def same_masks(a: list[tuple[str, np.ndarray]], b: list[tuple[str, np.ndarray]]) -> bool:
    return len(a) == len(b) and all(
        na == nb and np.array_equal(ma, mb) for (na, ma), (nb, mb) in zip(a, b, strict=True))
