"""A WebOb app written with ``webob.dec.wsgify`` behind the middleware.

``JWTRequest`` exposes the verified claims as ``request.jwt_claims``. Reads are
open to anyone holding a token; writes need the ``notes:write`` scope.

Run it with ``python examples/webob_app.py``.
"""

from __future__ import annotations

import os

from webob import Response
from webob.dec import wsgify

from jwt_wsgi import JWTMiddleware, Rule
from jwt_wsgi.webob import JWTRequest

SECRET = os.environ.get("JWT_SECRET_KEY", "super-secret-change-me-32-bytes-at-least")


@wsgify(RequestClass=JWTRequest)
def notes(request: JWTRequest) -> Response:
    if request.path_info == "/health":
        return Response(json_body={"ok": True})
    claims = request.jwt_claims or {}
    return Response(json_body={"method": request.method, "user": claims.get("sub")})


app = JWTMiddleware(
    notes,
    key=SECRET,
    algorithms=["HS256"],
    rules=[
        Rule("/health", auth="public"),
        Rule("/notes/<path:rest>", ["POST", "PUT", "DELETE"], scopes=["notes:write"]),
        Rule("/notes/<path:rest>", ["GET"], scopes=["notes:read"]),
    ],
)


if __name__ == "__main__":
    from demo_server import serve

    serve(app, title="a WebOb app behind jwt_wsgi", login=False)
