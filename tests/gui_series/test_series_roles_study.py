"""Qt-free, on files: the study's series are found beside the open one and filtered by
StudyInstanceUID, and a two-series 2-D model explains a slice of a study shown flipped
(RAS storage) exactly as ``explain`` does on the stored series, its maps on the display
grid."""

from __future__ import annotations

import numpy as np
from gui_phantom import phantom
from series_cards import resnet_two_series_card

from coloc_viewer.imaging.dicom_write import write_dicom_series
from coloc_viewer.imaging.load import load_volume
from coloc_viewer.viewer.analysis import AnalysisKey, AnalysisSettings, explain_slice
from coloc_viewer.viewer.orientation import orientation_of, oriented
from coloc_viewer.viewer.series_roles import RoleInputs, find_study_series, plan_roles

RAS = np.diag([-1.0, -1.0, 1.0])


def test_two_series_model_on_a_flipped_study(tmp_path):
    from coloc_viewer.explain.engine import explain
    from coloc_viewer.model.loading import load_model

    study = tmp_path / "study"
    write_dicom_series(phantom((6, 64, 56)), study / "t2", spacing=(3.0, 0.8, 1.0),
                       origin=(30.0, 25.0, 0.0), direction=RAS, series_description="T2 AX",
                       study_uid="1.2.826.0.1.3680043.8.498.1")
    write_dicom_series(phantom((4, 32, 28), seed=1), study / "adc", spacing=(4.5, 1.6, 2.0),
                       origin=(29.0, 24.0, 1.0), direction=RAS, series_description="ADC map",
                       study_uid="1.2.826.0.1.3680043.8.498.1")
    write_dicom_series(phantom((4, 32, 28), seed=2), study / "old", spacing=(4.5, 1.6, 2.0),
                       origin=(29.0, 24.0, 1.0), direction=RAS,
                       series_description="ADC map (another study)",
                       study_uid="1.2.826.0.1.3680043.8.498.2")
    shown = oriented(load_volume(study / "t2"))
    orient = orientation_of(shown)
    assert orient.flip_rows and orient.flip_cols

    series = find_study_series(shown)
    assert sorted(s.description for s in series) == ["ADC map", "T2 AX"]  # same study only
    model = load_model(str(resnet_two_series_card(tmp_path)))
    plan = plan_roles(model.card, shown, series)
    assert plan.ready, plan.question
    inputs = RoleInputs(plan)
    key = AnalysisKey("s", 2, AnalysisSettings(model="m", methods=("gradcam",)))
    result = explain_slice(model, shown, key, inputs)
    direct = explain(model, {"T2": load_volume(study / "t2"), "ADC": load_volume(study / "adc")},
                     2, methods=("gradcam",))
    assert result.explanation.inputs == ["T2", "ADC"]
    np.testing.assert_allclose(result.explanation.cam_map("gradcam"),
                               orient.to_display(direct.cam_map("gradcam")), rtol=1e-5,
                               atol=1e-6 * float(np.abs(direct.cams["gradcam"]).max()))
    np.testing.assert_allclose(result.explanation.top_map, orient.to_display(direct.top_map),
                               rtol=1e-5, atol=1e-6 * float(np.abs(direct.top_map).max()))
    assert result.explanation.prediction == direct.prediction
