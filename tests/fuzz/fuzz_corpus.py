"""Seeded mutations of DICOM and NIfTI files, and the child-process check of each one.

A mutation ends in exactly one of two accepted ways: ``equal`` (it loads, and the voxels
equal an independent reader's decoding of the mutated file: pydicom after the modality LUT,
or nibabel) or ``InputError``. Anything else (``different``, ``unverified`` -- loaded though
the independent reader refuses the file --, another exception, a memory-cap hit or a crash)
fails the suite. Imported by the test module and, under ``spawn``, by the worker processes.
"""

from __future__ import annotations

import io
import os
import struct
import tempfile
import traceback
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

LUMA = np.array([0.299, 0.587, 0.114], np.float32)
#: Address space a worker may add to what it holds after its imports (the memory cap).
CAP_HEADROOM = 1024**3
ACCEPTED = ("equal", "InputError")


@dataclass
class Mutation:
    original: str  # name of the original file
    kind: str  # truncate, append, flip, header, frames, size, geometry, bits, ...
    detail: str
    suffix: str
    data: bytes


# --------------------------------------------------------------------------- originals

def dicom_originals(pydicom_dir: Path) -> dict[str, bytes]:
    """Plain, RLE, JPEG 2000 and multi-frame (plain, RLE, JPEG 2000, colour RLE) files."""
    import pydicom
    from pydicom.uid import JPEG2000Lossless, RLELossless

    out = {name: (pydicom_dir / name).read_bytes()
           for name in ("MR_small.dcm", "MR_small_RLE.dcm", "MR_small_jp2klossless.dcm",
                        "SC_rgb_rle_2frame.dcm")}
    ds = pydicom.dcmread(pydicom_dir / "MR_small.dcm")
    frames = np.stack([ds.pixel_array + 7 * k for k in range(4)]).astype(ds.pixel_array.dtype)
    ds.NumberOfFrames = 4
    ds.SpacingBetweenSlices = "2.5"
    ds.PixelData = frames.tobytes()
    out["multiframe.dcm"] = _to_bytes(ds)
    for name, syntax in (("multiframe_rle.dcm", RLELossless),
                         ("multiframe_j2k.dcm", JPEG2000Lossless)):
        copy = pydicom.dcmread(io.BytesIO(out["multiframe.dcm"]))
        copy.compress(syntax, frames)
        out[name] = _to_bytes(copy)
    return out


def nifti_originals(nibabel_dir: Path) -> dict[str, bytes]:
    import gzip

    anatomical = (nibabel_dir / "anatomical.nii").read_bytes()
    return {"anatomical.nii": anatomical,
            "anatomical.nii.gz": gzip.compress(anatomical, mtime=0),
            "example4d.nii.gz": (nibabel_dir / "example4d.nii.gz").read_bytes()}


def _to_bytes(ds) -> bytes:
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


# --------------------------------------------------------------------------- mutations

_FRAMES = [0, -1, 2, 3, 5, 11, 10_001, 65_536, 2_000_000_000]
_SIZES = [0, 1, 3, 63, 65, 128, 4096, 65_535]
_SPACINGS = [["-1", "1"], ["0", "0.5"], ["nan", "1"], ["inf", "inf"], ["1e308", "1"]]
_ORIENTATIONS = [["0"] * 6, ["1", "0", "0", "1", "0", "0"], ["2", "0", "0", "0", "2", "0"],
                 ["nan", "0", "0", "0", "1", "0"]]


def _generic(name: str, data: bytes, rng: np.random.Generator, suffix: str,
             start: int) -> Mutation:
    """Truncation, appended bytes or byte flips (``start``: where the data part begins)."""
    kind = rng.choice(["truncate", "append", "flip", "flip_data"])
    if kind == "truncate":
        cut = int(rng.integers(0, len(data)))
        return Mutation(name, kind, f"cut at {cut}", suffix, data[:cut])
    if kind == "append":
        n = int(rng.integers(1, 4096))
        extra = bytes(n) if rng.random() < 0.3 else rng.bytes(n)
        return Mutation(name, kind, f"+{n} bytes", suffix, data + extra)
    blob = bytearray(data)
    lo = start if kind == "flip_data" else 0
    positions = rng.integers(lo, len(blob), size=int(rng.integers(1, 9)))
    for p in positions:
        blob[int(p)] ^= int(rng.integers(1, 256))
    return Mutation(name, kind, f"flips at {sorted(int(p) for p in positions)}", suffix,
                    bytes(blob))


