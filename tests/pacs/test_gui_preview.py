"""The first retrieved slice in the main window before the series is complete (labelled
partial, read-only, never in the viewer's state), timed from the Retrieve click; then the
complete series replaces it. Real Orthanc, real mouse events, offscreen Qt."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

import numpy as np
import pydicom
import pytest
from test_gui import click, click_row, open_pacs_dialog, search, window  # noqa: F401

from coloc_viewer.imaging.dicom_write import write_dicom_series
from coloc_viewer.imaging.load import load_volume
from coloc_viewer.pacs.assemble import SeriesAssembler
from coloc_viewer.pacs.cache import StudyCache
from coloc_viewer.pacs.getscu import find_getscu
from coloc_viewer.pacs.servers import save_servers

pytestmark = pytest.mark.gui
N = 60


@pytest.fixture(scope="module")
def preview_series(orthanc, tmp_path_factory):
    """A 60-slice series in the session Orthanc: its folder and UIDs."""
    folder = tmp_path_factory.mktemp("preview")
    vox = np.random.default_rng(7).integers(0, 3000, size=(N, 96, 80)).astype(np.float32)
    paths = write_dicom_series(vox, folder, spacing=(2.0, 0.5, 0.75), patient_id="PREV-01",
                               patient_name="PREVIEW^SERIES")
    orthanc.upload(paths)
    ds = pydicom.dcmread(paths[0], stop_before_pixels=True)
    return folder, str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID)


@pytest.fixture
def held_after_three(monkeypatch):
    """The retrieval pauses at its third instance until the test releases it (the
    transfer stays open on the real server, as a slow network would keep it). Every
    receiver hands each instance to the decoder as it arrives: that is where it waits."""
    release = threading.Event()
    written: list = []
    original = SeriesAssembler.add

    def add(self, path, data=None):
        written.append(path)
        if len(written) == 3:
            release.wait(20)
        return original(self, path, data)

    monkeypatch.setattr(SeriesAssembler, "add", add)
    yield release, written
    release.set()


@pytest.fixture
def with_getscu(configured):
    """The configured servers plus the DIMSE one receiving through DCMTK's getscu."""
    if find_getscu() is None:
        pytest.skip("DCMTK's getscu is not installed: sudo apt-get install dcmtk")
    servers = [*configured, replace(configured[1], name="orthanc-getscu",
                                    dimse_backend="dcmtk")]
    save_servers(servers)
    return servers


