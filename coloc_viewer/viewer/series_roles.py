"""Which series of the open study plays which input role of a multi-series model (Qt-free).

A card with ``inputs`` ([{role, series regex}], DESIGN §6) takes several series. The open
(shown) series always plays the first role, so maps and scores stay on the display grid;
the other roles are matched among the study's other series (same folder tree and
StudyInstanceUID) by :func:`coloc_viewer.imaging.series_match.match_roles`. When a pattern
matches none or several, :class:`RolePlan` says so and the GUI asks the reader; the choice
is remembered per study (:mod:`coloc_viewer.workspace.role_choices`). :class:`RoleInputs`
loads the chosen series (in a worker) for ``explain(model, {role: volume})``.
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coloc_viewer.imaging.series_match import RoleMatchError, RoleSpec, match_roles
from coloc_viewer.workspace.role_choices import choice_hash, study_store_key

#: a parent folder with more files than this is not scanned for sibling series
MAX_SIBLING_FILES = 5000


@dataclass(frozen=True)
class StudySeries:
    """One image series of the open study, as the role dialog lists it. ``series_key`` is
    what identifies it (the series key of a DICOM series, the file name of a volume file);
    it is loaded with ``load_volume(root, series=key or None)``."""

    series_key: str
    root: str
    key: str
    description: str
    modality: str = ""
    shape: tuple[int, ...] = ()
    spacing: tuple[float, ...] = ()
    kind: str = "image"

    def label(self) -> str:
        """"ADC AX — 15 x 128 x 128, 4.00 x 1.25 x 1.25 mm" (no patient identifiers)."""
        size = " x ".join(str(s) for s in self.shape)
        mm = " x ".join(f"{s:.2f}" for s in self.spacing)
        facts = ", ".join(p for p in (size, f"{mm} mm" if mm else "") if p)
        return f"{self.description or '(no description)'} — {facts}" if facts else \
            (self.description or "(no description)")


def role_specs(card: Any) -> list[RoleSpec]:
    """The card's input roles in channel order (``[]`` for a single-series card)."""
    out = []
    for item in getattr(card, "inputs", None) or []:
        get = item.get if isinstance(item, dict) else (lambda k, i=item: getattr(i, k, None))
        out.append(RoleSpec(str(get("role")), str(get("series") or "")))
    return out


def is_multi_series(card: Any) -> bool:
    return len(role_specs(card)) > 1


def open_series_key(volume: Any) -> str:
    """The identifier of the shown series among :func:`find_study_series`'s."""
    meta = getattr(volume, "metadata", None) or {}
    key = meta.get("series_key") or meta.get("series_uid")
    if key:
        return str(key)
    return Path(str(getattr(volume, "source", "") or "")).name


def study_key(volume: Any) -> str | None:
    """The PHI-free key of the open study (hash of its StudyInstanceUID, else its folder)."""
    meta = getattr(volume, "metadata", None) or {}
    source = str(getattr(volume, "source", "") or "")
    folder = os.path.dirname(os.path.abspath(source)) if source else None
    if not meta.get("study_uid") and not folder:
        return None
    return study_store_key(meta.get("study_uid"), folder)


def _count_files(root: Path, limit: int) -> int:
    n = 0
    for _dirpath, _dirs, files in os.walk(root):
        n += len(files)
        if n > limit:
            break
    return n


def _dicom_series(root: Path, study_uid: str | None) -> list[StudySeries]:
    from coloc_viewer.imaging.dicom_scan import scan_dicom
    from coloc_viewer.imaging.inspect import series_infos

    result = scan_dicom(root)
    if not result.series:
        return []
    infos = series_infos(result, root)[:len(result.series)]
    out = []
    for group, info in zip(result.series, infos, strict=True):
        if study_uid and group.first.study_uid and group.first.study_uid != study_uid:
            continue
        out.append(StudySeries(group.key, str(root), group.key, info.safe_description,
                               info.modality, tuple(info.shape or ()),
                               tuple(float(s) for s in info.spacing or ())))
    return out


