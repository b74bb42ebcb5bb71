"""Checks of a cohort's options and models made before any case runs, so that a mistake the
whole run shares is one line and exit status 2, not the same failure recorded per case."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from coloc_viewer.errors import ColocError, InputError


def check_numbers(threshold: float, threads: int | None, batch_size: int) -> None:
    """The numeric options: the dice/IoU threshold is a fraction, counts are positive."""
    if not 0.0 <= threshold <= 1.0:
        raise InputError(f"--threshold must lie in [0, 1] (a fraction of the map's maximum), "
                         f"got {threshold:g}")
    if threads is not None and threads < 1:
        raise InputError(f"--threads must be at least 1, got {threads}")
    if batch_size < 1:
        raise InputError(f"--batch-size must be at least 1, got {batch_size}")


def check_models(models: Sequence[str], layer: str | None, target: int | str | None = None
                 ) -> None:
    """Every model loads, has the layer asked for (``--layer``, else its card's
    ``target_layer``) and the class ``--target`` names; a failure names the model and its
    card."""
    from coloc_viewer.explain.engine import model_task
    from coloc_viewer.explain.layers import list_layers, resolve_layer
    from coloc_viewer.model.loading import load_model

    for name in models:
        model = load_model(name)
        card: Any = model.card
        try:
            layers = list_layers(model.module, (card.in_channels, *card.input_size),
                                 model.device)
            resolve_layer(layers, layer, card.target_layer,
                          deepest=model_task(card) == "segmentation")
        except ColocError as err:
            where = getattr(err, "reason", str(err))
            raise InputError(f"model {card.name}: {where}", card.path or name) from None
        classes = tuple(card.classes)
        if isinstance(target, str) and target not in classes or \
                isinstance(target, int) and not 0 <= target < len(classes):
            raise InputError(f"model {card.name}: --target {target!r} is not one of its "
                             f"classes ({', '.join(classes)}, or 0..{len(classes) - 1})",
                             card.path or name)
