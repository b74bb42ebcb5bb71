"""The analysis settings as evented, Qt-free state: which model, layer, target class,
ranking and map one view analyses, and what can be chosen for each.

:class:`AnalysisChoices` is the source of truth for both windows (the main window's state
and every compare pane's state hold one): the model panel and the compare panes' choosers
render it and write the user's choices into it, and the analysis reads
:meth:`AnalysisChoices.settings` only. ``events.changed`` carries ``{field: new value}``,
``events.options`` the choices themselves when the lists of options change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coloc_viewer.explain.choices import (
    N_RANKED,
    RANK_HELP,
    RANKINGS,
    map_choices,
    methods_needed,
)
from coloc_viewer.viewer.analysis import AnalysisSettings
from coloc_viewer.viewer.events import Event

FIELDS = ("model", "layer", "target", "rank", "map_choice")


@dataclass(frozen=True)
class Option:
    """One choosable value: ``key`` (what the state holds), ``label`` and tooltip ``tip``."""

    key: Any
    label: str
    tip: str = ""


@dataclass
class ChoiceEvents:
    changed: Event = field(default_factory=Event)  # {field: new value}
    options: Event = field(default_factory=Event)  # the AnalysisChoices


def model_label(name: str, model: Any = None) -> str:
    """A model's display name: its card name when loaded, else a card path's file stem."""
    card_name = getattr(getattr(model, "card", None), "name", None) or \
        getattr(model, "name", None)
    if isinstance(card_name, str) and card_name:
        return card_name
    return Path(name).stem if name.endswith(".json") or "/" in name or "\\" in name else name


class AnalysisChoices:
    """The settings of one view's analysis (``model``: a registry name or card path;
    ``layer``/``target`` None = the card's layer / the predicted class; ``rank``; the shown
    ``map_choice`` in :mod:`coloc_viewer.explain.choices` spelling) and their options."""

    def __init__(self, model: str | None = None, layer: str | None = None,
                 target: int | None = None, rank: str = "contribution",
                 map_choice: str = "top", top_k: int = N_RANKED) -> None:
        self.events = ChoiceEvents()
        self.model, self.layer, self.target = model, layer, target
        self.rank, self.map_choice, self.top_k = rank, map_choice, int(top_k)
        self.models: list[Option] = []
        self.layers: list[Option] = []
        self.default_layer: str | None = None
        self.classes: list[str] = []

    # -- the values ----------------------------------------------------------------------
    def set(self, **changes: Any) -> None:
        """Change fields of :data:`FIELDS`; emits ``changed`` once with those that differ."""
        changed = {}
        for name, value in changes.items():
            if name not in FIELDS:
                raise AttributeError(f"no analysis setting {name!r}; one of {FIELDS}")
            if getattr(self, name) != value:
                setattr(self, name, value)
                changed[name] = value
        if changed:
            self.events.changed.emit(changed)

    def values(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in FIELDS}

    def settings(self) -> AnalysisSettings | None:
        """What to compute (the result cache's key without series and slice); None
        without a model."""
        if not self.model:
            return None
        return AnalysisSettings(model=self.model, layer=self.layer, target=self.target,
                                rank=self.rank or "contribution",
                                methods=methods_needed(self.map_choice), top_k=self.top_k)

    def apply(self, settings: AnalysisSettings | None, map_choice: str | None = None) -> None:
        """Take the values of ``settings`` (a script's or a saved session's)."""
        if settings is None:
            self.set(model=None)
            return
        values = {"model": settings.model, "layer": settings.layer, "target": settings.target,
                  "rank": settings.rank}
        if map_choice is not None:
            values["map_choice"] = map_choice
        self.set(**values)

    # -- the options ---------------------------------------------------------------------
    @property
    def maps(self) -> list[Option]:
        """Top channel, ranked channels, every registered CAM method (menu order)."""
        return [Option(c, lbl) for c, lbl in map_choices(self.top_k)]

    @property
    def ranks(self) -> list[Option]:
        return [Option(r, r, RANK_HELP.get(r, "")) for r in RANKINGS]

    @property
    def targets(self) -> list[Option]:
        return [Option(None, "predicted")] + [Option(i, f"{i}: {c}")
                                              for i, c in enumerate(self.classes)]

    def set_models(self, names: list[str], labels: dict[str, str] | None = None) -> None:
        """Offer ``names`` (registry names or card paths), shown by their display names."""
        labels = labels or {}
        self.models = [Option(n, labels.get(n) or model_label(n), n) for n in names]
        self.events.options.emit(self)

    def add_model(self, name: str, label: str | None = None) -> None:
        """Offer ``name`` too (relabelled when known already)."""
        option = Option(name, label or model_label(name), name)
        have = [o.key for o in self.models]
        if name in have:
            self.models[have.index(name)] = option
        else:
            self.models.append(option)
        self.events.options.emit(self)

    def set_layers(self, layers: list[tuple[str, tuple[int, ...]]],
                   default: str | None = None, *, keep: bool = True,
                   keep_default: bool = False) -> None:
        """The model's spatial layers (name, output shape). The layer becomes ``default``
        (else the last layer) unless it is one of them and ``keep``; ``keep_default``: None
        (the card's layer) stays None."""
        self.layers = [Option(n, f"{n}  {'x'.join(str(s) for s in shape)}" if shape else n)
                       for n, shape in layers]
        self.default_layer = default
        self.events.options.emit(self)
        names = [n for n, _s in layers]
        if (keep and self.layer in names) or (keep_default and self.layer is None):
            return
        self.set(layer=default if default in names else (names[-1] if names else None))

    def set_classes(self, classes: list[str]) -> None:
        self.classes = [str(c) for c in classes]
        self.events.options.emit(self)
        if self.target is not None and not 0 <= self.target < len(self.classes):
            self.set(target=None)
