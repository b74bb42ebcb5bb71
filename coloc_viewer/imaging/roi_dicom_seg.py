"""ROIs as a DICOM SEG (highdicom): one segment per ROI with its name and codes, referencing
the volume's source DICOM images in slice order."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from coloc_viewer.errors import InputError
from coloc_viewer.imaging.roi import Code, RoiSet, category_for
from coloc_viewer.imaging.roi_files import atomic_path
from coloc_viewer.imaging.volume import Volume

__all__ = ["build_dicom_seg", "load_dicom_seg", "save_dicom_seg", "source_datasets",
           "source_frames"]


def source_frames(like: Volume) -> list[Any]:
    """The FrameHeaders of ``like``'s slices, in slice order (re-scanned from its files)."""
    from coloc_viewer.imaging.dicom_headers import NonImageObject, read_headers
    from coloc_viewer.imaging.dicom_scan import group_frames
    from coloc_viewer.imaging.sources import ref_from_string

    if not like.files:
        raise InputError("DICOM SEG needs a volume loaded from DICOM images", like.source or None)
    frames = []
    for text in dict.fromkeys(like.files):
        ref = ref_from_string(text)
        try:
            out = read_headers(ref)
        except ValueError as exc:
            if not Path(ref.path).exists():  # e.g. a PACS series purged from the cache
                raise InputError("the images this series was opened from are no longer on "
                                 "disk (deleted, or purged from the PACS cache): open the "
                                 "series again to write DICOM results",
                                 like.source or text) from None
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


def source_datasets(like: Volume) -> list[Any]:
    """The headers (no pixels) of ``like``'s source files, one per file, in slice order."""
    import pydicom

    datasets: dict[str, Any] = {}
    for f in source_frames(like):
        key = str(f.ref)
        if key not in datasets:
            with f.ref.open() as fh:
                datasets[key] = pydicom.dcmread(fh, stop_before_pixels=True)
    return list(datasets.values())


def build_dicom_seg(roiset: RoiSet, like: Volume, path: Path | None = None) -> Any:
    """The DICOM SEG (a ``highdicom.seg.Segmentation``) of ``roiset`` on ``like``'s images.

    ``path`` only names the file in error messages."""
    import highdicom as hd

    frames = source_frames(like)
    sources = source_datasets(like)
    multi = len(sources) == 1 and frames[0].n_frames > 1
    masks = np.stack([roi.mask for roi in roiset], axis=-1) if len(roiset) else None
    if masks is None:
        raise InputError("no ROIs to save", path)
    if multi:  # highdicom does not sort: frames must follow the source's frame order
        order = np.argsort([f.frame for f in frames])
        masks = masks[order]
        if len(frames) != frames[0].n_frames:
            raise InputError("DICOM SEG of a partial multi-frame source is not supported", path)
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
        return hd.seg.Segmentation(
            source_images=sources, pixel_array=masks,
            segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
            segment_descriptions=descriptions, series_instance_uid=hd.UID(), series_number=900,
            sop_instance_uid=hd.UID(), instance_number=1, manufacturer="coloc_viewer",
            manufacturer_model_name="coloc_viewer", software_versions="0.1.0",
            device_serial_number="0", content_label="ROIS", omit_empty_frames=False,
            series_description="coloc_viewer ROIs")
    except (ValueError, TypeError, AttributeError) as exc:
        raise InputError(f"cannot build DICOM SEG ({exc})", path) from None


def save_dicom_seg(roiset: RoiSet, path: Path, like: Volume) -> None:
    """Write :func:`build_dicom_seg` atomically to ``path``."""
    seg = build_dicom_seg(roiset, like, path)
    with atomic_path(path) as tmp:
        seg.save_as(tmp)


def load_dicom_seg(path: Path, like: Volume) -> RoiSet:
    import highdicom as hd

    try:
        seg = hd.seg.segread(str(path))
    except Exception as exc:  # noqa: BLE001 - any parse failure is a bad SEG
        raise InputError(f"not a readable DICOM SEG ({type(exc).__name__})", path) from None
    frames = source_frames(like)
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
