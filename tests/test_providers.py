"""Several providers, chosen by the token's issuer and verified against that one only."""

from __future__ import annotations

from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from jwt_wsgi import ConfigurationError, JWTMiddleware, Provider, Rule

from .helpers import NOW, SECRET, Clock, ValidatingClient, echo_app

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
    return JWTMiddleware(echo_app, providers=PROVIDERS, clock=Clock(), **options)


def get(mw: JWTMiddleware, token: str, path: str = "/") -> tuple[int, Any]:
    response = ValidatingClient(mw).get(path, headers={"Authorization": f"Bearer {token}"})
    return response.status_code, response.get_json()


def test_each_provider_verifies_its_own_tokens() -> None:
    mw = build()
    assert get(mw, idp_token())[0] == 200
    assert get(mw, internal_token())[0] == 200


def test_unknown_or_missing_issuer_is_refused() -> None:
    mw = build()
    assert get(mw, internal_token(iss="https://evil"))[1]["error_description"] == (
        "the token's issuer is not accepted"
    )
    token = jwt.encode({"sub": "x", "exp": int(NOW) + 60}, SECRET, algorithm="HS256")
    assert get(mw, token)[0] == 401


def test_a_token_is_verified_only_against_the_provider_its_issuer_names() -> None:
    # Signed with the internal secret but claiming the IdP as issuer.
    forged = jwt.encode(
        {"iss": "https://idp.example", "sub": "x", "aud": "api", "exp": int(NOW) + 60},
        SECRET,
        algorithm="HS256",
    )
    assert get(build(), forged)[0] == 401


def test_per_provider_settings_apply() -> None:
    mw = build()
    assert get(mw, idp_token(aud="other"))[0] == 401  # the IdP's audience
    assert get(mw, internal_token(exp=int(NOW) - 20))[0] == 200  # internal leeway 30 s
    assert get(mw, idp_token(exp=int(NOW) - 20))[0] == 401  # the IdP has none


def test_rule_limits_providers() -> None:
    mw = build(rules=[Rule("/internal/<path:rest>", providers=["internal"])])
    assert get(mw, internal_token(), "/internal/x")[0] == 200
    status, body = get(mw, idp_token(), "/internal/x")
    assert status == 401
    assert body["error_description"] == "the token's issuer is not accepted for this path"
    assert get(mw, idp_token(), "/internal/x")[0] == 401  # also on a cache hit
    assert get(mw, idp_token(), "/other")[0] == 200


def test_set_keys_per_provider() -> None:
    mw = build()
    assert get(mw, internal_token())[0] == 200
    mw.set_keys("n" * 64, provider="internal")
    assert get(mw, internal_token())[0] == 401
    assert get(mw, idp_token())[0] == 200


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"providers": PROVIDERS, "key": SECRET}, id="key-and-providers"),
        pytest.param({"providers": [PROVIDERS[0], PROVIDERS[0]]}, id="duplicate-name"),
        pytest.param(
            {"providers": [PROVIDERS[1], Provider("x", ["HS256"], key=SECRET)]}, id="no-issuer"
        ),
        pytest.param(
            {"providers": PROVIDERS, "rules": [Rule("/", providers=["nope"])]}, id="unknown-in-rule"
        ),
        pytest.param({"providers": PROVIDERS, "audience": "api"}, id="audience-and-providers"),
        pytest.param({"providers": PROVIDERS, "leeway": 5}, id="leeway-and-providers"),
        pytest.param({"providers": []}, id="no-providers"),
        pytest.param({"key": SECRET}, id="no-algorithms"),
        pytest.param({"algorithms": ["HS256"]}, id="no-key"),
    ],
)
def test_configuration_errors(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        JWTMiddleware(echo_app, **options)


@pytest.mark.parametrize(
    "token",
    [
        pytest.param("a.b.c.d", id="four-segments"),
        pytest.param("x" * 9000 + ".a.b", id="too-large"),
        pytest.param("e30.e30.e30", id="no-issuer"),
    ],
)
def test_malformed_tokens_fail_before_provider_choice(token: str) -> None:
    assert get(build(), token)[0] in (400, 401)
