"""Benchmark: explanation cost vs the plain forward (DESIGN §8), as JSON.

ResNet50 (fixed random weights, eval, 2 threads) at 1x3x512x512 and 1x3x224x224:
plain no-grad forward; coloc_viewer ``explain`` (capture + contribution ranking of all
channels + Grad-CAM); torchcam GradCAM; captum LayerGradCam (+ upsampling); pytorch-grad-cam
GradCAM. One warm-up, then rounds (3 by default) that interleave the methods in rotating
order; medians and ratios to the plain forward (also the median of per-round ratios,
steadier on a shared machine), and CPU-time ratios. Score-CAM at 224: all 2048 channels
against the same number of plain forwards in the same batch size (paired per batch); by
default estimated from the first ``--scorecam-subset`` channels (``--full-scorecam`` runs
all 2048, several minutes), plus the top-64 variant.

3-D (``--only-3d`` runs just this): MONAI DenseNet121 (spatial_dims 3, 1 input channel) at
1x1x32x128x128: plain no-grad forward vs ``explain`` (capture + contribution ranking +
Grad-CAM) at the default layer and at ``features.denseblock3``, and pytorch-grad-cam's 3-D
GradCAM, interleaved rounds as above.

    .venv/bin/python benchmarks/bench_explain.py [--sizes 512 224] [--full-scorecam]
        [--no-3d | --only-3d]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import warnings

import numpy as np
import torch

from coloc_viewer.explain.engine import explain
from coloc_viewer.explain.scorecam import _batch_size, scorecam, scorecam_scores
from coloc_viewer.model.architectures import build_torchvision
from coloc_viewer.model.loading import wrap_module

FIXED3 = {"mode": "fixed", "mean": [0.0], "std": [1.0]}


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def _timed_both(fn) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process): CPU time is steadier on a shared box."""
    t, c = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - t, time.process_time() - c


def _methods(model, lm, img: np.ndarray, x: torch.Tensor, target: int):
    from captum.attr import LayerAttribution, LayerGradCam
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
    from torchcam.methods import GradCAM as TorchcamGradCAM

    def plain():
        with torch.no_grad():
            model(x)

    def ours():
        explain(lm, img, 0, target=target, rank="contribution", methods=("gradcam",))

    def torchcam():
        with TorchcamGradCAM(model, target_layer="layer4") as ext:
            out = model(x)
            ext(target, out)

    def captum():
        attr = LayerGradCam(model, model.layer4).attribute(x, target=target)
        LayerAttribution.interpolate(attr, x.shape[-2:], "bilinear")

    def pgc():
        with GradCAM(model=model, target_layers=[model.layer4]) as cam:
            cam(input_tensor=x, targets=[ClassifierOutputTarget(target)])

    return {"plain_forward": plain, "coloc_viewer_explain": ours, "torchcam_gradcam": torchcam,
            "captum_layergradcam": captum, "pytorch_grad_cam_gradcam": pgc}


