"""What a case report shows: one slice, its ROI, and one or more scored maps ("panels")."""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import coloc_viewer
from coloc_viewer.workspace.paths import source_hash

PER_IMAGE = "per-image"


@dataclass
class MapPanel:
    """One scored map: what produced it, its raw values on the image grid, its scores.

    ``scale`` is the display range ``(low, high)`` of a common scale, or None for per-image
    min-max; ``scale_label`` describes it (e.g. "common, p90 of maxima / p50 of minima").
    """

    title: str
    saliency: np.ndarray
    scores: Mapping[str, Any]
    model: str = ""
    layer: str = ""
    method: str = ""
    target: Any = None
    rank: str | None = None
    channel: int | None = None
    scale: tuple[float, float] | None = None
    scale_label: str = PER_IMAGE
    prediction: Mapping[str, Any] | None = None
    model_ref: str = ""  # what --model loads it by, when not ``model`` (a card file)

    def display_range(self) -> tuple[float, float]:
        """The raw values mapped to the ends of the colour bar."""
        if self.scale is not None:
            return float(self.scale[0]), float(self.scale[1])
        m = np.asarray(self.saliency, dtype=np.float64)
        return float(np.nanmin(m)), float(np.nanmax(m))

    def settings(self) -> dict[str, Any]:
        return {"model": self.model, "layer": self.layer, "method": self.method,
                "target": self.target, "rank": self.rank, "channel": self.channel,
                "scale": self.scale_label if self.scale is None
                else f"{self.scale_label} [{self.scale[0]:.4g}, {self.scale[1]:.4g}]"}


@dataclass
class CaseReport:
    """Everything a report, a CSV or a legend needs; build it with :func:`case_report`."""

    image: np.ndarray
    roi: np.ndarray
    panels: list[MapPanel]
    slice_index: int
    series_uid: str | None = None
    source_name: str = ""
    source_hash: str = ""
    slice_position_mm: float | None = None
    pixel_spacing: tuple[float, float] = (1.0, 1.0)
    window: tuple[float, float] | None = None  # (center, width) in physical units
    modality: str = ""
    description: str = ""
    roi_name: str = "ROI"
    model_cards: list[dict[str, Any]] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    identity: dict[str, str] = field(default_factory=dict)
    software_version: str = coloc_viewer.__version__
    created: str = field(default_factory=lambda: _dt.datetime.now(_dt.UTC)
                         .strftime("%Y-%m-%d %H:%M UTC"))

    def file_stem(self) -> str:
        """A PHI-free default file name stem: input hash and the slice as people count it
        (from 1, as the viewer shows it), never a name."""
        return f"coloc-case-{self.source_hash[:10] or 'unknown'}-slice{self.slice_index + 1:03d}"

    def reproduce_command(self, panel: MapPanel) -> str:
        """The CLI call that recomputes ``panel`` (input and ROI as placeholders)."""
        parts = ["coloc-viewer analyze INPUT --roi ROI_FILE"]
        if self.series_uid:
            parts.append(f"--series {self.series_uid}")
        parts.append(f"--slice {self.slice_index}")
        if panel.model_ref or panel.model:
            parts.append(f"--model {shlex.quote(panel.model_ref or panel.model)}")
        if panel.layer:
            parts.append(f"--layer {panel.layer}")
        if panel.target is not None:
            parts.append(f"--target {panel.target}")
        if panel.rank:
            parts.append(f"--rank {panel.rank}")
        if panel.method and panel.method not in ("top", "top channel") \
                and not panel.method.startswith("channel"):
            parts.append(f"--method {panel.method}")
        return " ".join(parts) + " --json"


def _card_dict(card: Any) -> dict[str, Any]:
    if isinstance(card, Mapping):
        return dict(card)
    to_dict = getattr(card, "to_dict", None)
    if callable(to_dict):
        return dict(to_dict())
    raise TypeError(f"model card must be a dict or a ModelCard, not {type(card).__name__}")


