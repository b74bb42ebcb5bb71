"""The series a command feeds to a model: IMAGE alone, or one series per input role.

For a card with ``inputs`` ([{role, series regex}]), IMAGE is the first role. Every other
role comes from ``--input ROLE=PATH`` or, when not given, from the series under IMAGE whose
description matches the role's pattern (``imaging.series_match``). Under a path that holds
several series, the role's pattern picks the series; none or several matching is one
clear error that names the role, the candidates and the option that settles it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from coloc_viewer.errors import InputError
from coloc_viewer.imaging.inspect import scan
from coloc_viewer.imaging.load import load_volume
from coloc_viewer.imaging.series_match import RoleMatchError, RoleSpec, match_roles
from coloc_viewer.imaging.volume import Volume

__all__ = ["card_roles", "load_model_inputs", "parse_input_options"]


def parse_input_options(values: Sequence[str] | None) -> dict[str, str]:
    """``["ADC=/data/adc", ...]`` -> ``{"ADC": "/data/adc"}``; a bad item is an InputError."""
    out: dict[str, str] = {}
    for item in values or ():
        role, sep, path = item.partition("=")
        if not sep or not role.strip() or not path.strip():
            raise InputError(f"--input {item!r}: expected ROLE=PATH")
        if role.strip() in out:
            raise InputError(f"--input {role.strip()} is given twice")
        out[role.strip()] = path.strip()
    return out


def card_roles(card: Any) -> list[RoleSpec]:
    """The card's input roles in channel order (empty for a single-series card)."""
    return [RoleSpec(str(i["role"]), str(i["series"])) for i in (card.inputs or ())]


def _images(path: str) -> list[Any]:
    return [s for s in scan(path) if s.kind == "image"]


def _role_error(err: RoleMatchError, hint: str, path: str) -> InputError:
    return InputError(f"{err.reason}; {hint}", path)


def _pick(path: str, role: RoleSpec) -> Volume:
    """The volume under ``path`` for ``role``: the only image series there, or the one
    whose description matches the role's pattern."""
    found = _images(path)
    if len(found) <= 1:
        return load_volume(path)
    try:
        key = match_roles([role], found, path=path)[role.role]
    except RoleMatchError as err:
        raise _role_error(err, f"pass --input {role.role}=PATH to one series", path) from None
    return load_volume(path, series=key)


def load_model_inputs(card: Any, image: str, series: str | None,
                      given: dict[str, str]) -> tuple[Volume, Volume | dict[str, Volume]]:
    """(the first role's volume, what ``explain`` takes: a volume or ``{role: volume}``).
    A ``pacs://`` IMAGE or --input is retrieved into the PACS cache first."""
    from coloc_viewer.pacs.resolve import local_path

    image = local_path(image)
    given = {role: local_path(path) for role, path in given.items()}
    roles = card_roles(card)
    if not roles:
        if given:
            raise InputError(f"model {card.name!r} takes one series; --input "
                             f"{', '.join(given)} cannot be used with it")
        volume = load_volume(image, series=series)
        return volume, volume
    names = [r.role for r in roles]
    unknown = [r for r in given if r not in names]
    if unknown:
        raise InputError(f"model {card.name!r} has no input role {', '.join(unknown)} "
                         f"(its roles: {', '.join(names)})")
    if names[0] in given:
        raise InputError(f"{names[0]} is the first role: give it as IMAGE, not --input")
    found = _images(image)
    first_role = roles[0].role
    try:
        if series is not None or len(found) <= 1:
            first_key = series or (found[0].series_key if found else None)
        else:
            first_key = match_roles([roles[0]], found, path=image)[first_role]
        rest = [r for r in roles[1:] if r.role not in given]
        keys = match_roles(rest, found, chosen={first_role: first_key} if first_key else None,
                           path=image) if rest else {}
    except RoleMatchError as err:
        option = "--series UID" if err.role == first_role else f"--input {err.role}=PATH"
        raise _role_error(err, f"pass {option}", image) from None
    volumes = {first_role: load_volume(image, series=first_key)}
    for role in roles[1:]:
        volumes[role.role] = (_pick(given[role.role], role) if role.role in given
                              else load_volume(image, series=keys[role.role]))
    return volumes[first_role], volumes
