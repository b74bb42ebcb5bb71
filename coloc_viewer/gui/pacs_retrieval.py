"""The retrieval half of File → Open from PACS… (a mixin of ``gui.pacs_dialog``'s dialog):
Retrieve with progress and Cancel, the compact dialog while it runs, the first slice that
arrives (``gui.pacs_preview``), a series decoded while it streams in
(``pacs.retrieve_volume``), a whole study, or a DICOM SEG to load as ROIs."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from coloc_viewer.gui.pacs_preview import preview_slice
from coloc_viewer.gui.pacs_tables import loads_as_rois, recent_entry
from coloc_viewer.pacs.cache import open_cache
from coloc_viewer.pacs.errors import RetrievalCancelled
from coloc_viewer.pacs.retrieve import (
    Progress,
    connect,
    retrieve_series,
    retrieve_study,
    retrieve_volume,
)

__all__ = ["COMPACT_WIDTH", "PROGRESS_INTERVAL", "RetrievalMixin", "WAITING_TEXT"]

COMPACT_WIDTH = 420  # pixels: the dialog while a retrieval runs (progress, status, Cancel)
PROGRESS_INTERVAL = 0.1  # seconds between progress updates from a retrieval
WAITING_TEXT = "Waiting: this series is being retrieved by another window or program…"


class RetrievalMixin:
    """Needs the dialog's widgets, signals, runner and selection (``OpenFromPacsDialog``)."""

    def retrieve(self) -> None:
        """The selected series (or, with none selected, the whole study) into the cache."""
        server, study, series = self.server(), self.selected_study(), self.selected_series()
        if server is None or study is None:
            self.failed.emit("select a study first")
            return
        self.cancel_event = threading.Event()
        cancel = self.cancel_event
        self.recent = recent_entry(server, study, series)
        as_rois = self._as_rois = series is not None and loads_as_rois(series)
        self._preview_sent = False
        total = series.n_instances if series is not None else study.n_instances
        self.progress.setRange(0, total or 0)
        self.progress.setValue(0)
        self.progress.setVisible(True)
        self.retrieve_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.status.setText("Retrieving…")
        self.volume = None
        self._set_compact(True)
        self.started.emit(total)

        last = [0.0]
        self._latest = self._shown = None

        def report(p: Progress) -> None:  # in the retrieval thread
            if p.path is not None and not self._preview_sent:
                self._preview_sent = True
                shown = preview_slice(p.path)
                if shown is not None:
                    self.previewed.emit(shown)
            self._latest = p
            now = time.monotonic()
            # a few updates a second: a repaint per instance would slow the retrieval (the
            # timer shows the last one when the transfer pauses between them)
            if now - last[0] >= PROGRESS_INTERVAL or p.cached or p.waiting or p.done == 1 or \
                    (p.total is not None and p.done >= p.total):
                last[0] = now
                self._shown = p
                self.progressed.emit(p)

        self._progress_timer.start()

        listed = [r for r in self.series if r.study_uid == study.study_uid] or None

        def work() -> tuple[Path, Any]:
            client, cache = connect(server), open_cache()
            if as_rois:  # a SEG: the ROIs of a series, loaded on the one that is open
                return retrieve_series(client, cache, study.study_uid, series.series_uid,
                                       report, cancel, total=series.n_instances), None
            if series is not None:
                # the volume is shown first, the instances are written to the cache then
                return retrieve_volume(client, cache, study.study_uid, series.series_uid,
                                       report, cancel, total=series.n_instances,
                                       on_cached=lambda err: self.cached.emit(
                                           "" if err is None else str(err)))
            return retrieve_study(client, cache, study.study_uid, report, cancel,
                                  series=listed), None

        self.runner.submit("retrieve", work, on_result=self._retrieved,
                           on_error=self._retrieve_failed, on_done=self._retrieve_done)

    def _on_progress(self, p: Progress) -> None:
        if p.cached:
            self.progress.setRange(0, 1)  # full, not an empty "0%"
            self.progress.setValue(1)
            self.status.setText("In the local cache already")
            return
        if p.waiting:
            self.status.setText(WAITING_TEXT)
            return
        if p.total:
            self.progress.setRange(0, p.total)
        self.progress.setValue(p.done)
        self.status.setText(f"Retrieved {p.done}" + (f" of {p.total}" if p.total else "")
                            + " instances")

    def cancel(self) -> None:
        self.cancel_event.set()
        self.status.setText("Cancelling…")

    def _retrieved(self, result: tuple[Path, Any]) -> None:
        folder, self.volume = result
        self.status.setText("Retrieved")
        if self._as_rois:
            series = self.selected_series()
            self.rois_retrieved.emit(str(folder), series.description if series else "SEG")
            return
        self.retrieved.emit(str(folder))

    def _retrieve_failed(self, err: Exception) -> None:
        self.stopped.emit()
        if isinstance(err, RetrievalCancelled):
            self.status.setText("Cancelled: nothing kept")
        else:
            self.failed.emit(str(err))

    def _show_latest(self) -> None:
        """The last progress of the retrieval thread, if it was not shown (GUI thread)."""
        latest = self._latest
        if latest is not None and latest is not self._shown:
            self._shown = latest
            self.progressed.emit(latest)

    def _set_compact(self, compact: bool) -> None:
        """While a retrieval runs only the progress and buttons show (the first slice is on
        the main canvas), so the dialog can sit in a corner and leave the canvas in view;
        the search comes back when the retrieval stops without opening a series."""
        if compact == self.search_box.isHidden():
            return
        if compact:
            self._full_size = self.size()
        for widget in (self.search_box, self.study_table, self.series_table,
                       self.retrieve_button):
            widget.setVisible(not compact)
        if compact:
            self.adjustSize()
            self.resize(COMPACT_WIDTH, self.minimumSizeHint().height())
        else:
            self.resize(self._full_size)

    def _retrieve_done(self) -> None:
        self._set_compact(False)
        self._progress_timer.stop()
        self.retrieve_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.progress.setVisible(False)

