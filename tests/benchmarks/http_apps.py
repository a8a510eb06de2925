"""The apps ``bench_http.py`` serves with gunicorn: the seed example, with and without jwt_wsgi.

``protected`` is ``examples/flask_claims.py`` as shipped. ``unprotected`` is
the same Flask app with the middleware taken off and the admin's claims put in
the environ by a one-line shim, so the view does the same work and answers the
same 200: the difference between the two is the middleware's cost.
``with_revocation(mirror)`` is ``protected`` plus a Redis denylist (at
``REDIS_URL``), checked on every request: from the mirror, or by a round trip.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

_PATH = Path(__file__).resolve().parents[2] / "examples" / "flask_claims.py"
_spec = importlib.util.spec_from_file_location("flask_claims", _PATH)
assert _spec is not None and _spec.loader is not None
example = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(example)

protected = example.app
_inner = example.app.wsgi_app.app  # the Flask app behind the middleware
_ADMIN: dict[str, Any] = {"sub": "admin", "roles": "admin"}


def unprotected(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    environ["jwt.claims"] = dict(_ADMIN)
    return _inner(environ, start_response)  # type: ignore[no-any-return]


def with_revocation(mirror: bool = True) -> Any:
    """The seed example's middleware with a Redis revocation store (a gunicorn app factory)."""
    from jwt_wsgi import JWTMiddleware, RedisRevocationStore, Rule

    store = RedisRevocationStore.from_url(
        os.environ["REDIS_URL"], prefix="bench-http:", mirror=mirror
    )
    if mirror and not store.wait_in_sync(10):
        raise RuntimeError("the revocation mirror did not get in sync")
    return JWTMiddleware(
        _inner,
        key=example.JWT_SECRET_KEY,
        algorithms=["HS256"],
        rules=[Rule("/login", ["POST"], auth="public")],
        revocation=store,
    )


def admin_token() -> str:
    return example.minter.mint("admin")  # type: ignore[no-any-return]
