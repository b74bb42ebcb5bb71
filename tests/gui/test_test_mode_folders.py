"""Test mode (``COLOC_VIEWER_NO_SETTINGS=1``, used by the tests, the benchmarks and CI) keeps
its throw-away settings and autosave folders in the temporary folder only while the program
runs: a window's ROIs never meet another's, and nothing is left behind when it exits
(the test suite had left thousands of folders in /tmp)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = """
import os
from coloc_viewer.gui.settings import open_settings, workspace_root
a, b = workspace_root(), workspace_root()
s = open_settings(); s.setValue("x", 1); s.sync()
print(a); print(b); print(s.fileName())
assert a != b and os.path.isdir(a) and os.path.isdir(b) and os.path.isfile(s.fileName())
"""


def test_throw_away_folders_are_removed_at_exit(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "COLOC_VIEWER_DATA_DIR"}
    env.update(COLOC_VIEWER_NO_SETTINGS="1", TMPDIR=str(tmp_path))
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    made = [Path(line) for line in done.stdout.split()]
    assert len(made) == 3 and all(tmp_path in p.parents for p in made)
    assert not any(p.exists() for p in made)
    assert list(tmp_path.iterdir()) == []
