"""Resource limits, in one place (docs/imaging.md, "Limits").

Every reader and loader checks its input against these before allocating anything, so a
hostile or damaged file is an :class:`~coloc_viewer.errors.InputError` (or a ``ModelError``
for a card) instead of an exhausted machine. This module imports nothing from the package,
so every layer may use it.
"""

from __future__ import annotations

#: Largest decoded volume (voxels x bytes per voxel, after the modality LUT as float32).
MAX_VOLUME_BYTES = 8 * 1024**3
#: Largest number of voxels in one volume.
MAX_VOLUME_VOXELS = 2 * 1024**3
#: Largest number of frames one DICOM file may declare.
MAX_FRAMES = 10_000
#: Largest edge of a model input (``input_size`` entries), and its largest voxel count.
MAX_MODEL_INPUT_EDGE = 4096
MAX_MODEL_INPUT_VOXELS = 64 * 1024**2
#: Share of the machine's available memory that one allocation may take.
MEMORY_SHARE = 0.8
