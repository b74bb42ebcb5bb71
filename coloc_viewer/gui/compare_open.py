"""Opening the compare window from files: ``open_compare`` (scripts, tests) and
``python -m coloc_viewer.gui.compare_open IMAGE [IMAGE2] --roi R ...``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from coloc_viewer.gui.compare_window import CompareWindow
from coloc_viewer.viewer.compare import ModelRegistry, PaneSpec, Study
from coloc_viewer.viewer.orientation import orientation_of, oriented


def compare_before_after(window: Any, original: str, refined: str) -> Any:
    """Open the compare window (as Ctrl+K does) with ``original`` in pane A and
    ``refined`` in pane B, and analyse both."""
    compare = window.open_compare()
    if compare is None:
        return None
    compare.panes[0].set_spec(PaneSpec(original))
    compare.panes[1].set_spec(PaneSpec(refined))
    compare.analyse()
    return compare


def open_compare(images: Sequence[str], rois: Sequence[str | None] = (),
                 models: Sequence[str] = (), n_panes: int = 2,
                 specs: Sequence[PaneSpec] | None = None) -> CompareWindow:
    """Load one or two studies (with ROI files) and return a compare window (not shown).

    ``models``: bundled names or card paths (default: the bundled models). Needs a
    QApplication.
    """
    from coloc_viewer.imaging.load import load_volume
    from coloc_viewer.imaging.roi_io import load_roi

    studies = []
    for i, path in enumerate(images):
        stored = load_volume(path)
        volume = oriented(stored)  # standard display orientation
        roi_path = rois[i] if i < len(rois) else None
        mask = None if not roi_path else np.ascontiguousarray(
            orientation_of(volume).to_display(load_roi(roi_path, like=stored)))
        studies.append(Study(volume, mask))
    registry = ModelRegistry({Path(m).stem if m.endswith(".json") else m: m for m in models}
                             if models else None)
    return CompareWindow(studies, registry, n_panes=n_panes, specs=specs)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m coloc_viewer.gui.compare_open IMAGE [IMAGE2] --roi R [--roi R2] ...``"""
    import argparse
    import sys

    from PySide6.QtWidgets import QApplication

    from coloc_viewer.errors import ColocError

    parser = argparse.ArgumentParser(prog="python -m coloc_viewer.gui.compare_open",
                                     description="Compare maps side by side (2-4 panes).")
    parser.add_argument("images", nargs="+", help="one study, or two side by side")
    parser.add_argument("--roi", action="append", default=[], help="ROI file per study")
    parser.add_argument("--model", action="append", default=[],
                        help="bundled model name or card JSON (repeat for several)")
    parser.add_argument("--panes", type=int, default=2)
    args = parser.parse_args(argv)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    try:
        win = open_compare(args.images, args.roi, args.model, args.panes)
    except ColocError as exc:
        print(exc, file=sys.stderr)
        return 2
    win.resize(1400, 800)
    win.show()
    win.analyse()
    return app.exec()


if __name__ == "__main__":
    raise SystemExit(main())
