"""The local pool behind ``--workers N``: this process is one of the workers.

A thread of the coordinating process takes tasks from the shared queue at once, while
``N - 1`` spawned processes (spawn: torch is not fork-safe) import torch and load the
models at the lowest CPU priority; each joins the queue when it is ready. A start thus
uses only CPU that the busy workers leave idle and never makes the run wait; under heavy
load a helper may never join, and the run is then the one-worker run. The number of
processes is capped by the number of tasks and of cores. Unless ``--threads`` fixes it,
every task gets ``cores // active`` torch threads, where *active* counts this process
and the helpers running a task. This process re-reads its share before every batch of
slices, so it gives a core to a helper that joins and takes it back when helpers run
out of work.
Processes stay alive between the phases of a run; :meth:`PoolBackend.close` stops them.

A case that kills its worker process (a crash, the OOM killer) is recorded as failed with
the reason, a replacement process starts while tasks remain, and the run goes on. Results
reach the caller's ``on_result``/``on_error`` in this process's main thread only.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from coloc_viewer.cohort.executors import (
    Backend,
    OnError,
    OnResult,
    available_cores,
    reason_of,
)
from coloc_viewer.cohort.worker import CaseTask, preload_model, run_case, thread_budget

TaskFn = Callable[[CaseTask], list[dict[str, Any]]]


def _warm_up(preload: tuple[str, ...]) -> None:
    """Import torch and load the models in a thread at the lowest priority (Linux: nice is
    per thread), so the start uses only CPU the busy workers leave idle; the tasks then
    run in the process's main thread at normal priority."""
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
    for ref in preload:
        with contextlib.suppress(Exception):  # the task itself reports the model's error
            preload_model(ref)


