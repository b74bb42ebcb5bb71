"""``analyze --seg OUT.dcm --sr OUT.dcm``: the ROIs as a DICOM SEG and the scores as a DICOM
Structured Report (TID 1500), for a study loaded from DICOM.

The SR references the SEG's segments: with ``--sr`` alone the ROI file must itself be a
DICOM SEG (it is the one referenced); otherwise ``--seg`` writes the SEG the SR names.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from coloc_viewer.errors import InputError


def add_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seg", metavar="OUT.dcm", help="also write the ROIs as a DICOM SEG "
                                                    "(IMAGE must be DICOM)")
    p.add_argument("--sr", metavar="OUT.dcm",
                   help="also write the scores as a DICOM Structured Report (TID 1500) "
                        "referencing the SEG (--seg, or the --roi file when it is a SEG)")


def check_dicom_options(args: argparse.Namespace) -> None:
    """Refuse bad ``--seg`` / ``--sr`` before the model runs (one line naming the file)."""
    seg_path, sr_path = getattr(args, "seg", None), getattr(args, "sr", None)
    for given in (seg_path, sr_path):
        if given and not str(given).lower().endswith(".dcm"):
            raise InputError("DICOM outputs need the .dcm suffix", given)
    if sr_path and not seg_path and not str(args.roi).lower().endswith(".dcm"):
        raise InputError("--sr needs --seg OUT.dcm (the report references the SEG's "
                         "segments) unless --roi is a DICOM SEG", sr_path)


def write_dicom_outputs(args: argparse.Namespace, out: dict[str, Any], volume: Any, rois: Any,
                        card: Any) -> dict[str, str]:
    """Write what ``--seg`` / ``--sr`` ask for; returns {"seg": path, "sr": path} written."""
    seg_path, sr_path = getattr(args, "seg", None), getattr(args, "sr", None)
    if not seg_path and not sr_path:
        return {}
    import pydicom

    from coloc_viewer.imaging.roi_dicom_seg import save_dicom_seg, source_datasets
    from coloc_viewer.report.dicom_sr import card_hash, save_score_report, score_rows_from_analysis
    from coloc_viewer.viewer.verdict import describe

    check_dicom_options(args)
    written: dict[str, str] = {}
    if seg_path:
        save_dicom_seg(rois, Path(seg_path), volume)
        seg = pydicom.dcmread(seg_path)
        written["seg"] = str(seg_path)
    elif str(args.roi).lower().endswith(".dcm"):  # load_rois checked it is on this volume
        seg = pydicom.dcmread(args.roi)
    else:
        seg = None
    if sr_path:
        if seg is None:
            raise InputError("--sr needs --seg OUT.dcm (the report references the SEG's "
                             "segments) unless --roi is a DICOM SEG", sr_path)
        info = {"name": out["model"], "card_hash": card_hash(card), "layer": out["layer"],
                "rank": out["rank"]}
        save_score_report(sr_path, source_datasets(volume), seg,
                          score_rows_from_analysis(out, describe), info)
        written["sr"] = str(sr_path)
    return written
