"""The minter: default claims, the claims loader, headers, keys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from jwt_wsgi import ConfigurationError, KeyRing, Minter, Verifier

from .helpers import NOW, SECRET, Clock


def decode(token: str, key: Any = SECRET, algorithms: list[str] | None = None) -> dict[str, Any]:
    return jwt.decode(
        token,
        key,
        algorithms=algorithms or ["HS256"],
        options={
            "verify_exp": False,
            "verify_iat": False,
            "verify_nbf": False,
            "verify_aud": False,
        },
    )


def test_default_claims() -> None:
    minter = Minter(SECRET, expires_in=timedelta(minutes=5), clock=Clock())
    claims = decode(minter.mint("alice"))
    assert set(claims) == {"sub", "iat", "nbf", "exp", "jti"}
    assert claims["sub"] == "alice"
    assert claims["iat"] == claims["nbf"] == int(NOW)
    assert claims["exp"] == int(NOW) + 300
    assert len(claims["jti"]) == 32
    assert decode(minter.mint("alice"))["jti"] != claims["jti"]


def test_issuer_audience_and_int_identity() -> None:
    minter = Minter(SECRET, issuer="https://auth", audience=["a", "b"], clock=Clock())
    claims = decode(minter.mint(42))
    assert claims["sub"] == "42"
    assert claims["iss"] == "https://auth"
    assert claims["aud"] == ["a", "b"]


def test_loader_result_is_the_complete_claim_set_and_datetimes_become_numbers() -> None:
    minter = Minter(SECRET, clock=Clock())
    naive = datetime(2027, 1, 1, 12, 0, 0)

    @minter.claims_loader
    def loader(identity: str) -> dict[str, Any]:
        return {"sub": identity, "roles": "admin", "exp": naive, "when": naive}

    claims = decode(minter.mint("root"))
    assert claims == {
        "sub": "root",
        "roles": "admin",
        "exp": int(naive.replace(tzinfo=UTC).timestamp()),
        "when": int(naive.replace(tzinfo=UTC).timestamp()),
    }
    assert loader("x")["sub"] == "x"  # the decorator returns the function


def test_extra_claims_override() -> None:
    minter = Minter(SECRET, clock=Clock())
    claims = decode(minter.mint("a", {"sub": "b", "scope": "read"}))
    assert claims["sub"] == "b" and claims["scope"] == "read"


def test_kid_and_extra_headers() -> None:
    minter = Minter(SECRET, kid="2026-11", headers={"typ": "at+jwt"}, clock=Clock())
    header = jwt.get_unverified_header(minter.mint("a", headers={"x-tenant": "t1"}))
    assert header == {"alg": "HS256", "kid": "2026-11", "typ": "at+jwt", "x-tenant": "t1"}


def test_alg_header_can_never_override_the_algorithm() -> None:
    with pytest.raises(ConfigurationError, match="alg"):
        Minter(SECRET, headers={"alg": "none"})
    minter = Minter(SECRET)
    with pytest.raises(ConfigurationError, match="alg"):
        minter.mint("a", headers={"alg": "none"})


def test_refuses_none_weak_and_mismatched_keys(rsa_key: rsa.RSAPrivateKey) -> None:
    with pytest.raises(ConfigurationError):
        Minter(SECRET, algorithm="none")
    with pytest.raises(ConfigurationError, match="RFC 7518"):
        Minter("short")
    Minter("short", allow_weak_hmac_keys=True)
    with pytest.raises(ConfigurationError):
        Minter(rsa_key.public_key(), algorithm="RS256")  # a public key cannot sign
    with pytest.raises(ConfigurationError):
        Minter(SECRET, algorithm="RS256")
    with pytest.raises(ConfigurationError):
        Minter(rsa_key, algorithm="ES256")
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(ConfigurationError, match="2048"):
        Minter(small, algorithm="RS256")
    with pytest.raises(TypeError):
        Minter(SECRET).mint(None)


def test_asymmetric_minting_verifies_with_our_verifier(
    rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    from cryptography.hazmat.primitives import serialization

    pem = rsa_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    for key, alg, public in (
        (pem, "RS256", rsa_key.public_key()),
        (rsa_key, "PS256", rsa_key.public_key()),
        (ec_key, "ES256", ec_key.public_key()),
    ):
        token = Minter(key, algorithm=alg).mint("a")
        assert Verifier(KeyRing(public, [alg])).verify(token).claims["sub"] == "a"
