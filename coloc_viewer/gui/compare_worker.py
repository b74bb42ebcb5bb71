"""Runs the panes' model work in a QThreadPool worker, never on the GUI thread.

One :class:`CompareJob` computes every requested pane in turn and reports each result as
it lands; a newer job supersedes the older one (its ``cancelled`` flag is set and its
remaining panes are skipped; results that still arrive carry an old request id and are
dropped by the window). A multi-series model's other series are resolved here
(``PaneInputs.resolve``): a model that cannot run on the pane's study reports its one
sentence, and a role the reader must choose is asked for (``ask``) by the window.
"""

from __future__ import annotations

import logging
import threading
import traceback

from PySide6.QtCore import QObject, QRunnable, Signal

from coloc_viewer.report.phi import PhiGuard, patient_identity
from coloc_viewer.viewer.analysis import ResultCache
from coloc_viewer.viewer.compare import ModelRegistry, PaneSpec, Study, compute_pane
from coloc_viewer.viewer.compare_inputs import CannotRun, PaneInputs, RolesNeeded

log = logging.getLogger(__name__)


class CompareSignals(QObject):
    result = Signal(int, int, object)  # request id, pane index, PaneResult
    failed = Signal(int, int, str)  # request id, pane index, one-line message
    finished = Signal(int)
    ask = Signal(int, int, object)  # request id, pane index, the RolePlan to decide


class CompareJob(QRunnable):
    """Compute ``tasks`` = [(pane index, study, slice, spec)] in order."""

    def __init__(self, request_id: int, registry: ModelRegistry,
                 tasks: list[tuple[int, Study, int, PaneSpec]], cache: ResultCache,
                 cache_lock: threading.Lock, inputs: PaneInputs | None = None) -> None:
        super().__init__()
        self.setAutoDelete(False)
        self.request_id = request_id
        self.registry = registry
        self.tasks = tasks
        self.cache = cache
        self.cache_lock = cache_lock
        self.inputs = inputs if inputs is not None else PaneInputs()
        self.signals = CompareSignals()
        self._cancel = threading.Event()

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def run(self) -> None:
        try:
            from coloc_viewer.model.device import configure_threads

            configure_threads()  # all cores but one: the GUI thread keeps a core
            for index, study, k, spec in self.tasks:
                if self.cancelled:
                    break
                try:
                    with self.cache_lock:  # one model run at a time; the cache is shared
                        inputs = self.inputs.resolve(self.registry.get(spec.model),
                                                     study.volume)
                        result = compute_pane(self.registry, study, k, spec, self.cache,
                                              lambda: self.cancelled, inputs)
                except CannotRun as exc:  # the viewer's one sentence, no traceback
                    log.info("compare pane %d: the model cannot run on this study", index)
                    self.signals.failed.emit(self.request_id, index, str(exc))
                    continue
                except RolesNeeded as exc:
                    self.signals.ask.emit(self.request_id, index, exc.plan)
                    continue
                except Exception as exc:  # a broken model must not take the window down
                    guard = PhiGuard(patient_identity(study.volume))  # no names in logs
                    message = guard.clean(" ".join(str(exc).split()) or type(exc).__name__)
                    log.warning("compare pane %d failed: %s", index, message)
                    log.debug("%s", guard.clean(traceback.format_exc()))
                    self.signals.failed.emit(self.request_id, index, message)
                    continue
                if result is not None and not self.cancelled:
                    self.signals.result.emit(self.request_id, index, result)
        finally:
            self.signals.finished.emit(self.request_id)
