"""File → Open from PACS… in the main window: the dialog (``gui.pacs_dialog``) wired to the
partial-series preview over the main canvas, to File → Open of the retrieved series with
its decoded volume, and to the status bar when the series could not be kept in the cache."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from coloc_viewer.gui.pacs_dialog import OpenFromPacsDialog
from coloc_viewer.gui.pacs_preview import PacsPreview
from coloc_viewer.gui.placement import move_to_corner

__all__ = ["open_from_pacs"]

SEARCH_FIELDS = ("patient_id", "patient_name", "accession", "date_from", "date_to",
                 "modality")


STUDY_PANELS = ("Series", "ROIs", "Model", "Scores", "Channels")  # describe the shown study


def _panels_current(window: Any, current: bool) -> None:
    for name in STUDY_PANELS:
        dock = getattr(window, "docks", {}).get(name)
        if dock is not None and dock.widget() is not None:
            dock.widget().setEnabled(current)
            dock.widget().setToolTip("" if current else "the study shown before; the new "
                                     "one opens when its retrieval is complete")


def _remember_search(dialog: OpenFromPacsDialog, window: Any, searched: bool = True) -> None:
    """The server, criteria and studies found, for the next Open from PACS of this window
    (in memory only: no patient name or ID is written to the settings)."""
    window.pacs_last_search = (dialog.server_box.currentText(),
                               {f: getattr(dialog, f).text() for f in SEARCH_FIELDS},
                               list(dialog.studies) if searched else None)


def _restore_search(dialog: OpenFromPacsDialog, window: Any) -> None:
    last = getattr(window, "pacs_last_search", None)
    if last is None:
        return
    server, fields, studies = last
    index = dialog.server_box.findText(server)
    if index < 0:  # the server was removed meanwhile: start afresh
        return
    dialog.server_box.setCurrentIndex(index)
    for name, text in fields.items():
        getattr(dialog, name).setText(text)
    if studies is not None:  # not after a server change without a search
        dialog.show_studies(studies)


def open_from_pacs(window: Any) -> OpenFromPacsDialog:
    """Show the dialog for the main window: the first retrieved slice appears over the main
    canvas at once (read-only, labelled partial), the complete series opens like File → Open
    (with the volume decoded while retrieving) and replaces it."""
    dialog = OpenFromPacsDialog(window)
    _restore_search(dialog, window)
    dialog.searched.connect(lambda _n: _remember_search(dialog, window))
    dialog.server_box.currentIndexChanged.connect(
        lambda _i: _remember_search(dialog, window, searched=False))
    preview = getattr(window, "pacs_preview", None)
    if preview is None:
        preview = window.pacs_preview = PacsPreview(window.view)
        window.state.events.volume.connect(lambda _v: preview.finish())
        window.error_shown.connect(lambda _text: preview.finish())
        # the panels still describe the study shown before: greyed while the new one's
        # first slice is previewed (both signals come on the GUI thread)
        preview.painted.connect(lambda _t: _panels_current(window, False))
        preview.finished.connect(lambda: _panels_current(window, True))
    dialog.started.connect(preview.start)
    home = None  # where the dialog was before it moved aside

    def aside(_total: object) -> None:
        """The compact dialog moves to the main window's bottom-right corner (over the
        panels, not the canvas where the series arrives); it goes back if the retrieval
        stops without opening a series."""
        nonlocal home
        home = dialog.pos()
        move_to_corner(dialog, window)

    def back() -> None:
        if home is not None:
            dialog.move(home)

    dialog.started.connect(aside)
    dialog.stopped.connect(back)
    dialog.previewed.connect(preview.show_slice)
    dialog.progressed.connect(preview.follow)  # queued: emitted by the retrieval thread
    dialog.stopped.connect(preview.finish)
    dialog.rejected.connect(preview.finish)  # closed: a running retrieval is cancelled

    def opened(folder: str) -> None:
        preview.set_status("Retrieved: opening the complete series…")
        volume, dialog.volume = dialog.volume, None  # the dialog outlives it: no reference
        window.open_path(folder, volume=volume, recent=dialog.recent)
        dialog.accept()

    dialog.retrieved.connect(opened)

    def rois_retrieved(folder: str, label: str) -> None:
        """A DICOM SEG: its ROIs onto the open series (refused, with the reason, when they
        were drawn on another one)."""
        dialog.stopped.emit()  # no series opens: the preview goes, the dialog comes back
        if window.state.volume is None:
            dialog.failed.emit("open the series the SEG was drawn on first")
            return
        seg = next(iter(sorted(Path(folder).glob("*.dcm"))), None)
        if seg is not None and window.load_rois(seg, label=f"SEG {label!r}"):
            names = ", ".join(r.name for r in window.state.rois)
            window.statusBar().showMessage(f"Loaded ROIs from the PACS: {names}", 10000)
            dialog.accept()
        else:
            dialog.failed.emit(f"the ROIs of SEG {label!r} were not loaded")

    dialog.rois_retrieved.connect(rois_retrieved)
    # a cache that could not be kept is said once the series is shown (not before: the
    # study's own status messages would cover it)
    shown, message = False, ""

    def not_cached(reason: str) -> None:
        nonlocal message
        if reason:
            message = f"The series is shown but was not kept in the PACS cache: {reason}"
            if shown:
                window.statusBar().showMessage(message, 15000)

    def loaded() -> None:
        nonlocal shown
        shown = True
        window.study_loaded.disconnect(loaded)
        if message:
            window.statusBar().showMessage(message, 15000)

    window.study_loaded.connect(loaded)
    dialog.cached.connect(not_cached)
    dialog.setModal(False)
    dialog.show()
    window._pacs_dialog = dialog  # noqa: SLF001 - keep it alive while shown
    return dialog