def bench_size(model, size: int, repeats: int) -> dict:
    rng = np.random.default_rng(0)
    img = rng.normal(size=(size, size)).astype(np.float32)
    lm = wrap_module(model, in_channels=3, input_size=(size, size), normalization=FIXED3)
    x, _ = lm.preprocess(img)
    with torch.no_grad():
        target = int(model(x).argmax())
    fns = _methods(model, lm, img, x, target)
    for fn in fns.values():  # warm-up (also fills explain's per-model dry-run cache)
        fn()
    times: dict[str, list[float]] = {k: [] for k in fns}
    cpu: dict[str, list[float]] = {k: [] for k in fns}
    names = list(fns)
    for r in range(repeats):
        for k in names[r % len(names):] + names[:r % len(names)]:  # rotate the order
            wall, used = _timed_both(fns[k])
            times[k].append(wall)
            cpu[k].append(used)
    med = {k: statistics.median(v) for k, v in times.items()}
    med_cpu = {k: statistics.median(v) for k, v in cpu.items()}
    e = explain(lm, img, 0, target=target)
    return {
        "input": [1, 3, size, size],
        "seconds_median": {k: round(v, 4) for k, v in med.items()},
        "seconds_all": {k: [round(t, 4) for t in v] for k, v in times.items()},
        "ratio_to_plain_forward": {k: round(v / med["plain_forward"], 3)
                                   for k, v in med.items()},
        "paired_ratio_to_plain_forward": {
            k: round(statistics.median(a / b for a, b in zip(v, times["plain_forward"])), 3)
            for k, v in times.items()},
        "paired_explain_vs_torchcam": round(statistics.median(
            a / b for a, b in zip(times["coloc_viewer_explain"], times["torchcam_gradcam"])), 3),
        "explain_vs_torchcam": round(med["coloc_viewer_explain"] / med["torchcam_gradcam"], 3),
        "cpu_seconds_median": {k: round(v, 4) for k, v in med_cpu.items()},
        "cpu_ratio_to_plain_forward": {k: round(v / med_cpu["plain_forward"], 3)
                                       for k, v in med_cpu.items()},
        "targets": {"explain_max_ratio": 1.2, "explain_not_slower_than_torchcam": True},
        "meets_targets": bool(med["coloc_viewer_explain"] <= 1.2 * med["plain_forward"]
                              and med["coloc_viewer_explain"] <= med["torchcam_gradcam"]),
        "capture_plan": e.plan,
        "decomposition_residual": e.decomposition["residual"],
    }


def bench_scorecam(model, size: int, subset: int | None) -> dict:
    """Score-CAM against plain forwards of the same batches. Each batch is timed right
    after its reference batch (paired), so load changes on a shared machine hit both."""
    rng = np.random.default_rng(1)
    x = torch.from_numpy(rng.normal(size=(1, 3, size, size)).astype(np.float32))
    lm = wrap_module(model, in_channels=3, input_size=(size, size), normalization=FIXED3)
    e = explain(lm, x[0, 0].numpy(), 0, methods=())
    acts = torch.from_numpy(e.activations)
    C = acts.shape[0]
    n = C if subset is None else min(subset, C)
    bs = _batch_size(x)

    def reference(k: int) -> None:  # k plain forwards of fresh inputs, one batch
        with torch.no_grad():
            model(x * torch.ones(k, 1, 1, 1))

    reference(2)  # warm-up
    wall = {"ours": 0.0, "ref": 0.0}
    cpu = {"ours": 0.0, "ref": 0.0}
    for start in range(0, n, bs):
        chans = range(start, min(n, start + bs))
        for side, fn in (("ref", lambda c=chans: reference(len(c))),
                         ("ours", lambda c=chans: scorecam_scores(model, x, acts, e.target, c))):
            w, c = _timed_both(fn)
            wall[side] += w
            cpu[side] += c
    top = e.order[:64].tolist()
    top64 = _timed(lambda: scorecam(model, x, acts, e.target, channels=top))
    scale = C / n
    return {
        "input": [1, 3, size, size], "channels": C, "batch_size": bs,
        "measured_channels": n, "estimated_from_subset": n < C,
        "note": (f"all-channel figures extrapolated x{scale:g} from the first {n} channels; "
                 "run with --full-scorecam for the full 2048" if n < C else "all channels run"),
        "seconds_all_channels": round(wall["ours"] * scale, 2),
        "seconds_same_number_of_plain_forwards": round(wall["ref"] * scale, 2),
        "ratio_to_plain_forwards": round(wall["ours"] / wall["ref"], 3),
        "cpu_ratio_to_plain_forwards": round(cpu["ours"] / cpu["ref"], 3),
        "target_ratio": 1.1, "meets_target": bool(wall["ours"] <= 1.1 * wall["ref"]),
        "seconds_top64": round(top64, 2),
        "pytorch_grad_cam_scorecam_seconds_reference": 297,
        "pytorch_grad_cam_reference_note": "research/xai_anchors.md: extrapolated x8 from a "
                                           "256-channel run on this kind of machine",
    }


