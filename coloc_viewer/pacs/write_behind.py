"""Write retrieved instances on a thread of their own, so the receiving thread goes back to
the socket at once (the file writes were a third of its time in a WADO-RS retrieval)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["WriteBehind"]


class WriteBehind:
    """``put(key, data)`` queues one instance; a thread runs ``write(key, data)`` and then
    ``after(path, data)`` for each, in order. An error there stops the writing and is raised
    by the next :meth:`put` or by :meth:`close` (which waits for the queue to drain).
    At most ``depth`` instances wait in memory: a slower disk holds the receiver back."""

    def __init__(self, write: Callable[[str, bytes], Path],
                 after: Callable[[Path, bytes], Any], depth: int = 32):
        self._write, self._after = write, after
        self._queue: queue.Queue[tuple[str, bytes] | None] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="pacs-write", daemon=True)
        self._thread.start()

    def put(self, key: str, data: bytes) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put((key, data))

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if self._error is not None:
                continue  # drain: the receiver must never block on a full queue
            try:
                self._after(self._write(*item), item[1])
            except BaseException as err:  # noqa: BLE001 - raised in the receiving thread
                self._error = err

    def close(self) -> None:
        """Wait until every queued instance is written; raise the first error."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        if self._error is not None:
            raise self._error
