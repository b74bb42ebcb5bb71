"""The SR written by ``analyze --seg --sr`` on the demo case, read back with highdicom and
checked item by item against the analysis' scores, its SEG references and its headers."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest

from coloc_viewer import load_volume
from coloc_viewer.imaging.roi_io import load_rois
from coloc_viewer.viewer.verdict import describe

KEYS = {"Relevance mass in ROI": "relevance_mass",
        "Relevance rank accuracy in ROI": "relevance_rank",
        "Area under ROC curve of map as ROI classifier": "auroc",
        "p-value of ROI shift test": "p_value"}


def _items(group) -> dict[str, list]:
    out: dict[str, list] = {}
    for item in group[0].ContentSequence:
        out.setdefault(item.ConceptNameCodeSequence[0].CodeMeaning, []).append(item)
    return out


def _expected(out: dict) -> dict[tuple[str, str], dict]:
    top = f"top channel {out['top_channels'][0]['channel']}"
    return {(roi, label): sc[key] for roi, sc in out["scores"]["per_roi"].items()
            for key, label in (("top_map", top), ("cam", out["method"]))}


def test_every_score_reads_back_item_by_item(written):
    sr = hd.sr.srread(written.sr)
    assert isinstance(sr, hd.sr.Comprehensive3DSR)
    groups = sr.content.get_planar_roi_measurement_groups()
    expected = _expected(written.out)
    assert len(expected) == 6  # three ROIs x (top map, Grad-CAM)
    assert len(groups) == len(expected)
    seen = set()
    for group in groups:
        roi, label = str(group.tracking_identifier).split(" / ", 1)
        scores = expected[(roi, label)]
        seen.add((roi, label))
        got = {m.name.meaning: m for m in group.get_measurements()}
        for meaning, key in KEYS.items():
            if scores[key] is None:
                assert meaning not in got
                continue
            m = got[meaning]
            assert m.value == pytest.approx(scores[key], rel=1e-9, abs=1e-15)
            assert (m.unit.value, m.unit.scheme_designator) == ("1", "UCUM")
            assert m.name.scheme_designator == "99COLOC"
        items = _items(group)
        assert items["Saliency map"][0].TextValue == label
        assert items["Co-localization verdict"][0].TextValue == describe(dict(scores))
    assert seen == set(expected)


def test_model_is_the_algorithm_identification(written):
    from coloc_viewer.model.loading import load_model

    card = load_model(written.out["model"]).card
    digest = hashlib.sha256(Path(card.path).read_bytes()).hexdigest()
    sr = hd.sr.srread(written.sr)
    for group in sr.content.get_planar_roi_measurement_groups():
        items = _items(group)
        assert items["Algorithm Name"][0].TextValue == written.out["model"]
        assert items["Algorithm Version"][0].TextValue == digest[:16]
        params = dict(i.TextValue.split("=", 1) for i in items["Algorithm Parameters"])
        assert params == {"card_sha256": digest, "layer": written.out["layer"],
                          "rank": written.out["rank"],
                          "map": str(group.tracking_identifier).split(" / ", 1)[1]}
    assert json.loads(Path(card.path).read_text())["name"] == written.out["model"]


def test_references_point_at_the_roi_segment_on_the_scored_slice(written):
    sr = hd.sr.srread(written.sr)
    seg = hd.seg.segread(written.seg)
    volume = load_volume(written.image)
    z = written.out["slice"]
    for group in sr.content.get_planar_roi_measurement_groups():
        roi = str(group.tracking_identifier).split(" / ", 1)[0]
        items = _items(group)
        seg_ref = items["Referenced Segmentation Frame"][0].ReferencedSOPSequence[0]
        assert seg_ref.ReferencedSOPInstanceUID == seg.SOPInstanceUID
        frame = seg.PerFrameFunctionalGroupsSequence[int(seg_ref.ReferencedFrameNumber) - 1]
        number = int(frame.SegmentIdentificationSequence[0].ReferencedSegmentNumber)
        assert seg.get_segment_description(number).SegmentLabel == roi
        src_uid = frame.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID
        src_item = items["Source Image for Segmentation"][0].ReferencedSOPSequence[0]
        assert src_item.ReferencedSOPInstanceUID == src_uid
        # the referenced source image is the scored slice: its pixels are that slice's
        src = next(pydicom.dcmread(f) for f in written.image.iterdir()
                   if pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID == src_uid)
        pixels = src.pixel_array * float(src.get("RescaleSlope", 1)) \
            + float(src.get("RescaleIntercept", 0))
        np.testing.assert_allclose(pixels, volume.voxels[z], rtol=1e-6)
    evidence = {s.SeriesInstanceUID: {i.ReferencedSOPInstanceUID for i in s.ReferencedSOPSequence}
                for st in sr.CurrentRequestedProcedureEvidenceSequence
                for s in st.ReferencedSeriesSequence}
    assert seg.SOPInstanceUID in evidence[seg.SeriesInstanceUID]
    assert len(evidence[volume.metadata["series_uid"]]) == volume.shape[0]


def test_seg_segments_hold_the_rois(written):
    volume = load_volume(written.image)
    drawn, back = load_rois(written.roi, like=volume), load_rois(written.seg, like=volume)
    assert back.names == drawn.names
    for a, b in zip(drawn, back):
        assert np.array_equal(a.mask, b.mask)


def test_sr_belongs_to_the_source_study_and_declares_its_coding_scheme(written):
    sr = pydicom.dcmread(written.sr)
    src = pydicom.dcmread(next(written.image.iterdir()), stop_before_pixels=True)
    for key in ("PatientID", "PatientName", "StudyInstanceUID"):
        assert sr.get(key) == src.get(key)
    assert sr.SeriesInstanceUID != src.SeriesInstanceUID
    schemes = {s.CodingSchemeDesignator: s for s in sr.CodingSchemeIdentificationSequence}
    assert schemes["99COLOC"].CodingSchemeName
    assert sr.CompletionFlag == "COMPLETE"
