"""Keep ``None`` alive under PySide6 6.12 on Python 3.11 (a binding refcount bug).

Measured here: every call of a Python slot from a Qt-originated signal (a ``QTimer``
timeout, ``QTimer.singleShot``, queued cross-thread signals) drops one reference to
``None``; after as many calls as ``None`` had references (tens of thousands: minutes of
timers or mouse moves) CPython aborts with "Fatal Python error: none_dealloc".
``coloc_viewer.gui.qt_compat`` guards ``True``/``False`` against the same bug; this module
does the same for ``None`` (Python >= 3.12 makes it immortal anyway), so the compare
window is safe whichever way it is opened.
"""

from __future__ import annotations

import ctypes
import sys

_HEADROOM = 1 << 40


def guard_none_refcount() -> bool:
    """Give ``None`` a huge reference count once; returns whether it was applied now."""
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return False
    refcnt = ctypes.c_ssize_t.from_address(id(None))  # ob_refcnt is the first field
    if refcnt.value >= _HEADROOM // 2:
        return False  # already guarded
    refcnt.value += _HEADROOM
    return True
