"""Opening studies, autosave and ROI files for the main window (a mixin of
:class:`~coloc_viewer.gui.main_window.MainWindow`; the work runs in ``viewer.study``)."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from coloc_viewer.gui import file_dialogs
from coloc_viewer.gui.pacs_tables import opening_message
from coloc_viewer.gui.settings import add_recent, recent_labels, recent_studies, workspace_root
from coloc_viewer.imaging.volume import Volume
from coloc_viewer.report.phi import display_name
from coloc_viewer.viewer.analysis import (
    series_key,
)
from coloc_viewer.viewer.display import WindowLevel
from coloc_viewer.viewer.orientation import oriented
from coloc_viewer.viewer.study import (
    LoadStep,
    bundled_rois_for,
    load_rois_for,
    load_study,
    save_rois_to,
)

log = logging.getLogger("coloc_viewer.gui.main_window")  # one logger for the window's lines

ROI_FILTER = "ROI files (*.seg.dcm *.dcm *.nii.gz *.nii *.nrrd *.seg.nrrd);;All files (*)"
IMAGE_FILTER = ("Images (*.dcm *.nii *.nii.gz *.mha *.mhd *.nrrd *.zip DICOMDIR);;"
                "All files (*)")
APP_NAME = "coloc_viewer"


def _retrieving_text(step: LoadStep) -> str:
    """The status line while a ``pacs://`` study is retrieved again."""
    if step.payload is not None and step.payload.waiting:
        return "Waiting for another retrieval of this series…"
    if step.total:
        return f"Retrieving from the PACS: {step.done} of {step.total} images…"
    if step.done:
        return f"Retrieving from the PACS: {step.done} images…"
    return "Retrieving from the PACS…"


