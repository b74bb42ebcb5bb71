"""Work-arounds for bugs of the installed Qt binding, applied once when ``gui`` is imported.

PySide6 6.12.0 on Python 3.11 (6.11.3 is fine): every ``SignalInstance.emit()`` returns
``True`` without taking a reference, and every call of a Python slot from a Qt-originated
signal (a QTimer tick, a queued cross-thread signal) drops one reference to the ``None`` it
returns. After a few thousand signals (pyqtgraph emits one per mouse move) CPython aborts
with "Fatal Python error: bool_dealloc" (or "none_dealloc"). Python >= 3.12 makes these
singletons immortal, which hides the bug; on older Pythons we do the same by giving them a
huge reference count, but only when a probe shows the binding leaks.
"""

from __future__ import annotations

import ctypes
import sys

_HEADROOM = 1 << 40


def emit_leaks_true() -> bool:
    """True when emitting a signal drops a reference to ``True`` (the PySide6 6.12.0 bug)."""
    from PySide6.QtCore import QObject, Signal

    class _Probe(QObject):
        ping = Signal()

    probe = _Probe()
    before = sys.getrefcount(True)
    for _ in range(8):
        probe.ping.emit()
    return sys.getrefcount(True) < before - 4


def guard_signal_refcounts() -> bool:
    """Make ``True``/``False``/``None`` effectively immortal if the binding leaks them;
    returns whether the guard was applied (now or before)."""
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return False
    if not emit_leaks_true():
        return False
    for obj in (True, False, None):
        refcnt = ctypes.c_ssize_t.from_address(id(obj))  # ob_refcnt is the first field
        if refcnt.value < _HEADROOM // 2:  # not yet guarded (here or by another module)
            refcnt.value += _HEADROOM
    return True


def favour_the_gui_thread(interval_s: float = 0.001) -> None:
    """Shorter GIL switch interval (default 5 ms): with decoding and model threads busy, the
    GUI thread gets the interpreter back sooner, so timers and repaints are not starved."""
    if sys.getswitchinterval() > interval_s:
        sys.setswitchinterval(interval_s)
