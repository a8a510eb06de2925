"""The gunicorn app of the made-up-kid benchmark: a key set fetched from ``KEYSET_URL``.

gunicorn calls :func:`create` in every worker; each fetches the set once and
then verifies with it. The fetch deadline is one second, the refetch cooldown
one second, so a flood of unknown kids keeps asking a hanging server.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TYPE_CHECKING

from jwt_wsgi import JWTMiddleware, RemoteKeySet

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment


def hello(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]


def create() -> JWTMiddleware:
    keys = RemoteKeySet(
        os.environ["KEYSET_URL"], algorithms=["ES256"], allow_http=True, timeout=1,
        cooldown=1, retry_after=1,
    )  # fmt: skip
    return JWTMiddleware(hello, key=keys, algorithms=["ES256"])
