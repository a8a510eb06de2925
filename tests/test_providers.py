"""Several providers, chosen by the token's issuer and verified against that one only."""

from __future__ import annotations

from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from jwt_wsgi import AuthError, ConfigurationError, ExpiredToken, JWTMiddleware, Provider, Rule
from jwt_wsgi.errors import (
    DisallowedAlgorithm,
    InvalidAudience,
    InvalidIssuer,
    InvalidSignature,
    MalformedToken,
    ProviderNotAccepted,
    TokenTooLarge,
)

from .helpers import NOW, SECRET, Refusals, ValidatingClient, echo_app, protect

IDP_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def idp_token(**claims: Any) -> str:
    payload = {"iss": "https://idp.example", "sub": "u", "aud": "api", "exp": int(NOW) + 60}
    return jwt.encode({**payload, **claims}, IDP_KEY, algorithm="RS256")


def internal_token(**claims: Any) -> str:
    payload = {"iss": "internal", "sub": "svc", "exp": int(NOW) + 60}
    return jwt.encode({**payload, **claims}, SECRET, algorithm="HS256")


PROVIDERS = [
    Provider(
        "idp",
        ["RS256"],
        issuer="https://idp.example",
        key=IDP_KEY.public_key(),
        audience="api",
    ),
    Provider("internal", ["HS256"], issuer="internal", key=SECRET, leeway=30),
]


def build(**options: Any) -> JWTMiddleware:
    return protect(providers=PROVIDERS, on_error=Refusals(), **options)  # type: ignore[no-any-return]


def get(mw: JWTMiddleware, token: str, path: str = "/") -> tuple[int, Any]:
    response = ValidatingClient(mw).get(path, headers={"Authorization": f"Bearer {token}"})
    return response.status_code, response.get_json()


def refusal(mw: JWTMiddleware, token: str, path: str = "/") -> type[AuthError] | None:
    """Why ``token`` is refused on ``path`` (``None``: it passes)."""
    if get(mw, token, path)[0] == 200:
        return None
    assert isinstance(mw.on_error, Refusals)
    return mw.on_error.last()


def test_each_provider_verifies_its_own_tokens() -> None:
    mw = build()
    assert get(mw, idp_token())[0] == 200
    assert get(mw, internal_token())[0] == 200


def test_unknown_or_missing_issuer_is_refused() -> None:
    mw = build()
    assert refusal(mw, internal_token(iss="https://evil")) is InvalidIssuer
    token = jwt.encode({"sub": "x", "exp": int(NOW) + 60}, SECRET, algorithm="HS256")
    assert refusal(mw, token) is InvalidIssuer


def test_a_token_is_verified_only_against_the_provider_its_issuer_names() -> None:
    # Signed with the internal secret but claiming the IdP as issuer.
    forged = jwt.encode(
        {"iss": "https://idp.example", "sub": "x", "aud": "api", "exp": int(NOW) + 60},
        SECRET,
        algorithm="HS256",
    )
    assert refusal(build(), forged) is DisallowedAlgorithm  # the IdP signs RS256 only


def test_per_provider_settings_apply() -> None:
    mw = build()
    assert refusal(mw, idp_token(aud="other")) is InvalidAudience  # the IdP's audience
    assert refusal(mw, internal_token(exp=int(NOW) - 20)) is None  # internal leeway 30 s
    assert refusal(mw, idp_token(exp=int(NOW) - 20)) is ExpiredToken  # the IdP has none


def test_rule_limits_providers() -> None:
    mw = build(rules=[Rule("/internal/<path:rest>", providers=["internal"])])
    assert get(mw, internal_token(), "/internal/x")[0] == 200
    status, body = get(mw, idp_token(), "/internal/x")
    assert status == 401
    assert body["error_description"] == "the token's issuer is not accepted for this path"
    assert refusal(mw, idp_token(), "/internal/x") is ProviderNotAccepted  # also on a cache hit
    assert get(mw, idp_token(), "/other")[0] == 200


