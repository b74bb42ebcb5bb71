"""The series browser in a narrow dock: modality, slices, size and spacing stay whole (no
sideways scrolling to read the spacing); the description gives way, its end elided,
and its tooltip holds the whole text."""

from __future__ import annotations

import pytest

from coloc_viewer.imaging.inspect import scan
from coloc_viewer.resources import demo_dir

pytestmark = pytest.mark.gui


def test_short_columns_stay_whole_in_a_narrow_dock(qtbot, artifacts_dir) -> None:
    from coloc_viewer.gui.series_browser import COLUMNS, SeriesBrowser

    folder = demo_dir() / "case-01"
    infos = scan(folder)
    assert len(infos) >= 3  # T2, ADC, DWI
    browser = SeriesBrowser()
    qtbot.addWidget(browser)
    browser.resize(380, 200)
    browser.show()
    qtbot.waitExposed(browser)
    browser.set_series(str(folder), infos)
    tree = browser.tree
    header, metrics = tree.header(), tree.fontMetrics()
    qtbot.waitUntil(lambda: header.sectionSize(0) > 0)
    assert tree.horizontalScrollBar().maximum() == 0
    margin = 2 * tree.style().pixelMetric(tree.style().PixelMetric.PM_FocusFrameHMargin)
    for col in range(1, len(COLUMNS)):
        assert header.fontMetrics().horizontalAdvance(COLUMNS[col]) < header.sectionSize(col)
        for row in range(tree.topLevelItemCount()):
            text = tree.topLevelItem(row).text(col)
            assert metrics.horizontalAdvance(text) + margin <= header.sectionSize(col), text
    for row in range(tree.topLevelItemCount()):
        item = tree.topLevelItem(row)
        assert item.toolTip(0).splitlines()[0] == item.text(0)
    spacing = tree.topLevelItem(0).text(len(COLUMNS) - 1)
    assert spacing.count("×") == 2
    assert browser.grab().save(str(artifacts_dir / "series_browser_narrow.png"))
