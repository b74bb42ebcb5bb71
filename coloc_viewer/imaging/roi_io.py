"""Reading and writing ROIs: label maps (NIfTI, NRRD, Slicer ``.seg.nrrd``) and DICOM SEG.

Formats by suffix:

* ``.nii``, ``.nii.gz``, ``.nrrd``, ``.mha``: a label map on the volume grid. Each ROI has a
  label value; overlapping ROIs go to separate *layers* (a multi-component image, one
  component per layer). A JSON sidecar ``<file>.labels.json`` names the labels (name,
  label, layer, colour, code, category, visible, locked). Without a sidecar every distinct
  non-zero value becomes an ROI named ``ROI <value>`` (so a 0/1 mask is "ROI 1").
* ``.seg.nrrd``: the same label map with 3D Slicer's segment keys in the NRRD header
  (``Segment<i>_Name``, ``_LabelValue``, ``_Layer``, ``_Color``, ``_Terminology``) and no
  sidecar.
* ``.dcm``: DICOM SEG (highdicom), one segment per ROI with its name and SNOMED codes,
  referencing the volume's source DICOM images in slice order.

Geometry is checked on reading: a file whose grid does not match the volume is an
:class:`InputError`. Writes are atomic (temporary file in the same folder, then
``os.replace``).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as sitk

from coloc_viewer.errors import InputError
from coloc_viewer.imaging.roi import PALETTE, Code, RoiSet, category_for
from coloc_viewer.imaging.sitk_io import sitk_geometry, to_sitk_image
from coloc_viewer.imaging.volume import Volume

__all__ = ["load_roi", "save_roi", "load_rois", "save_rois", "sidecar_path", "check_geometry"]

SIDECAR_SUFFIX = ".labels.json"
_LABEL_SUFFIXES = (".nii", ".nii.gz", ".nrrd", ".mha", ".mhd")


def sidecar_path(path: str | os.PathLike[str]) -> Path:
    """The JSON sidecar of a label-map file: ``<file>.labels.json``."""
    p = Path(path)
    return p.with_name(p.name + SIDECAR_SUFFIX)


def _kind(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(".seg.nrrd"):
        return "seg.nrrd"
    if name.endswith(".dcm"):
        return "dicom-seg"
    if name.endswith(_LABEL_SUFFIXES):
        return "labelmap"
    raise InputError("unknown ROI format (use .nii.gz, .nii, .nrrd, .seg.nrrd, .mha or .dcm)",
                     path)


# -- atomic writes --------------------------------------------------------------------------
@contextmanager
def _atomic(path: Path) -> Iterator[Path]:
    """A temporary path next to ``path`` (same suffix); replaces ``path`` on success."""
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = "".join(path.suffixes[-2:]) if path.name.lower().endswith(".gz") else path.suffix
    if path.name.lower().endswith(".seg.nrrd"):
        suffix = ".seg.nrrd"
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{suffix}", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def _write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    with _atomic(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


# -- geometry ------------------------------------------------------------------------------
def check_geometry(path: Path, shape: tuple[int, ...], spacing: tuple[float, ...],
                   origin: tuple[float, ...], direction: np.ndarray, like: Volume) -> None:
    """InputError unless the grid (shape, spacing, origin, direction) matches ``like``."""
    problems = []
    if tuple(shape) != like.shape:
        problems.append(f"shape {list(shape)} != volume {list(like.shape)}")
    else:
        if not np.allclose(spacing, like.spacing, rtol=1e-3, atol=1e-4):
            problems.append(f"spacing {np.round(spacing, 4).tolist()} != volume "
                            f"{np.round(like.spacing, 4).tolist()}")
        tol = 0.05 * min(like.spacing) + 1e-3
        if not np.allclose(origin, like.origin, atol=tol):
            problems.append(f"origin {np.round(origin, 3).tolist()} != volume "
                            f"{np.round(like.origin, 3).tolist()}")
        if not np.allclose(direction, like.direction, atol=1e-3):
            problems.append("orientation differs from the volume")
    if problems:
        raise InputError("ROI does not match the volume geometry: " + "; ".join(problems), path)


# -- label maps ----------------------------------------------------------------------------
def _assign_layers(roiset: RoiSet) -> list[tuple[int, int]]:
    """(layer, label) per ROI: ROIs that overlap go to different layers; labels 1.. per layer."""
    layers: list[np.ndarray] = []
    counts: list[int] = []
    out = []
    for roi in roiset:
        free = [i for i, occupied in enumerate(layers) if not (occupied & roi.mask).any()]
        if free:
            li = free[0]
        else:
            layers.append(np.zeros(roiset.shape, dtype=bool))
            counts.append(0)
            li = len(layers) - 1
        layers[li] |= roi.mask
        counts[li] += 1
        out.append((li, counts[li]))
    return out


def _label_array(roiset: RoiSet, assignment: list[tuple[int, int]]) -> np.ndarray:
    n_layers = max((a[0] for a in assignment), default=0) + 1
    n_labels = max((a[1] for a in assignment), default=0)
    dtype = np.uint8 if n_labels < 256 else np.uint16
    arr = np.zeros((n_layers, *roiset.shape), dtype=dtype)
    for roi, (layer, label) in zip(roiset, assignment):
        arr[layer][roi.mask] = label
    return arr


def _label_image(arr: np.ndarray, like: Volume) -> sitk.Image:
    if arr.shape[0] == 1:
        return to_sitk_image(arr[0], like)
    img = sitk.GetImageFromArray(np.moveaxis(arr, 0, -1), isVector=True)
    img.SetSpacing([float(s) for s in like.spacing[::-1]])
    img.SetOrigin([float(o) for o in like.origin])
    img.SetDirection([float(v) for v in np.asarray(like.direction).reshape(-1)])
    return img


def _slicer_color(rgb: tuple[int, int, int]) -> str:
    return " ".join(f"{c / 255:.6g}" for c in rgb)


def _slicer_terminology(roi_code: Code | None, category: Code) -> str:
    code = roi_code or category
    return (f"Segmentation category and type - 3D Slicer General Anatomy list~"
            f"{category.scheme}^{category.value}^{category.meaning}~"
            f"{code.scheme}^{code.value}^{code.meaning}~^^~"
            "Anatomic codes - DICOM master list~^^~^^")


def _save_labelmap(roiset: RoiSet, path: Path, like: Volume, slicer: bool) -> None:
    assignment = _assign_layers(roiset)
    arr = _label_array(roiset, assignment)
    img = _label_image(arr, like)
    if slicer:
        for i, (roi, (layer, label)) in enumerate(zip(roiset, assignment)):
            cat = roi.category or category_for(roi.code)
            meta = {"ID": f"Segment_{i + 1}", "Name": roi.name, "NameAutoGenerated": "0",
                    "Color": _slicer_color(roi.color), "ColorAutoGenerated": "0",
                    "LabelValue": str(label), "Layer": str(layer),
                    "Terminology": _slicer_terminology(roi.code, cat),
                    "Extent": "0 -1 0 -1 0 -1", "Tags": "coloc_viewer_visible:"
                    f"{int(roi.visible)}|coloc_viewer_locked:{int(roi.locked)}|"}
            for key, value in meta.items():
                img.SetMetaData(f"Segment{i}_{key}", value)
        img.SetMetaData("Segmentation_MasterRepresentation", "Binary labelmap")
        img.SetMetaData("Segmentation_ContainedRepresentationNames", "Binary labelmap|")
    with _atomic(path) as tmp:
        sitk.WriteImage(img, str(tmp), useCompression=True)
    if not slicer:
        rois = []
        for roi, (layer, label) in zip(roiset, assignment):
            rois.append({**roi.describe(), "label": label, "layer": layer})
        _write_json_atomic(sidecar_path(path), {"format": "coloc_viewer ROI labels",
                                                "version": 1, "rois": rois})


def _parse_terminology(text: str) -> tuple[Code | None, Code | None]:
    parts = text.split("~")
    codes = []
    for part in parts[1:3]:
        fields = part.split("^")
        if len(fields) == 3 and fields[1]:
            codes.append(Code(fields[0], fields[1], fields[2]))
        else:
            codes.append(None)
    if len(codes) < 2:
        return None, None
    return codes[1], codes[0]


def _read_label_image(path: Path, like: Volume) -> np.ndarray:
    """Labels as (layers, z, y, x) after the geometry check."""
    if path.stat().st_size == 0:
        raise InputError("empty file (0 bytes)", path)
    try:
        img = sitk.ReadImage(str(path))
    except RuntimeError:
        raise InputError("cannot read ROI file", path) from None
    if img.GetDimension() == 2:
        img = sitk.JoinSeries(img)
    if img.GetDimension() != 3:
        raise InputError(f"{img.GetDimension()}-D ROI files are not supported", path)
    spacing, origin, direction = sitk_geometry(img)
    arr = sitk.GetArrayFromImage(img)
    shape = arr.shape[:3]
    check_geometry(path, shape, spacing, origin, direction, like)
    if arr.ndim == 3:
        arr = arr[np.newaxis]
    else:
        arr = np.moveaxis(arr, -1, 0)
    if np.issubdtype(arr.dtype, np.floating):
        if not np.all(np.isfinite(arr)):
            raise InputError("ROI file contains NaN values", path)
        if not np.array_equal(arr, np.round(arr)):
            raise InputError("ROI file holds non-integer values (not a label map)", path)
    return arr.astype(np.int64)


def _load_labelmap(path: Path, like: Volume, default_name: str) -> RoiSet:
    labels = _read_label_image(path, like)
    rois = RoiSet(like.shape, like.spacing)
    described: list[dict[str, Any]] | None = None
    if _kind(path) == "seg.nrrd":
        reader = sitk.ImageFileReader()
        reader.SetFileName(str(path))
        reader.ReadImageInformation()
        keys = set(reader.GetMetaDataKeys())
        described = []
        i = 0
        while f"Segment{i}_LabelValue" in keys:
            def meta(name: str, default: str = "", i: int = i) -> str:
                key = f"Segment{i}_{name}"
                return reader.GetMetaData(key) if key in keys else default

            code, category = _parse_terminology(meta("Terminology"))
            color = [float(c) for c in meta("Color", "1 0 0").split()]
            tags = meta("Tags")
            described.append({
                "name": meta("Name", f"Segment {i + 1}"), "label": int(meta("LabelValue")),
                "layer": int(meta("Layer", "0") or 0),
                "color": [int(round(255 * c)) for c in color[:3]],
                "code": code.to_dict() if code else None,
                "category": category.to_dict() if category else None,
                "visible": "coloc_viewer_visible:0" not in tags,
                "locked": "coloc_viewer_locked:1" in tags})
            i += 1
    elif sidecar_path(path).exists():
        try:
            described = json.loads(sidecar_path(path).read_text(encoding="utf-8"))["rois"]
        except (ValueError, KeyError, TypeError) as exc:
            raise InputError(f"unreadable label sidecar ({type(exc).__name__})",
                             sidecar_path(path)) from None
    if not described:  # plain label map / older single-mask file
        values = [int(v) for v in np.unique(labels[0]) if v != 0]
        described = [{"name": default_name if (v == 1 and len(values) == 1) else f"ROI {v}",
                      "label": v, "layer": 0, "color": list(PALETTE[k % len(PALETTE)])}
                     for k, v in enumerate(values)]
        if not values:
            described = [{"name": default_name, "label": 1, "layer": 0,
                          "color": list(PALETTE[0])}]
    for d in described:
        layer = int(d.get("layer", 0))
        if layer >= labels.shape[0]:
            raise InputError(f"ROI {d.get('name')!r} refers to missing layer {layer}", path)
        rois.add(str(d["name"]), labels[layer] == int(d["label"]), color=d.get("color"),
                 code=Code.from_dict(d.get("code")), category=Code.from_dict(d.get("category")),
                 visible=bool(d.get("visible", True)), locked=bool(d.get("locked", False)),
                 record=False)
    return rois


# -- DICOM SEG -----------------------------------------------------------------------------
def _source_frames(like: Volume) -> list[Any]:
    """The FrameHeaders of ``like``'s slices, in slice order (re-scanned from its files)."""
    from coloc_viewer.imaging.dicom_headers import NonImageObject, read_headers
    from coloc_viewer.imaging.dicom_scan import group_frames
    from coloc_viewer.imaging.sources import ref_from_string

    if not like.files:
        raise InputError("DICOM SEG needs a volume loaded from DICOM images", like.source or None)
    frames = []
    for text in dict.fromkeys(like.files):
        try:
            out = read_headers(ref_from_string(text))
        except ValueError as exc:
            raise InputError(f"cannot read source image ({exc})", text) from None
        if isinstance(out, NonImageObject):
            raise InputError("source file is not an image", text)
        frames.extend(out)
    group = group_frames(frames)[0]
    if group.shape != like.shape:
        raise InputError("the volume's source files changed since it was loaded", like.source)
    return group.frames


