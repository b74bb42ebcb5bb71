"""Fast header-only scan of DICOM input: group frames into series, sort them, derive geometry.

Rules (documented in docs/imaging.md):

* frames are grouped by SeriesInstanceUID, then split where orientation, matrix size,
  echo time or temporal position differ; the largest part keeps the plain UID as its key,
  the others get ``<uid>#2``, ``<uid>#3`` ... (by decreasing size);
* each stack is sorted by position along the slice normal (cross product of the
  ImageOrientationPatient row and column directions) -- never by file name or
  InstanceNumber (InstanceNumber only orders frames that carry no position at all);
* the z spacing is the median distance between neighbouring positions; irregular
  spacing, gaps (missing slices), duplicate positions and missing positions are warned about.
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from coloc_viewer.errors import InputError
from coloc_viewer.imaging.dicom_headers import FrameHeader, NonImageObject, read_headers
from coloc_viewer.imaging.guards import check_geometry
from coloc_viewer.imaging.sources import FileRef, iter_dicom_refs

__all__ = ["SeriesGroup", "ScanResult", "scan_dicom", "group_frames"]

_ORI_DECIMALS = 3


@dataclass
class SeriesGroup:
    """One sorted stack of frames with its geometry (ready to decode)."""

    key: str
    frames: list[FrameHeader]
    spacing: tuple[float, float, float]  # (z, y, x) mm
    origin: tuple[float, float, float]  # LPS (x, y, z) of the first sorted frame
    direction: np.ndarray  # 3 x 3, columns = x, y, slice axes
    warnings: list[str] = field(default_factory=list)

    @property
    def first(self) -> FrameHeader:
        return self.frames[0]

    @property
    def series_uid(self) -> str:
        return self.first.series_uid

    @property
    def shape(self) -> tuple[int, int, int]:
        return (len(self.frames), self.first.rows, self.first.cols)

    @property
    def files(self) -> list[str]:
        out: list[str] = []
        seen: set[str] = set()
        for f in self.frames:
            s = str(f.ref)
            if s not in seen:
                seen.add(s)
                out.append(s)
        return out


@dataclass
class ScanResult:
    """Image series found, non-image objects listed, and files skipped (with reasons)."""

    series: list[SeriesGroup]
    non_images: list[NonImageObject]
    skipped: list[tuple[str, str]]  # (file, reason)

    def warnings(self) -> list[str]:
        out = [f"skipped {os.path.basename(f)}: {why}" for f, why in self.skipped[:20]]
        if len(self.skipped) > 20:
            out.append(f"skipped {len(self.skipped) - 20} more files")
        return out


def _split_key(f: FrameHeader) -> tuple:
    ori = None if f.orientation is None else tuple(np.round(f.orientation, _ORI_DECIMALS) + 0.0)
    return (ori, f.rows, f.cols, f.echo_time, f.temporal_position, f.samples_per_pixel)


def plane_name(orientation: np.ndarray | tuple | None) -> str:
    """"axial", "coronal", "sagittal" or "oblique" for an ImageOrientationPatient."""
    if orientation is None:
        return "unknown plane"
    ori = np.asarray(orientation, dtype=float)
    normal = np.abs(np.cross(ori[:3], ori[3:]))
    axis = int(np.argmax(normal))
    if normal[axis] < 0.9:
        return "oblique"
    return ("sagittal", "coronal", "axial")[axis]


def _describe_split(key: tuple) -> str:
    ori, rows, cols, echo, temporal, _ = key
    parts = [plane_name(ori), f"{rows}x{cols}"]
    if echo is not None:
        parts.append(f"TE {echo:g}")
    if temporal is not None:
        parts.append(f"temporal position {temporal:g}")
    return ", ".join(parts)


def _declared_spacing(first: FrameHeader, warnings: list[str]) -> float:
    """z spacing of a stack without usable positions: SpacingBetweenSlices, else
    SliceThickness; a value that is not positive is repaired (its magnitude, or 1 mm)."""
    for name, value in (("SpacingBetweenSlices", first.spacing_between_slices),
                        ("SliceThickness", first.slice_thickness)):
        if value is None:
            continue
        if value > 0:
            return float(value)
        repaired = abs(float(value)) or 1.0
        warnings.append(f"{name} {value:g} is not positive: {repaired:g} mm used as the "
                        "z spacing")
        return repaired
    return 1.0


def _geometry(frames: list[FrameHeader]) -> SeriesGroup:
    warnings: list[str] = []
    first = frames[0]
    ori = first.orientation
    if ori is None:
        row_dir, col_dir = np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0])
    else:
        row_dir, col_dir = ori[:3] / np.linalg.norm(ori[:3]), ori[3:] / np.linalg.norm(ori[3:])
    normal = np.cross(row_dir, col_dir)
    norm = np.linalg.norm(normal)
    normal = normal / norm if norm > 1e-6 else np.array([0.0, 0.0, 1.0])
    direction = np.column_stack([row_dir, col_dir, normal])

    have_pos = [f for f in frames if f.position is not None]
    if len(have_pos) < len(frames):
        missing = len(frames) - len(have_pos)
        if len(frames) > 1:
            warnings.append(f"{missing} of {len(frames)} frames have no ImagePositionPatient; "
                            "ordered by InstanceNumber and spacing assumed")
        ordered = sorted(frames, key=lambda f: (f.instance_number or 0, str(f.ref), f.frame))
        dists = None
    else:
        dists_all = np.stack([f.position for f in frames]) @ normal
        order = np.argsort(dists_all, kind="stable")
        ordered = [frames[i] for i in order]
        dists = dists_all[order]

    # Duplicate positions: keep the first (by InstanceNumber, then file) of each position.
    if dists is not None and len(ordered) > 1:
        diffs = np.diff(dists)
        tol = 1e-3 * max(1.0, float(np.median(np.abs(diffs))) if diffs.size else 1.0)
        keep: list[int] = [0]
        groups_dup = 0
        for i in range(1, len(ordered)):
            if abs(dists[i] - dists[keep[-1]]) <= tol:
                groups_dup += 1
                a, b = ordered[keep[-1]], ordered[i]
                if (b.instance_number or 0, str(b.ref)) < (a.instance_number or 0, str(a.ref)):
                    keep[-1] = i
                continue
            keep.append(i)
        if groups_dup:
            warnings.append(f"{groups_dup} duplicate slice position(s) dropped "
                            f"({len(ordered)} frames -> {len(keep)} slices)")
            ordered = [ordered[i] for i in keep]
            dists = dists[keep]

    ps = first.pixel_spacing
    if ps is None:
        warnings.append("no PixelSpacing; 1 mm pixels assumed")
        ps = (1.0, 1.0)
    if dists is not None and len(ordered) > 1:
        diffs = np.diff(dists)
        dz = float(np.median(diffs))
        if dz <= 0:
            dz = 1.0
        dev = np.abs(diffs - dz)
        if float(dev.max()) > max(0.01 * dz, 1e-3):
            gaps = np.rint(diffs / dz).astype(int)
            n_missing = int(np.sum(np.clip(gaps - 1, 0, None)))
            msg = (f"irregular slice spacing: {float(diffs.min()):.4g} to "
                   f"{float(diffs.max()):.4g} mm (median {dz:.4g} mm)")
            if n_missing:
                msg += f"; about {n_missing} slice(s) missing"
            warnings.append(msg)
    else:
        dz = _declared_spacing(first, warnings)
    if first.slice_thickness is not None and first.slice_thickness <= 0 and dists is not None \
            and len(ordered) > 1:
        warnings.append(f"SliceThickness {first.slice_thickness:g} is not positive: ignored "
                        f"(z spacing {dz:.4g} mm computed from the slice positions)")
    if any(f.derived_position for f in ordered):
        warnings.append("frame positions derived from the first position and the slice "
                        "spacing (no per-frame positions in the file)")
    if first.samples_per_pixel > 1:
        warnings.append(f"colour image ({first.photometric}) loaded as luminance "
                        "0.299 R + 0.587 G + 0.114 B")
    if len({(round(f.slope, 9), round(f.intercept, 9)) for f in ordered}) > 1:
        warnings.append("rescale slope/intercept differ between slices (applied per slice)")
    origin = ordered[0].position if ordered[0].position is not None else np.zeros(3)
    spacing = (float(dz), float(ps[0]), float(ps[1]))
    direction = check_geometry(spacing, origin, direction, str(first.ref))
    return SeriesGroup(key="", frames=ordered, spacing=spacing,
                       origin=tuple(float(v) for v in origin), direction=direction,
                       warnings=warnings)


def group_frames(frames: list[FrameHeader],
                 skipped: list[tuple[str, str]] | None = None) -> list[SeriesGroup]:
    """Group, split and sort frames; largest group first. A stack with impossible geometry
    is left out (its first file and the reason go to ``skipped``; InputError without it)."""
    by_uid: dict[str, list[FrameHeader]] = defaultdict(list)
    for f in frames:
        by_uid[f.series_uid or f"no-series-uid:{f.ref.path}"].append(f)
    groups: list[SeriesGroup] = []
    for uid, members in by_uid.items():
        parts: dict[tuple, list[FrameHeader]] = defaultdict(list)
        for f in members:
            parts[_split_key(f)].append(f)
        ordered_parts = sorted(parts.items(), key=lambda kv: -len(kv[1]))
        for i, (key, part) in enumerate(ordered_parts):
            try:
                group = _geometry(part)
            except InputError as exc:
                if skipped is None:
                    raise
                skipped.append((str(part[0].ref), exc.reason))
                continue
            group.key = uid if i == 0 else f"{uid}#{i + 1}"
            if len(ordered_parts) > 1:
                group.warnings.insert(0, f"series {uid} split into {len(ordered_parts)} stacks "
                                         f"(this one: {_describe_split(key)})")
            groups.append(group)
    groups.sort(key=lambda g: -len(g.frames))
    return groups


def scan_dicom(path: str | os.PathLike[str]) -> ScanResult:
    """Read every header under ``path`` (no pixel data) and group the image frames.

    Raises :class:`InputError` only when the path itself is unusable (missing, unreadable);
    bad files are listed in ``skipped``.
    """
    frames: list[FrameHeader] = []
    non_images: list[NonImageObject] = []
    skipped: list[tuple[str, str]] = []
    for ref in iter_dicom_refs(path):
        try:
            out = read_headers(ref)
        except (ValueError, OSError, InputError) as exc:
            skipped.append((str(ref), getattr(exc, "reason", None) or str(exc)))
            continue
        if isinstance(out, NonImageObject):
            non_images.append(out)
        else:
            frames.extend(out)
    series = group_frames(frames, skipped)
    return ScanResult(series=series, non_images=non_images, skipped=skipped)


def only_ref(path: str | os.PathLike[str]) -> FileRef | None:
    """The FileRef of ``path`` when it is a single plain file (not a zip, DICOMDIR or folder)."""
    p = Path(path)
    refs = list(iter_dicom_refs(p)) if p.is_file() else []
    if len(refs) == 1 and refs[0].member is None and Path(refs[0].path) == p:
        return refs[0]
    return None