class StudyActions:
    """Methods of the main window (uses its widgets, ``state`` and ``runner``)."""

    def open_file_dialog(self) -> None:
        path = file_dialogs.open_file(self, "Open image", IMAGE_FILTER)
        if path:
            self.open_path(path)

    def open_folder_dialog(self) -> None:
        path = file_dialogs.folder(self, "Open DICOM folder", file_dialogs.STUDIES)
        if path:
            self.open_path(path)

    def open_dicomdir_dialog(self) -> None:
        path = file_dialogs.open_file(self, "Open DICOMDIR", "DICOMDIR (DICOMDIR);;All files (*)")
        if path:
            self.open_path(path)

    def open_path(self, path: str | os.PathLike[str], series: str | None = None,
                  rois: str | os.PathLike[str] | None = None, volume: Volume | None = None,
                  recent: tuple[str, str] | None = None) -> None:
        """Load a study in the background; the first slice shows before the rest decodes.
        ``path`` may be a ``pacs://`` address (retrieved unless cached). ``volume``: the
        series at ``path`` decoded already (a PACS retrieval); ``recent``: (entry, label)
        for Recent studies instead of ``path`` (a PACS series' address, not its cache
        folder)."""
        path = os.fspath(path)
        self.retrieval_cancel.hide()  # shown again if this one is retrieved from a PACS
        rois = rois or bundled_rois_for(path)  # a demo case opened again comes with its ROIs
        self._pending_rois = os.fspath(rois) if rois else None
        label = recent[1] if recent else recent_labels(self.settings).get(path)
        self.statusBar().showMessage(opening_message(label or Path(path).name))
        self._loading_path = recent[0] if recent else path
        entry = (recent[0], recent[1]) if recent else (path, label)
        self.runner.submit("load", load_study, path, series, series is None, workspace_root(),
                           self.autosave.session, volume,
                           on_yield=self._load_step,
                           on_result=lambda result: self._study_loaded(entry, *result),
                           on_error=lambda err: self.show_error("Cannot open study", err),
                           on_done=self.retrieval_cancel.hide)

    def cancel_retrieval(self) -> None:
        """Stop a Recent PACS study's retrieval; the study shown so far stays."""
        self.runner.cancel("load")
        self.retrieval_cancel.hide()
        self.statusBar().showMessage("Retrieval cancelled: nothing of it was kept", 5000)

    def _load_step(self, step: LoadStep) -> None:
        if step.kind == "retrieving":
            self.retrieval_cancel.show()
            self.statusBar().showMessage(_retrieving_text(step))
            return
        self.retrieval_cancel.hide()  # retrieved: the series decodes now
        if step.kind == "series":
            self.series_browser.set_series(self._loading_path, step.payload)
        elif step.kind == "first":
            volume, rois, session, presets = step.payload
            self.set_volume(volume, rois, session=session, presets=presets)
            self.statusBar().showMessage("Loading slices…")
        elif step.kind == "progress" and step.total:
            self.state.voxels_filled(step.payload)
            self.statusBar().showMessage(f"Loading slices {step.done}/{step.total}")

    def _study_loaded(self, entry: tuple[str, str | None], volume: Volume,
                      presets: Any = None) -> None:
        path = entry[0]
        volume = oriented(volume)
        current = self.state.volume
        if current is not None and current.shape == volume.shape and \
                np.may_share_memory(current.voxels, volume.voxels):
            self.state.replace_volume(volume, presets)
            self._follow_in_compare()  # the decoded volume, not the loading one
            self.series_id = series_key(volume)
            self._update_title()
        else:
            self.set_volume(volume)
        self._refresh_recent(*entry)
        self.study_address = path
        # the series description when there is one (a PACS cache folder's name is a hash)
        shown = str(volume.metadata.get("description") or "") or Path(path).name
        self.statusBar().showMessage(f"Opened {shown}: {volume.shape[0]} slices", 5000)
        log.info("study shown: %s, %s slices of %s x %s", volume.metadata.get("modality", "?"),
                 *volume.shape)
        if self._pending_rois:
            # the reader's own (autosaved) edits win over a bundled ROI file
            if self.autosave.restored_roiset() is not None:
                log.info("autosaved ROIs kept; the ROI file given with the study not loaded")
            else:
                self.load_rois(self._pending_rois)
            self._pending_rois = None
        self.study_loaded.emit()

    def set_volume(self, volume: Volume, rois: Any = None, *, session: Any = False,
                   presets: Any = None) -> None:
        """Show ``volume`` now (synchronous; used by the loader and by scripts/tests).

        The study's workspace is opened: ROIs autosaved for this series come back when no
        ROIs with content are given, and every later edit is autosaved. ``session``: one
        the loading worker opened already (None: autosave unavailable)."""
        volume = oriented(volume)  # standard display orientation (a view; idempotent)
        self.series_id = series_key(volume)
        self.forget_study_series()  # a multi-series model's roles are planned again
        self.model_panel.progress.setRange(0, 1)  # the last study's run is not this one's
        self.model_panel.progress.setValue(0)
        if session is False:
            restored_state = self.autosave.open(volume, workspace_root())
        else:  # the loading worker closed the previous session and opened this one
            restored_state = self.autosave.adopt(session)
        if session is False and (rois is None or not any(r.mask.any() for r in rois)):
            restored = self.autosave.restored_roiset()
            rois = restored if restored is not None else rois
        with self.autosave.quiet():
            self.state.set_volume(volume, rois, presets)
            z = restored_state.get("slice")
            if isinstance(z, int) and 0 <= z < volume.shape[0]:
                self.state.set_slice(z)
            win = restored_state.get("window")
            if isinstance(win, list | tuple) and len(win) == 2:
                self.state.set_window(WindowLevel(float(win[0]), float(win[1])))
        self.update_domain_banner()
        self.unsaved_edits = False
        self.status_labels["wl"].setText(self.state.window_model.readout())
        self._follow_in_compare()
        self._restore_model_settings(restored_state)
        self._settings_changed()
        self._update_title()
        self._slice_changed()
        self.view.graphics.setFocus()  # slice keys work at once

    @property
    def session(self) -> Any:
        """The study's autosave session (None: unavailable)."""
        return self.autosave.session

    @session.setter
    def session(self, value: Any) -> None:
        self.autosave.session = value

    def _restore_model_settings(self, saved: dict) -> None:
        """Bring back the model, layer, rank and map a reopened study was reviewed with."""
        name = saved.get("model")
        if not isinstance(name, str) or not name:
            return
        if not self.registry.knows(name):
            log.info("the study's model is no longer available")
            return
        self.autosave.pending = {k: saved.get(k) for k in ("model", "layer", "rank", "method")}

        def apply() -> None:
            wanted, self.autosave.pending = self.autosave.pending, {}
            if not wanted or self.model_panel.current_model() != wanted["model"]:
                return
            mp = self.model_panel
            for box, key in ((mp.layer_box, "layer"), (mp.rank_box, "rank")):
                idx = box.findData(wanted.get(key)) if wanted.get(key) else -1
                if idx >= 0:
                    box.setCurrentIndex(idx)
            if isinstance(wanted.get("method"), str):
                mp.select_map(wanted["method"])

        self.select_model(name, then=apply)

    def _update_title(self) -> None:
        vol = self.state.volume
        name = vol.private.get("patient_name") if vol is not None else None
        desc = vol.metadata.get("description") if vol is not None else None
        parts = [str(p) for p in (name and display_name(name), desc) if p]
        self.setWindowTitle(" — ".join(parts + [APP_NAME]))

    def _refresh_recent(self, path: str, label: str | None = None) -> None:
        add_recent(self.settings, path, label)
        self._refresh_recent_menu()

    def _refresh_recent_menu(self) -> None:
        self.recent_menu.clear()
        labels = recent_labels(self.settings)
        for path in recent_studies(self.settings):
            act = self.recent_menu.addAction(labels.get(path, path))
            act.setData(path)
            act.triggered.connect(lambda _c=False, p=path: self.open_path(p))

    def dragEnterEvent(self, event):  # noqa: N802
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event):  # noqa: N802
        urls = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if not urls:
            return
        event.acceptProposedAction()
        path = urls[0]
        if self.state.volume is not None and _looks_like_roi(path):
            self.load_rois(path)
        else:
            self.open_path(path)

    def load_rois_dialog(self) -> None:
        path = file_dialogs.open_file(self, "Load ROIs", ROI_FILTER)
        if path:
            self.load_rois(path)

    def load_rois(self, path: str | os.PathLike[str], label: str | None = None) -> bool:
        """Replace the ROIs with those in ``path``; ``label``: how errors name the file (a
        PACS series' description rather than its cache path). False when not loaded."""
        if self.state.volume is None:
            return False
        try:
            rois = load_rois_for(path, self.state.volume)
        except Exception as err:
            reason = getattr(err, "reason", None)
            self.show_error("Cannot load ROIs", f"{label}: {reason}" if label and reason
                            else err)
            return False
        self.state.rois = rois
        self.state.rois_changed()
        return True

    def save_rois_dialog(self) -> None:
        if self.state.volume is None:
            return
        path = file_dialogs.save_file(self, "Save ROIs", "rois.seg.dcm", ROI_FILTER,
                                      file_dialogs.STUDIES)
        if path:
            self.save_rois(path)

    def save_rois(self, path: str | os.PathLike[str]) -> None:
        try:
            save_rois_to(self.state.rois, path, self.state.volume)
            self.autosave.saved_as(path)
            self.unsaved_edits = False
            self.statusBar().showMessage(f"Saved ROIs to {Path(path).name}", 5000)
        except Exception as err:
            self.show_error("Cannot save ROIs", err)

def _looks_like_roi(path: str) -> bool:
    lower = path.lower()
    return lower.endswith((".seg.dcm", ".seg.nrrd")) or "roi" in Path(lower).name or \
        "lesion" in Path(lower).name
