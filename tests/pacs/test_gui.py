"""The PACS dialogs driven with real events against the real Orthanc: search and retrieve
into the viewer, cancel, the server settings with Test connection, send SEG + SR."""

from __future__ import annotations

import json
import re
import time

import numpy as np
import pytest
from pacs_helpers import (
    OUR_AET,
    PASSWORD,
    USER,
    demo_study_uid,
    series_uid_of,
    study_uid_of,
)

from coloc_viewer.gui.pacs_tables import SEG_HINT
from coloc_viewer.imaging.dicom_write import write_dicom_series
from coloc_viewer.imaging.load import load_volume
from coloc_viewer.pacs.assemble import SeriesAssembler
from coloc_viewer.pacs.cache import SeriesWriter, StudyCache
from coloc_viewer.pacs.query import Query
from coloc_viewer.pacs.retrieve import connect, retrieve_series
from coloc_viewer.pacs.servers import get_password, load_servers, settings_file
from coloc_viewer.resources import demo_dir

pytestmark = pytest.mark.gui
CASE2 = demo_dir() / "case-02"


@pytest.fixture
def window(qtbot, qapp):
    from coloc_viewer.gui.main_window import MainWindow

    win = MainWindow()
    qtbot.addWidget(win)
    win.resize(1200, 800)
    win.show()
    qtbot.waitExposed(win)
    yield win
    for name in ("_pacs_dialog", "_pacs_send_dialog"):
        dialog = getattr(win, name, None)
        if dialog is not None:
            dialog.close()
    win.runner.shutdown(10000)


def click(qtbot, widget) -> None:
    from PySide6.QtCore import Qt

    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton)


def click_row(qtbot, table, row: int) -> None:
    from PySide6.QtCore import Qt

    rect = table.visualItemRect(table.item(row, 0))
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def open_pacs_dialog(qtbot, window):
    window.actions_by_name["Open from PACS…"].trigger()
    dialog = window._pacs_dialog  # noqa: SLF001 - the dialog the menu opened
    qtbot.waitExposed(dialog)
    return dialog


def search(qtbot, dialog, patient_name: str) -> None:
    qtbot.keyClicks(dialog.patient_name, patient_name)
    with qtbot.waitSignal(dialog.searched, timeout=20000):
        click(qtbot, dialog.search_button)


def test_open_from_pacs_shows_the_series_in_the_viewer(qtbot, window, configured) -> None:
    dialog = open_pacs_dialog(qtbot, window)
    assert [dialog.server_box.itemText(i) for i in range(dialog.server_box.count())] == \
        ["orthanc-web", "orthanc-dimse"]
    search(qtbot, dialog, "SYNTHETIC*")
    assert dialog.study_table.rowCount() == 2
    row = [r.patient_id for r in dialog.studies].index("SYNTH-02")
    with qtbot.waitSignal(dialog.series_listed, timeout=20000):
        click_row(qtbot, dialog.study_table, row)
    uids = [r.series_uid for r in dialog.series]
    assert dialog.series_table.rowCount() == len(uids) >= 1  # other tests may add SEGs
    click_row(qtbot, dialog.series_table, uids.index(series_uid_of(CASE2 / "dicom")))
    with qtbot.waitSignal(window.study_loaded, timeout=30000):
        click(qtbot, dialog.retrieve_button)
    want = load_volume(CASE2 / "dicom")
    got = window.state.volume
    assert got.shape == want.shape
    assert got.metadata.get("series_uid") == series_uid_of(CASE2 / "dicom")
    np.testing.assert_array_equal(np.sort(got.voxels.ravel()), np.sort(want.voxels.ravel()))
    # the instances are written to the cache after the series is shown
    qtbot.waitUntil(lambda: StudyCache().series_complete(
        configured[0].address, demo_study_uid(), series_uid_of(CASE2 / "dicom")), timeout=20000)


def test_a_double_click_on_a_series_retrieves_it(qtbot, window, configured) -> None:
    from PySide6.QtCore import Qt

    dialog = open_pacs_dialog(qtbot, window)
    search(qtbot, dialog, "SYNTHETIC*")
    row = [r.patient_id for r in dialog.studies].index("SYNTH-02")
    with qtbot.waitSignal(dialog.series_listed, timeout=20000):
        click_row(qtbot, dialog.study_table, row)
    picked = [r.series_uid for r in dialog.series].index(series_uid_of(CASE2 / "dicom"))
    rect = dialog.series_table.visualItemRect(dialog.series_table.item(picked, 0))
    with qtbot.waitSignal(window.study_loaded, timeout=30000):
        click_row(qtbot, dialog.series_table, picked)  # a double-click's first press
        qtbot.mouseDClick(dialog.series_table.viewport(), Qt.MouseButton.LeftButton,
                          pos=rect.center())
    assert window.state.volume.metadata.get("series_uid") == series_uid_of(CASE2 / "dicom")


