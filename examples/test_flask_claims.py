"""Testing your own protected routes with :mod:`jwt_wsgi.testing`: the seed example's /protected.

``TestTokens`` swaps a test key into the app's middleware and mints tokens with
its real settings; ``TokenClient`` sends one with every request. Run with
``pytest examples/test_flask_claims.py``.
"""

from __future__ import annotations

from collections.abc import Iterator

import flask_claims
import pytest

from jwt_wsgi import JWTMiddleware
from jwt_wsgi.testing import TestTokens, TokenClient


@pytest.fixture
def tokens() -> Iterator[TestTokens]:
    middleware = flask_claims.app.wsgi_app
    assert isinstance(middleware, JWTMiddleware)
    yield TestTokens(middleware)
    middleware.set_keys(flask_claims.JWT_SECRET_KEY)  # the app's own key, back for others


def test_admins_reach_protected(tokens: TestTokens) -> None:
    client = TokenClient(flask_claims.app, tokens.token("admin", {"roles": "admin"}))
    answer = client.get("/protected")
    assert answer.status_code == 200
    assert answer.get_json() == {"msg": "Do not forget to drink your ovaltine"}


def test_others_are_denied_by_the_view(tokens: TestTokens) -> None:
    client = TokenClient(flask_claims.app, tokens.token("test", {"roles": "peasant"}))
    assert client.get("/protected").status_code == 403


@pytest.mark.parametrize("kind", ["expired", "not_yet_valid", "forged", "unsigned"])
def test_bad_tokens_never_reach_the_view(tokens: TestTokens, kind: str) -> None:
    bad = getattr(tokens, kind)("admin", {"roles": "admin"})
    answer = TokenClient(flask_claims.app, bad).get("/protected")
    assert answer.status_code == 401
    assert 'error="invalid_token"' in answer.headers["WWW-Authenticate"]


def test_no_token_is_a_401_and_login_stays_public(tokens: TestTokens) -> None:
    client = TokenClient(flask_claims.app)
    assert client.get("/protected").status_code == 401
    assert client.post("/login", json={"username": "x", "password": "y"}).status_code == 401
