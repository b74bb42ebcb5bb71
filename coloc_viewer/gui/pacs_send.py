"""File → Send results to PACS…: the ROI set as a DICOM SEG and the scores of the current map
as a DICOM SR (TID 1500, ``coloc_viewer.report.dicom_sr``), sent with STOW-RS or C-STORE in a
worker. Without scores (nothing analysed yet) only the SEG goes."""

from __future__ import annotations

import copy
import logging
import tempfile
from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from coloc_viewer.gui.workers import TaskRunner
from coloc_viewer.pacs.servers import ServerConfig, load_servers
from coloc_viewer.viewer.study import source_files_ready

log = logging.getLogger(__name__)

__all__ = ["SendResultsDialog", "results_from_window", "send_results", "write_results"]


def results_from_window(window: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(SR score rows of the shown map, per ROI; the model info) from the main window's
    state; no rows when nothing was analysed."""
    from coloc_viewer.report.dicom_sr import card_hash
    from coloc_viewer.viewer.verdict import describe

    state = window.state
    model = window.current_model()
    volume_scores = dict(getattr(state, "volume_scores", None) or {})
    scores = volume_scores or dict(state.scores or {})
    if model is None or not scores:
        return [], {}
    z = None if volume_scores else state.slice_index
    rows = [{"roi": name, "map": str(state.overlay.choice), "slice": z, **sc,
             "verdict": describe(sc)} for name, sc in scores.items() if sc]
    settings = state.analysis
    info = {"name": model.name, "card_hash": card_hash(model.card),
            "layer": getattr(settings, "layer", None), "rank": getattr(settings, "rank", None)}
    return rows, info


def write_results(volume: Any, roiset: Any, rows: list[dict[str, Any]],
                  model_info: dict[str, Any], folder: Path, with_sr: bool = True) -> list[Path]:
    """Write the SEG (and the SR when ``with_sr`` and there are rows) into ``folder``."""
    from coloc_viewer.imaging.roi_io import save_rois

    source_files_ready(volume)
    if with_sr and rows:
        from coloc_viewer.report.dicom_sr import build_dicom_results

        seg, sr = build_dicom_results(volume, roiset, rows, model_info)
        out = [folder / "rois.seg.dcm", folder / "scores.sr.dcm"]
        seg.save_as(out[0], enforce_file_format=True)
        sr.save_as(out[1], enforce_file_format=True)
        return out
    return [save_rois(roiset, folder / "rois.seg.dcm", like=volume)]


def send_results(server: ServerConfig, volume: Any, roiset: Any, rows: list[dict[str, Any]],
                 model_info: dict[str, Any], with_sr: bool = True) -> list[str]:
    """Write and send (in a worker); the names of the objects sent."""
    from coloc_viewer.pacs.retrieve import connect

    with tempfile.TemporaryDirectory(prefix="coloc-viewer-send-") as tmp:
        paths = write_results(volume, roiset, rows, model_info, Path(tmp), with_sr)
        connect(server).store(paths)
        return ["DICOM SEG" if p.name.startswith("rois") else "DICOM SR" for p in paths]


class SendResultsDialog(QDialog):
    """Choose a server and what to send; Send runs in a worker."""

    sent = Signal(str)  # the sentence shown on success
    failed = Signal(str)

    def __init__(self, window: Any, parent: QWidget | None = None,
                 servers: list[ServerConfig] | None = None):
        super().__init__(parent if parent is not None else window)
        self.setWindowTitle("Send results to PACS")
        self.window_ = window
        self.runner = TaskRunner(parent=self)
        try:
            self.servers = servers if servers is not None else load_servers()
        except Exception as err:  # noqa: BLE001 - a broken settings file is one line
            self.servers = []
            log.info("PACS settings unreadable: %s", err.__class__.__name__)
        self.server_box = QComboBox()
        for s in self.servers:
            self.server_box.addItem(s.name)
        self.rows, self.model_info = results_from_window(window)
        self.seg_box = QCheckBox("ROIs as DICOM SEG")
        self.seg_box.setChecked(True)
        self.seg_box.setEnabled(False)  # the SR references the SEG: it always goes
        self.sr_box = QCheckBox("Scores as DICOM SR (TID 1500)")
        self.sr_box.setChecked(bool(self.rows))
        self.sr_box.setEnabled(bool(self.rows))
        if not self.rows:
            self.sr_box.setToolTip("analyse a slice first: there are no scores to send")
        form = QFormLayout()
        form.addRow("Server", self.server_box)
        form.addRow("", self.seg_box)
        form.addRow("", self.sr_box)
        self.status = QLabel("" if self.servers else "No PACS configured (File → PACS "
                             "servers…)")
        self.status.setWordWrap(True)
        self.send_button = QPushButton("Send")
        self.send_button.setEnabled(bool(self.servers))
        self.send_button.clicked.connect(self.send)
        close = QPushButton("Close")
        close.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addWidget(self.status, 1)
        buttons.addWidget(self.send_button)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        self.sent.connect(self.status.setText)
        self.failed.connect(lambda t: self.status.setText(
            f"<span style='color:#d04040'>{t}</span>"))

    def send(self) -> None:
        state = self.window_.state
        i = self.server_box.currentIndex()
        if state.volume is None or state.rois is None or not 0 <= i < len(self.servers):
            self.failed.emit("open a study and draw an ROI first")
            return
        if not any(r.mask.any() for r in state.rois):
            self.failed.emit("every ROI is empty: nothing to send")
            return
        server = self.servers[i]
        roiset = copy.deepcopy(state.rois)  # the reader may keep drawing meanwhile
        self.send_button.setEnabled(False)
        self.status.setText(f"Sending to {server.label}…")
        self.runner.submit(
            "send", send_results, server, state.volume, roiset, self.rows, self.model_info,
            self.sr_box.isChecked(),
            on_result=lambda names: self.sent.emit(f"Sent {' and '.join(names)} to "
                                                   f"{server.label}"),
            on_error=lambda err: self.failed.emit(str(err)),
            on_done=lambda: self.send_button.setEnabled(True))

    def done(self, result: int) -> None:  # noqa: D401 - Qt override
        self.runner.shutdown(5000)
        super().done(result)


def send_to_pacs(window: Any) -> SendResultsDialog | None:
    if window.state.volume is None:
        window.show_error("Nothing to send", "open a study and draw an ROI first")
        return None
    dialog = SendResultsDialog(window)
    dialog.setModal(False)
    dialog.show()
    window._pacs_send_dialog = dialog  # noqa: SLF001 - keep it alive while shown
    return dialog
