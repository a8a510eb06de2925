"""Each framework guide's example, served by gunicorn (sync, gthread) and waitress, for real.

Every example answers the same story: ``/health`` is public, ``/me`` needs a
token and answers with the user the framework's own accessor sees,
``/admin`` needs the ``admin`` role, and ``POST /notes`` works with a bearer
token (Django's CSRF check included). The gthread and waitress runs mount
the app under ``/svc`` (``SCRIPT_NAME``), where the rules still apply. Each
example logs its refusals to stderr as its guide says; the test reads them.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jwt_wsgi import Minter

from .conftest import free_port, serving

pytestmark = pytest.mark.server

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "frameworks"
SECRET = "guide-secret-for-tests-only-0123456789abcdef"
APPS = {
    "flask": "flask_app:app",
    "django": "django_site.wsgi:application",
    "pyramid": "pyramid_wsgi:app",
    "falcon": "falcon_app:app",
    "bottle": "bottle_app:app",
    "webob": "webob_api:app",
    "bare": "bare_app:app",
}
#: server -> the SCRIPT_NAME prefix it mounts the app under
SERVERS = {"gunicorn-sync": "", "gunicorn-gthread": "/svc", "waitress": "/svc"}


class Server:
    """A real server process running ``target`` from examples/frameworks on 127.0.0.1."""

    def __init__(self, kind: str, target: str, prefix: str, args: list[str] | None = None) -> None:
        self.port = free_port()
        self.prefix = prefix
        self.stderr = tempfile.TemporaryFile()
        env = {**os.environ, "JWT_SECRET": SECRET, "PYTHONPATH": str(EXAMPLES)}
        bind = f"127.0.0.1:{self.port}"
        if kind == "waitress":
            command = [sys.executable, "-m", "waitress", f"--listen={bind}",
                       f"--url-prefix={prefix}", target]  # fmt: skip
        else:
            worker = "gthread" if kind == "gunicorn-gthread" else "sync"
            command = [sys.executable, "-m", "gunicorn", "--bind", bind, "--worker-class", worker,
                       "--threads", "4", "--workers", "1", *(args or []), target]  # fmt: skip
            if prefix:
                env["SCRIPT_NAME"] = prefix
        self.process = subprocess.Popen(
            command, cwd=EXAMPLES, env=env, stdout=subprocess.DEVNULL, stderr=self.stderr
        )
        if not serving(self.port, self.process):
            log = self.log()
            self.stop()
            raise RuntimeError(f"{kind} did not serve {target}: {log}")

    def request(
        self, method: str, path: str, token: str | None = None, body: Any = None
    ) -> tuple[int, dict[str, str], Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request(method, self.prefix + path, body=data, headers=headers)
            answer = conn.getresponse()
            raw = answer.read()
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = raw.decode(errors="replace")
            headers = {name.lower(): value for name, value in answer.getheaders()}
            return answer.status, headers, parsed
        finally:
            conn.close()

    def log(self) -> str:
        self.stderr.seek(0)
        return self.stderr.read().decode(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.stderr.close()


@pytest.fixture
def start() -> Iterator[Any]:
    servers: list[Server] = []

    def run(kind: str, target: str, prefix: str = "", args: list[str] | None = None) -> Server:
        server = Server(kind, target, prefix, args)
        servers.append(server)
        return server

    yield run
    for server in servers:
        server.stop()


def tokens() -> dict[str, str]:
    minter = Minter(SECRET)
    return {
        "user": minter.mint("alice", {"scope": "notes:write"}),
        "admin": minter.mint("root", {"roles": "admin", "scope": "notes:write"}),
    }


def check_story(server: Server) -> None:
    made = tokens()
    status, _, body = server.request("GET", "/health")
    assert (status, body) == (200, {"ok": True})
    status, headers, body = server.request("GET", "/me")
    assert (status, body["error"]) == (401, "missing_token")
    assert headers["www-authenticate"].startswith("Bearer")
    assert server.request("GET", "/me", made["user"])[::2] == (200, {"user": "alice"})
    status, _, body = server.request("GET", "/admin", made["user"])
    assert status == 403 and body["error"] == "insufficient_scope"
    assert server.request("GET", "/admin", made["admin"])[::2] == (200, {"admin": "root"})
    assert server.request("POST", "/notes", made["user"], {"text": "hi"})[::2] == (
        200, {"saved": True, "by": "alice"}
    )  # fmt: skip
    status, _, body = server.request("GET", "/me", made["user"] + "x")
    assert status == 401 and body["error"] == "invalid_token"


@pytest.mark.parametrize("kind", SERVERS)
@pytest.mark.parametrize("framework", APPS)
def test_the_guide_example_under_a_real_server(start: Any, framework: str, kind: str) -> None:
    server = start(kind, APPS[framework], SERVERS[kind])
    check_story(server)
    # The guide's logging section: refusals reach the server's stderr.
    deadline = time.monotonic() + 5
    while "refused GET /me with 401 token_missing" not in server.log():
        assert time.monotonic() < deadline, server.log()
        time.sleep(0.05)
    assert tokens()["user"] not in server.log()


def test_pyramid_deployed_with_its_ini(start: Any) -> None:
    """``gunicorn --paste pyramid.ini``: the [filter:jwt] section, rules included."""
    server = start("gunicorn-sync", "", args=["--paste", "pyramid.ini"])
    check_story(server)


def test_pyramid_permissions_are_the_tokens_scopes(start: Any) -> None:
    server = start("gunicorn-sync", APPS["pyramid"])
    reader = Minter(SECRET).mint("bob", {"scope": "notes:read"})
    status, _, _ = server.request("POST", "/notes", reader, {"text": "hi"})
    assert status == 403  # Pyramid's own Forbidden: the view's permission is not granted


def test_django_login_is_public_and_mints(start: Any) -> None:
    server = start("gunicorn-sync", APPS["django"])
    login = {"username": "alice", "password": "alice-password"}
    status, _, body = server.request("POST", "/login", None, login)
    assert status == 200
    assert server.request("GET", "/me", body["token"])[::2] == (200, {"user": "alice"})
    status, _, _ = server.request("POST", "/login", None, {"username": "alice", "password": "x"})
    assert status == 401
