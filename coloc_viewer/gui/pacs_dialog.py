"""File → Open from PACS…: the servers, the search (patient ID or name, accession, date
range, modality), the study and series tables (``gui.pacs_tables``); Retrieve and what
follows are ``gui.pacs_retrieval``'s. Searches and retrievals run in workers
(``gui.workers``)."""

from __future__ import annotations

import logging
import threading
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from coloc_viewer.gui.pacs_retrieval import PROGRESS_INTERVAL, RetrievalMixin
from coloc_viewer.gui.pacs_tables import (
    SEG_HINT,
    SERIES_COLUMNS,
    STUDY_COLUMNS,
    fill_table,
    loads_as_rois,
    make_table,
    not_an_image,
    series_cells,
    sorted_series,
    sorted_studies,
    study_cells,
)
from coloc_viewer.gui.workers import TaskRunner
from coloc_viewer.gui.wrapped_label import WrappedLabel, error_html
from coloc_viewer.pacs.query import Query, SeriesRow, StudyRow
from coloc_viewer.pacs.retrieve import (
    Progress,
    connect,
)
from coloc_viewer.pacs.servers import ServerConfig, load_servers

log = logging.getLogger(__name__)

__all__ = ["OpenFromPacsDialog"]



class OpenFromPacsDialog(RetrievalMixin, QDialog):
    """Search a configured server and retrieve a series (or a whole study) into the cache."""

    progressed = Signal(object)  # Progress, from the retrieval thread
    started = Signal(object)  # Retrieve pressed: the instance count (None: unknown)
    previewed = Signal(object)  # the first slice (PreviewSlice), from the retrieval thread
    retrieved = Signal(str)  # the cached folder to open (``volume``: its decoded Volume)
    rois_retrieved = Signal(str, str)  # a DICOM SEG series' folder, its description
    stopped = Signal()  # the retrieval was cancelled or failed
    # the series shown is now in the cache (""), or could not be kept there (the reason);
    # emitted from the caching thread, after ``retrieved``
    cached = Signal(str)
    failed = Signal(str)  # a one-line error shown in the dialog
    searched = Signal(int)  # studies found (tests wait on it)
    series_listed = Signal(int)

    def __init__(self, parent: QWidget | None = None, servers: list[ServerConfig] | None = None):
        super().__init__(parent)
        self.setWindowTitle("Open from PACS")
        self.resize(1000, 720)  # room for about ten studies and six series
        self.runner = TaskRunner(parent=self)
        self._latest: Progress | None = None  # set by the retrieval thread
        self._shown: Progress | None = None
        self._progress_timer = QTimer(self)
        self._progress_timer.setInterval(int(PROGRESS_INTERVAL * 1000))
        self._progress_timer.timeout.connect(self._show_latest)
        self.cancel_event = threading.Event()
        self.studies: list[StudyRow] = []
        self.series: list[SeriesRow] = []
        self._preview_sent = False
        self.volume: Any = None  # the retrieved series' Volume (decoded while retrieving)
        self._as_rois = False  # the retrieval is a SEG to load as ROIs
        self.recent: tuple[str, str] | None = None  # what Recent studies keeps of it

        self.server_box = QComboBox()
        self.settings_button = QPushButton("Servers…")
        self.settings_button.clicked.connect(self.edit_servers)
        self.patient_id, self.patient_name = QLineEdit(), QLineEdit()
        self.accession, self.modality = QLineEdit(), QLineEdit()
        self.date_from, self.date_to = QLineEdit(), QLineEdit()
        for w in (self.date_from, self.date_to):
            w.setPlaceholderText("YYYY-MM-DD")
        self.patient_name.setPlaceholderText("DOE^J*  (wildcards * and ?)")
        self.modality.setPlaceholderText("MR, CT…")
        self.search_button = QPushButton("Search")
        self.search_button.setDefault(True)
        self.search_button.clicked.connect(self.search)
        for field in (self.patient_id, self.patient_name, self.accession, self.modality,
                      self.date_from, self.date_to):
            field.returnPressed.connect(self.search)  # Enter in a field searches
        form = QFormLayout()
        top = QHBoxLayout()
        top.addWidget(self.server_box, 1)
        top.addWidget(self.settings_button)
        form.addRow("Server", top)
        form.addRow("Patient ID", self.patient_id)
        form.addRow("Patient name", self.patient_name)
        form.addRow("Accession", self.accession)
        dates = QHBoxLayout()
        dates.addWidget(self.date_from)
        dates.addWidget(QLabel("to"))
        dates.addWidget(self.date_to)
        form.addRow("Study date", dates)
        form.addRow("Modality", self.modality)
        form.addRow("", self.search_button)

        self.study_table = make_table(STUDY_COLUMNS)
        self.series_table = make_table(SERIES_COLUMNS)
        self.study_table.itemSelectionChanged.connect(self._study_selected)
        self.series_table.itemDoubleClicked.connect(self._series_double_clicked)

        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.status = WrappedLabel("")
        self.retrieve_button = QPushButton("Retrieve")
        self.retrieve_button.clicked.connect(self.retrieve)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        close = QPushButton("Close")
        close.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addWidget(self.status, 1)
        buttons.addWidget(self.retrieve_button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(close)
        for button in (self.settings_button, self.retrieve_button, self.cancel_button, close):
            button.setAutoDefault(False)  # Enter never opens Servers… or closes the dialog

        self.search_box = QWidget()  # hidden while a retrieval runs (compact dialog)
        self.search_box.setLayout(form)
        layout = QVBoxLayout(self)
        layout.addWidget(self.search_box)
        layout.addWidget(self.study_table, 2)
        layout.addWidget(self.series_table, 1)
        layout.addWidget(self.progress)
        layout.addLayout(buttons)
        self.progressed.connect(self._on_progress)
        self.failed.connect(self._on_failed)
        self.fill_servers(servers)
        self.server_box.currentIndexChanged.connect(lambda _i: self._server_changed())

    # -- servers ---------------------------------------------------------------------------
    def fill_servers(self, servers: list[ServerConfig] | None = None) -> None:
        try:
            self.servers = servers if servers is not None else load_servers()
        except Exception as err:  # noqa: BLE001 - a broken settings file is one line
            self.servers = []
            self.failed.emit(str(err))
        self.server_box.clear()
        for s in self.servers:
            self.server_box.addItem(s.name, s.name)
        if not self.servers:
            self.status.setText("No PACS configured: add one with Servers…")

    def _server_changed(self) -> None:
        """Another server: the studies listed came from the previous one."""
        self.studies, self.series = [], []
        self.study_table.setRowCount(0)
        self.series_table.setRowCount(0)
        self.status.setText("")

    def _series_double_clicked(self, item: QTableWidgetItem) -> None:
        """A double-click on a series retrieves it, as Retrieve does (not while one runs,
        nor on a greyed series)."""
        if not self.retrieve_button.isEnabled() or not item.flags() & \
                Qt.ItemFlag.ItemIsSelectable:
            return
        self.series_table.selectRow(item.row())
        if self.selected_series() is not None:
            self.retrieve()

    def server(self) -> ServerConfig | None:
        i = self.server_box.currentIndex()
        return self.servers[i] if 0 <= i < len(self.servers) else None

    def edit_servers(self) -> None:
        from coloc_viewer.gui.pacs_settings import PacsSettingsDialog

        dialog = PacsSettingsDialog(self)
        if dialog.exec():
            before = self.server()
            self.server_box.blockSignals(True)
            self.fill_servers()
            kept = self.server_box.findData(before.name) if before is not None else -1
            self.server_box.setCurrentIndex(max(kept, 0))
            self.server_box.blockSignals(False)
            if kept < 0 or self.server() != before:  # another server, or this one changed
                self._server_changed()
            self.status.setText(dialog.saved_message)

    # -- search ----------------------------------------------------------------------------
    def query(self) -> Query:
        return Query(self.patient_id.text(), self.patient_name.text(), self.accession.text(),
                     self.date_from.text(), self.date_to.text(), self.modality.text())

    def search(self) -> None:
        server = self.server()
        if server is None:
            self.failed.emit("choose or add a PACS server first")
            return
        try:
            query = self.query()
            query.study_filters()  # a bad date is one line now, not in the worker
        except Exception as err:  # noqa: BLE001
            self._server_changed()  # the rows listed no longer answer the fields shown
            self.failed.emit(str(err))
            return
        self.status.setText(f"Searching {server.label}…")
        self.search_button.setEnabled(False)
        self.runner.submit("find", lambda: connect(server).find_studies(query),
                           on_result=self.show_studies,
                           on_error=lambda err: self.failed.emit(str(err)),
                           on_done=lambda: self.search_button.setEnabled(True))

    def show_studies(self, rows: list[StudyRow]) -> None:
        self.studies = sorted_studies(rows)
        fill_table(self.study_table, [study_cells(r) for r in self.studies])
        self.series_table.setRowCount(0)
        self.series = []
        self.status.setText(f"{len(rows)} {'study' if len(rows) == 1 else 'studies'}")
        self.searched.emit(len(rows))

    def _study_selected(self) -> None:
        study = self.selected_study()
        server = self.server()
        if study is None or server is None:
            return
        self.runner.submit("series", lambda: connect(server).find_series(study.study_uid),
                           on_result=self._show_series,
                           on_error=lambda err: self.failed.emit(str(err)))

    def _show_series(self, rows: list[SeriesRow]) -> None:
        self.series = sorted_series(rows)
        fill_table(self.series_table, [series_cells(r) for r in self.series],
                   {i: f"not an image series: {why}" for i, r in enumerate(self.series)
                    if (why := not_an_image(r)) is not None and not loads_as_rois(r)},
                   {i: SEG_HINT for i, r in enumerate(self.series) if loads_as_rois(r)})
        self.series_listed.emit(len(self.series))

    def selected_study(self) -> StudyRow | None:
        rows = self.study_table.selectionModel().selectedRows()
        return self.studies[rows[0].row()] if rows and rows[0].row() < len(self.studies) \
            else None

    def selected_series(self) -> SeriesRow | None:
        rows = self.series_table.selectionModel().selectedRows()
        return self.series[rows[0].row()] if rows and rows[0].row() < len(self.series) \
            else None

    def _on_failed(self, text: str) -> None:
        self.status.setText(error_html(text))  # a sentence; no markup from errors
        log.info("PACS dialog: %s", text.split(":")[0])  # the server, not the details

    def done(self, result: int) -> None:  # noqa: D401 - Qt override
        self.cancel_event.set()
        self.runner.shutdown(5000)
        super().done(result)
