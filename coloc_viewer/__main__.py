"""``python -m coloc_viewer`` is the same as ``coloc-viewer``."""

import sys

from coloc_viewer.cli.main import main

sys.exit(main())
