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
#: Checked when a card is parsed (``model/card.py``), before anything is allocated. 4096 px
#: covers whole-slide-like 2-D inputs; 64 Mi voxels a full 256 x 512 x 512 CT volume (the
#: input alone is 256 MB of float32 per channel). [20000, 20000] is refused at once.
MAX_MODEL_INPUT_EDGE = 4096
MAX_MODEL_INPUT_VOXELS = 64 * 1024**2
#: Share of the machine's available memory that one allocation may take.
MEMORY_SHARE = 0.8
#: Largest header (NRRD/MHA text, NIfTI extensions) read before the data starts.
MAX_HEADER_BYTES = 16 * 1024**2
#: Largest ``torch.export`` archive content read (sum of uncompressed entries), and the
#: largest JSON entry in it (the graph), checked before anything is unpacked.
MAX_PT2_BYTES = 8 * 1024**3
MAX_PT2_JSON_BYTES = 256 * 1024**2
#: Smallest size reported as "available" when the system cannot say (bytes).
_UNKNOWN_MEMORY = 1 << 62


def _meminfo_available() -> int:
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return _UNKNOWN_MEMORY


def _address_space_left() -> int:
    """Room left under this process's RLIMIT_AS (a memory cap), if one is set."""
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_AS)[0]
        if soft == resource.RLIM_INFINITY:
            return _UNKNOWN_MEMORY
        with open("/proc/self/status", encoding="ascii") as fh:
            used = next(int(ln.split()[1]) * 1024 for ln in fh if ln.startswith("VmSize:"))
        return max(0, soft - used)
    except (ImportError, OSError, ValueError, StopIteration):
        return _UNKNOWN_MEMORY


def available_memory() -> int:
    """Bytes this process may still allocate: the system's available memory, or less under
    an address-space cap (``RLIMIT_AS``)."""
    return min(_meminfo_available(), _address_space_left())


def memory_budget() -> int:
    """Bytes one allocation may take (``MEMORY_SHARE`` of :func:`available_memory`)."""
    return int(MEMORY_SHARE * available_memory())


def allocation_problem(n_bytes: int, limit: int = MAX_VOLUME_BYTES) -> str | None:
    """Why ``n_bytes`` must not be allocated (over ``limit`` or the memory budget), or None."""
    if n_bytes > limit:
        return f"needs {n_bytes / 1024**3:.3g} GB, over the {limit / 1024**3:.3g} GB limit"
    budget = memory_budget()
    if n_bytes > budget:
        return (f"needs {n_bytes / 1024**3:.3g} GB, but only {budget / 1024**3:.3g} GB of "
                "memory is available")
    return None
