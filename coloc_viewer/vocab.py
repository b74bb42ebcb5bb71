"""Live read-only views over a registry, so a module-level name (``SCORE_KEYS``,
``METHODS`` ...) imported anywhere always lists what is registered *now*: registering a
score or a CAM method needs no change in the modules that read these names."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any


class LiveTuple(Sequence):
    """A tuple-like view whose items come from ``source()`` on every use."""

    def __init__(self, source: Callable[[], Sequence[Any]]) -> None:
        self._source = source

    def _items(self) -> tuple[Any, ...]:
        return tuple(self._source())

    def __getitem__(self, index: Any) -> Any:
        return self._items()[index]

    def __len__(self) -> int:
        return len(self._items())

    def __iter__(self) -> Iterator[Any]:
        return iter(self._items())

    def __contains__(self, item: object) -> bool:
        return item in self._items()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, str):
            return self._items() == tuple(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  (its contents can change)

    def __add__(self, other: Sequence[Any]) -> tuple[Any, ...]:
        return self._items() + tuple(other)

    def __radd__(self, other: Sequence[Any]) -> tuple[Any, ...]:
        return tuple(other) + self._items()

    def __repr__(self) -> str:
        return repr(self._items())


class LiveMapping(Mapping):
    """A read-only dict-like view whose items come from ``source()`` on every use."""

    def __init__(self, source: Callable[[], Mapping[Any, Any]]) -> None:
        self._source = source

    def __getitem__(self, key: Any) -> Any:
        return self._source()[key]

    def __iter__(self) -> Iterator[Any]:
        return iter(dict(self._source()))

    def __len__(self) -> int:
        return len(self._source())

    def __repr__(self) -> str:
        return repr(dict(self._source()))
