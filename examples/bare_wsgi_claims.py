"""The same "Changing JWT Claims" example as a bare WSGI function, no framework.

Run it with ``python examples/bare_wsgi_claims.py``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from jwt_wsgi import JWTMiddleware, Minter, Rule, get_claims

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

JWT_SECRET_KEY = os.environ.get("JWT_SECRET_KEY", "super-secret-change-me-32-bytes-at-least")
JWT_EXPIRES = timedelta(minutes=15)
USERS = {"test": "test", "admin": "admin"}  # Change this!

minter = Minter(JWT_SECRET_KEY, algorithm="HS256", expires_in=JWT_EXPIRES)


@minter.claims_loader
def add_claims_to_access_token(identity: str) -> dict[str, Any]:
    roles = "admin" if identity == "admin" else "peasant"
    now = datetime.now(UTC)
    return {"exp": now + JWT_EXPIRES, "iat": now, "nbf": now, "sub": identity, "roles": roles}


def respond(start_response: StartResponse, status: str, body: Any) -> Iterable[bytes]:
    data = json.dumps(body).encode()
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
    )
    return [data]


def login(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = json.loads(environ["wsgi.input"].read(length) or b"{}")
    except ValueError:
        body = {}
    username, password = body.get("username"), body.get("password")
    if username not in USERS or USERS[username] != password:
        return respond(start_response, "401 Unauthorized", {"msg": "Bad username or password"})
    return respond(start_response, "200 OK", {"jwt": minter.mint(username)})


def protected(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    jwt_data = get_claims(environ)
    if jwt_data is None or jwt_data["roles"] != "admin":
        return respond(start_response, "403 Forbidden", {"msg": "Permission denied"})
    return respond(start_response, "200 OK", {"msg": "Do not forget to drink your ovaltine"})


def router(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    route = (environ["REQUEST_METHOD"], environ["PATH_INFO"])
    if route == ("POST", "/login"):
        return login(environ, start_response)
    if route in (("GET", "/protected"), ("HEAD", "/protected")):
        return protected(environ, start_response)
    return respond(start_response, "404 Not Found", {"msg": "Not found"})


app = JWTMiddleware(
    router,
    key=JWT_SECRET_KEY,
    algorithms=["HS256"],
    rules=[Rule("/login", ["POST"], auth="public")],
)


if __name__ == "__main__":
    from demo_server import serve

    serve(app, title="'Changing JWT Claims' as a bare WSGI app")
