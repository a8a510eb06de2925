"""The bypass corpus against gunicorn, the server most of our users run.

gunicorn differs from Werkzeug's server in ways that matter here: it keeps
``//admin`` in ``PATH_INFO``, and it takes ``SCRIPT_NAME`` from a request
header sent from a trusted address (127.0.0.1 by default).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .helpers import http_request, make_token
from .test_paths import BYPASS_CORPUS

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def gunicorn_url() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--log-level",
            "warning",
            "--chdir",
            str(ROOT),
            "tests.fixtures.gunicorn_app:app",
        ],  # fmt: skip
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("gunicorn did not start") from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.parametrize("path", BYPASS_CORPUS)
def test_no_crafted_path_reaches_an_admin_view(gunicorn_url: str, path: str) -> None:
    status, _, body = http_request(gunicorn_url, path)
    if status == 200:
        assert json.loads(body)["view"] != "admin", f"{path!r} bypassed the rules"
    else:
        assert status in (400, 401, 404), (status, body)


def test_script_name_header_cannot_hide_a_protected_path(gunicorn_url: str) -> None:
    # gunicorn moves "/admin" into SCRIPT_NAME and routes PATH_INFO "/users";
    # Flask routes the same PATH_INFO, so the admin view is not what runs.
    status, _, body = http_request(gunicorn_url, "/admin/users", headers={"SCRIPT_NAME": "/admin"})
    assert status != 200 or json.loads(body)["view"] != "admin"


def test_valid_token_reaches_the_admin_view(gunicorn_url: str) -> None:
    auth = {"Authorization": f"Bearer {make_token()}"}
    for path in ("/admin", "//admin", "/public/../admin/x"):
        status, _, body = http_request(gunicorn_url, path, headers=auth)
        assert (status, json.loads(body)["view"]) == (200, "admin"), path
