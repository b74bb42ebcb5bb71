"""The other series of a compare pane's multi-series model (card ``inputs``), Qt-free.

A pane takes a multi-series model as the main window does, through the same plan
(:mod:`coloc_viewer.viewer.series_roles`): the pane's series plays the first role, the
study's other series are matched to the other roles, a choice remembered for the study
(:class:`~coloc_viewer.workspace.role_choices.RoleChoices`, the main window's store) wins,
and when a pattern matches none or several the GUI asks (:class:`RolesNeeded`). A model
that cannot run on the pane's study raises :class:`CannotRun` with the viewer's one
sentence (:func:`~coloc_viewer.viewer.analysis.cannot_run`). The decided series are part
of the cache key (:func:`pane_series`), as in the main window, so both share results.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from coloc_viewer.viewer.analysis import cannot_run, series_key
from coloc_viewer.viewer.series_roles import (
    RoleInputs,
    RolePlan,
    StudySeries,
    find_study_series,
    is_multi_series,
    plan_roles,
    study_key,
)

log = logging.getLogger(__name__)


class CannotRun(Exception):
    """The model cannot run on the pane's study; ``str()`` is the one sentence saying why."""


class RolesNeeded(Exception):
    """The reader must choose which series plays which role (``plan.question`` says why)."""

    def __init__(self, plan: RolePlan) -> None:
        super().__init__(plan.question or "choose which series plays each role")
        self.plan = plan


def pane_series(volume: Any, inputs: RoleInputs | None = None) -> str:
    """The cache's series key of a pane: the shown series, plus the series that play the
    other roles (the main window's key for the same study and choice)."""
    key = series_key(volume)
    return key if inputs is None else f"{key}|{inputs.signature}"


class PaneInputs:
    """The decided role series of every pane's multi-series model, per shown series and
    model (thread-safe: the worker resolves, the GUI thread records the reader's choice).
    ``store``: where choices are remembered per study (None: not remembered)."""

    def __init__(self, store: Any = None,
                 find: Callable[[Any], list[StudySeries]] = find_study_series) -> None:
        self.store = store
        self._find = find
        self._series: dict[str, list[StudySeries]] = {}
        self._chosen: dict[tuple[str, str], RoleInputs] = {}
        self._lock = threading.RLock()

    def known(self, model: Any, volume: Any) -> RoleInputs | None:
        """The decided series of ``model``'s roles on ``volume``'s study (None: undecided or
        a single-series model). No file access: safe on the GUI thread."""
        if model is None or not is_multi_series(model.card):
            return None
        with self._lock:
            return self._chosen.get((series_key(volume), str(model.card.name)))

    def study_series(self, volume: Any) -> list[StudySeries]:
        """The image series of ``volume``'s study (header reads, once per series)."""
        key = series_key(volume)
        with self._lock:
            found = self._series.get(key)
        if found is None:  # scanned outside the lock: the GUI thread's known() never waits
            found = list(self._find(volume))
            with self._lock:
                found = self._series.setdefault(key, found)
        return found

    def plan(self, model: Any, volume: Any) -> RolePlan:
        """The role plan of ``model`` on ``volume``'s study, with the remembered choice."""
        card = model.card
        study = study_key(volume)
        remembered = None
        if self.store is not None and study is not None:
            remembered = self.store.get(study, str(card.name))
        return plan_roles(card, volume, self.study_series(volume), remembered)

    def resolve(self, model: Any, volume: Any) -> RoleInputs | None:
        """What the analysis of ``model`` on ``volume`` takes besides the volume: the
        decided :class:`RoleInputs` (None for a single-series model). Raises
        :class:`CannotRun` or :class:`RolesNeeded`. Reads headers: call it in a worker."""
        inputs = None
        if is_multi_series(model.card):
            inputs = self.known(model, volume)
            if inputs is None or self._changed(inputs, volume):
                plan = self.plan(model, volume)
                if plan.reason is not None:
                    raise CannotRun(plan.reason)
                if not plan.ready:
                    raise RolesNeeded(plan)
                inputs = self._keep(volume, plan)
        reason = cannot_run(model, volume, inputs)
        if reason is not None:
            raise CannotRun(reason)
        return inputs

    def choose(self, volume: Any, plan: RolePlan, remember: bool = True) -> RoleInputs:
        """Use the reader's choice (a ready plan) for ``volume``'s study; remembered for
        the study when ``remember`` (as the main window's dialog does)."""
        inputs = self._keep(volume, plan)
        study = study_key(volume)
        if remember and self.store is not None and study is not None:
            try:
                self.store.put(study, plan.model, plan.remembered())
            except OSError as err:
                log.info("role choice not remembered: %s", err)
        log.info("compare: series chosen for the inputs of %s (%s)", plan.model,
                 ", ".join(plan.assignment))  # roles only: descriptions may name people
        return inputs

    def _changed(self, inputs: RoleInputs, volume: Any) -> bool:
        """True when the study's remembered choice is no longer ``inputs``' (the reader
        chose other series since, e.g. in the main window's dialog)."""
        study = study_key(volume)
        if self.store is None or study is None:
            return False
        remembered = self.store.get(study, inputs.plan.model)
        return remembered is not None and remembered != inputs.plan.remembered()

    def _keep(self, volume: Any, plan: RolePlan) -> RoleInputs:
        inputs = RoleInputs(plan)
        with self._lock:
            self._chosen[(series_key(volume), plan.model)] = inputs
        return inputs
