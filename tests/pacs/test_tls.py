"""TLS against a real Orthanc with HTTPS and DICOM TLS (a hospital's own CA, generated here):
search and retrieve over both protocols with the CA file of the server's settings, our own
certificate where the PACS asks for one, and one clear line for each way it goes wrong."""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import socket
import socketserver
import ssl
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from coloc_viewer.imaging.load import load_volume
from coloc_viewer.pacs.cache import StudyCache
from coloc_viewer.pacs.errors import PacsError
from coloc_viewer.pacs.orthanc_local import LocalOrthanc, find_orthanc
from coloc_viewer.pacs.query import Query
from coloc_viewer.pacs.retrieve import connect, retrieve_series
from coloc_viewer.pacs.servers import ServerConfig
from coloc_viewer.resources import demo_dir

pytestmark = pytest.mark.skipif(find_orthanc() is None, reason="Orthanc is not installed")
CASE2_T2 = demo_dir() / "case-02" / "dicom"
OUR_AET = "COLOCTLS"


def _pem_pair(folder: Path, name: str, subject: str, issuer=None, ca: bool = False,
              server: bool = False):
    """A key and a certificate (signed by ``issuer`` = (key, cert), else self-signed)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    sign_key, issuer_name = (key, subject_name) if issuer is None else (issuer[0],
                                                                         issuer[1].subject)
    now = datetime.datetime.now(datetime.UTC)
    builder = (x509.CertificateBuilder().subject_name(subject_name).issuer_name(issuer_name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(days=1))
               .not_valid_after(now + datetime.timedelta(days=30))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ca:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=True, key_cert_sign=True, crl_sign=True,
            content_commitment=False, key_encipherment=False, data_encipherment=False,
            key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
    else:
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if server:
        builder = builder.add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False)
    cert = builder.sign(sign_key, hashes.SHA256())
    key_path, cert_path = folder / f"{name}.key", folder / f"{name}.pem"
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.TraditionalOpenSSL,
                                           serialization.NoEncryption()))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return (key, cert), key_path, cert_path


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("pki")
    ca, _ca_key, ca_pem = _pem_pair(folder, "ca", "Hospital test CA", ca=True)
    _s, server_key, server_pem = _pem_pair(folder, "server", "pacs", issuer=ca, server=True)
    _c, client_key, client_pem = _pem_pair(folder, "client", OUR_AET, issuer=ca)
    _o, other_key, other_pem = _pem_pair(folder, "other-ca", "Another CA", ca=True)
    return {"ca": ca_pem, "server_key": server_key, "server": server_pem,
            "client_key": client_key, "client": client_pem, "other_ca": other_pem}


class _HttpsProxy(socketserver.ThreadingTCPServer):
    """HTTPS in front of Orthanc's plain HTTP port, as a hospital's reverse proxy would be
    (Debian's Orthanc 1.10.1 crashes on HTTPS requests itself)."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, target: int, cert: Path, key: Path):
        self.target = target
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(str(cert), str(key))
        super().__init__(("127.0.0.1", 0), _Pipe)


class _Pipe(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        try:
            tls = self.server.context.wrap_socket(self.request, server_side=True)
        except (ssl.SSLError, OSError):
            return  # a client that does not trust us: its handshake fails
        with tls, socket.create_connection(("127.0.0.1", self.server.target)) as plain:
            def pump(src, dst) -> None:
                with contextlib.suppress(OSError):
                    while data := src.recv(1 << 16):
                        dst.sendall(data)
                with contextlib.suppress(OSError):
                    dst.shutdown(socket.SHUT_WR)

            back = threading.Thread(target=pump, args=(plain, tls), daemon=True)
            back.start()
            pump(tls, plain)
            back.join(30)


@pytest.fixture(scope="module")
def tls_orthanc(tmp_path_factory: pytest.TempPathFactory, pki: dict[str, Path]):
    server = LocalOrthanc(tmp_path_factory.mktemp("orthanc-tls"), modalities={OUR_AET: 104},
                          tls={"cert": str(pki["server"]), "key": str(pki["server_key"]),
                               "ca": str(pki["ca"]), "require_client": "1"})
    with server:
        server.upload(sorted(CASE2_T2.glob("*.dcm")))
        proxy = _HttpsProxy(server.http_port, pki["server"], pki["server_key"])
        threading.Thread(target=proxy.serve_forever, daemon=True).start()
        server.https_url = f"https://127.0.0.1:{proxy.server_address[1]}/dicom-web"
        try:
            yield server
        finally:
            proxy.shutdown()
            proxy.server_close()


def _web(orthanc: LocalOrthanc, pki: dict[str, Path], **kw) -> ServerConfig:
    return ServerConfig("secure-web", url=orthanc.https_url, tls=True,
                        ca_file=str(pki["ca"]), timeout=15, **kw)


def _dimse(orthanc: LocalOrthanc, pki: dict[str, Path], **kw) -> ServerConfig:
    values = dict(name="secure-dimse", protocol="dimse", host="127.0.0.1",
                  port=orthanc.dicom_port, called_aet=orthanc.aet, calling_aet=OUR_AET,
                  tls=True, ca_file=str(pki["ca"]), client_cert=str(pki["client"]),
                  client_key=str(pki["client_key"]), timeout=15)
    return ServerConfig(**{**values, **kw})


def _check_series(server: ServerConfig, tmp_path: Path) -> None:
    client = connect(server)
    client.echo()
    (study,) = client.find_studies(Query(patient_id="SYNTH-02"))
    (series,) = client.find_series(study.study_uid)
    folder = retrieve_series(client, StudyCache(tmp_path / "cache"), study.study_uid,
                             series.series_uid, total=series.n_instances)
    np.testing.assert_array_equal(load_volume(folder).voxels, load_volume(CASE2_T2).voxels)


def test_dicomweb_over_https_with_the_hospital_ca(tls_orthanc, pki, tmp_path) -> None:
    assert tls_orthanc.https_url.startswith("https://")
    _check_series(_web(tls_orthanc, pki), tmp_path)


def test_dimse_tls_with_our_certificate(tls_orthanc, pki, tmp_path) -> None:
    server = _dimse(tls_orthanc, pki)
    assert not connect(server).retrieves_into_folder()  # getscu has no TLS: pynetdicom
    _check_series(server, tmp_path)


@pytest.mark.parametrize(("protocol", "change", "reason"), [
    ("dicomweb", {"ca_file": ""}, "certificate is not trusted"),  # the system's CAs
    ("dicomweb", {"ca_file": "other_ca"}, "certificate is not trusted"),
    ("dimse", {"ca_file": "other_ca"}, "certificate is not trusted"),
    ("dimse", {"client_cert": "", "client_key": ""}, "refused our certificate"),
    ("dimse", {"ca_file": "/nowhere/ca.pem"}, "CA certificate file /nowhere/ca.pem does not"),
])
def test_tls_problems_are_one_line(tls_orthanc, pki, protocol, change, reason) -> None:
    change = {k: (str(pki[v]) if v in pki else v) for k, v in change.items()}
    base = _web(tls_orthanc, pki) if protocol == "dicomweb" else _dimse(tls_orthanc, pki)
    with pytest.raises(PacsError, match=reason) as err:
        connect(replace(base, **change)).echo()
    text = str(err.value)
    assert "\n" not in text and base.label in text
