"""Signing keys: loaded and checked once; their public JWKs and thumbprints; signing.

A :class:`SigningKey` is one private key (or HMAC secret) with its algorithm
and ``kid``, checked as PyJWT's algorithm will use it. Every token and DPoP
proof jwt_wsgi signs goes through :func:`jws_encoder` and :func:`sign`:
PyJWT's JWS encoder, taught RFC 9864's ``Ed25519`` and ``Ed448``.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import (
    load_der_private_key,
    load_pem_private_key,
)

from ..errors import ConfigurationError
from .encoding import b64encode
from .keys import (
    ALGORITHM_KEY_TYPES,
    EC_CURVES,
    OKP_CURVES,
    algorithm_object,
    check_hmac_secret,
    check_rsa_key,
    curve_fits,
    pem_text,
    validate_algorithms,
)

_PRIVATE_TYPES = {
    "RSA": (rsa.RSAPrivateKey,),
    "EC": (ec.EllipticCurvePrivateKey,),
    "OKP": (ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey),
}
_EC_CLASSES: dict[str, Callable[[], ec.EllipticCurve]] = {
    "secp256r1": ec.SECP256R1,
    "secp384r1": ec.SECP384R1,
    "secp521r1": ec.SECP521R1,
    "secp256k1": ec.SECP256K1,
}


@dataclass(frozen=True)
class SigningKey:
    """One key a minter signs with: the prepared key, its algorithm and ``kid``."""

    key: Any
    algorithm: str
    kid: str | None

    def public_jwk(self) -> dict[str, Any] | None:
        """The public half as a JWK, or ``None`` for an HMAC secret (never published)."""
        if isinstance(self.key, bytes):
            return None
        return public_jwk(self.key.public_key(), self.algorithm, self.kid)


def public_jwk(public_key: Any, algorithm: str, kid: str | None) -> dict[str, Any]:
    """A public key as a signing JWK: ``use``, ``alg`` and ``kid`` set, no ``key_ops``."""
    jwk: dict[str, Any] = algorithm_object(algorithm).to_jwk(public_key, as_dict=True)
    # RFC 7517 section 4.3: use and key_ops should not appear together;
    # PyJWT adds key_ops to RSA keys, and every verifier knows use.
    jwk.pop("key_ops", None)
    jwk.update(use="sig", alg=algorithm)
    if kid is not None:
        jwk["kid"] = kid
    return jwk


def jws_encoder() -> jwt.PyJWS:
    """PyJWT's JWS encoder, taught RFC 9864's ``Ed25519`` and ``Ed448`` (its EdDSA;
    a key's curve is checked when the key is loaded). Every token and proof
    jwt_wsgi signs goes through one."""
    encoder = jwt.PyJWS()
    for name in OKP_CURVES:
        encoder.register_algorithm(name, algorithm_object(name))
    return encoder


def sign(
    encoder: jwt.PyJWS, payload: Mapping[str, Any], key: Any, algorithm: str,
    headers: Mapping[str, Any],
) -> str:  # fmt: skip
    """A compact JWS of the JSON ``payload``, as ``jwt.encode`` would make it."""
    body = json.dumps(payload, separators=(",", ":")).encode()
    return encoder.encode(body, key, algorithm=algorithm, headers=dict(headers))


def signing_key(
    key: Any, algorithm: str, kid: str | None = None, *, allow_weak_hmac_keys: bool = False
) -> SigningKey:
    """A checked :class:`SigningKey`; asymmetric keys get their RFC 7638 thumbprint as ``kid``."""
    (name,) = validate_algorithms([algorithm])
    prepared = load_signing_key(key, name, allow_weak_hmac_keys)
    if kid is None and not isinstance(prepared, bytes):
        kid = key_thumbprint(prepared.public_key())
    return SigningKey(prepared, name, kid)


def generate_private_key(algorithm: str) -> Any:
    """A new private key for ``algorithm`` (RSA 3072 bits for RS*/PS*)."""
    key_type = ALGORITHM_KEY_TYPES[algorithm]
    if key_type == "EC":
        return ec.generate_private_key(_EC_CLASSES[EC_CURVES[algorithm]]())
    if key_type == "RSA":
        return rsa.generate_private_key(public_exponent=65537, key_size=3072)
    if key_type == "OKP":
        if algorithm == "Ed448":
            return ed448.Ed448PrivateKey.generate()
        return ed25519.Ed25519PrivateKey.generate()
    raise ConfigurationError(f"{algorithm} keys are secrets to share, not keys to generate")


def new_signing_key(algorithm: str) -> Any:
    """A fresh key to sign with: 64 random bytes for ``HS*``, else a new private key."""
    if ALGORITHM_KEY_TYPES[algorithm] == "oct":
        return secrets.token_bytes(64)
    return generate_private_key(algorithm)


def exporting_algorithm(key: Any) -> str:
    """The algorithm whose PyJWT object exports ``key`` (private or public) as a JWK."""
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return "RS256"
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        return "ES256"
    return "EdDSA"


#: The members of each key type's RFC 7638 thumbprint input, in their order.
_THUMBPRINT_MEMBERS = {
    "RSA": ("e", "kty", "n"),
    "EC": ("crv", "kty", "x", "y"),
    "OKP": ("crv", "kty", "x"),
}


def key_thumbprint(public_key: Any) -> str:
    """The RFC 7638 JWK thumbprint (SHA-256) of a public key: a stable default ``kid``."""
    family = exporting_algorithm(public_key)
    return jwk_thumbprint(jwt.get_algorithm_by_name(family).to_jwk(public_key, as_dict=True))


def jwk_thumbprint(jwk: Mapping[str, Any]) -> str:
    """The RFC 7638 SHA-256 thumbprint of a public JWK, from its required members
    (a DPoP key's ``jkt``); :class:`ConfigurationError` if it lacks them."""
    members = _THUMBPRINT_MEMBERS.get(jwk.get("kty"))  # type: ignore[arg-type]
    if members is None or not all(isinstance(jwk.get(m), str) for m in members):
        raise ConfigurationError("the JWK lacks the members of its key type")
    canonical = json.dumps({m: jwk[m] for m in members}, separators=(",", ":"))
    return b64encode(hashlib.sha256(canonical.encode("utf-8")).digest())


def load_signing_key(key: Any, algorithm: str, allow_weak: bool) -> Any:
    """Load and check a signing key once, as PyJWT's algorithm will use it."""
    key_type = ALGORITHM_KEY_TYPES[algorithm]
    if isinstance(key, jwt.PyJWK):
        key = key.key
    if key_type == "oct":
        secret = key.encode("utf-8") if isinstance(key, str) else key
        if not isinstance(secret, bytes) or not secret:
            raise ConfigurationError(f"{algorithm} needs a non-empty secret (str or bytes)")
        check_hmac_secret(secret, algorithm, allow_weak)
        return secret
    if isinstance(key, str):
        key = key.encode("utf-8")
    if isinstance(key, bytes):
        try:
            if key.lstrip().startswith(b"-----BEGIN"):
                key = load_pem_private_key(pem_text(key), password=None)
            else:
                key = load_der_private_key(key, password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            raise ConfigurationError(
                f"{algorithm} needs a private key (PEM or DER, unencrypted): {exc}"
            ) from None
    if not isinstance(key, _PRIVATE_TYPES[key_type]):
        raise ConfigurationError(f"{algorithm} needs a {key_type} private key")
    if not curve_fits(key, algorithm):
        curve = EC_CURVES.get(algorithm, algorithm)
        raise ConfigurationError(f"{algorithm} needs a key on the {curve} curve (RFC 9864)"
                                 if algorithm in OKP_CURVES
                                 else f"{algorithm} needs a key on the {curve} curve")  # fmt: skip
    if isinstance(key, rsa.RSAPrivateKey):
        check_rsa_key(key.public_key())
    try:
        algorithm_object(algorithm).prepare_key(key)
    except jwt.InvalidKeyError as exc:
        raise ConfigurationError(f"the key does not fit {algorithm}: {exc}") from exc
    return key
