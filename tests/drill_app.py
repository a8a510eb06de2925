"""The app of the failure drill: a protected hello, revocation through Redis, one per worker.

gunicorn calls :func:`create` in each worker. ``DRILL_URL`` names Redis (one
server or a Sentinel service), ``DRILL_PREFIX`` the store's keys,
``DRILL_STALE_FOR`` its ``stale_for``. Every answer names its worker
(``X-Worker``), so the drill can tell a replaced worker from the old ones.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TYPE_CHECKING

from jwt_wsgi import JWTMiddleware, RedisRevocationStore

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

SECRET = "drill-secret-of-at-least-thirty-two-bytes"


def create() -> WSGIApplication:
    store = RedisRevocationStore(
        os.environ["DRILL_URL"],
        prefix=os.environ["DRILL_PREFIX"],
        stale_for=float(os.environ.get("DRILL_STALE_FOR", "0")),
    )
    worker = str(os.getpid())

    def hello(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain"), ("X-Worker", worker)])
        return [b"hello"]

    guarded = JWTMiddleware(hello, key=SECRET, algorithms=["HS256"], revocation=store)

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        def named(status: str, headers: list[tuple[str, str]], exc_info: object = None) -> object:
            if not any(name == "X-Worker" for name, _ in headers):
                headers = [*headers, ("X-Worker", worker)]
            return start_response(status, headers, exc_info)  # type: ignore[arg-type]

        return guarded(environ, named)  # type: ignore[arg-type]

    return app
