"""``coloc-viewer analyze IMAGE --roi ROI``: explain one slice (or, for a 3-D model, the
volume) and score it against the ROI. ``--input ROLE=PATH`` feeds the other series of a
card with several input roles (``cli.model_inputs``).

JSON (``--json``) keys: ``model, layer, slice`` (0-based; null for a 3-D model),
``slice_number`` (1-based, as people count), ``prediction {index, label, probabilities},
target, rank, method, roi, top_channels [{channel, importance}] (10, best first),
decomposition, scores {top_map: {...}, cam: {...}}``, and ``dicom_outputs {seg, sr}`` when
``--seg`` / ``--sr`` wrote them (``cli.dicom_outputs``); for a file with several ROIs and no
``--roi-name``, ``scores.per_roi`` = ``{name: {top_map: {...}, cam: {...}}}`` as well
(the top-level scores then use the file's first ROI).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import numpy as np

from coloc_viewer.cli.dicom_outputs import add_options as add_dicom_options
from coloc_viewer.cli.dicom_outputs import check_dicom_options, write_dicom_outputs
from coloc_viewer.errors import InputError
from coloc_viewer.explain.choices import CRITERIA, METHODS
from coloc_viewer.metrics.definitions import SCORE_KEYS

METHOD_HELP = (", ".join(m + (" (default)" if m == "gradcam" else "") for m in METHODS)
               + ", scorecam:K (top-K)")


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "analyze", help="explain one slice with a model and score it against an ROI",
        description="Run a model on one slice, rank the chosen layer's channels, compute a "
                    "CAM, and score the top feature map and the CAM against the ROI. "
                    "Warnings about the study go to stderr; mistakes are one line, exit 2.",
        epilog="example: coloc-viewer analyze resources/demo/case-01/dicom --roi "
               "resources/demo/case-01/rois.seg.dcm --model demo-shortcut --method gradcam")
    p.add_argument("image", help="DICOM file/folder/DICOMDIR/zip or NIfTI/MHA/NRRD file")
    p.add_argument("--roi", required=True, help="ROI file (label map, .seg.nrrd, DICOM SEG)")
    p.add_argument("--series", help="series UID when IMAGE holds several series")
    p.add_argument("--slice", type=int, help="slice index (default: where the ROI is largest)")
    p.add_argument("--model", help="bundled model name or model card JSON "
                                   "(default: the first bundled model)")
    p.add_argument("--layer", help="layer name (default: the card's target_layer)")
    p.add_argument("--target", help="class index or label (default: the predicted class)")
    p.add_argument("--rank", choices=CRITERIA, default="contribution",
                   help="channel ranking criterion (default: contribution)")
    p.add_argument("--method", default="gradcam", help=METHOD_HELP)
    p.add_argument("--roi-name", help="which ROI of a multi-ROI file (default: the first, "
                                      "plus per-ROI scores)")
    p.add_argument("--input", action="append", metavar="ROLE=PATH",
                   help="another series for a model card with several input roles (IMAGE is "
                        "the first role; a role not given is matched among IMAGE's series)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    add_dicom_options(p)
    return p


def largest_roi_slice(mask: np.ndarray) -> int:
    """The slice index with the most ROI voxels (the lowest index on ties)."""
    areas = np.asarray(mask, dtype=bool).reshape(mask.shape[0], -1).sum(axis=1)
    if not areas.any():
        raise InputError("the ROI is empty on every slice")
    return int(np.argmax(areas))


def _target(value: str | None) -> int | str | None:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return value


def _scores_for(expl: Any, cam_key: str, roi: np.ndarray) -> dict[str, dict[str, Any]]:
    """Slice scores for a 2-D model (``roi`` is the (z, y, x) mask), volume scores for a
    3-D one (the per-slice breakdown stays out of the CLI's output)."""
    from coloc_viewer.explain.scoring import score_explanation

    scores = score_explanation(expl, roi, cam_key)
    return {k: {m: v for m, v in sc.items() if m != "slices"} for k, sc in scores.items()}


def analyze(args: argparse.Namespace) -> dict[str, Any]:
    """The analysis as a JSON-ready dict (the CLI's ``--json`` output)."""
    from coloc_viewer.cli.model_inputs import load_model_inputs, parse_input_options
    from coloc_viewer.explain.engine import explain, parse_method
    from coloc_viewer.imaging.roi_io import load_rois
    from coloc_viewer.model.loading import default_model_name, load_model

    check_dicom_options(args)
    name, k = parse_method(args.method)
    cam_key = name if k is None else f"{name}:{k}"
    given = parse_input_options(getattr(args, "input", None))
    model = load_model(args.model or default_model_name())
    volume, model_input = load_model_inputs(model.card, args.image, args.series, given)
    try:
        rois = load_rois(args.roi, like=volume)
    except InputError as err:  # an ROI that does not fit may be a slice the loader skipped
        skipped = _loader_warnings(volume)
        if not skipped:
            raise
        raise InputError(f"{err.reason} (the image loaded with warnings: "
                         f"{'; '.join(skipped)})", err.path) from None
    if len(rois) == 0:
        raise InputError("the ROI file holds no ROI", args.roi)
    if args.roi_name is not None and args.roi_name not in rois:
        raise InputError(f"no ROI named {args.roi_name!r} (available: "
                         f"{', '.join(rois.names)})", args.roi)
    main_roi = rois[args.roi_name] if args.roi_name is not None else rois[0]
    mask = np.asarray(main_roi.mask, dtype=bool)
    three_d = getattr(model.card, "spatial_dims", 2) == 3
    if three_d:
        if args.slice is not None:
            raise InputError(f"--slice cannot be used with the 3-D model {model.name!r}: it "
                             "explains the whole volume")
        if not mask.any():
            raise InputError("the ROI is empty on every slice", args.roi)
        z = None
    elif args.slice is None:
        z = largest_roi_slice(mask)
    else:
        z = int(args.slice)
        if not 0 <= z < volume.shape[0]:
            raise InputError(f"--slice {z} is out of range (0..{volume.shape[0] - 1})",
                             args.image)
    expl = explain(model, model_input, z, layer=args.layer, target=_target(args.target),
                   rank=args.rank, methods=(cam_key,), top_k=10)
    out = expl.summary()
    out["slice_number"] = None if out["slice"] is None else out["slice"] + 1
    out["method"] = cam_key
    out["roi"] = main_roi.name
    out["scores"] = _scores_for(expl, cam_key, mask)
    if args.roi_name is None and len(rois) > 1:
        out["scores"]["per_roi"] = {roi.name: _scores_for(expl, cam_key,
                                                          np.asarray(roi.mask, bool))
                                    for roi in rois}
    written = write_dicom_outputs(args, out, volume, rois, model.card)
    if written:
        out["dicom_outputs"] = written
    out["warnings"] = study_warnings(volume, model.card)
    return out


def study_warnings(volume: Any, card: Any) -> list[str]:
    """What a reader should know about this study and model: the loader's warnings (files
    skipped, slices missing, another series chosen) and the card's out-of-domain ones (a
    CT for an MR model, a matrix or pixel size outside the range it was trained on)."""
    from coloc_viewer.viewer.domain import domain_warnings

    domain = domain_warnings(volume, getattr(card, "expects", None))
    return _loader_warnings(volume) + [f"outside the model's domain: {w}" for w in domain]


def _loader_warnings(volume: Any) -> list[str]:
    """What the loader noted: files skipped, slices missing, another series chosen."""
    return [str(w) for w in (volume.metadata.get("warnings") or [])]


def _fmt(v: Any) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)




