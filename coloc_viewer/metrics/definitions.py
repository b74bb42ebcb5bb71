"""The score registry: every co-localization score is one :class:`ScoreDefinition` -- its
key, label, plain definition, tooltip, citation *and its formula* -- in display order.

The Scorer, reports, CSV columns, JSON keys, the viewer's tables and the CLI all read
:data:`SCORES` / :data:`SCORE_KEYS` (live views of the registry), so adding a score is one
:func:`register_score` call (here for a built-in score) plus its test.

A formula ``compute(view)`` gets the per-ROI view the :class:`~coloc_viewer.metrics.scorer.
Scorer` builds once per ROI (flat arrays over the map's pixels; see ``RoiView`` there) and
returns a plain value or None where the score is undefined. The exact definitions are in
DESIGN.md section 4 and docs/scores.md; S is the saliency map on the image grid,
P = max(S, 0), R the ROI and N its number of pixels.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from coloc_viewer.vocab import LiveMapping, LiveTuple


@dataclass(frozen=True)
class ScoreDefinition:
    key: str
    label: str
    definition: str  # for reports and CSV headers
    help: str  # the viewer's column tooltip
    source: str  # citation
    compute: Callable[[Any], Any] | None = None  # RoiView -> value or None
    short: str = ""  # header of narrow tables (the viewer's score table); default: label
    needs_shifts: bool = False  # uses the translation test (skipped during a brush stroke)
    kind: str = "float"  # "float" or "bool" (CSV / Parquet column type)

    @property
    def short_label(self) -> str:
        return self.short or self.label


_REGISTRY: list[ScoreDefinition] = []


P_FLOOR = 0.001  # smaller p-values are shown as "< 0.001"


def format_p_value(p: float) -> str:
    """A p-value as every view shows it: three decimals ("0.047", "0.320"), or "< 0.001"."""
    return f"< {P_FLOOR}" if p < P_FLOOR else f"{p:.3f}"


def p_phrase(p: float) -> str:
    """"p = 0.047" or "p < 0.001", for sentences (the same digits as :func:`format_p_value`)."""
    shown = format_p_value(p)
    return f"p {shown}" if shown.startswith("<") else f"p = {shown}"


MISSING = "n/a"  # an undefined score (empty ROI, map without positive values)


def format_score(key: str, value: object) -> str:
    """A score as every view shows it (the main window, compare, reports): 3 decimals,
    p-values as :func:`format_p_value`, :data:`MISSING` when undefined."""
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format_p_value(value) if key == "p_value" else f"{value:.3f}"
    return str(value)


def register_score(definition: ScoreDefinition) -> ScoreDefinition:
    """Add a score (or replace the one with its key) at the end of the display order."""
    unregister_score(definition.key)
    _REGISTRY.append(definition)
    return definition


def unregister_score(key: str) -> None:
    _REGISTRY[:] = [d for d in _REGISTRY if d.key != key]


#: the registered scores and their keys, in display order (live views)
SCORES: LiveTuple = LiveTuple(lambda: _REGISTRY)
SCORE_KEYS: LiveTuple = LiveTuple(lambda: [d.key for d in _REGISTRY])
SCORE_HELP: LiveMapping = LiveMapping(lambda: {d.key: d.help for d in _REGISTRY})
BY_KEY: LiveMapping = LiveMapping(lambda: {d.key: d for d in _REGISTRY})
#: column headers of narrow tables (the viewer's score table)
SHORT_LABELS: LiveMapping = LiveMapping(lambda: {d.key: d.short_label for d in _REGISTRY})


# -- the built-in scores (DESIGN.md section 4) -----------------------------------------------
def _relevance_mass(v: Any) -> float | None:
    return v.inside / v.total if v.total > 0.0 else None


def _iou_top_n(v: Any) -> float:
    return v.top_hits / (2 * v.n - v.top_hits)


def _dice(v: Any) -> float | None:
    return 2.0 * v.above_hits / (v.n_above + v.n) if v.total > 0.0 else None


def _iou(v: Any) -> float | None:
    hits = v.above_hits
    return hits / (v.n_above + v.n - hits) if v.total > 0.0 else None


def _auroc(v: Any) -> float | None:
    if v.n >= v.n_pixels:
        return None
    u = float(v.ranks[v.idx].sum()) - v.n * (v.n + 1) / 2.0
    return u / (v.n * (v.n_pixels - v.n))


def _p_value(v: Any) -> float | None:
    return v.shift_test() if v.total > 0.0 else None


for _definition in (
    ScoreDefinition(
        "relevance_mass", "Relevance mass",
        "Fraction of the map's positive mass (sum of max(S, 0)) that falls inside the ROI. "
        "1 = all of it, the ROI's area share = what an unrelated map would get.",
        "Share of the map's positive relevance that falls inside the ROI "
        "(1 = all of it, chance = ROI area / image area).",
        "Arras et al. 2022", _relevance_mass, "mass"),
    ScoreDefinition(
        "relevance_rank", "Relevance rank",
        "Take as many of the map's highest pixels as the ROI has pixels; the fraction of "
        "those that lie inside the ROI.",
        "Share of the N most relevant pixels (N = ROI size) that lie in the ROI.",
        "Arras et al. 2022; Viviano et al. 2021 'IoT'", lambda v: v.top_hits / v.n, "rank"),
    ScoreDefinition(
        "iou_top_n", "IoU of top-N",
        "Intersection over union of those N highest pixels with the ROI.",
        "Intersection over union of the N most relevant pixels with the ROI.",
        "Viviano et al., ICLR 2021", _iou_top_n, "IoU top-N"),
    ScoreDefinition(
        "dice", "Dice",
        "Dice overlap of the thresholded map (S at least t times its maximum, t = 0.5 by "
        "default) with the ROI.",
        "Dice overlap of the map thresholded at t x max with the ROI.", "", _dice, "Dice"),
    ScoreDefinition(
        "iou", "IoU",
        "Intersection over union of the same thresholded map with the ROI.",
        "Intersection over union of the map thresholded at t x max with the ROI.", "",
        _iou, "IoU"),
    ScoreDefinition(
        "pointing_game", "Pointing game",
        "Yes if a pixel where the map reaches its maximum lies inside the ROI.",
        "Yes when a pixel of maximal relevance lies inside the ROI.", "Zhang et al. 2018",
        lambda v: bool(v.is_max[v.idx].any()), "pointing", kind="bool"),
    ScoreDefinition(
        "auroc", "AUROC",
        "Area under the ROC curve when the map's values are used to tell ROI pixels from "
        "the rest; 0.5 = chance, 1 = every ROI pixel outranks every other pixel.",
        "How well the map separates ROI pixels from the rest "
        "(0.5 = chance, 1 = every ROI pixel outranks every other pixel).", "Fawcett 2006",
        _auroc, "AUROC"),
    ScoreDefinition(
        "p_value", "p-value",
        "Chance of a relevance mass at least as high as observed when the ROI is moved to "
        "every other whole-pixel position inside the image: (1 + number of shifts doing as "
        "well) / (1 + number of shifts). Small = the overlap beats chance.",
        "Share of shifted copies of the ROI that capture at least as much relevance "
        "as the drawn ROI; small values mean the overlap beats chance.", "this project",
        _p_value, "p", needs_shifts=True),
    ScoreDefinition(
        "seed_overlap", "Seed overlap",
        "Share of the ROI covered by pixels where the nearest-upsampled channel is above 0 "
        "-- the test of the original feature-map method.",
        "Share of the ROI covered by the positive part of the top channel "
        "(the original method's test).", "the seed repository",
        lambda v: int(v.seed[v.idx].sum()) / v.n, "seed"),
):
    register_score(_definition)
