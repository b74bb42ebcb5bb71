"""Which series plays which input role of a multi-series model card.

A card's ``inputs`` say ``[{"role": "T2", "series": "(?i)t2"}, {"role": "ADC", ...}]``: each
role's pattern is searched in the SeriesDescription of the series found under a path. A role
whose pattern matches exactly one image series gets it; none or several is a
:class:`RoleMatchError` that names the role and the candidates, so the GUI can ask the reader
and the CLI can tell the user which ``--input ROLE=PATH`` or ``--series`` to pass.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from coloc_viewer.errors import InputError
from coloc_viewer.imaging.inspect import SeriesInfo

__all__ = ["RoleMatchError", "RoleSpec", "match_roles"]


@dataclass(frozen=True)
class RoleSpec:
    """One input role: its name and the regex searched in SeriesDescription."""

    role: str
    pattern: str


class RoleMatchError(InputError):
    """A role matched no series or several. ``candidates`` lists the series keys that
    could play it (the matches, or every unused image series when none matched)."""

    def __init__(self, message: str, path: str | None, role: str, candidates: list[str]):
        super().__init__(message, path)
        self.role = role
        self.candidates = candidates


def match_roles(roles: Sequence[RoleSpec], series: Sequence[SeriesInfo],
                chosen: Mapping[str, str] | None = None,
                path: str | None = None) -> dict[str, str]:
    """``{role: series_key}`` for every role, in the roles' order.

    ``chosen`` fixes roles already decided (by the user, or remembered for the study); the
    remaining roles are matched by pattern among the image series not yet taken. A series
    never plays two roles.
    """
    images = [s for s in series if s.kind == "image"]
    known = {s.series_key for s in images}
    result: dict[str, str] = {}
    for role, key in (chosen or {}).items():
        if key not in known:
            raise RoleMatchError(f"series {key!r} chosen for {role} is not here", path, role,
                                 sorted(known))
        result[role] = key
    for spec in roles:
        if spec.role in result:
            continue
        free = [s for s in images if s.series_key not in result.values()]
        regex = re.compile(spec.pattern)
        hits = [s for s in free if regex.search(s.description or "")]
        if len(hits) == 1:
            result[spec.role] = hits[0].series_key
            continue
        if hits:
            names = "; ".join(f"{s.series_key} ({s.description})" for s in hits)
            raise RoleMatchError(f"{len(hits)} series match input {spec.role} "
                                 f"(/{spec.pattern}/): {names}", path, spec.role,
                                 [s.series_key for s in hits])
        names = "; ".join(f"{s.series_key} ({s.description})" for s in free) or "none left"
        raise RoleMatchError(f"no series matches input {spec.role} (/{spec.pattern}/); "
                             f"series here: {names}", path, spec.role,
                             [s.series_key for s in free])
    return {spec.role: result[spec.role] for spec in roles if spec.role in result}