def bench_3d(repeats: int, shape: tuple[int, int, int] = (32, 128, 128)) -> dict:
    """3-D DenseNet121: explain (default layer and denseblock3) vs the plain forward."""
    from monai.networks.nets import DenseNet121
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    torch.manual_seed(0)
    model = DenseNet121(spatial_dims=3, in_channels=1, out_channels=2).eval()
    vol = np.random.default_rng(2).normal(size=shape).astype(np.float32)
    lm = wrap_module(model, in_channels=1, input_size=shape, normalization=FIXED3)
    x, tf = lm.preprocess(vol, (1.0, 1.0, 1.0))
    assert tf.is_identity
    with torch.no_grad():
        target = int(model(x).argmax())

    def plain():
        with torch.no_grad():
            model(x)

    def ours(layer=None):
        return explain(lm, vol, layer=layer, target=target, rank="contribution",
                       methods=("gradcam",))

    def pgc():
        with GradCAM(model=model, target_layers=[model.features.denseblock3]) as cam:
            cam(input_tensor=x, targets=[ClassifierOutputTarget(target)])

    fns = {"plain_forward": plain, "explain_default_layer": ours,
           "explain_denseblock3": lambda: ours("features.denseblock3"),
           "pytorch_grad_cam_gradcam_denseblock3": pgc}
    for fn in fns.values():
        fn()
    times: dict[str, list[float]] = {k: [] for k in fns}
    cpu: dict[str, list[float]] = {k: [] for k in fns}
    names = list(fns)
    for r in range(repeats):
        for k in names[r % len(names):] + names[:r % len(names)]:
            wall, used = _timed_both(fns[k])
            times[k].append(wall)
            cpu[k].append(used)
    med = {k: statistics.median(v) for k, v in times.items()}
    med_cpu = {k: statistics.median(v) for k, v in cpu.items()}
    e, e3 = ours(), ours("features.denseblock3")
    return {
        "model": "monai DenseNet121 spatial_dims=3 (random init, eval)",
        "input": [1, 1, *shape],
        "layers": {"explain_default_layer": [e.layer, list(e.activations.shape)],
                   "explain_denseblock3": [e3.layer, list(e3.activations.shape)]},
        "seconds_median": {k: round(v, 4) for k, v in med.items()},
        "seconds_all": {k: [round(t, 4) for t in v] for k, v in times.items()},
        "ratio_to_plain_forward": {k: round(v / med["plain_forward"], 3)
                                   for k, v in med.items()},
        "paired_ratio_to_plain_forward": {
            k: round(statistics.median(a / b for a, b in zip(v, times["plain_forward"])), 3)
            for k, v in times.items()},
        "cpu_ratio_to_plain_forward": {k: round(v / med_cpu["plain_forward"], 3)
                                       for k, v in med_cpu.items()},
        "target_ratio": 1.2,
        "meets_target": bool(max(med["explain_default_layer"], med["explain_denseblock3"])
                             <= 1.2 * med["plain_forward"]),
        "capture_plan": e.plan, "decomposition_exact_default_layer": e.decomposition["exact"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[512, 224])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--scorecam-subset", type=int, default=128)
    ap.add_argument("--full-scorecam", action="store_true")
    ap.add_argument("--no-scorecam", action="store_true")
    ap.add_argument("--no-3d", action="store_true")
    ap.add_argument("--only-3d", action="store_true")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    torch.set_num_threads(args.threads)
    if args.only_3d:
        print(json.dumps({"benchmark": "explain", "threads": torch.get_num_threads(),
                          "torch": torch.__version__, "3d": bench_3d(args.repeats)}, indent=1))
        return
    torch.manual_seed(0)
    model = build_torchvision("resnet50", 1000, 3).eval()
    out = {"benchmark": "explain", "model": "resnet50 (random init, eval)",
           "threads": torch.get_num_threads(), "torch": torch.__version__,
           "sizes": {str(s): bench_size(model, s, args.repeats) for s in args.sizes}}
    if not args.no_scorecam:
        out["scorecam"] = bench_scorecam(model, 224,
                                         None if args.full_scorecam else args.scorecam_subset)
    if not args.no_3d:
        out["3d"] = bench_3d(args.repeats)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
