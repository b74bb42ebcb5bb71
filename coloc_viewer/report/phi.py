"""Patient identity for exports: read it only when asked, and keep it out otherwise.

Exports omit patient name, ID and birth date unless the caller passes ``include_phi=True``.
:class:`PhiGuard` removes those values from any free text that goes into an export and
checks the finished text again before it is written. File names never carry them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

PHI_FIELDS = {"patient_name": "PatientName", "patient_id": "PatientID",
              "patient_birth_date": "PatientBirthDate"}
PHI_LABELS = {"patient_name": "Patient name", "patient_id": "Patient ID",
              "patient_birth_date": "Birth date"}
REMOVED = "[removed]"


def patient_identity(volume: Any) -> dict[str, str]:
    """Name, ID and birth date of ``volume``'s patient ('' where unknown).

    The name comes from ``volume.private``; ID and birth date are read from the first DICOM
    file of the series (headers only), since the Volume itself keeps no identifiers.
    """
    private = dict(getattr(volume, "private", None) or {})
    identity = {key: str(private.get(key, "") or "") for key in PHI_FIELDS}
    files = list(getattr(volume, "files", ()) or ())
    if files and not all(identity.values()):
        try:
            import pydicom

            ds = pydicom.dcmread(files[0], stop_before_pixels=True,
                                 specific_tags=list(PHI_FIELDS.values()))
            for key, keyword in PHI_FIELDS.items():
                if not identity[key]:
                    identity[key] = str(ds.get(keyword, "") or "")
        except Exception:  # not DICOM / unreadable: nothing more to know
            pass
    return identity


def _variants(key: str, value: str) -> set[str]:
    """The spellings under which a value may show up in text."""
    value = value.strip()
    if not value:
        return set()
    out = {value}
    if key == "patient_name":
        parts = [p for p in re.split(r"[\^=\s,]+", value) if p]
        out.add(" ".join(parts))
        out.add(" ".join(reversed(parts[:2])))
        out.update(p for p in parts if len(p) >= 3)  # single components, not initials
    if key == "patient_birth_date" and re.fullmatch(r"\d{8}", value):
        out.update({f"{value[:4]}-{value[4:6]}-{value[6:]}",
                    f"{value[6:]}.{value[4:6]}.{value[:4]}",
                    f"{value[4:6]}/{value[6:]}/{value[:4]}"})
    return {v for v in out if v}


@dataclass
class PhiGuard:
    """Scrubs and checks text against one patient's identity (no-op with include_phi)."""

    identity: Mapping[str, str]
    include_phi: bool = False

    def __post_init__(self) -> None:
        variants: set[str] = set()
        for key, value in self.identity.items():
            variants |= _variants(key, str(value or ""))
        # whole words only: a name part "Eva" must not mangle "relevance", an ID "123"
        # must not match inside "41234"
        alternatives = "|".join(re.escape(v) for v in sorted(variants, key=len, reverse=True))
        self._pattern = (re.compile(rf"(?<![^\W_])(?:{alternatives})(?![^\W_])",
                                    re.IGNORECASE) if variants else None)

    def clean(self, text: Any) -> str:
        """``text`` with every identity value replaced (unless PHI was asked for)."""
        text = "" if text is None else str(text)
        if self.include_phi or self._pattern is None:
            return text
        return self._pattern.sub(REMOVED, text)

    def leaks(self, text: str) -> list[str]:
        """Identity values found in ``text`` (empty when PHI is allowed)."""
        if self.include_phi or self._pattern is None:
            return []
        text = text.replace(REMOVED, " ")  # the marker itself is no leak ("Ove" in it)
        return sorted({m.group(0) for m in self._pattern.finditer(text)})

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
