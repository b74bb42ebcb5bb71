"""Self-test step: a MONAI 3-D model is found by name, loaded safely and explained.

A bundle that lacks ``monai.networks`` (or its metadata), or whose 3-D path breaks, fails
here rather than at a researcher's first card. The step builds a small MONAI DenseNet card
(random weights, written like a user's; target layer the features after the last ReLU,
where the logit decomposes exactly), loads it through ``load_model`` and explains the demo
volume with it: the Grad-CAM must come back on the volume grid, finite, with the exact
decomposition of the logit. When the bundled ``demo-mpmri`` and the demo's T2/ADC/DWI
series are present, it explains those too (roles matched by series description).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from coloc_viewer.selftest.checks import SmokeFailure

MONAI_ARGS = {"spatial_dims": 3, "in_channels": 1, "out_channels": 2, "init_features": 8,
              "growth_rate": 4, "block_config": [2, 2]}
MPMRI = "demo-mpmri"


def _tiny_monai_card(folder: Path) -> Path:
    import monai.networks.nets as nets
    import torch
    from safetensors.torch import save_file

    torch.manual_seed(0)
    module = nets.DenseNet(**MONAI_ARGS)
    save_file({k: v.contiguous() for k, v in module.state_dict().items()},
              str(folder / "selftest-monai3d.safetensors"))
    card = {"name": "selftest-monai3d", "architecture": "monai:DenseNet",
            "architecture_args": MONAI_ARGS, "weights": "selftest-monai3d.safetensors",
            "in_channels": 1, "spatial_dims": 3, "input_size": [16, 64, 64],
            "normalization": {"mode": "zscore"}, "classes": ["no lesion", "lesion"],
            "positive_class": 1, "target_layer": "class_layers.relu"}
    path = folder / "selftest-monai3d.json"
    path.write_text(json.dumps(card))
    return path


def _check_3d(expl: Any, shape: tuple[int, ...], what: str,
              exact: bool = True) -> dict[str, Any]:
    """The map is on the volume grid and finite; with ``exact``, the layer feeds the pooled
    linear head and the contributions must sum to the logit."""
    cam = expl.cam_map("gradcam")
    if expl.slice_index is not None or cam.shape != tuple(shape):
        raise SmokeFailure(f"{what}: Grad-CAM of shape {cam.shape}, expected the volume's "
                           f"{tuple(shape)}")
    if not np.isfinite(cam).all():
        raise SmokeFailure(f"{what}: the Grad-CAM holds non-finite values")
    dec = expl.decomposition or {}
    if exact and dec.get("exact") is False:
        raise SmokeFailure(f"{what}: contributions do not sum to the logit ({dec})")
    return {"cam_shape": list(cam.shape), "prediction": expl.prediction.get("label"),
            "residual": dec.get("residual")}


def check_monai_3d(out_dir: Path, volume: Any, case_folder: Path | None) -> dict[str, Any]:
    """Run the step; returns facts for the report (raises :class:`SmokeFailure`)."""
    from coloc_viewer.explain.engine import explain
    from coloc_viewer.model.loading import list_bundled_models, load_model

    if volume is None:
        raise SmokeFailure("the demo volume was not loaded by an earlier step")
    model = load_model(str(_tiny_monai_card(out_dir)))
    facts = {"monai": _check_3d(explain(model, volume), volume.shape, "MONAI DenseNet 3-D")}
    if MPMRI in list_bundled_models() and case_folder is not None:
        from coloc_viewer.cli.model_inputs import load_model_inputs

        mp = load_model(MPMRI)
        first, inputs = load_model_inputs(mp.card, str(case_folder), None, {})
        facts[MPMRI] = _check_3d(explain(mp, inputs), first.shape, MPMRI, exact=False)
        facts[MPMRI]["roles"] = sorted(inputs) if isinstance(inputs, dict) else None
    return facts
