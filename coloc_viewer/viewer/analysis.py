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


def is_volume_model(model: Any) -> bool:
    """True for a 3-D model: it explains the whole volume in one run."""
    return int(getattr(getattr(model, "card", None), "spatial_dims", 2) or 2) == 3


def cannot_run(model: Any, volume: Any, inputs: Any = None) -> str | None:
    """One sentence saying why ``model`` cannot run on the open study, or None. ``inputs``:
    the :class:`~coloc_viewer.viewer.series_roles.RoleInputs` of a multi-series card (its
    other series); without them such a card cannot run."""
    card = getattr(model, "card", None)
    if card is None or volume is None:
        return None
    name = getattr(card, "name", None) or getattr(model, "name", "this model")
    roles = [r.get("role") if isinstance(r, dict) else getattr(r, "role", str(r))
             for r in (getattr(card, "inputs", None) or [])]
    if len(roles) > 1 and inputs is None:
        return (f"Model '{name}' takes {len(roles)} series as input channels "
                f"({', '.join(str(r) for r in roles)}); the viewer has one series open, "
                "so it cannot run this model on this study.")
    n_slices = int(volume.shape[0])
    if is_volume_model(model) and n_slices < 2:
        return (f"Model '{name}' is a 3-D model and needs a volume of at least 2 slices; "
                f"this series has {n_slices}.")
    return None


def prediction_text(prediction: dict[str, Any]) -> str:
    """"lesion (87.0%)" for a classifier, "lesion (4.2% of the pixels)" for segmentation."""
    index, label = prediction.get("index"), prediction.get("label")
    probs = prediction.get("probabilities")
    if probs is not None and index is not None:
        return f"{label} ({float(probs[index]):.1%})"
    shares = prediction.get("pixel_shares")
    if shares is not None and index is not None:
        return f"{label} ({float(shares[index]):.1%} of the pixels)"
    return str(label)


class VolumeSlice:
    """One slice ``z`` of a 3-D model's explanation of the whole volume: the maps of slice
    ``z`` on demand (no model run); everything else is the volume explanation's."""

    def __init__(self, volume_explanation: Any, z: int) -> None:
        self.volume_explanation = volume_explanation
        self.z = int(z)

    def __getattr__(self, name: str) -> Any:
        if name == "volume_explanation":  # not set yet (copy, pickle)
            raise AttributeError(name)
        return getattr(self.volume_explanation, name)

    @property
    def top_map(self) -> Any:
        return self.channel_map(self.top_channel)

    @property
    def seed_map(self) -> Any:
        return self.channel_map(self.top_channel, mode="nearest")

    def channel_map(self, k: int, grid: str = "image", mode: str = "bilinear") -> Any:
        """Channel ``k`` on slice ``z`` of the image grid; on the layer grid (thumbnails),
        the layer's depth slice proportionally nearest to ``z``."""
        whole = self.volume_explanation
        if grid == "layer":
            layer = whole.channel_map(k, grid="layer")
            n_z, depth = int(whole.image_shape[0]), int(layer.shape[0])
            d = min(depth - 1, max(0, int((self.z + 0.5) * depth / max(1, n_z))))
            return layer[d]
        return whole.channel_map(k, grid=grid, mode=mode, z=self.z)

    def cam_map(self, method: str = "gradcam", grid: str = "image",
                mode: str = "bilinear") -> Any:
        return self.volume_explanation.cam_map(method, grid=grid, mode=mode, z=self.z)

    def predicted_mask(self, grid: str = "image") -> Any:
        """A segmentation model's predicted labels on slice ``z`` (None for classifiers)."""
        if grid != "image":
            return self.volume_explanation.predicted_mask(grid=grid)
        return self.volume_explanation.predicted_mask(z=self.z)


def model_input(volume: Any, inputs: Any = None) -> Any:
    """What ``explain`` takes for the shown ``volume``: its stored volume, or ``{role:
    volume}`` with the other roles' series of ``inputs`` (a RoleInputs; loaded here)."""
    from coloc_viewer.viewer.orientation import storage_of

    return storage_of(volume) if inputs is None else inputs.explain_input(volume)


