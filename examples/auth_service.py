"""An auth service: logs users in, refreshes and revokes their tokens, publishes its keys.

It signs with EC keys kept in a directory every worker shares
(:class:`~jwt_wsgi.keystores.FileKeyStore`), so under ``gunicorn -w 4`` every
worker signs with the same current key and publishes the same JWK Set, and a
rotation by any worker reaches all of them. Other services verify its tokens
by URL (see ``api_service.py``); nobody shares a secret. Refresh tokens are
single-use, a replayed one ends the whole login, and every process reads the
same Redis denylist.

Run: ``REDIS_URL=redis://127.0.0.1:6379/0 KEY_DIR=/var/lib/auth/keys
gunicorn -w 2 examples.auth_service:app`` (or ``python examples/auth_service.py``).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from jwt_wsgi import (
    FileKeyStore,
    JWTMiddleware,
    LogoutEndpoint,
    Minter,
    RedisRevocationStore,
    RefreshEndpoint,
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
        data = json.loads(environ["wsgi.input"].read(min(length, 16384)) or b"{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def create_app(redis_url: str, key_dir: str, *, grace: float = 10) -> WSGIApplication:
    """The auth service, its keys in ``key_dir``, its denylist in the Redis at ``redis_url``.

    ``grace``: seconds a used refresh token may come back (two tabs) before
    its return counts as theft.
    """
    minter = Minter(
        key_store=FileKeyStore(key_dir, algorithm="ES256"),
        issuer=ISSUER,
        audience="api",
        expires_in=timedelta(minutes=15),
    )

    @minter.claims_loader
    def claims_for(identity: str) -> dict[str, Any]:
        # Refreshes run the loader again, so a role change reaches the next token.
        claims = minter.default_claims(identity)
        claims["roles"] = USERS[identity][1]
        return claims

    store = RedisRevocationStore.from_url(redis_url)
    publish = jwks_app(minter)
    refresh = RefreshEndpoint(minter, store=store, grace=grace)
    logout = LogoutEndpoint(store=store)

    def service(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        route = (environ["REQUEST_METHOD"], environ["PATH_INFO"])
        if route[1] == "/.well-known/jwks.json":
            return publish(environ, start_response)
        if route[1] == "/auth/refresh":
            return refresh(environ, start_response)
        if route == ("POST", "/auth/logout"):
            return logout(environ, start_response)
        if route == ("POST", "/login"):
            body = _body(environ)
            user = USERS.get(body.get("username", ""))
            if user is None or user[0] != body.get("password"):
                return _json(
                    start_response, "401 Unauthorized", {"msg": "Bad username or password"}
                )
            pair = minter.mint_pair(body["username"])
            return _json(
                start_response,
                "200 OK",
                {"jwt": pair.access_token, "refresh_token": pair.refresh_token},
            )
        if route == ("POST", "/admin/rotate"):
            return _json(start_response, "200 OK", {"kid": minter.rotate()})
        if route == ("POST", "/admin/retire"):
            minter.retire(_body(environ)["kid"])
            return _json(start_response, "200 OK", {"keys": len(minter.jwks()["keys"])})
        if route == ("POST", "/admin/revoke"):
            store.revoke(_body(environ))  # {"jti": ..., "exp": ...}
            return _json(start_response, "200 OK", {"revoked": True})
        if route == ("GET", "/me"):
            return _json(start_response, "200 OK", get_claims(environ))
        return _json(start_response, "404 Not Found", {"msg": "Not found"})

    # The service verifies its own tokens with its own keys, rotations included.
    return JWTMiddleware(
        service,
        key=minter.key_source(),
        algorithms=["ES256"],
        issuer=ISSUER,
        audience="api",
        revocation=store,
        rules=[
            Rule("/login", ["POST"], auth="public"),
            Rule("/auth/refresh", ["POST"], auth="public"),
            Rule("/.well-known/jwks.json", ["GET"], auth="public"),
            Rule("/admin/<path:action>", claims={"roles": "admin"}),
        ],
    )


app = create_app(
    os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
    os.environ.get("KEY_DIR", os.path.join(tempfile.gettempdir(), "jwt_wsgi-example-keys")),
    grace=float(os.environ.get("REFRESH_GRACE", "10")),
)

if __name__ == "__main__":
    from demo_server import serve

    serve(app, title="auth service: /login, /auth/refresh, /.well-known/jwks.json", login=False)
