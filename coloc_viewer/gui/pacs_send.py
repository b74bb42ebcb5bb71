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

from coloc_viewer.gui.placement import move_to_corner
from coloc_viewer.gui.workers import TaskRunner
from coloc_viewer.gui.wrapped_label import WrappedLabel, error_html
from coloc_viewer.pacs.resolve import server_part
from coloc_viewer.pacs.servers import ServerConfig, load_servers
from coloc_viewer.viewer.dicom_results import write_dicom_results
from coloc_viewer.viewer.study import save_rois_to

log = logging.getLogger(__name__)

__all__ = ["SendResultsDialog", "results_from_window", "send_results", "sent_registry",
           "write_results"]


def sent_registry(window: Any) -> set[str]:
    """The servers the window's current results were sent to: kept on the window, so a
    Send dialog opened again knows them too; emptied when the ROIs or the scores change
    (new results may go anywhere)."""
    sent = getattr(window, "pacs_sent_to", None)
    if sent is None:
        sent = window.pacs_sent_to = set()
        events = window.state.events
        for event in (events.scores, events.roi_list, events.rois, events.volume):
            event.connect(lambda *_a: sent.clear())
    return sent


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
    """Write the SEG (and the SR when ``with_sr`` and there are rows) into ``folder``, on
    the stored images of the shown ``volume``."""
    if with_sr and rows:
        return write_dicom_results(volume, roiset, rows, model_info, folder)
    path = folder / "rois.seg.dcm"
    save_rois_to(roiset, path, volume)
    return [path]


def send_results(server: ServerConfig, volume: Any, roiset: Any, rows: list[dict[str, Any]],
                 model_info: dict[str, Any], with_sr: bool = True) -> list[str]:
    """Write and send (in a worker); the names of the objects sent."""
    from coloc_viewer.pacs.retrieve import connect

    with tempfile.TemporaryDirectory(prefix="coloc-viewer-send-") as tmp:
        paths = write_results(volume, roiset, rows, model_info, Path(tmp), with_sr)
        connect(server).store(paths)
        return ["DICOM SEG" if p.name.endswith(".seg.dcm") else "DICOM SR" for p in paths]


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
        came_from = self.server_box.findText(server_part(window.study_address) or "")
        if came_from >= 0:  # the server the study came from, first
            self.server_box.setCurrentIndex(came_from)
        self.server_box.currentIndexChanged.connect(lambda _i: self._changed())
        self.rows: list[dict[str, Any]] = []
        self.model_info: dict[str, Any] = {}
        self.seg_box = QCheckBox("ROIs as DICOM SEG (always: the SR refers to it)")
        self.seg_box.setChecked(True)
        self.seg_box.setEnabled(False)
        self.sr_box = QCheckBox("Scores as DICOM SR (TID 1500)")
        self.sr_hint = QLabel("")  # why there is no SR to send
        self.sr_hint.setStyleSheet("color: palette(mid)")
        form = QFormLayout()
        form.addRow("Server", self.server_box)
        form.addRow("", self.seg_box)
        form.addRow("", self.sr_box)
        form.addRow("", self.sr_hint)
        self.status = WrappedLabel("" if self.servers else "No PACS configured (File → PACS "
                                   "servers…)")
        self.send_button = QPushButton("Send")
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
        self._sending = False
        self._sent_to = sent_registry(window)  # servers these very results went to
        self._refresh_scores()
        # the dialog stays open while the reader works: scores and ROIs follow the window
        events = window.state.events
        self._listening = [(events.scores, self._scores_changed),
                           (events.roi_list, self._scores_changed),
                           (events.rois, self._scores_changed)]
        for event, callback in self._listening:
            event.connect(callback)
        if self.servers:
            self._changed()  # "Already sent to ..." when these results went there before
        self.sent.connect(self.status.setText)
        self.failed.connect(lambda t: self.status.setText(error_html(t)))

    def _refresh_scores(self) -> None:
        self.rows, self.model_info = results_from_window(self.window_)
        self.sr_box.setEnabled(bool(self.rows))
        self.sr_box.setChecked(bool(self.rows))
        self.sr_hint.setText("" if self.rows else "No scores yet: analyse a slice (F5) to "
                             "send them as an SR.")
        self._update_button()

    def _scores_changed(self, _value: Any = None) -> None:
        self._refresh_scores()
        self._changed()

    def _server_name(self) -> str:
        return self.server_box.currentText()

    def _changed(self) -> None:
        """The server, the ROIs or the scores changed: say whether these results were sent
        to the chosen server already, and drop an error about the previous choice."""
        if not self._sending:
            name = self._server_name()
            self.status.setText(f"Already sent to {name}" if name in self._sent_to else "")
        self._update_button()

    def _update_button(self) -> None:
        sent = self._server_name() in self._sent_to
        self.send_button.setEnabled(bool(self.servers) and not self._sending and not sent)
        self.send_button.setToolTip("sent there: change the ROIs or the scores to send "
                                    "again" if sent else "")

    def _finished(self, server: str | None) -> None:
        self._sending = False
        if server is not None:
            self._sent_to.add(server)
        self._update_button()

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
        self._sending = True
        self._update_button()
        self.status.setText(f"Sending to {server.label}…")

        def sent(names: list[str]) -> None:
            self._finished(server.name)
            log.info("results sent to %s: %s", server.label, ", ".join(names))
            self.sent.emit(f"Sent {' and '.join(names)} to {server.label}")

        def failed(err: BaseException) -> None:
            self._finished(None)
            self.failed.emit(str(err))

        self.runner.submit(
            "send", send_results, server, state.volume, roiset, self.rows, self.model_info,
            self.sr_box.isChecked(), on_result=sent, on_error=failed)

    def done(self, result: int) -> None:  # noqa: D401 - Qt override
        for event, callback in self._listening:
            event.disconnect(callback)
        self._listening = []
        self.runner.shutdown(5000)
        super().done(result)


def send_to_pacs(window: Any) -> SendResultsDialog | None:
    if window.state.volume is None:
        window.show_error("Nothing to send", "open a study and draw an ROI first")
        return None
    dialog = SendResultsDialog(window)
    dialog.setModal(False)
    dialog.show()
    move_to_corner(dialog, window)  # not over the ROI just drawn
    window._pacs_send_dialog = dialog  # noqa: SLF001 - keep it alive while shown
    return dialog
