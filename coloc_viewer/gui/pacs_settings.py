"""PACS server settings: the configured servers (``coloc_viewer.pacs.servers``), a password
field that goes to the OS keyring, "Test connection" (C-ECHO + C-FIND, or a QIDO-RS ping, in
a worker), and the local cache (size, limit, purge)."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from coloc_viewer.gui.form_widgets import file_row
from coloc_viewer.gui.workers import TaskRunner
from coloc_viewer.gui.wrapped_label import ERROR_COLOUR, WrappedLabel, breakable
from coloc_viewer.pacs.cache import DEFAULT_LIMIT_BYTES, StudyCache, tree_bytes
from coloc_viewer.pacs.servers import (
    ServerConfig,
    load_cache_limit,
    load_servers,
    save_cache_limit,
    save_servers,
    set_password,
)

log = logging.getLogger(__name__)

__all__ = ["PacsSettingsDialog", "echo_server", "open_sources"]


def open_sources() -> list[str]:
    """The folders of the series open in the viewer's windows (a purge keeps them)."""
    from PySide6.QtWidgets import QApplication

    found: list[str] = []
    for widget in QApplication.topLevelWidgets():
        sources = getattr(widget, "open_sources", None)
        if callable(sources):
            found.extend(str(p) for p in sources() if p)
    return found


def echo_server(server: ServerConfig) -> str:
    """Test one server (run in a worker); the sentence the dialog shows."""
    from coloc_viewer.pacs.retrieve import connect

    return f"{server.label} {connect(server).verify()}"


