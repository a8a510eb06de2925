"""Django glue: ``request.user`` from the verified claims, without database users.

The middleware goes around Django in ``wsgi.py`` (``application =
JWTMiddleware(get_wsgi_application(), ...)``), not in ``MIDDLEWARE``: it must
decide before Django routes. :class:`JWTUserMiddleware`, listed in
``MIDDLEWARE`` *instead of* ``AuthenticationMiddleware`` (or after it), then
makes ``request.user`` the ``principal=`` loader's user or a
:class:`ClaimsUser`, which lives only for the request: no row is created, no
session is touched. Requests whose token came in a bearer *header*
(``environ["jwt.location"] == "header"``) are exempt from Django's CSRF
check, since a browser never adds that header on its own; a token from a
cookie or the query string keeps the check, whatever else the request
carries: an ``Authorization`` header alone proves nothing, as browsers
attach cached ``Basic`` credentials to cross-site requests by themselves
(jwt_wsgi's own double-submit check applies to cookie tokens too).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from .rules import granted_scopes

__all__ = ["ClaimsUser", "JWTUserMiddleware"]


class ClaimsUser:
    """A user made from verified claims, with the attributes Django code reads.

    ``username`` and ``pk`` are the ``sub`` claim; permissions are the
    token's scopes (``has_perm("reports:read")``); ``claims`` holds them all.
    """

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False

    def __init__(self, claims: dict[str, Any]) -> None:
        self.claims = claims
        subject = claims.get("sub")
        self.username = self.pk = self.id = "" if subject is None else str(subject)

    def __str__(self) -> str:
        return self.username

    def get_username(self) -> str:
        return self.username

    def get_all_permissions(self, obj: Any = None) -> set[str]:
        return granted_scopes(self.claims)

    def has_perm(self, perm: str, obj: Any = None) -> bool:
        return perm in self.get_all_permissions(obj)

    def has_perms(self, perms: Iterable[str], obj: Any = None) -> bool:
        return all(self.has_perm(p, obj) for p in perms)

    def has_module_perms(self, app_label: str) -> bool:
        return False


class JWTUserMiddleware:
    """Django middleware: ``request.user`` from the token; bearer-header requests skip CSRF."""

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        environ = request.META
        claims = environ.get("jwt.claims")
        if claims is not None:
            principal = environ.get("jwt.principal")
            request.user = principal if principal is not None else ClaimsUser(claims)
            if environ.get("jwt.location") == "header":
                request._dont_enforce_csrf_checks = True
        elif not hasattr(request, "user"):
            request.user = _anonymous()
        return self.get_response(request)


def _anonymous() -> Any:
    """Django's ``AnonymousUser`` where ``django.contrib.auth`` is installed, else a stand-in."""
    # Django is imported when used: jwt_wsgi needs it only for this module.
    from django.apps import apps

    if apps.is_installed("django.contrib.auth"):
        # Only importable once the app registry is ready, so here.
        from django.contrib.auth.models import AnonymousUser

        return AnonymousUser()
    return _Anonymous()


class _Anonymous:
    """No token, and no ``django.contrib.auth``: what views ask of an anonymous user."""

    is_authenticated = False
    is_anonymous = True
    is_active = False
    username = ""

    def get_username(self) -> str:
        return ""

    def has_perm(self, perm: str, obj: Any = None) -> bool:
        return False
