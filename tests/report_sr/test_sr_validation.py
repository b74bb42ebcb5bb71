"""SEG and SR pass dicom3tools' dciodvfy with no error; the only warnings are the private
coding scheme's (docs/dicom_results.md). Volume scores (3-D models) reference the whole
segment; bad input is one clear error."""

from __future__ import annotations

import logging

import highdicom as hd
import pydicom
import pytest
from sr_helpers import dciodvfy, run_analyze

from coloc_viewer import load_volume
from coloc_viewer.errors import InputError
from coloc_viewer.imaging.roi_dicom_seg import source_datasets
from coloc_viewer.report.dicom_sr import build_score_report, save_score_report


def test_seg_validates_without_errors_or_warnings(written):
    errors, warnings = dciodvfy(written.seg)
    assert errors == []
    assert warnings == []


def test_sr_validates_without_errors(written):
    errors, warnings = dciodvfy(written.sr)
    assert errors == []
    assert warnings, "dciodvfy reports the private 99COLOC scheme (documented)"
    assert all("Unrecognized defined term <99COLOC>" in w for w in warnings)


def _volume_rows(out: dict) -> list[dict]:
    return [{"roi": roi, "map": out["method"], "slice": None, **sc["cam"], "verdict": "x"}
            for roi, sc in out["scores"]["per_roi"].items()]


def test_volume_scores_reference_the_whole_segment(written, tmp_path):
    volume = load_volume(written.image)
    seg = pydicom.dcmread(written.seg)
    rows = _volume_rows(written.out)
    path = save_score_report(tmp_path / "vol.sr.dcm", source_datasets(volume), seg, rows,
                             {"name": "m", "card_hash": "ab" * 32, "layer": "l", "rank": "max"})
    assert dciodvfy(path)[0] == []
    sr = hd.sr.srread(path)
    groups = sr.content.get_volumetric_roi_measurement_groups()
    assert len(groups) == len(rows)
    numbers = {str(s.SegmentLabel): int(s.SegmentNumber) for s in seg.SegmentSequence}
    for group, row in zip(groups, rows):
        ref = group.referenced_segment
        assert ref.referenced_sop_instance_uid == seg.SOPInstanceUID
        assert list(ref.referenced_segment_numbers) == [numbers[row["roi"]]]
        assert ref.source_series_for_segmentation.value == volume.metadata["series_uid"]
        got = {m.name.meaning: m.value for m in group.get_measurements()}
        assert got["Relevance mass in ROI"] == pytest.approx(row["relevance_mass"])


def test_unknown_roi_or_slice_is_one_clear_error(written):
    volume = load_volume(written.image)
    seg = pydicom.dcmread(written.seg)
    sources = source_datasets(volume)
    row = {"roi": "kidney", "map": "gradcam", "slice": 7, "relevance_mass": 0.5}
    with pytest.raises(InputError, match="no segment named 'kidney'"):
        build_score_report(sources, seg, [row], {"name": "m"})
    with pytest.raises(InputError, match="outside the source series"):
        build_score_report(sources, seg, [{**row, "roi": "lesion", "slice": 99}], {"name": "m"})
    with pytest.raises(InputError, match="no scores"):
        build_score_report(sources, seg, [], {"name": "m"})


def test_sr_without_a_seg_is_refused_before_the_model_runs(written, tmp_path):
    with pytest.raises(InputError, match="--sr needs --seg"):
        run_analyze([str(written.image), "--roi", str(written.roi), "--sr",
                     str(tmp_path / "x.dcm")])
    with pytest.raises(InputError, match=".dcm suffix"):
        run_analyze([str(written.image), "--roi", str(written.roi), "--seg",
                     str(tmp_path / "x.nii.gz")])
    assert not list(tmp_path.iterdir())


def test_writing_logs_no_patient_identifier(written, tmp_path, caplog):
    volume = load_volume(written.image)
    sources = source_datasets(volume)
    seg = pydicom.dcmread(written.seg)
    rows = _volume_rows(written.out)
    with caplog.at_level(logging.DEBUG):
        save_score_report(tmp_path / "a.dcm", sources, seg, rows, {"name": "m"})
    text = caplog.text
    for key in ("PatientID", "PatientName"):
        value = str(sources[0].get(key, "")).strip()
        if value:
            assert value not in text


def test_one_roi_gives_a_valid_seg_and_sr(written, tmp_path):
    """With a single segment highdicom identifies it in the shared functional groups, not
    per frame; the SR still finds its frames (it had failed on every one-ROI study)."""
    from coloc_viewer.imaging.roi_io import load_rois, save_rois

    volume = load_volume(written.image)
    rois = load_rois(written.roi, like=volume)
    only = type(rois).for_volume(volume)
    only.add("lesion", rois.mask("lesion"), record=False)
    roi = save_rois(only, tmp_path / "lesion.nii.gz", like=volume)
    seg, sr = tmp_path / "one.seg.dcm", tmp_path / "one.sr.dcm"
    out = run_analyze([str(written.image), "--roi", str(roi), "--seg", str(seg),
                       "--sr", str(sr)])
    assert out["roi"] == "lesion" and "per_roi" not in out["scores"]
    ds = pydicom.dcmread(seg)
    assert "SegmentIdentificationSequence" not in ds.PerFrameFunctionalGroupsSequence[0]
    assert dciodvfy(sr)[0] == []
    groups = hd.sr.srread(sr).content.get_planar_roi_measurement_groups()
    assert len(groups) == len(out["scores"])  # one per map (the top map, Grad-CAM)
    scored = volume.files[out["slice"]]  # the source image of the scored slice
    scored_uid = pydicom.dcmread(scored, stop_before_pixels=True).SOPInstanceUID
    for group in groups:
        ref = group.referenced_segmentation_frame
        assert ref.referenced_sop_instance_uid == ds.SOPInstanceUID
        frame = ds.PerFrameFunctionalGroupsSequence[int(ref.referenced_frame_numbers[0]) - 1]
        assert frame.DerivationImageSequence[0].SourceImageSequence[0] \
            .ReferencedSOPInstanceUID == scored_uid