def test_recent_studies_keep_the_pacs_address(qtbot, window, configured) -> None:
    """Recent studies lists a retrieved series by server and description (not its cache
    folder's hash path) and opens it again from its pacs:// address, retrieving it anew
    once the cache was purged."""
    series = series_uid_of(CASE2 / "dicom")
    dialog = open_pacs_dialog(qtbot, window)
    dialog.server_box.setCurrentIndex(1)  # over DIMSE
    search(qtbot, dialog, "SYNTHETIC*")
    row = [r.patient_id for r in dialog.studies].index("SYNTH-02")
    with qtbot.waitSignal(dialog.series_listed, timeout=20000):
        click_row(qtbot, dialog.study_table, row)
    picked = [r.series_uid for r in dialog.series].index(series)
    click_row(qtbot, dialog.series_table, picked)
    description = dialog.series[picked].description
    with qtbot.waitSignal(window.study_loaded, timeout=30000):
        click(qtbot, dialog.retrieve_button)
    recent = window.recent_menu.actions()[0]
    assert recent.data() == f"pacs://orthanc-dimse/{demo_study_uid()}/{series}"
    assert recent.text().startswith(f"PACS orthanc-dimse: {description}")
    assert "cache" not in recent.text() and "SYNTH" not in recent.text()
    cache = StudyCache()
    qtbot.waitUntil(lambda: cache.series_complete(configured[1].address, demo_study_uid(),
                                                  series), timeout=20000)
    # Send results goes back to the server the study came from by default, and opens in
    # the window's corner (not over the canvas and its ROIs)
    window.actions_by_name["Send results to PACS…"].trigger()
    send = window._pacs_send_dialog  # noqa: SLF001
    qtbot.waitExposed(send)
    assert send.server_box.currentText() == "orthanc-dimse"
    canvas = window.view.rect().translated(window.view.mapToGlobal(window.view.rect().topLeft()))
    covered = send.frameGeometry().intersected(canvas)
    assert covered.width() * covered.height() < 0.05 * canvas.width() * canvas.height()
    send.reject()
    cache.purge()
    with qtbot.waitSignal(window.study_loaded, timeout=30000):  # something else meanwhile
        window.open_path(demo_dir() / "case-01" / "dicom")
    assert window.state.volume.metadata.get("series_uid") != series
    recent = next(a for a in window.recent_menu.actions() if a.data().startswith("pacs://"))
    address = recent.data()
    with qtbot.waitSignal(window.study_loaded, timeout=30000):
        recent.trigger()
        opening = window.statusBar().currentMessage()
    assert opening.startswith(f"Opening {description} (") and \
        opening.endswith(") from PACS orthanc-dimse…"), opening
    assert window.state.volume.metadata.get("series_uid") == series
    assert cache.series_complete(configured[1].address, demo_study_uid(), series)
    assert window.recent_menu.actions()[0].data() == address  # first again
    # `coloc-viewer --screenshot out.png pacs://...` opens the same way (offscreen render)
    from coloc_viewer.gui.app import open_sync

    cache.purge()
    open_sync(window, address)
    assert window.state.volume.metadata.get("series_uid") == series


def test_a_failed_cache_write_keeps_the_series_shown(qtbot, window, configured,
                                                     monkeypatch) -> None:
    original = SeriesWriter.write

    def disk_full(self, key, data):
        if self.count == 2:
            raise OSError(28, "No space left on device")
        return original(self, key, data)

    monkeypatch.setattr(SeriesWriter, "write", disk_full)
    dialog = open_pacs_dialog(qtbot, window)
    search(qtbot, dialog, "SYNTHETIC*")
    row = [r.patient_id for r in dialog.studies].index("SYNTH-02")
    with qtbot.waitSignal(dialog.series_listed, timeout=20000):
        click_row(qtbot, dialog.study_table, row)
    series = series_uid_of(CASE2 / "dicom")
    click_row(qtbot, dialog.series_table, [r.series_uid for r in dialog.series].index(series))
    with qtbot.waitSignal(window.study_loaded, timeout=30000):
        click(qtbot, dialog.retrieve_button)
    qtbot.waitUntil(lambda: "not kept in the PACS cache" in window.statusBar().currentMessage(),
                    timeout=20000)
    assert "No space left on device" in window.statusBar().currentMessage()
    assert window.state.volume.shape == load_volume(CASE2 / "dicom").shape
    assert not StudyCache().series_complete(configured[0].address, demo_study_uid(), series)


def test_a_series_another_program_retrieves_is_waited_for(qtbot, window, configured) -> None:
    """Another program holds the series' lock: the dialog says it waits, and the series is
    shown once that retrieval ends (here: the lock is released)."""
    from coloc_viewer.gui.pacs_retrieval import WAITING_TEXT

    series = series_uid_of(CASE2 / "dicom")
    cache = StudyCache()
    lock = cache.series_lock(cache.series_dir(configured[0].address, demo_study_uid(), series))
    lock.acquire()
    try:
        dialog = open_pacs_dialog(qtbot, window)
        search(qtbot, dialog, "SYNTHETIC*")
        row = [r.patient_id for r in dialog.studies].index("SYNTH-02")
        with qtbot.waitSignal(dialog.series_listed, timeout=20000):
            click_row(qtbot, dialog.study_table, row)
        click_row(qtbot, dialog.series_table,
                  [r.series_uid for r in dialog.series].index(series))
        click(qtbot, dialog.retrieve_button)
        qtbot.waitUntil(lambda: dialog.status.text() == WAITING_TEXT, timeout=10000)
        assert window.state.volume is None or \
            window.state.volume.metadata.get("series_uid") != series
    finally:
        lock.release()
    qtbot.waitUntil(lambda: window.state.volume is not None and
                    window.state.volume.metadata.get("series_uid") == series, timeout=30000)


def test_the_dialog_reopens_on_the_last_search(qtbot, window, configured) -> None:
    dialog = open_pacs_dialog(qtbot, window)
    dialog.server_box.setCurrentIndex(1)
    search(qtbot, dialog, "SYNTHETIC*")
    found = [r.study_uid for r in dialog.studies]
    dialog.reject()
    again = open_pacs_dialog(qtbot, window)
    assert again is not dialog
    assert again.server_box.currentText() == "orthanc-dimse"
    assert again.patient_name.text() == "SYNTHETIC*"
    assert [r.study_uid for r in again.studies] == found
    assert again.study_table.rowCount() == len(found) == 2
    with qtbot.waitSignal(again.series_listed, timeout=20000):  # the rows work as found
        click_row(qtbot, again.study_table, 0)
    # another server: the studies listed were the other one's, they go (and stay gone)
    again.server_box.setCurrentIndex(0)
    assert again.studies == [] and again.study_table.rowCount() == 0
    assert again.series_table.rowCount() == 0
    again.reject()
    third = open_pacs_dialog(qtbot, window)
    assert third.server_box.currentText() == "orthanc-web" and third.studies == []
    assert third.status.text() == ""  # not "0 studies": nothing was searched there


