"""Helpers of the PACS tests: the files loaded into the test Orthanc and their UIDs."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pydicom

from coloc_viewer.resources import demo_dir

USER, PASSWORD = "reader", "s3cret-pw"
OUR_AET = "COLOCVIEWER"


def demo_files() -> list[Path]:
    """The demo's image series (the ROI SEG files stay out: tests send their own)."""
    return sorted(p for p in demo_dir().rglob("*.dcm") if not p.name.endswith(".seg.dcm"))


def dicomdir_files() -> list[Path]:
    root = Path(pydicom.__file__).parent / "data" / "test_files" / "dicomdirtests"
    return sorted(p for p in root.rglob("*") if p.is_file() and p.parent != root
                  and p.name not in ("DICOMDIR", "README"))


def demo_study_uid() -> str:
    first = sorted((demo_dir() / "case-02" / "dicom").glob("*.dcm"))[0]
    return str(pydicom.dcmread(first, stop_before_pixels=True).StudyInstanceUID)


def series_uid_of(folder: Path) -> str:
    first = sorted(folder.glob("*.dcm"))[0]
    return str(pydicom.dcmread(first, stop_before_pixels=True).SeriesInstanceUID)


def study_uid_of(folder: Path) -> str:
    first = sorted(folder.glob("*.dcm"))[0]
    return str(pydicom.dcmread(first, stop_before_pixels=True).StudyInstanceUID)


@contextlib.contextmanager
def picky_scp(sop_class: str) -> Iterator[int]:
    """A DICOM peer (AE title PICKY) offering ``sop_class`` that talks only to the AE title
    SOMEONE-ELSE, so it rejects every association of ours; yields its port."""
    from pynetdicom import AE

    from coloc_viewer.pacs.orthanc_local import free_port

    port = free_port()
    scp = AE(ae_title="PICKY")
    scp.add_supported_context(sop_class)
    scp.require_calling_aet = ["SOMEONE-ELSE"]
    server = scp.start_server(("127.0.0.1", port), block=False)
    try:
        yield port
    finally:
        server.shutdown()

