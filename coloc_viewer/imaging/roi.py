"""The ROI data model: an ordered set of named ROIs (boolean masks on one volume grid).

Every ROI has a name (unique in its set), an RGB colour, an optional coded meaning (e.g.
SNOMED CT "Neoplasm" or "Prostate"), visibility and lock flags, and a boolean mask
(z, y, x) on the volume grid. All edits of all ROIs share one undo/redo history
(:class:`~coloc_viewer.imaging.roi_history.EditHistory`); editing operations live in
:mod:`coloc_viewer.imaging.roi_edit`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from coloc_viewer.imaging.roi_history import EditHistory, PropertyChange, RoiListChange

__all__ = ["Code", "Roi", "RoiSet", "CODES", "CATEGORIES", "PALETTE"]


@dataclass(frozen=True)
class Code:
    """A coded concept: coding scheme designator, code value, code meaning."""

    scheme: str
    value: str
    meaning: str

    def to_dict(self) -> dict[str, str]:
        return {"scheme": self.scheme, "value": self.value, "meaning": self.meaning}

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> Code | None:
        if not d:
            return None
        return cls(str(d["scheme"]), str(d["value"]), str(d["meaning"]))


#: Common ROI meanings (SNOMED CT, as used in DICOM SEG / the DCMR context groups).
CODES: dict[str, Code] = {
    "lesion": Code("SCT", "108369006", "Neoplasm"),
    "tumor": Code("SCT", "108369006", "Neoplasm"),
    "prostate": Code("SCT", "41216001", "Prostate"),
    "marker": Code("SCT", "260787004", "Physical object"),
    "artifact": Code("SCT", "47973001", "Artifact"),
    "organ": Code("SCT", "91723000", "Anatomical structure"),
    "tissue": Code("SCT", "85756007", "Tissue"),
}
#: Segmented property categories matching the codes above (DICOM SEG needs one).
CATEGORIES: dict[str, Code] = {
    "108369006": Code("SCT", "49755003", "Morphologically Altered Structure"),
    "41216001": Code("SCT", "123037004", "Anatomical Structure"),
    "91723000": Code("SCT", "123037004", "Anatomical Structure"),
    "260787004": Code("SCT", "260787004", "Physical object"),
    "47973001": Code("SCT", "47973001", "Artifact"),
    "85756007": Code("SCT", "85756007", "Tissue"),
}
#: Default ROI colours, used in order.
PALETTE: list[tuple[int, int, int]] = [
    (230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48),
    (145, 30, 180), (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212),
]


def category_for(code: Code | None) -> Code:
    """The segmented property category that goes with ``code`` (Tissue when unknown)."""
    if code is not None and code.value in CATEGORIES:
        return CATEGORIES[code.value]
    return Code("SCT", "85756007", "Tissue")


@dataclass(eq=False)
class Roi:
    """One named ROI; ``mask`` is a boolean (z, y, x) array edited in place."""

    name: str
    mask: np.ndarray
    color: tuple[int, int, int] = (230, 25, 75)
    code: Code | None = None
    category: Code | None = None
    visible: bool = True
    locked: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        """The ROI's properties (no mask) as JSON-ready values."""
        return {"name": self.name, "color": list(self.color),
                "code": self.code.to_dict() if self.code else None,
                "category": (self.category or category_for(self.code)).to_dict(),
                "visible": self.visible, "locked": self.locked}

    def __repr__(self) -> str:
        return f"Roi({self.name!r}, voxels={int(np.count_nonzero(self.mask))})"


