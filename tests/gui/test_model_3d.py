"""A 3-D model in the main window (issue 13): one run explains the whole volume, scrolling
shows the next slice of that same explanation, the score panel shows its volume scores, and
a model that cannot run on the open study is one sentence in the error dialog."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from gui_events import load_model, open_study, wheel
from gui_phantom import phantom

from coloc_viewer.imaging.volume import Volume

ARGS = {"spatial_dims": 3, "in_channels": 1, "out_channels": 2, "init_features": 8,
        "growth_rate": 4, "block_config": [2, 2]}


def _write_card(folder: Path, name: str, in_channels: int, **extra) -> Path:
    import torch
    from monai.networks.nets import DenseNet
    from safetensors.torch import save_file

    torch.manual_seed(0)
    args = dict(ARGS, in_channels=in_channels)
    module = DenseNet(**args).eval()
    save_file({k: v.contiguous() for k, v in module.state_dict().items()},
              str(folder / f"{name}.safetensors"))
    card = {"name": name, "architecture": "monai:DenseNet", "architecture_args": args,
            "weights": f"{name}.safetensors", "in_channels": in_channels,
            "spatial_dims": 3, "input_size": [8, 32, 32],
            "normalization": {"mode": "zscore"}, "classes": ["no lesion", "lesion"],
            "positive_class": 1, "target_layer": "class_layers.relu", **extra}
    path = folder / f"{name}.json"
    path.write_text(json.dumps(card))
    return path


@pytest.fixture(scope="module")
def card_3d(tmp_path_factory) -> Path:
    return _write_card(tmp_path_factory.mktemp("model3d"), "tiny-densenet3d", 1)


@pytest.fixture(scope="module")
def card_two_series(tmp_path_factory) -> Path:
    inputs = [{"role": "T2", "series": "T2"}, {"role": "ADC", "series": "ADC"}]
    return _write_card(tmp_path_factory.mktemp("model3d2"), "tiny-densenet3d-2ch", 2,
                       inputs=inputs)


def test_3d_model_explains_the_volume_once_and_scrolling_reuses_it(
        qtbot, window, study_dir, card_3d, monkeypatch):
    import coloc_viewer.explain.engine as engine
    from coloc_viewer.explain.scoring import score_explanation
    from coloc_viewer.metrics.definitions import format_score
    from coloc_viewer.viewer.display import normalise_map, overlay_rgba
    from coloc_viewer.viewer.orientation import orientation_of

    runs = []
    real_explain = engine.explain

    def counting_explain(*args, **kwargs):
        runs.append(real_explain(*args, **kwargs))
        return runs[-1]

    monkeypatch.setattr(engine, "explain", counting_explain)
    open_study(qtbot, window, study_dir)
    load_model(qtbot, window, card_3d)
    state, view = window.state, window.view
    n_z = state.n_slices
    lesion = state.rois["lesion"]
    lesion.mask[2:6, 30:44, 40:54] = True
    state.rois_changed()
    state.set_slice(2)

    with qtbot.waitSignal(window.analysis_finished, timeout=120000):
        window.analyse_current()
    assert len(runs) == 1
    expl = runs[0]
    assert expl.spatial_dims == 3 and expl.slice_index is None
    assert len(state.explanations) == n_z  # one explanation serves every slice
    assert window.model_panel.prediction.text().startswith("Prediction: ")

    orient = orientation_of(state.volume)
    top = expl.top_channel
    shown = []
    for _ in range(3):
        before = state.slice_index
        wheel(view, 40, 40, -1)
        qtbot.waitUntil(lambda b=before: state.slice_index != b, timeout=5000)
        z = state.slice_index
        shown.append(z)
        expected = orient.to_display(expl.channel_map(top, z=z))
        np.testing.assert_allclose(state.current_map(), expected, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(state.explanation.cam_map("gradcam"),
                                   orient.to_display(expl.cam_map("gradcam", z=z)),
                                   rtol=1e-6, atol=1e-7)
        scaled, _lo, _hi = normalise_map(expected)
        np.testing.assert_array_equal(view.overlay_item.image,
                                      overlay_rgba(scaled, state.overlay.opacity))
    assert len(set(shown)) == 3
    assert len(runs) == 1  # scrolling never ran the model again
    window.analyse_current()  # all cached: no run either
    window.wait_idle()
    assert len(runs) == 1

    # the score panel shows the 3-D model's volume scores (3-D translation p-value)
    roi_stored = orient.to_storage(lesion.mask)
    expected_scores = score_explanation(expl, roi_stored, threshold=state.overlay.threshold)
    got = state.volume_scores["lesion"]
    for key, value in expected_scores["top_map"].items():
        if key == "slices" or value is None or isinstance(value, (list, dict, str)):
            continue
        assert got[key] == pytest.approx(value, rel=1e-6, abs=1e-9), key
    table = window.score_panel.volume_table
    assert table.rowCount() == 1 and table.verticalHeaderItem(0).text() == "lesion"
    assert "3-D model" in window.score_panel.volume_label.text()
    from coloc_viewer.metrics.definitions import SCORE_KEYS
    for j, key in enumerate(SCORE_KEYS):
        item = table.item(0, j)
        assert item is not None and item.text() == format_score(key, got.get(key))


def _errors(monkeypatch) -> list[tuple[str, str]]:
    from PySide6.QtWidgets import QMessageBox

    shown: list[tuple[str, str]] = []
    monkeypatch.setattr(QMessageBox, "critical",
                        lambda parent, title, text, *a, **k: shown.append((title, text)))
    return shown


def test_3d_model_on_a_single_slice_is_one_sentence(qtbot, window, card_3d, monkeypatch):
    shown = _errors(monkeypatch)
    window.set_volume(Volume(phantom((1, 96, 80)), spacing=(3.0, 0.8, 1.0),
                             metadata={"modality": "MR"}))
    load_model(qtbot, window, card_3d)
    with qtbot.waitSignal(window.error_shown, timeout=30000):
        window.analyse_current()
    title, text = shown[-1]
    assert title == "Cannot analyse"
    assert "3-D model" in text and "this series has 1" in text
    assert "Traceback" not in text and text.count(". ") == 0 and "\n" not in text
    assert window.state.explanation is None


def test_multi_series_model_on_one_series_is_one_sentence(qtbot, window, volume,
                                                          card_two_series, monkeypatch):
    shown = _errors(monkeypatch)
    window.set_volume(volume)
    load_model(qtbot, window, card_two_series)
    with qtbot.waitSignal(window.error_shown, timeout=30000):
        window.analyse_current()
    title, text = shown[-1]
    assert title == "Cannot analyse"
    assert "2 series" in text and "T2, ADC" in text
    assert "Traceback" not in text and "\n" not in text


def test_segmentation_prediction_text_uses_pixel_shares():
    from coloc_viewer.viewer.analysis import prediction_text

    seg = {"index": 1, "label": "lesion", "pixel_shares": [0.958, 0.042]}
    assert prediction_text(seg) == "lesion (4.2% of the pixels)"
    cls = {"index": 0, "label": "no lesion", "probabilities": [0.87, 0.13]}
    assert prediction_text(cls) == "no lesion (87.0%)"


def test_explain_slice_of_a_3d_model_is_a_2d_slice_of_the_volume_run(volume, card_3d):
    """What compare panes and scripts call: one slice of a whole-volume explanation."""
    from coloc_viewer.explain.engine import explain
    from coloc_viewer.model.loading import load_model as load
    from coloc_viewer.viewer.analysis import AnalysisKey, AnalysisSettings, explain_slice

    model = load(str(card_3d))
    key = AnalysisKey("s", 3, AnalysisSettings(model="m"))
    result = explain_slice(model, volume, key)
    direct = explain(model, volume)
    assert result.explanation.top_map.shape == volume.shape[1:]
    np.testing.assert_allclose(result.explanation.top_map,
                               direct.channel_map(direct.top_channel, z=3), rtol=1e-5, atol=1e-6)
