"""The Edit menu's ROI commands (``viewer.tools.ROI_COMMANDS``) on the main window: copy to
the next/previous slice runs at once; "fill between slices" computes in a worker (ITK's
interpolator takes seconds to load the first time) and applies the result on the GUI thread
as one undo step."""

from __future__ import annotations

from typing import Any

from coloc_viewer.imaging.roi_interpolate import drawn_slices, interpolate_mask

CHANNEL = "interpolate"


def run_roi_command(window: Any, name: str) -> None:
    """Run the ROI command ``name`` (a ViewerState method) for ``window``."""
    if name == "fill_between_slices":
        fill_between_slices(window)
        return
    state = window.state
    if not getattr(state, name)():
        roi = state.active_roi()
        if roi is None or not roi.locked:  # a locked ROI has said so (state.events.notice)
            window.statusBar().showMessage("No slice there", 3000)


def fill_between_slices(window: Any, method: str = "auto") -> None:
    """Interpolate the active ROI between its drawn slices in the background."""
    state = window.state
    job = state.interpolation_input()
    if job is None:
        window.statusBar().showMessage("The active ROI is locked", 3000)
        return
    roi_name, mask, spacing = job
    if len(drawn_slices(mask)) < 2:
        window.statusBar().showMessage("Draw the ROI on two slices (with empty slices "
                                       "between them) to fill between them", 5000)
        return
    window.statusBar().showMessage(f"Filling {roi_name} between slices…")

    def done(filled: Any) -> None:
        rois = state.rois
        if rois is None or rois.active != roi_name or roi_name not in rois:
            window.statusBar().showMessage("Fill between slices dropped: the active ROI "
                                           "changed", 5000)
            return
        before = len(drawn_slices(rois[roi_name].mask))
        changed = state.fill_between_slices(filled=filled)
        after = len(drawn_slices(rois[roi_name].mask))
        window.statusBar().showMessage(
            f"Filled {after - before} slices of {roi_name}" if changed
            else "Nothing to fill: no empty slice between the drawn ones", 5000)

    window.runner.submit(CHANNEL, interpolate_mask, mask, spacing, method, on_result=done,
                         on_error=lambda err: window.show_error("Cannot fill between slices",
                                                                err))
