"""The central slice view: pyqtgraph image in millimetres, overlay, ROIs and the mouse tools.

View coordinates are millimetres in the slice plane (x to the right along columns, y down
along rows), so the aspect ratio follows the pixel spacing and the brush cursor is a true
circle of its radius in mm. Pixel (row, col) covers [col*sx, (col+1)*sx) x [row*sy, ...).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPen, QTransform
from PySide6.QtWidgets import (
    QGraphicsEllipseItem,
    QGraphicsItem,
    QHBoxLayout,
    QLabel,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from coloc_viewer.gui.canvas_parts import ColorBar, ImageViewBox
from coloc_viewer.viewer.display import (
    apply_window,
    mask_outline,
    normalise_map,
    orientation_labels,
    overlay_rgba,
    rois_rgba,
    value_units,
)
from coloc_viewer.viewer.state import ViewerState
from coloc_viewer.viewer.tools import BRUSH_TOOLS


class SliceView(QWidget):
    """Slice image + overlay + ROI fill/outline + tool interaction, observing a ViewerState."""

    hovered = Signal(object)  # dict(row, col, value, x_mm, y_mm) or None
    polygon_changed = Signal(int)

    def __init__(self, state: ViewerState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.graphics = pg.GraphicsView(background=QColor(0, 0, 0))
        self.graphics.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.vb = ImageViewBox(self)
        self.graphics.setCentralItem(self.vb)
        self.image_item = pg.ImageItem(axisOrder="row-major")
        self.overlay_item = pg.ImageItem(axisOrder="row-major")
        self.contour_item = pg.ImageItem(axisOrder="row-major")
        self.roi_item = pg.ImageItem(axisOrder="row-major")
        for z, item in enumerate((self.image_item, self.overlay_item, self.contour_item,
                                  self.roi_item)):
            item.setZValue(z)
            self.vb.addItem(item)
        # the image and the map change rarely: while the brush repaints the ROI layer above
        # them, Qt blits their cached pixmaps instead of rescaling 512 x 512 images
        for item in (self.image_item, self.overlay_item, self.contour_item):
            item.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.cursor_item = QGraphicsEllipseItem()
        pen = QPen(QColor(0, 230, 255))
        pen.setCosmetic(True)
        pen.setWidthF(1.5)
        self.cursor_item.setPen(pen)
        self.cursor_item.setZValue(10)
        self.cursor_item.hide()
        self.vb.addItem(self.cursor_item, ignoreBounds=True)
        self.polygon_item = pg.PlotCurveItem(pen=pg.mkPen((255, 255, 0), width=2))
        self.polygon_item.setZValue(11)
        self.vb.addItem(self.polygon_item, ignoreBounds=True)
        self.polygon_rc: list[tuple[float, float]] = []
        self.show_rois = True
        self._roi_rgba: np.ndarray | None = None
        self._last_dab: tuple[float, float] | None = None
        self._spacing = (1.0, 1.0)  # (row, col) mm

        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setToolTip("Slice (wheel, PgUp/PgDn, arrow keys)")
        self.slider.valueChanged.connect(self.state.set_slice)
        self.slice_label = QLabel("")
        self.slice_label.setMinimumWidth(170)
        self.colorbar = ColorBar()
        self.orient = {side: self._make_orientation_label() for side in
                       ("left", "right", "top", "bottom")}

        row = QHBoxLayout()
        row.addWidget(self.graphics, 1)
        row.addWidget(self.colorbar)
        bottom = QHBoxLayout()
        bottom.addWidget(self.slider, 1)
        bottom.addWidget(self.slice_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row, 1)
        layout.addLayout(bottom)

        self.graphics.scene().sigMouseMoved.connect(self._mouse_moved)
        ev = state.events
        ev.volume.connect(self._on_volume)
        ev.slice.connect(self._on_slice)
        ev.window.connect(self._on_window)
        ev.rois.connect(self._draw_rois)
        ev.overlay.connect(self._draw_overlay)
        ev.explanation.connect(self._draw_overlay)
        ev.tool.connect(self._on_tool)

    # -- coordinates ---------------------------------------------------------------------
    def view_to_index(self, point: QPointF) -> tuple[float, float]:
        """(row, col) of a view point, pixel centres at integers."""
        sy, sx = self._spacing
        return point.y() / sy - 0.5, point.x() / sx - 0.5

    def index_to_view(self, row: float, col: float) -> QPointF:
        sy, sx = self._spacing
        return QPointF((col + 0.5) * sx, (row + 0.5) * sy)

    def index_to_viewport(self, row: float, col: float) -> QPointF:
        """Position in the GraphicsView's viewport of pixel (row, col): for mouse events."""
        scene = self.vb.mapViewToScene(self.index_to_view(row, col))
        return QPointF(self.graphics.mapFromScene(scene))

    # -- state observers -----------------------------------------------------------------
    def _on_volume(self, _value: object = None) -> None:
        vol = self.state.volume
        if vol is None:
            return
        self._spacing = (vol.spacing[1], vol.spacing[2])
        sy, sx = self._spacing
        transform = QTransform.fromScale(sx, sy)
        for item in (self.image_item, self.overlay_item, self.contour_item, self.roi_item):
            item.setTransform(transform)
        self.slider.blockSignals(True)
        self.slider.setRange(0, vol.shape[0] - 1)
        self.slider.blockSignals(False)
        labels = orientation_labels(vol.direction)
        for side, label in self.orient.items():
            label.setText(labels[side])
        self.cancel_polygon()
        self._on_slice()
        self.vb.setRange(QRectF(0, 0, vol.shape[2] * sx, vol.shape[1] * sy), padding=0.02)
        self._on_tool()

    def _on_slice(self, _value: object = None) -> None:
        if getattr(self, "_last_scene_pos", None) is not None:
            self._mouse_moved(self._last_scene_pos)
        vol = self.state.volume
        if vol is None:
            return
        z = self.state.slice_index
        self._show_grey()
        self.slider.blockSignals(True)
        self.slider.setValue(z)
        self.slider.blockSignals(False)
        self.slice_label.setText(f"slice {z + 1}/{vol.shape[0]}  "
                                 f"{vol.slice_position_mm(z):.1f} mm"
                                 + ("  (loading)" if z in self.state.loading else ""))
        self.cancel_polygon()
        self._draw_rois()
        self._draw_overlay()

    def displayed_grey(self) -> np.ndarray:
        """The 8-bit grey image on screen: the slice through the window (MONOCHROME1
        inverted); black while the slice is still being decoded."""
        vol = self.state.volume
        z = self.state.slice_index
        if z in self.state.loading:
            return np.zeros(vol.shape[1:], np.uint8)
        return apply_window(vol.voxels[z], self.state.window,
                            invert=bool(vol.metadata.get("monochrome1")))

    def _show_grey(self) -> None:
        # windowed here in numpy: pyqtgraph's float rescale path is several times slower
        self.image_item.setImage(self.displayed_grey(), autoLevels=False, levels=(0, 255))

    def _on_window(self, _value: object = None) -> None:
        if self.state.volume is not None:
            self._show_grey()

    def _on_tool(self, _value: object = None) -> None:
        tool = self.state.tools.tool
        self.cursor_item.setVisible(tool in BRUSH_TOOLS and self.cursor_item.isVisible())
        r = self.state.tools.brush_radius_mm
        c = self.cursor_item.rect().center()
        self.cursor_item.setRect(QRectF(c.x() - r, c.y() - r, 2 * r, 2 * r))
        cross = tool in (*BRUSH_TOOLS, "polygon")
        self.graphics.viewport().setCursor(Qt.CursorShape.CrossCursor if cross
                                           else Qt.CursorShape.ArrowCursor)
        if tool != "polygon":
            self.cancel_polygon()

    def _draw_rois(self, _value: object = None) -> None:
        rois = self.state.rois
        if rois is None or self.state.volume is None or not self.show_rois:
            self._roi_rgba = None
            self.roi_item.clear()
            return
        z = self.state.slice_index
        dirty = self.state.dirty_region
        if dirty is not None and dirty[0] == z and self._roi_rgba is not None:
            self._redraw_roi_box(dirty[1], dirty[2])
            return
        layers = [(r.mask[z], tuple(int(c) for c in r.color)) for r in rois if r.visible]
        rgba = rois_rgba(layers)
        if rgba is None:
            rgba = np.zeros(self.state.volume.shape[1:] + (4,), np.uint8)
        self._roi_rgba = rgba
        self.roi_item.setImage(rgba, autoLevels=False, levels=(0, 255))
        # a fully transparent 512 x 512 layer still costs a scaled drawImage per repaint
        self.roi_item.setVisible(any(m.any() for m, _ in layers))

    def _redraw_roi_box(self, rows: slice, cols: slice) -> None:
        """Recomposite only the edited box (plus a one-pixel rim for the outline)."""
        h, w = self._roi_rgba.shape[:2]
        r0, r1 = max(rows.start - 2, 0), min(rows.stop + 2, h)
        c0, c1 = max(cols.start - 2, 0), min(cols.stop + 2, w)
        z = self.state.slice_index
        layers = [(r.mask[z, r0:r1, c0:c1], tuple(int(c) for c in r.color))
                  for r in self.state.rois if r.visible]
        box = rois_rgba(layers)
        # rows/cols at the crop border lack their outside neighbours: keep the inner part
        i0, i1 = (1 if r0 > 0 else 0), (r1 - r0) - (1 if r1 < h else 0)
        j0, j1 = (1 if c0 > 0 else 0), (c1 - c0) - (1 if c1 < w else 0)
        if box is None:
            box = np.zeros((r1 - r0, c1 - c0, 4), np.uint8)
        self._roi_rgba[r0 + i0:r0 + i1, c0 + j0:c0 + j1] = box[i0:i1, j0:j1]
        self.roi_item.setImage(self._roi_rgba, autoLevels=False, levels=(0, 255))
        self.roi_item.setVisible(True)

    def _draw_overlay(self, _value: object = None) -> None:
        saliency = self.state.current_map()
        ov = self.state.overlay
        if saliency is None or not ov.visible:
            self.overlay_item.clear()
            self.contour_item.clear()
            self.colorbar.set_range(None, None)
            return
        ready = self.state.prepared_overlay()  # coloured in the worker
        if ready is not None:
            rgba, low, high = ready
        else:
            low, high = self.state.display_range() or (None, None)
            scaled, low, high = normalise_map(saliency, low, high)
            rgba = overlay_rgba(scaled, ov.opacity)
        self.overlay_item.setImage(rgba, autoLevels=False, levels=(0, 255))
        self.colorbar.set_range(low, high)
        if ov.contour:
            peak = float(np.max(saliency))
            edge = mask_outline(saliency >= ov.threshold * peak) if peak > 0 else None
            if edge is not None and edge.any():
                rgba = np.zeros(edge.shape + (4,), np.uint8)
                rgba[edge] = (255, 255, 255, 230)
                self.contour_item.setImage(rgba, autoLevels=False, levels=(0, 255))
                return
        self.contour_item.clear()

    def toggle_rois(self) -> None:
        """H: show or hide every ROI drawing (the ROIs themselves stay)."""
        self.show_rois = not self.show_rois
        self._draw_rois()

    def reset_view(self) -> None:
        vol = self.state.volume
        if vol is not None:
            sy, sx = self._spacing
            self.vb.setRange(QRectF(0, 0, vol.shape[2] * sx, vol.shape[1] * sy), padding=0.02)

    # -- mouse tools ---------------------------------------------------------------------
    def _mouse_moved(self, scene_pos: QPointF) -> None:
        vol = self.state.volume
        self._last_scene_pos = scene_pos  # the readout follows slice changes too
        if vol is None:
            return
        view_pos = self.vb.mapSceneToView(scene_pos)
        r = self.state.tools.brush_radius_mm
        self.cursor_item.setRect(QRectF(view_pos.x() - r, view_pos.y() - r, 2 * r, 2 * r))
        self.cursor_item.setVisible(self.state.tools.tool in BRUSH_TOOLS)
        row, col = (int(np.floor(v + 0.5)) for v in self.view_to_index(view_pos))
        if 0 <= row < vol.shape[1] and 0 <= col < vol.shape[2]:
            value = float(vol.voxels[self.state.slice_index, row, col])
            lps = vol.index_to_lps((self.state.slice_index, row, col))
            self.hovered.emit({"row": row, "col": col, "value": value,
                               "units": value_units(vol.metadata), "lps": lps})
        else:
            self.hovered.emit(None)

    def left_drag(self, ev) -> None:
        tool = self.state.tools.tool
        shift = bool(ev.modifiers() & Qt.KeyboardModifier.ShiftModifier)
        if tool == "wl" or shift:
            delta = ev.screenPos() - ev.lastScreenPos()
            self.state.drag_window(delta.x(), delta.y())
            return
        here = self.view_to_index(self.vb.mapSceneToView(ev.scenePos()))
        if tool in BRUSH_TOOLS:
            erase = tool == "eraser"
            if ev.isStart():
                self.state.begin_stroke()
                start = self.view_to_index(self.vb.mapSceneToView(
                    ev.buttonDownScenePos(Qt.MouseButton.LeftButton)))
                self._dab(start, erase)
            self._stroke_to(here, erase)
            if ev.isFinish():
                self._last_dab = None
                self.state.end_stroke()
        elif tool == "polygon":
            if ev.isStart():
                self.polygon_rc = []
            self.polygon_rc.append(here)  # drag = lasso
            self._draw_polygon()
            if ev.isFinish():
                self.close_polygon()

    def left_click(self, ev) -> None:
        tool = self.state.tools.tool
        here = self.view_to_index(self.vb.mapSceneToView(ev.scenePos()))
        if tool in BRUSH_TOOLS:
            self.state.begin_stroke()
            self._dab(here, tool == "eraser")
            self._last_dab = None
            self.state.end_stroke()
        elif tool == "polygon":
            if ev.double():
                self.close_polygon()
            else:
                self.polygon_rc.append(here)
                self._draw_polygon()

    def _dab(self, rc: tuple[float, float], erase: bool) -> None:
        self.state.dab(rc[0], rc[1], erase=erase)
        self._last_dab = rc

    def _stroke_to(self, rc: tuple[float, float], erase: bool) -> None:
        """Dabs from the last dab to ``rc`` at most half a radius apart (no gaps)."""
        if self._last_dab is None:
            self._dab(rc, erase)
            return
        sy, sx = self._spacing
        r0, c0 = self._last_dab
        dist_mm = float(np.hypot((rc[0] - r0) * sy, (rc[1] - c0) * sx))
        step = max(self.state.tools.brush_radius_mm / 2.0, 1e-3)
        n = int(np.ceil(dist_mm / step))
        for i in range(1, n + 1):
            t = i / n
            self._dab((r0 + t * (rc[0] - r0), c0 + t * (rc[1] - c0)), erase)

    def _draw_polygon(self) -> None:
        if not self.polygon_rc:
            self.polygon_item.setData([], [])
        else:
            pts = [self.index_to_view(r, c) for r, c in self.polygon_rc]
            xs = [p.x() for p in pts] + [pts[0].x()]
            ys = [p.y() for p in pts] + [pts[0].y()]
            self.polygon_item.setData(xs, ys)
        self.polygon_changed.emit(len(self.polygon_rc))

    def close_polygon(self) -> None:
        """Enter / double-click: fill the polygon on the active ROI."""
        points = np.asarray(self.polygon_rc, dtype=float)
        self.polygon_rc = []
        self._draw_polygon()
        if len(points) >= 3:
            self.state.fill_polygon(points)

    def cancel_polygon(self) -> None:
        """Esc: drop the polygon being drawn."""
        if self.polygon_rc:
            self.polygon_rc = []
            self._draw_polygon()

    def keyPressEvent(self, event):  # noqa: N802
        key = event.key()
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.polygon_rc:
            self.close_polygon()
        elif key == Qt.Key.Key_Escape and self.polygon_rc:
            self.cancel_polygon()
        else:
            super().keyPressEvent(event)

    # -- orientation labels --------------------------------------------------------------
    def _make_orientation_label(self) -> QLabel:
        label = QLabel(self.graphics)
        label.setStyleSheet("color: #ffd54f; font-weight: bold; font-size: 16px;"
                            " background: transparent;")
        label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        return label

    def resizeEvent(self, event):  # noqa: N802
        super().resizeEvent(event)
        w, h = self.graphics.width(), self.graphics.height()
        places = {"left": (6, h // 2 - 10), "right": (w - 30, h // 2 - 10),
                  "top": (w // 2 - 10, 4), "bottom": (w // 2 - 10, h - 26)}
        for side, (x, y) in places.items():
            self.orient[side].setGeometry(x, y, 30, 22)
