"""The ROI tools: the one list of tool names, their labels and keys (the toolbar, the
shortcuts and the settings all read it)."""

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
)
TOOLS: tuple[str, ...] = tuple(t.name for t in TOOL_LIST)


def tool(name: str) -> Tool:
    for t in TOOL_LIST:
        if t.name == name:
            return t
    raise ValueError(f"unknown tool {name!r} (one of {', '.join(TOOLS)})")
