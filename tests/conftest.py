"""Shared fixtures: keys, a frozen clock, and real HTTP servers on loopback."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from werkzeug.serving import BaseWSGIServer, make_server

from .helpers import Clock

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="session")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def serve() -> Iterator[Callable[[WSGIApplication], str]]:
    """Start apps on real Werkzeug servers on 127.0.0.1; return their base URLs."""
    servers: list[tuple[BaseWSGIServer, threading.Thread]] = []

    def start(app: WSGIApplication) -> str:
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        thread.start()
        servers.append((server, thread))
        return f"http://127.0.0.1:{server.server_port}"

    yield start
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
