"""A key server on 127.0.0.1 that answers the way real servers and networks misbehave.

It is a raw TCP server, not a WSGI app, so it can also do what no WSGI server
would: hang, send one byte at a time, cut a chunk short, send something that is
not HTTP, or a header line longer than any client accepts. It serves the JWK
Set at ``/jwks.json`` and an OpenID discovery document at
``/.well-known/openid-configuration``; ``behaviour`` decides how the key set
is answered, and can change while a test runs (an outage, then recovery).
"""

from __future__ import annotations

import datetime
import json
import socket
import socketserver
import ssl
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

#: How the key set can be answered.
BEHAVIOURS = (
    "ok",  # 200 with the keys
    "status-500",  # 500, with a body that would parse as the key set
    "hang",  # read the request, never answer
    "hang-headers",  # send the status line, then nothing
    "drip",  # headers, then one byte of body every drip_interval seconds
    "drip-headers",  # the headers themselves one byte at a time
    "drip-close",  # "Connection: close", then one byte of body every drip_interval seconds
    "not-http",  # "NOT HTTP" and close
    "cut-chunk",  # chunked body cut short mid-chunk
    "cut-body",  # Content-Length larger than what is sent
    "long-header",  # one header line of 70,000 bytes
    "garbage",  # 200 with a body that is not JSON
    "not-a-set",  # 200 with a JSON object that is no key set
    "oversize",  # 200 with the keys and 2 MiB of trailing whitespace
    "redirect",  # 302 to redirect_to
    "close",  # accept and close at once
)


