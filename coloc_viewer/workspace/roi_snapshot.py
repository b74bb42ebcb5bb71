"""A frozen copy of the ROIs of one series, and its compact crash-safe file format.

One ``.npz`` file (``allow_pickle=False``) holds every mask -- cropped to its bounding box
and bit-packed -- plus a JSON header (names, shapes, boxes, colours, the edit generation), so
a single atomic rename commits all of it. Cropping keeps a write of two ROIs on a
200 x 512 x 512 series in the tens of milliseconds.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

FORMAT = "coloc-viewer-rois/2"
Colour = tuple[int, int, int]


@dataclass
class RoiSnapshot:
    """Named boolean masks (z, y, x) of one series, with display colours."""

    masks: dict[str, np.ndarray]
    colours: dict[str, Colour] = field(default_factory=dict)
    generation: int = 0
    active: str | None = None
    properties: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, ...] | None:
        for mask in self.masks.values():
            return tuple(int(n) for n in mask.shape)
        return None

    def equals(self, other: RoiSnapshot) -> bool:
        """Same names, same voxels (colours and generation are not compared)."""
        return (list(self.masks) == list(other.masks)
                and all(np.array_equal(self.masks[k], other.masks[k]) for k in self.masks))

    def write(self, handle: IO[bytes]) -> None:
        """Serialise into an open binary file (see :func:`read_snapshot`)."""
        names = list(self.masks)
        header = {
            "format": FORMAT,
            "names": names,
            "shapes": [list(self.masks[n].shape) for n in names],
            "colours": {n: list(self.colours[n]) for n in names if n in self.colours},
            "generation": int(self.generation),
            "active": self.active,
            "properties": {n: self.properties[n] for n in names if n in self.properties},
        }
        arrays, boxes = {}, []
        for i, n in enumerate(names):
            box, bits = _pack(np.asarray(self.masks[n], dtype=bool))
            arrays[f"mask_{i}"] = bits
            boxes.append(box)
        header["boxes"] = boxes
        arrays["header"] = np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8)
        # the .npz layout of np.savez_compressed, with fast deflate (packed masks are sparse)
        with zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
            for key, arr in arrays.items():
                with archive.open(key + ".npy", "w", force_zip64=True) as entry:
                    np.lib.format.write_array(entry, np.ascontiguousarray(arr),
                                              allow_pickle=False)

def _pack(mask: np.ndarray) -> tuple[list[int] | None, np.ndarray]:
    """(bounding box [start0, stop0, start1, stop1, ...] or None if empty, packed bits of the
    crop). Each axis is bounded on the crop of the previous ones, so the full array is
    scanned once."""
    box: list[int] = []
    block = mask
    for axis in range(mask.ndim):
        others = tuple(a for a in range(mask.ndim) if a != axis)
        hits = np.flatnonzero(block.any(axis=others) if others else block)
        if hits.size == 0:
            return None, np.zeros(0, np.uint8)
        lo, hi = int(hits[0]), int(hits[-1]) + 1
        box += [lo, hi]
        block = block[(slice(None),) * axis + (slice(lo, hi),)]
    return box, np.packbits(np.ascontiguousarray(block).ravel())


def _unpack(bits: np.ndarray, shape: list[int], box: list[int] | None) -> np.ndarray:
    mask = np.zeros(shape, dtype=bool)
    if box is None:
        return mask
    region = tuple(slice(box[2 * a], box[2 * a + 1]) for a in range(len(shape)))
    crop_shape = tuple(r.stop - r.start for r in region)
    crop = np.unpackbits(bits, count=int(np.prod(crop_shape))).astype(bool)
    mask[region] = crop.reshape(crop_shape)
    return mask


def read_snapshot(path: str | Path) -> RoiSnapshot:
    """Load a file written by :meth:`RoiSnapshot.write`; ValueError if it is not one."""
    try:
        with np.load(path, allow_pickle=False) as data:
            header = json.loads(bytes(data["header"]).decode("utf-8"))
            if header.get("format") != FORMAT:
                raise ValueError(f"{path}: not a coloc-viewer ROI file")
            masks: dict[str, np.ndarray] = {}
            for i, (name, shape, box) in enumerate(zip(header["names"], header["shapes"],
                                                       header["boxes"], strict=True)):
                masks[name] = _unpack(data[f"mask_{i}"], shape, box)
    except (OSError, KeyError, zipfile.BadZipFile, json.JSONDecodeError, EOFError,
            ValueError) as exc:
        raise ValueError(f"{path}: unreadable ROI file ({exc})") from exc
    colours = {k: tuple(int(c) for c in v) for k, v in header.get("colours", {}).items()}
    return RoiSnapshot(masks, colours, int(header.get("generation", 0)),  # type: ignore[arg-type]
                       header.get("active"), dict(header.get("properties", {})))


def snapshot_of(rois: Any, generation: int = 0, *, copy: bool = True) -> RoiSnapshot:
    """A :class:`RoiSnapshot` of ``rois``.

    Accepts a snapshot, a ``{name: mask}`` mapping, a single boolean array (named "ROI"), or
    an ROI set object exposing ``names`` plus ``mask(name)``/``colour(name)`` (or an
    ``items()`` of name -> mask). Masks are copied unless ``copy=False``.
    """
    take = (lambda m: np.array(m, dtype=bool, copy=True)) if copy else \
        (lambda m: np.asarray(m, dtype=bool))
    if isinstance(rois, RoiSnapshot):
        return RoiSnapshot({k: take(v) for k, v in rois.masks.items()}, dict(rois.colours),
                           generation or rois.generation, rois.active, dict(rois.properties))
    if isinstance(rois, np.ndarray):
        return RoiSnapshot({"ROI": take(rois)}, {}, generation)
    if isinstance(rois, Mapping):
        return RoiSnapshot({str(k): take(v) for k, v in rois.items()}, {}, generation)
    items = list(rois) if hasattr(rois, "__iter__") and not hasattr(rois, "items") else []
    if items and all(hasattr(r, "name") and hasattr(r, "mask") for r in items):
        # coloc_viewer.imaging.roi.RoiSet: Roi objects with name, mask, color, describe()
        snap = RoiSnapshot({str(r.name): take(r.mask) for r in items}, {}, generation)
        for r in items:
            if getattr(r, "color", None) is not None:
                snap.colours[str(r.name)] = tuple(int(c) for c in r.color)[:3]  # type: ignore[assignment]
            if callable(getattr(r, "describe", None)):
                snap.properties[str(r.name)] = dict(r.describe())
        active = getattr(rois, "active", None)
        snap.active = active if isinstance(active, str) else None
        return snap
    names = getattr(rois, "names", None)
    if callable(names):
        names = names()
    if names is not None and hasattr(rois, "mask"):
        masks = {str(n): take(rois.mask(n)) for n in names}
        colours: dict[str, Colour] = {}
        colour_of = getattr(rois, "colour", None) or getattr(rois, "color", None)
        if callable(colour_of):
            for n in names:
                colours[str(n)] = tuple(int(c) for c in colour_of(n))[:3]  # type: ignore[assignment]
        active = getattr(rois, "active", None)
        return RoiSnapshot(masks, colours, generation, active if isinstance(active, str) else None)
    if hasattr(rois, "items"):
        return RoiSnapshot({str(k): take(v) for k, v in rois.items()}, {}, generation)
    raise TypeError(f"cannot snapshot ROIs of type {type(rois).__name__}")


def to_roiset(snapshot: RoiSnapshot, spacing: tuple[float, float, float] = (1.0, 1.0, 1.0)
              ) -> Any:
    """Rebuild a :class:`coloc_viewer.imaging.roi.RoiSet` (names, masks, colours, codes,
    visibility, lock state, active ROI) from a snapshot; its undo history starts empty."""
    from coloc_viewer.imaging.roi import Code, RoiSet

    shape = snapshot.shape
    if shape is None:
        raise ValueError("the snapshot holds no ROI")
    out = RoiSet(shape, spacing)
    for name, mask in snapshot.masks.items():
        props = snapshot.properties.get(name, {})
        out.add(name, mask, color=snapshot.colours.get(name), record=False,
                code=Code.from_dict(props.get("code")),
                category=Code.from_dict(props.get("category")),
                visible=bool(props.get("visible", True)), locked=bool(props.get("locked", False)))
    if snapshot.active in out:
        out.active = snapshot.active
    return out
