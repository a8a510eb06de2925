"""An API service that trusts the auth service by URL and shares its denylist.

Keys come from the auth service's JWKS (refetched when a token names a new
``kid``, served stale through a short outage); revocations come from the
same Redis the auth service writes to, so every API process agrees.

Run: ``AUTH_URL=http://127.0.0.1:8001 REDIS_URL=redis://127.0.0.1:6379/0
python examples/api_service.py``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from typing import TYPE_CHECKING

from jwt_wsgi import JWTMiddleware, RedisRevocationStore, RemoteKeySet, get_claims

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

ISSUER = "https://auth.example"


def hello(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    claims = get_claims(environ) or {}
    body = json.dumps({"hello": claims.get("sub"), "roles": claims.get("roles")}).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


def create_app(
    auth_url: str, redis_url: str, *, max_key_age: float = 3600, cooldown: float = 30
) -> WSGIApplication:
    """The API, verifying with the JWKS under ``auth_url``.

    ``max_key_age`` caps how long a fetched key set is used (the auth
    service's ``Cache-Control: max-age`` applies below it): the longest a
    retired key keeps working here.
    """
    keys = RemoteKeySet(
        auth_url + "/.well-known/jwks.json",
        algorithms=["ES256"],
        lifetime=min(300, max_key_age),
        min_lifetime=min(60, max_key_age),
        max_lifetime=max_key_age,
        cooldown=cooldown,
        # Plain HTTP only to a service on this machine (the example, the tests).
        allow_http=auth_url.startswith("http://127.0.0.1:"),
    )
    return JWTMiddleware(
        hello,
        key=keys,
        algorithms=["ES256"],
        issuer=ISSUER,
        audience="api",
        require=["exp", "jti"],
        revocation=RedisRevocationStore.from_url(redis_url),
    )


app = create_app(
    os.environ.get("AUTH_URL", "http://127.0.0.1:8001"),
    os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
)

if __name__ == "__main__":
    from demo_server import serve

    serve(app, title="API service: GET / with a token from the auth service", login=False)
