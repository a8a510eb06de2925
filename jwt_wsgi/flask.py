"""Flask accessors: the request's claims and user, where Flask code looks for them.

The middleware does the work in front of Flask (``app.wsgi_app =
JWTMiddleware(app.wsgi_app, ...)``); these read what it left in the WSGI
environ of the current request, as ``flask_jwt_extended.get_jwt()`` and
``current_user`` do. Flask itself is not imported until they are called.
"""

from __future__ import annotations

from typing import Any

from .middleware import get_claims

__all__ = ["current_claims", "current_identity", "current_principal"]


def current_claims() -> dict[str, Any] | None:
    """The verified claims of the current request (``None`` on a path that required none)."""
    from flask import request  # Flask is optional: imported when called

    return get_claims(request.environ)


def current_identity() -> Any:
    """The ``sub`` claim of the current request, or ``None``."""
    claims = current_claims()
    return None if claims is None else claims.get("sub")


def current_principal() -> Any:
    """What the middleware's ``principal=`` loader returned for this request, or ``None``."""
    from flask import request  # Flask is optional: imported when called

    return request.environ.get("jwt.principal")