def test_enter_in_a_field_searches(qtbot, window, configured) -> None:
    """Enter in a search field searches: it neither opens Servers… nor closes the dialog."""
    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtWidgets import QApplication

    from coloc_viewer.gui.pacs_settings import PacsSettingsDialog

    dialog = open_pacs_dialog(qtbot, window)
    dialog.server_box.setCurrentIndex(1)
    opened: list[str] = []

    def close_settings() -> None:  # had Enter opened the modal settings, it ends here
        for widget in QApplication.topLevelWidgets():
            if isinstance(widget, PacsSettingsDialog) and widget.isVisible():
                opened.append(widget.windowTitle())
                widget.reject()

    QTimer.singleShot(3000, close_settings)
    dialog.raise_()  # as after the menu opened it: keys go to the dialog
    dialog.activateWindow()
    qtbot.waitActive(dialog)
    for field, text in ((dialog.patient_id, "SYNTH-01"), (dialog.modality, "MR")):
        field.setFocus()
        qtbot.waitUntil(field.hasFocus)  # a line edit takes Enter only when focused
        qtbot.keyClicks(field, text)
        with qtbot.waitSignal(dialog.searched, timeout=20000) as blocker:
            qtbot.keyClick(field, Qt.Key.Key_Return)
        assert dialog.isVisible() and opened == []
    assert blocker.args == [1] and dialog.status.text() == "1 study"  # not "1 studies"


def test_saving_the_servers_keeps_the_chosen_server(qtbot, window, configured) -> None:
    """Servers… then Save, with no change to the chosen server: it stays chosen, its
    studies stay listed; a change to it clears them (they may be another server's)."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from coloc_viewer.gui.pacs_settings import PacsSettingsDialog

    dialog = open_pacs_dialog(qtbot, window)
    dialog.server_box.setCurrentIndex(1)
    search(qtbot, dialog, "SYNTHETIC*")
    found = len(dialog.studies)
    assert found == 2

    def save_settings(edit=None) -> None:
        def run() -> None:
            for widget in QApplication.topLevelWidgets():
                if isinstance(widget, PacsSettingsDialog) and widget.isVisible():
                    if edit is not None:
                        edit(widget)
                    click(qtbot, widget.save_button)
        QTimer.singleShot(500, run)

    save_settings()
    click(qtbot, dialog.settings_button)  # modal until Save
    assert dialog.server_box.currentText() == "orthanc-dimse"
    assert len(dialog.studies) == dialog.study_table.rowCount() == found
    assert dialog.status.text().startswith("Saved 2 PACS servers and a cache limit of ")

    def new_listener_port(settings) -> None:
        settings.server_list.setCurrentRow(1)
        settings.move_port.setValue(settings.move_port.value() + 1)

    save_settings(new_listener_port)
    click(qtbot, dialog.settings_button)
    assert dialog.server_box.currentText() == "orthanc-dimse"
    assert dialog.studies == [] and dialog.study_table.rowCount() == 0
    assert dialog.status.text().startswith("Saved 2 PACS servers")  # said after the clearing


def test_pacs_servers_menu_save_is_confirmed(qtbot, window, configured) -> None:
    """File > PACS servers…, a new cache limit, Save: the window's status bar says what was
    saved, and the limit is what the settings now hold."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from coloc_viewer.gui.pacs_settings import PacsSettingsDialog
    from coloc_viewer.pacs.servers import load_cache_limit

    def save() -> None:
        for widget in QApplication.topLevelWidgets():
            if isinstance(widget, PacsSettingsDialog) and widget.isVisible():
                widget.cache_limit.setValue(3.5)
                click(qtbot, widget.save_button)

    QTimer.singleShot(500, save)
    window.actions_by_name["PACS servers…"].trigger()  # modal until Save
    assert window.statusBar().currentMessage() == \
        "Saved 2 PACS servers and a cache limit of 3.5 GB"
    assert load_cache_limit() == int(3.5e9)


def test_search_error_is_shown_in_the_dialog(qtbot, window, configured) -> None:
    dialog = open_pacs_dialog(qtbot, window)
    qtbot.keyClicks(dialog.date_from, "2020-13-45x")
    with qtbot.waitSignal(dialog.failed, timeout=5000) as blocker:
        click(qtbot, dialog.search_button)
    assert "not YYYYMMDD" in blocker.args[0]
    assert "not YYYYMMDD" in dialog.status.text()
    dialog.date_from.clear()
    qtbot.keyClicks(dialog.date_from, "2020-13-45")  # the right shape, but no such day
    with qtbot.waitSignal(dialog.failed, timeout=5000) as blocker:
        click(qtbot, dialog.search_button)
    assert "'2020-13-45' is not a calendar date" in blocker.args[0]


@pytest.fixture
def many_slices(orthanc, tmp_path_factory) -> tuple[str, str]:
    """A 120-slice series in the session Orthanc (enough instances to press Cancel)."""
    folder = tmp_path_factory.mktemp("many")
    vox = np.random.default_rng(1).integers(0, 1000, size=(120, 64, 64)).astype(np.float32)
    paths = write_dicom_series(vox, folder, patient_id="MANY-01", patient_name="MANY^SLICES")
    orthanc.upload(paths)
    import pydicom

    ds = pydicom.dcmread(paths[0], stop_before_pixels=True)
    return str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID)


