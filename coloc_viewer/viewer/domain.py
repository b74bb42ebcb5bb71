"""Out-of-domain warnings: does the study look like what the model card ``expects``?

``expects`` (optional, in the card) may hold ``modality`` (a string or a list),
``body_part`` (likewise; compared with the series' BodyPartExamined when it has one),
``pixel_spacing_mm`` [min, max] (in-plane) and ``matrix`` [min, max] (rows and columns).
Unknown keys are ignored; a study outside any range gets one warning line per reason.
"""

from __future__ import annotations

from typing import Any


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in (value if isinstance(value, list | tuple) else [value])]


def _range(value: Any) -> tuple[float, float] | None:
    try:
        low, high = (float(v) for v in value)
    except (TypeError, ValueError):
        return None
    return low, high


def domain_warnings(volume: Any, expects: dict[str, Any] | None) -> list[str]:
    """Why ``volume`` lies outside ``expects`` (empty when it fits or nothing is expected)."""
    if not expects or volume is None:
        return []
    meta = getattr(volume, "metadata", {}) or {}
    out = []
    modalities = _as_list(expects.get("modality"))
    modality = str(meta.get("modality") or "")
    if modalities and modality and modality.upper() not in {m.upper() for m in modalities}:
        out.append(f"modality {modality}, the model expects {'/'.join(modalities)}")
    parts = _as_list(expects.get("body_part"))
    part = str(meta.get("body_part") or "")
    if parts and part and part.upper() not in {p.upper() for p in parts}:
        out.append(f"body part {part}, the model expects {'/'.join(parts)}")
    spacing = _range(expects.get("pixel_spacing_mm") or expects.get("spacing_mm"))
    if spacing is not None:
        sy, sx = float(volume.spacing[1]), float(volume.spacing[2])
        if not all(spacing[0] <= s <= spacing[1] for s in (sy, sx)):
            out.append(f"pixel spacing {sy:.3g} x {sx:.3g} mm, the model expects "
                       f"{spacing[0]:g}-{spacing[1]:g} mm")
    matrix = _range(expects.get("matrix") or expects.get("matrix_size"))
    if matrix is not None:
        rows, cols = int(volume.shape[1]), int(volume.shape[2])
        if not all(matrix[0] <= n <= matrix[1] for n in (rows, cols)):
            out.append(f"matrix {rows} x {cols}, the model expects {matrix[0]:g}-{matrix[1]:g}")
    return out


def target_note(explanation: Any, card: Any) -> str:
    """"Explaining class 'no lesion', the model's prediction." when the explained class is
    the prediction and not the card's positive class (else "")."""
    if explanation is None:
        return ""
    pred = getattr(explanation, "prediction", {}) or {}
    target = getattr(explanation, "target", None)
    positive = getattr(card, "positive_class", None)
    if target is None or target != pred.get("index") or positive is None or target == positive:
        return ""
    name = getattr(explanation, "target_label", None) or str(target)
    return f"Explaining class '{name}', the model's prediction."