def explain_slice(model: Any, volume: Any, key: AnalysisKey,
                  inputs: Any = None) -> SliceResult:
    """Run the explanation engine on one slice (blocking; call it from a worker)."""
    from coloc_viewer.explain.engine import explain
    from coloc_viewer.viewer.orientation import shown_explanation

    if is_volume_model(model):  # one slice of a whole-volume run (compare panes, scripts)
        whole, seconds = explain_volume(model, volume, key, inputs)
        return SliceResult(key, VolumeSlice(whole, key.slice_index), seconds)
    s = key.settings
    start = time.perf_counter()
    # the model sees the stored slice (as the CLI and the API do); maps come to the display
    ex = explain(model, model_input(volume, inputs), key.slice_index, layer=s.layer,
                 target=s.target, rank=s.rank, methods=s.methods, top_k=s.top_k)
    return SliceResult(key, shown_explanation(ex, volume), time.perf_counter() - start)


def analyse_slices(model: Any, volume: Any, series: str, slices: Sequence[int],
                   settings: AnalysisSettings, cache: ResultCache | None = None,
                   prepare: Callable[[SliceResult], Any] | None = None,
                   inputs: Any = None) -> Iterator[tuple[int, int, SliceResult]]:
    """Generator over ``slices``: yields (done, total, result); cancellable between slices.
    ``inputs``: the other series of a multi-series card (a RoleInputs).

    Cached results are yielded without running the model (the GUI thread stores them).
    ``prepare(result)`` (if given) runs here, in the worker, and may return the display
    map and Scorer of a result (None to skip) so the GUI thread need not compute them.
    """
    if is_volume_model(model):
        yield from _analyse_volume(model, volume, series, slices, settings, cache, prepare,
                                   inputs)
        return
    total = len(slices)
    for done, z in enumerate(slices, start=1):
        key = AnalysisKey(series, int(z), settings)
        hit = cache.get(key) if cache is not None else None
        result = hit if hit is not None else explain_slice(model, volume, key, inputs)
        if prepare is not None:
            result = SliceResult(result.key, result.explanation, result.seconds,
                                 prepare(result))
        yield done, total, result


def _analyse_volume(model: Any, volume: Any, series: str, slices: Sequence[int],
                    settings: AnalysisSettings, cache: ResultCache | None,
                    prepare: Callable[[SliceResult], Any] | None, inputs: Any = None,
                    ) -> Iterator[tuple[int, int, SliceResult]]:
    """A 3-D model: one run over the whole volume (unless cached), then one result per
    slice of the volume, each a :class:`VolumeSlice` of that same explanation."""
    n_slices = int(volume.shape[0])
    whole = None
    for z in slices:
        hit = cache.get(AnalysisKey(series, int(z), settings)) if cache is not None else None
        if hit is not None and isinstance(hit.explanation, VolumeSlice):
            whole, seconds = hit.explanation.volume_explanation, hit.seconds
            break
    if whole is None:
        key = AnalysisKey(series, int(slices[0]) if slices else 0, settings)
        whole, seconds = explain_volume(model, volume, key, inputs)
    for done, z in enumerate(range(n_slices), start=1):
        result = SliceResult(AnalysisKey(series, z, settings), VolumeSlice(whole, z), seconds)
        if prepare is not None:
            result = SliceResult(result.key, result.explanation, result.seconds,
                                 prepare(result))
        yield done, n_slices, result


def explain_volume(model: Any, volume: Any, key: AnalysisKey,
                   inputs: Any = None) -> tuple[Any, float]:
    """Run a 3-D model once on the whole volume (blocking; call it from a worker): the
    explanation with maps (z, y, x) on the display grid, and the seconds it took. The model
    sees the stored volume (with ``inputs``: every role's series on the first role's stored
    grid); the maps come back on that grid and are shown through the display orientation."""
    from coloc_viewer.explain.engine import explain
    from coloc_viewer.viewer.orientation import shown_explanation

    s = key.settings
    start = time.perf_counter()
    ex = explain(model, model_input(volume, inputs), None, layer=s.layer, target=s.target,
                 rank=s.rank, methods=s.methods, top_k=s.top_k)
    return shown_explanation(ex, volume), time.perf_counter() - start


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
