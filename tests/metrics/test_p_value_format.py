"""One p-value format for every view (score panel, compare table, verdict, reports)."""

from __future__ import annotations

from coloc_viewer.metrics.definitions import format_p_value, p_phrase
from coloc_viewer.report.definitions import format_score as report_format
from coloc_viewer.viewer.live_scores import format_score as panel_format
from coloc_viewer.viewer.verdict import describe


def test_three_decimals_or_below_the_floor():
    assert [format_p_value(p) for p in (0.47, 0.374, 0.00199, 0.05, 0.0004)] == \
        ["0.470", "0.374", "0.002", "0.050", "< 0.001"]
    assert p_phrase(0.0004) == "p < 0.001" and p_phrase(0.2) == "p = 0.200"


def test_panel_report_and_verdict_agree():
    for p in (0.47, 0.00199, 0.0004):
        shown = format_p_value(p)
        assert panel_format("p_value", p) == report_format("p_value", p) == shown
        phrase = describe({"relevance_mass": 0.3, "relevance_rank": 0.0, "p_value": p,
                           "pointing_game": False, "n_roi": 10})
        assert p_phrase(p) in phrase
