"""The small evented view models one slice view is made of: slice, window/level, tool and
overlay. Each is an :class:`~coloc_viewer.viewer.events.EventedModel`; a main-window view
and every compare pane own one of each, and compare links forward their events."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from coloc_viewer.viewer.display import WindowLevel, presets_for, robust_window
from coloc_viewer.viewer.events import EventedModel
from coloc_viewer.viewer.tools import TOOLS


@dataclass(eq=False)
class SliceModel(EventedModel):
    """The shown slice (0-based ``index``) of a stack of ``n_slices``."""

    index: int = 0
    n_slices: int = 0

    def set(self, index: int) -> None:
        if self.n_slices:
            self.index = int(np.clip(int(index), 0, self.n_slices - 1))

    @property
    def number(self) -> int:
        """The slice as people count it (from 1)."""
        return self.index + 1


@dataclass(eq=False)
class WindowModel(EventedModel):
    """Window/level in physical units and the five presets of keys 1-5.

    One rule for every view: the series' DICOM window when it has one, else the 1-99 %
    window of :func:`coloc_viewer.imaging.display.robust_window`; a drag changes centre and
    width by width/256 per screen pixel (right widens, down raises the level)."""

    window: WindowLevel = field(default_factory=lambda: WindowLevel(0.0, 1.0))
    presets: list[tuple[str, WindowLevel]] = field(default_factory=list)

    def set(self, window: WindowLevel) -> None:
        self.window = WindowLevel(float(window.center), max(float(window.width), 1e-6))

    def drag(self, dx: float, dy: float) -> None:
        scale = max(self.window.width, 1e-3) / 256.0
        self.set(WindowLevel(self.window.center + dy * scale,
                             max(self.window.width + dx * scale, 1e-3)))

    def apply_preset(self, number: int) -> None:
        """Keys 1-5: preset ``number`` (1-based)."""
        if 1 <= number <= len(self.presets):
            self.set(self.presets[number - 1][1])

    def readout(self) -> str:
        """The status-bar text, e.g. "W 400 L 40"."""
        return f"W {self.window.width:.4g}  L {self.window.center:.4g}"


def default_window(volume: Any, slice_index: int | None = None) -> WindowLevel:
    """The series' DICOM window when it has one, else the 1-99 % window of the volume (of
    ``slice_index`` alone while the volume is still loading)."""
    win = volume.metadata.get("window")
    try:
        centre, width = (float(v) for v in win)
        if width > 0:
            return WindowLevel(centre, width)
    except (TypeError, ValueError):
        pass
    if volume.metadata.get("loading") and slice_index is not None:
        return robust_window(volume.voxels[slice_index])
    return robust_window(volume.voxels)


def volume_presets(volume: Any, slice_index: int | None = None) -> list[tuple[str, WindowLevel]]:
    loading = bool(volume.metadata.get("loading")) and slice_index is not None
    return presets_for(volume.metadata.get("modality"),
                       volume.voxels[slice_index] if loading else volume.voxels)


@dataclass(eq=False)
class ToolModel(EventedModel):
    """The active ROI tool (one of :data:`~coloc_viewer.viewer.tools.TOOLS`) and the brush.

    ``threshold_range``: the threshold brush's (low, high) in physical units, or None to
    take it from the window (level -/+ width / 2)."""

    tool: str = "brush"
    brush_radius_mm: float = 4.0
    min_radius_mm: float = 0.5
    max_radius_mm: float = 50.0
    threshold_range: tuple[float, float] | None = None

    def set_tool(self, tool: str) -> None:
        if tool not in TOOLS:
            raise ValueError(f"unknown tool {tool!r}")
        self.tool = tool

    def set_radius(self, radius_mm: float) -> None:
        self.brush_radius_mm = float(np.clip(radius_mm, self.min_radius_mm, self.max_radius_mm))

    def grow(self, steps: int) -> None:
        """Shift+wheel and [ ]: 20 % per step, as in 3D Slicer."""
        self.set_radius(self.brush_radius_mm * (1.2 ** int(steps)))


@dataclass(eq=False)
class OverlayModel(EventedModel):
    """How the map is drawn: which map (a :mod:`coloc_viewer.explain.choices` spelling),
    opacity, visibility, contour, normalisation ("image" or "common") and threshold; and
    whether a segmentation model's predicted mask is drawn (``mask``)."""

    choice: str = "top"
    opacity: float = 0.5
    visible: bool = True
    mask: bool = True
    contour: bool = False
    normalisation: str = "image"
    threshold: float = 0.5
    fixed_range: tuple[float, float] | None = None  # a compare window's common scale


@dataclass(frozen=True)
class OverlayLayer:
    """One layer drawn over the slice that the reader can show or hide: ``flag`` is the
    :class:`OverlayModel` field that shows it; ``label``, ``key`` and ``tip`` its toggle."""

    flag: str
    label: str
    key: str
    tip: str


#: The overlay layers, in drawing order (the View menu's toggles read this list).
OVERLAY_LAYERS: tuple[OverlayLayer, ...] = (
    OverlayLayer("visible", "Toggle overlay", "O", "Show/hide the map overlay"),
    OverlayLayer("mask", "Toggle predicted mask", "M",
                 "Show/hide a segmentation model's predicted mask (outlined, one colour per "
                 "class, with a legend)"),
)


# Names kept for scripts written against the earlier state module.
ToolSettings = ToolModel
OverlaySettings = OverlayModel