class PacsSettingsDialog(QDialog):
    """Edit the server list; Save writes the settings file and the keyring."""

    tested = Signal(str)  # the connection test's sentence (success or the error)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("PACS servers")
        self.runner = TaskRunner(parent=self)
        self.servers: list[ServerConfig] = load_servers()
        self.passwords: dict[str, str] = {}  # typed this time, stored on Save
        self.server_list = QListWidget()
        self.server_list.currentRowChanged.connect(self._show)
        add = self.add_button = QPushButton("Add")
        remove = self.remove_button = QPushButton("Remove")
        add.clicked.connect(self.add_server)
        remove.clicked.connect(self.remove_server)
        left = QVBoxLayout()
        left.addWidget(self.server_list)
        row = QHBoxLayout()
        row.addWidget(add)
        row.addWidget(remove)
        left.addLayout(row)

        self.name, self.url, self.host = QLineEdit(), QLineEdit(), QLineEdit()
        self.name.textEdited.connect(self._rename_in_list)  # the list follows as you type
        self.protocol = QComboBox()
        self.protocol.addItem("DICOMweb (QIDO/WADO/STOW)", "dicomweb")
        self.protocol.addItem("DIMSE (C-FIND, C-GET or C-MOVE, C-STORE)", "dimse")
        self.port = QSpinBox()
        self.port.setRange(1, 65535)
        self.port.setValue(104)
        self.called_aet, self.calling_aet = QLineEdit("ANY-SCP"), QLineEdit("COLOCVIEWER")
        self.tls = QCheckBox("TLS")
        self.username, self.password = QLineEdit(), QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setPlaceholderText("kept in the OS keyring")
        self.retrieve = QComboBox()
        self.retrieve.addItem("C-GET", "get")
        self.retrieve.addItem("C-MOVE to our listener", "move")
        self.move_port = QSpinBox()
        self.move_port.setRange(1, 65535)
        self.move_port.setValue(11113)
        self.backend = QComboBox()
        self.backend.addItem("Automatic (DCMTK getscu when installed)", "auto")
        self.backend.addItem("DCMTK getscu", "dcmtk")
        self.backend.addItem("pynetdicom", "pynetdicom")
        self.backend.setToolTip("Which program receives a C-GET (C-MOVE and TLS always use "
                                "pynetdicom)")
        self.ca_file, self.client_cert, self.client_key = QLineEdit(), QLineEdit(), QLineEdit()
        self.ca_file.setPlaceholderText("the system's CA store")
        self.ca_file.setToolTip("TLS: CA certificates (PEM) to trust for this server, e.g. "
                                "the hospital's own CA")
        self.client_cert.setPlaceholderText("none (unless the PACS asks)")
        self.client_key.setPlaceholderText("in the certificate file")
        pem = "PEM files (*.pem *.crt *.cer *.key);;All files (*)"
        form = QFormLayout()
        for label, widget in (("Name", self.name), ("Protocol", self.protocol),
                              ("DICOMweb URL", self.url), ("Host", self.host),
                              ("Port", self.port), ("PACS AE title", self.called_aet),
                              ("Our AE title", self.calling_aet), ("", self.tls),
                              ("CA certificates", file_row(self.ca_file, "CA certificates",
                                                           pem)),
                              ("Our certificate", file_row(self.client_cert,
                                                           "Our certificate", pem)),
                              ("Our private key", file_row(self.client_key, "Our private key",
                                                           pem)),
                              ("User", self.username), ("Password", self.password),
                              ("Retrieve with", self.retrieve),
                              ("Our C-MOVE port", self.move_port),
                              ("C-GET receiver", self.backend)):
            form.addRow(label, widget)
            widget.setObjectName(f"pacs-{label.lower().replace(' ', '-') or 'tls'}")
        self.form = form
        # each protocol's own fields only (TLS certificate files serve both)
        self._protocol_rows = {
            "dicomweb": (self.url, self.username, self.password),
            "dimse": (self.host, self.port, self.called_aet, self.calling_aet, self.tls,
                      self.retrieve, self.move_port, self.backend)}
        self.protocol.currentIndexChanged.connect(lambda _i: self._show_protocol_rows())
        self.retrieve.currentIndexChanged.connect(lambda _i: self._show_protocol_rows())
        self.test_button = QPushButton("Test connection")
        self.test_button.clicked.connect(self.test_connection)
        # the result under the button, the form's whole width: a failure's advice is long
        self.test_result = WrappedLabel("")
        self.test_result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form.addRow(self.test_button)
        form.addRow(self.test_result)
        right = QWidget()
        right.setLayout(form)

        top = QHBoxLayout()
        top.addLayout(left, 1)
        top.addWidget(right, 2)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self._cache_box())
        self.error = QLabel("")
        self.error.setStyleSheet(f"color: {ERROR_COLOUR}")
        layout.addWidget(self.error)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save
                                   | QDialogButtonBox.StandardButton.Close)
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        self.save_button = buttons.button(QDialogButtonBox.StandardButton.Save)
        layout.addWidget(buttons)
        for s in self.servers:
            self.server_list.addItem(s.name)
        if self.servers:
            self.server_list.setCurrentRow(0)
        self._current = self.server_list.currentRow()
        self._show_protocol_rows()
        self._saved = (list(self.servers), self.cache_limit.value())  # to tell an edit
        self.saved_message = ""  # what Save stored, for the window that opened the dialog

    # -- cache -----------------------------------------------------------------------------
    def _cache_box(self) -> QGroupBox:
        box = QGroupBox("Local study cache")
        self.cache_limit = QDoubleSpinBox()
        self.cache_limit.setRange(0.1, 10000)
        self.cache_limit.setSuffix(" GB")
        self.cache_limit.setValue((load_cache_limit() or DEFAULT_LIMIT_BYTES) / 1e9)
        self.cache_info = QLabel("")
        self.purge_button = QPushButton("Purge cache")
        self.purge_button.clicked.connect(self.purge_cache)
        row = QHBoxLayout(box)
        row.addWidget(QLabel("Size limit"))
        row.addWidget(self.cache_limit)
        row.addWidget(self.cache_info, 1)
        row.addWidget(self.purge_button)
        self._refresh_cache_info()
        return box

    def _refresh_cache_info(self) -> None:
        cache = StudyCache()
        self.cache_info.setText(f"{cache.summary()} in {cache.root}")

    def purge_cache(self) -> None:
        """Ask, then remove every cached study but the series open in a viewer window; say
        what was freed and what was kept."""
        cache = StudyCache()
        remove, kept = cache.purge_plan(keep=open_sources())
        kept_text = (f"{len(kept)} {'study' if len(kept) == 1 else 'studies'} with a series "
                     f"open in the viewer (or being retrieved) "
                     f"{'is' if len(kept) == 1 else 'are'} kept")
        if not remove:
            QMessageBox.information(self, "Purge the PACS cache",
                                    "Nothing to purge: " + (f"{kept_text}." if kept else
                                                            "the cache is empty."))
            return
        size = sum(tree_bytes(study) for study in remove)
        answer = QMessageBox.question(
            self, "Purge the PACS cache",
            f"Remove {len(remove)} {'study' if len(remove) == 1 else 'studies'} retrieved "
            f"from PACS servers ({size / 1e6:.1f} MB) from this computer?"
            + (f"\n\n{kept_text}." if kept else "")
            + "\n\nA removed series is retrieved again when you open it.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel)
        if answer != QMessageBox.StandardButton.Yes:
            return
        freed = cache.purge(keep=open_sources())
        log.info("PACS cache purged (%.1f MB)", freed / 1e6)
        self._refresh_cache_info()
        self.cache_info.setText(f"Purged {freed / 1e6:.1f} MB"
                                + (f" ({kept_text})" if kept else "") + ". Now: "
                                + self.cache_info.text())

    # -- servers ---------------------------------------------------------------------------
    def _show(self, row: int) -> None:
        if 0 <= self._current_row() < len(self.servers) and self._current != row:
            self._store_form(quiet=True)
        self._current = row
        if not 0 <= row < len(self.servers):
            return
        s = self.servers[row]
        self.name.setText(s.name)
        self.protocol.setCurrentIndex(self.protocol.findData(s.protocol))
        self.url.setText(s.url)
        self.host.setText(s.host)
        self.port.setValue(int(s.port))
        self.called_aet.setText(s.called_aet)
        self.calling_aet.setText(s.calling_aet)
        self.tls.setChecked(s.tls)
        self.ca_file.setText(s.ca_file)
        self.client_cert.setText(s.client_cert)
        self.client_key.setText(s.client_key)
        self.username.setText(s.username)
        self.password.setText(self.passwords.get(s.name, ""))
        self.retrieve.setCurrentIndex(self.retrieve.findData(s.retrieve))
        self.move_port.setValue(int(s.move_port))
        self.backend.setCurrentIndex(max(0, self.backend.findData(s.dimse_backend)))
        self.test_result.setText("")

    def _show_protocol_rows(self) -> None:
        """Show the fields of the chosen protocol (and the C-MOVE port only for C-MOVE)."""
        chosen = self.protocol.currentData()
        for protocol, widgets in self._protocol_rows.items():
            for widget in widgets:
                self.form.setRowVisible(widget, protocol == chosen)
        if chosen == "dimse":
            moving = self.retrieve.currentData() == "move"
            self.form.setRowVisible(self.move_port, moving)
            self.form.setRowVisible(self.backend, not moving)
        self.adjustSize()  # fewer rows: no empty area left below them

    def _rename_in_list(self, text: str) -> None:
        item = self.server_list.currentItem()
        if item is not None and text.strip():
            item.setText(text.strip())

    def _current_row(self) -> int:
        return getattr(self, "_current", -1)

    def form_server(self) -> ServerConfig:
        """The server the form describes (InputError when it is not usable); what the form
        does not show (e.g. the timeout) is kept from the server being edited."""
        shown = dict(
            name=self.name.text().strip(), protocol=self.protocol.currentData(),
            url=self.url.text().strip(), host=self.host.text().strip(),
            port=self.port.value(), called_aet=self.called_aet.text().strip(),
            calling_aet=self.calling_aet.text().strip(), tls=self.tls.isChecked(),
            username=self.username.text().strip(), retrieve=self.retrieve.currentData(),
            move_port=self.move_port.value(), dimse_backend=self.backend.currentData(),
            ca_file=self.ca_file.text().strip(), client_cert=self.client_cert.text().strip(),
            client_key=self.client_key.text().strip())
        row = self._current_row()
        kept = dataclasses.asdict(self.servers[row]) if 0 <= row < len(self.servers) else {}
        return ServerConfig(**{**kept, **shown})

    def _store_form(self, quiet: bool = False) -> ServerConfig | None:
        row = self._current_row()
        try:
            server = self.form_server()
        except Exception as err:  # noqa: BLE001 - shown in the dialog
            if not quiet:
                self.error.setText(str(err))
            return None
        if 0 <= row < len(self.servers):
            self.servers[row] = server
            self.server_list.item(row).setText(server.name)
        if self.password.text():
            self.passwords[server.name] = self.password.text()
        self.error.setText("")
        return server

    def add_server(self) -> None:
        self._store_form(quiet=True)
        n = len(self.servers) + 1
        self.servers.append(ServerConfig(name=f"PACS {n}", url="http://localhost:8042/dicom-web"))
        self.server_list.addItem(f"PACS {n}")
        self.server_list.setCurrentRow(len(self.servers) - 1)

    def remove_server(self) -> None:
        row = self.server_list.currentRow()
        if 0 <= row < len(self.servers):
            self._current = -1
            del self.servers[row]
            self.server_list.takeItem(row)

    def save(self) -> bool:
        if self._store_form() is None and self.servers:
            return False
        try:
            save_servers(self.servers)
            for server in self.servers:
                if server.name in self.passwords and server.username:
                    set_password(server, self.passwords[server.name])
            save_cache_limit(int(self.cache_limit.value() * 1e9))
        except Exception as err:  # noqa: BLE001 - shown in the dialog
            self.error.setText(str(err))
            return False
        n = len(self.servers)
        self.saved_message = (f"Saved {n} PACS server{'' if n == 1 else 's'} and a cache "
                              f"limit of {self.cache_limit.value():g} GB")
        self.accept()
        return True

    def unsaved(self) -> bool:
        """Whether the servers, a typed password or the cache limit differ from the saved."""
        self._store_form(quiet=True)
        return (list(self.servers), self.cache_limit.value()) != self._saved or \
            bool(self.passwords)

    def reject(self) -> None:
        """Close: edits are not dropped without asking."""
        if self.unsaved():
            answer = QMessageBox.question(
                self, "Unsaved PACS settings", "Save the changes to the PACS servers?",
                QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
                | QMessageBox.StandardButton.Cancel)
            if answer == QMessageBox.StandardButton.Cancel:
                return
            if answer == QMessageBox.StandardButton.Save:
                self.save()  # closes unless it fails (then the reason is shown)
                return
        super().reject()

    def test_connection(self) -> None:
        """C-ECHO or a QIDO-RS ping of the server in the form (its typed password is used
        without being saved)."""
        server = self._store_form()
        if server is None:
            return
        typed = self.password.text()
        if typed and server.username:
            set_password(server, typed)  # what the test needs; Save keeps it anyway
        self.test_result.setText("testing…")
        self.test_button.setEnabled(False)
        self.runner.submit("echo", echo_server, server, on_result=self._tested,
                           on_error=lambda err: self._tested(f"failed: {err}"),
                           on_done=lambda: self.test_button.setEnabled(True))

    def _tested(self, text: Any) -> None:
        self.test_button.setEnabled(True)
        self.test_button.setFocus()  # disabled while testing, it had lost the focus
        text = str(text)
        # a failure red, a warning (C-ECHO only) orange, success as plain text
        colour = ERROR_COLOUR if text.startswith("failed") else \
            "#b35c00" if " only: " in text else ""
        self.test_result.setStyleSheet(f"color: {colour}" if colour else "")
        self.test_result.setText(breakable(text))
        self.test_result.setToolTip(text)
        self.tested.emit(text)

    def done(self, result: int) -> None:  # noqa: D401 - Qt override
        self.runner.shutdown(2000)
        super().done(result)
