"""Person-name matching as a PACS does it (the DICOMweb fallback filters with it)."""

from __future__ import annotations

import pytest

from coloc_viewer.pacs.query import name_matches


@pytest.mark.parametrize(("pattern", "name", "expected"), [
    ("DOE^JOHN", "DOE^JOHN", True),
    ("DOE^JOHN", "DOE^JOHN^^^", True),  # empty trailing components
    ("doe^john", "DOE^JOHN", True),  # case-insensitive
    ("DOE^J*", "DOE^JANE^M", True),
    ("DOE^J*", "DOEX^JANE", False),  # ^ is literal, not a wildcard
    ("DOE^J?HN", "DOE^JOHN", True),
    ("DOE^J?HN", "DOE^JOOHN", False),
    ("DOE", "DOE^JOHN", False),  # no wildcard: the whole name
    ("*^JOHN", "SMITH^JOHN", True),
    ("D.E^*", "DOE^JOHN", False),  # regex characters are literal
    ("D.E^*", "D.E^JOHN", True),
])
def test_name_matches(pattern: str, name: str, expected: bool) -> None:
    assert name_matches(pattern, name) is expected
