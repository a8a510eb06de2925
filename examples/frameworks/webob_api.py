"""WebOb behind jwt_wsgi: ``JWTRequest`` exposes the claims as ``request.jwt_claims``."""

from __future__ import annotations

import logging
import os

from webob import Response
from webob.dec import wsgify
from webob.exc import HTTPMethodNotAllowed, HTTPNotFound

from jwt_wsgi import JWTMiddleware, Rule
from jwt_wsgi.webob import JWTRequest

logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
logging.getLogger("jwt_wsgi").setLevel(logging.INFO)


@wsgify(RequestClass=JWTRequest)
def api(request: JWTRequest) -> Response:
    user = (request.jwt_claims or {}).get("sub")
    routes = {
        ("GET", "/health"): {"ok": True},
        ("GET", "/me"): {"user": user},
        ("GET", "/admin"): {"admin": user},
        ("POST", "/notes"): {"saved": True, "by": user},
    }
    body = routes.get((request.method, request.path_info))
    if body is None:
        known = {path for _, path in routes}
        raise HTTPMethodNotAllowed() if request.path_info in known else HTTPNotFound()
    return Response(json_body=body)


app = JWTMiddleware(
    api,
    key=os.environ["JWT_SECRET"],
    algorithms=["HS256"],
    rules=[Rule("/health", auth="public"), Rule("/admin", claims={"roles": "admin"})],
)