def test_set_keys_per_provider() -> None:
    mw = build()
    assert get(mw, internal_token())[0] == 200
    mw.set_keys("n" * 64, provider="internal")
    assert refusal(mw, internal_token()) is InvalidSignature
    assert get(mw, idp_token())[0] == 200


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param({"providers": PROVIDERS, "key": SECRET}, "on each Provider", id="key"),
        pytest.param(
            {"providers": [PROVIDERS[0], PROVIDERS[0]]}, "two providers", id="duplicate-name"
        ),
        pytest.param(
            {"providers": [PROVIDERS[1], Provider("x", ["HS256"], key=SECRET)]},
            "issuer of its own",
            id="no-issuer",
        ),
        pytest.param(
            {"providers": PROVIDERS, "rules": [Rule("/", providers=["nope"])]},
            "unknown providers",
            id="unknown-in-rule",
        ),
        pytest.param({"providers": PROVIDERS, "audience": "api"}, "on each Provider", id="aud"),
        pytest.param({"providers": PROVIDERS, "leeway": 5}, "on each Provider", id="leeway"),
        pytest.param({"providers": []}, "at least one", id="no-providers"),
        pytest.param({"key": SECRET}, "algorithms is required", id="no-algorithms"),
        pytest.param({"algorithms": ["HS256"]}, "key=", id="no-key"),
        pytest.param(
            {"algorithms": ["HS256"], "key": SECRET, "jwks_url": "https://x/j"},
            "not both",
            id="key-and-url",
        ),
    ],
)
def test_configuration_errors(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        JWTMiddleware(echo_app, **options)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"name": ""}, "name"),
        ({"algorithms": None}, "algorithms is required"),
        ({"issuer": 5}, "issuer"),
        ({"require": "exp"}, "require"),
        ({"allow_numeric_sub": 1}, "allow_numeric_sub"),
    ],
)
def test_provider_options_are_checked(options: dict[str, Any], message: str) -> None:
    settings: dict[str, Any] = {"name": "p", "algorithms": ["HS256"], "key": SECRET, **options}
    with pytest.raises(ConfigurationError, match=message):
        Provider(settings.pop("name"), settings.pop("algorithms"), **settings)


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        pytest.param("a.b.c.d", MalformedToken, id="four-segments"),
        pytest.param("x" * 9000 + ".a.b", TokenTooLarge, id="too-large"),
        pytest.param("e30.e30.e30", InvalidIssuer, id="no-issuer"),
    ],
)
def test_malformed_tokens_fail_before_provider_choice(
    token: str, expected: type[AuthError]
) -> None:
    assert refusal(build(), token) is expected


class TestRfc9068Profile:
    """``profile="rfc9068"``: JWT access tokens only (RFC 9068 sections 2 and 4)."""

    def build(self) -> Any:
        from jwt_wsgi import Authenticator

        provider = Provider("idp", ["HS256"], key=SECRET, issuer="https://idp.example",
                            audience="https://api.example", profile="rfc9068")  # fmt: skip
        return Authenticator(provider, clock=lambda: NOW)

    def claims(self, **extra: Any) -> dict[str, Any]:
        claims = {"iss": "https://idp.example", "aud": "https://api.example", "sub": "u1",
                  "client_id": "app", "iat": int(NOW), "exp": int(NOW) + 300,
                  "jti": "t1"}  # fmt: skip
        return {**claims, **extra}

    def test_an_access_token_passes(self) -> None:
        token = jwt.encode(self.claims(), SECRET, headers={"typ": "at+jwt"})
        assert self.build().authenticate(token).claims["client_id"] == "app"
        media = jwt.encode(self.claims(), SECRET, headers={"typ": "application/at+jwt"})
        assert self.build().authenticate(media).claims["sub"] == "u1"

    def test_an_id_token_is_not_an_access_token(self) -> None:
        from jwt_wsgi.errors import InvalidTokenType

        token = jwt.encode(self.claims(), SECRET, headers={"typ": "JWT"})
        with pytest.raises(InvalidTokenType):
            self.build().authenticate(token)

    @pytest.mark.parametrize("missing", ["client_id", "jti", "sub", "iat", "exp", "aud", "iss"])
    def test_every_required_claim(self, missing: str) -> None:
        from jwt_wsgi.errors import MissingClaim

        claims = self.claims()
        del claims[missing]
        token = jwt.encode(claims, SECRET, headers={"typ": "at+jwt"})
        with pytest.raises(MissingClaim):
            self.build().authenticate(token)

    @pytest.mark.parametrize(
        ("options", "message"),
        [
            ({"audience": None}, "needs issuer= and audience="),
            ({"issuer": None, "audience": "x"}, "needs issuer= and audience="),
            ({"typ": "JWT"}, r"typ is at\+jwt only"),
            ({"profile": "rfc7519"}, "profile must be one of"),
        ],
    )
    def test_misconfiguration(self, options: dict[str, Any], message: str) -> None:
        settings: dict[str, Any] = {"issuer": "https://idp.example", "audience": "a",
                                    "profile": "rfc9068", **options}  # fmt: skip
        with pytest.raises(ConfigurationError, match=message):
            Provider("idp", ["HS256"], key=SECRET, **settings)
