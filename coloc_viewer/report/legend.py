"""Legend text for screenshots and report figures: what map this is and how it scored."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from coloc_viewer.metrics.definitions import SHORT_LABELS, format_score

LEGEND_SCORES = ("relevance_mass", "relevance_rank", "auroc", "pointing_game", "p_value")
SHORT = SHORT_LABELS  # the score registry's short labels (live)


def legend_lines(model: str, layer: str, method: str, scale: str,
                 scores: Mapping[str, Any] | None = None, *, target: Any = None,
                 rank: str | None = None, keys: tuple[str, ...] = LEGEND_SCORES) -> list[str]:
    """Short lines: "model / layer", "method, rank, target", "scale", "scores"."""
    lines = [f"{model or '?'} / {layer or '?'}"]
    how = [method or "?"]
    if rank:
        how.append(f"rank {rank}")
    if target is not None:
        how.append(f"target {target}")
    lines.append(", ".join(how))
    lines.append(f"scale: {scale}")
    if scores:
        lines.append("  ".join(f"{SHORT.get(k, k)} {format_score(k, scores.get(k))}"
                               for k in keys if k in scores))
    return lines


def legend_text(*args: Any, **kwargs: Any) -> str:
    """:func:`legend_lines` joined by newlines."""
    return "\n".join(legend_lines(*args, **kwargs))


def panel_legend(panel: Any) -> list[str]:
    """Legend lines of a :class:`~coloc_viewer.report.case.MapPanel`."""
    scale = panel.scale_label if panel.scale is None else \
        f"{panel.scale_label} [{panel.scale[0]:.3g}, {panel.scale[1]:.3g}]"
    return legend_lines(panel.model, panel.layer, panel.method, scale, panel.scores,
                        target=panel.target, rank=panel.rank)
