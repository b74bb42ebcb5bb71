"""Write the bundled demo cases into ``resources/demo/`` (seeded, reproducible).

Each case is a real DICOM MR series (``dicom/``), its three named ROIs (lesion, prostate,
marker) as DICOM SEG (``rois.seg.dcm``) and as a NIfTI label map with a JSON sidecar
(``rois.nii.gz`` + ``rois.nii.gz.labels.json``), and the lesion alone (``lesion.nii.gz``).

    python tools/make_demo.py [--out resources/demo]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import numpy as np
from pydicom.uid import generate_uid

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from coloc_viewer.demo.mpmri import generate_mpmri, write_diffusion_series  # noqa: E402
from coloc_viewer.demo.phantom import PhantomConfig, generate_case  # noqa: E402
from coloc_viewer.imaging.dicom_write import write_dicom_series  # noqa: E402
from coloc_viewer.imaging.load import load_volume  # noqa: E402
from coloc_viewer.imaging.roi import RoiSet  # noqa: E402
from coloc_viewer.imaging.roi_io import save_roi, save_rois  # noqa: E402

# name -> (seed, marker placement, description)
CASES = {
    "case-01": (20251, "lesion", "Lesion in the peripheral zone; marker on the lesion slices"),
    "case-02": (20388, "none", "Lesion in the peripheral zone; no marker"),
}
MPMRI_CASES = ("case-01",)  # also get ADC and DWI series (adc/, dwi/) for demo-mpmri
ROI_COLOURS = {"lesion": (230, 25, 75), "prostate": (60, 180, 75), "marker": (255, 225, 25)}


def write_case(name: str, seed: int, marker: str, description: str, out: Path) -> dict:
    """Generate one case and write its series and ROIs under ``out/name``."""
    cfg = PhantomConfig()
    case = generate_case(seed, cfg, lesion=True, marker_slices=np.zeros(cfg.n_slices, bool))
    if marker == "lesion":  # same anatomy and noise (separate random streams), marker added
        case = generate_case(seed, cfg, lesion=True, marker_slices=case.lesion_slices)
    folder = out / name
    if folder.exists():
        shutil.rmtree(folder)
    uid = f"coloc_viewer demo {name} {seed}"
    write_dicom_series(
        case.image, folder / "dicom", spacing=case.spacing, origin=case.origin,
        direction=case.direction, modality="MR", series_description=f"T2 AX demo {name}",
        study_uid=generate_uid(entropy_srcs=[uid, "study"]),
        series_uid=generate_uid(entropy_srcs=[uid, "series"]),
        frame_of_reference_uid=generate_uid(entropy_srcs=[uid, "for"]),
        patient_name="SYNTHETIC^PHANTOM", patient_id=f"SYNTH-{name[-2:]}", window=(450.0, 900.0),
    )
    volume = load_volume(folder / "dicom")
    rois = RoiSet.for_volume(volume)
    for roi_name, mask in case.rois().items():
        rois.add(roi_name, mask, color=ROI_COLOURS[roi_name], record=False)
    save_rois(rois, folder / "rois.seg.dcm", like=volume)
    save_rois(rois, folder / "rois.nii.gz", like=volume)
    save_roi(case.lesion, folder / "lesion.nii.gz", like=volume, name="lesion")
    info = {
        "case": name, "seed": seed, "description": description, "marker": marker,
        "shape": list(volume.shape), "spacing": list(volume.spacing),
        "lesion_slices": np.flatnonzero(case.lesion_slices).tolist(),
        "marker_slices": np.flatnonzero(case.marker_slices).tolist(),
        "largest_lesion_slice": int(case.lesion.sum(axis=(1, 2)).argmax()),
    }
    if name in MPMRI_CASES:  # same seed and lesion: the T2's anatomy on the diffusion grid
        mp_case = generate_mpmri(seed, cfg, lesion=True, marker_slices=case.marker_slices)
        info["series"] = write_diffusion_series(
            mp_case, folder, study_uid=generate_uid(entropy_srcs=[uid, "study"]),
            frame_of_reference_uid=generate_uid(entropy_srcs=[uid, "for"]), uid_seed=uid,
            patient_name="SYNTHETIC^PHANTOM", patient_id=f"SYNTH-{name[-2:]}", suffix=f" {name}")
    (folder / "case.json").write_text(json.dumps(info, indent=2) + "\n")
    return info


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "resources" / "demo")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, (seed, marker, text) in CASES.items():
        print(json.dumps(write_case(name, seed, marker, text, args.out)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
