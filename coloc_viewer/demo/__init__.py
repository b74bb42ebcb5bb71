"""The bundled demo: synthetic pelvic T2 MRI cases with lesion, prostate and marker ROIs.

numpy + the imaging layer only (no torch, no Qt).
"""

from coloc_viewer.demo.phantom import ROI_NAMES, PhantomCase, PhantomConfig, generate_case

__all__ = ["ROI_NAMES", "PhantomCase", "PhantomConfig", "generate_case"]
