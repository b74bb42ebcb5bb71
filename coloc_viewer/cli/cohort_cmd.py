"""``coloc-viewer cohort MANIFEST --out DIR``: score many cases, resumably, with a report."""

from __future__ import annotations

import argparse
from typing import Any

from coloc_viewer.explain.choices import RANKINGS

RANKS = RANKINGS  # the one list (explain.choices)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "cohort", help="score every case of a manifest (resumable) and write tables + report",
        description="Explain and score every case of MANIFEST (CSV: image, roi, optional "
        "case_id, series, slices, label, and one column per extra input role of a "
        "multi-series model card) for each model, rank criterion and CAM method. "
        "Rerunning with the same --out resumes: finished units are skipped. "
        "Exit status 0 when the run finished, even if some cases failed.",
        epilog="example: coloc-viewer cohort resources/demo/manifest.csv --out demo-run "
               "--model demo-clean --model demo-shortcut")
    p.add_argument("manifest", help="manifest CSV (paths relative to its folder or absolute)")
    p.add_argument("--out", required=True, help="output folder (created; reused to resume)")
    p.add_argument("--model", action="append", dest="models", metavar="NAME|CARD",
                   help="bundled model name or model card JSON (repeat for several; "
                   "default: the first bundled model)")
    p.add_argument("--layer", help="layer to capture (default: the card's target_layer)")
    p.add_argument("--target", type=_class, help="class to explain, by index or name "
                   "(default: the predicted class)")
    p.add_argument("--rank", action="append", dest="ranks", choices=RANKS,
                   help="channel ranking criterion for the top feature map (repeatable; "
                   "default: contribution)")
    p.add_argument("--method", action="append", dest="methods", metavar="METHOD",
                   help="CAM method: gradcam, gradcam++, layercam, scorecam[:K], cam "
                   "(repeatable; default: gradcam)")
    p.add_argument("--roi-name", action="append", dest="roi_names", metavar="NAME",
                   help="score only this named ROI (repeatable; default: every ROI)")
    p.add_argument("--threshold", type=float, default=0.5,
                   help="dice/iou threshold as a fraction of the map maximum (default 0.5)")
    p.add_argument("--no-p-value", action="store_true",
                   help="skip the permutation p-value (faster)")
    p.add_argument("--workers", type=int,
                   help="local workers (default: one per core, capped by the number of "
                   "cases); this process is one of them and extra processes join when "
                   "ready; 1 = this process only")
    p.add_argument("--threads", type=int,
                   help="torch threads per task (default: cores // busy workers locally, 1 "
                   "on Dask); tables are bit-identical across backends at equal thread "
                   "counts")
    p.add_argument("--batch-size", type=int, default=16,
                   help="slices explained per batched forward (default 16; 1 = one "
                   "explain() per slice)")
    p.add_argument("--dask", metavar="ADDRESS",
                   help="submit the cases to this dask.distributed scheduler instead")
    p.add_argument("--channel-set", metavar="JSON",
                   help="principal channels to use (from an earlier run) instead of "
                   "deriving them from this cohort")
    p.add_argument("--principal-ratio", type=float, default=0.1,
                   help="share of channels kept as principal channels, 0.05-0.25 "
                   "(default 0.1); 0 turns the principal-channel analysis off")
    p.add_argument("--no-report", action="store_true", help="skip the HTML report")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    p.set_defaults(func=run)
    return p


def _class(value: str) -> int | str:
    """``--target``: an index ("1") or a class name ("lesion"), as ``analyze`` takes it."""
    return int(value) if value.strip().lstrip("-").isdigit() else value


def run(args: argparse.Namespace) -> int:
    from coloc_viewer.cohort.runner import CohortOptions, run_cohort

    options = CohortOptions(
        models=tuple(args.models or ()),
        ranks=tuple(dict.fromkeys(args.ranks or ("contribution",))),
        methods=tuple(dict.fromkeys(args.methods or ("gradcam",))),
        layer=args.layer, target=args.target,
        roi_names=tuple(args.roi_names) if args.roi_names else None,
        threshold=args.threshold, p_value=not args.no_p_value, workers=args.workers,
        dask=args.dask, threads=args.threads, batch_size=args.batch_size,
        channel_set=args.channel_set,
        principal_ratio=args.principal_ratio or None, report=not args.no_report,
        seed=args.seed)
    run_cohort(args.manifest, args.out, options)
    return 0
