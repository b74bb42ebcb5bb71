"""A plain-text progress bar on stderr with rate and ETA (no tqdm needed).

On a terminal the bar redraws in place at most every ``min_interval`` seconds; when
stderr is not a terminal (a log file, a cluster job) one line is printed every
``log_interval`` seconds and at the end.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


def _fmt_seconds(s: float) -> str:
    if s != s or s == float("inf"):  # NaN / unknown
        return "--:--"
    s = int(round(s))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m:02d}:{sec:02d}"


class Progress:
    """Counts finished units of work; ``update(n)`` after each, ``close()`` at the end."""

    def __init__(self, total: int, *, label: str = "cohort", unit: str = "units",
                 stream: TextIO | None = None, min_interval: float = 0.2,
                 log_interval: float = 30.0, clock=time.monotonic):
        self.total = max(0, int(total))
        self.label, self.unit = label, unit
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.interval = min_interval if self.tty else log_interval
        self.clock = clock
        self.start = clock()
        self.done = 0
        self.failed = 0
        self._last = -float("inf")

    def rate(self) -> float:
        elapsed = self.clock() - self.start
        return self.done / elapsed if elapsed > 0 else 0.0

    def line(self) -> str:
        rate = self.rate()
        eta = (self.total - self.done) / rate if rate > 0 else float("nan")
        pct = 100.0 * self.done / self.total if self.total else 100.0
        width = 24
        fill = int(width * self.done / self.total) if self.total else width
        bar = "#" * fill + "." * (width - fill)
        fail = f", {self.failed} failed" if self.failed else ""
        return (f"{self.label} [{bar}] {self.done}/{self.total} {self.unit} ({pct:3.0f}%) "
                f"{rate:.2f} {self.unit}/s ETA {_fmt_seconds(eta)}{fail}")

    def update(self, n: int = 1, failed: int = 0) -> None:
        self.done += n
        self.failed += failed
        now = self.clock()
        if now - self._last >= self.interval or self.done >= self.total:
            self._emit()
            self._last = now

    def _emit(self) -> None:
        if self.tty:
            self.stream.write("\r" + self.line())
        else:
            self.stream.write(self.line() + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self._emit()
            self.stream.write("\n")
            self.stream.flush()
        elif self.done < self.total or self._last == -float("inf"):
            self._emit()
