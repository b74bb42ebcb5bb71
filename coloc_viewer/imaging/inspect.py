"""``scan``: what a path holds (series, geometry, warnings) without decoding any pixels."""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from coloc_viewer.errors import InputError
from coloc_viewer.imaging.dicom_scan import ScanResult, scan_dicom
from coloc_viewer.imaging.redact import redact_description
from coloc_viewer.imaging.sources import is_volume_file
from coloc_viewer.imaging.volume import Volume
from coloc_viewer.imaging.volume_file_checks import check_volume_file

__all__ = ["SeriesInfo", "scan", "series_info_of"]


@dataclass
class SeriesInfo:
    """One series (or group of non-image objects) found under a path.

    ``series_key`` is what ``load_volume(path, series=...)`` accepts (the SeriesInstanceUID,
    with ``#2``, ``#3`` ... for the extra stacks of a split series). ``kind`` is ``"image"``
    or the kind of non-image object ("RT plan", "structured report", ...); non-image
    entries have ``shape``, ``spacing`` and ``origin`` None.
    """

    series_uid: str
    series_key: str
    kind: str
    modality: str
    description: str
    shape: list[int] | None
    spacing: list[float] | None
    origin: list[float] | None
    n_files: int
    warnings: list[str] = field(default_factory=list)
    #: patient name / ID / accession of the series (never in ``to_dict`` or ``repr``), so
    #: that views outside the live viewer can redact the description
    identity: dict[str, str] = field(default_factory=dict, repr=False)

    def to_dict(self, redact: bool = True) -> dict[str, Any]:
        """A JSON-ready dict; the description is redacted unless ``redact`` is False."""
        out = asdict(self)
        out.pop("identity", None)
        if redact:
            out["description"] = self.safe_description
        return out

    @property
    def safe_description(self) -> str:
        """The description with the patient's identifiers removed (imaging.redact)."""
        return redact_description(self.description, self.identity)


def _volume_file_info(p: Path) -> SeriesInfo:
    import SimpleITK as sitk

    if p.stat().st_size == 0:
        raise InputError("empty file (0 bytes)", p)
    check_volume_file(p)
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(p))
    try:
        reader.ReadImageInformation()
    except RuntimeError:
        raise InputError("cannot read image header", p) from None
    size = list(reader.GetSize())
    spacing = list(reader.GetSpacing())
    origin = list(reader.GetOrigin())
    warnings = []
    if len(size) == 4:
        warnings.append(f"4-D image with {size[3]} volumes: the first (t = 0) is loaded")
    size, spacing, origin = (size + [1])[:3], (spacing + [1.0])[:3], (origin + [0.0])[:3]
    return SeriesInfo(series_uid="", series_key="", kind="image", modality="MR",
                      description=p.name, shape=size[::-1], spacing=spacing[::-1],
                      origin=origin, n_files=1, warnings=warnings)


def scan(path: str | os.PathLike[str]) -> list[SeriesInfo]:
    """Series under ``path`` (largest image series first, then non-image objects).

    Files that could not be read are reported in the first entry's warnings. Raises
    :class:`InputError` when nothing usable is found.
    """
    p = Path(path)
    if not p.exists():
        raise InputError("no such file or folder", p)
    if p.is_file() and is_volume_file(p):
        return [_volume_file_info(p)]
    return series_infos(scan_dicom(p), p)


def series_infos(result: ScanResult, path: str | os.PathLike[str]) -> list[SeriesInfo]:
    """The series list of a DICOM scan (e.g. a progressive loader's ``scan_result``)."""
    p = Path(path)
    infos = [SeriesInfo(series_uid=g.series_uid, series_key=g.key, kind="image",
                        modality=g.first.modality, description=g.first.description,
                        shape=list(g.shape), spacing=list(g.spacing), origin=list(g.origin),
                        n_files=len(g.files), warnings=list(g.warnings),
                        identity=dict(g.first.private))
             for g in result.series]
    others: dict[tuple[str, str], list] = defaultdict(list)
    for obj in result.non_images:
        others[(obj.series_uid, obj.kind)].append(obj)
    for (uid, kind), objs in others.items():
        infos.append(SeriesInfo(series_uid=uid, series_key=uid, kind=kind,
                                modality=objs[0].modality, description=objs[0].description,
                                shape=None, spacing=None, origin=None, n_files=len(objs)))
    if not infos:
        if len(result.skipped) == 1:
            raise InputError(result.skipped[0][1], result.skipped[0][0])
        if result.skipped:
            file, reason = result.skipped[0]
            raise InputError(f"no readable DICOM files ({len(result.skipped)} skipped; first: "
                             f"{os.path.basename(file)}: {reason})", p)
        raise InputError("no DICOM files found", p)
    infos[0].warnings.extend(result.warnings())
    return infos


def series_info_of(volume: Volume) -> SeriesInfo:
    """The series-list entry of a DICOM series decoded already (e.g. while it was retrieved
    from a PACS): what ``scan`` of its folder gives, without reading the folder (whose files
    may still be being written)."""
    m = volume.metadata
    uid = str(m.get("series_uid") or "")
    return SeriesInfo(series_uid=uid, series_key=str(m.get("series_key") or uid),
                      kind="image", modality=str(m.get("modality") or ""),
                      description=str(m.get("description") or ""), shape=list(volume.shape),
                      spacing=list(volume.spacing), origin=list(volume.origin),
                      n_files=int(m.get("n_files") or len(set(volume.files))),
                      warnings=list(m.get("warnings") or []), identity=dict(volume.private))
