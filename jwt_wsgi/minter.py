"""Creating tokens: :class:`Minter`, with a replaceable claims loader.

The minter is the framework-free form of flask-jwt-simple's ``create_jwt``
and ``@jwt.jwt_data_loader``::

    minter = Minter(secret, algorithm="HS256", expires_in=timedelta(minutes=15))

    @minter.claims_loader
    def claims_for(identity):
        now = datetime.now(timezone.utc)
        return {"sub": identity, "iat": now, "nbf": now,
                "exp": now + timedelta(minutes=15), "roles": roles_of(identity)}

    token = minter.mint("alice")

Without a loader a token carries ``sub``, ``iat``, ``nbf``, ``exp``, ``jti``
(and ``iss``/``aud`` when the minter has them). With a loader, **the dict it
returns is the complete claim set**: defaults are not merged in, as in
flask-jwt-simple. ``datetime`` values become NumericDates (naive ones are
taken as UTC). The signing algorithm is always the minter's own: a header
named ``alg`` is refused, never allowed to override it.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from .errors import ConfigurationError
from .keys import ALGORITHM_KEY_TYPES, HMAC_MIN_BYTES, check_rsa_key, validate_algorithms

ClaimsLoader = Callable[[Any], Mapping[str, Any]]
_Loader = TypeVar("_Loader", bound=ClaimsLoader)

_PRIVATE_TYPES = {
    "RSA": (rsa.RSAPrivateKey,),
    "EC": (ec.EllipticCurvePrivateKey,),
    "OKP": (ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey),
}


class Minter:
    """Signs tokens with one key and one algorithm.

    :param key: an HMAC secret (``str``/``bytes``), a PEM private key, a
        ``cryptography`` private key, or a private ``jwt.PyJWK``.
    :param algorithm: the signing algorithm (``"HS256"``); ``none`` is refused.
    :param expires_in: lifetime of default-claim tokens (15 minutes).
    :param issuer: added as ``iss`` to default claims when given.
    :param audience: added as ``aud`` to default claims when given.
    :param kid: the key id put in every header (``None``).
    :param headers: extra JOSE headers for every token (``None``); ``alg`` is refused.
    :param allow_weak_hmac_keys: accept an HMAC secret shorter than the hash.
    :param clock: returns the current Unix time (``time.time``).
    """

    def __init__(
        self,
        key: Any,
        algorithm: str = "HS256",
        *,
        expires_in: timedelta = timedelta(minutes=15),
        issuer: str | None = None,
        audience: str | Collection[str] | None = None,
        kid: str | None = None,
        headers: Mapping[str, Any] | None = None,
        allow_weak_hmac_keys: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        (self.algorithm,) = validate_algorithms([algorithm])
        self._key = _signing_key(key, self.algorithm, allow_weak_hmac_keys)
        if expires_in <= timedelta(0):
            raise ConfigurationError("expires_in must be positive")
        self.expires_in = expires_in
        self.issuer = issuer
        self.audience = (
            audience if audience is None or isinstance(audience, str) else list(audience)
        )
        self.headers = _check_headers(headers)
        if kid is not None:
            self.headers["kid"] = kid
        self.clock = clock
        self._loader: ClaimsLoader | None = None

    def claims_loader(self, loader: _Loader) -> _Loader:
        """Register ``loader(identity) -> dict`` as the source of every claim set.

        Usable as a decorator. The returned dict is the whole claim set: add
        ``exp`` yourself if you want tokens to expire (the middleware requires
        it by default).
        """
        self._loader = loader
        return loader

    def default_claims(self, identity: Any) -> dict[str, Any]:
        """The claims a token gets when no loader is registered."""
        now = int(self.clock())
        claims: dict[str, Any] = {
            "sub": _subject(identity),
            "iat": now,
            "nbf": now,
            "exp": now + int(self.expires_in.total_seconds()),
            "jti": uuid.uuid4().hex,
        }
        if self.issuer is not None:
            claims["iss"] = self.issuer
        if self.audience is not None:
            claims["aud"] = self.audience
        return claims

    def mint(
        self,
        identity: Any,
        claims: Mapping[str, Any] | None = None,
        *,
        headers: Mapping[str, Any] | None = None,
    ) -> str:
        """Create a signed token for ``identity``.

        :param claims: added on top of the loader's (or the default) claims,
            replacing any of the same name.
        :param headers: extra JOSE headers for this token; ``alg`` is refused.
        """
        if self._loader is not None:
            payload = dict(self._loader(identity))
        else:
            payload = self.default_claims(identity)
        if claims:
            payload.update(claims)
        payload = {name: _numeric_date(value) for name, value in payload.items()}
        merged = {**self.headers, **_check_headers(headers)}
        return jwt.encode(payload, self._key, algorithm=self.algorithm, headers=merged)


def _subject(identity: Any) -> str:
    if isinstance(identity, bool) or not isinstance(identity, (str, int)):
        raise TypeError("identity must be a str or an int (it becomes the 'sub' claim)")
    return str(identity)


def _numeric_date(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return int(value.timestamp())
    return value


def _check_headers(headers: Mapping[str, Any] | None) -> dict[str, Any]:
    result = dict(headers or {})
    if "alg" in result:
        raise ConfigurationError(
            "the 'alg' header is set by the minter's algorithm and cannot be overridden"
        )
    return result


def _signing_key(key: Any, algorithm: str, allow_weak: bool) -> Any:
    """Load and check the signing key once, as PyJWT's algorithm will use it."""
    key_type = ALGORITHM_KEY_TYPES[algorithm]
    if isinstance(key, jwt.PyJWK):
        key = key.key
    if key_type == "oct":
        secret = key.encode("utf-8") if isinstance(key, str) else key
        if not isinstance(secret, bytes) or not secret:
            raise ConfigurationError(f"{algorithm} needs a non-empty secret (str or bytes)")
        if len(secret) < HMAC_MIN_BYTES[algorithm] and not allow_weak:
            raise ConfigurationError(
                f"HMAC secret of {len(secret)} bytes is too short for {algorithm}: at least "
                f"{HMAC_MIN_BYTES[algorithm]} are required (RFC 7518 section 3.2)"
            )
        return secret
    if isinstance(key, str):
        key = key.encode("utf-8")
    if isinstance(key, bytes):
        try:
            key = load_pem_private_key(key, password=None)
        except (ValueError, TypeError) as exc:
            raise ConfigurationError(f"{algorithm} needs a PEM private key") from exc
    if not isinstance(key, _PRIVATE_TYPES[key_type]):
        raise ConfigurationError(f"{algorithm} needs a {key_type} private key")
    if isinstance(key, rsa.RSAPrivateKey):
        check_rsa_key(key.public_key())
    try:
        jwt.get_algorithm_by_name(algorithm).prepare_key(key)
    except jwt.InvalidKeyError as exc:
        raise ConfigurationError(f"the key does not fit {algorithm}: {exc}") from exc
    return key
