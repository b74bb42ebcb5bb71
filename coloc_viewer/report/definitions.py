"""Plain-language definitions of the co-localization scores for reports and CSVs (from the
one vocabulary, :mod:`coloc_viewer.metrics.definitions`).

The exact formulas are in DESIGN.md section 4; S is the saliency map on the image grid,
P = max(S, 0), R the ROI and N its number of pixels.
"""

from __future__ import annotations

from coloc_viewer.metrics.definitions import MISSING, SCORES
from coloc_viewer.vocab import LiveMapping


def _definitions() -> dict[str, tuple[str, str]]:
    own = ("", "this project", "the seed repository")  # no citation after these
    return {d.key: (d.label, d.definition + ("" if d.source in own else f" ({d.source})"))
            for d in SCORES}


#: key -> (label, definition with its citation), a live view of the score registry
SCORE_DEFINITIONS: LiveMapping = LiveMapping(_definitions)

NULL_NOTE = ("An empty ROI or a map without positive values leaves the affected scores "
             f"undefined (shown as '{MISSING}', JSON null).")
