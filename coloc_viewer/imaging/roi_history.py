"""Undo/redo for a whole :class:`~coloc_viewer.imaging.roi.RoiSet`.

Mask edits are stored as the changed bounding box only (bit-packed before/after values),
never as copies of whole masks. A GUI groups the many dabs of one brush stroke into one
undo step::

    history.begin_stroke("paint")
    for each mouse move: roi_edit.paint(roiset, name, z, (y, x), radius_mm)
    history.end_stroke()

Edits made outside an open stroke are one step each.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from coloc_viewer.imaging.roi import Roi, RoiSet

__all__ = ["EditHistory", "MaskEdit", "PropertyChange", "RoiListChange", "Region"]

#: (z slice, y slice, x slice) of a mask.
Region = tuple[slice, slice, slice]


def _bbox_union(regions: list[Region]) -> Region:
    return tuple(slice(min(r[i].start for r in regions), max(r[i].stop for r in regions))
                 for i in range(3))  # type: ignore[return-value]


@dataclass
class _Packed:
    shape: tuple[int, ...]
    bits: np.ndarray

    @classmethod
    def pack(cls, arr: np.ndarray) -> _Packed:
        return cls(arr.shape, np.packbits(arr, axis=None))

    def unpack(self) -> np.ndarray:
        n = int(np.prod(self.shape))
        return np.unpackbits(self.bits, count=n).astype(bool).reshape(self.shape)


class MaskEdit:
    """One undo step of mask changes: per ROI, a bounding box with before/after bits."""

    def __init__(self, label: str, changes: list[tuple[Roi, Region, _Packed, _Packed]]):
        self.label = label
        self.changes = changes

    @property
    def roi_names(self) -> list[str]:
        return [c[0].name for c in self.changes]

    @property
    def z_range(self) -> tuple[int, int]:
        """First and last+1 slice touched (for redrawing)."""
        return (min(c[1][0].start for c in self.changes), max(c[1][0].stop for c in self.changes))

    def nbytes(self) -> int:
        return sum(c[2].bits.nbytes + c[3].bits.nbytes for c in self.changes)

    def undo(self) -> None:
        for roi, region, before, _after in reversed(self.changes):
            roi.mask[region] = before.unpack()

    def redo(self) -> None:
        for roi, region, _before, after in self.changes:
            roi.mask[region] = after.unpack()


class PropertyChange:
    """Rename / recolour / show-hide / lock / recode of one ROI."""

    def __init__(self, roiset: RoiSet, roi: Roi, prop: str, old: Any, new: Any):
        self.roiset, self.roi, self.prop, self.old, self.new = roiset, roi, prop, old, new
        self.label = "rename" if prop == "name" else f"set {prop}"

    @property
    def roi_names(self) -> list[str]:
        return [self.roi.name]

    @staticmethod
    def apply(roiset: RoiSet, roi: Roi, prop: str, value: Any) -> None:
        if prop == "name" and roiset.active == roi.name:
            roiset.active = value
        setattr(roi, prop, value)

    def undo(self) -> None:
        self.apply(self.roiset, self.roi, self.prop, self.old)

    def redo(self) -> None:
        self.apply(self.roiset, self.roi, self.prop, self.new)


class RoiListChange:
    """An ROI added to or removed from the set."""

    def __init__(self, roiset: RoiSet, roi: Roi, index: int, added: bool):
        self.roiset, self.roi, self.index, self.added = roiset, roi, index, added
        self.label = "add ROI" if added else "delete ROI"

    @property
    def roi_names(self) -> list[str]:
        return [self.roi.name]

    def undo(self) -> None:
        if self.added:
            self.roiset._pop(self.roi)
        else:
            self.roiset._insert(self.roi, self.index)

    def redo(self) -> None:
        if self.added:
            self.roiset._insert(self.roi, self.index)
        else:
            self.roiset._pop(self.roi)


Step = MaskEdit | PropertyChange | RoiListChange


class _Stroke:
    def __init__(self, label: str):
        self.label = label
        self.dabs: list[tuple[Roi, Region, np.ndarray]] = []

    def record(self, roi: Roi, region: Region) -> None:
        """Call before changing ``roi.mask[region]``."""
        self.dabs.append((roi, region, roi.mask[region].copy()))

    def finish(self) -> MaskEdit | None:
        by_roi: dict[int, list[tuple[Roi, Region, np.ndarray]]] = {}
        for dab in self.dabs:
            by_roi.setdefault(id(dab[0]), []).append(dab)
        changes = []
        for dabs in by_roi.values():
            roi = dabs[0][0]
            union = _bbox_union([d[1] for d in dabs])
            after = roi.mask[union].copy()
            before = after.copy()
            for _roi, region, old in reversed(dabs):
                rel = tuple(slice(r.start - u.start, r.stop - u.start)
                            for r, u in zip(region, union))
                before[rel] = old
            if not np.array_equal(before, after):
                changes.append((roi, union, _Packed.pack(before), _Packed.pack(after)))
        return MaskEdit(self.label, changes) if changes else None


class EditHistory:
    """Undo/redo of at least ``max_steps`` steps, shared by every ROI of a set.

    ``listeners`` are called as ``f(step, action)`` with action "do", "undo" or "redo".
    """

    def __init__(self, max_steps: int = 200):
        if max_steps < 1:
            raise ValueError("max_steps must be >= 1")
        self.max_steps = max_steps
        self._undo: deque[Step] = deque(maxlen=max_steps)
        self._redo: list[Step] = []
        self._stroke: _Stroke | None = None
        self._depth = 0
        self.listeners: list[Callable[[Step, str], None]] = []

    def _notify(self, step: Step, action: str) -> None:
        for fn in list(self.listeners):
            fn(step, action)

    # -- strokes -------------------------------------------------------------------------
    def begin_stroke(self, label: str = "edit") -> None:
        """Start grouping mask edits into one step (nested calls join the open stroke)."""
        if self._depth == 0:
            self._stroke = _Stroke(label)
        self._depth += 1

    def end_stroke(self) -> MaskEdit | None:
        """Close the stroke; returns the recorded step (None when nothing changed)."""
        if self._depth == 0:
            return None
        self._depth -= 1
        if self._depth > 0:
            return None
        stroke, self._stroke = self._stroke, None
        step = stroke.finish() if stroke is not None else None
        if step is not None:
            self.push(step)
        return step

    @contextmanager
    def stroke(self, label: str = "edit") -> Iterator[_Stroke]:
        self.begin_stroke(label)
        try:
            assert self._stroke is not None
            yield self._stroke
        finally:
            self.end_stroke()

    @property
    def in_stroke(self) -> bool:
        return self._depth > 0

    # -- steps ---------------------------------------------------------------------------
    def push(self, step: Step) -> None:
        self._undo.append(step)
        self._redo.clear()
        self._notify(step, "do")

    @property
    def can_undo(self) -> bool:
        return bool(self._undo) and not self.in_stroke

    @property
    def can_redo(self) -> bool:
        return bool(self._redo) and not self.in_stroke

    def undo(self) -> Step | None:
        if not self.can_undo:
            return None
        step = self._undo.pop()
        step.undo()
        self._redo.append(step)
        self._notify(step, "undo")
        return step

    def redo(self) -> Step | None:
        if not self.can_redo:
            return None
        step = self._redo.pop()
        step.redo()
        self._undo.append(step)
        self._notify(step, "redo")
        return step

    def clear(self) -> None:
        self._undo.clear()
        self._redo.clear()

    def __len__(self) -> int:
        return len(self._undo)

    @property
    def labels(self) -> list[str]:
        """Undo stack labels, oldest first."""
        return [s.label for s in self._undo]

    def nbytes(self) -> int:
        """Memory held by mask steps (bit-packed bounding boxes)."""
        return sum(s.nbytes() for s in self._undo if isinstance(s, MaskEdit)) + sum(
            s.nbytes() for s in self._redo if isinstance(s, MaskEdit))
