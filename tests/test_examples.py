"""Every example runs: in-process on a real server, and as a program (the demo)."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from .helpers import http_request

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def login(url: str, username: str, password: str) -> tuple[int, dict[str, Any]]:
    status, _, body = http_request(
        url,
        "/login",
        method="POST",
        headers={"Content-Type": "application/json"},
        body=json.dumps({"username": username, "password": password}).encode(),
    )
    return status, json.loads(body)


def check_seed_story(url: str) -> None:
    """The seed's behaviour: admin 200, others 403, no token 401, bad login 401."""
    status, body = login(url, "admin", "admin")
    assert status == 200
    admin = {"Authorization": f"Bearer {body['jwt']}"}
    status, _, data = http_request(url, "/protected", headers=admin)
    assert (status, json.loads(data)) == (200, {"msg": "Do not forget to drink your ovaltine"})

    status, body = login(url, "test", "test")
    assert status == 200
    peasant = {"Authorization": f"Bearer {body['jwt']}"}
    status, _, data = http_request(url, "/protected", headers=peasant)
    assert (status, json.loads(data)) == (403, {"msg": "Permission denied"})

    status, headers, data = http_request(url, "/protected")
    assert status == 401 and headers["WWW-Authenticate"].startswith("Bearer")

    assert login(url, "test", "wrong") == (401, {"msg": "Bad username or password"})


@pytest.mark.parametrize("name", ["flask_claims", "bare_wsgi_claims"])
def test_seed_port(serve: Any, name: str) -> None:
    module = load(name)
    check_seed_story(serve(module.app))


def test_seed_port_claims_are_what_the_loader_returned(serve: Any) -> None:
    import jwt

    module = load("flask_claims")
    _, body = login(serve(module.app), "admin", "admin")
    claims = jwt.decode(body["jwt"], module.JWT_SECRET_KEY, algorithms=["HS256"])
    assert set(claims) == {"exp", "iat", "nbf", "sub", "roles"}
    assert claims["roles"] == "admin" and claims["exp"] - claims["iat"] == 900


def test_webob_example(serve: Any) -> None:
    import jwt

    module = load("webob_app")
    url = serve(module.app)
    assert http_request(url, "/health")[0] == 200
    reader = jwt.encode(
        {"sub": "r", "exp": 4_000_000_000, "scope": "notes:read"}, module.SECRET, "HS256"
    )
    auth = {"Authorization": f"Bearer {reader}"}
    status, _, body = http_request(url, "/notes/1", headers=auth)
    assert (status, json.loads(body)) == (200, {"method": "GET", "user": "r"})
    status, headers, _ = http_request(url, "/notes/1", method="POST", headers=auth)
    assert status == 403 and 'scope="notes:write"' in headers["WWW-Authenticate"]


@pytest.mark.parametrize("name", ["flask_claims", "bare_wsgi_claims"])
def test_example_runs_as_a_program_and_prints_working_curl_lines(name: str) -> None:
    env = {**os.environ, "PORT": "0", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, str(EXAMPLES / f"{name}.py")],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if "No token at all" in line:
                break
        output = "".join(lines)
        match = re.search(r"Serving on (http://127\.0\.0\.1:\d+)", output)
        assert match, output
        assert "/login" in output and "/protected" in output
        check_seed_story(match.group(1))
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()