class RoiSet:
    """Ordered, uniquely named ROIs on one grid, with a shared undo/redo history.

    ``spacing`` (z, y, x) in mm is needed by brushes sized in millimetres. ``active`` names
    the ROI that drawing tools edit.
    """

    def __init__(self, shape: Sequence[int], spacing: Sequence[float] = (1.0, 1.0, 1.0),
                 history: EditHistory | None = None):
        self.shape: tuple[int, int, int] = tuple(int(n) for n in shape)  # type: ignore[assignment]
        if len(self.shape) != 3:
            raise ValueError(f"RoiSet needs a 3-D shape, got {self.shape}")
        self.spacing: tuple[float, float, float] = tuple(float(s) for s in spacing)  # type: ignore[assignment]
        self.history = history if history is not None else EditHistory()
        self._rois: list[Roi] = []
        self.active: str | None = None

    @classmethod
    def for_volume(cls, volume: Any) -> RoiSet:
        """An empty set on ``volume``'s grid (anything with ``shape`` and ``spacing``)."""
        return cls(volume.shape, volume.spacing)

    # -- container protocol -------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._rois)

    def __iter__(self) -> Iterator[Roi]:
        return iter(list(self._rois))

    def __contains__(self, name: object) -> bool:
        return any(r.name == name for r in self._rois)

    def __getitem__(self, key: str | int) -> Roi:
        if isinstance(key, int):
            return self._rois[key]
        for roi in self._rois:
            if roi.name == key:
                return roi
        raise KeyError(f"no ROI named {key!r} (have: {', '.join(self.names) or 'none'})")

    @property
    def names(self) -> list[str]:
        return [r.name for r in self._rois]

    def index(self, name: str) -> int:
        return self.names.index(name)

    def __repr__(self) -> str:
        return f"RoiSet(shape={self.shape}, rois={self._rois!r})"

    # -- structure edits (undoable) -------------------------------------------------------
    def _unique_name(self, base: str) -> str:
        if base not in self:
            return base
        n = 2
        while f"{base} {n}" in self:
            n += 1
        return f"{base} {n}"

    def add(self, name: str | None = None, mask: np.ndarray | None = None, *,
            color: Sequence[int] | None = None, code: Code | None = None,
            category: Code | None = None, visible: bool = True, locked: bool = False,
            index: int | None = None, record: bool = True) -> Roi:
        """Add an ROI (empty mask by default); a taken name gets a numeric suffix."""
        if mask is None:
            mask = np.zeros(self.shape, dtype=bool)
        mask = np.asarray(mask)
        if mask.shape != self.shape:
            raise ValueError(f"mask shape {mask.shape} does not match the grid {self.shape}")
        name = self._unique_name(name or f"ROI {len(self._rois) + 1}")
        if code is None and name.lower() in CODES:
            code = CODES[name.lower()]
        rgb = tuple(int(c) for c in (color or PALETTE[len(self._rois) % len(PALETTE)]))
        roi = Roi(name=name, mask=np.array(mask, dtype=bool), color=rgb,  # type: ignore[arg-type]
                  code=code, category=category, visible=visible, locked=locked)
        pos = len(self._rois) if index is None else int(index)
        self._rois.insert(pos, roi)
        if self.active is None:
            self.active = roi.name
        if record:
            self.history.push(RoiListChange(self, roi, pos, added=True))
        return roi

    def remove(self, name: str, record: bool = True) -> Roi:
        roi = self[name]
        pos = self._rois.index(roi)
        self._rois.pop(pos)
        if self.active == name:
            self.active = self._rois[0].name if self._rois else None
        if record:
            self.history.push(RoiListChange(self, roi, pos, added=False))
        return roi

    def _insert(self, roi: Roi, pos: int) -> None:
        self._rois.insert(pos, roi)
        if self.active is None:
            self.active = roi.name

    def _pop(self, roi: Roi) -> None:
        self._rois.remove(roi)
        if self.active == roi.name:
            self.active = self._rois[0].name if self._rois else None

    def set_property(self, name: str, prop: str, value: Any, record: bool = True) -> None:
        """Rename / recolour / show-hide / lock / recode an ROI (undoable)."""
        if prop not in ("name", "color", "code", "category", "visible", "locked"):
            raise ValueError(f"unknown ROI property {prop!r}")
        roi = self[name]
        if prop == "name":
            value = str(value)
            if value != roi.name and value in self:
                raise ValueError(f"an ROI named {value!r} already exists")
        if prop == "color":
            value = tuple(int(c) for c in value)
        old = getattr(roi, prop)
        if old == value:
            return
        PropertyChange.apply(self, roi, prop, value)
        if record:
            self.history.push(PropertyChange(self, roi, prop, old, value))

    def rename(self, name: str, new_name: str) -> None:
        self.set_property(name, "name", new_name)

    def move(self, name: str, index: int) -> None:
        """Reorder (not recorded in the history)."""
        roi = self[name]
        self._rois.remove(roi)
        self._rois.insert(int(index), roi)

    # -- masks ---------------------------------------------------------------------------
    def mask(self, name: str | None = None) -> np.ndarray:
        """The mask of ``name`` (default: the active ROI)."""
        key = name or self.active
        if key is None:
            raise KeyError("the ROI set is empty")
        return self[key].mask

    def overlaps(self) -> bool:
        """True when any voxel belongs to more than one ROI."""
        if len(self._rois) < 2:
            return False
        count = np.zeros(self.shape, dtype=np.uint16)
        for roi in self._rois:
            count += roi.mask
        return bool((count > 1).any())

    @classmethod
    def from_mask(cls, mask: np.ndarray, spacing: Sequence[float] = (1.0, 1.0, 1.0),
                  name: str = "ROI 1", **props: Any) -> RoiSet:
        """A set holding one ROI (how single-mask files load)."""
        mask = np.asarray(mask, dtype=bool)
        if mask.ndim == 2:
            mask = mask[np.newaxis]
        out = cls(mask.shape, spacing)
        out.add(name, mask, record=False, **props)
        return out
