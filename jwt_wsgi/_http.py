"""One HTTP GET of a JSON document, bounded by a deadline for the whole operation.

Key sets come from servers we do not control, over networks that misbehave.
A socket timeout bounds each read, not the fetch: a server that sends one byte
every so often keeps it alive forever. :func:`get_json` therefore sets a
deadline once and enforces it two ways: every connect and read gets only the
time left, and a watchdog shuts the socket down when the deadline passes,
which ends any read in progress (connect, TLS handshake, headers, body alike).

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
    """One request: status, Location, Cache-Control and the body (at most ``max_bytes``)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchError(f"not an http(s) URL: {url!r}")
    left = deadline - time.monotonic()
    if left <= 0:
        raise FetchError(f"the deadline passed before fetching {url}")
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        context = ssl_context or ssl.create_default_context()
        conn = http.client.HTTPSConnection(
            parts.hostname, parts.port, timeout=left, context=context
        )
    else:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=left)
    watchdog = threading.Timer(left, _cut, args=(conn,))
    watchdog.daemon = True
    watchdog.start()
    try:
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        conn.request("GET", path, headers={"Accept": "application/jwk-set+json, application/json"})
        response = conn.getresponse()
        body = response.read(max_bytes + 1)
        status = response.status
        location = response.getheader("Location")
        cache_control = response.getheader("Cache-Control") or ""
    except (OSError, http.client.HTTPException, ValueError) as exc:
        if time.monotonic() >= deadline:
            raise FetchError(f"no complete answer from {url} within the deadline") from None
        raise FetchError(f"{type(exc).__name__} fetching {url}") from None
    finally:
        watchdog.cancel()
        conn.close()
    if time.monotonic() >= deadline:
        raise FetchError(f"no complete answer from {url} within the deadline")
    if len(body) > max_bytes:
        raise FetchError(f"the response from {url} is over {max_bytes} bytes")
    return status, location, cache_control, body


def _cut(conn: http.client.HTTPConnection) -> None:
    """Shut the connection's socket down, ending any read blocked on it."""
    sock = conn.sock
    if sock is None:
        return
    try:
        # The plain socket's shutdown, also for a TLS socket: it only needs
        # the descriptor, and it wakes a read blocked in another thread.
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass
