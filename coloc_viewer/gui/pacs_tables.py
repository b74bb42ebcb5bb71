"""The study and series tables of Open from PACS: their columns, how a row reads (dates as
YYYY-MM-DD, modalities as "MR, SEG", names without ^), their order (newest study first),
and which series cannot be opened as images (SR, PR, ...: shown greyed, with the reason;
a DICOM SEG is loaded as ROIs instead)."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

from coloc_viewer.imaging.dicom_headers import NON_IMAGE_MODALITIES
from coloc_viewer.imaging.redact import redact_description
from coloc_viewer.pacs.query import SeriesRow, StudyRow
from coloc_viewer.pacs.resolve import pacs_url
from coloc_viewer.pacs.servers import ServerConfig
from coloc_viewer.report.phi import display_name

__all__ = ["SEG_HINT", "SERIES_COLUMNS", "STUDY_COLUMNS", "fill_table", "loads_as_rois",
           "make_table", "not_an_image",
           "recent_entry", "series_cells", "show_date", "show_modalities", "sorted_series",
           "sorted_studies", "study_cells"]

STUDY_COLUMNS = ("Patient ID", "Patient name", "Date", "Accession", "Modalities", "Series",
                 "Description")
SERIES_COLUMNS = ("#", "Modality", "Instances", "Description")
MAX_COLUMN_PX = 260  # a long name or accession does not push the description out of view


def make_table(columns: Sequence[str]) -> QTableWidget:
    table = QTableWidget(0, len(columns))
    table.setHorizontalHeaderLabels(list(columns))
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    table.horizontalHeader().setStretchLastSection(True)
    table.horizontalHeader().setHighlightSections(False)  # no bold headers on a selection
    table.verticalHeader().setVisible(False)
    table.resizeColumnsToContents()  # no rows yet: the headers' widths, none clipped
    return table


def show_date(value: str) -> str:
    """A DICOM date (YYYYMMDD) as YYYY-MM-DD, like the search fields; anything else as is."""
    text = value.strip()
    return f"{text[:4]}-{text[4:6]}-{text[6:]}" if len(text) == 8 and text.isdigit() else text


def show_modalities(value: str) -> str:
    """``MR\\SEG`` (DICOM's value separator) as ``MR, SEG``."""
    return ", ".join(p.strip() for p in value.split("\\") if p.strip())


SEG_HINT = "DICOM SEG: Retrieve loads its ROIs onto the open series they were drawn on"


def loads_as_rois(row: SeriesRow) -> bool:
    """A DICOM SEG series: retrieved, it is loaded as ROIs (not opened as images)."""
    return row.modality.strip().upper() == "SEG"


def not_an_image(row: SeriesRow) -> str | None:
    """Why a series cannot be opened as an image (e.g. "segmentation (SEG)"), or None."""
    return NON_IMAGE_MODALITIES.get(row.modality.strip().upper())


def sorted_studies(rows: Sequence[StudyRow]) -> list[StudyRow]:
    """Newest first, then by patient name and ID: the same order for every search."""
    by_name = sorted(rows, key=lambda r: (r.patient_name, r.patient_id, r.study_uid))
    return sorted(by_name, key=lambda r: r.study_date, reverse=True)


def sorted_series(rows: Sequence[SeriesRow]) -> list[SeriesRow]:
    """By series number (unnumbered last), then description."""
    return sorted(rows, key=lambda r: (r.series_number is None, r.series_number or 0,
                                       r.description, r.series_uid))


def study_cells(r: StudyRow) -> tuple[str, ...]:
    return (r.patient_id, display_name(r.patient_name), show_date(r.study_date),
            r.accession, show_modalities(r.modalities),
            "" if r.n_series is None else str(r.n_series), r.description)


def series_cells(r: SeriesRow) -> tuple[str, ...]:
    return ("" if r.series_number is None else str(r.series_number), r.modality,
            "" if r.n_instances is None else str(r.n_instances), r.description)


def fill_table(table: QTableWidget, rows: Sequence[Sequence[str]],
               disabled: dict[int, str] | None = None,
               tips: dict[int, str] | None = None) -> None:
    """Put ``rows`` in ``table``; the rows in ``disabled`` (row -> reason) are greyed and
    cannot be selected, the reason as their tooltip; ``tips``: other rows' tooltips.
    Columns fit their contents."""
    table.clearSelection()
    table.setRowCount(len(rows))
    for i, cells in enumerate(rows):
        reason = (disabled or {}).get(i)
        for j, text in enumerate(cells):
            item = QTableWidgetItem(text)
            if reason is not None:
                item.setFlags(item.flags() & ~(Qt.ItemFlag.ItemIsSelectable |
                                               Qt.ItemFlag.ItemIsEnabled))
            if (tip := reason or (tips or {}).get(i)) is not None:
                item.setToolTip(tip)
            table.setItem(i, j, item)
    header = table.horizontalHeader()
    header.setStretchLastSection(False)
    table.resizeColumnsToContents()
    for j in range(table.columnCount() - 1):
        if table.columnWidth(j) > MAX_COLUMN_PX:
            table.setColumnWidth(j, MAX_COLUMN_PX)
    header.setStretchLastSection(True)  # the description takes the rest of the width


def recent_entry(server: ServerConfig, study: StudyRow, series: SeriesRow | None
                 ) -> tuple[str, str]:
    """(``pacs://`` address, menu text) for Recent studies: the address opens it again
    (from the cache, or retrieved anew once evicted); the text names the server, the
    series (or study, its patient identifiers removed) and its date, not the patient."""
    what = (series.description or series.modality) if series is not None else \
        (study.description or show_modalities(study.modalities) or "study")
    # descriptions may hold the patient's name ("T2 Doe follow-up"): the settings file
    # keeps this text, so it is redacted like every other persisted description
    what = redact_description(what, {"patient_name": study.patient_name,
                                     "patient_id": study.patient_id,
                                     "accession_number": study.accession})
    date = show_date(study.study_date)
    label = f"PACS {server.name}: {what}" + (f" ({date})" if date else "")
    return pacs_url(server.name, study.study_uid, series.series_uid if series else None), label


def opening_message(label: str) -> str:
    """The status text while a study opens: "Opening T2 axial (2024-01-02) from PACS
    Orthanc…" for a Recent PACS entry (``recent_entry``'s label), else "Opening <label>…"."""
    server, sep, what = label.partition(": ")
    if label.startswith("PACS ") and sep and what:
        return f"Opening {what} from {server}…"
    return f"Opening {label}…"
