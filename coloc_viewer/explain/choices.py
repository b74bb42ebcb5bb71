"""The map-choice vocabulary: which 2-D map of an Explanation a viewer, a report or a
compare pane shows. One spelling everywhere:

* ``"top"`` -- the top-ranked channel;
* ``"channel:<r>"`` -- the channel at 0-based *ranked position* r (``"channel:0"`` is the top
  channel, ``"channel:3"`` the 4th-ranked), never a raw channel number;
* a CAM method of :data:`coloc_viewer.explain.cams.METHODS` (``"gradcam"`` ...);
* ``"scorecam:16"`` -- Score-CAM over the 16 top-ranked channels (the engine's top-k
  variant; the viewer's default Score-CAM, :data:`SCORECAM`).

Rankings: :data:`RANKINGS` (the criteria of :mod:`coloc_viewer.explain.ranking`, the
default first) with :data:`RANK_HELP`.

CAM methods come from the registry of :mod:`coloc_viewer.explain.cams` (name, label,
function in one entry), so the viewer's chooser, the compare panes, the CLI and the reports
offer a newly registered method with no change here. Rankings live here, torch-free, and
:mod:`~coloc_viewer.explain.ranking` imports them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from coloc_viewer.explain.cams import CAM_REGISTRY, GRADIENT_METHODS, METHODS
from coloc_viewer.vocab import LiveMapping, LiveTuple

__all__ = ["GRADIENT_METHODS", "METHODS", "CRITERIA", "SCORECAM", "CAM_LABELS", "CAM_METHODS",
           "RANKINGS", "RANK_HELP", "N_RANKED", "map_choices", "label", "ranked_position",
           "is_cam", "methods_needed", "map_kind", "kind_label", "channel_of", "map_of"]

#: channel ranking criteria (explain.ranking)
CRITERIA: tuple[str, ...] = ("max", "mean", "gradient", "contribution", "ablation")

SCORECAM = "scorecam:16"


def _cam_labels() -> dict[str, str]:
    out = {}
    for m in CAM_REGISTRY.values():
        out[m.name] = m.label
        if m.choice != m.name:
            out[m.choice] = m.viewer_label or f"{m.label} ({m.choice})"
    return out


#: label of every CAM spelling ("gradcam" -> "Grad-CAM", "scorecam:16" -> "Score-CAM (top-16)")
CAM_LABELS: LiveMapping = LiveMapping(_cam_labels)
#: the CAM choices a viewer offers (Score-CAM as its top-16 variant)
CAM_METHODS: LiveTuple = LiveTuple(lambda: [m.choice for m in CAM_REGISTRY.values()])

RANKINGS: tuple[str, ...] = ("contribution", *(c for c in CRITERIA if c != "contribution"))
RANK_HELP: dict[str, str] = {
    "contribution": "channel's share of the target logit (gradient weight x activation sum)",
    "max": "spatial maximum of the channel (the original method)",
    "mean": "spatial mean of the channel",
    "gradient": "Grad-CAM weight x mean activation",
    "ablation": "drop of the target logit when the channel is zeroed",
}
N_RANKED = 10  # channels the viewer offers ("channel:0" ... "channel:9")


def map_choices(n_ranked: int = N_RANKED) -> list[tuple[str, str]]:
    """(choice, label) of every map a viewer offers, in menu order."""
    out = [("top", "Top channel")]
    out += [(f"channel:{r}", f"Channel #{r + 1}") for r in range(1, n_ranked)]
    out += [(m, CAM_LABELS.get(m, m)) for m in CAM_METHODS]
    return out


def label(choice: str) -> str:
    """A readable name: "top channel", "channel #4" (ranked position + 1), "Grad-CAM"."""
    if choice == "top":
        return "top channel"
    if choice.startswith("channel:"):
        return f"channel #{ranked_position(choice) + 1}"
    return CAM_LABELS.get(choice, choice)


def map_kind(choice: str) -> str:
    """What kind of values a map holds: ``"channel"`` for feature channels (``"top"``,
    ``"channel:<r>"``), else the CAM method's name (``"scorecam:16"`` -> ``"scorecam"``).
    Maps of one kind can share a colour scale; different kinds cannot."""
    if choice == "top" or choice.startswith("channel:"):
        return "channel"
    return choice.split(":", 1)[0]


def kind_label(kind: str) -> str:
    """"feature channels", "Grad-CAM", ... for :func:`map_kind`'s answer."""
    return "feature channels" if kind == "channel" else CAM_LABELS.get(kind, kind)


def ranked_position(choice: str) -> int:
    """r of ``"channel:<r>"`` (0 = top)."""
    return int(choice.split(":", 1)[1])


def is_cam(choice: str) -> bool:
    return choice.split(":", 1)[0] in METHODS


def methods_needed(choice: str) -> tuple[str, ...]:
    """The CAM methods an explanation must compute to show ``choice`` (Grad-CAM always)."""
    if is_cam(choice) and choice != "gradcam":
        name = choice.split(":", 1)[0]
        return ("gradcam", CAM_REGISTRY[name].choice if choice == name else choice)
    return ("gradcam",)


def channel_of(explanation: Any, choice: str) -> int | None:
    """The raw channel index shown by ``choice`` (None for a CAM)."""
    if choice == "top":
        return int(explanation.top_channels[0][0])
    if choice.startswith("channel:"):
        return int(explanation.top_channels[ranked_position(choice)][0])
    return None


def map_of(explanation: Any, choice: str) -> np.ndarray | None:
    """The 2-D map ``choice`` of ``explanation`` on the image grid (raw values); None for a
    CAM the explanation did not compute."""
    if choice == "top":
        return np.asarray(explanation.top_map)
    if choice.startswith("channel:"):
        return np.asarray(explanation.channel_map(channel_of(explanation, choice)))
    try:
        return np.asarray(explanation.cam_map(choice))
    except KeyError:
        return None
