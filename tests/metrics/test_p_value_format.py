"""One score format for every view (score panel, compare table, verdict, reports): p-values
with three decimals or "< 0.001", undefined scores as "n/a"."""

from __future__ import annotations

from coloc_viewer.metrics.definitions import MISSING, format_p_value, format_score, p_phrase
from coloc_viewer.report.definitions import NULL_NOTE
from coloc_viewer.viewer.verdict import describe


def test_three_decimals_or_below_the_floor():
    assert [format_p_value(p) for p in (0.47, 0.374, 0.00199, 0.05, 0.0004)] == \
        ["0.470", "0.374", "0.002", "0.050", "< 0.001"]
    assert p_phrase(0.0004) == "p < 0.001" and p_phrase(0.2) == "p = 0.200"


def test_scores_undefined_counts_and_flags():
    assert format_score("relevance_mass", None) == MISSING == "n/a"
    assert f"'{MISSING}'" in NULL_NOTE  # the reports' note names what the tables show
    assert [format_score(k, v) for k, v in (("relevance_mass", 0.12345), ("n_roi", 10),
                                             ("pointing_game", True), ("p_value", 0.0004))] \
        == ["0.123", "10", "yes", "< 0.001"]


def test_score_and_verdict_agree():
    for p in (0.47, 0.00199, 0.0004):
        assert format_score("p_value", p) == format_p_value(p)
        phrase = describe({"relevance_mass": 0.3, "relevance_rank": 0.0, "p_value": p,
                           "pointing_game": False, "n_roi": 10})
        assert p_phrase(p) in phrase