class KeyServer:
    """Serves ``keys`` as a JWK Set, behaving as ``behaviour`` says.

    :param tls: serve HTTPS with a fresh self-signed certificate for
        127.0.0.1; :attr:`client_context` trusts it.
    """

    def __init__(self, *, tls: bool = False, authority: Any = None) -> None:
        self.keys: list[dict[str, Any]] = []
        self.behaviour = "ok"
        self.cache_control: str | None = None
        self.redirect_to = ""
        self.drip_interval = 0.2
        self.delay = 0.0  # seconds before answering "ok"
        self.fetches = 0  # requests for the key set, whatever the answer
        self.hung_up: list[float] = []  # when clients closed a dripping answer
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.tls = tls
        self.client_context: ssl.SSLContext | None = None
        #: The PEM file a client trusts the server's certificate by (``ca_file=``).
        self.ca_file: str | None = None
        server_context = self._tls_contexts(authority) if tls else None
        owner = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                sock: socket.socket = self.request
                if server_context is not None:
                    try:
                        sock = server_context.wrap_socket(sock, server_side=True)
                    except (ssl.SSLError, OSError):
                        return
                try:
                    owner._answer(sock)
                except OSError:
                    pass
                finally:
                    if sock is not self.request:
                        sock.close()

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self._server = Server(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        scheme = "https" if tls else "http"
        #: The issuer URL (and base of every path served).
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    @property
    def jwks_url(self) -> str:
        return self.url + "/jwks.json"

    def close(self) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _tls_contexts(self, authority: Any) -> ssl.SSLContext:
        if authority is not None:  # a certificate of a test CA (tests/tlsproxy.py)
            cert_path, key_path, _ = authority.issue(f"keyserver-{id(self)}", server=True)
            server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            server.load_cert_chain(cert_path, key_path)
            self.ca_file = str(authority.ca_file)
            self.client_context = ssl.create_default_context(cafile=self.ca_file)
            return server
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
        now = datetime.datetime.now(datetime.UTC)
        import ipaddress

        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False,
            )
            .sign(key, hashes.SHA256())
        )
        directory = Path(tempfile.mkdtemp(prefix="jwt_wsgi-keyserver-"))
        cert_file, key_file = directory / "cert.pem", directory / "key.pem"
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server.load_cert_chain(cert_file, key_file)
        self.ca_file = str(cert_file)
        self.client_context = ssl.create_default_context(cafile=self.ca_file)
        return server

    def _read_request(self, sock: socket.socket) -> str:
        data = b""
        sock.settimeout(5)
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
        request_line = data.split(b"\r\n", 1)[0].decode("latin-1")
        parts = request_line.split(" ")
        return parts[1] if len(parts) > 1 else "/"

    def _answer(self, sock: socket.socket) -> None:
        path = self._read_request(sock)
        if path == "/.well-known/openid-configuration":
            body = json.dumps({"issuer": self.url, "jwks_uri": self.jwks_url}).encode()
            self._send(sock, "200 OK", body)
            return
        if path == "/moved.json":  # where a redirect test points: always the keys
            self._send(sock, "200 OK", json.dumps({"keys": self.keys}).encode())
            return
        with self._lock:
            self.fetches += 1
        behaviour = self.behaviour
        if behaviour == "ok":
            time.sleep(self.delay)
            extra = [("Cache-Control", self.cache_control)] if self.cache_control else []
            self._send(sock, "200 OK", json.dumps({"keys": self.keys}).encode(), extra)
        elif behaviour == "status-500":
            # An error page that happens to look like keys must not be trusted.
            self._send(sock, "500 Internal Server Error", json.dumps({"keys": self.keys}).encode())
        elif behaviour in ("hang", "hang-headers"):
            if behaviour == "hang-headers":
                sock.sendall(b"HTTP/1.1 200 OK\r\n")
            self._stop.wait(30)
        elif behaviour in ("drip", "drip-close"):
            body = json.dumps({"keys": self.keys}).encode()
            close = b"Connection: close\r\n" if behaviour == "drip-close" else b""
            sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n" % (len(body), close))
            for byte in _bytes(body):
                if self._stop.wait(self.drip_interval):
                    return
                try:
                    sock.sendall(byte)
                except OSError:  # the client hung up: when, for the deadline tests
                    self.hung_up.append(time.monotonic())
                    return
        elif behaviour == "drip-headers":
            for byte in _bytes(b"HTTP/1.1 200 OK\r\nX-Slow: " + b"x" * 1000):
                if self._stop.wait(self.drip_interval):
                    return
                sock.sendall(byte)
        elif behaviour == "not-http":
            sock.sendall(b"NOT HTTP\r\n\r\n")
        elif behaviour == "cut-chunk":
            sock.sendall(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"100\r\n" + b'{"keys": [' + b" " * 20
            )
        elif behaviour == "cut-body":
            sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b'{"keys": [')
        elif behaviour == "long-header":
            sock.sendall(b"HTTP/1.1 200 OK\r\nX-Long: " + b"a" * 70_000 + b"\r\n\r\n{}")
        elif behaviour == "garbage":
            self._send(sock, "200 OK", b"<html>we are down</html>")
        elif behaviour == "not-a-set":
            self._send(sock, "200 OK", b'{"hello": "world"}')
        elif behaviour == "oversize":
            # Valid JSON even when cut at the size limit, so only the limit refuses it.
            body = json.dumps({"keys": self.keys}).encode() + b" " * (2 << 20)
            self._send(sock, "200 OK", body)
        elif behaviour == "redirect":
            self._send(sock, "302 Found", b"", [("Location", self.redirect_to)])
        elif behaviour == "close":
            pass
        else:
            raise AssertionError(f"unknown behaviour {behaviour!r}")

    @staticmethod
    def _send(
        sock: socket.socket, status: str, body: bytes, extra: list[tuple[str, str]] | None = None
    ) -> None:
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        head = f"HTTP/1.1 {status}\r\n" + "".join(
            f"{name}: {value}\r\n" for name, value in headers + (extra or [])
        )
        sock.sendall(head.encode("latin-1") + b"Connection: close\r\n\r\n" + body)


def _bytes(data: bytes) -> Iterator[bytes]:
    for index in range(len(data)):
        yield data[index : index + 1]


class DrippingRelay:
    """A TCP relay to ``port`` that passes the server's bytes on one at a time, every
    ``interval`` seconds: a slow link under everything, the TLS handshake included."""

    def __init__(self, port: int, interval: float = 0.2) -> None:
        self.target = port
        self.interval = interval
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.hung_up: list[float] = []  # when the client closed its side
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self.listener.accept()
                upstream = socket.create_connection(("127.0.0.1", self.target), timeout=5)
            except OSError:
                return
            threading.Thread(target=self._up, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._down, args=(upstream, client), daemon=True).start()

    def _up(self, client: socket.socket, upstream: socket.socket) -> None:
        try:
            while data := client.recv(65536):
                upstream.sendall(data)
        except OSError:
            pass
        self.hung_up.append(time.monotonic())
        upstream.close()

    def _down(self, upstream: socket.socket, client: socket.socket) -> None:
        try:
            while data := upstream.recv(65536):
                for byte in _bytes(data):
                    if self._stop.wait(self.interval):
                        return
                    client.sendall(byte)
        except OSError:
            pass
        finally:
            client.close()

    def close(self) -> None:
        self._stop.set()
        self.listener.close()
