"""The throw-away Orthanc ends with the process that started it, even one killed outright."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import orthanc_or_skip

CHILD = """
import sys, time
from pathlib import Path
from coloc_viewer.pacs.orthanc_local import LocalOrthanc
pacs = LocalOrthanc(Path(sys.argv[1])).start()
print(pacs.process.pid, flush=True)
time.sleep(120)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (dead, not yet reaped by init) counts as ended
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(") ")[-1].startswith("Z"))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_orthanc_ends_when_its_starter_is_killed(tmp_path):
    orthanc_or_skip()
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path)],
                             stdout=subprocess.PIPE, text=True)
    try:
        pid = int(child.stdout.readline())
        assert _alive(pid)
        child.send_signal(signal.SIGKILL)  # no finally, no atexit: only the kernel can tell
        child.wait(10)
        deadline = time.monotonic() + 15
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(pid), "Orthanc outlived the killed process that started it"
    finally:
        child.kill()
        child.wait(10)