@pytest.fixture
def study_with_seg(orthanc, tmp_path_factory) -> tuple[str, str, str]:
    """A new study in the session Orthanc: a 6-slice MR series and a DICOM SEG on it."""
    import pydicom

    from coloc_viewer.imaging.roi import RoiSet
    from coloc_viewer.imaging.roi_io import save_rois

    folder = tmp_path_factory.mktemp("segstudy")
    vox = np.random.default_rng(2).integers(0, 1000, size=(6, 32, 32)).astype(np.float32)
    paths = write_dicom_series(vox, folder / "mr", patient_id="SEGT-01",
                               patient_name="WITH^SEG")
    volume = load_volume(folder / "mr")
    rois = RoiSet.for_volume(volume)
    mask = np.zeros(volume.shape, bool)
    mask[2, 8:16, 8:16] = True
    rois.add("lesion", mask, record=False)
    seg = save_rois(rois, folder / "rois.seg.dcm", like=volume)
    orthanc.upload([*paths, seg])
    ds = pydicom.dcmread(paths[0], stop_before_pixels=True)
    return (str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID),
            str(pydicom.dcmread(seg, stop_before_pixels=True).SeriesInstanceUID))


def test_tables_read_as_a_reader_expects(qtbot, window, configured, study_with_seg,
                                         artifacts_dir) -> None:
    """Dates as YYYY-MM-DD, modalities as "MR, SEG", newest study first; a SEG series is
    greyed with its reason and cannot be picked (it had been retrieved, then refused)."""
    from PySide6.QtCore import Qt

    study, mr_series, seg_series = study_with_seg
    dialog = open_pacs_dialog(qtbot, window)
    search(qtbot, dialog, "*")
    dates = [dialog.study_table.item(i, 2).text() for i in range(dialog.study_table.rowCount())]
    assert dates == sorted(dates, reverse=True)
    assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", d) for d in dates if d)
    row = [r.study_uid for r in dialog.studies].index(study)
    assert dialog.study_table.item(row, 4).text() == "MR, SEG"
    assert dialog.study_table.item(row, 1).text() == "WITH SEG"
    with qtbot.waitSignal(dialog.series_listed, timeout=20000):
        click_row(qtbot, dialog.study_table, row)
    uids = [r.series_uid for r in dialog.series]
    seg_item = dialog.series_table.item(uids.index(seg_series), 0)
    assert seg_item.flags() & Qt.ItemFlag.ItemIsSelectable  # a SEG loads as ROIs
    assert seg_item.toolTip() == SEG_HINT
    click_row(qtbot, dialog.series_table, uids.index(mr_series))
    assert dialog.selected_series().series_uid == mr_series
    dialog.grab().save(str(artifacts_dir / "pacs_dialog_tables.png"))


def test_headers_are_whole_before_any_search(qtbot, qapp) -> None:
    """With no rows yet, every column is as wide as its header's text, in a desktop's
    larger font too (Qt's default 100 px clipped "Patient name" under a real X server)."""
    from coloc_viewer.gui.pacs_tables import SERIES_COLUMNS, STUDY_COLUMNS, make_table

    font = qapp.font()
    big = qapp.font()
    big.setPointSizeF(13)
    qapp.setFont(big)
    try:
        for columns in (STUDY_COLUMNS, SERIES_COLUMNS):
            table = make_table(columns)
            qtbot.addWidget(table)
            table.resize(900, 200)
            table.show()
            header = table.horizontalHeader()
            assert header.sectionSizeHint(1) > 100 or columns is SERIES_COLUMNS
            for j in range(table.columnCount() - 1):  # the last one stretches
                assert header.sectionSize(j) >= header.sectionSizeHint(j), columns[j]
    finally:
        qapp.setFont(font)


def test_headers_stay_as_they_are_when_a_row_is_selected(qtbot) -> None:
    """Selecting a study does not turn every header bold (Qt's section highlight of a
    selected row, seen under Xvfb): the header renders the same before and after."""
    from coloc_viewer.gui.pacs_tables import STUDY_COLUMNS, fill_table, make_table

    table = make_table(STUDY_COLUMNS)
    qtbot.addWidget(table)
    fill_table(table, [[f"{c} {k}" for c in STUDY_COLUMNS] for k in range(3)], {})
    table.resize(900, 200)
    table.show()
    qtbot.waitExposed(table)
    header = table.horizontalHeader()
    before = header.grab().toImage()
    table.selectRow(1)
    qtbot.wait(50)
    assert table.selectionModel().selectedRows()
    assert header.grab().toImage() == before


def test_other_non_image_series_are_greyed(qtbot) -> None:
    """An SR, a presentation state...: greyed with the reason, not selectable."""
    from PySide6.QtCore import Qt

    from coloc_viewer.gui.pacs_tables import (
        SERIES_COLUMNS,
        fill_table,
        loads_as_rois,
        make_table,
        not_an_image,
        series_cells,
    )
    from coloc_viewer.pacs.query import SeriesRow

    rows = [SeriesRow("1.2", f"1.2.{k}", modality, k, "d", 1)
            for k, modality in enumerate(("MR", "SR", "PR", "SEG"), start=1)]
    assert [not_an_image(r) for r in rows] == [None, "structured report",
                                                "presentation state", "segmentation (SEG)"]
    assert [loads_as_rois(r) for r in rows] == [False, False, False, True]
    table = make_table(SERIES_COLUMNS)
    qtbot.addWidget(table)
    fill_table(table, [series_cells(r) for r in rows], {1: "not an image series: x"})
    selectable = [bool(table.item(i, 0).flags() & Qt.ItemFlag.ItemIsSelectable)
                  for i in range(4)]
    assert selectable == [True, False, True, True]
    assert table.item(1, 0).toolTip() == "not an image series: x"


