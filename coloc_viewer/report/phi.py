"""Patient identity for exports: read it only when asked, and keep it out otherwise.

Exports omit patient name, ID and birth date unless the caller passes ``include_phi=True``.
:class:`PhiGuard` removes those values (and the accession number) from any free text that
goes into an export and checks the finished text again before it is written. File names
never carry them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from coloc_viewer.imaging.redact import (
    REMOVED,
    find_identifiers,
    redact_description,
    redact_text,
)

__all__ = ["PHI_FIELDS", "PHI_LABELS", "IDENTITY_FIELDS", "REMOVED", "PhiGuard",
           "patient_identity", "display_name"]

PHI_FIELDS = {"patient_name": "PatientName", "patient_id": "PatientID",
              "patient_birth_date": "PatientBirthDate"}
PHI_LABELS = {"patient_name": "Patient name", "patient_id": "Patient ID",
              "patient_birth_date": "Birth date"}
#: Everything read to recognise the patient in text (the export columns are PHI_FIELDS).
IDENTITY_FIELDS = {**PHI_FIELDS, "accession_number": "AccessionNumber"}


def display_name(person_name: str) -> str:
    """A DICOM person name as people read it: "DOE^JANE^^DR" -> "DOE JANE DR" (the
    components separated by spaces, empty ones dropped)."""
    return " ".join(part.strip() for part in str(person_name).split("^") if part.strip())


def patient_identity(volume: Any) -> dict[str, str]:
    """Name, ID and birth date of ``volume``'s patient ('' where unknown).

    The name comes from ``volume.private``; ID and birth date are read from the first DICOM
    file of the series (headers only), since the Volume itself keeps no identifiers.
    """
    private = dict(getattr(volume, "private", None) or {})
    identity = {key: str(private.get(key, "") or "") for key in IDENTITY_FIELDS}
    files = list(getattr(volume, "files", ()) or ())
    if files and not all(identity.values()):
        try:
            import pydicom

            ds = pydicom.dcmread(files[0], stop_before_pixels=True,
                                 specific_tags=list(IDENTITY_FIELDS.values()))
            for key, keyword in IDENTITY_FIELDS.items():
                if not identity[key]:
                    identity[key] = str(ds.get(keyword, "") or "")
        except Exception:  # not DICOM / unreadable: nothing more to know
            pass
    return identity


@dataclass
class PhiGuard:
    """Scrubs and checks text against one patient's identity (no-op with include_phi).

    The rules are :mod:`coloc_viewer.imaging.redact`'s: :meth:`clean` for free text (a name
    component only as a word of its own, so a model "demo-clean" survives patient
    DEMO^PHANTOM), :meth:`clean_description` for DICOM descriptions (any name component
    as a word).
    """

    identity: Mapping[str, str]
    include_phi: bool = False

    def clean(self, text: Any) -> str:
        """``text`` with every identity value replaced (unless PHI was asked for)."""
        text = "" if text is None else str(text)
        return text if self.include_phi else redact_text(text, self.identity)

    def clean_description(self, text: Any) -> str:
        """A series/study/protocol description with identity values and name parts removed."""
        text = "" if text is None else str(text)
        return text if self.include_phi else redact_description(text, self.identity)

    def leaks(self, text: str) -> list[str]:
        """Identity values found in ``text`` (empty when PHI is allowed)."""
        return [] if self.include_phi else find_identifiers(text, self.identity)

    def check(self, texts: Iterable[str]) -> None:
        """Raise ValueError if PHI slipped into an export that must not have it."""
        for text in texts:
            found = self.leaks(text)
            if found:
                raise ValueError(f"export would contain patient identifiers ({len(found)})")

    def identity_rows(self) -> list[tuple[str, str]]:
        """(label, value) rows to print in a report; empty unless PHI was asked for."""
        if not self.include_phi:
            return []
        return [(PHI_LABELS[k], str(self.identity.get(k, "") or "")) for k in PHI_FIELDS]
