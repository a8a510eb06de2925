"""A bare WSGI function behind jwt_wsgi: the claims are in ``environ["jwt.claims"]``."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from typing import TYPE_CHECKING

from jwt_wsgi import JWTMiddleware, Rule, get_claims

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
logging.getLogger("jwt_wsgi").setLevel(logging.INFO)


def api(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    claims = get_claims(environ)
    user = None if claims is None else claims["sub"]
    routes = {
        ("GET", "/health"): {"ok": True},
        ("GET", "/me"): {"user": user},
        ("GET", "/admin"): {"admin": user},
        ("POST", "/notes"): {"saved": True, "by": user},
    }
    found = routes.get((environ["REQUEST_METHOD"], environ["PATH_INFO"]))
    status = "200 OK" if found is not None else "404 Not Found"
    body = json.dumps(found if found is not None else {"error": "not found"}).encode()
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    )
    return [body]


app = JWTMiddleware(
    api,
    key=os.environ["JWT_SECRET"],
    algorithms=["HS256"],
    rules=[Rule("/health", auth="public"), Rule("/admin", claims={"roles": "admin"})],
)