def test_a_seg_from_the_pacs_loads_as_rois(qtbot, window, configured, study_with_seg,
                                           monkeypatch) -> None:
    """Retrieve on a SEG series puts its ROIs on the open series they were drawn on; on
    another series it is refused with the reason, naming the SEG, not a cache path."""
    from PySide6.QtWidgets import QMessageBox

    study, mr_series, seg_series = study_with_seg
    dialog = open_pacs_dialog(qtbot, window)
    search(qtbot, dialog, "WITH*")
    row = [r.study_uid for r in dialog.studies].index(study)
    with qtbot.waitSignal(dialog.series_listed, timeout=20000):
        click_row(qtbot, dialog.study_table, row)
    uids = [r.series_uid for r in dialog.series]
    click_row(qtbot, dialog.series_table, uids.index(mr_series))
    with qtbot.waitSignal(window.study_loaded, timeout=30000):
        click(qtbot, dialog.retrieve_button)
    assert not any(r.mask.any() for r in window.state.rois)  # nothing drawn yet
    dialog = open_pacs_dialog(qtbot, window)  # reopens on the same search
    with qtbot.waitSignal(dialog.series_listed, timeout=20000):
        click_row(qtbot, dialog.study_table, row)
    click_row(qtbot, dialog.series_table, uids.index(seg_series))
    click(qtbot, dialog.retrieve_button)
    qtbot.waitUntil(lambda: any(r.mask.any() for r in window.state.rois), timeout=30000)
    assert [r.name for r in window.state.rois] == ["lesion"]
    mask = window.state.rois.mask("lesion")
    assert int(mask.sum()) == 64 and mask.any(axis=(1, 2)).sum() == 1
    assert "Loaded ROIs from the PACS: lesion" in window.statusBar().currentMessage()
    # the same SEG on another series: refused
    errors: list[str] = []
    monkeypatch.setattr(QMessageBox, "critical", lambda _p, _t, text, *a: errors.append(text))
    with qtbot.waitSignal(window.study_loaded, timeout=30000):
        window.open_path(CASE2 / "dicom")
    dialog = open_pacs_dialog(qtbot, window)
    with qtbot.waitSignal(dialog.series_listed, timeout=20000):
        click_row(qtbot, dialog.study_table, row)
    click_row(qtbot, dialog.series_table, uids.index(seg_series))
    click(qtbot, dialog.retrieve_button)
    qtbot.waitUntil(lambda: bool(errors), timeout=30000)
    assert errors[0].startswith("SEG 'coloc_viewer ROIs': ROI does not match")
    assert "cache" not in errors[0]
    assert "were not loaded" in dialog.status.text()  # not "Retrieved"
    assert dialog.isVisible() and dialog.search_box.isVisible()


def test_cancel_a_retrieval(qtbot, window, configured, many_slices, monkeypatch,
                            artifacts_dir) -> None:
    study, series = many_slices
    original = SeriesAssembler.add

    def slow(self, path, data=None):  # 120 small instances now take < 1 s: time to Cancel
        time.sleep(0.02)
        return original(self, path, data)

    monkeypatch.setattr(SeriesAssembler, "add", slow)
    dialog = open_pacs_dialog(qtbot, window)
    dialog.server_box.setCurrentIndex(1)  # DIMSE: C-GET
    search(qtbot, dialog, "MANY*")
    with qtbot.waitSignal(dialog.series_listed, timeout=20000):
        click_row(qtbot, dialog.study_table, 0)
    click_row(qtbot, dialog.series_table, 0)
    # not waitSignal(dialog.progressed): that signal comes from the retrieval thread, many
    # times a second now, and pytest-qt's blocker can be freed with calls still queued for
    # it (a use-after-free that crashed the test process now and then)
    where, size = dialog.pos(), dialog.size()
    click(qtbot, dialog.retrieve_button)
    qtbot.waitUntil(lambda: dialog.progress.value() > 0, timeout=20000)
    # compact, in the canvas' corner: the series arriving stays in view
    assert dialog.search_box.isHidden() and dialog.study_table.isHidden()
    canvas = window.view.rect().translated(window.view.mapToGlobal(window.view.rect().topLeft()))
    dialog.grab().save(str(artifacts_dir / "pacs_dialog_retrieving.png"))
    window.grab().save(str(artifacts_dir / "pacs_window_retrieving.png"))
    covered = dialog.frameGeometry().intersected(canvas)
    assert covered.width() * covered.height() < 0.05 * canvas.width() * canvas.height()
    assert dialog.cancel_button.isEnabled()
    click(qtbot, dialog.cancel_button)
    qtbot.waitUntil(lambda: dialog.retrieve_button.isEnabled(), timeout=20000)
    assert dialog.status.text() == "Cancelled: nothing kept"
    assert dialog.progress.isHidden()
    # the search comes back where it was
    assert dialog.search_box.isVisible() and dialog.retrieve_button.isVisible()
    assert (dialog.pos(), dialog.size()) == (where, size)
    cache = StudyCache()
    assert not cache.series_complete(configured[1].address, study, series)
    assert not cache.series_dir(configured[1].address, study, series).exists()
    assert window.state.volume is None or window.state.volume.shape[0] != 120


