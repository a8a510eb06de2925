"""One HTTP GET of a JSON document, bounded by a deadline for the whole operation.

Key sets come from servers we do not control, over networks that misbehave.
A socket timeout bounds each read, not the fetch: a server that sends one byte
every so often keeps it alive forever. :func:`get_json` therefore sets a
deadline once and enforces it two ways: every connect and read gets only the
time left, and a watchdog shuts the socket down when the deadline passes,
which ends any read in progress (TLS handshake, headers, body alike), so the
fetch, and the thread running it, ends at the deadline.

Every way a fetch can fail (an ``OSError``, a TLS error, an
``http.client.HTTPException`` for a reply that is not HTTP or is cut short, a
status other than 200, a body over the limit or not a JSON object, a redirect
to ``http``) raises :class:`FetchError` with a short reason and nothing else.
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import threading
import time
from typing import Any
from urllib.parse import urljoin, urlsplit

from werkzeug.http import parse_cache_control_header

from .errors import Error

MAX_RESPONSE_BYTES = 1 << 20
MAX_REDIRECTS = 3
_REDIRECTS = (301, 302, 303, 307, 308)


class FetchError(Error):
    """A document could not be fetched or understood; the message says why."""


def get_json(
    url: str,
    *,
    timeout: float,
    ssl_context: ssl.SSLContext | None = None,
    max_bytes: int = MAX_RESPONSE_BYTES,
) -> tuple[dict[str, Any], float | None]:
    """GET ``url`` within ``timeout`` seconds in all; return the object and its max-age.

    Redirects are followed (at most three) to ``https`` URLs only, whatever
    ``allow_http`` says: it only admits ``url`` itself.
    """
    deadline = time.monotonic() + timeout
    for _ in range(MAX_REDIRECTS + 1):
        status, location, cache_control, body = _get(url, deadline, ssl_context, max_bytes)
        if status not in _REDIRECTS:
            break
        if not location:
            raise FetchError(f"HTTP {status} without a Location from {url}")
        target = urljoin(url, location)
        if not target.startswith("https://"):
            raise FetchError(f"refused a redirect from {url} to a non-https URL")
        url = target
    else:
        raise FetchError(f"more than {MAX_REDIRECTS} redirects")
    if status != 200:
        raise FetchError(f"HTTP {status} from {url}")
    try:
        document = json.loads(body)
    except ValueError:
        raise FetchError(f"the response from {url} is not JSON") from None
    if not isinstance(document, dict):
        raise FetchError(f"the response from {url} is not a JSON object")
    max_age = parse_cache_control_header(cache_control).max_age
    return document, float(max_age) if max_age is not None else None


def _get(
    url: str, deadline: float, ssl_context: ssl.SSLContext | None, max_bytes: int
) -> tuple[int, str | None, str, bytes]:
    """One request: status, Location, Cache-Control and the body (at most ``max_bytes``).

    The socket is made here, not by ``http.client``, so the watchdog holds its
    descriptor from the first byte to the last: through the TLS handshake
    (while ``HTTPSConnection.sock`` is not yet the TLS socket) and through
    the body of a ``Connection: close`` reply (when ``http.client`` has
    already handed the socket to the response and set ``sock`` to ``None``).
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchError(f"not an http(s) URL: {url!r}")
    left = deadline - time.monotonic()
    if left <= 0:
        raise FetchError(f"the deadline passed before fetching {url}")
    host = parts.hostname
    port = parts.port or (443 if parts.scheme == "https" else 80)
    cutter = _Cutter()
    watchdog = threading.Timer(left, cutter.cut)
    watchdog.daemon = True
    watchdog.start()
    conn = http.client.HTTPConnection(host, port, timeout=left)
    try:
        sock = socket.create_connection((host, port), timeout=left)
        cutter.arm(sock)
        if parts.scheme == "https":
            context = ssl_context or ssl.create_default_context()
            # The handshake after the TLS socket exists, so the watchdog holds it.
            sock = context.wrap_socket(sock, server_hostname=host, do_handshake_on_connect=False)
            cutter.arm(sock)
            sock.do_handshake()
        conn.sock = sock
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        conn.request("GET", path, headers={"Accept": "application/jwk-set+json, application/json"})
        response = conn.getresponse()
        body = response.read(max_bytes + 1)
        status = response.status
        location = response.getheader("Location")
        cache_control = response.getheader("Cache-Control") or ""
    except ssl.SSLCertVerificationError as exc:
        raise FetchError(
            f"the TLS certificate of {url} is not trusted ({exc.verify_message}); for a "
            "private CA give ca_file= (or ssl_context=)"
        ) from None
    except (OSError, http.client.HTTPException, ValueError) as exc:
        if time.monotonic() >= deadline:
            raise FetchError(f"no complete answer from {url} within the deadline") from None
        raise FetchError(f"{type(exc).__name__} fetching {url}") from None
    finally:
        watchdog.cancel()
        cutter.disarm()
        conn.close()
    if time.monotonic() >= deadline:
        raise FetchError(f"no complete answer from {url} within the deadline")
    if len(body) > max_bytes:
        raise FetchError(f"the response from {url} is over {max_bytes} bytes")
    return status, location, cache_control, body


class _Cutter:
    """Shuts a fetch's socket down when its deadline passes, ending any read on it.

    It holds the socket object in use (the TCP socket, then the TLS socket made
    from it, before its handshake), never a bare descriptor that could be
    reused; arming, cutting and disarming (which closes the socket) take turns
    under a lock, so a late watchdog touches nothing closed.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None

    def arm(self, sock: socket.socket) -> None:
        with self._lock:
            self._sock = sock

    def cut(self) -> None:
        with self._lock:
            if self._sock is None:
                return
            try:
                # The plain socket's shutdown, for a TLS socket too: it needs only
                # the descriptor, and it wakes a read blocked in another thread.
                socket.socket.shutdown(self._sock, socket.SHUT_RDWR)
            except OSError:
                pass  # not connected yet, or already closed

    def disarm(self) -> None:
        with self._lock:
            sock, self._sock = self._sock, None
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass
