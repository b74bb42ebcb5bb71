"""The ROI list's colour swatch keeps a light frame, so an ROI whose colour is the selection's
(blue) stays visible on the selected row."""

from __future__ import annotations


def test_swatch_is_the_roi_colour_in_a_light_frame(qtbot, window, volume):
    window.set_volume(volume)
    window.roi_panel.add("blue one")
    roi = window.state.rois["blue one"]
    window.state.rois.set_property("blue one", "color", (40, 90, 220))
    window.state.rois_changed()
    item = window.roi_panel.list.item(window.state.rois.index(roi.name))
    image = item.icon().pixmap(16, 16).toImage()
    centre, edge = image.pixelColor(8, 8), image.pixelColor(0, 0)
    assert (centre.red(), centre.green(), centre.blue()) == (40, 90, 220)
    assert min(edge.red(), edge.green(), edge.blue()) > 200
