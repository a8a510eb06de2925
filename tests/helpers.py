"""Helpers shared by the tests: a frozen clock, token builders, an echo app, raw HTTP."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any
from wsgiref.validate import validator

import jwt
from werkzeug.test import Client, TestResponse

from jwt_wsgi import AuthError

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

SECRET = "s" * 64
NOW = 1_800_000_000.0


class Clock:
    """A frozen clock the tests move by hand."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def make_token(
    claims: dict[str, Any] | None = None,
    *,
    key: Any = SECRET,
    algorithm: str = "HS256",
    headers: dict[str, Any] | None = None,
    now: float = NOW,
) -> str:
    """A token signed by PyJWT directly (independent of our minter)."""
    payload: dict[str, Any] = {"sub": "alice", "iat": int(now), "exp": int(now) + 600}
    payload.update(claims or {})
    payload = {k: v for k, v in payload.items() if v is not None}
    return jwt.encode(payload, key, algorithm=algorithm, headers=headers)


def b64(data: bytes | dict[str, Any]) -> str:
    if isinstance(data, dict):
        data = json.dumps(data).encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hs256_token(header: bytes | dict[str, Any], payload: bytes | dict[str, Any]) -> str:
    """A correctly signed HS256 token with arbitrary header and payload bytes."""
    import hashlib
    import hmac

    signing_input = b64(header) + "." + b64(payload)
    signature = hmac.new(SECRET.encode(), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64(signature)


def echo_app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """Answers with what the middleware put in the environ."""
    body = json.dumps(
        {
            "path": environ["PATH_INFO"],
            "claims": environ.get("jwt.claims"),
            "header": environ.get("jwt.header"),
            "has_token": environ.get("jwt.token") is not None,
            "remote_user": environ.get("REMOTE_USER"),
        }
    ).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


def echo_app_factory(global_conf: Any, **local_conf: str) -> WSGIApplication:
    """:func:`echo_app` as a PasteDeploy app factory (``use = call:...``)."""
    return echo_app


def http_request(
    base_url: str,
    path: str,
    *,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """Send one request with the path exactly as given (no client-side cleaning)."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(base_url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


class Statuses:
    """A ``start_response`` that records the statuses it is given."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(
        self, status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], object]:
        self.seen.append(status)
        return lambda data: None


class Refusals:
    """An ``on_error`` that records each refusal and answers with the default response."""

    def __init__(self) -> None:
        self.errors: list[AuthError] = []

    def __call__(
        self, environ: WSGIEnvironment, start_response: StartResponse, error: AuthError
    ) -> Iterable[bytes]:
        self.errors.append(error)
        return error(environ, start_response)

    def last(self) -> type[AuthError]:
        """The class of the latest refusal."""
        return type(self.errors[-1])


class ValidatingClient(Client):
    """Werkzeug's test client over ``wsgiref.validate``, so every request also
    checks PEP 3333 compliance; responses are buffered so the validator sees
    each response iterable closed."""

    def __init__(self, app: WSGIApplication, *, use_cookies: bool = True) -> None:
        super().__init__(validator(app), use_cookies=use_cookies)

    def open(self, *args: Any, **kwargs: Any) -> TestResponse:
        kwargs.setdefault("buffered", True)
        return super().open(*args, **kwargs)


def run_in_threads(work: Callable[[int], None], count: int) -> None:
    """Run ``work(i)`` for i in range(count) in as many threads, all at once."""
    threads = [threading.Thread(target=work, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def wait_until(condition: Callable[[], object], seconds: float = 10) -> None:
    """Poll ``condition`` until it holds; fail the test after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the condition did not hold in time"
        time.sleep(0.01)


def protect(app: WSGIApplication = echo_app, **options: Any) -> Any:
    """The suite's middleware: ``app`` behind :class:`~jwt_wsgi.JWTMiddleware` with the
    test secret (HS256) and a frozen clock, unless ``options`` say otherwise."""
    from jwt_wsgi import JWTMiddleware

    if not {"providers", "key", "jwks_url", "authenticator"} & set(options):
        options["key"] = SECRET
    if "key" in options:
        options.setdefault("algorithms", ["HS256"])
    if "authenticator" not in options:
        options.setdefault("clock", Clock())
    return JWTMiddleware(app, **options)


def bearer(token: str) -> dict[str, str]:
    """The ``Authorization`` header carrying ``token``."""
    return {"Authorization": f"Bearer {token}"}


class FrameworkRequest:
    """The little of a Django or Pyramid request the glue reads: ``META``/``environ``."""

    def __init__(self, environ: dict[str, Any]) -> None:
        self.META = self.environ = environ
