"""The compare window survives more Qt-driven slot calls than None has references
(PySide6 6.12.0, which drops a reference to None per call, is excluded and refused by
coloc_viewer.gui.qt_compat)."""

from __future__ import annotations

import os
import subprocess
import sys

CHILD = r"""
import sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
if sys.argv[1] == "guarded":
    import coloc_viewer.gui.compare_window  # noqa: F401
app = QApplication([])
calls = [0]
def tick():
    calls[0] += 1
timer = QTimer()
timer.setInterval(0)
timer.timeout.connect(tick)
timer.start()
need = min(sys.getrefcount(None), 200_000) + 2_000
while calls[0] < need:
    app.processEvents()
timer.stop()
print("survived", calls[0])
"""


def _run(mode: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.run([sys.executable, "-c", CHILD, mode], capture_output=True, text=True,
                          env=env, timeout=120)


def test_none_refcount_guard_keeps_timer_slots_alive() -> None:
    guarded = _run("guarded")
    assert guarded.returncode == 0 and guarded.stdout.startswith("survived"), guarded.stderr
