"""Training slices from a cohort manifest: model inputs, labels and "outside" masks.

Every slice goes through ``model.preprocess`` exactly as the cohort and ``explain`` feed it,
so training sees what inference sees. Rules (also in docs/refine.md):

* **slices** -- the manifest's ``slices`` when given, else every slice of the volume;
* **label** -- the manifest's ``label`` (class index or name) for every slice of a case that
  has one; otherwise the card's positive class (``positive_class``, default 1) for a slice
  with lesion-ROI pixels and class 0 (or 1 when the positive class is 0) for the others;
* **lesion ROI** -- the ROI called ``lesion_roi``; default ``lesion`` when the file has one,
  else the file's first ROI;
* **outside** (where the model must not look), on the model's input grid: on a slice with
  lesion pixels, every input pixel that no lesion pixel touches (the lesion mask is
  resampled like the image and any overlap counts as inside); on a slice without, nothing,
  or with ``organ_roi`` every input pixel that no organ pixel touches (a lesion-free slice
  is read inside the organ); with ``shortcut_roi``, the pixels the shortcut ROI touches
  are added on every slice. The
  masked method sets the outside to 0 (the normalised input's zero).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from coloc_viewer.cohort.manifest import Case
from coloc_viewer.cohort.worker import class_index, load_case
from coloc_viewer.errors import ColocError, InputError


@dataclass(eq=False)
class TrainingSet:
    """Stacked slices: ``x`` (n, C, h, w) float32, ``y`` (n,) int64, ``outside`` (n, 1, h, w)
    bool, and where each came from (``case_id``, slice index)."""

    x: torch.Tensor
    y: torch.Tensor
    outside: torch.Tensor
    origin: list[tuple[str, int]]
    lesion_names: tuple[str, ...] = ()  # the lesion ROI used, per case

    def __len__(self) -> int:
        return int(self.y.numel())

    @property
    def n_positive(self) -> int:
        return int((self.y != 0).sum())


def lesion_name(masks: dict[str, np.ndarray], wanted: str | None, where: str) -> str:
    """The lesion ROI's name among ``masks`` (see the module rules)."""
    if wanted is not None:
        if wanted not in masks:
            raise InputError(f"no ROI named {wanted!r} (the file has "
                             f"{', '.join(masks) or 'none'})", where)
        return wanted
    if not masks:
        raise InputError("the ROI file holds no ROI", where)
    return "lesion" if "lesion" in masks else next(iter(masks))


def _on_grid(tf: Any, mask2d: np.ndarray) -> np.ndarray:
    """A boolean mask resampled onto the input grid: True where any ROI pixel touches."""
    return tf.to_input_grid(mask2d.astype(np.float32), pad_value=0.0) > 1e-6


def _images(card: Any, inputs: Any, z: int) -> Any:
    if isinstance(inputs, dict):
        return [inputs[str(r["role"])].voxels[z] for r in card.inputs]
    return inputs.voxels[z]


def slice_labels(case: Case, lesion_any: np.ndarray, classes: Sequence[str],
                 positive: int) -> np.ndarray:
    """(n_slices,) int64 labels of a case (the module rules)."""
    if case.label is not None:
        try:
            idx = class_index(case.label, tuple(classes))
        except ValueError as err:
            raise InputError(f"row {case.row}: {err}", case.image) from None
        return np.full(lesion_any.shape, idx, np.int64)
    negative = 0 if positive != 0 else 1
    return np.where(lesion_any, positive, negative).astype(np.int64)


def build_training_set(model: Any, cases: Sequence[Case], *, lesion_roi: str | None = None,
                       shortcut_roi: str | None = None, organ_roi: str | None = None,
                       cancel: Callable[[], bool] | None = None) -> TrainingSet | None:
    """Load, preprocess and stack every training slice of ``cases`` for ``model`` (a
    :class:`~coloc_viewer.model.loading.LoadedModel` of a 2-D classifier). A case that
    cannot be read is an :class:`InputError` naming its file (training on a silently
    smaller set would not be the experiment asked for). None when ``cancel()`` turned true."""
    card = model.card
    classes = tuple(model.classes)
    positive = card.positive_class if card.positive_class is not None else min(1, len(classes)
                                                                                - 1)
    xs: list[torch.Tensor] = []
    ys: list[int] = []
    outs: list[np.ndarray] = []
    origin: list[tuple[str, int]] = []
    names: list[str] = []
    for case in cases:
        if cancel is not None and cancel():
            return None
        try:
            volume, inputs, masks = load_case(case, None, card)
        except ColocError:
            raise
        except (ValueError, OSError, RuntimeError, KeyError) as err:
            raise InputError(f"case {case.case_id}: {err}", case.roi) from None
        lname = lesion_name(masks, lesion_roi, case.roi)
        lesion = masks[lname]
        names.append(lname)
        if shortcut_roi is not None and shortcut_roi not in masks:
            raise InputError(f"case {case.case_id}: no shortcut ROI named {shortcut_roi!r} "
                             f"(the file has {', '.join(masks)})", case.roi)
        shortcut = masks.get(shortcut_roi) if shortcut_roi else None
        if organ_roi is not None and organ_roi not in masks:
            raise InputError(f"case {case.case_id}: no organ ROI named {organ_roi!r} "
                             f"(the file has {', '.join(masks)})", case.roi)
        organ = masks.get(organ_roi) if organ_roi else None
        n_z = volume.shape[0]
        zs = list(case.slices) if case.slices is not None else list(range(n_z))
        bad = [z for z in zs if z >= n_z]
        if bad:
            raise InputError(f"case {case.case_id}: slice(s) {bad} outside the volume "
                             f"(0..{n_z - 1})", case.image)
        lesion_any = lesion.reshape(n_z, -1).any(axis=1)
        labels = slice_labels(case, lesion_any, classes, positive)
        for z in zs:
            x, tf = model.preprocess(_images(card, inputs, z), volume.spacing[1:])
            h, w = x.shape[-2:]
            outside = np.zeros((h, w), bool)
            if lesion_any[z]:
                outside = ~_on_grid(tf, lesion[z]).reshape(h, w)
            elif organ is not None and organ[z].any():
                outside = ~_on_grid(tf, organ[z]).reshape(h, w)
            if shortcut is not None and shortcut[z].any():
                outside |= _on_grid(tf, shortcut[z]).reshape(h, w)
            xs.append(x[0].cpu())
            ys.append(int(labels[z]))
            outs.append(outside)
            origin.append((case.case_id, int(z)))
    if not xs:
        raise InputError("the manifest gives no training slices")
    return TrainingSet(x=torch.stack(xs).float(), y=torch.tensor(ys, dtype=torch.int64),
                       outside=torch.from_numpy(np.stack(outs)[:, None]), origin=origin,
                       lesion_names=tuple(names))
