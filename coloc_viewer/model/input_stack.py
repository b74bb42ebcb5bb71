"""Which series feed a model, and how they become its input channels (DESIGN §6 ``inputs``).

A card may list ``inputs``: ``[{"role": "T2", "series": "<regex>"}, ...]``. ``explain``
then takes ``{role: Volume}``; each role's volume is resampled onto the first role's grid
with SimpleITK (linear, physical geometry; :func:`coloc_viewer.imaging.resample.resample_to`)
and the volumes become the channels in the card's order. A card without ``inputs`` takes one
series (a Volume, a (z, y, x) or (y, x) array, or a one-entry dict), replicated to
``in_channels``. Anything else is one :class:`InputError` sentence.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from coloc_viewer.errors import InputError, ModelError
from coloc_viewer.imaging.resample import resample_to, same_grid
from coloc_viewer.imaging.volume import Volume

VolumeLike = Volume | np.ndarray


@dataclass
class ModelInput:
    """The series of one explanation on one grid: ``channels`` are (z, y, x) arrays (one per
    role, in the card's order; one for single-input models), ``reference`` the first role's
    volume (its geometry is the grid), ``roles`` the role names (``[]`` without ``inputs``)
    and ``plain_2d`` True when a bare 2-D array was given."""

    channels: list[np.ndarray]
    reference: Volume
    roles: list[str]
    plain_2d: bool = False

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.reference.shape

    @property
    def spacing(self) -> tuple[float, float, float]:
        return self.reference.spacing  # type: ignore[return-value]


def input_roles(card: Any) -> list[str]:
    """The card's input role names in order (``[]`` for a single-input card)."""
    roles = []
    for item in getattr(card, "inputs", None) or []:
        role = item.get("role") if isinstance(item, Mapping) else getattr(item, "role", None)
        if not role:
            raise ModelError(f"model {card.name!r}: every entry of inputs needs a role")
        roles.append(str(role))
    if len(roles) > 1 and len(roles) != int(card.in_channels):
        raise ModelError(f"model {card.name!r} lists {len(roles)} input series but "
                         f"in_channels is {card.in_channels}")
    return roles


def _as_volume(value: object, what: str) -> tuple[Volume, bool]:
    if isinstance(value, Volume):
        return value, False
    arr = np.asarray(value)
    if arr.ndim not in (2, 3) or arr.size == 0 or arr.dtype.kind not in "biuf":
        raise InputError(f"{what} must be a Volume, a (z, y, x) or a (y, x) numeric array; "
                         f"got shape {arr.shape}")
    return Volume(arr), arr.ndim == 2


def gather_inputs(card: Any, given: VolumeLike | Mapping[str, VolumeLike]) -> ModelInput:
    """The model's series on the first role's grid (see the module docstring)."""
    roles = input_roles(card)
    name = card.name
    if isinstance(given, Mapping):
        if not given:
            raise InputError(f"no series given for model {name!r}")
        if len(roles) > 1:
            missing = [r for r in roles if r not in given]
            if missing:
                raise InputError(f"model {name!r} needs the series {', '.join(roles)}; "
                                 f"missing: {', '.join(missing)}")
            extra = [str(r) for r in given if r not in roles]
            if extra:
                raise InputError(f"model {name!r} has no input role {', '.join(extra)} "
                                 f"(its roles: {', '.join(roles)})")
            ordered = [(r, given[r]) for r in roles]
        elif len(given) != 1:
            raise InputError(f"model {name!r} takes one series; got {len(given)} "
                             f"({', '.join(str(k) for k in given)})")
        else:
            ordered = list(given.items())
    elif len(roles) > 1:
        raise InputError(f"model {name!r} takes {len(roles)} series as input channels "
                         f"({', '.join(roles)}); pass {{role: volume}} with one per role")
    else:
        ordered = [(roles[0] if roles else "image", given)]
    first, plain_2d = _as_volume(ordered[0][1], f"series {ordered[0][0]!r}")
    channels = [first.voxels]
    for role, value in ordered[1:]:
        vol, _ = _as_volume(value, f"series {role!r}")
        if not isinstance(value, Volume) or not isinstance(ordered[0][1], Volume):
            if vol.shape != first.shape:
                raise InputError(f"series {role!r} is an array of shape {vol.shape} without "
                                 f"geometry; it must have the first series' shape "
                                 f"{first.shape}")
            channels.append(vol.voxels)
        elif same_grid(vol, first):
            channels.append(vol.voxels)
        else:
            channels.append(resample_to(vol, first).voxels)
    return ModelInput(channels, first, [str(r) for r, _ in ordered] if roles else [],
                      plain_2d)
