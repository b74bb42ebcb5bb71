"""The ROI tools: the one list of tool names, their labels and keys (the toolbar, the
shortcuts and the settings all read it), and the one-shot ROI commands of the Edit menu
(interpolation, copy to the next/previous slice) with theirs."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Tool:
    name: str
    label: str
    key: str
    tip: str


TOOL_LIST: tuple[Tool, ...] = (
    Tool("wl", "Window/level", "W", "Left-drag sets window (right = wider) and level (down "
                                    "= higher); Shift+left-drag does it with any tool"),
    Tool("brush", "Brush", "B", "Paint the active ROI with a disk of the brush radius (mm)"),
    Tool("eraser", "Eraser", "E", "Erase from the active ROI"),
    Tool("polygon", "Polygon / lasso", "P", "Click corners (Enter or double-click closes, Esc "
                                             "cancels) or drag a lasso"),
    Tool("threshold", "Threshold brush", "T",
         "Paint only pixels whose value lies in the threshold range: the window's range "
         "(level -/+ width/2), or the range typed under the ROI list"),
)
TOOLS: tuple[str, ...] = tuple(t.name for t in TOOL_LIST)
#: tools that paint with the brush disk (cursor circle, strokes, Shift+wheel radius)
BRUSH_TOOLS: tuple[str, ...] = ("brush", "eraser", "threshold")


@dataclass(frozen=True)
class RoiCommand:
    """A one-shot edit of the active ROI: ``name`` is the ViewerState method it calls."""

    name: str
    label: str
    key: str
    tip: str


ROI_COMMANDS: tuple[RoiCommand, ...] = (
    RoiCommand("fill_between_slices", "Fill between slices", "I",
               "Interpolate the active ROI on the empty slices between the slices drawn "
               "(morphological contour interpolation; one undo step)"),
    RoiCommand("copy_to_next_slice", "Copy outline to next slice", "Ctrl+Down",
               "Add this slice's outline of the active ROI to the next slice and show it"),
    RoiCommand("copy_to_previous_slice", "Copy outline to previous slice", "Ctrl+Up",
               "Add this slice's outline of the active ROI to the previous slice and show it"),
)


def tool(name: str) -> Tool:
    for t in TOOL_LIST:
        if t.name == name:
            return t
    raise ValueError(f"unknown tool {name!r} (one of {', '.join(TOOLS)})")
