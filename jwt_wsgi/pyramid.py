"""Pyramid glue: a security policy reading the verified claims.

With the middleware in front of the app (a PasteDeploy ``[filter:jwt]`` with
``use = egg:jwt_wsgi``, see :mod:`jwt_wsgi.config`), ``config.include(
"jwt_wsgi.pyramid")`` installs :class:`JWTSecurityPolicy`: ``request.identity``
is the ``principal=`` loader's user or the claims, ``request.authenticated_userid``
the ``sub`` claim, and a view's ``permission=`` is granted when the token's
scopes include it.
"""

from __future__ import annotations

from typing import Any

from .rules import granted_scopes

__all__ = ["JWTSecurityPolicy", "includeme"]


class JWTSecurityPolicy:
    """Pyramid 2 security policy over ``environ["jwt.claims"]``.

    A view's ``permission`` is granted when it is among the token's scopes
    (``scope``, space-separated, and ``scp``), as rules read them.
    """

    def identity(self, request: Any) -> Any:
        principal = request.environ.get("jwt.principal")
        return principal if principal is not None else request.environ.get("jwt.claims")

    def authenticated_userid(self, request: Any) -> str | None:
        claims = request.environ.get("jwt.claims")
        subject = None if claims is None else claims.get("sub")
        return None if subject is None else str(subject)

    def permits(self, request: Any, context: Any, permission: str) -> Any:
        from pyramid.security import Allowed, Denied  # Pyramid is optional: imported when used

        if permission in granted_scopes(request.environ.get("jwt.claims") or {}):
            return Allowed(f"the token grants {permission!r}")
        return Denied(f"the token does not grant {permission!r}")

    def remember(self, request: Any, userid: Any, **kw: Any) -> list[tuple[str, str]]:
        """Tokens are minted, not remembered: nothing to set."""
        return []

    def forget(self, request: Any, **kw: Any) -> list[tuple[str, str]]:
        """Logout is revocation (:class:`~jwt_wsgi.LogoutEndpoint`): nothing to clear."""
        return []


def includeme(config: Any) -> None:
    """``config.include("jwt_wsgi.pyramid")``: use :class:`JWTSecurityPolicy`."""
    config.set_security_policy(JWTSecurityPolicy())