def test_a_recent_pacs_study_retrieved_again_can_be_cancelled(qtbot, window, configured,
                                                             many_slices, monkeypatch,
                                                             artifacts_dir) -> None:
    """A pacs:// study no longer cached (Recent studies) is retrieved again with its count
    in the status bar and a Cancel button there; Cancel keeps nothing of it and leaves the
    study shown before; opened again it retrieves to the end and the button goes."""
    from PySide6.QtWidgets import QMessageBox

    from coloc_viewer.pacs.resolve import pacs_url

    study, series = many_slices
    errors: list[str] = []
    monkeypatch.setattr(QMessageBox, "critical", lambda _p, _t, text: errors.append(text))
    slow_down = [0.02]  # 120 small instances take < 1 s: time to press Cancel
    for name in ("write", "adopt"):
        original = getattr(SeriesWriter, name)

        def slow(self, *args, _original=original, **kwargs):
            time.sleep(slow_down[0])
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(SeriesWriter, name, slow)
    with qtbot.waitSignal(window.study_loaded, timeout=30000):
        window.open_path(demo_dir() / "case-01" / "dicom")
    shown = window.state.volume
    address = pacs_url(configured[1].name, study, series)
    window.open_path(address)
    qtbot.waitUntil(lambda: window.retrieval_cancel.isVisible()
                    and " of 120 images" in window.statusBar().currentMessage(), timeout=20000)
    window.grab().save(str(artifacts_dir / "recent_pacs_retrieving.png"))
    click(qtbot, window.retrieval_cancel)
    assert window.retrieval_cancel.isHidden()
    assert window.statusBar().currentMessage() == "Retrieval cancelled: nothing of it was kept"
    cache = StudyCache()
    folder = cache.series_dir(configured[1].address, study, series)
    qtbot.waitUntil(lambda: not folder.exists(), timeout=20000)
    assert not cache.series_complete(configured[1].address, study, series)
    assert window.state.volume is shown
    slow_down[0] = 0.0
    with qtbot.waitSignal(window.study_loaded, timeout=30000):
        window.open_path(address)
        qtbot.waitUntil(lambda: errors or window.state.volume is not shown, timeout=30000)
        assert errors == []
    assert window.retrieval_cancel.isHidden() and window.state.volume.shape[0] == 120
    assert cache.series_complete(configured[1].address, study, series)


def test_the_cancel_retrieval_button_keeps_the_readouts_in_place(qtbot, qtlog) -> None:
    """Shown, it takes the first permanent place of the status bar: the slice, model and
    W/L readouts to its right do not move, and Qt has no complaint about its index."""
    from coloc_viewer.gui.main_window import MainWindow

    win = MainWindow()
    qtbot.addWidget(win)
    win.resize(1700, 900)  # room for every readout, whatever font earlier tests left
    win.show()
    qtbot.waitExposed(win)
    qtbot.wait(200)  # the status bar's layout settles (its size grip comes in)
    before = {k: label.geometry() for k, label in win.status_labels.items()}
    win.retrieval_cancel.show()
    qtbot.waitUntil(lambda: win.retrieval_cancel.geometry().width() > 0)
    after = {k: label.geometry() for k, label in win.status_labels.items()}
    # the readouts right of it (the mouse readouts on the left may give it room): a pixel
    # of layout spacing at most; appended at the far right, it pushed them ~140 px
    right = ("slice", "model", "prediction", "time", "device", "wl")
    assert all(abs(after[k].x() - before[k].x()) <= 2 for k in right), (before, after)
    assert win.retrieval_cancel.geometry().right() < after["slice"].left()
    assert not [m for m in qtlog.records if "insertPermanentWidget" in m.message]
    win.runner.shutdown(2000)


def retype(qtbot, field, text: str) -> None:
    field.clear()
    qtbot.keyClicks(field, text)


def connection_test(qtbot, dialog) -> str:
    """Press Test connection; the sentence it shows."""
    qtbot.waitUntil(dialog.test_button.isEnabled, timeout=10000)
    with qtbot.waitSignal(dialog.tested, timeout=30000) as blocker:
        click(qtbot, dialog.test_button)
        assert dialog.error.text() == ""
    return blocker.args[0]