def _coded(code: Code) -> Any:
    import highdicom as hd

    return hd.sr.CodedConcept(value=code.value, scheme_designator=code.scheme,
                              meaning=code.meaning)


def _save_dicom_seg(roiset: RoiSet, path: Path, like: Volume) -> None:
    import highdicom as hd
    import pydicom

    frames = _source_frames(like)
    datasets: dict[str, Any] = {}
    for f in frames:
        key = str(f.ref)
        if key not in datasets:
            with f.ref.open() as fh:
                datasets[key] = pydicom.dcmread(fh, stop_before_pixels=True)
    multi = len(datasets) == 1 and frames[0].n_frames > 1
    masks = np.stack([roi.mask for roi in roiset], axis=-1) if len(roiset) else None
    if masks is None:
        raise InputError("no ROIs to save", path)
    if multi:  # highdicom does not sort: frames must follow the source's frame order
        order = np.argsort([f.frame for f in frames])
        masks = masks[order]
        if len(frames) != frames[0].n_frames:
            raise InputError("DICOM SEG of a partial multi-frame source is not supported", path)
    sources = list(datasets.values())
    descriptions = []
    for i, roi in enumerate(roiset, start=1):
        code = roi.code or Code("SCT", "85756007", "Tissue")
        descriptions.append(hd.seg.SegmentDescription(
            segment_number=i, segment_label=roi.name[:64],
            segmented_property_category=_coded(roi.category or category_for(roi.code)),
            segmented_property_type=_coded(code),
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
            display_color=hd.color.CIELabColor.from_rgb(*[int(c) for c in roi.color])))
    try:
        seg = hd.seg.Segmentation(
            source_images=sources, pixel_array=masks,
            segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
            segment_descriptions=descriptions, series_instance_uid=hd.UID(), series_number=900,
            sop_instance_uid=hd.UID(), instance_number=1, manufacturer="coloc_viewer",
            manufacturer_model_name="coloc_viewer", software_versions="0.1.0",
            device_serial_number="0", content_label="ROIS", omit_empty_frames=False,
            series_description="coloc_viewer ROIs")
    except (ValueError, TypeError, AttributeError) as exc:
        raise InputError(f"cannot build DICOM SEG ({exc})", path) from None
    with _atomic(path) as tmp:
        seg.save_as(tmp)