def _volume_files(folder: Path) -> list[StudySeries]:
    from coloc_viewer.imaging.inspect import scan
    from coloc_viewer.imaging.sources import is_volume_file

    out = []
    for p in sorted(folder.iterdir())[:200]:
        if p.is_file() and is_volume_file(p):
            try:
                info = scan(p)[0]
            except Exception:  # an unreadable neighbour is not offered
                continue
            out.append(StudySeries(p.name, str(p), "", p.name, info.modality,
                                   tuple(info.shape or ()), tuple(info.spacing or ())))
    return out


def find_study_series(volume: Any) -> list[StudySeries]:
    """The image series of ``volume``'s study: those under its folder and, when that holds
    no other series, under the parent folder (at most :data:`MAX_SIBLING_FILES` files),
    with the same StudyInstanceUID. Volume files (NIfTI, ...): the volume files of the same
    folder. Header reads only (call it from a worker)."""
    from coloc_viewer.imaging.sources import is_volume_file

    raw = str(getattr(volume, "source", "") or "")
    source = Path(raw)
    if not raw or not source.exists():
        return []
    meta = getattr(volume, "metadata", None) or {}
    if source.is_file() and is_volume_file(source):
        return _volume_files(source.parent)
    study_uid = meta.get("study_uid")
    found = _dicom_series(source, study_uid)  # a folder, a file, a zip or a DICOMDIR
    here, parent = source, source.parent
    if len(found) <= 1 and parent != here and \
            _count_files(parent, MAX_SIBLING_FILES) <= MAX_SIBLING_FILES:
        known = {s.series_key for s in found}
        found += [s for s in _dicom_series(parent, study_uid) if s.series_key not in known]
    return found


@dataclass
class RolePlan:
    """The roles of a card on the open study: ``assignment`` {role: series_key} (complete
    when :attr:`ready`), ``question`` the sentence that makes the GUI ask (a pattern matched
    none or several series), ``reason`` the sentence when the model cannot run at all."""

    model: str
    roles: list[RoleSpec]
    series: list[StudySeries]
    first: str
    assignment: dict[str, str] = field(default_factory=dict)
    question: str | None = None
    reason: str | None = None

    @property
    def ready(self) -> bool:
        return self.reason is None and self.question is None and \
            all(r.role in self.assignment for r in self.roles)

    def by_key(self) -> dict[str, StudySeries]:
        return {s.series_key: s for s in self.series}

    def candidates(self, role: str) -> list[StudySeries]:
        """Series offered for ``role``: the open one for the first role, else every other."""
        if self.roles and role == self.roles[0].role:
            return [s for s in self.series if s.series_key == self.first]
        return [s for s in self.series if s.series_key != self.first]

    def guess(self, role: str) -> str | None:
        """The series pre-selected for ``role``: assigned, else the first pattern match."""
        if role in self.assignment:
            return self.assignment[role]
        spec = next((r for r in self.roles if r.role == role), None)
        cands = self.candidates(role)
        if spec is not None:
            taken = set(self.assignment.values())
            for s in cands:
                if s.series_key not in taken and re.search(spec.pattern, s.description or ""):
                    return s.series_key
        return cands[0].series_key if cands else None

    def with_choice(self, assignment: dict[str, str]) -> RolePlan:
        """This plan with the reader's ``assignment`` (checked: every role, known series,
        no series twice, the open series first)."""
        keys = self.by_key()
        names = [r.role for r in self.roles]
        missing = [r for r in names if r not in assignment]
        if missing:
            raise ValueError(f"no series chosen for {', '.join(missing)}")
        unknown = [r for r in names if assignment[r] not in keys]
        if unknown:
            raise ValueError(f"the series chosen for {', '.join(unknown)} is not in this study")
        chosen = [assignment[r] for r in names]
        if len(set(chosen)) != len(chosen):
            raise ValueError("a series can play only one role")
        if assignment[names[0]] != self.first:
            raise ValueError(f"{names[0]} is the open series; open another series to use "
                             f"it as {names[0]}")
        return RolePlan(self.model, self.roles, self.series, self.first,
                        {r: assignment[r] for r in names})

    def remembered(self) -> dict[str, str]:
        """The PHI-free form stored for the study: {role: hash of the series key}."""
        return {role: choice_hash(key) for role, key in self.assignment.items()}


