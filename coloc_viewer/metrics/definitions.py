"""The score vocabulary: every co-localization score's key, label, plain definition,
tooltip and citation, in display order. Reports, CSVs, the viewer's table and the CLI
read it from here; adding a score means adding it here and to the Scorer (and its test).

The exact formulas are in DESIGN.md section 4 and docs/scores.md; S is the saliency map on
the image grid, P = max(S, 0), R the ROI and N its number of pixels.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ScoreDefinition:
    key: str
    label: str
    definition: str  # for reports and CSV headers
    help: str  # the viewer's column tooltip
    source: str  # citation


SCORES: tuple[ScoreDefinition, ...] = (
    ScoreDefinition(
        "relevance_mass", "Relevance mass",
        "Fraction of the map's positive mass (sum of max(S, 0)) that falls inside the ROI. "
        "1 = all of it, the ROI's area share = what an unrelated map would get.",
        "Share of the map's positive relevance that falls inside the ROI "
        "(1 = all of it, chance = ROI area / image area).",
        "Arras et al. 2022"),
    ScoreDefinition(
        "relevance_rank", "Relevance rank",
        "Take as many of the map's highest pixels as the ROI has pixels; the fraction of "
        "those that lie inside the ROI.",
        "Share of the N most relevant pixels (N = ROI size) that lie in the ROI.",
        "Arras et al. 2022; Viviano et al. 2021 'IoT'"),
    ScoreDefinition(
        "iou_top_n", "IoU of top-N",
        "Intersection over union of those N highest pixels with the ROI.",
        "Intersection over union of the N most relevant pixels with the ROI.",
        "Viviano et al., ICLR 2021"),
    ScoreDefinition(
        "dice", "Dice",
        "Dice overlap of the thresholded map (S at least t times its maximum, t = 0.5 by "
        "default) with the ROI.",
        "Dice overlap of the map thresholded at t x max with the ROI.", ""),
    ScoreDefinition(
        "iou", "IoU",
        "Intersection over union of the same thresholded map with the ROI.",
        "Intersection over union of the map thresholded at t x max with the ROI.", ""),
    ScoreDefinition(
        "pointing_game", "Pointing game",
        "Yes if a pixel where the map reaches its maximum lies inside the ROI.",
        "Yes when a pixel of maximal relevance lies inside the ROI.", "Zhang et al. 2018"),
    ScoreDefinition(
        "auroc", "AUROC",
        "Area under the ROC curve when the map's values are used to tell ROI pixels from "
        "the rest; 0.5 = chance, 1 = every ROI pixel outranks every other pixel.",
        "How well the map separates ROI pixels from the rest "
        "(0.5 = chance, 1 = every ROI pixel outranks every other pixel).", "Fawcett 2006"),
    ScoreDefinition(
        "p_value", "p-value",
        "Chance of a relevance mass at least as high as observed when the ROI is moved to "
        "every other whole-pixel position inside the image: (1 + number of shifts doing as "
        "well) / (1 + number of shifts). Small = the overlap beats chance.",
        "Share of shifted copies of the ROI that capture at least as much relevance "
        "as the drawn ROI; small values mean the overlap beats chance.", "this project"),
    ScoreDefinition(
        "seed_overlap", "Seed overlap",
        "Share of the ROI covered by pixels where the nearest-upsampled channel is above 0 "
        "-- the test of the original feature-map method.",
        "Share of the ROI covered by the positive part of the top channel "
        "(the original method's test).", "the seed repository"),
)

SCORE_KEYS: tuple[str, ...] = tuple(s.key for s in SCORES)
SCORE_HELP: dict[str, str] = {s.key: s.help for s in SCORES}
BY_KEY: dict[str, ScoreDefinition] = {s.key: s for s in SCORES}
#: column headers of narrow tables (the viewer's score table)
SHORT_LABELS: dict[str, str] = {
    "relevance_mass": "mass", "relevance_rank": "rank", "iou_top_n": "IoU top-N",
    "dice": "Dice", "iou": "IoU", "pointing_game": "pointing", "auroc": "AUROC",
    "p_value": "p", "seed_overlap": "seed"}
