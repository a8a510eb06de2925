"""WebOb support: a request class that exposes the verified claims.

Use it with ``webob.dec.wsgify`` behind :class:`~jwt_wsgi.JWTMiddleware`::

    @wsgify(RequestClass=JWTRequest)
    def app(request):
        return f"hello {request.jwt_claims['sub']}"
"""

from __future__ import annotations

from typing import Any

import webob


class JWTRequest(webob.Request):
    """A ``webob.Request`` with the middleware's environ keys as properties."""

    @property
    def jwt_claims(self) -> dict[str, Any] | None:
        """The verified claims, or ``None`` where no token was required."""
        claims: dict[str, Any] | None = self.environ.get("jwt.claims")
        return claims

    @property
    def jwt_header(self) -> dict[str, Any] | None:
        """The token's JOSE header, or ``None``."""
        header: dict[str, Any] | None = self.environ.get("jwt.header")
        return header