def dicom_mutation(name: str, data: bytes, rng: np.random.Generator) -> Mutation:
    import pydicom

    ds = pydicom.dcmread(io.BytesIO(data))
    start = len(data) - len(ds.PixelData) if "PixelData" in ds else 0
    kind = rng.choice(["generic", "generic", "frames", "size", "geometry", "bits"])
    if kind == "generic":
        return _generic(name, data, rng, ".dcm", start)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if kind == "frames":
            value = int(rng.choice(_FRAMES))
            ds.NumberOfFrames = value
            detail = f"NumberOfFrames={value}"
        elif kind == "size":
            key = str(rng.choice(["Rows", "Columns"]))
            value = int(rng.choice(_SIZES))
            setattr(ds, key, value)
            detail = f"{key}={value}"
        elif kind == "geometry":
            key = str(rng.choice(["PixelSpacing", "ImageOrientationPatient",
                                  "ImagePositionPatient", "SliceThickness"]))
            value = {"PixelSpacing": lambda: _SPACINGS[int(rng.integers(len(_SPACINGS)))],
                     "ImageOrientationPatient":
                         lambda: _ORIENTATIONS[int(rng.integers(len(_ORIENTATIONS)))],
                     "ImagePositionPatient": lambda: ["0", "nan", "1"],
                     "SliceThickness": lambda: "-3"}[key]()
            setattr(ds, key, value)
            detail = f"{key}={value}"
        else:
            key = str(rng.choice(["BitsAllocated", "BitsStored", "SamplesPerPixel",
                                  "PixelRepresentation"]))
            value = int(rng.choice([0, 1, 2, 3, 7, 12, 17, 33, 64, 255]))
            setattr(ds, key, value)
            detail = f"{key}={value}"
        try:
            blob = _to_bytes(ds)
        except Exception:  # noqa: BLE001 - pydicom cannot write it: use a plain flip
            return _generic(name, data, rng, ".dcm", start)
    return Mutation(name, kind, detail, ".dcm", blob)


# NIfTI-1 header fields: (offset, struct format)
_NIFTI_FIELDS = {"dim": (40, "8h"), "datatype": (70, "h"), "bitpix": (72, "h"),
                 "pixdim": (76, "8f"), "vox_offset": (108, "f"), "scl_slope": (112, "f"),
                 "scl_inter": (116, "f"), "qform_code": (252, "h"), "sform_code": (254, "h"),
                 "quatern": (256, "6f"), "srow": (280, "12f")}


def nifti_mutation(name: str, data: bytes, rng: np.random.Generator) -> Mutation:
    import gzip

    gz = name.endswith(".gz")
    raw = gzip.decompress(data) if gz else data
    suffix = ".nii.gz" if gz else ".nii"
    kind = rng.choice(["generic", "generic", "header", "dims", "geometry", "scaling"])
    if kind == "generic":
        return _generic(name, data, rng, suffix, 352 if not gz else len(data) // 10)
    blob = bytearray(raw)
    field = {"header": str(rng.choice(["datatype", "bitpix", "vox_offset", "qform_code",
                                       "sform_code"])),
             "dims": "dim", "geometry": str(rng.choice(["pixdim", "quatern", "srow"])),
             "scaling": str(rng.choice(["scl_slope", "scl_inter"]))}[kind]
    offset, fmt = _NIFTI_FIELDS[field]
    order = "<" if struct.unpack_from("<i", blob, 0)[0] == 348 else ">"
    values = list(struct.unpack_from(order + fmt, blob, offset))
    i = int(rng.integers(len(values)))
    pool = ([np.nan, np.inf, -np.inf, 0.0, -2.0, 1e30, 1e-30] if fmt[-1] == "f"
            else [0, -1, 1, 7, 8, 16, 64, 255, 2048, 32_767, -32_768])
    values[i] = pool[int(rng.integers(len(pool)))]
    struct.pack_into(order + fmt, blob, offset, *values)
    out = gzip.compress(bytes(blob), mtime=0) if gz else bytes(blob)
    return Mutation(name, kind, f"{field}[{i}]={values[i]}", suffix, out)


def make_mutations(originals: dict[str, bytes], n: int, seed: int) -> list[Mutation]:
    """``n`` mutations spread over the originals (seeded, reproducible)."""
    rng = np.random.default_rng(seed)
    names = sorted(originals)
    out = []
    for k in range(n):
        name = names[k % len(names)]
        make = nifti_mutation if ".nii" in name else dicom_mutation
        out.append(make(name, originals[name], rng))
    return out


# --------------------------------------------------------------------------- worker side

def init_worker() -> None:
    """Import everything, then cap this process's address space (``RLIMIT_AS``)."""
    import resource

    import pydicom  # noqa: F401
    import SimpleITK  # noqa: F401

    import coloc_viewer.imaging.load  # noqa: F401

    with open("/proc/self/status", encoding="ascii") as fh:
        used = next(int(ln.split()[1]) * 1024 for ln in fh if ln.startswith("VmSize:"))
    cap = used + CAP_HEADROOM
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))


