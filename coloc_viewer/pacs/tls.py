"""TLS settings of a server (``ca_file``, ``client_cert``, ``client_key``) for both
protocols: an ``ssl.SSLContext`` for DIMSE, ``verify``/``cert`` for DICOMweb's session.
An unreadable certificate file is one :class:`PacsError` naming it."""

from __future__ import annotations

import contextlib
import socket
import ssl
from pathlib import Path

from coloc_viewer.pacs.errors import PacsError
from coloc_viewer.pacs.servers import ServerConfig

__all__ = ["requests_tls", "ssl_context", "tls_problem", "tls_reason"]


def _checked(server: ServerConfig, path: str, what: str) -> str:
    if not Path(path).is_file():
        raise PacsError(f"TLS: the {what} file {path} does not exist", server.label)
    return path


def ssl_context(server: ServerConfig) -> ssl.SSLContext:
    """A client context that checks the server's certificate and host name (against
    ``ca_file`` when given, else the system's CA store) and presents ours if configured."""
    ca = _checked(server, server.ca_file, "CA certificate") if server.ca_file else None
    try:
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca)
        if server.client_cert:
            key = _checked(server, server.client_key, "private key") if server.client_key \
                else None
            context.load_cert_chain(_checked(server, server.client_cert, "certificate"), key)
    except (ssl.SSLError, OSError) as err:
        raise PacsError(f"TLS: cannot use the certificate files ({err.strerror or err})",
                        server.label) from None
    return context


def requests_tls(server: ServerConfig) -> tuple[bool | str, tuple[str, str] | str | None]:
    """``(verify, cert)`` for a requests session."""
    verify: bool | str = _checked(server, server.ca_file, "CA certificate") \
        if server.ca_file else True
    cert: tuple[str, str] | str | None = None
    if server.client_cert:
        path = _checked(server, server.client_cert, "certificate")
        cert = (path, _checked(server, server.client_key, "private key")) \
            if server.client_key else path
    return verify, cert


def tls_reason(err: BaseException) -> str:
    """One clause for a failed TLS handshake."""
    text = str(err)
    if "CERTIFICATE_VERIFY_FAILED" in text or isinstance(err, ssl.SSLCertVerificationError):
        why = text.split("certificate verify failed:")[-1].split("(_ssl")[0].strip(" )'\"")
        return (f"TLS: the server's certificate is not trusted ({why or 'verify failed'}; "
                "give the CA certificate file of its issuer)")
    if "alert" in text.lower() and "certificate" in text.lower():
        return ("TLS: the server refused our certificate (it asks for a client certificate "
                "signed by a CA it trusts)")
    return "TLS handshake failed (is TLS enabled on the server, and on this port?)"


def tls_problem(server: ServerConfig) -> str | None:
    """Why a TLS handshake with a DIMSE server fails (None: it succeeds or the server is
    not reachable at all), to explain a failed association."""
    context = ssl_context(server)
    try:
        with socket.create_connection((server.host, int(server.port)),
                                      timeout=min(server.timeout, 5.0)) as raw, \
                context.wrap_socket(raw, server_hostname=server.host) as tls:
            tls.settimeout(1.0)
            with contextlib.suppress(TimeoutError):
                tls.recv(1)  # a refused client certificate shows up at the first read
    except ssl.SSLError as err:
        return tls_reason(err)
    except OSError:
        return None
    return None
