"""Debounced background autosave: every ROI edit reaches disk within ``delay`` + one write.

The caller (the GUI, on every brush stroke or undo) calls :meth:`Autosaver.changed`, which
only records the new ROIs and returns at once; a daemon thread writes the newest version at
most ``delay`` seconds after the first unsaved edit (a maximum latency, not a trailing
debounce, so continuous painting is still saved). :meth:`Autosaver.close` flushes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from coloc_viewer.workspace.roi_snapshot import snapshot_of
from coloc_viewer.workspace.workspace import Workspace

log = logging.getLogger(__name__)

DEFAULT_DELAY = 0.5  # seconds; plus one write, well inside the 2 s promise


class Autosaver:
    """Writes the ROIs (and view state) of one workspace in a background thread.

    ``changed(rois)`` takes anything :func:`~.roi_snapshot.snapshot_of` accepts. By default
    the live masks are bit-packed by the writer thread (nothing is copied on the caller's
    thread; an edit racing with the packing is saved by the next write, since every edit
    calls ``changed`` again); pass ``copy=True`` to copy at once on the calling thread.
    """

    def __init__(self, workspace: Workspace, delay: float = DEFAULT_DELAY, *,
                 on_saved: Callable[[int], None] | None = None,
                 on_error: Callable[[BaseException], None] | None = None) -> None:
        self.workspace = workspace
        self.delay = float(delay)
        self.on_saved = on_saved
        self.on_error = on_error
        self.last_error: BaseException | None = None
        self.generation = workspace.saved_generation()
        self._saved_generation = self.generation
        self._cond = threading.Condition()
        self._pending: Any = None
        self._pending_state: dict[str, Any] | None = None
        self._first_pending: float | None = None
        self._flush = False
        self._stopping = False
        self._busy = False
        self._thread = threading.Thread(target=self._run, name="coloc-autosave", daemon=True)
        self._thread.start()

    # -- caller side -----------------------------------------------------------------------
    def changed(self, rois: Any, *, copy: bool = False) -> int:
        """Record an ROI edit; returns its generation (monotonic across sessions)."""
        if copy:
            rois = snapshot_of(rois, copy=True)
        if self._stopping:  # closed: nobody would write it later, so write it now
            self.generation += 1
            snap = snapshot_of(rois, self.generation, copy=False)
            snap.generation = self.generation
            self.workspace.save_rois(snap)
            self._saved_generation = self.generation
            return self.generation
        with self._cond:
            self.generation += 1
            self._pending = rois
            if self._first_pending is None:
                self._first_pending = time.monotonic()
            self._cond.notify_all()
            return self.generation

    def state_changed(self, **state: Any) -> None:
        """Record view/model state (slice, window, model, layer ...), saved with the ROIs."""
        if self._stopping:  # closed: write it now
            self.workspace.save_state(state)
            return
        with self._cond:
            self._pending_state = {**(self._pending_state or {}), **state}
            if self._first_pending is None:
                self._first_pending = time.monotonic()
            self._cond.notify_all()

    @property
    def saved_generation(self) -> int:
        return self._saved_generation

    @property
    def dirty(self) -> bool:
        with self._cond:
            return self._pending is not None or self._pending_state is not None or self._busy

    def flush(self, timeout: float | None = 10.0) -> bool:
        """Write pending edits now and wait for them; False on timeout or write error."""
        end = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            self._flush = True
            self._cond.notify_all()
            try:
                while (self._pending is not None or self._pending_state is not None
                       or self._busy) and self._thread.is_alive():
                    left = None if end is None else end - time.monotonic()
                    if left is not None and left <= 0:
                        return False
                    self._cond.wait(left)
            finally:
                self._flush = False
            return self.last_error is None

    def mark_saved_explicitly(self, path: Any = None) -> None:
        """After "Save ROI as": flush, then record that nothing is left to recover."""
        self.flush()
        self.workspace.mark_explicit_save(self.generation, path)

    def close(self, timeout: float | None = 10.0) -> None:
        """Flush, stop the thread, and end the workspace session cleanly."""
        self.flush(timeout)
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._thread.join(timeout)
        self.workspace.end_session()

    # -- writer thread ---------------------------------------------------------------------
    def _take(self) -> tuple[Any, int, dict[str, Any] | None] | None:
        with self._cond:
            while self._first_pending is None and not self._stopping:
                self._cond.wait()
            if self._first_pending is None:
                return None
            deadline = self._first_pending + self.delay
            while not (self._flush or self._stopping):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            taken = (self._pending, self.generation, self._pending_state)
            self._pending = self._pending_state = None
            self._first_pending = None
            self._busy = True
            return taken

    def _run(self) -> None:
        while True:
            taken = self._take()
            if taken is None:
                return
            rois, generation, state = taken
            try:
                if state:
                    self.workspace.save_state(state)
                if rois is not None:
                    # packing the bits is the copy: no separate copy of the live masks
                    snap = snapshot_of(rois, generation, copy=False)
                    snap.generation = generation
                    self.workspace.save_rois(snap)
                    self._saved_generation = generation
                self.last_error = None
                if self.on_saved is not None and rois is not None:
                    self.on_saved(generation)
            except Exception as exc:  # disk full, permissions: keep the edits, retry later
                log.warning("autosave failed: %s", exc)
                self.last_error = exc
                with self._cond:
                    if self._pending is None:
                        self._pending = rois
                    if state:
                        self._pending_state = {**state, **(self._pending_state or {})}
                    self._first_pending = self._first_pending or time.monotonic()
                if self.on_error is not None:
                    self.on_error(exc)
                time.sleep(min(self.delay, 0.5))
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()