def _serve(conn: Any, preload: tuple[str, ...], fn: TaskFn, active: Any,
           threads: int | None, cores: int) -> None:
    """A spawned worker: warm up (imports, models), say ``ready``, then run what it gets,
    re-reading its thread share (``cores // active``) before every batch of slices."""
    warm = threading.Thread(target=_warm_up, args=(preload,), name="cohort-warm-up")
    warm.start()
    warm.join()
    thread_budget(lambda: threads or max(1, cores // max(1, active.value)))
    try:
        conn.send(("ready", None))
        while True:
            msg, task = conn.recv()
            if msg != "task":
                return
            try:
                reply = ("done", fn(task))
            except Exception as err:  # noqa: BLE001 - reported as this task's failure
                reply = ("error", reason_of(err))
            conn.send(reply)
    except (EOFError, OSError):  # the coordinating process is gone (killed): stop quietly
        return


@dataclass
class _Proc:
    process: Any
    conn: Any
    state: str = "starting"  # starting | idle | running
    task: CaseTask | None = None


class PoolBackend(Backend):
    """``workers`` workers: this process plus up to ``workers - 1`` spawned ones."""

    def __init__(self, workers: int, threads: int | None = None,
                 preload: Sequence[str] = (), fn: TaskFn = run_case,
                 cores: int | None = None):
        self.workers, self.threads, self.fn = workers, threads, fn
        self.preload = tuple(preload)
        self.cores = cores or available_cores()
        self.name = f"{workers} worker(s)"
        self.procs: list[_Proc] = []
        self.respawns = 0
        self._lock = threading.Lock()
        self._local_busy = False
        self._shared: Any = None  # the active count, read by the spawned workers

    # --- processes ----------------------------------------------------------------------
    def _spawn(self) -> None:
        import multiprocessing as mp

        ctx = mp.get_context("spawn")
        if self._shared is None:
            self._shared = ctx.RawValue("i", self._active())
        mine, theirs = ctx.Pipe()
        p = ctx.Process(target=_serve, daemon=True,
                        args=(theirs, self.preload, self.fn, self._shared, self.threads,
                              self.cores),
                        name=f"cohort-worker-{len(self.procs) + self.respawns + 1}")
        p.start()
        theirs.close()
        self.procs.append(_Proc(p, mine))

    def _active(self) -> int:
        """This process (while its thread has work) and the helpers running a task."""
        return int(self._local_busy) + sum(p.state == "running" for p in self.procs)

    def _threads(self) -> int:
        return self.threads or max(1, self.cores // max(1, self._active()))

    def _set(self, p: _Proc | None, state: str, task: CaseTask | None = None) -> None:
        """Change a helper's state (None: this process's thread busy or not) and publish
        the active count; call with the lock held."""
        if p is None:
            self._local_busy = state == "running"
        else:
            p.state, p.task = state, task
        if self._shared is not None:
            self._shared.value = self._active()

    def _budget(self) -> int:
        with self._lock:
            return self._threads()

    def _give(self, p: _Proc, pending: deque[CaseTask], on_error: OnError) -> bool:
        """Send ``p`` the next task; False when none is left (``p`` goes idle)."""
        while True:
            with self._lock:
                task = pending.popleft() if pending else None
                if task is None:
                    self._set(p, "idle")
                    return False
                self._set(p, "running", task)
                sized = replace(task, threads=self._threads())
            try:
                p.conn.send(("task", sized))
                return True
            except (OSError, ValueError, TypeError, AttributeError) as err:  # unpicklable
                with self._lock:
                    self._set(p, "idle")
                on_error(task, reason_of(err))
                if isinstance(err, OSError):
                    return False

    # --- the run ------------------------------------------------------------------------
    def run(self, tasks: Sequence[CaseTask], on_result: OnResult, on_error: OnError) -> None:
        from multiprocessing.connection import wait

        pending: deque[CaseTask] = deque(tasks)
        left = len(pending)
        wanted = max(1, min(self.workers, len(pending), self.cores)) - 1
        while len(self.procs) < wanted:
            self._spawn()
        local: queue.Queue[tuple[CaseTask, bool, Any]] = queue.Queue()
        stop = threading.Event()
        thread = threading.Thread(target=self._local_loop, args=(pending, local, stop),
                                  name="cohort-local-worker", daemon=True)
        thread.start()
        try:
            for p in self.procs:
                if p.state == "idle":
                    self._give(p, pending, on_error)
            while left:
                left -= self._drain(local, on_result, on_error, block=not self.procs)
                if left and self.procs:
                    objs = [p.conn for p in self.procs] + [p.process.sentinel
                                                           for p in self.procs]
                    left -= self._handle(wait(objs, timeout=0.05), pending, on_result,
                                         on_error)
        except BaseException:
            stop.set()
            with self._lock:
                pending.clear()
            self._kill()
            raise
        thread.join()

    @staticmethod
    def _drain(local: queue.Queue, on_result: OnResult, on_error: OnError, block: bool
               ) -> int:
        """Report the local thread's finished tasks (waiting up to 0.5 s for one when
        ``block``); the number reported."""
        n = 0
        while True:
            try:
                task, ok, payload = local.get(timeout=0.5) if block and not n else \
                    local.get_nowait()
            except queue.Empty:
                return n
            n += 1
            if ok:
                on_result(task, payload)
            else:
                on_error(task, payload)

    def _local_loop(self, pending: deque[CaseTask], out: queue.Queue, stop: threading.Event
                    ) -> None:
        thread_budget(self._budget)
        try:
            while not stop.is_set():
                with self._lock:
                    task = pending.popleft() if pending else None
                    self._set(None, "running" if task is not None else "idle")
                    threads = self._threads()
                if task is None:
                    return
                try:
                    out.put((task, True, self.fn(replace(task, threads=threads))))
                except Exception as err:  # noqa: BLE001 - a bad case must not stop the run
                    out.put((task, False, reason_of(err)))
        finally:
            with self._lock:
                self._set(None, "idle")

    def _handle(self, ready: list[Any], pending: deque[CaseTask], on_result: OnResult,
                on_error: OnError) -> int:
        """Process pipe messages and dead processes; the number of tasks finished."""
        finished = 0
        for p in list(self.procs):
            if p.conn in ready:
                try:
                    msg, payload = p.conn.recv()
                except (EOFError, OSError):
                    msg, payload = "dead", None
                if msg in ("done", "error"):
                    task, p.task = p.task, None
                    finished += 1
                    if msg == "done":
                        on_result(task, payload)
                    else:
                        on_error(task, payload)
                if msg != "dead":
                    self._give(p, pending, on_error)
                    continue
            if p.process.sentinel in ready or not p.process.is_alive():
                p.process.join(5)
                if p.process.is_alive():
                    continue
                with self._lock:
                    self.procs.remove(p)
                    self._set(None, "running" if self._local_busy else "idle")
                p.conn.close()
                if p.task is not None:
                    finished += 1
                    code = p.process.exitcode
                    on_error(p.task, f"the worker process stopped (exit code {code}) while "
                                     "running this case")
                with self._lock:
                    more = bool(pending)
                if more and self.respawns < 2 * self.workers:
                    self.respawns += 1
                    self._spawn()
        return finished

    def _kill(self) -> None:
        for p in self.procs:
            if p.process.is_alive():
                p.process.kill()
            p.process.join(5)
            p.conn.close()
        self.procs.clear()

    def close(self) -> None:
        for p in self.procs:
            if p.state == "starting":  # no work done yet: no need to wait for its import
                p.process.kill()
                continue
            with contextlib.suppress(OSError):
                p.conn.send(("stop", None))
        for p in self.procs:
            p.process.join(10)
        self._kill()
