"""Search criteria and result rows shared by both protocols (DICOM JSON / pydicom in, plain
dicts out)."""

from __future__ import annotations

import datetime
import re
from dataclasses import asdict, dataclass
from typing import Any

from coloc_viewer.errors import InputError

__all__ = ["Query", "SeriesRow", "StudyRow", "date_range", "name_matches", "rows_from_dataset"]

_DATE = re.compile(r"^\d{8}$")


def date_range(date_from: str | None, date_to: str | None) -> str:
    """A DICOM date range ``YYYYMMDD-YYYYMMDD`` (either end open); '' for none.
    ``YYYY-MM-DD`` is accepted too."""
    ends = []
    for label, value in (("from", date_from), ("to", date_to)):
        text = (value or "").replace("-", "").strip()
        if text and not _DATE.match(text):
            raise InputError(f"date {label} {value!r} is not YYYYMMDD or YYYY-MM-DD")
        if text:
            try:
                datetime.date(int(text[:4]), int(text[4:6]), int(text[6:]))
            except ValueError:
                raise InputError(f"date {label} {value!r} is not a calendar date") from None
        ends.append(text)
    if not any(ends):
        return ""
    if ends[0] and ends[1] and ends[0] > ends[1]:
        raise InputError(f"the date range {date_from} to {date_to} is empty")
    return f"{ends[0]}-{ends[1]}" if ends[0] != ends[1] else ends[0]


def name_matches(pattern: str, name: str) -> bool:
    """DICOM person-name matching as a PACS does it: ``*`` any run of characters, ``?`` one,
    ``^`` (the component separator) literal, case-insensitive, empty trailing components
    ignored (``DOE^JOHN`` matches ``DOE^JOHN^^^``)."""
    pattern = pattern.strip()
    if not pattern.endswith(("*", "?")):
        pattern = pattern.rstrip("^")
    regex = "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch)
                    for ch in pattern)
    return re.fullmatch(regex, name.strip().rstrip("^"), flags=re.IGNORECASE | re.DOTALL) \
        is not None


@dataclass(frozen=True)
class Query:
    """What a reader searches by; empty fields match anything."""

    patient_id: str = ""
    patient_name: str = ""
    accession: str = ""
    date_from: str = ""
    date_to: str = ""
    modality: str = ""

    def study_filters(self) -> dict[str, str]:
        """DICOM keyword -> matching value (wildcards ``*`` ``?`` pass through)."""
        out = {"PatientID": self.patient_id.strip(), "PatientName": self.patient_name.strip(),
               "AccessionNumber": self.accession.strip(),
               "StudyDate": date_range(self.date_from, self.date_to),
               "ModalitiesInStudy": self.modality.strip().upper()}
        return {k: v for k, v in out.items() if v}


STUDY_FIELDS = ("StudyInstanceUID", "PatientID", "PatientName", "StudyDate", "AccessionNumber",
                "StudyDescription", "ModalitiesInStudy", "NumberOfStudyRelatedSeries",
                "NumberOfStudyRelatedInstances")
SERIES_FIELDS = ("StudyInstanceUID", "SeriesInstanceUID", "Modality", "SeriesNumber",
                 "SeriesDescription", "NumberOfSeriesRelatedInstances")


def _text(ds: Any, keyword: str) -> str:
    value = getattr(ds, keyword, None) if ds is not None else None
    if value is None:
        return ""
    if isinstance(value, list | tuple) or type(value).__name__ == "MultiValue":
        return "\\".join(str(v) for v in value)
    return str(value)


def _int(ds: Any, keyword: str) -> int | None:
    text = _text(ds, keyword)
    try:
        return int(float(text)) if text else None
    except ValueError:
        return None


@dataclass(frozen=True)
class StudyRow:
    study_uid: str
    patient_id: str
    patient_name: str
    study_date: str
    accession: str
    description: str
    modalities: str
    n_series: int | None
    n_instances: int | None
    level: str = "study"

    @classmethod
    def from_dataset(cls, ds: Any) -> StudyRow:
        return cls(_text(ds, "StudyInstanceUID"), _text(ds, "PatientID"),
                   _text(ds, "PatientName"), _text(ds, "StudyDate"),
                   _text(ds, "AccessionNumber"), _text(ds, "StudyDescription"),
                   _text(ds, "ModalitiesInStudy"), _int(ds, "NumberOfStudyRelatedSeries"),
                   _int(ds, "NumberOfStudyRelatedInstances"))

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SeriesRow:
    study_uid: str
    series_uid: str
    modality: str
    series_number: int | None
    description: str
    n_instances: int | None
    level: str = "series"

    @classmethod
    def from_dataset(cls, ds: Any) -> SeriesRow:
        return cls(_text(ds, "StudyInstanceUID"), _text(ds, "SeriesInstanceUID"),
                   _text(ds, "Modality"), _int(ds, "SeriesNumber"),
                   _text(ds, "SeriesDescription"), _int(ds, "NumberOfSeriesRelatedInstances"))

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def rows_from_dataset(ds: Any, level: str) -> StudyRow | SeriesRow:
    return StudyRow.from_dataset(ds) if level == "study" else SeriesRow.from_dataset(ds)
