"""The minter: default claims, the claims loader, headers, keys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from jwt_wsgi import ConfigurationError, Minter, Provider
from jwt_wsgi.errors import UnknownKey
from jwt_wsgi.jose.signing import key_thumbprint
from jwt_wsgi.jose.verifier import TokenVerifier

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
    p384 = ec.generate_private_key(ec.SECP384R1())
    with pytest.raises(ConfigurationError, match="secp256r1"):
        Minter(p384, algorithm="ES256")  # every PyJWT version, old ones included
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(ConfigurationError, match="2048"):
        Minter(small, algorithm="RS256")
    with pytest.raises(ConfigurationError, match="identity"):
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
        assert TokenVerifier(Provider("p", [alg], key=public)).verify(token).claims["sub"] == "a"


def test_rotation_publishes_old_and_new_until_retired(ec_key: ec.EllipticCurvePrivateKey) -> None:
    minter = Minter(ec_key, algorithm="ES256", clock=Clock())
    first = minter.current.kid
    assert first is not None and len(first) == 43  # an RFC 7638 thumbprint
    old_token = minter.mint("a")
    new_key = ec.generate_private_key(ec.SECP256R1())
    assert minter.rotate(new_key, kid="2026-12") == "2026-12"
    new_token = minter.mint("a")
    assert jwt.get_unverified_header(new_token)["kid"] == "2026-12"
    jwks = minter.jwks()
    assert [k["kid"] for k in jwks["keys"]] == ["2026-12", first]
    assert all(k["use"] == "sig" and k["alg"] == "ES256" and "d" not in k for k in jwks["keys"])
    verifier = TokenVerifier(Provider("p", ["ES256"], key=jwks), clock=Clock())
    for token in (old_token, new_token):
        verifier.verify(token)
    minter.retire(first)
    with pytest.raises(UnknownKey):
        TokenVerifier(Provider("p", ["ES256"], key=minter.jwks()), clock=Clock()).verify(old_token)
    with pytest.raises(ConfigurationError):
        minter.retire("2026-12")  # the current key


def test_thumbprint_matches_rfc7638_example() -> None:
    # RFC 7638 section 3.1: the example RSA key and its thumbprint.
    n = (
        "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECP"
        "ebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2Qvzq"
        "Y368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu"
        "0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
    )
    public = jwt.algorithms.RSAAlgorithm.from_jwk({"kty": "RSA", "n": n, "e": "AQAB"})
    assert key_thumbprint(public) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_hmac_secrets_never_appear_in_jwks() -> None:
    minter = Minter(SECRET, kid="hmac")
    assert minter.jwks() == {"keys": []}


def test_rotation_needs_a_fresh_kid(ec_key: ec.EllipticCurvePrivateKey) -> None:
    minter = Minter(SECRET, kid="a")
    with pytest.raises(ConfigurationError):
        minter.rotate("t" * 64)  # an HMAC secret gets no thumbprint
    with pytest.raises(ConfigurationError):
        minter.rotate("t" * 64, kid="a")


def test_jwks_app_serves_the_set(serve: Any, ec_key: ec.EllipticCurvePrivateKey) -> None:
    import json

    from jwt_wsgi import jwks_app

    from .helpers import http_request

    minter = Minter(ec_key, algorithm="ES256")
    url = serve(jwks_app(minter))
    status, headers, body = http_request(url, "/.well-known/jwks.json")
    assert status == 200
    assert headers["Content-Type"] == "application/jwk-set+json"
    assert headers["Cache-Control"] == "public, max-age=300"
    assert json.loads(body) == minter.jwks()
    assert http_request(url, "/.well-known/jwks.json", method="HEAD")[2] == b""
    assert http_request(url, "/other")[0] == 404
    assert http_request(url, "/.well-known/jwks.json", method="POST")[0] == 404


def test_expires_in_takes_seconds_or_a_timedelta() -> None:
    for expires_in in (900, 900.0, timedelta(minutes=15)):
        claims = decode(Minter(SECRET, expires_in=expires_in, clock=Clock()).mint("a"))
        assert claims["exp"] - claims["iat"] == 900
    for bad in (0, -5, "900", timedelta(0)):
        with pytest.raises(ConfigurationError, match="expires_in"):
            Minter(SECRET, expires_in=bad)  # type: ignore[arg-type]


def test_published_jwks_carry_use_and_never_key_ops(
    rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    """RFC 7517 section 4.3: use and key_ops should not appear together."""
    from cryptography.hazmat.primitives.asymmetric import ed25519

    for key, alg in (
        (rsa_key, "RS256"),
        (ec_key, "ES256"),
        (ed25519.Ed25519PrivateKey.generate(), "EdDSA"),
    ):
        (jwk,) = Minter(key, algorithm=alg).jwks()["keys"]
        assert jwk["use"] == "sig" and jwk["alg"] == alg
        assert "key_ops" not in jwk


def test_private_keys_as_der_or_escaped_pem(rsa_key: rsa.RSAPrivateKey) -> None:
    from cryptography.hazmat.primitives import serialization

    der = rsa_key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    pem = rsa_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    one_line = pem.decode().strip().replace("\n", "\\n")  # as from an environment variable
    for key in (der, one_line):
        token = Minter(key, algorithm="RS256").mint("a")
        assert decode(token, rsa_key.public_key(), ["RS256"])["sub"] == "a"
    with pytest.raises(ConfigurationError, match="private key"):
        Minter(b"\x30\x03junk", algorithm="RS256")


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"issuer": 5}, "issuer"),
        ({"audience": 5}, "audience"),
        ({"headers": ["x"]}, "headers"),
        ({"headers": {"alg": "none"}}, "alg"),
        ({"headers": {"kid": "x"}}, "kid="),
        ({"clock": "now"}, "clock"),
        ({"allow_weak_hmac_keys": "yes"}, "allow_weak_hmac_keys"),
    ],
)
def test_bad_minter_options(options: dict[str, Any], named: str) -> None:
    with pytest.raises(ConfigurationError, match=named):
        Minter(SECRET, **options)


def test_retiring_an_unknown_key_names_it() -> None:
    with pytest.raises(ConfigurationError, match="'nope'"):
        Minter(SECRET, kid="a").retire("nope")