def _load_dicom_seg(path: Path, like: Volume) -> RoiSet:
    import highdicom as hd

    try:
        seg = hd.seg.segread(str(path))
    except Exception as exc:  # noqa: BLE001 - any parse failure is a bad SEG
        raise InputError(f"not a readable DICOM SEG ({type(exc).__name__})", path) from None
    frames = _source_frames(like)
    referenced = {str(inst.ReferencedSOPInstanceUID)
                  for series in seg.get("ReferencedSeriesSequence", [])
                  for inst in series.get("ReferencedInstanceSequence", [])}
    missing = referenced - {f.sop_instance_uid for f in frames}
    if not referenced or missing:
        raise InputError("ROI does not match the volume geometry: the SEG does not reference "
                         f"this volume's images ({len(missing)} of {len(referenced)} referenced "
                         "images are not in the volume)", path)
    segments = list(seg.SegmentSequence)
    numbers = [int(s.SegmentNumber) for s in segments]
    try:
        if frames[0].n_frames > 1 and len({str(f.ref) for f in frames}) == 1:
            arr = seg.get_pixels_by_source_frame(
                source_sop_instance_uid=frames[0].sop_instance_uid,
                source_frame_numbers=[f.frame + 1 for f in frames], segment_numbers=numbers,
                combine_segments=False, assert_missing_frames_are_empty=True)
        else:
            arr = seg.get_pixels_by_source_instance(
                source_sop_instance_uids=[f.sop_instance_uid for f in frames],
                segment_numbers=numbers, combine_segments=False,
                assert_missing_frames_are_empty=True)
    except (KeyError, ValueError, IndexError, RuntimeError) as exc:
        reason = " ".join(str(exc).split())[:120]
        raise InputError(f"ROI does not match the volume geometry: the SEG does not reference "
                         f"this volume's images ({reason})", path) from None
    if arr.shape[:3] != like.shape:
        raise InputError(f"ROI does not match the volume geometry: SEG grid {arr.shape[:3]} "
                         f"!= volume {like.shape}", path)
    rois = RoiSet(like.shape, like.spacing)
    for k, item in enumerate(segments):
        ptype = item.SegmentedPropertyTypeCodeSequence[0]
        pcat = item.SegmentedPropertyCategoryCodeSequence[0]
        color = None
        if "RecommendedDisplayCIELabValue" in item:
            lab = hd.color.CIELabColor.from_dicom_value(item.RecommendedDisplayCIELabValue)
            color = [int(c) for c in lab.to_rgb()]
        rois.add(str(item.SegmentLabel), arr[..., k] > 0, color=color,
                 code=Code(ptype.CodingSchemeDesignator, ptype.CodeValue, ptype.CodeMeaning),
                 category=Code(pcat.CodingSchemeDesignator, pcat.CodeValue, pcat.CodeMeaning),
                 record=False)
    return rois


