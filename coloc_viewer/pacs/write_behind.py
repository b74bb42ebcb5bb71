"""Write retrieved instances on a thread of their own, so the receiving thread goes back to
the socket at once (the file writes were a third of its time in a WADO-RS retrieval); or
hold them in memory until the volume is on screen and write them then."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["WriteBehind"]


class WriteBehind:
    """``put(key, data)`` queues one instance; a thread runs ``write(key, data)`` and then
    ``after(path, data)`` for each, in order. An error there stops the writing and is raised
    by the next :meth:`put` or by :meth:`close` (which waits for the queue to drain).
    At most ``depth`` instances wait in memory: a slower disk holds the receiver back.

    ``hold_bytes`` > 0: nothing is written until :meth:`release` (or :meth:`close`), unless
    more than ``hold_bytes`` wait; then writing starts and ``depth`` applies again."""

    def __init__(self, write: Callable[[str, bytes], Path],
                 after: Callable[[Path, bytes], Any], depth: int = 32, hold_bytes: int = 0):
        self._write, self._after = write, after
        self._depth, self._hold_bytes = depth, hold_bytes
        self._items: deque[tuple[str, bytes]] = deque()
        self._waiting = 0  # bytes queued
        self._held = hold_bytes > 0
        self._closed = False
        self._cond = threading.Condition()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="pacs-write", daemon=True)
        self._thread.start()

    @property
    def held(self) -> bool:
        return self._held

    def put(self, key: str, data: bytes) -> None:
        with self._cond:
            while not self._held and len(self._items) >= self._depth and \
                    self._error is None:
                self._cond.wait()
            if self._error is not None:
                raise self._error
            self._items.append((key, data))
            self._waiting += len(data)
            if self._held and self._waiting > self._hold_bytes:
                self._held = False  # too much in memory: write from now on
            self._cond.notify_all()

    def release(self) -> None:
        """Start writing what is held (and whatever comes next)."""
        with self._cond:
            self._held = False
            self._cond.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                while (self._held or not self._items) and not self._closed:
                    self._cond.wait()
                if not self._items:
                    return  # closed and drained
                key, data = self._items.popleft()
                self._waiting -= len(data)
                self._cond.notify_all()  # room for the receiver
                if self._error is not None:
                    continue  # drain: the receiver must never block on a full queue
            try:
                self._after(self._write(key, data), data)
            except BaseException as err:  # noqa: BLE001 - raised in the receiving thread
                with self._cond:
                    self._error = err
                    self._cond.notify_all()

    def close(self, write_rest: bool = True) -> None:
        """Wait until every queued instance is written (``write_rest`` False: drop what is
        still queued); raise the first error."""
        with self._cond:
            if not write_rest:
                self._items.clear()
                self._waiting = 0
            self._closed, self._held = True, False
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join()
        if self._error is not None:
            raise self._error
