"""Tiny Qt-free observers: an :class:`Event` is a list of callbacks, an
:class:`EventedModel` a dataclass whose field assignments emit the new value.

The idea is napari's ``EventedModel`` (pydantic + psygnal), cut down to what the viewer
needs: no validation, no Qt. Callbacks receive the emitted value (or nothing when the
event carries none), so a view never has to read the model back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from typing import Any


class Event:
    """Callbacks called in connection order with the emitted arguments."""

    def __init__(self) -> None:
        self._callbacks: list[Callable[..., Any]] = []

    def connect(self, callback: Callable[..., Any]) -> Callable[..., Any]:
        """Add ``callback`` (once); returns it, so this can decorate a function."""
        if callback not in self._callbacks:
            self._callbacks.append(callback)
        return callback

    def disconnect(self, callback: Callable[..., Any]) -> None:
        if callback in self._callbacks:
            self._callbacks.remove(callback)

    def emit(self, *args: Any) -> None:
        for callback in list(self._callbacks):
            callback(*args)

    def __len__(self) -> int:
        return len(self._callbacks)


class ModelEvents:
    """One :class:`Event` per field of an :class:`EventedModel` (``events.<field>``)."""

    def __init__(self, names: list[str]) -> None:
        for name in names:
            setattr(self, name, Event())


class EventedModel:
    """Mixin for a ``@dataclass``: assigning a field to a different value emits
    ``events.<field>(value)``. Use :meth:`update` to change several fields at once."""

    events: ModelEvents

    def __post_init__(self) -> None:
        object.__setattr__(self, "events", ModelEvents([f.name for f in fields(self)]))

    def __setattr__(self, name: str, value: Any) -> None:
        events = self.__dict__.get("events")
        old = self.__dict__.get(name, _MISSING)
        object.__setattr__(self, name, value)
        if events is not None and hasattr(events, name) and not _equal(old, value):
            getattr(events, name).emit(value)

    def set_quietly(self, **changes: Any) -> None:
        """Change fields without emitting (the caller announces the change otherwise)."""
        for name, value in changes.items():
            object.__setattr__(self, name, value)

    def update(self, **changes: Any) -> None:
        for name, value in changes.items():
            if name not in self.__dataclass_fields__:  # type: ignore[attr-defined]
                raise AttributeError(name)
            setattr(self, name, value)


_MISSING = object()


def _equal(a: Any, b: Any) -> bool:
    try:
        return bool(a is b or a == b)
    except (TypeError, ValueError):  # numpy arrays
        return False
