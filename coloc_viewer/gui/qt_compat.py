"""Checks of the installed Qt binding, and the GIL switch interval the GUI thread needs.

PySide6 6.12.0 on Python 3.11 drops a reference to ``True`` on every ``Signal.emit()`` and
to ``None`` on every Qt-driven slot call, which aborts CPython after a few thousand signals.
The package metadata excludes that release (``PySide6-Essentials!=6.12.0``);
:func:`check_binding` refuses it with a clear message should it be installed anyway, instead
of patching the interpreter's reference counts.
"""

from __future__ import annotations

import sys

LEAKING_RELEASES = ("6.12.0",)


class UnsupportedBinding(RuntimeError):
    """The installed PySide6 is a release the viewer cannot run on."""


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


def check_binding(version: str | None = None, python: tuple[int, ...] | None = None) -> None:
    """Raise :class:`UnsupportedBinding` on PySide6 6.12.0 (Python < 3.12); ``version`` and
    ``python`` default to the running ones."""
    if version is None:
        import PySide6

        version = PySide6.__version__
    if tuple(python or sys.version_info[:3]) >= (3, 12) or version not in LEAKING_RELEASES:
        return
    raise UnsupportedBinding(
        f"PySide6 {version} loses Python reference counts on every signal and "
        "would crash the viewer; install another release: pip install "
        "'PySide6-Essentials!=6.12.0'")


def favour_the_gui_thread(interval_s: float = 0.001) -> None:
    """Shorter GIL switch interval (default 5 ms): with decoding and model threads busy, the
    GUI thread gets the interpreter back sooner, so timers and repaints are not starved."""
    if sys.getswitchinterval() > interval_s:
        sys.setswitchinterval(interval_s)
