"""Key handling: every accepted form verifies, every unsafe setting is refused."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from jwt_wsgi import ConfigurationError, InvalidToken, KeyRing, Verifier

from .helpers import NOW, SECRET, b64, make_token


def pem_public(key: Any) -> bytes:
    return key.public_key().public_bytes(  # type: ignore[no-any-return]
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def verifies(key: Any, token: str, algorithms: list[str]) -> bool:
    verifier = Verifier(KeyRing(key, algorithms))
    try:
        verifier.verify(token)
    except InvalidToken:
        return False
    return True


def test_hmac_secret_as_str_and_bytes() -> None:
    token = make_token()
    assert verifies(SECRET, token, ["HS256"])
    assert verifies(SECRET.encode(), token, ["HS256"])


def test_rsa_key_forms(rsa_key: rsa.RSAPrivateKey) -> None:
    token = make_token(key=rsa_key, algorithm="RS256")
    jwk_dict = jwt.PyJWK.from_dict(
        {**jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key.public_key(), as_dict=True), "kid": "k1"}
    )
    forms = {
        "pem-str": pem_public(rsa_key).decode(),
        "pem-bytes": pem_public(rsa_key),
        "public-object": rsa_key.public_key(),
        "private-object": rsa_key,
        "pyjwk": jwk_dict,
        "jwk-dict": jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key.public_key(), as_dict=True),
        "list": [SECRET.encode()[:0] or rsa_key.public_key()],
    }
    for name, key in forms.items():
        assert verifies(key, token, ["RS256"]), name


def test_ec_and_eddsa(ec_key: ec.EllipticCurvePrivateKey) -> None:
    assert verifies(ec_key.public_key(), make_token(key=ec_key, algorithm="ES256"), ["ES256"])
    ed = ed25519.Ed25519PrivateKey.generate()
    assert verifies(ed.public_key(), make_token(key=ed, algorithm="EdDSA"), ["EdDSA"])


def test_jwks_selects_by_kid_and_refuses_unknown_or_missing_kid(
    rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    jwks = {
        "keys": [
            {**jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key.public_key(), as_dict=True), "kid": "r"},
            {**jwt.algorithms.ECAlgorithm.to_jwk(ec_key.public_key(), as_dict=True), "kid": "e"},
        ]
    }
    for key in (jwks, jwt.PyJWKSet.from_dict(jwks)):
        algs = ["RS256", "ES256"]
        assert verifies(key, make_token(key=rsa_key, algorithm="RS256", headers={"kid": "r"}), algs)
        assert verifies(key, make_token(key=ec_key, algorithm="ES256", headers={"kid": "e"}), algs)
        assert not verifies(
            key, make_token(key=ec_key, algorithm="ES256", headers={"kid": "x"}), algs
        )
        assert not verifies(key, make_token(key=ec_key, algorithm="ES256"), algs)


def test_several_keys_for_rotation() -> None:
    old, new = "o" * 32, "n" * 32
    for secret in (old, new):
        assert verifies([old, new], make_token(key=secret), ["HS256"])
    assert not verifies([old, new], make_token(key="x" * 32), ["HS256"])


@pytest.mark.parametrize(
    ("algorithms", "message"),
    [
        pytest.param(["none"], "none", id="none"),
        pytest.param(["NONE"], "none", id="none-upper"),
        pytest.param([], "at least one", id="empty"),
        pytest.param("HS256", "list", id="string-not-list"),
        pytest.param(["HS1"], "unsupported", id="unknown"),
        pytest.param(["ES521"], "unsupported", id="unregistered-alias"),
    ],
)
def test_bad_algorithm_lists(algorithms: Any, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        KeyRing(SECRET, algorithms)


def test_asymmetric_key_with_hs_algorithm_is_refused(rsa_key: rsa.RSAPrivateKey) -> None:
    with pytest.raises(ConfigurationError, match="algorithm confusion"):
        KeyRing(pem_public(rsa_key), ["RS256", "HS256"])
    with pytest.raises(ConfigurationError):
        KeyRing(pem_public(rsa_key), ["HS256"])


def test_mixed_symmetric_and_asymmetric_keys_are_refused(rsa_key: rsa.RSAPrivateKey) -> None:
    with pytest.raises(ConfigurationError, match="mix"):
        KeyRing([SECRET, rsa_key.public_key()], ["HS256", "RS256"])


@pytest.mark.parametrize(("algorithm", "length"), [("HS256", 31), ("HS384", 47), ("HS512", 63)])
def test_short_hmac_secrets_are_refused_unless_allowed(algorithm: str, length: int) -> None:
    with pytest.raises(ConfigurationError, match="RFC 7518"):
        KeyRing("k" * length, [algorithm])
    KeyRing("k" * (length + 1), [algorithm])
    KeyRing("k" * length, [algorithm], allow_weak_hmac_keys=True)


def test_small_rsa_keys_are_refused() -> None:
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(ConfigurationError, match="2048"):
        KeyRing(small.public_key(), ["RS256"])


def test_key_that_fits_no_algorithm_is_refused(ec_key: ec.EllipticCurvePrivateKey) -> None:
    with pytest.raises(ConfigurationError, match="no configured key"):
        KeyRing(ec_key.public_key(), ["RS256"])
    p384 = ec.generate_private_key(ec.SECP384R1())
    with pytest.raises(ConfigurationError, match="no configured key"):
        KeyRing(p384.public_key(), ["ES256"])  # curve must match the algorithm


def test_duplicate_kid_is_refused() -> None:
    jwks = {"keys": [{"kty": "oct", "k": "a" * 43, "kid": "same"}] * 2}
    with pytest.raises(ConfigurationError, match="kid"):
        KeyRing(jwks, ["HS256"])


def test_jwk_use_and_key_ops_and_alg_are_honoured(rsa_key: rsa.RSAPrivateKey) -> None:
    public = jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key.public_key(), as_dict=True)
    token = make_token(key=rsa_key, algorithm="RS256", headers={"kid": "k"})
    usable = {**public, "kid": "k", "use": "sig"}
    assert verifies({"keys": [usable]}, token, ["RS256"])
    enc = {**public, "kid": "k", "use": "enc"}
    with pytest.raises(ConfigurationError):
        KeyRing({"keys": [enc]}, ["RS256"])
    sign_only = {**public, "kid": "k", "key_ops": ["sign"]}
    with pytest.raises(ConfigurationError):
        KeyRing({"keys": [sign_only]}, ["RS256"])
    ps_only = {**public, "kid": "k", "alg": "PS256"}
    assert not verifies({"keys": [ps_only, {**usable, "kid": "z"}]}, token, ["RS256", "PS256"])


def test_header_embedded_keys_are_never_used(rsa_key: rsa.RSAPrivateKey) -> None:
    attacker = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    embedded = jwt.algorithms.RSAAlgorithm.to_jwk(attacker.public_key(), as_dict=True)
    token = make_token(
        key=attacker,
        algorithm="RS256",
        headers={"jwk": embedded, "jku": "https://evil.example/jwks", "x5u": "https://evil"},
    )
    assert not verifies(rsa_key.public_key(), token, ["RS256"])


def test_kid_is_an_opaque_lookup_string() -> None:
    token = make_token(headers={"kid": "../../etc/passwd"})
    assert verifies(SECRET, token, ["HS256"])  # a keyless ring ignores the label
    jwks = {
        "keys": [
            {"kty": "oct", "k": jwt.utils.base64url_encode(SECRET.encode()).decode(), "kid": "a"}
        ]
    }
    assert not verifies(jwks, token, ["HS256"])


def test_public_key_pem_is_not_an_hmac_secret(rsa_key: rsa.RSAPrivateKey) -> None:
    # The classic confusion attack: sign HS256 with the RSA public key's PEM.
    pem = pem_public(rsa_key)
    signing_input = b64({"alg": "HS256"}) + "." + b64({"sub": "x", "exp": int(NOW) + 60})
    signature = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
    assert not verifies(pem, signing_input + "." + b64(signature), ["RS256"])
