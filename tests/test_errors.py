"""The error tree: one root, one leaf per reason, and each refusal its own response."""

from __future__ import annotations

import inspect
import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import pytest

import jwt_wsgi
from jwt_wsgi import errors
from jwt_wsgi.errors import (
    AuthError,
    Challenge,
    ConfigurationError,
    CsrfFailed,
    Error,
    ExpiredToken,
    InsufficientScope,
    InvalidRequest,
    InvalidToken,
    MissingToken,
    RevocationCheckFailed,
    ScopeMissing,
    ServiceUnavailable,
    StepUpRequired,
    error_response,
)

from .helpers import SECRET, Clock, ValidatingClient, echo_app, make_token

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

LEAVES = [
    cls
    for _, cls in inspect.getmembers(errors, inspect.isclass)
    if issubclass(cls, AuthError) and cls is not AuthError
]
OUTCOMES = (
    InvalidRequest,
    MissingToken,
    InvalidToken,
    errors.InvalidDPoPProof,
    errors.DPoPNonceRequired,
    InsufficientScope,
    StepUpRequired,
    CsrfFailed,
    ServiceUnavailable,
)


def test_everything_raised_has_one_root() -> None:
    for _, cls in inspect.getmembers(errors, inspect.isclass):
        if issubclass(cls, Exception):
            assert issubclass(cls, Error), cls
    assert issubclass(ConfigurationError, ValueError)  # as before 0.2


def test_every_refusal_belongs_to_one_rfc6750_outcome_with_its_status() -> None:
    statuses = {InvalidRequest: 400, MissingToken: 401, InvalidToken: 401, StepUpRequired: 401}
    statuses |= {errors.InvalidDPoPProof: 401, errors.DPoPNonceRequired: 401}
    statuses |= {InsufficientScope: 403, CsrfFailed: 403, ServiceUnavailable: 503}
    for leaf in LEAVES:
        (outcome,) = [o for o in OUTCOMES if issubclass(leaf, o)]
        assert leaf.status == statuses[outcome], leaf
        assert leaf.error == outcome.error and leaf.body_error == outcome.body_error


def test_reason_codes_are_unique_and_every_leaf_is_importable_from_errors() -> None:
    reasons = [leaf.reason for leaf in LEAVES]
    assert len(reasons) == len(set(reasons))
    for leaf in LEAVES:
        assert getattr(errors, leaf.__name__) is leaf
        assert leaf.__name__ in errors.__all__


def test_the_top_level_exports_the_outcomes_and_a_few_leaves() -> None:
    exported = {name for name in jwt_wsgi.__all__ if name in errors.__all__}
    outcomes = {cls.__name__ for cls in OUTCOMES if cls.__module__ == "jwt_wsgi.errors"}
    assert outcomes - {"InvalidDPoPProof", "DPoPNonceRequired"} <= exported
    assert {"Error", "ConfigurationError", "ExpiredToken", "RevokedToken"} <= exported
    assert len(jwt_wsgi.__all__) <= 40  # what applications construct and commonly catch


def test_descriptions_are_fixed_and_replaceable() -> None:
    assert ExpiredToken().description == "the token has expired"
    assert str(ExpiredToken()) == "the token has expired"
    assert ExpiredToken("custom").description == "custom"


def call(app: Any, method: str = "GET") -> tuple[str, dict[str, str], bytes]:
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        seen.update(status=status, headers=dict(headers))

    body = b"".join(app({"REQUEST_METHOD": method}, start_response))
    return seen["status"], seen["headers"], body


def test_an_error_is_a_wsgi_app_answering_rfc6750() -> None:
    status, headers, body = call(ScopeMissing(scope=["a", "b"]))
    assert status == "403 Forbidden"
    assert headers["WWW-Authenticate"] == (
        'Bearer realm="api", error="insufficient_scope", '
        'error_description="the token lacks a scope this request needs", scope="a b"'
    )
    assert headers["Cache-Control"] == "no-store"
    assert json.loads(body) == {
        "error": "insufficient_scope",
        "error_description": "the token lacks a scope this request needs",
        "scope": "a b",
    }
    assert int(headers["Content-Length"]) == len(body)
    assert call(ScopeMissing(), "HEAD")[2] == b""


def test_no_credentials_get_a_bare_challenge_and_503_none() -> None:
    _, headers, body = call(MissingToken())
    assert headers["WWW-Authenticate"] == 'Bearer realm="api"'
    assert json.loads(body)["error"] == "missing_token"
    status, headers, body = call(RevocationCheckFailed())
    assert status == "503 Service Unavailable"
    assert "WWW-Authenticate" not in headers and headers["Retry-After"] == "1"
    assert json.loads(body)["error"] == "temporarily_unavailable"


