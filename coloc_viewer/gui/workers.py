"""Background work off the GUI thread: generator workers that report progress and cancel.

The superqt/napari pattern: a ``QRunnable`` that runs a generator function and a separate
``QObject`` holding its signals (a QRunnable is not a QObject). ``quit()`` only sets a flag
checked between ``yield``s, so long work must yield often. :class:`TaskRunner` keeps one
current worker per channel: a newer request supersedes the older one, whose results are
dropped even if it was already past its last check.

Series loading runs on a second pool whose threads drop to a lower OS priority (Linux nice
10) once they have yielded their first value (the first slice: latency the user waits for);
the decoding threads the loader starts after that inherit it. Measured on 2 cores: four
decode threads at the GUI's priority stretched a 7 ms slice-view repaint to 25-45 ms, the
event-loop stall the user sees; niced, the GUI thread wins the CPU and loading still uses
idle cores. That pool's threads exit when idle, so every load starts at normal priority.
"""

from __future__ import annotations

import inspect
import logging
import os
import sys
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from coloc_viewer.errors import ColocError

log = logging.getLogger(__name__)


class WorkerSignals(QObject):
    """Signals of one worker, delivered to the GUI thread (queued connections)."""

    started = Signal()
    yielded = Signal(object)
    returned = Signal(object)
    errored = Signal(object)
    aborted = Signal()
    finished = Signal()


class GeneratorWorker(QRunnable):
    """Runs ``func(*args, **kwargs)``; if it is a generator, forwards each yielded value."""

    def __init__(self, func: Callable[..., Any], *args: Any, niceness: int = 0,
                 **kwargs: Any) -> None:
        """``niceness``: OS priority the thread drops to after the first yielded value."""
        super().__init__()
        self.setAutoDelete(False)
        self.niceness = niceness
        self.signals = WorkerSignals()
        self._func, self._args, self._kwargs = func, args, kwargs
        self._abort = threading.Event()
        self.done = threading.Event()

    def quit(self) -> None:
        """Ask the worker to stop at its next ``yield``."""
        self._abort.set()

    @property
    def abort_requested(self) -> bool:
        return self._abort.is_set()

    def run(self) -> None:  # runs in a pool thread
        self.signals.started.emit()
        try:
            result = self._func(*self._args, **self._kwargs)
            if inspect.isgenerator(result):
                result = self._drive(result)
                if result is _ABORTED:
                    self.signals.aborted.emit()
                    return
            if not self.abort_requested:
                self.signals.returned.emit(result)
            else:
                self.signals.aborted.emit()
        except Exception as err:  # reported to the GUI, never raised into Qt
            if isinstance(err, ColocError):  # the product's one-line errors, a cancel too:
                log.info("background task ended: %s", err)  # the GUI shows them; no trace
            else:
                log.exception("background task failed: %s", err)
            self.signals.errored.emit(err)
        finally:
            self.done.set()
            self.signals.finished.emit()

    def _drive(self, gen: Any) -> Any:
        while True:
            if self.abort_requested:
                gen.close()
                return _ABORTED
            try:
                value = next(gen)
            except StopIteration as stop:
                return stop.value
            if not self.abort_requested:
                self.signals.yielded.emit(value)
            if self.niceness:  # the first value is out: the rest is bulk work
                lower_thread_priority(self.niceness)
                self.niceness = 0


_ABORTED = object()


def lower_thread_priority(niceness: int) -> bool:
    """Raise the calling thread's nice value to at least ``niceness`` (Linux, where nice is
    per thread and inherited by the threads it starts); False where unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        tid = threading.get_native_id()
        if os.getpriority(os.PRIO_PROCESS, tid) < niceness:
            os.setpriority(os.PRIO_PROCESS, tid, niceness)
        return True
    except OSError:
        return False


class TaskRunner(QObject):
    """Starts workers on its own thread pool, one current worker per named channel."""

    busy_changed = Signal(int)  # number of running workers (not bool: PySide6 refcount bug)

    #: channels whose work runs at a lower OS priority, on their own pool
    BACKGROUND_CHANNELS = frozenset({"load"})
    BACKGROUND_NICENESS = 10

    def __init__(self, max_threads: int = 2, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max_threads)
        self.background_pool = QThreadPool(self)  # its threads end niced: never shared
        self.background_pool.setMaxThreadCount(max_threads)
        self.background_pool.setExpiryTimeout(0)  # so they exit and the next load starts fresh
        self._current: dict[str, GeneratorWorker] = {}
        self._running: set[GeneratorWorker] = set()

    def submit(self, channel: str, func: Callable[..., Any], *args: Any,
               on_result: Callable[[Any], Any] | None = None,
               on_yield: Callable[[Any], Any] | None = None,
               on_error: Callable[[Exception], Any] | None = None,
               on_done: Callable[[], Any] | None = None, **kwargs: Any) -> GeneratorWorker:
        """Run ``func`` in the background, superseding the channel's previous worker."""
        self.cancel(channel)
        background = channel in self.BACKGROUND_CHANNELS
        worker = GeneratorWorker(func, *args, **kwargs,
                                 niceness=self.BACKGROUND_NICENESS if background else 0)
        self._current[channel] = worker
        self._running.add(worker)

        def current() -> bool:
            return self._current.get(channel) is worker

        if on_yield is not None:
            worker.signals.yielded.connect(lambda v: on_yield(v) if current() else None)
        if on_result is not None:
            worker.signals.returned.connect(lambda v: on_result(v) if current() else None)
        if on_error is not None:
            worker.signals.errored.connect(lambda e: on_error(e) if current() else None)

        def finished() -> None:
            self._running.discard(worker)
            was_current = current()
            if was_current:
                del self._current[channel]
            if was_current and on_done is not None:
                on_done()
            self.busy_changed.emit(len(self._running))

        worker.signals.finished.connect(finished)
        self.busy_changed.emit(len(self._running))
        (self.background_pool if background else self.pool).start(worker)
        return worker

    def cancel(self, channel: str) -> None:
        worker = self._current.pop(channel, None)
        if worker is not None:
            worker.quit()

    def is_busy(self, channel: str | None = None) -> bool:
        if channel is None:
            return bool(self._running)
        return channel in self._current

    def shutdown(self, msecs: int = 5000) -> bool:
        """Cancel everything and wait for the pool (window close, tests)."""
        for channel in list(self._current):
            self.cancel(channel)
        done = self.pool.waitForDone(msecs)
        return self.background_pool.waitForDone(msecs) and done
