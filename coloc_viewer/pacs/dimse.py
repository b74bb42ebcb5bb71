"""DIMSE through ``pynetdicom``: C-ECHO, C-FIND (study and series level), C-GET, C-MOVE to
our own storage listener, C-STORE. C-GET goes through DCMTK's ``getscu`` instead when the
server's ``dimse_backend`` asks for it (``pacs.getscu``: about 4x faster).

pynetdicom's own logger is held at WARNING (unless the user set it): at INFO and DEBUG it
prints the identifiers of every C-FIND, patient names and IDs included."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import ssl
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pydicom
from pydicom.dataset import Dataset
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGLosslessSV1,
    JPEGLSLossless,
    RLELossless,
)

from coloc_viewer.pacs.errors import PacsError, RetrievalCancelled
from coloc_viewer.pacs.pynetdicom_speed import (
    ack_handlers,
    no_reactor_nap,
    quiet_handlers,
    received_file,
    storage_classes,
)
from coloc_viewer.pacs.query import SERIES_FIELDS, STUDY_FIELDS, Query, SeriesRow, StudyRow
from coloc_viewer.pacs.servers import ServerConfig
from coloc_viewer.pacs.tls import ssl_context, tls_problem

log = logging.getLogger(__name__)
_net_log = logging.getLogger("pynetdicom")
if _net_log.level == logging.NOTSET:
    _net_log.setLevel(logging.WARNING)

__all__ = ["DimseClient"]

OnInstance = Callable[[str, bytes], None]
RETRIEVE_SYNTAXES = [ExplicitVRLittleEndian, ImplicitVRLittleEndian,
                     DeflatedExplicitVRLittleEndian, ExplicitVRBigEndian, JPEGLSLossless,
                     JPEG2000Lossless, RLELossless, JPEGLosslessSV1, JPEGBaseline8Bit]
MAX_PDU = 0  # the largest PDU we accept (0: no limit; pynetdicom's requestor default 16382)
_SUCCESS, _CANCEL = 0x0000, 0xFE00
_PENDING = (0xFF00, 0xFF01)


class DimseClient:
    """One DIMSE peer: the PACS at ``host:port`` with AE title ``called_aet``."""

    def __init__(self, server: ServerConfig):
        self.server = server

    # -- association -----------------------------------------------------------------------
    def _ae(self) -> Any:
        from pynetdicom import AE

        ae = AE(ae_title=self.server.calling_aet)
        t = self.server.timeout
        ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = t
        ae.connection_timeout = min(t, 10.0)
        ae.maximum_pdu_size = MAX_PDU  # as acceptor (the C-MOVE listener)
        quiet_handlers()
        return ae

    def _tls(self) -> tuple[ssl.SSLContext, str] | None:
        if not self.server.tls:
            return None
        return ssl_context(self.server), self.server.host

    @contextlib.contextmanager
    def _associate(self, ae: Any, doing: str, needs: str | None = None,
                   **kwargs: Any) -> Iterator[Any]:
        """An established association (``needs``: a SOP class it must have accepted)."""
        s = self.server
        # max_pdu: as requestor, AE.maximum_pdu_size is not used (16382 unless given here)
        assoc = ae.associate(s.host, int(s.port), ae_title=s.called_aet, tls_args=self._tls(),
                             max_pdu=MAX_PDU, **kwargs)
        if not assoc.is_established:
            if assoc.is_rejected:
                reason = (f"association rejected (called AE title {s.called_aet!r}, ours "
                          f"{s.calling_aet!r}: is our AE title registered at the PACS and "
                          "its AE title right?)")
            elif s.tls and self._reachable() and (problem := tls_problem(s)) is not None:
                reason = problem
            elif assoc.is_aborted and self._reachable():
                # a PACS that resets the connection right after its rejection can lose the
                # A-ASSOCIATE-RJ in transit (seen with Orthanc under load): same advice
                reason = (f"the server aborted the association (check the PACS AE title "
                          f"{s.called_aet!r} and that ours, {s.calling_aet!r}, is registered "
                          "there)")
            else:
                reason = f"cannot connect to {s.host}:{s.port} (unreachable or not listening)"
            raise PacsError(f"{doing}: {reason}", s.label)
        if needs is not None and not any(cx.abstract_syntax == needs
                                         for cx in assoc.accepted_contexts):
            assoc.release()
            raise PacsError(f"{doing}: refused by the server (is our AE title "
                            f"{s.calling_aet!r} registered there and allowed this service?)",
                            s.label)
        try:
            yield assoc
        finally:
            if assoc.is_established:
                assoc.release()

    def _reachable(self) -> bool:
        try:
            with socket.create_connection((self.server.host, int(self.server.port)),
                                          timeout=min(self.server.timeout, 5.0)):
                return True
        except OSError:
            return False

    def _check(self, status: Any, doing: str) -> int:
        if status is None or "Status" not in status:
            raise PacsError(f"{doing}: no valid answer (the server refused our AE title "
                            f"{self.server.calling_aet!r}, or the connection was lost or timed "
                            "out)", self.server.label)
        return int(status.Status)

    # -- services --------------------------------------------------------------------------
    def echo(self) -> None:
        from pynetdicom.sop_class import Verification

        ae = self._ae()
        ae.add_requested_context(Verification)
        with self._associate(ae, "C-ECHO", needs=Verification) as assoc:
            code = self._check(assoc.send_c_echo(), "C-ECHO")
        if code != _SUCCESS:
            raise PacsError(f"C-ECHO: failed with status 0x{code:04X}", self.server.label)

    def verify(self) -> str:
        """The connection test: C-ECHO (PacsError if it fails), then a study search that
        matches nothing (most PACS echo any AE title but refuse its searches). A refused
        search is reported, not raised: a send-only node offers none. Returns the
        sentence after the server's name."""
        from pydicom.uid import generate_uid

        self.echo()
        ident = Dataset()
        ident.QueryRetrieveLevel, ident.StudyInstanceUID = "STUDY", str(generate_uid())
        try:
            self._find(ident, "C-FIND")
        except PacsError as err:
            # the consequence first: a long reason must not hide it
            return ("answers C-ECHO only: searching and retrieving will fail (sending may "
                    f"still work). {err.reason}")
        return "answers (C-ECHO and C-FIND)"

    def _find(self, identifier: Dataset, doing: str) -> list[Dataset]:
        from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind as Model

        ae = self._ae()
        ae.add_requested_context(Model)
        out: list[Dataset] = []
        with self._associate(ae, doing, needs=Model) as assoc:
            for status, found in assoc.send_c_find(identifier, Model):
                code = self._check(status, doing)
                if code in _PENDING and found is not None:
                    out.append(found)
                elif code != _SUCCESS:
                    raise PacsError(f"{doing}: refused with status 0x{code:04X} (is our AE "
                                    f"title {self.server.calling_aet!r} allowed to query?)",
                                    self.server.label)
        return out

    def find_studies(self, query: Query, limit: int | None = None) -> list[StudyRow]:
        ident = Dataset()
        ident.QueryRetrieveLevel = "STUDY"
        filters = query.study_filters()
        for keyword in STUDY_FIELDS:
            setattr(ident, keyword, filters.get(keyword, ""))
        rows = [StudyRow.from_dataset(d) for d in self._find(ident, "C-FIND (study)")]
        return rows[:limit] if limit else rows

    def find_series(self, study_uid: str) -> list[SeriesRow]:
        ident = Dataset()
        ident.QueryRetrieveLevel = "SERIES"
        for keyword in SERIES_FIELDS:
            setattr(ident, keyword, "")
        ident.StudyInstanceUID = study_uid
        return [SeriesRow.from_dataset(d) for d in self._find(ident, "C-FIND (series)")]

    def getscu(self) -> str | None:
        """getscu's path when C-GET of this server goes through DCMTK, else None (pynetdicom:
        C-MOVE, TLS, ``dimse_backend`` pynetdicom, or auto without DCMTK installed).
        A :class:`PacsError` naming the package when ``dcmtk`` is asked for and missing."""
        from coloc_viewer.pacs.getscu import DEBIAN_PACKAGE, ENV_GETSCU, find_getscu

        s = self.server
        if s.dimse_backend == "pynetdicom" or s.retrieve != "get":
            return None
        if s.tls:  # getscu 3.6.7 has no TLS
            if s.dimse_backend == "dcmtk":
                log.info("C-GET over TLS: through pynetdicom (getscu has no TLS)")
            return None
        exe = find_getscu()
        if exe is None and s.dimse_backend == "dcmtk":
            raise PacsError(f"C-GET through DCMTK: getscu not found (install the Debian "
                            f"package {DEBIAN_PACKAGE}, or set {ENV_GETSCU})", s.label)
        return exe if os.name == "posix" else None

    def retrieves_into_folder(self) -> bool:
        """True when :meth:`fetch_series_files` writes the files itself (getscu)."""
        return self.getscu() is not None

    def fetch_series_files(self, study_uid: str, series_uid: str, folder: Path,
                           on_file: Callable[[Path], Any],
                           cancel: threading.Event | None = None) -> None:
        """C-GET through getscu into ``folder``; ``on_file(path)`` for each complete file,
        in arrival order, on this thread."""
        from coloc_viewer.pacs.getscu import run_getscu

        exe = self.getscu()
        if exe is None:
            raise PacsError("C-GET into a folder needs DCMTK's getscu", self.server.label)
        run_getscu(self.server, study_uid, series_uid, folder, on_file, cancel, exe, MAX_PDU)

    def fetch_series(self, study_uid: str, series_uid: str, on_instance: OnInstance,
                     cancel: threading.Event | None = None) -> None:
        """C-GET (or C-MOVE to our listener): instances reach ``on_instance`` as they come
        (through getscu: read from a temporary folder, keyed by file name = SOP Instance
        UID)."""
        if self.getscu() is not None:
            with tempfile.TemporaryDirectory(prefix="coloc-getscu-") as tmp:
                def passed_on(path: Path) -> None:  # kept until the end: getscu's files
                    on_instance(path.name, path.read_bytes())  # are told apart by inode

                self.fetch_series_files(study_uid, series_uid, Path(tmp), passed_on, cancel)
            return
        ident = Dataset()
        ident.QueryRetrieveLevel = "SERIES"
        ident.StudyInstanceUID = study_uid
        ident.SeriesInstanceUID = series_uid
        failure: list[BaseException] = []

        def handle_store(event: Any) -> int:
            if cancel is not None and cancel.is_set():
                return 0xA700  # refused: the transfer stops at the next response
            try:
                on_instance(str(event.request.AffectedSOPInstanceUID), received_file(event))
            except Exception as err:  # noqa: BLE001 - reported after the association
                failure.append(err)
                return 0xA700
            return _SUCCESS

        if self.server.retrieve == "move":
            self._move(ident, handle_store, cancel, failure)
        else:
            self._get(ident, handle_store, cancel, failure)

    def _run_retrieve(self, responses: Iterator[Any], assoc: Any, doing: str,
                      cancel: threading.Event | None, failure: list[BaseException]) -> None:
        for status, _ident in responses:
            if cancel is not None and cancel.is_set():
                assoc.abort()
                raise RetrievalCancelled("retrieval cancelled", self.server.label)
            code = self._check(status, doing)
            if code in _PENDING:
                continue
            if failure:
                raise failure[0]
            if code == _CANCEL:
                raise RetrievalCancelled("retrieval cancelled", self.server.label)
            if code != _SUCCESS:
                failed = int(getattr(status, "NumberOfFailedSuboperations", 0) or 0)
                raise PacsError(f"{doing}: failed with status 0x{code:04X}"
                                + (f" ({failed} instances not sent)" if failed else ""),
                                self.server.label)
        if failure:
            raise failure[0]
        if not assoc.is_established and not assoc.is_released:
            raise PacsError(f"{doing}: the connection was lost mid-transfer", self.server.label)

    def _get(self, ident: Dataset, handler: Callable[[Any], int],
             cancel: threading.Event | None, failure: list[BaseException]) -> None:
        from pynetdicom import build_role, evt
        from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelGet as Model

        ae = self._ae()
        ae.add_requested_context(Model)
        roles = []
        for uid in storage_classes():
            ae.add_requested_context(uid, RETRIEVE_SYNTAXES)
            roles.append(build_role(uid, scp_role=True))
        with self._associate(ae, "C-GET", needs=Model, ext_neg=roles,
                             evt_handlers=[(evt.EVT_C_STORE, handler), *ack_handlers()]
                             ) as assoc:
            no_reactor_nap(assoc)
            self._run_retrieve(assoc.send_c_get(ident, Model), assoc, "C-GET", cancel, failure)

    def _move(self, ident: Dataset, handler: Callable[[Any], int],
              cancel: threading.Event | None, failure: list[BaseException]) -> None:
        from pynetdicom import evt
        from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelMove as Model

        s = self.server
        arrived = 0

        def counted(event: Any) -> int:
            nonlocal arrived
            arrived += 1
            return handler(event)

        listener_ae = self._ae()
        for uid in storage_classes():
            listener_ae.add_supported_context(uid, RETRIEVE_SYNTAXES)
        try:
            listener = listener_ae.start_server(
                ("127.0.0.1" if s.host in ("localhost", "127.0.0.1") else "",
                 int(s.move_port)), block=False,
                evt_handlers=[(evt.EVT_C_STORE, counted), *ack_handlers()])
        except OSError as err:
            raise PacsError(f"C-MOVE: cannot listen on port {s.move_port} "
                            f"({err.strerror})", s.label) from None
        try:
            ae = self._ae()
            ae.add_requested_context(Model)
            with self._associate(ae, "C-MOVE", needs=Model) as assoc:
                self._run_retrieve(assoc.send_c_move(ident, s.calling_aet, Model),
                                   assoc, "C-MOVE", cancel, failure)
        except PacsError as err:
            if arrived or isinstance(err, RetrievalCancelled):
                raise
            # nothing reached our listener: the usual cause is the PACS's entry for us
            raise PacsError(f"{err.reason}; nothing reached our listener: the PACS must know "
                            f"our AE title {s.calling_aet!r} with this computer's address "
                            f"and port {s.move_port}, and be able to reach that port",
                            s.label) from None
        finally:
            listener.shutdown()

    def store(self, paths: Sequence[Path]) -> int:
        """C-STORE of DICOM files (one association); returns how many were stored."""
        datasets = [pydicom.dcmread(p) for p in paths]
        ae = self._ae()
        classes = sorted({str(ds.SOPClassUID) for ds in datasets})
        if len(classes) > 120:
            raise PacsError("C-STORE: more than 120 kinds of object in one send",
                            self.server.label)
        for uid in classes:
            syntaxes = sorted({str(ds.file_meta.TransferSyntaxUID) for ds in datasets
                               if str(ds.SOPClassUID) == uid} | {ExplicitVRLittleEndian})
            ae.add_requested_context(uid, syntaxes)
        with self._associate(ae, "C-STORE") as assoc:
            for ds in datasets:
                code = self._check(assoc.send_c_store(ds), "C-STORE")
                if code != _SUCCESS and not 0xB000 <= code <= 0xBFFF:  # B: stored, warning
                    raise PacsError(f"C-STORE: refused with status 0x{code:04X}",
                                    self.server.label)
        return len(datasets)
