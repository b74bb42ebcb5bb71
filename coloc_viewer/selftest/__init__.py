"""``coloc-viewer --smoke-test [--window]``: the installed program's self test.

* ``checks``     -- Qt-free checks (codecs, compressed series, score and voxel equality)
* ``window_run`` -- :class:`SmokeTest`, which drives the real main window
* ``run``        -- :func:`run_smoke_test`: the steps, the report file, the exit status
"""

from __future__ import annotations

from typing import Any


def run_smoke_test(args: Any) -> int:
    """See :func:`coloc_viewer.selftest.run.run_smoke_test`."""
    from coloc_viewer.selftest.run import run_smoke_test as run

    return run(args)
