"""A segmentation model's predicted mask as one more overlay in the main window (issue 13):
after Analyse (a mouse click) the mask of the shown slice is drawn with one colour per
class and a legend; M (a key press) hides and shows it. The study is stored right-to-left
and front-to-back (RAS), so the mask goes through the display orientation too. A K-class
UNet and a single-channel (sigmoid) UNet, both MONAI, built here."""

from __future__ import annotations

import numpy as np
import pytest
from gui_phantom import phantom
from PySide6.QtCore import Qt
from series_cards import unet_card


@pytest.fixture(scope="module")
def ras_study(tmp_path_factory):
    from coloc_viewer.imaging.dicom_write import write_dicom_series

    folder = tmp_path_factory.mktemp("ras")
    write_dicom_series(phantom((4, 96, 80)), folder, spacing=(3.0, 0.8, 1.0),
                       origin=(40.0, 38.4, 10.0), direction=np.diag([-1.0, -1.0, 1.0]),
                       modality="MR", series_description="T2 RAS phantom", dtype="uint16")
    return folder


@pytest.mark.parametrize("out_channels", [3, 1])
def test_predicted_mask_overlay_with_legend_and_toggle(qtbot, make_window, ras_study,
                                                       tmp_path, out_channels, artifacts_dir):
    from coloc_viewer.explain.engine import explain
    from coloc_viewer.imaging.load import load_volume
    from coloc_viewer.viewer.display import label_mask_rgba
    from coloc_viewer.viewer.orientation import orientation_of

    card = unet_card(tmp_path, out_channels, f"tiny-unet-{out_channels}",
                     bias={0: -0.05} if out_channels == 1 else None)
    window = make_window()
    with qtbot.waitSignal(window.study_loaded, timeout=60000):
        window.open_path(ras_study)
    orient = orientation_of(window.state.volume)
    assert orient.flip_rows and orient.flip_cols  # RAS storage is flipped for display
    with qtbot.waitSignal(window.model_ready, timeout=60000):
        window.select_model(str(card))
    with qtbot.waitSignal(window.analysis_finished, timeout=60000):
        qtbot.mouseClick(window.model_panel.analyse, Qt.MouseButton.LeftButton)
    state, overlay = window.state, window.mask_overlay
    z = state.slice_index
    assert state.explanation.task == "segmentation"

    direct = explain(window.current_model(), load_volume(ras_study), z)
    expected = orient.to_display(direct.predicted_mask())
    present = [int(k) for k in np.unique(expected) if k > 0]
    assert present and (expected == 0).any()  # something to draw, and a background
    np.testing.assert_array_equal(overlay.labels(), expected)
    np.testing.assert_array_equal(overlay.item.image, label_mask_rgba(expected))
    assert overlay.item.isVisible() and overlay.legend.isVisible()
    text = overlay.legend.text()
    shares = direct.prediction["pixel_shares"]
    if out_channels == 1:
        assert "lesion" in text and f"{shares[0]:.1%} of the slice" in text
        assert shares[0] == pytest.approx((expected == 1).mean())
    else:
        for k, name in ((1, "gland"), (2, "lesion")):
            assert f"{name} ({shares[k]:.1%} of the slice)" in text
    window.grab().save(str(artifacts_dir / f"gui_series_mask_overlay_{out_channels}.png"))

    window.view.graphics.setFocus()
    qtbot.keyClick(window.view.graphics, Qt.Key.Key_M)
    assert not state.overlay.mask and overlay.labels() is None
    assert not overlay.item.isVisible() and not overlay.legend.isVisible()
    qtbot.keyClick(window.view.graphics, Qt.Key.Key_M)
    assert state.overlay.mask and overlay.item.isVisible()
    np.testing.assert_array_equal(overlay.item.image, label_mask_rgba(expected))


def test_classifier_draws_no_mask(qtbot, make_window, ras_study, tmp_path):
    from series_cards import densenet3d_card

    window = make_window()
    with qtbot.waitSignal(window.study_loaded, timeout=60000):
        window.open_path(ras_study)
    with qtbot.waitSignal(window.model_ready, timeout=60000):
        window.select_model(str(densenet3d_card(tmp_path)))
    with qtbot.waitSignal(window.analysis_finished, timeout=60000):
        qtbot.mouseClick(window.model_panel.analyse, Qt.MouseButton.LeftButton)
    assert window.state.explanation is not None
    assert window.mask_overlay.labels() is None and not window.mask_overlay.legend.isVisible()
