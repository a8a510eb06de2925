"""Mutual TLS on 127.0.0.1: a throwaway CA, certificates, and a TLS-terminating proxy.

The proxy is what nginx would be in front of an app: it requires a client
certificate signed by the CA, drops any ``X-Client-Cert`` header the client
sent, and forwards the request over plain HTTP with the verified
certificate URL-encoded in ``X-Client-Cert`` (nginx's
``$ssl_client_escaped_cert``).
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import ipaddress
import socket
import socketserver
import ssl
import tempfile
import threading
from pathlib import Path
from urllib.parse import quote

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


class Authority:
    """A CA and the files each certificate needs, in a temporary directory."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="mtls-"))
        self.key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(_name("test CA"))
            .issuer_name(_name("test CA"))
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True, content_commitment=False, key_encipherment=False,
                    data_encipherment=False, key_agreement=False, key_cert_sign=True,
                    crl_sign=True, encipher_only=False, decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), critical=False
            )
            .sign(self.key, hashes.SHA256())
        )  # fmt: skip
        self.ca_file = self._write("ca.pem", self.cert.public_bytes(serialization.Encoding.PEM))

    def issue(self, name: str, *, server: bool = False) -> tuple[Path, Path, x509.Certificate]:
        """A certificate signed by the CA: (cert file, key file, certificate)."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(name))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            # What strict verification (CPython 3.13's default) asks of a leaf.
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                critical=False,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .add_extension(
                x509.ExtendedKeyUsage(
                    [x509.oid.ExtendedKeyUsageOID.SERVER_AUTH
                     if server else x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]
                ),
                critical=False,
            )
        )  # fmt: skip
        if server:
            address = x509.IPAddress(ipaddress.ip_address("127.0.0.1"))
            builder = builder.add_extension(x509.SubjectAlternativeName([address]), critical=False)
        cert = builder.sign(self.key, hashes.SHA256())
        cert_file = self._write(f"{name}.pem", cert.public_bytes(serialization.Encoding.PEM))
        key_file = self._write(
            f"{name}.key",
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
        )
        return cert_file, key_file, cert

    def _write(self, name: str, data: bytes) -> Path:
        path = self.dir / name
        path.write_bytes(data)
        return path


def thumbprint(cert: x509.Certificate) -> str:
    """RFC 8705's ``x5t#S256`` of a certificate."""
    digest = hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class TlsProxy:
    """Terminates mutual TLS on 127.0.0.1 and forwards to ``backend_port`` over HTTP."""

    def __init__(self, authority: Authority, backend_port: int) -> None:
        cert_file, key_file, _ = authority.issue("proxy", server=True)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert_file, key_file)
        context.load_verify_locations(authority.ca_file)
        context.verify_mode = ssl.CERT_REQUIRED

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                try:
                    tls = context.wrap_socket(self.request, server_side=True)
                except (ssl.SSLError, OSError):
                    return  # no or a bad client certificate: the handshake failed
                with tls:
                    forward(tls, backend_port)

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def forward(tls: ssl.SSLSocket, backend_port: int) -> None:
    """One request: read it, swap the certificate header, relay the answer."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = tls.recv(65536)
        if not chunk:
            return
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    length = 0
    kept = [lines[0]]
    for line in lines[1:]:
        name = line.split(b":", 1)[0].strip().lower()
        if name in (b"x-client-cert", b"connection"):
            continue  # never pass on what the client claims its certificate is
        if name == b"content-length":
            length = int(line.split(b":", 1)[1])
        kept.append(line)
    while len(body) < length:
        body += tls.recv(65536)
    der = tls.getpeercert(binary_form=True)
    assert der is not None
    pem = x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM)
    kept += [b"X-Client-Cert: " + quote(pem.decode(), safe="").encode(), b"Connection: close"]
    with socket.create_connection(("127.0.0.1", backend_port), timeout=10) as backend:
        backend.sendall(b"\r\n".join(kept) + b"\r\n\r\n" + body)
        while chunk := backend.recv(65536):
            tls.sendall(chunk)
