"""Entry script of the frozen bundle: the same ``coloc-viewer`` command as the installed one.

``--smoke-test`` goes straight to :func:`coloc_viewer.selftest.run_smoke_test` (what
``run_gui`` does for it too), so an installation can be checked on a machine without a
display; ``--smoke-test --window`` runs the same steps in a real window. Nothing here
re-executes the bundle: the display probe runs in-process (``gui/display_probe.py``).
"""

import multiprocessing
import sys


def _smoke_test(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="coloc-viewer")
    parser.add_argument("--smoke-test", action="store_true")
    parser.add_argument("--window", action="store_true")
    parser.add_argument("--screenshot")
    parser.add_argument("--model")
    args, _unknown = parser.parse_known_args(argv)
    from coloc_viewer.selftest import run_smoke_test

    return run_smoke_test(args)


if __name__ == "__main__":
    # cohort runs use a process pool; in a frozen program the children re-enter here
    multiprocessing.freeze_support()
    if "--smoke-test" in sys.argv[1:]:
        sys.exit(_smoke_test(sys.argv[1:]))
    from coloc_viewer.cli.main import main

    sys.exit(main())
