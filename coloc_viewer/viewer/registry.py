"""The one model registry of a viewer session: the main window's model chooser and every
compare pane read it, so a card loaded in one is offered in the other.

A name maps to a source (a bundled name, a card path, or a LoadedModel); the model is
loaded once, on first use, from any thread.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any


def bundled_model_names() -> list[str]:
    """The bundled models (none when the model layer cannot list them)."""
    try:
        from coloc_viewer.model.loading import list_bundled_models

        return list(list_bundled_models())
    except Exception:  # the viewer still opens images without models
        return []


class ModelRegistry:
    """Named models, loaded once (thread-safe), with their spatial layers."""

    def __init__(self, sources: dict[str, Any] | None = None) -> None:
        if sources is None:
            sources = {name: name for name in bundled_model_names()}
        self.sources: dict[str, Any] = dict(sources)
        self._loaded: dict[str, Any] = {}
        self._layers: dict[str, list[tuple[str, tuple[int, ...]]]] = {}
        self._lock = threading.RLock()

    @property
    def names(self) -> list[str]:
        return list(self.sources)

    def add(self, name: str, source: Any = None) -> str:
        """Offer ``name`` (a card path or bundled name; ``source`` a LoadedModel or path)."""
        with self._lock:
            self.sources.setdefault(name, name if source is None else source)
        return name

    def is_loaded(self, name: str) -> bool:
        return name in self._loaded

    def knows(self, name: str) -> bool:
        """A registered name, or a card file that could be registered."""
        return name in self.sources or Path(name).is_file()

    def get(self, name: str) -> Any:
        """The LoadedModel of ``name`` (loading it now, in the calling thread)."""
        if name not in self.sources:
            from coloc_viewer.errors import ModelError

            have = ", ".join(self.sources) or "none -- pass a model card"
            raise ModelError(f"no model named {name!r} (available: {have})")
        with self._lock:
            if name not in self._loaded:
                from coloc_viewer.model.loading import LoadedModel, load_model

                src = self.sources[name]
                self._loaded[name] = src if isinstance(src, LoadedModel) else load_model(src)
            return self._loaded[name]

    def card(self, name: str) -> Any:
        """The model card of ``name``, read without loading the model (the loaded model's
        own when there is one); a card that cannot be read is a ``ColocError``."""
        loaded = self._loaded.get(name) or self.sources.get(name, name)
        card = getattr(loaded, "card", None)
        if card is not None:
            return card
        from coloc_viewer.model.loading import resolve_card

        return resolve_card(loaded)

    def put(self, name: str, model: Any, layers: list | None = None) -> None:
        """Register a model loaded elsewhere (a worker), with its layers if known."""
        with self._lock:
            self.sources.setdefault(name, model)
            self._loaded[name] = model
            if layers is not None:
                self._layers[name] = list(layers)

    def layers(self, name: str) -> list[tuple[str, tuple[int, ...]]]:
        """(layer name, output shape) of the model's spatial layers (one dry run, cached)."""
        with self._lock:
            if name not in self._layers:
                from coloc_viewer.viewer.analysis import list_model_layers

                self._layers[name] = list_model_layers(self.get(name))
            return self._layers[name]

    def known_layers(self, name: str) -> list[tuple[str, tuple[int, ...]]] | None:
        """The layers when already listed (never runs the model), else None."""
        with self._lock:
            return self._layers.get(name)

    def load_task(self, name: str):  # noqa: ANN201 (a generator for a worker)
        """Worker generator: load ``name`` and list its layers; returns (model, layers)."""
        yield f"loading {name}"
        self.add(name)
        model = self.get(name)
        yield "listing layers"
        return model, self.layers(name)