def test_server_settings_test_connection_and_keyring(qtbot, orthanc, memory_keyring) -> None:
    from coloc_viewer.gui.pacs_settings import PacsSettingsDialog

    dialog = PacsSettingsDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    click(qtbot, dialog.add_button)
    retype(qtbot, dialog.name, "hospital")
    retype(qtbot, dialog.url, orthanc.dicomweb_url)
    qtbot.keyClicks(dialog.username, USER)
    qtbot.keyClicks(dialog.password, "wrong")
    assert "401" in connection_test(qtbot, dialog)
    retype(qtbot, dialog.password, PASSWORD)
    assert connection_test(qtbot, dialog) == "hospital answers (QIDO-RS ping)"
    # each protocol shows its own fields only
    assert dialog.form.isRowVisible(dialog.url) and dialog.form.isRowVisible(dialog.password)
    assert not dialog.form.isRowVisible(dialog.host)
    assert not dialog.form.isRowVisible(dialog.called_aet)
    assert dialog.cache_limit.value() == 20.0  # the default, 20 GB as the docs say
    # a DIMSE server with the wrong PACS AE title: the test says why
    click(qtbot, dialog.add_button)
    retype(qtbot, dialog.name, "modality")
    dialog.protocol.setCurrentIndex(dialog.protocol.findData("dimse"))
    assert dialog.form.isRowVisible(dialog.host) and not dialog.form.isRowVisible(dialog.url)
    assert dialog.form.isRowVisible(dialog.backend)
    assert not dialog.form.isRowVisible(dialog.move_port)  # C-GET: no listener port
    dialog.retrieve.setCurrentIndex(dialog.retrieve.findData("move"))
    assert dialog.form.isRowVisible(dialog.move_port)
    assert not dialog.form.isRowVisible(dialog.backend)
    dialog.retrieve.setCurrentIndex(dialog.retrieve.findData("get"))
    qtbot.keyClicks(dialog.host, "127.0.0.1")
    dialog.port.setValue(orthanc.dicom_port)
    retype(qtbot, dialog.called_aet, "WRONG")
    assert dialog.error.text() == ""
    assert dialog.test_button.isEnabled(), dialog.test_result.text()
    assert re.search("association rejected|aborted the association",
                     connection_test(qtbot, dialog))
    # the right PACS AE title, but ours unknown to it: Orthanc echoes anyone and refuses
    # the search; the test warns instead of saying "answers"
    retype(qtbot, dialog.called_aet, orthanc.aet)
    retype(qtbot, dialog.calling_aet, "STRANGER")
    said = connection_test(qtbot, dialog)
    assert "answers C-ECHO only: searching and retrieving will fail" in said
    assert "'STRANGER'" in said and "b35c00" in dialog.test_result.styleSheet()  # orange
    retype(qtbot, dialog.calling_aet, OUR_AET)
    assert connection_test(qtbot, dialog) == "modality answers (C-ECHO and C-FIND)"
    retype(qtbot, dialog.called_aet, "WRONG")
    dialog.backend.setCurrentIndex(dialog.backend.findData("pynetdicom"))
    qtbot.keyClicks(dialog.ca_file, "/etc/hospital/ca.pem")  # checked when used
    click(qtbot, dialog.save_button)
    text = settings_file().read_text()
    assert PASSWORD not in text and "wrong" not in text and USER in text
    saved = {s.name: s for s in load_servers()}
    assert set(saved) == {"hospital", "modality"}
    assert get_password(saved["hospital"]) == PASSWORD
    assert json.loads(text)["servers"][1]["called_aet"] == "WRONG"
    assert (saved["modality"].dimse_backend, saved["hospital"].dimse_backend) == \
        ("pynetdicom", "auto")
    assert (saved["modality"].ca_file, saved["hospital"].ca_file) == ("/etc/hospital/ca.pem", "")
    dialog.server_list.setCurrentRow(1)  # shown again as saved
    assert dialog.backend.currentData() == "pynetdicom"


def test_closing_the_settings_asks_before_dropping_edits(qtbot, configured,
                                                        monkeypatch) -> None:
    from PySide6.QtWidgets import QMessageBox

    from coloc_viewer.gui.pacs_settings import PacsSettingsDialog

    asked: list[str] = []

    def answering(button):
        def question(_parent, title, *_args, **_kwargs):
            asked.append(title)
            return button
        return question

    def opened() -> PacsSettingsDialog:
        dialog = PacsSettingsDialog()
        qtbot.addWidget(dialog)
        dialog.show()
        qtbot.waitExposed(dialog)
        return dialog

    dialog = opened()
    dialog.server_list.setCurrentRow(1)  # looking is no edit: Close closes
    dialog.reject()
    assert asked == [] and not dialog.isVisible()

    def edit_host() -> PacsSettingsDialog:
        dialog = opened()
        dialog.server_list.setCurrentRow(1)
        dialog.host.clear()
        qtbot.keyClicks(dialog.host, "10.0.0.9")
        return dialog

    dialog = edit_host()
    monkeypatch.setattr(QMessageBox, "question", answering(QMessageBox.StandardButton.Cancel))
    dialog.reject()
    assert asked == ["Unsaved PACS settings"] and dialog.isVisible()  # still editing
    monkeypatch.setattr(QMessageBox, "question", answering(QMessageBox.StandardButton.Discard))
    dialog.reject()
    assert not dialog.isVisible() and load_servers()[1].host == "127.0.0.1"
    dialog = edit_host()
    monkeypatch.setattr(QMessageBox, "question", answering(QMessageBox.StandardButton.Save))
    dialog.reject()
    assert not dialog.isVisible()
    saved = load_servers()[1]
    # saved, and what the form does not show (the timeout) is kept
    assert (saved.host, saved.timeout) == ("10.0.0.9", configured[1].timeout) != \
        ("10.0.0.9", 30.0)


def test_the_server_list_follows_the_name_as_typed(qtbot, configured, monkeypatch) -> None:
    from PySide6.QtWidgets import QMessageBox

    from coloc_viewer.gui.pacs_settings import PacsSettingsDialog

    dialog = PacsSettingsDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.server_list.setCurrentRow(1)
    dialog.name.setFocus()
    dialog.name.selectAll()
    qtbot.keyClicks(dialog.name, "radiology-pacs")  # no focus change, no Save yet
    assert dialog.server_list.item(1).text() == "radiology-pacs"
    assert dialog.protocol.itemText(1) == "DIMSE (C-FIND, C-GET or C-MOVE, C-STORE)"
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *_a, **_k: QMessageBox.StandardButton.Discard)
    dialog.reject()  # the rename is dropped, as Close then Discard does
    assert load_servers()[1].name == configured[1].name


