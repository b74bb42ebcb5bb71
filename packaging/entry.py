"""Entry script of the frozen bundle: the same ``coloc-viewer`` command as the installed one."""

import multiprocessing
import sys

if __name__ == "__main__":
    # cohort runs use a process pool; in a frozen program the children re-enter here
    multiprocessing.freeze_support()
    from coloc_viewer.cli.main import main

    sys.exit(main())
