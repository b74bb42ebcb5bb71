"""The series of one case for one model: ``image`` alone, or one series per input role.

For a card with ``inputs`` ([{role, series regex}]) the manifest's ``image`` is the first
role (``series`` picks it in a folder of several series, else the role's pattern does) and
each other role comes from the manifest column named after it. Without that column, the
role's pattern picks a series under ``image``. A path with several series takes the one
whose description matches the role's pattern. Every role is resampled once per case onto
the first role's grid (:func:`coloc_viewer.model.input_stack.gather_inputs`), so the
slices of a case reuse it. What cannot work is one :class:`InputError` sentence.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from coloc_viewer.cohort.manifest import Case
from coloc_viewer.errors import InputError
from coloc_viewer.imaging.inspect import scan
from coloc_viewer.imaging.load import load_volume
from coloc_viewer.imaging.series_match import RoleMatchError, RoleSpec, match_roles
from coloc_viewer.imaging.volume import Volume
from coloc_viewer.model.input_stack import gather_inputs
from coloc_viewer.pacs.resolve import local_path

ModelInput = Volume | dict[str, Volume]


def _roles(card: Any) -> list[RoleSpec]:
    return [RoleSpec(str(i["role"]), str(i["series"])) for i in (card.inputs or ())]


def _image_series(path: str) -> list[Any]:
    return [s for s in scan(path) if s.kind == "image"]


def _by_pattern(path: str, role: RoleSpec, found: list[Any], where: str,
                taken: dict[str, str] | None = None) -> str:
    """The key of the one series under ``path`` that ``role``'s pattern matches (a series
    in ``taken`` plays no second role)."""
    try:
        return match_roles([role], found, chosen=taken, path=path)[role.role]
    except RoleMatchError as err:
        raise InputError(f"{err.reason}; {where}", path) from None


def _role_volume(case: Case, role: RoleSpec, card: Any, image_series: list[Any],
                 taken: dict[str, str]) -> Volume:
    path = case.input_path(role.role)
    if path is not None:
        found = _image_series(path)
        if len(found) <= 1:
            return load_volume(path)
        return load_volume(path, series=_by_pattern(
            path, role, found, f"set the {role.role} column to one series"))
    if len(image_series) > 1:
        key = _by_pattern(case.image, role, image_series,
                          f"add a manifest column {role.role} with its path", taken)
        taken[role.role] = key
        return load_volume(case.image, series=key)
    raise InputError(f"model {card.name!r} takes the series "
                     f"{', '.join(r.role for r in _roles(card))}; this case gives no "
                     f"{role.role} series (add a manifest column {role.role} with its path)")


def case_inputs(case: Case, card: Any) -> tuple[Volume, ModelInput]:
    """(the first role's volume: the ROI's grid, what ``explain`` takes: the volume or
    ``{role: volume}`` with every role already on the first role's grid). ``pacs://``
    paths are retrieved into the PACS cache first."""
    case = replace(case, image=local_path(case.image),
                   inputs=tuple((c, local_path(p)) for c, p in case.inputs))
    roles = _roles(card)
    if len(roles) <= 1:
        volume = load_volume(case.image, series=case.series)
        return volume, volume
    found = _image_series(case.image)
    key = case.series
    if key is None and len(found) > 1:
        key = _by_pattern(case.image, roles[0], found,
                          "give its series UID in the manifest's series column")
    first = load_volume(case.image, series=key)
    first_key = str(first.metadata.get("series_key") or key)
    taken = ({roles[0].role: first_key}
             if first_key in {s.series_key for s in found} else {})
    given = {roles[0].role: first}
    for role in roles[1:]:
        given[role.role] = _role_volume(case, role, card, found, taken)
    stacked = gather_inputs(card, given)
    return first, {role: replace(stacked.reference, voxels=ch)
                   for role, ch in zip(stacked.roles, stacked.channels, strict=True)}