def _text(out: dict[str, Any]) -> str:
    pred = out["prediction"]
    lines = [
        f"model {out['model']}  layer {out['layer']}  "
        + (f"slice {out['slice_number']} (counted from 1)" if out["slice"] is not None
           else "whole volume (3-D model)") + f"  ROI {out['roi']}",
        f"prediction: {pred['label']} (class {pred['index']}, "
        + (f"p = {pred['probabilities'][pred['index']]:.3f}" if "probabilities" in pred
           else f"{pred['pixel_shares'][pred['index']]:.1%} of the pixels")
        + f"); target class {out['target']}",
        f"top channels by {out['rank']}: " + ", ".join(
            f"{c['channel']} ({c['importance']:.4g})" for c in out["top_channels"]),
        f"{'score':<16}{'top map':>10}{out['method']:>12}",
    ]
    for key in SCORE_KEYS:
        lines.append(f"{key:<16}{_fmt(out['scores']['top_map'].get(key)):>10}"
                     f"{_fmt(out['scores']['cam'].get(key)):>12}")
    for name, sc in out["scores"].get("per_roi", {}).items():
        top, cam = sc["top_map"], sc["cam"]
        lines.append(f"ROI {name}: relevance_mass top map {_fmt(top.get('relevance_mass'))}, "
                     f"{out['method']} {_fmt(cam.get('relevance_mass'))}; p-value "
                     f"{_fmt(top.get('p_value'))} / {_fmt(cam.get('p_value'))}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    out = analyze(args)
    for warning in out["warnings"]:  # on stderr: stdout stays the result (or its JSON)
        sys.stderr.write(f"warning: {warning}\n")
    sys.stdout.write((json.dumps(out) if args.json else _text(out)) + "\n")
    return 0