@pytest.mark.parametrize("server_index", [0, 1, 2], ids=["wado", "cget", "cget-getscu"])
def test_first_slice_in_the_main_window_before_the_series_is_complete(
        qtbot, window, configured, preview_series, held_after_three, server_index,  # noqa: F811
        request) -> None:
    from coloc_viewer.gui.pacs_preview import preview_slice

    if server_index == 2:
        configured = request.getfixturevalue("with_getscu")
    folder, study, series = preview_series
    release, written = held_after_three
    dialog = open_pacs_dialog(qtbot, window)
    dialog.server_box.setCurrentIndex(server_index)
    search(qtbot, dialog, "PREVIEW*")
    with qtbot.waitSignal(dialog.series_listed, timeout=20000):
        click_row(qtbot, dialog.study_table, 0)
    click_row(qtbot, dialog.series_table, 0)
    preview = window.pacs_preview
    # a canvas wider than tall: the slice fills its height, where the banner sits on top
    window.resize(1600, 640)
    qtbot.waitUntil(lambda: window.view.width() > window.view.height(), timeout=5000)
    with qtbot.waitSignal(preview.painted, timeout=10000) as painted:
        clicked = time.perf_counter()
        click(qtbot, dialog.retrieve_button)
    first_paint = painted.args[0] - clicked
    # the time is printed, not asserted (benchmarks/bench_pacs.py --gui measures it); the
    # transfer is held after three instances, so a paint now proves it did not wait for it
    print(f"Retrieve click to first slice painted in the main window: {first_paint:.3f} s")
    qtbot.waitUntil(lambda: len(written) >= 3, timeout=10000)
    # progress reaches the window a few times a second; while the transfer is held the
    # last instance reported (the second: the third is the one held) still shows
    qtbot.waitUntil(lambda: dialog.status.text() == f"Retrieved 2 of {N} instances",
                    timeout=5000)
    qtbot.waitUntil(lambda: f"2/{N}" in preview.text, timeout=5000)
    # partial: shown over the canvas, labelled, not in the viewer's state, not cached
    assert preview.isVisible() and preview.geometry() == window.view.rect()
    assert "Partial series" in preview.text and f"/{N}" in preview.text
    # the panels describe the study shown before: greyed meanwhile
    panels = [window.docks[name].widget()
              for name in ("Series", "ROIs", "Model", "Scores", "Channels")]
    assert not any(w.isEnabled() for w in panels)
    assert window.state.volume is None or window.state.volume.shape[0] != N
    assert not StudyCache().series_complete(configured[server_index].address, study, series)
    # the right pixels: the first instance that arrived, as the viewer shows it
    first = pydicom.dcmread(written[0], stop_before_pixels=True).SOPInstanceUID
    original = next(p for p in folder.glob("*.dcm")
                    if pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID == first)
    want = preview_slice(original).image
    shown = preview._qimage  # noqa: SLF001
    got = np.array(shown.constBits(), dtype=np.uint8).reshape(shown.height(),
                                                             shown.bytesPerLine())
    np.testing.assert_array_equal(got[:, :shown.width()], want)
    # the whole slice is in view, below the banner, at its aspect ratio
    shot = preview.grab().toImage().convertToFormat(shown.Format.Format_Grayscale8)
    pixels = np.array(shot.constBits(), dtype=np.uint8).reshape(
        shot.height(), shot.bytesPerLine())[:, :shot.width()]
    banner = preview.label.height()
    assert (pixels[banner:] > 0).any()
    rows = np.flatnonzero((pixels[banner:] > 0).any(axis=1)) + banner
    cols = np.flatnonzero((pixels[banner:] > 0).any(axis=0))
    assert rows[0] >= banner and rows[-1] < shot.height()
    (sy, sx), (h, w) = preview._spacing, want.shape  # noqa: SLF001
    aspect = (cols[-1] - cols[0] + 1) / (rows[-1] - rows[0] + 1)
    assert aspect == pytest.approx((w * sx) / (h * sy), rel=0.03)
    # complete: the series replaces the preview, equal to the originals
    with qtbot.waitSignal(window.study_loaded, timeout=30000):
        release.set()
    assert not preview.isVisible()
    assert all(w.isEnabled() for w in panels)  # the new study's panels
    volume = window.state.volume
    assert volume.shape[0] == N
    np.testing.assert_array_equal(np.sort(volume.voxels.ravel()),
                                  np.sort(load_volume(folder).voxels.ravel()))


def test_closing_the_dialog_mid_retrieval_removes_the_preview(
        qtbot, window, configured, preview_series, held_after_three) -> None:  # noqa: F811
    _folder, study, series = preview_series
    release, written = held_after_three
    dialog = open_pacs_dialog(qtbot, window)
    search(qtbot, dialog, "PREVIEW*")
    with qtbot.waitSignal(dialog.series_listed, timeout=20000):
        click_row(qtbot, dialog.study_table, 0)
    click_row(qtbot, dialog.series_table, 0)
    with qtbot.waitSignal(window.pacs_preview.painted, timeout=10000):
        click(qtbot, dialog.retrieve_button)
    qtbot.waitUntil(lambda: len(written) >= 3, timeout=10000)
    threading.Timer(0.3, release.set).start()  # the transfer goes on after Close
    dialog.reject()  # Close: the retrieval is cancelled (waits for the worker to stop)
    assert not window.pacs_preview.isVisible()
    assert window.docks["Scores"].widget().isEnabled()  # the old study is current again
    assert not StudyCache().series_complete(configured[0].address, study, series)


def test_the_preview_uses_the_viewers_opening_window(tmp_path) -> None:
    """The first slice is shown with the window the viewer opens the series with (its DICOM
    window; without one, the loader's robust window), so it does not change on opening."""
    from coloc_viewer.gui.pacs_preview import preview_slice
    from coloc_viewer.viewer.display import WindowLevel, apply_window
    from coloc_viewer.viewer.view_models import default_window

    vox = np.random.default_rng(3).integers(0, 3000, size=(1, 32, 32)).astype(np.float32)
    path = write_dicom_series(vox, tmp_path / "s", patient_id="P", patient_name="P^P")[0]
    ds = pydicom.dcmread(path)
    ds.WindowCenter, ds.WindowWidth = 500, 400
    ds.save_as(path)
    plane = load_volume(path).voxels[0]
    assert np.array_equal(preview_slice(path).image,
                          apply_window(plane, WindowLevel(500.0, 400.0)))
    for keyword in ("WindowCenter", "WindowWidth"):
        delattr(ds, keyword)
    ds.save_as(path)
    volume = load_volume(path)
    plain = preview_slice(path).image
    assert np.array_equal(plain, apply_window(plane, default_window(volume, 0)))
    assert 0 < plain.mean() < 255 and len(np.unique(plain)) > 100
