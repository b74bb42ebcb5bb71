"""Model cards written in the tests of the viewer's multi-series, mask-overlay and
orientation work: a tiny MONAI 3-D DenseNet classifier and a tiny MONAI UNet segmenter."""

from __future__ import annotations

import json
from pathlib import Path

DENSENET_ARGS = {"spatial_dims": 3, "in_channels": 1, "out_channels": 2, "init_features": 8,
                 "growth_rate": 4, "block_config": [2, 2]}


def _save(module, folder: Path, name: str, card: dict) -> Path:
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in module.state_dict().items()},
              str(folder / f"{name}.safetensors"))
    path = folder / f"{name}.json"
    path.write_text(json.dumps({"name": name, "weights": f"{name}.safetensors", **card}))
    return path


def densenet3d_card(folder: Path, name: str = "tiny-densenet3d") -> Path:
    import torch
    from monai.networks.nets import DenseNet

    torch.manual_seed(0)
    module = DenseNet(**DENSENET_ARGS).eval()
    return _save(module, folder, name, {
        "architecture": "monai:DenseNet", "architecture_args": DENSENET_ARGS,
        "in_channels": 1, "spatial_dims": 3, "input_size": [8, 32, 32],
        "normalization": {"mode": "zscore"}, "classes": ["no lesion", "lesion"],
        "positive_class": 1, "target_layer": "class_layers.relu"})


def unet_card(folder: Path, out_channels: int, name: str, spatial_dims: int = 2,
              bias: dict[int, float] | None = None) -> Path:
    """A seeded MONAI UNet segmentation card; ``bias`` adds to output biases (per class)."""
    import torch
    from monai.networks.nets import UNet

    torch.manual_seed(21)
    args = {"spatial_dims": spatial_dims, "in_channels": 1, "out_channels": out_channels,
            "channels": [8, 16, 32], "strides": [2, 2], "num_res_units": 0}
    module = UNet(**args).eval()
    with torch.no_grad():
        for c, b in (bias or {}).items():
            module.get_submodule("model.2.conv").bias[c] += b
    size = [64, 64] if spatial_dims == 2 else [16, 32, 32]
    classes = ["lesion"] if out_channels == 1 else \
        ["background", "gland", "lesion"][:out_channels]
    return _save(module, folder, name, {
        "architecture": "monai:UNet", "architecture_args": args, "in_channels": 1,
        "spatial_dims": spatial_dims, "input_size": size, "task": "segmentation",
        "normalization": {"mode": "zscore"}, "classes": classes,
        "positive_class": out_channels - 1})


def resnet_two_series_card(folder: Path, name: str = "tiny-resnet-t2-adc") -> Path:
    """A 2-D torchvision resnet18 on two series (T2 and ADC as channels), 32 x 32."""
    import torch

    from coloc_viewer.model.architectures import build_torchvision

    torch.manual_seed(3)
    module = build_torchvision("resnet18", 2, 2).eval()
    return _save(module, folder, name, {
        "architecture": "resnet18", "in_channels": 2, "input_size": [32, 32],
        "inputs": [{"role": "T2", "series": "(?i)t2"}, {"role": "ADC", "series": "(?i)adc"}],
        "normalization": {"mode": "zscore"}, "classes": ["no lesion", "lesion"],
        "positive_class": 1, "target_layer": "layer3"})
