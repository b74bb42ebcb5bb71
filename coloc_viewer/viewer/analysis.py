"""Qt-free model work for the viewer: analysis requests, their cache, and the generator
functions the background workers run (so cancel and progress work between slices)."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class AnalysisSettings:
    """What to compute, independent of the slice: the cache key without series and slice."""

    model: str
    layer: str | None = None
    target: int | None = None
    rank: str = "contribution"
    methods: tuple[str, ...] = ("gradcam",)
    top_k: int = 10


@dataclass(frozen=True)
class AnalysisKey:
    series: str
    slice_index: int
    settings: AnalysisSettings


@dataclass
class SliceResult:
    """One analysed slice: the Explanation and how long the model took."""

    key: AnalysisKey
    explanation: Any
    seconds: float
    prepared: Any = None  # a state.PreparedMap for the slice shown when the run started


class ResultCache:
    """Least-recently-used cache of :class:`SliceResult` by :class:`AnalysisKey`."""

    def __init__(self, capacity: int = 256) -> None:
        self.capacity = capacity
        self._items: OrderedDict[AnalysisKey, SliceResult] = OrderedDict()
        self._lock = threading.Lock()  # workers read while the GUI thread stores

    def get(self, key: AnalysisKey) -> SliceResult | None:
        with self._lock:
            item = self._items.get(key)
            if item is not None:
                self._items.move_to_end(key)
            return item

    def put(self, result: SliceResult) -> None:
        with self._lock:
            self._items[result.key] = result
            self._items.move_to_end(result.key)
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)

    def for_settings(self, series: str, settings: AnalysisSettings) -> dict[int, SliceResult]:
        with self._lock:
            return {k.slice_index: v for k, v in self._items.items()
                    if k.series == series and k.settings == settings}

    def __len__(self) -> int:
        return len(self._items)


def series_key(volume: Any) -> str:
    """A stable identifier of a loaded series for the cache."""
    uid = volume.metadata.get("series_uid") if hasattr(volume, "metadata") else None
    return str(uid or getattr(volume, "source", "") or id(volume))


def explain_slice(model: Any, volume: Any, key: AnalysisKey) -> SliceResult:
    """Run the explanation engine on one slice (blocking; call it from a worker)."""
    from coloc_viewer.explain.engine import explain
    from coloc_viewer.viewer.orientation import shown_explanation, storage_of

    s = key.settings
    start = time.perf_counter()
    # the model sees the stored slice (as the CLI and the API do); maps come to the display
    ex = explain(model, storage_of(volume), key.slice_index, layer=s.layer, target=s.target,
                 rank=s.rank, methods=s.methods, top_k=s.top_k)
    return SliceResult(key, shown_explanation(ex, volume), time.perf_counter() - start)


def analyse_slices(model: Any, volume: Any, series: str, slices: Sequence[int],
                   settings: AnalysisSettings, cache: ResultCache | None = None,
                   prepare: Callable[[SliceResult], Any] | None = None,
                   ) -> Iterator[tuple[int, int, SliceResult]]:
    """Generator over ``slices``: yields (done, total, result); cancellable between slices.

    Cached results are yielded without running the model (the GUI thread stores them).
    ``prepare(result)`` (if given) runs here, in the worker, and may return the display
    map and Scorer of a result (None to skip) so the GUI thread need not compute them.
    """
    total = len(slices)
    for done, z in enumerate(slices, start=1):
        key = AnalysisKey(series, int(z), settings)
        hit = cache.get(key) if cache is not None else None
        result = hit if hit is not None else explain_slice(model, volume, key)
        if prepare is not None:
            result = SliceResult(result.key, result.explanation, result.seconds,
                                 prepare(result))
        yield done, total, result


def load_model_task(name_or_card: str) -> Iterator[str]:
    """Load a model and list its spatial layers (generator so it can be superseded)."""
    from coloc_viewer.model.loading import load_model

    yield f"loading {name_or_card}"
    model = load_model(name_or_card)
    yield "listing layers"
    layers = list_model_layers(model)
    return model, layers


def list_model_layers(model: Any) -> list[tuple[str, tuple[int, ...]]]:
    """(name, output shape) of the model's spatial layers, via the explain layer."""
    from coloc_viewer.explain.layers import list_layers

    card = model.card
    found = list_layers(model.module, (card.in_channels, *card.input_size), model.device)
    return [(info.name, tuple(info.out_shape)) for info in found]
