"""jwt_wsgi.django: request.user from the claims, and when Django's CSRF check is skipped."""

from __future__ import annotations

from typing import Any

import pytest

from jwt_wsgi.django import ClaimsUser, JWTUserMiddleware

from .helpers import FrameworkRequest as Request


def test_a_claims_user_is_what_django_code_expects() -> None:
    user = ClaimsUser({"sub": 42, "scope": "notes:read notes:write"})
    assert (user.username, user.pk, str(user), user.get_username()) == ("42", "42", "42", "42")
    assert user.is_authenticated and not user.is_anonymous and not user.is_staff
    assert user.has_perm("notes:read") and user.has_perms(["notes:read", "notes:write"])
    assert not user.has_perm("admin") and not user.has_module_perms("notes")
    assert ClaimsUser({"scp": ["a", 3]}).get_all_permissions() == {"a"}
    assert ClaimsUser({}).username == ""


def test_the_django_middleware_sets_the_user() -> None:
    from .test_frameworks import django_app

    django_app()  # settings and apps ready
    middleware = JWTUserMiddleware(lambda request: "response")
    claims = {"sub": "alice"}
    request = Request(
        {"jwt.claims": claims, "jwt.location": "header", "HTTP_AUTHORIZATION": "Bearer x"}
    )
    assert middleware(request) == "response"
    assert request.user.username == "alice"  # type: ignore[attr-defined]
    assert request._dont_enforce_csrf_checks  # type: ignore[attr-defined]
    from_cookie = Request({"jwt.claims": claims, "jwt.principal": "the user"})
    middleware(from_cookie)
    assert from_cookie.user == "the user"  # type: ignore[attr-defined]
    assert not hasattr(from_cookie, "_dont_enforce_csrf_checks")  # a cookie keeps CSRF
    anonymous = Request({"jwt.claims": None})
    middleware(anonymous)
    assert anonymous.user.is_anonymous  # type: ignore[attr-defined]
    assert not anonymous.user.has_perm("x") and anonymous.user.get_username() == ""  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("location", "authorization", "django_csrf"),
    [
        pytest.param("header", "Bearer t", False, id="bearer-header"),
        pytest.param("cookie", "Basic YWxpY2U6cHc=", True, id="cookie-with-cached-basic"),
        pytest.param("cookie", "Bearer other", True, id="cookie-with-another-header"),
        pytest.param("query", None, True, id="query"),
    ],
)
def test_django_skips_its_csrf_check_only_for_a_bearer_header_token(
    location: str, authorization: str | None, django_csrf: bool
) -> None:
    """Django's own CsrfViewMiddleware, in front of a view, with what jwt_wsgi put in
    the environ: an Authorization header alone (browsers attach cached Basic
    credentials cross-site) does not switch the check off for a cookie token."""
    from django.http import HttpResponse
    from django.middleware.csrf import CsrfViewMiddleware
    from django.test import RequestFactory

    from .test_frameworks import django_app

    django_app()

    def view(request: Any) -> Any:
        return HttpResponse("changed", status=201)

    csrf = CsrfViewMiddleware(view)
    chain = JWTUserMiddleware(
        lambda request: csrf.process_view(request, view, (), {}) or view(request)
    )
    extra = {"jwt.claims": {"sub": "alice"}, "jwt.location": location, "jwt.principal": None}
    if authorization is not None:
        extra["HTTP_AUTHORIZATION"] = authorization
    response = chain(RequestFactory().post("/notes", data={"text": "x"}, **extra))
    assert response.status_code == (403 if django_csrf else 201)
