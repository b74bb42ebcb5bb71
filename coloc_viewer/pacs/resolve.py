"""``pacs://SERVER/STUDY_UID[/SERIES_UID]`` inputs: the cached local folder of that study or
series, retrieved first when it is not in the cache yet.

SERVER is a configured name, a DICOMweb root URL or ``dicom://AET@host:port``, URL-quoted
(``pacs://http%3A%2F%2Fpacs%3A8042%2Fdicom-web/1.2.3``); any other path is returned as is.
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote

from coloc_viewer.errors import InputError
from coloc_viewer.pacs.cache import StudyCache, open_cache
from coloc_viewer.pacs.errors import PacsError
from coloc_viewer.pacs.retrieve import ProgressCallback, connect, retrieve_series, retrieve_study
from coloc_viewer.pacs.servers import ServerConfig, parse_server

__all__ = ["PacsRef", "fetch_ref", "is_pacs_url", "local_path", "pacs_url", "parse_pacs_url",
           "server_part"]

SCHEME = "pacs://"
_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")


@dataclass(frozen=True)
class PacsRef:
    server: ServerConfig
    study_uid: str
    series_uid: str | None = None


def is_pacs_url(value: object) -> bool:
    return isinstance(value, str) and value.strip().lower().startswith(SCHEME)


def parse_pacs_url(url: str, calling_aet: str | None = None) -> PacsRef:
    text = url.strip()
    if not is_pacs_url(text):
        raise InputError(f"{url}: not a pacs://SERVER/STUDY_UID[/SERIES_UID] address")
    parts = text[len(SCHEME):].split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise InputError(f"{url}: expected pacs://SERVER/STUDY_UID[/SERIES_UID] with SERVER "
                         "URL-quoted")
    uids = [unquote(p) for p in parts[1:]]
    for uid in uids:
        if not _UID.match(uid) or len(uid) > 64:
            raise InputError(f"{url}: {uid!r} is not a DICOM UID")
    server = parse_server(parts[0], calling_aet)
    return PacsRef(server, uids[0], uids[1] if len(uids) > 1 else None)


def pacs_url(server: str, study_uid: str, series_uid: str | None = None) -> str:
    """The ``pacs://`` address of a study or series (``server``: a configured name, a
    DICOMweb root or ``dicom://AET@host:port``); :func:`parse_pacs_url` reads it back."""
    parts = [quote(server, safe=""), study_uid, *([series_uid] if series_uid else [])]
    return SCHEME + "/".join(parts)


def server_part(url: str) -> str | None:
    """The SERVER of a ``pacs://SERVER/...`` address, unquoted (None for anything else)."""
    if not is_pacs_url(url):
        return None
    return unquote(url.strip()[len(SCHEME):].split("/", 1)[0]) or None


def local_path(value: str | os.PathLike[str], cache: StudyCache | None = None,
               progress: ProgressCallback | None = None, calling_aet: str | None = None,
               cancel: threading.Event | None = None) -> str:
    """``value`` itself, or for a pacs:// address the cached folder (retrieved if needed;
    ``cancel`` set: :class:`RetrievalCancelled`, nothing kept)."""
    if not is_pacs_url(value):
        return os.fspath(value)
    ref = parse_pacs_url(str(value), calling_aet)
    return os.fspath(fetch_ref(ref, cache, progress, cancel))


def fetch_ref(ref: PacsRef, cache: StudyCache | None = None,
              progress: ProgressCallback | None = None,
              cancel: threading.Event | None = None) -> Path:
    """The cached folder of ``ref`` (retrieved unless complete in the cache)."""
    cache = cache if cache is not None else open_cache()
    client = connect(ref.server)
    if ref.series_uid is None:
        return retrieve_study(client, cache, ref.study_uid, progress, cancel)
    key = ref.server.address
    if cache.series_complete(key, ref.study_uid, ref.series_uid):
        return retrieve_series(client, cache, ref.study_uid, ref.series_uid, progress, cancel)
    rows = [r for r in client.find_series(ref.study_uid) if r.series_uid == ref.series_uid]
    if not rows:
        raise PacsError("no such series in that study", ref.server.label)
    return retrieve_series(client, cache, ref.study_uid, ref.series_uid, progress, cancel,
                           total=rows[0].n_instances)