def case_report(volume: Any, slice_index: int, roi: np.ndarray, panels: Sequence[MapPanel], *,
                model_cards: Sequence[Any] = (), window: tuple[float, float] | None = None,
                roi_name: str = "ROI", settings: Mapping[str, Any] | None = None,
                identity: Mapping[str, str] | None = None) -> CaseReport:
    """Collect a report for slice ``slice_index`` of ``volume`` (a Volume).

    ``roi`` is the 2-D mask of that slice or the 3-D mask of the volume. ``identity``
    (patient name/ID/birth date) defaults to :func:`~.phi.patient_identity`; it is printed
    only when a writer is called with ``include_phi=True``.
    """
    from coloc_viewer.report.phi import patient_identity

    roi_arr = np.asarray(roi, dtype=bool)
    if roi_arr.ndim == 3:
        roi_arr = roi_arr[slice_index]
    image = np.asarray(volume.voxels[slice_index], dtype=np.float32)
    if roi_arr.shape != image.shape:
        raise ValueError(f"ROI shape {roi_arr.shape} does not match the slice {image.shape}")
    meta = dict(getattr(volume, "metadata", None) or {})
    if window is None and meta.get("window"):
        w = meta["window"]
        window = (float(w[0]), float(w[1])) if isinstance(w, list | tuple) else None
    source = os.fspath(getattr(volume, "source", "") or "")
    position = None
    with contextlib.suppress(Exception):
        position = float(volume.slice_position_mm(slice_index))
    return CaseReport(
        image=image, roi=roi_arr, panels=list(panels), slice_index=int(slice_index),
        series_uid=meta.get("series_uid"), source_name=os.path.basename(source.rstrip("/\\")),
        source_hash=source_hash(source) if source else "", slice_position_mm=position,
        pixel_spacing=(float(volume.spacing[1]), float(volume.spacing[2])), window=window,
        modality=str(meta.get("modality", "") or ""),
        description=str(meta.get("description", "") or ""), roi_name=roi_name,
        model_cards=[_card_dict(c) for c in model_cards], settings=dict(settings or {}),
        identity=dict(identity) if identity is not None else patient_identity(volume))


def panel_from_explanation(explanation: Any, roi2d: np.ndarray, *, map_choice: str = "top",
                           scale: Any = None, title: str | None = None,
                           scores: Mapping[str, Any] | None = None) -> MapPanel:
    """A :class:`MapPanel` from an :class:`~coloc_viewer.explain.engine.Explanation`.

    ``map_choice``: the one spelling of :mod:`coloc_viewer.explain.choices`: "top" (the
    top-ranked channel), "channel:<r>" (the r-th *ranked* channel, 0 = top; "rank:<r>" is
    read the same way) or a CAM method ("gradcam", "scorecam:16", ...).
    ``scale``: a CommonScale (or (low, high)) or None for per-image. Scores are computed
    with :func:`coloc_viewer.score` unless given.
    """
    from coloc_viewer.metrics.scores import score

    channel = None
    if map_choice == "top":
        channel = explanation.top_channel
        saliency, method = explanation.top_map, "top channel"
        seed = explanation.seed_map
    elif map_choice.startswith(("channel:", "rank:")):
        rank = int(map_choice.split(":", 1)[1])
        channel = int(explanation.order[rank])
        saliency, method = explanation.channel_map(channel), f"channel {channel}"
        seed = explanation.channel_map(channel, mode="nearest")
    else:
        saliency, method, seed = explanation.cam_map(map_choice), map_choice, None
    if scores is None:
        scores = score(saliency, roi2d, seed_map=seed)
    rng, label = None, PER_IMAGE
    if scale is not None:
        low, high = (scale.low, scale.high) if hasattr(scale, "low") else scale
        rng = (float(low), float(high))
        n = getattr(scale, "n_maps", 0)
        label = f"common over {n} maps" if n else "common"
    return MapPanel(
        title=title or f"{explanation.model_name} / {explanation.layer} / {method}",
        saliency=np.asarray(saliency, np.float32), scores=dict(scores),
        model=explanation.model_name, layer=explanation.layer, method=method,
        target=explanation.target, rank=explanation.rank, channel=channel, scale=rng,
        scale_label=label, prediction=dict(explanation.prediction))
