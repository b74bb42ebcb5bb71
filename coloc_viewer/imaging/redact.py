"""Patient identifiers in text: the one redaction rule of every export (docs/imaging.md, "PHI").

An *identity* maps ``patient_name``, ``patient_id``, ``accession_number`` and
``patient_birth_date`` to DICOM values. Two rules:

* **DICOM descriptions** (series, study, protocol): whole values and every name component
  of 3+ characters are removed wherever they stand as a word, any non-alphanumeric
  character being a boundary ("T2 Phantom^Demo", "DEMO_t2" -> "[removed]").
* **Other free text** (model names, cards, commands, file names): whole values as above, but
  a single name component only as a word of its own: letters and digits joined by ``-``,
  ``_``, ``.`` or ``/`` form one word, so patient DEMO^PHANTOM leaves the model
  "demo-clean" and the path "resources/demo/case-01" intact (but not "Demo's scan").
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache

__all__ = ["REMOVED", "find_identifiers", "identity_variants", "redact_description",
           "redact_text"]

REMOVED = "[removed]"
_NAME_SPLIT = re.compile(r"[\^=\s,]+")
_JOINERS = "-_./"


def identity_variants(identity: Mapping[str, str]) -> tuple[set[str], set[str]]:
    """(whole values in their usual spellings, single name components)."""
    whole: set[str] = set()
    parts: set[str] = set()
    for key, raw in identity.items():
        value = str(raw or "").strip()
        if not value:
            continue
        whole.add(value)
        if key == "patient_name":
            comps = [p for p in _NAME_SPLIT.split(value) if p]
            for sep in (" ", "^", "_", "-", ".", ", "):
                whole.add(sep.join(comps))
                whole.add(sep.join(reversed(comps[:2])))
            parts.update(p for p in comps if len(p) >= 3)  # components, not initials
        if key == "patient_birth_date" and re.fullmatch(r"\d{8}", value):
            whole.update({f"{value[:4]}-{value[4:6]}-{value[6:]}",
                          f"{value[6:]}.{value[4:6]}.{value[:4]}",
                          f"{value[4:6]}/{value[6:]}/{value[:4]}"})
    return {w for w in whole if w.strip(" ^_-.,")}, parts


def _alternatives(values: set[str]) -> str:
    return "|".join(re.escape(v) for v in sorted(values, key=len, reverse=True))


@lru_cache(maxsize=64)
def _patterns(key: tuple[tuple[str, str], ...]) -> tuple[re.Pattern | None, re.Pattern | None]:
    whole, parts = identity_variants(dict(key))
    alnum = r"(?<![^\W_])(?:{})(?![^\W_])"
    strict = re.compile(alnum.format(_alternatives(whole | parts)), re.IGNORECASE) \
        if whole | parts else None
    j = re.escape(_JOINERS)
    word = rf"(?<![^\W_])(?<![^\W_][{j}])(?:{{}})(?![^\W_])(?![{j}][^\W_])"
    free = [alnum.format(_alternatives(whole))] if whole else []
    if parts:
        free.append(word.format(_alternatives(parts)))
    loose = re.compile("|".join(free), re.IGNORECASE) if free else None
    return strict, loose


def _key(identity: Mapping[str, str] | None) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((str(k), str(v or "")) for k, v in (identity or {}).items()))


def redact_description(text: object, identity: Mapping[str, str] | None) -> str:
    """A DICOM description with every identity value and name component removed."""
    out = "" if text is None else str(text)
    pattern = _patterns(_key(identity))[0]
    return pattern.sub(REMOVED, out) if pattern is not None and out else out


def redact_text(text: object, identity: Mapping[str, str] | None) -> str:
    """Free text with identity values (and name components standing alone) removed."""
    out = "" if text is None else str(text)
    pattern = _patterns(_key(identity))[1]
    return pattern.sub(REMOVED, out) if pattern is not None and out else out


def find_identifiers(text: str, identity: Mapping[str, str] | None,
                     description: bool = False) -> list[str]:
    """The identity values found in ``text`` (the marker itself is not one)."""
    pattern = _patterns(_key(identity))[0 if description else 1]
    if pattern is None:
        return []
    return sorted({m.group(0) for m in pattern.finditer(text.replace(REMOVED, " "))})
