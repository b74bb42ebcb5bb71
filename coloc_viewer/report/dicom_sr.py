"""The co-localization scores as a DICOM Structured Report (TID 1500 Measurement Report).

One measurement group per (ROI, map): relevance mass, relevance rank, AUROC and the shift
test's p-value (UCUM unit "1"), the verdict as text, the model as algorithm identification
(name, card hash, layer, rank, map), and a reference to the ROI's segment of the DICOM SEG
and to the source series. A slice score references the SEG frame of that slice (TID 1410,
``ReferencedSegmentationFrame``); a volume score (3-D model) the whole segment (TID 1411,
``ReferencedSegment``). Scores without a DICOM code use the private coding scheme
``99COLOC``, declared in the SR's Coding Scheme Identification Sequence.

The SR copies the patient and study modules of the source images (it belongs to the same
study); nothing here logs them. Built with ``highdicom.sr``; no torch, no Qt.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import coloc_viewer
from coloc_viewer.errors import InputError

__all__ = ["COLOC_SCHEME", "SR_SCORES", "build_dicom_results", "build_score_report", "card_hash",
           "save_score_report", "score_rows_from_analysis"]

COLOC_SCHEME = "99COLOC"
COLOC_SCHEME_NAME = "coloc_viewer co-localization scores"
SERIES_NUMBER = 901

#: score key -> (code value, code meaning) in the 99COLOC scheme (no DICOM code exists)
SR_SCORES: dict[str, tuple[str, str]] = {
    "relevance_mass": ("RMASS", "Relevance mass in ROI"),
    "relevance_rank": ("RRANK", "Relevance rank accuracy in ROI"),
    "auroc": ("AUROC", "Area under ROC curve of map as ROI classifier"),
    "p_value": ("PSHIFT", "p-value of ROI shift test"),
}
VERDICT_CODE = ("VERDICT", "Co-localization verdict")
MAP_CODE = ("MAP", "Saliency map")


def coloc_code(value: str, meaning: str) -> Any:
    """A concept of the private ``99COLOC`` coding scheme."""
    from highdicom.sr import CodedConcept

    return CodedConcept(value=value, scheme_designator=COLOC_SCHEME, meaning=meaning)


def card_hash(card: Any) -> str:
    """SHA-256 (hex) of a model card: of its JSON file when it has one, else of its fields."""
    path = getattr(card, "path", None) if not isinstance(card, Mapping) else card.get("path")
    if path and os.path.isfile(path):
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    fields = dict(card) if isinstance(card, Mapping) else card.to_dict()
    fields.pop("path", None)
    blob = json.dumps(fields, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def score_rows_from_analysis(out: Mapping[str, Any],
                             verdict: Callable[[dict[str, Any]], str] | None = None
                             ) -> list[dict[str, Any]]:
    """SR rows from ``coloc-viewer analyze``'s JSON: one per (ROI, map).

    ``verdict`` turns one ROI's scores into its phrase (the viewer's
    ``coloc_viewer.viewer.verdict.describe``); without it the rows carry no verdict.
    """
    top = out.get("top_channels") or []
    names = {"top_map": f"top channel {top[0]['channel']}" if top else "top channel",
             "cam": str(out.get("method", "cam"))}
    scores = out["scores"]
    per_roi = scores.get("per_roi") or {out.get("roi", "ROI"): {k: scores[k] for k in names}}
    rows = []
    for roi, by_map in per_roi.items():
        for key, label in names.items():
            sc = dict(by_map[key])
            rows.append({"roi": roi, "map": label, "slice": out.get("slice"), **sc,
                         "verdict": verdict(sc) if verdict is not None else None})
    return rows


# -- SEG lookup ------------------------------------------------------------------------------
def _segment_numbers(seg: Any) -> dict[str, int]:
    return {str(s.SegmentLabel): int(s.SegmentNumber) for s in seg.SegmentSequence}


def _seg_frames(seg: Any) -> dict[tuple[int, str, int | None], int]:
    """(segment number, source SOP instance UID, source frame or None) -> SEG frame (1-based)."""
    out = {}
    # with one segment, highdicom puts its identification in the shared functional groups
    shared = seg.get("SharedFunctionalGroupsSequence") or [{}]
    for i, item in enumerate(seg.PerFrameFunctionalGroupsSequence, start=1):
        ident = item.get("SegmentIdentificationSequence") or \
            shared[0].get("SegmentIdentificationSequence")
        if not ident:
            raise InputError(f"SEG frame {i} names no segment", None)
        number = int(ident[0].ReferencedSegmentNumber)
        for der in item.get("DerivationImageSequence", []):
            for src in der.get("SourceImageSequence", []):
                frame = src.get("ReferencedFrameNumber")
                out[(number, str(src.ReferencedSOPInstanceUID),
                     None if frame is None else int(frame))] = i
    return out


def _source_image(ds: Any) -> Any:
    from highdicom.sr import SourceImageForSegmentation

    return SourceImageForSegmentation(referenced_sop_class_uid=ds.SOPClassUID,
                                      referenced_sop_instance_uid=ds.SOPInstanceUID)


# -- building --------------------------------------------------------------------------------
def _algorithm(model_info: Mapping[str, Any], map_label: str) -> Any:
    from highdicom.sr import AlgorithmIdentification
    from pydicom.sr.codedict import codes

    params = {"card_sha256": str(model_info.get("card_hash", "")),
              "layer": str(model_info.get("layer", "")), "rank": str(model_info.get("rank", "")),
              "map": map_label}
    return AlgorithmIdentification(
        name=str(model_info.get("name", "model"))[:64], family=codes.DCM.ArtificialIntelligence,
        version=str(model_info.get("card_hash", ""))[:16] or "unknown",
        manufacturer="coloc_viewer " + coloc_viewer.__version__,
        parameters=[f"{k}={v}" for k, v in params.items() if v])


def _measurements(row: Mapping[str, Any], algorithm: Any) -> list[Any]:
    from highdicom.sr import Measurement
    from pydicom.sr.codedict import codes

    out = []
    for key, (value, meaning) in SR_SCORES.items():
        v = row.get(key)
        if v is None:  # empty ROI on this slice / no positive map values: leave it out
            continue
        out.append(Measurement(name=coloc_code(value, meaning), value=float(v),
                               unit=codes.UCUM.NoUnits, algorithm_id=algorithm))
    return out


def _text_item(meaning_code: tuple[str, str], text: str) -> Any:
    from highdicom.sr import RelationshipTypeValues, TextContentItem

    return TextContentItem(name=coloc_code(*meaning_code), value=text[:1024],
                           relationship_type=RelationshipTypeValues.CONTAINS)


def _group(row: Mapping[str, Any], seg: Any, sources: Sequence[Any],
           model_info: Mapping[str, Any], numbers: dict[str, int],
           frames: dict[tuple[int, str, int | None], int]) -> Any:
    import highdicom.sr as hsr
    from pydicom.sr.codedict import codes

    roi, map_label = str(row["roi"]), str(row["map"])
    if roi not in numbers:
        raise InputError(f"no segment named {roi!r} in the DICOM SEG "
                         f"(segments: {', '.join(numbers)})")
    number = numbers[roi]
    segment = next(s for s in seg.SegmentSequence if int(s.SegmentNumber) == number)
    ptype = segment.SegmentedPropertyTypeCodeSequence[0]
    finding = hsr.CodedConcept(value=ptype.CodeValue, meaning=ptype.CodeMeaning,
                               scheme_designator=ptype.CodingSchemeDesignator)
    algorithm = _algorithm(model_info, map_label)
    tracking = hsr.TrackingIdentifier(uid=_tracking_uid(seg, number, map_label, row.get("slice")),
                                      identifier=f"{roi} / {map_label}"[:64])
    common = {"tracking_identifier": tracking, "finding_type": finding, "algorithm_id": algorithm,
              "method": coloc_code(*MAP_CODE), "measurements": _measurements(row, algorithm),
              "finding_category": codes.DCM.Saliency}
    z = row.get("slice")
    if z is None:
        group = hsr.VolumetricROIMeasurementsAndQualitativeEvaluations(
            referenced_segment=hsr.ReferencedSegment(
                sop_class_uid=seg.SOPClassUID, sop_instance_uid=seg.SOPInstanceUID,
                segment_number=number,
                source_series=hsr.SourceSeriesForSegmentation(sources[0].SeriesInstanceUID)),
            **common)
    else:
        z = int(z)
        if int(sources[0].get("NumberOfFrames", 1) or 1) > 1:
            raise InputError("slice scores of a multi-frame (enhanced) source series cannot be "
                             "referenced yet: export from a single-frame series")
        if not 0 <= z < len(sources):
            raise InputError(f"slice {z} is outside the source series (0..{len(sources) - 1})")
        src = sources[z]
        key = (number, str(src.SOPInstanceUID), None)
        if key not in frames:
            raise InputError(f"the DICOM SEG has no frame of segment {roi!r} on slice {z + 1}")
        group = hsr.PlanarROIMeasurementsAndQualitativeEvaluations(
            referenced_segment=hsr.ReferencedSegmentationFrame(
                sop_class_uid=seg.SOPClassUID, sop_instance_uid=seg.SOPInstanceUID,
                frame_number=frames[key], segment_number=number,
                source_image=_source_image(src)),
            **common)
    container = group[0]
    if z is not None:
        _drop_segment_number(container)
    container.ContentSequence.append(_text_item(MAP_CODE, map_label))
    if row.get("verdict"):
        container.ContentSequence.append(_text_item(VERDICT_CODE, str(row["verdict"])))
    return group


def _drop_segment_number(container: Any) -> None:
    """A SEG frame reference carries the frame number only: the frame names its segment, and
    Referenced Segment Number "shall not be present when Referenced Frame Number is present"
    (PS3.3 C.17.3.2; highdicom writes both, dciodvfy reports it as an error)."""
    for item in container.ContentSequence:
        name = item.ConceptNameCodeSequence[0]
        if (name.CodingSchemeDesignator, name.CodeValue) == ("DCM", "121214") \
                and item.ValueType == "IMAGE":
            for ref in item.ReferencedSOPSequence:
                if "ReferencedFrameNumber" in ref and "ReferencedSegmentNumber" in ref:
                    del ref.ReferencedSegmentNumber


def _tracking_uid(seg: Any, number: int, map_label: str, z: Any) -> str:
    """A stable UID per (SEG, segment, map, slice): the same results give the same UID."""
    from pydicom.uid import generate_uid

    return generate_uid(entropy_srcs=[str(seg.SOPInstanceUID), str(number), map_label, str(z)])


def build_score_report(source_datasets: Sequence[Any], seg_dataset: Any,
                       score_rows: Sequence[Mapping[str, Any]], model_info: Mapping[str, Any], *,
                       series_number: int = SERIES_NUMBER,
                       series_description: str = "coloc_viewer scores") -> Any:
    """A TID 1500 Comprehensive 3D SR of the scores (a ``highdicom.sr.Comprehensive3DSR``).

    ``source_datasets``: the source images' headers in slice order (``roi_dicom_seg.
    source_datasets``); ``seg_dataset``: the DICOM SEG of the ROIs (segment labels = ROI
    names); ``score_rows``: mappings with ``roi``, ``map``, ``slice`` (0-based, None for a
    volume score), the score keys and an optional ``verdict``;
    ``model_info``: ``name``, ``card_hash``, ``layer``, ``rank``.
    """
    import highdicom as hd
    import highdicom.sr as hsr
    from pydicom import Dataset
    from pydicom.sr.codedict import codes

    if not source_datasets:
        raise InputError("a DICOM SR needs the source DICOM images")
    if not score_rows:
        raise InputError("no scores to report")
    numbers, frames = _segment_numbers(seg_dataset), _seg_frames(seg_dataset)
    groups = [_group(row, seg_dataset, source_datasets, model_info, numbers, frames)
              for row in score_rows]
    observer = hsr.ObserverContext(
        observer_type=codes.DCM.Device,
        observer_identifying_attributes=hsr.DeviceObserverIdentifyingAttributes(
            uid=hd.UID(), name="coloc_viewer", manufacturer_name="coloc_viewer",
            model_name=str(model_info.get("name", "model"))[:64]))
    report = hsr.MeasurementReport(
        observation_context=hsr.ObservationContext(observer_device_context=observer),
        procedure_reported=codes.SCT.ImagingProcedure, imaging_measurements=groups)
    try:
        sr = hsr.Comprehensive3DSR(
            evidence=[*source_datasets, seg_dataset], content=report[0],
            series_instance_uid=hd.UID(), series_number=series_number,
            sop_instance_uid=hd.UID(), instance_number=1, manufacturer="coloc_viewer",
            is_complete=True, series_description=series_description[:64])
    except (ValueError, TypeError, AttributeError) as exc:
        raise InputError(f"cannot build the DICOM SR ({exc})") from None
    scheme = Dataset()
    scheme.CodingSchemeDesignator = COLOC_SCHEME
    scheme.CodingSchemeName = COLOC_SCHEME_NAME
    scheme.CodingSchemeResponsibleOrganization = "coloc_viewer project"
    sr.CodingSchemeIdentificationSequence = [scheme]
    sr.SoftwareVersions = coloc_viewer.__version__
    return sr


def save_score_report(path: str | os.PathLike[str], source_datasets: Sequence[Any],
                      seg_dataset: Any, score_rows: Sequence[Mapping[str, Any]],
                      model_info: Mapping[str, Any], **options: Any) -> Path:
    """Build the SR (:func:`build_score_report`) and write it atomically to ``path``."""
    import tempfile

    p = Path(path)
    sr = build_score_report(source_datasets, seg_dataset, score_rows, model_info, **options)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.stem}.", suffix=".tmp.dcm", dir=p.parent)
    os.close(fd)
    try:
        sr.save_as(tmp, enforce_file_format=True)
        os.replace(tmp, p)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return p


def build_dicom_results(volume: Any, roiset: Any, score_rows: Sequence[Mapping[str, Any]],
                        model_info: Mapping[str, Any]) -> tuple[Any, Any]:
    """(SEG, SR) datasets for a volume loaded from DICOM, its ROIs and their score rows:
    what "Send results to PACS" sends and ``analyze --seg/--sr`` writes."""
    from coloc_viewer.imaging.roi_dicom_seg import build_dicom_seg, source_datasets

    seg = build_dicom_seg(roiset, volume)
    sr = build_score_report(source_datasets(volume), seg, score_rows, model_info)
    return seg, sr