def check_mutation(index: int, m: Mutation) -> tuple[int, str, str]:
    """(index, outcome, detail) of loading one mutation in this (capped) process."""
    from coloc_viewer.errors import InputError
    from coloc_viewer.imaging.load import load_volume

    with tempfile.TemporaryDirectory(prefix="fuzz-") as tmp:
        path = Path(tmp) / f"case{m.suffix}"
        path.write_bytes(m.data)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                vol = load_volume(path)
        except InputError as exc:
            if any(w in exc.reason for w in ("bad_alloc", "MemoryError", "Failed to allocate")):
                return index, "memory", exc.reason
            return index, "InputError", exc.reason
        except MemoryError:
            return index, "memory", traceback.format_exc(limit=3)
        except Exception as exc:  # noqa: BLE001 - any other exception fails the suite
            return index, f"exception:{type(exc).__name__}", traceback.format_exc(limit=6)
        try:
            reference = (nifti_reference(path) if ".nii" in m.suffix
                         else dicom_reference(path))
        except MemoryError:
            return index, "memory", "reference reader"
        except Exception as exc:  # noqa: BLE001 - the independent reader refuses it
            return index, "unverified", f"{type(exc).__name__}: {str(exc)[:200]}"
        if same_frames(vol.voxels, reference):
            return index, "equal", ""
        return index, "different", f"shape {vol.shape} vs {reference.shape}"


def dicom_reference(path: Path) -> np.ndarray:
    """pydicom's decoding, luminance for colour, modality LUT; (frames, rows, cols)."""
    from pydicom.filereader import read_partial
    from pydicom.pixels import apply_modality_lut

    with warnings.catch_warnings(), open(path, "rb") as fh:
        warnings.simplefilter("ignore")
        # bytes after the pixel data are not part of the image (and may hold absurd lengths)
        size = path.stat().st_size
        ds = read_partial(fh, stop_when=lambda tag, _vr, n: tag > 0x7FE00010 or (
            tag != 0x7FE00010 and n != 0xFFFFFFFF and n > size))
        arr = ds.pixel_array
        n = int(ds.get("NumberOfFrames", 1) or 1)
        spp = int(ds.get("SamplesPerPixel", 1))
        if n == 1:
            arr = arr[np.newaxis]
        if spp > 1:
            arr = arr[..., :3].astype(np.float32) @ LUMA
        return np.asarray(apply_modality_lut(arr, ds), dtype=np.float32)


def nifti_reference(path: Path) -> np.ndarray:
    """nibabel's scaled data, first volume, as (z, y, x)."""
    import nibabel as nib

    img = nib.load(str(path))
    data = np.asarray(img.dataobj, dtype=np.float64)
    while data.ndim > 3:
        data = data[..., 0]
    while data.ndim < 3:
        data = data[..., np.newaxis]
    return np.transpose(data, (2, 1, 0)).astype(np.float32)


def same_frames(voxels: np.ndarray, reference: np.ndarray) -> bool:
    """Slices equal the reference frames in some order (series are sorted by position)."""
    if voxels.shape != reference.shape:
        return False
    left = list(range(len(reference)))
    for plane in voxels:
        match = next((j for j in left
                      if np.allclose(plane, reference[j], rtol=1e-5, atol=1e-3)), None)
        if match is None:
            return False
        left.remove(match)
    return True


def workers() -> int:
    return max(1, min(2, os.cpu_count() or 1))
