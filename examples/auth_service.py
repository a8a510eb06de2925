"""An auth service: logs users in, signs with a rotating EC key, publishes its JWKS.

Other services verify its tokens by URL (see ``api_service.py``); nobody
shares a secret. Admin endpoints rotate the signing key, retire old keys and
revoke tokens through a Redis denylist that every API process reads.

Run: ``REDIS_URL=redis://127.0.0.1:6379/0 python examples/auth_service.py``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric import ec

from jwt_wsgi import (
    JWTMiddleware,
    Minter,
    RedisRevocationStore,
    Rule,
    get_claims,
    jwks_app,
)

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

ISSUER = "https://auth.example"
USERS = {"alice": ("alice", "user"), "root": ("root", "admin")}  # Change this!


def _json(start_response: StartResponse, status: str, body: Any) -> Iterable[bytes]:
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json")])
    return [data]


def _body(environ: WSGIEnvironment) -> dict[str, Any]:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        data = json.loads(environ["wsgi.input"].read(length) or b"{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def create_app(redis_url: str) -> WSGIApplication:
    """The auth service, with its revocation list in the Redis at ``redis_url``."""
    minter = Minter(
        ec.generate_private_key(ec.SECP256R1()),
        algorithm="ES256",
        issuer=ISSUER,
        audience="api",
        expires_in=timedelta(minutes=15),
    )
    revoked = RedisRevocationStore.from_url(redis_url)
    publish = jwks_app(minter)

    def service(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        route = (environ["REQUEST_METHOD"], environ["PATH_INFO"])
        if route[1] == "/.well-known/jwks.json":
            return publish(environ, start_response)
        if route == ("POST", "/login"):
            body = _body(environ)
            user = USERS.get(body.get("username", ""))
            if user is None or user[0] != body.get("password"):
                return _json(
                    start_response, "401 Unauthorized", {"msg": "Bad username or password"}
                )
            token = minter.mint(body["username"], {"roles": user[1]})
            return _json(start_response, "200 OK", {"jwt": token})
        if route == ("POST", "/admin/rotate"):
            kid = minter.rotate(ec.generate_private_key(ec.SECP256R1()))
            guard.set_keys(minter.jwks())  # this service trusts its own new key too
            return _json(start_response, "200 OK", {"kid": kid})
        if route == ("POST", "/admin/retire"):
            minter.retire(_body(environ)["kid"])
            guard.set_keys(minter.jwks())
            return _json(start_response, "200 OK", {"keys": len(minter.jwks()["keys"])})
        if route == ("POST", "/admin/revoke"):
            revoked.revoke(_body(environ))  # {"jti": ..., "exp": ...}
            return _json(start_response, "200 OK", {"revoked": True})
        if route == ("GET", "/me"):
            return _json(start_response, "200 OK", get_claims(environ))
        return _json(start_response, "404 Not Found", {"msg": "Not found"})

    guard = JWTMiddleware(
        service,
        key=minter.jwks(),
        algorithms=["ES256"],
        issuer=ISSUER,
        audience="api",
        revocation=revoked,
        rules=[
            Rule("/login", ["POST"], auth="public"),
            Rule("/.well-known/jwks.json", ["GET"], auth="public"),
            Rule("/admin/<path:action>", claims={"roles": "admin"}),
        ],
    )
    return guard


app = create_app(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))

if __name__ == "__main__":
    from demo_server import serve

    serve(app, title="auth service: /login, /.well-known/jwks.json, /admin/*", login=False)
