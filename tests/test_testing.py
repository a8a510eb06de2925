"""jwt_wsgi.testing: tokens the app's own configuration accepts, and the bad ones it refuses."""

from __future__ import annotations

from typing import Any

import jwt
import pytest

from jwt_wsgi import Authenticator, ConfigurationError, ExpiredToken, JWTMiddleware, Provider, Rule
from jwt_wsgi.errors import DisallowedAlgorithm, ImmatureToken, InvalidSignature
from jwt_wsgi.testing import TestTokens, TokenClient

from .fixtures.keyserver import KeyServer
from .helpers import echo_app


def production(**options: Any) -> JWTMiddleware:
    """An app configured as in production: a remote key set nobody can reach offline."""
    options.setdefault("jwks_url", "https://keys.invalid/jwks.json")
    return JWTMiddleware(
        echo_app,
        algorithms=["RS256", "ES256"],
        issuer="https://issuer.example",
        audience="api",
        rules=[Rule("/reports/<path:rest>", scopes=["reports:read"])],
        **options,
    )


def test_tokens_carry_the_providers_issuer_and_audience_and_pass_the_rules() -> None:
    app = production()
    tokens = TestTokens(app)
    assert tokens.algorithm == "RS256"
    token = tokens.token("alice", {"scope": "reports:read"})
    claims = jwt.decode(token, options={"verify_signature": False})
    assert (claims["iss"], claims["aud"], claims["sub"]) == (
        "https://issuer.example",
        "api",
        "alice",
    )
    answer = TokenClient(app, token).get("/reports/q3")
    assert answer.status_code == 200, answer.data
    assert answer.get_json()["claims"]["sub"] == "alice"


def test_the_apps_rules_still_apply() -> None:
    app = production()
    tokens = TestTokens(app, algorithm="ES256")
    answer = TokenClient(app, tokens.token()).get("/reports/q3")
    assert answer.status_code == 403
    assert 'error="insufficient_scope"' in answer.headers["WWW-Authenticate"]


@pytest.mark.parametrize(
    ("kind", "refusal"),
    [
        ("expired", ExpiredToken),
        ("not_yet_valid", ImmatureToken),
        ("forged", InvalidSignature),
        ("unsigned", DisallowedAlgorithm),
    ],
)
def test_bad_tokens_are_refused_for_their_reason(kind: str, refusal: type[Exception]) -> None:
    app = production(leeway=120)
    tokens = TestTokens(app)
    bad = getattr(tokens, kind)("alice", {"scope": "reports:read"})
    with pytest.raises(refusal):
        app.authenticator.authenticate(bad)
    assert TokenClient(app, bad).get("/reports/q3").status_code == 401


def test_lifetime_and_fresh() -> None:
    tokens = TestTokens(production())
    claims = jwt.decode(tokens.token(lifetime=60, fresh=True), options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 60 and claims["auth_time"] == claims["iat"]


def test_hmac_providers_get_a_fresh_secret() -> None:
    app = JWTMiddleware(echo_app, key="p" * 64, algorithms=["HS256"])
    tokens = TestTokens(app)
    assert TokenClient(app, tokens.token()).get("/").status_code == 200
    old = jwt.encode({"sub": "x", "exp": 4_000_000_000}, "p" * 64, "HS256")
    assert TokenClient(app, old).get("/").status_code == 401  # the old key is out


def test_a_given_key_and_a_named_provider() -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    providers = [
        Provider("a", ["ES256"], issuer="https://a.example", jwks_url="https://a.invalid/k"),
        Provider("b", ["ES256"], issuer="https://b.example", jwks_url="https://b.invalid/k"),
    ]
    authenticator = Authenticator(providers)
    key = ec.generate_private_key(ec.SECP256R1())
    tokens = TestTokens(authenticator, provider="b", key=key)
    result = authenticator.authenticate(tokens.token("bob"))
    assert (result.provider, result.claims["iss"]) == ("b", "https://b.example")
    assert jwt.decode(tokens.token(), key.public_key(), ["ES256"], options={"verify_aud": False})


def test_the_typ_the_provider_requires_is_sent() -> None:
    app = production(typ="at+jwt")
    tokens = TestTokens(app)
    assert jwt.get_unverified_header(tokens.token())["typ"] == "at+jwt"
    assert app.authenticator.authenticate(tokens.token()).claims["sub"] == "test-user"


def test_the_token_goes_in_a_cookie_when_asked() -> None:
    app = JWTMiddleware(echo_app, key="p" * 64, algorithms=["HS256"], locations=["cookie"])
    tokens = TestTokens(app)
    token = tokens.token()
    client = TokenClient(app, token, cookie="access_token")
    assert client.get("/").status_code == 200
    assert TokenClient(app, token).get("/").status_code == 401  # a header is not looked at


def test_a_requests_own_header_wins() -> None:
    app = production()
    tokens = TestTokens(app)
    answer = TokenClient(app).get(
        "/reports/x", headers=tokens.header("al", {"scope": "reports:read"})
    )
    assert answer.status_code == 200 and answer.get_json()["claims"]["sub"] == "al"
    client = TokenClient(app, tokens.token("alice", {"scope": "reports:read"}))
    assert client.get("/reports/x", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.get("/reports/x").status_code == 200


def test_works_offline_in_front_of_a_remote_key_set() -> None:
    server = KeyServer()
    server.behaviour = "hang"
    try:
        app = production(jwks_url=server.jwks_url, allow_http=True)
        tokens = TestTokens(app)
        token = tokens.token("alice", {"scope": "reports:read"})
        assert TokenClient(app, token).get("/reports/x").status_code == 200
        assert server.fetches == 0
    finally:
        server.close()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"provider": "nope"}, "no provider named 'nope'"),
        ({"algorithm": "PS256"}, "does not accept PS256"),
    ],
)
def test_misuse_is_a_configuration_error(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        TestTokens(production(), **options)
    with pytest.raises(ConfigurationError, match="JWTMiddleware or an Authenticator"):
        TestTokens(echo_app)  # type: ignore[arg-type]