# -- public API ----------------------------------------------------------------------------
def load_rois(path: str | os.PathLike[str], like: Volume, default_name: str = "ROI 1") -> RoiSet:
    """All ROIs of a file (label map + sidecar, .seg.nrrd, or DICOM SEG) on ``like``'s grid."""
    p = Path(path)
    if not p.exists():
        raise InputError("no such file", p)
    kind = _kind(p)
    if kind == "dicom-seg":
        return _load_dicom_seg(p, like)
    return _load_labelmap(p, like, default_name)


def save_rois(roiset: RoiSet, path: str | os.PathLike[str], like: Volume) -> Path:
    """Write every ROI of ``roiset`` (format from the suffix); returns the path written."""
    p = Path(path)
    if roiset.shape != like.shape:
        raise InputError(f"ROI grid {roiset.shape} does not match the volume {like.shape}", p)
    kind = _kind(p)
    if kind == "dicom-seg":
        _save_dicom_seg(roiset, p, like)
    else:
        _save_labelmap(roiset, p, like, slicer=kind == "seg.nrrd")
    return p


def load_roi(path: str | os.PathLike[str], like: Volume, name: str | None = None) -> np.ndarray:
    """One boolean mask (z, y, x) on ``like``'s grid.

    For a file with several ROIs, ``name`` selects one; without it the first ROI (label 1
    of a plain label map, segment 1 of a SEG) is returned.
    """
    rois = load_rois(path, like)
    if name is None:
        return rois[0].mask
    if name not in rois:
        raise InputError(f"no ROI named {name!r} (available: {', '.join(rois.names)})", path)
    return rois[name].mask


def save_roi(mask: np.ndarray, path: str | os.PathLike[str], like: Volume,
             name: str = "ROI 1") -> Path:
    """Write one boolean mask on ``like``'s grid (format from the suffix)."""
    m = np.asarray(mask, dtype=bool)
    if m.ndim == 2 and like.shape[0] == 1:
        m = m[np.newaxis]
    if m.shape != like.shape:
        raise InputError(f"mask shape {m.shape} does not match the volume {like.shape}", path)
    return save_rois(RoiSet.from_mask(m, like.spacing, name=name), path, like)
