"""Plain-language definitions of the co-localization scores, for reports, CSVs and tooltips.

The exact formulas are in DESIGN.md section 4; S is the saliency map on the image grid,
P = max(S, 0), R the ROI and N its number of pixels.
"""

from __future__ import annotations

SCORE_DEFINITIONS: dict[str, tuple[str, str]] = {
    "relevance_mass": (
        "Relevance mass",
        "Fraction of the map's positive mass (sum of max(S, 0)) that falls inside the ROI. "
        "1 = all of it, the ROI's area share = what an unrelated map would get. "
        "(Arras et al. 2022)"),
    "relevance_rank": (
        "Relevance rank",
        "Take as many of the map's highest pixels as the ROI has pixels; the fraction of those "
        "that lie inside the ROI. (Arras et al. 2022; Viviano et al. 2021 'IoT')"),
    "iou_top_n": (
        "IoU of top-N",
        "Intersection over union of those N highest pixels with the ROI. "
        "(Viviano et al., ICLR 2021)"),
    "dice": (
        "Dice",
        "Dice overlap of the thresholded map (S at least t times its maximum, t = 0.5 by "
        "default) with the ROI."),
    "iou": (
        "IoU",
        "Intersection over union of the same thresholded map with the ROI."),
    "pointing_game": (
        "Pointing game",
        "Yes if a pixel where the map reaches its maximum lies inside the ROI. "
        "(Zhang et al. 2018)"),
    "auroc": (
        "AUROC",
        "Area under the ROC curve when the map's values are used to tell ROI pixels from the "
        "rest; 0.5 = chance, 1 = every ROI pixel outranks every other pixel. (Fawcett 2006)"),
    "p_value": (
        "p-value",
        "Chance of a relevance mass at least as high as observed when the ROI is moved to "
        "every other whole-pixel position inside the image: (1 + number of shifts doing as "
        "well) / (1 + number of shifts). Small = the overlap beats chance."),
    "seed_overlap": (
        "Seed overlap",
        "Share of the ROI covered by pixels where the nearest-upsampled channel is above 0 -- "
        "the test of the original feature-map method."),
}

NULL_NOTE = ("An empty ROI or a map without positive values leaves the affected scores "
             "undefined (shown as 'n/a', JSON null).")


def format_score(key: str, value: object) -> str:
    """A score for display: 3 significant decimals, p-values to 2 significant digits."""
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if key == "p_value":
            return f"{value:.2g}"
        return f"{value:.3f}"
    return str(value)
