"""The gunicorn app of the propagation benchmark: each worker reports when it refuses.

gunicorn calls :func:`create` in every worker (importing this module starts
nothing). Every worker builds the middleware with a mirrored Redis denylist, then a
watcher thread sends it, in process, a request with the token of probe 0,
1, 2, ... in turn (one every ``POLL`` seconds) and, the moment the middleware
refuses one as revoked, pushes ``"<pid> <time>"`` to ``{prefix}seen:<probe>``
in Redis. The benchmark revokes each probe and reads when every worker
refused it. Requests over HTTP see the same middleware.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

import jwt
import redis

from jwt_wsgi import JWTMiddleware, RedisRevocationStore

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

SECRET = "propagation-benchmark-secret-of-32-bytes"
POLL = 0.0002  # seconds between a watcher's requests: the measurement's resolution


def probe_token(number: int) -> str:
    return jwt.encode({"sub": "probe", "jti": f"probe-{number}", "exp": 4_000_000_000}, SECRET)


def hello(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]


def create() -> JWTMiddleware:
    """The worker's middleware, and its watcher thread (a gunicorn app factory)."""
    prefix = os.environ["PROPAGATION_PREFIX"]
    url = os.environ["REDIS_URL"]
    store = RedisRevocationStore.from_url(url, prefix=prefix)
    app = JWTMiddleware(
        hello, key=SECRET, algorithms=["HS256"], require=["exp", "jti"], revocation=store
    )
    threading.Thread(
        target=_watch, args=(app, store, url, prefix), name="propagation watcher", daemon=True
    ).start()
    return app


def _status(app: JWTMiddleware, token: str) -> str:
    statuses: list[str] = []
    environ = {
        "REQUEST_METHOD": "GET", "PATH_INFO": "/", "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80", "wsgi.url_scheme": "http", "HTTP_AUTHORIZATION": f"Bearer {token}",
    }  # fmt: skip
    b"".join(app(environ, lambda status, headers, exc_info=None: statuses.append(status)))  # type: ignore[arg-type]
    return statuses[0]


def _watch(app: JWTMiddleware, store: RedisRevocationStore, url: str, prefix: str) -> None:
    reports = redis.Redis.from_url(url)
    store.wait_in_sync(30)
    reports.rpush(prefix + "ready", os.getpid())
    number = 0
    while True:
        token = probe_token(number)
        while _status(app, token).startswith("200"):
            time.sleep(POLL)
        reports.rpush(f"{prefix}seen:probe-{number}", f"{os.getpid()} {time.time()!r}")
        number += 1
