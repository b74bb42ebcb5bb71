"""Where DICOM bytes live: plain files, DICOMDIR references, and members of a zip archive."""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from coloc_viewer.errors import InputError

__all__ = ["FileRef", "iter_dicom_refs", "open_ref", "ref_from_string", "VOLUME_SUFFIXES",
           "is_volume_file"]

#: Suffixes read through SimpleITK as whole volumes (not DICOM).
VOLUME_SUFFIXES = (".nii", ".nii.gz", ".mha", ".mhd", ".nrrd", ".nhdr")

_ZIP_SEP = "!/"


@dataclass(frozen=True)
class FileRef:
    """A DICOM file on disk (``member`` None) or a member of the zip archive ``path``."""

    path: str
    member: str | None = None

    def __str__(self) -> str:
        return self.path if self.member is None else f"{self.path}{_ZIP_SEP}{self.member}"

    @property
    def name(self) -> str:
        return os.path.basename(self.member or self.path)

    def open(self) -> BinaryIO:
        """A binary file object positioned at the start (caller closes it)."""
        if self.member is None:
            return open(self.path, "rb")  # noqa: SIM115 - returned to the caller
        with zipfile.ZipFile(self.path) as zf:
            return io.BytesIO(zf.read(self.member))

    def size(self) -> int:
        if self.member is None:
            return os.path.getsize(self.path)
        with zipfile.ZipFile(self.path) as zf:
            return zf.getinfo(self.member).file_size


def ref_from_string(text: str) -> FileRef:
    """Inverse of ``str(FileRef)``: ``archive.zip!/member`` or a plain path."""
    if _ZIP_SEP in text and not os.path.exists(text):
        archive, member = text.split(_ZIP_SEP, 1)
        return FileRef(archive, member)
    return FileRef(text)


def open_source(ref: FileRef, data: bytes | None = None) -> tuple[BinaryIO, int]:
    """A binary file object over ``data`` when the file's content is in memory already
    (a retrieval that is still writing it), else over ``ref``; and its size."""
    if data is not None:
        return io.BytesIO(data), len(data)
    return ref.open(), ref.size()


def open_ref(text: str) -> BinaryIO:
    return ref_from_string(text).open()


def is_volume_file(path: str | os.PathLike[str]) -> bool:
    name = os.fspath(path).lower()
    return name.endswith(VOLUME_SUFFIXES)


def _is_dicomdir(path: Path) -> bool:
    if path.name.upper() == "DICOMDIR":
        return True
    try:
        with open(path, "rb") as fh:
            head = fh.read(512)
    except OSError:
        return False
    return head[128:132] == b"DICM" and b"1.2.840.10008.1.3.10" in head


def _dicomdir_refs(path: Path) -> list[FileRef]:
    import pydicom

    try:
        ds = pydicom.dcmread(path, force=True)
        records = ds.DirectoryRecordSequence
    except Exception as exc:  # noqa: BLE001 - any parse failure is a bad DICOMDIR
        raise InputError(f"not a readable DICOMDIR ({type(exc).__name__}: {exc})", path) from None
    root = path.parent
    refs: list[FileRef] = []
    seen: set[str] = set()
    for rec in records:
        file_id = rec.get("ReferencedFileID")
        if not file_id:
            continue
        parts = [file_id] if isinstance(file_id, str) else list(file_id)
        target = root.joinpath(*[str(p) for p in parts])
        if not target.exists():  # media written on case-insensitive systems
            alt = root.joinpath(*[str(p).lower() for p in parts])
            target = alt if alt.exists() else target
        key = str(target)
        if key not in seen:
            seen.add(key)
            refs.append(FileRef(key))
    return refs


def iter_dicom_refs(path: str | os.PathLike[str]) -> Iterator[FileRef]:
    """Every candidate DICOM file under ``path`` (file, folder (recursive), DICOMDIR, zip).

    Raises :class:`InputError` for a nonexistent or unreadable path.
    """
    p = Path(path)
    if not p.exists():
        raise InputError("no such file or folder", p)
    if p.is_dir():
        if not os.access(p, os.R_OK | os.X_OK):
            raise InputError("folder is not readable (permission denied)", p)
        walk_errors: list[OSError] = []
        for root, dirs, files in os.walk(p, onerror=walk_errors.append):
            dirs.sort()
            for name in sorted(files):
                if name.startswith(".") or name.upper() == "DICOMDIR":
                    continue
                yield FileRef(os.path.join(root, name))
        if walk_errors and walk_errors[0].filename and Path(walk_errors[0].filename) == p:
            raise InputError(f"folder is not readable ({walk_errors[0].strerror})", p)
        return
    if not os.access(p, os.R_OK):
        raise InputError("file is not readable (permission denied)", p)
    if zipfile.is_zipfile(p):
        try:
            with zipfile.ZipFile(p) as zf:
                names = sorted(i.filename for i in zf.infolist() if not i.is_dir())
        except (zipfile.BadZipFile, OSError) as exc:
            raise InputError(f"not a readable zip archive ({exc})", p) from None
        for name in names:
            base = os.path.basename(name)
            if base.startswith(".") or base.upper() == "DICOMDIR" or "__MACOSX" in name:
                continue
            yield FileRef(str(p), name)
        return
    if _is_dicomdir(p):
        yield from _dicomdir_refs(p)
        return
    yield FileRef(str(p))
