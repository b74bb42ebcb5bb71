"""DICOMweb: QIDO-RS search and STOW-RS store through ``dicomweb-client``; WADO-RS retrieve
streamed part by part on the same session (bytes stored as sent)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pydicom
import requests

from coloc_viewer.pacs.errors import PacsError, RetrievalCancelled
from coloc_viewer.pacs.multipart import boundary_of, iter_parts
from coloc_viewer.pacs.query import (
    SERIES_FIELDS,
    STUDY_FIELDS,
    Query,
    SeriesRow,
    StudyRow,
    name_matches,
)
from coloc_viewer.pacs.servers import ServerConfig
from coloc_viewer.pacs.tls import requests_tls, tls_reason

log = logging.getLogger(__name__)
# both log every request URL at DEBUG, and a QIDO URL holds the patient name or ID searched
for _name in ("dicomweb_client", "urllib3.connectionpool"):
    if logging.getLogger(_name).level == logging.NOTSET:
        logging.getLogger(_name).setLevel(logging.WARNING)

__all__ = ["DicomWebClient"]

OnInstance = Callable[[str, bytes], None]
ACCEPT_DICOM = 'multipart/related; type="application/dicom"; transfer-syntax=*'
CHUNK = 1 << 20


def _part10(data: bytes, n: int, series_uid: str) -> str:
    """A cache key for the n-th part, after checking it is a Part 10 file (the 'DICM'
    prefix; parsing each header for its SOP Instance UID cost 20 % of the retrieval)."""
    if data[128:132] != b"DICM":
        raise pydicom.errors.InvalidDicomError("no DICM prefix")
    return f"{series_uid}/part-{n}"


class _QidoSession(requests.Session):
    """Sends ``*`` of query values literally: Orthanc (1.10) does not decode ``%2A``, so a
    wildcard would match nothing. (``^`` cannot be sent so: urllib3 encodes it again, as
    ``%5E``; :meth:`DicomWebClient.find_studies` works around that for names.)"""

    def send(self, request: requests.PreparedRequest, **kwargs: object) -> requests.Response:
        if request.url and "?" in request.url:
            base, _, query = request.url.partition("?")
            request.url = base + "?" + query.replace("%2A", "*")
        return super().send(request, **kwargs)

    def merge_environment_settings(self, url: str | None, proxies: Any, stream: Any,
                                   verify: Any, cert: Any) -> dict[str, Any]:
        """The server's own CA file wins over ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE``
        (requests lets the environment override a session's ``verify``)."""
        merged = super().merge_environment_settings(url, proxies, stream, verify, cert)
        if isinstance(self.verify, str):
            merged["verify"] = self.verify
        return merged


class DicomWebClient:
    """One DICOMweb server (basic auth from the keyring when a user is configured)."""

    def __init__(self, server: ServerConfig):
        from dicomweb_client.api import DICOMwebClient

        self.server = server
        session = _QidoSession()
        session.verify, session.cert = requests_tls(server)
        if server.username:
            session.auth = (server.username, server.password() or "")
        self._session = session
        self._client = DICOMwebClient(server.url.rstrip("/"), session=session,
                                      timeout=server.timeout)
        self._client.set_http_retry_params(retry=False)

    def _fail(self, err: Exception, doing: str) -> PacsError:
        if isinstance(err, requests.HTTPError) and err.response is not None:
            code = err.response.status_code
            reason = {401: "the user name or password was refused (HTTP 401)",
                      403: "access denied (HTTP 403)",
                      404: "not found (HTTP 404; is the URL the DICOMweb root?)"}.get(
                          code, f"HTTP {code} {err.response.reason or ''}")
            return PacsError(f"{doing}: {reason}", self.server.label)
        if isinstance(err, requests.exceptions.ChunkedEncodingError):
            return PacsError(f"{doing}: the connection was lost mid-transfer",
                             self.server.label)
        if isinstance(err, ValueError) and not isinstance(err, requests.RequestException):
            return PacsError(f"{doing}: {err}", self.server.label)
        if isinstance(err, requests.exceptions.SSLError):
            return PacsError(f"{doing}: {tls_reason(err)}", self.server.label)
        if isinstance(err, requests.ConnectionError):
            return PacsError(f"{doing}: cannot connect (server unreachable or closed the "
                             "connection)", self.server.label)
        if isinstance(err, requests.Timeout):
            return PacsError(f"{doing}: no answer within {self.server.timeout:g} s",
                             self.server.label)
        return PacsError(f"{doing}: {err.__class__.__name__}", self.server.label)

    def echo(self) -> None:
        """A QIDO-RS ping (one study at most)."""
        try:
            self._client.search_for_studies(limit=1)
        except (requests.RequestException, ValueError) as err:
            raise self._fail(err, "QIDO-RS ping") from None

    def verify(self) -> str:
        """The connection test (a search, so it also checks access); the sentence after
        the server's name."""
        self.echo()
        return "answers (QIDO-RS ping)"

    def find_studies(self, query: Query, limit: int | None = None) -> list[StudyRow]:
        filters = query.study_filters()
        rows = self._search_studies(filters, limit)
        name = filters.get("PatientName", "")
        if rows or not set(name) & set("^?"):
            return rows
        # ^ and ? must be percent-encoded in a URL, and some servers (Orthanc's DICOMweb
        # plugin) then match "%5E" and "%3F" literally: ask with * for each and keep the
        # names that match
        wide = self._search_studies(
            {**filters, "PatientName": name.replace("^", "*").replace("?", "*")}, None)
        rows = [r for r in wide if name_matches(name, r.patient_name)]
        return rows[:limit] if limit else rows

    def _search_studies(self, filters: dict[str, str], limit: int | None) -> list[StudyRow]:
        try:
            found = self._client.search_for_studies(
                search_filters=filters, fields=list(STUDY_FIELDS), limit=limit,
                fuzzymatching=False)
        except (requests.RequestException, ValueError) as err:
            raise self._fail(err, "study search") from None
        return [StudyRow.from_dataset(pydicom.Dataset.from_json(r)) for r in found]

    def find_series(self, study_uid: str) -> list[SeriesRow]:
        try:
            found = self._client.search_for_series(study_instance_uid=study_uid,
                                                   fields=list(SERIES_FIELDS))
        except (requests.RequestException, ValueError) as err:
            raise self._fail(err, "series search") from None
        rows = [SeriesRow.from_dataset(pydicom.Dataset.from_json(r)) for r in found]
        return [r if r.study_uid else replace(r, study_uid=study_uid) for r in rows]

    def fetch_series(self, study_uid: str, series_uid: str, on_instance: OnInstance,
                     cancel: threading.Event | None = None) -> None:
        """WADO-RS: each instance is handed to ``on_instance`` as it arrives.

        The multipart answer is split as it streams in and each part's bytes go to the cache
        as sent (dicomweb-client's ``iter_series`` decodes every part into a dataset, which
        would have to be encoded again: 60 % of the retrieval time, measured)."""
        url = (f"{self.server.url.rstrip('/')}/studies/{quote(study_uid)}/series/"
               f"{quote(series_uid)}")
        try:
            with self._session.get(url, headers={"Accept": ACCEPT_DICOM}, stream=True,
                                   timeout=self.server.timeout) as response:
                response.raise_for_status()
                boundary = boundary_of(response.headers.get("Content-Type", ""))
                parts = iter_parts(response.iter_content(CHUNK), boundary)
                for n, data in enumerate(parts):
                    if cancel is not None and cancel.is_set():
                        raise RetrievalCancelled("retrieval cancelled", self.server.label)
                    on_instance(_part10(data, n, series_uid), data)
        except (requests.RequestException, ValueError) as err:
            raise self._fail(err, "WADO-RS retrieve") from None
        except pydicom.errors.InvalidDicomError:
            raise PacsError("WADO-RS retrieve: the server sent something that is not DICOM",
                            self.server.label) from None

    def store(self, paths: Sequence[Path]) -> int:
        """STOW-RS of DICOM files; returns how many the server accepted."""
        datasets = [pydicom.dcmread(p) for p in paths]
        try:
            response = self._client.store_instances(datasets)
        except (requests.RequestException, ValueError) as err:
            raise self._fail(err, "STOW-RS store") from None
        failed = getattr(response, "FailedSOPSequence", None) or []
        if failed:
            raise PacsError(f"STOW-RS store: the server refused {len(failed)} of "
                            f"{len(datasets)} objects", self.server.label)
        return len(datasets)