def plan_roles(card: Any, volume: Any, series: list[StudySeries],
               remembered: dict[str, str] | None = None) -> RolePlan:
    """Match the card's roles on the open study (see the module docstring). ``remembered``
    ({role: choice_hash}) is a choice made for this study before; it wins when every role
    it names is still here."""
    roles = role_specs(card)
    name = str(getattr(card, "name", "") or "this model")
    first = open_series_key(volume)
    plan = RolePlan(name, roles, list(series), first)
    names = [r.role for r in roles]
    if not any(s.series_key == first for s in series):
        shown = getattr(volume, "metadata", {}).get("description") or "the open series"
        plan.series.insert(0, StudySeries(first, str(getattr(volume, "source", "")), "",
                                          str(shown), shape=tuple(volume.shape),
                                          spacing=tuple(float(s) for s in volume.spacing)))
    others = [s for s in plan.series if s.series_key != first]
    if len(others) < len(roles) - 1:
        plan.reason = (f"Model '{name}' takes {len(roles)} series as input channels "
                       f"({', '.join(names)}); this study has {len(others) + 1} series, so it "
                       "cannot run this model on this study.")
        return plan
    if remembered:
        by_hash = {choice_hash(s.series_key): s.series_key for s in plan.series}
        if all(r in remembered and remembered[r] in by_hash for r in names[1:]):
            try:
                chosen = {names[0]: first, **{r: by_hash[remembered[r]] for r in names[1:]}}
                return plan.with_choice(chosen)
            except ValueError:
                pass  # stale (e.g. the open series now plays another role): match again
    plan.assignment[names[0]] = first
    first_series = plan.by_key()[first]
    if not re.search(roles[0].pattern, first_series.description or ""):
        plan.question = (f"The open series ({first_series.description}) does not match "
                         f"{names[0]} (/{roles[0].pattern}/); it is used as {names[0]}.")
    try:
        plan.assignment.update(match_roles(roles, plan.series, chosen={names[0]: first}))
    except RoleMatchError as err:
        spec = next(r for r in roles if r.role == err.role)
        found = ("No series matches" if str(err.reason).startswith("no series")
                 else f"{len(err.candidates)} series match")
        asked = f"{found} {err.role} (/{spec.pattern}/): choose which series plays each role."
        plan.question = " ".join(p for p in (plan.question, asked) if p)
        plan.assignment = {names[0]: first}
    return plan


class RoleInputs:
    """The series of a ready :class:`RolePlan`, loaded once on first use (thread-safe):
    :meth:`explain_input` gives ``{role: volume}`` with the shown series' stored volume as
    the first role (the model sees stored grids; maps come back on the first role's)."""

    def __init__(self, plan: RolePlan) -> None:
        if not plan.ready:
            raise ValueError("the roles of this study are not decided yet")
        self.plan = plan
        self._volumes: dict[str, Any] = {}
        self._lock = threading.Lock()

    @property
    def roles(self) -> list[str]:
        return [r.role for r in self.plan.roles]

    @property
    def signature(self) -> str:
        """Part of the cache key: which series play the roles."""
        return ";".join(f"{r}={self.plan.assignment[r]}" for r in self.roles)

    def volumes(self) -> dict[str, Any]:
        """The volumes of every role but the first (loaded here the first time)."""
        from coloc_viewer.imaging.load import load_volume

        with self._lock:
            keys = self.plan.by_key()
            for role in self.roles[1:]:
                if role not in self._volumes:
                    s = keys[self.plan.assignment[role]]
                    self._volumes[role] = load_volume(s.root, series=s.key or None)
            return {r: self._volumes[r] for r in self.roles[1:]}

    def explain_input(self, volume: Any) -> dict[str, Any]:
        """``{role: volume}`` for ``explain``: the shown series' stored volume first."""
        from coloc_viewer.viewer.orientation import storage_of

        return {self.roles[0]: storage_of(volume), **self.volumes()}
