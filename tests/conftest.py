"""Shared fixtures: keys, a frozen clock, real HTTP servers and a real Redis on loopback.

Also the suite's settings: the hypothesis profiles (``HYPOTHESIS_PROFILE``
picks one; ``make fuzz`` runs ``fuzz``), and markers added by fixture, so a
test that needs Redis, a browser or a server process says so whether or not
its author remembered: ``make test-fast`` leaves those out.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import HealthCheck, settings
from werkzeug.serving import BaseWSGIServer, make_server

from .fixtures.redis_servers import RedisClusterNodes, RedisServer, SentinelGroup
from .helpers import Clock

ROOT = Path(__file__).resolve().parent.parent

settings.register_profile(
    "default", max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "fuzz", max_examples=20_000, deadline=None, suppress_health_check=list(HealthCheck)
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

#: The fixtures that make a test need more than Python, and the marker each implies.
NEEDS = {
    "redis_url": "redis",
    "redis_server": "redis",
    "sentinel_group": "redis",
    "redis_cluster": "redis",
    "browser": "browser",
    "gunicorn": "server",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for fixture in getattr(item, "fixturenames", ()):
            if fixture in NEEDS:
                item.add_marker(NEEDS[fixture])


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


class Gunicorn:
    """A real gunicorn serving ``app`` (``module:attribute``) on 127.0.0.1.

    The access log names the worker pid of each request (``%(p)s %(r)s``),
    so tests can see which workers answered.
    """

    def __init__(
        self,
        app: str,
        *,
        workers: int = 1,
        env: dict[str, str] | None = None,
        args: Sequence[str] = (),
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.NamedTemporaryFile(prefix="gunicorn-", suffix=".log", delete=False)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{self.port}",
             "--workers", str(workers), "--log-level", "warning",
             "--access-logfile", self.log.name, "--access-logformat", "%(p)s %(r)s",
             "--chdir", str(ROOT), *args, app],
            env={**os.environ, **(env or {})},
        )  # fmt: skip
        if not serving(self.port, self.process):
            self.stop()
            raise RuntimeError(f"gunicorn did not start serving {app}")

    def wait_for_workers(self, count: int, path: str = "/") -> None:
        """Send requests until ``count`` workers have answered (they boot one by one)."""
        import http.client
        from concurrent.futures import ThreadPoolExecutor

        def hit(_: int) -> None:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            try:
                conn.request("GET", path)
                conn.getresponse().read()
            finally:
                conn.close()

        deadline = time.monotonic() + 30
        with ThreadPoolExecutor(count * 2) as pool:
            while len(self.workers_seen()) < count:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"only {self.workers_seen()} of {count} workers answered")
                list(pool.map(hit, range(count * 4)))

    def workers_seen(self, request: str = "") -> set[str]:
        """The pids of the workers that answered requests (starting with ``request``) so far."""
        lines = Path(self.log.name).read_text().splitlines()
        return {
            pid
            for pid, _, rest in (entry.partition(" ") for entry in lines)
            if rest.startswith(request)
        }

    def hang(self) -> None:
        """Freeze the server (SIGSTOP): connections stay open and nothing answers."""
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.terminate()
            self.process.wait(timeout=10)
        self.log.close()
        os.unlink(self.log.name)


@pytest.fixture
def gunicorn() -> Iterator[Callable[..., Gunicorn]]:
    """Start gunicorn servers for a test; all are stopped after it."""
    started: list[Gunicorn] = []

    def start(app: str, **options: Any) -> Gunicorn:
        server = Gunicorn(app, **options)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def serving(port: int, process: subprocess.Popen[Any], timeout: float = 30) -> bool:
    """Wait until ``process`` accepts connections on ``port``; ``False`` if it died or never did."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                return False
            time.sleep(0.1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """One Redis for the session; tests use distinct key prefixes."""
    server = RedisServer()
    yield server.url
    server.cleanup()


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A Redis of the test's own, which the test may stop, freeze or restart."""
    server = RedisServer()
    yield server
    server.cleanup()


@pytest.fixture
def sentinel_group() -> Iterator[SentinelGroup]:
    """A primary, a replica and three Sentinels of the test's own (it may kill them)."""
    group = SentinelGroup()
    yield group
    group.close()


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisClusterNodes]:
    """A three-primary Redis Cluster for the session's tests (distinct prefixes per test;
    a test may restart a node empty, which the cluster survives)."""
    cluster = RedisClusterNodes()
    yield cluster
    cluster.close()