def test_purge_from_the_settings(qtbot, window, web_server, monkeypatch) -> None:
    """Purge asks first, naming what it removes and what it keeps; it keeps the series open
    in the viewer (sending its results needs its files), removes the rest and says so; with
    only the open series left it says there is nothing to purge."""
    from PySide6.QtWidgets import QMessageBox

    from coloc_viewer.gui.pacs_settings import PacsSettingsDialog

    shown = retrieve_series(connect(web_server), StudyCache(), demo_study_uid(),
                            series_uid_of(CASE2 / "dicom"), total=20)
    case1 = demo_dir() / "case-01" / "dicom"
    other = retrieve_series(connect(web_server), StudyCache(), study_uid_of(case1),
                            series_uid_of(case1), total=20)
    with qtbot.waitSignal(window.study_loaded, timeout=30000):
        window.open_path(shown)
    dialog = PacsSettingsDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.cache_info.text().startswith("2 series of 2 studies, ")
    asked: list[str] = []

    def answer(button):
        def question(_parent, title, text, *_args, **_kwargs):
            asked.append(text)
            return button
        return question

    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.Cancel))
    click(qtbot, dialog.purge_button)
    assert shown.exists() and other.exists()  # cancelled: nothing removed
    assert asked[0].startswith("Remove 1 study retrieved from PACS servers (")
    assert "1 study with a series open in the viewer (or being retrieved) is kept" in asked[0]
    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.Yes))
    click(qtbot, dialog.purge_button)
    assert shown.exists() and not other.exists()
    info = dialog.cache_info.text()
    assert re.match(r"Purged \d+\.\d MB \(1 study with a series open in the viewer \(or being "
                    r"retrieved\) is kept\)\. Now: 1 series of 1 study, ", info), info
    told: list[str] = []
    monkeypatch.setattr(QMessageBox, "information",
                        lambda _parent, _title, text, *_a: told.append(text))
    click(qtbot, dialog.purge_button)
    assert told == ["Nothing to purge: 1 study with a series open in the viewer (or being "
                    "retrieved) is kept."] and shown.exists() and len(asked) == 2


def test_send_results_seg_and_sr(qtbot, window, configured, orthanc, artifacts_dir) -> None:
    """The demo case's ROIs and the scores of an analysed slice go to the PACS as SEG + SR
    and come back from it (highdicom reads both)."""
    import highdicom as hd
    import pydicom

    from coloc_viewer.model.loading import default_model_name

    with qtbot.waitSignal(window.study_loaded, timeout=60000):
        window.open_path(CASE2 / "dicom", rois=CASE2 / "rois.nii.gz")
    with qtbot.waitSignal(window.model_ready, timeout=60000):
        window.select_model(default_model_name())
    # opened before any analysis: no SR, and the dialog says why
    window.actions_by_name["Send results to PACS…"].trigger()
    dialog = window._pacs_send_dialog  # noqa: SLF001
    qtbot.waitExposed(dialog)
    assert not dialog.sr_box.isEnabled() and "analyse a slice (F5)" in dialog.sr_hint.text()
    dialog.grab().save(str(artifacts_dir / "pacs_send_before_analysis.png"))
    # the dialog stays open while the reader analyses: the scores follow
    with qtbot.waitSignal(window.analysis_done, timeout=120000):
        window.analyse_current()
    assert dialog.sr_box.isEnabled() and dialog.sr_box.isChecked()
    assert dialog.sr_hint.text() == ""
    web = connect(configured[0])
    before = {r.series_uid for r in web.find_series(demo_study_uid())}
    with qtbot.waitSignal(dialog.sent, timeout=60000) as blocker:
        click(qtbot, dialog.send_button)
    assert blocker.args[0] == "Sent DICOM SEG and DICOM SR to orthanc-web"
    # sent: a second click would store duplicates there, until the results change
    assert not dialog.send_button.isEnabled()
    dialog.server_box.setCurrentIndex(1)
    assert dialog.send_button.isEnabled() and dialog.status.text() == ""
    dialog.server_box.setCurrentIndex(0)  # back: still sent there
    assert not dialog.send_button.isEnabled()
    assert dialog.status.text() == "Already sent to orthanc-web"
    new = [r for r in web.find_series(demo_study_uid()) if r.series_uid not in before]
    by_modality = {r.modality: r for r in new}
    assert sorted(by_modality) == ["SEG", "SR"] and len(new) == 2
    cache = StudyCache()
    seg_file = next(retrieve_series(web, cache, demo_study_uid(),
                                    by_modality["SEG"].series_uid).glob("*.dcm"))
    sr_file = next(retrieve_series(web, cache, demo_study_uid(),
                                   by_modality["SR"].series_uid).glob("*.dcm"))
    seg = hd.seg.Segmentation.from_dataset(pydicom.dcmread(seg_file))
    names = [r.name for r in window.state.rois]
    assert [s.SegmentLabel for s in seg.SegmentSequence] == names
    sr_ds = pydicom.dcmread(sr_file)
    hd.sr.Comprehensive3DSR.from_dataset(sr_ds)
    assert sr_ds.ConceptNameCodeSequence[0].CodeValue == "126000"  # Measurement Report

    def codes(items):
        for item in items:
            for seq in ("ConceptNameCodeSequence", "ContentSequence"):
                if seq in item and seq == "ConceptNameCodeSequence":
                    yield item.ConceptNameCodeSequence[0].CodeValue
                elif seq in item:
                    yield from codes(item.ContentSequence)

    found = list(codes(sr_ds.ContentSequence))
    scored = [n for n in names
              if (window.state.scores.get(n) or {}).get("relevance_mass") is not None]
    assert found.count("RMASS") == len(scored) >= 1
    assert web.find_studies(Query(patient_id="SYNTH-02"))
    # closed and opened again, the dialog still knows where these results went
    dialog.reject()
    window.actions_by_name["Send results to PACS…"].trigger()
    dialog = window._pacs_send_dialog  # noqa: SLF001
    qtbot.waitExposed(dialog)
    assert dialog.server_box.currentText() == "orthanc-web"
    assert not dialog.send_button.isEnabled()
    assert dialog.status.text() == "Already sent to orthanc-web"
    # new results (the slice analysed again) may be sent again
    with qtbot.waitSignal(window.analysis_done, timeout=120000):
        window.analyse_current()
    assert dialog.send_button.isEnabled() and dialog.status.text() == ""
