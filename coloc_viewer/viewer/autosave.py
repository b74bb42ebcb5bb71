"""The study's autosave session bound to a view state (Qt-free): ROI edits and the view
(slice, window, analysis settings, shown map) are written as they change, and a reopened
study gets them back (:mod:`coloc_viewer.workspace`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from coloc_viewer.viewer.study import open_session


class Autosave:
    """Writes what ``state`` shows into its study's session (``session`` may be None:
    autosave unavailable, the viewer works on)."""

    def __init__(self, state: Any) -> None:
        self.state = state
        self.session: Any = None  # coloc_viewer.workspace.session.StudySession
        self.pending: dict[str, Any] = {}  # model settings a reopened study waits for
        self._quiet = False
        for event in (state.events.rois, state.events.roi_list):
            event.connect(self._rois_changed)
        for event in (state.events.slice, state.events.window, state.events.analysis,
                      state.events.overlay):
            event.connect(self._view_changed)

    def open(self, volume: Any, root: Any = None) -> dict[str, Any]:
        """Close the current session and open ``volume``'s; returns its saved view state."""
        self.close()
        self.session = open_session(volume, root)
        return self.saved_state()

    def adopt(self, session: Any) -> dict[str, Any]:
        """Use a session a loading worker opened (it closed the previous one)."""
        self.session = session
        return self.saved_state()

    def saved_state(self) -> dict[str, Any]:
        return dict(self.session.state) if self.session is not None else {}

    def restored_roiset(self) -> Any:
        """The autosaved ROIs of this series (None when there are none)."""
        return self.session.restored_roiset() if self.session is not None else None

    def saved_as(self, path: Any) -> None:
        if self.session is not None:
            self.session.saved_as(path)

    def close(self) -> None:
        session, self.session = self.session, None
        if session is not None:
            session.close()

    @contextmanager
    def quiet(self) -> Iterator[None]:
        """Changes made inside are restored state, not edits: nothing is written."""
        self._quiet, before = True, self._quiet
        try:
            yield
        finally:
            self._quiet = before

    @property
    def is_quiet(self) -> bool:
        return self._quiet

    def _rois_changed(self, _value: object = None) -> None:
        if self.session is not None and not self._quiet and self.state.rois is not None:
            self.session.rois_changed(self.state.rois)

    def _view_changed(self, _value: object = None) -> None:
        state = self.state
        if self.session is None or self._quiet or state.volume is None:
            return
        settings, w = state.analysis, state.window
        chosen = {"model": getattr(settings, "model", None),
                  "layer": getattr(settings, "layer", None),
                  "rank": getattr(settings, "rank", None), "method": state.overlay.choice}
        chosen.update(self.pending)  # the model a reopened study asked for is loading
        self.session.state_changed(slice=state.slice_index, window=[w.center, w.width],
                                   **chosen)