def test_quotes_in_a_description_cannot_break_the_header() -> None:
    error = InvalidToken('a "quoted" \\ sentence')
    assert 'error_description="a \\"quoted\\" \\\\ sentence"' in (error.challenge() or "")


def test_error_response_keeps_working_with_a_realm() -> None:
    status, headers, _ = call(lambda e, s: error_response(e, s, ExpiredToken(), "billing"))
    assert status == "401 Unauthorized"
    assert headers["WWW-Authenticate"].startswith('Bearer realm="billing"')


def test_the_challenge_settings_are_arguments_or_the_environ_never_the_error() -> None:
    error = ScopeMissing(scope=["a"])
    assert (error.challenge("billing") or "").startswith('Bearer realm="billing", error=')
    settings = Challenge("billing", "https://a.example/m", dpop_algs=("ES256",))
    first, second = error.challenges(settings)
    assert first.startswith('Bearer realm="billing"') and 'resource_metadata="https://a' in first
    assert second == 'DPoP realm="billing", resource_metadata="https://a.example/m", algs="ES256"'
    required = Challenge("billing", dpop_algs=("ES256",), bearer=False, dpop=True)
    assert error.challenges(required) == [
        'DPoP realm="billing", error="insufficient_scope", error_description='
        '"the token lacks a scope this request needs", scope="a", algs="ES256"'
    ]
    _, headers, _ = call(lambda e, s: error({**e, "jwt.challenge": settings}, s))
    assert 'realm="billing"' in headers["WWW-Authenticate"]
    assert set(vars(error)) == {"description", "scope", "detail"}


def test_answering_an_error_never_changes_it() -> None:
    """The middleware answers with its realm and metadata URL without writing them on
    the error: the same object answered elsewhere carries none of them."""
    seen: list[AuthError] = []

    def on_error(
        environ: WSGIEnvironment, start_response: StartResponse, error: AuthError
    ) -> Iterable[bytes]:
        seen.append(error)
        return error(environ, start_response)

    middleware = jwt_wsgi.JWTMiddleware(
        echo_app,
        key=SECRET,
        algorithms=["HS256"],
        clock=Clock(),
        on_error=on_error,
        realm="app",
        resource_metadata="https://a.example/.well-known/oauth-protected-resource",
    )
    expired = make_token({"exp": 1})
    response = ValidatingClient(middleware).get("/", headers={"Authorization": f"Bearer {expired}"})
    assert response.headers["WWW-Authenticate"].startswith('Bearer realm="app"')
    assert "resource_metadata=" in response.headers["WWW-Authenticate"]
    (error,) = seen
    assert isinstance(error, ExpiredToken)
    assert set(vars(error)) == {"description", "scope", "detail"}
    _, headers, _ = call(error)
    assert headers["WWW-Authenticate"].startswith('Bearer realm="api"')
    assert "resource_metadata" not in headers["WWW-Authenticate"]


def test_on_error_can_send_the_default_and_adjust_it() -> None:
    """An SPA client is told to refresh on expiry: branch on the class, reuse the answer."""

    def on_error(
        environ: WSGIEnvironment, start_response: StartResponse, error: AuthError
    ) -> Iterable[bytes]:
        if not isinstance(error, ExpiredToken):
            return error(environ, start_response)

        def with_hint(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            return start_response(status, [*headers, ("X-Token-Refresh", "1")], exc_info)

        return error(environ, with_hint)

    middleware = jwt_wsgi.JWTMiddleware(
        echo_app, key=SECRET, algorithms=["HS256"], clock=Clock(), on_error=on_error, realm="app"
    )
    client = ValidatingClient(middleware)
    expired = make_token({"exp": 1})
    response = client.get("/", headers={"Authorization": f"Bearer {expired}"})
    assert response.status_code == 401 and response.headers["X-Token-Refresh"] == "1"
    assert response.headers["WWW-Authenticate"].startswith('Bearer realm="app"')
    response = client.get("/")
    assert response.status_code == 401 and "X-Token-Refresh" not in response.headers


def test_refusals_are_logged_with_their_reason_code(caplog: pytest.LogCaptureFixture) -> None:
    middleware = jwt_wsgi.JWTMiddleware(echo_app, key=SECRET, algorithms=["HS256"], clock=Clock())
    with caplog.at_level("INFO", logger="jwt_wsgi"):
        ValidatingClient(middleware).get("/x", headers={"Authorization": "Bearer a.b.c"})
    (record,) = caplog.records
    assert record.jwt_reason == "token_malformed"  # type: ignore[attr-defined]
    assert record.jwt_status == 401  # type: ignore[attr-defined]
    assert "token_malformed" in record.getMessage()
