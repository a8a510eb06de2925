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

import base64
import hashlib
import json
import time
import uuid
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import jwt
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import (
    load_der_private_key,
    load_pem_private_key,
)

from . import _checks
from ._checks import Duration
from .errors import ConfigurationError
from .keys import (
    ALGORITHM_KEY_TYPES,
    EC_CURVES,
    check_hmac_secret,
    check_rsa_key,
    curve_fits,
    pem_text,
    validate_algorithms,
)

ClaimsLoader = Callable[[Any], Mapping[str, Any]]
_Loader = TypeVar("_Loader", bound=ClaimsLoader)

_PRIVATE_TYPES = {
    "RSA": (rsa.RSAPrivateKey,),
    "EC": (ec.EllipticCurvePrivateKey,),
    "OKP": (ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey),
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
        public = self.key.public_key()
        jwk: dict[str, Any] = jwt.get_algorithm_by_name(self.algorithm).to_jwk(public, as_dict=True)
        # RFC 7517 section 4.3: use and key_ops should not appear together;
        # PyJWT adds key_ops to RSA keys, and every verifier knows use.
        jwk.pop("key_ops", None)
        jwk.update(use="sig", alg=self.algorithm)
        if self.kid is not None:
            jwk["kid"] = self.kid
        return jwk


class Minter:
    """Signs tokens with its current key; publishes the public keys of all it holds.

    Key rotation: :meth:`rotate` makes a new key current while older ones stay
    in :meth:`jwks` (tokens they signed still verify elsewhere) until
    :meth:`retire` drops them. Asymmetric keys get their RFC 7638 thumbprint
    as ``kid`` unless one is given.

    :param key: an HMAC secret (``str``/``bytes``), a PEM private key, a
        ``cryptography`` private key, or a private ``jwt.PyJWK``.
    :param algorithm: the signing algorithm (``"HS256"``); ``none`` is refused.
    :param expires_in: lifetime of default-claim tokens, in seconds or as a
        ``timedelta`` (15 minutes).
    :param issuer: added as ``iss`` to default claims when given.
    :param audience: added as ``aud`` to default claims when given.
    :param kid: the key id put in the header (``None``; for asymmetric keys,
        the RFC 7638 thumbprint).
    :param headers: extra JOSE headers for every token (``None``); ``alg`` is refused.
    :param allow_weak_hmac_keys: accept an HMAC secret shorter than the hash.
    :param clock: returns the current Unix time (``time.time``).
    """

    def __init__(
        self,
        key: Any,
        algorithm: str = "HS256",
        *,
        expires_in: Duration = timedelta(minutes=15),
        issuer: str | None = None,
        audience: str | Collection[str] | None = None,
        kid: str | None = None,
        headers: Mapping[str, Any] | None = None,
        allow_weak_hmac_keys: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.allow_weak_hmac_keys = _checks.flag(allow_weak_hmac_keys, "allow_weak_hmac_keys")
        self._keys: tuple[SigningKey, ...] = (self._signing_key(key, algorithm, kid),)
        self.expires_in = timedelta(
            seconds=_checks.seconds(expires_in, "expires_in", positive=True)
        )
        if issuer is not None and not isinstance(issuer, str):
            raise ConfigurationError(f"issuer must be a string, not {type(issuer).__name__}")
        self.issuer = issuer
        if audience is None or isinstance(audience, str):
            self.audience: str | list[str] | None = audience
        else:
            self.audience = sorted(_checks.string_set(audience, "audience", example="'api'"))
        self.headers = _check_headers(headers)
        if "kid" in self.headers:
            raise ConfigurationError("set the key id with kid=, not headers=")
        self.clock = _checks.function(clock, "clock", "() -> float")
        self._loader: ClaimsLoader | None = None

    @property
    def current(self) -> SigningKey:
        """The key new tokens are signed with."""
        return self._keys[0]

    @property
    def algorithm(self) -> str:
        """The current key's algorithm."""
        return self.current.algorithm

    def rotate(self, key: Any, *, algorithm: str | None = None, kid: str | None = None) -> str:
        """Sign with ``key`` from now on; keep the older keys published. Returns its kid."""
        new = self._signing_key(key, algorithm or self.algorithm, kid)
        if new.kid is None or any(k.kid == new.kid for k in self._keys):
            raise ConfigurationError("a rotated-in key needs a kid no other key of this minter has")
        self._keys = (new, *self._keys)
        return new.kid

    def retire(self, kid: str) -> None:
        """Stop publishing the (non-current) key ``kid``: its tokens stop verifying."""
        if self.current.kid == kid:
            raise ConfigurationError("the current key cannot be retired; rotate first")
        if not any(k.kid == kid for k in self._keys):
            raise ConfigurationError(f"this minter holds no key {kid!r}")
        self._keys = tuple(k for k in self._keys if k.kid != kid)

    def jwks(self) -> dict[str, list[dict[str, Any]]]:
        """The public JWK Set of every asymmetric key held; HMAC secrets never appear."""
        return {"keys": [jwk for k in self._keys if (jwk := k.public_jwk()) is not None]}

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
        signing = self.current
        merged = {**self.headers, **_check_headers(headers)}
        if signing.kid is not None:
            merged["kid"] = signing.kid
        return jwt.encode(payload, signing.key, algorithm=signing.algorithm, headers=merged)

    def _signing_key(self, key: Any, algorithm: str, kid: str | None) -> SigningKey:
        (name,) = validate_algorithms([algorithm])
        prepared = _load_signing_key(key, name, self.allow_weak_hmac_keys)
        if kid is None and not isinstance(prepared, bytes):
            kid = thumbprint(prepared.public_key())
        return SigningKey(prepared, name, kid)


def thumbprint(public_key: Any) -> str:
    """The RFC 7638 JWK thumbprint (SHA-256) of a public key: a stable default ``kid``."""
    members: tuple[str, ...]
    if isinstance(public_key, rsa.RSAPublicKey):
        family, members = "RS256", ("e", "kty", "n")
    elif isinstance(public_key, ec.EllipticCurvePublicKey):
        family, members = "ES256", ("crv", "kty", "x", "y")
    else:
        family, members = "EdDSA", ("crv", "kty", "x")
    jwk = jwt.get_algorithm_by_name(family).to_jwk(public_key, as_dict=True)
    required = {name: jwk[name] for name in members}
    canonical = json.dumps(required, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=").decode()


def _subject(identity: Any) -> str:
    if isinstance(identity, bool) or not isinstance(identity, (str, int)):
        raise ConfigurationError(
            f"identity must be a str or an int (it becomes the 'sub' claim), "
            f"not {type(identity).__name__}"
        )
    return str(identity)


def _numeric_date(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return int(value.timestamp())
    return value


def _check_headers(headers: Mapping[str, Any] | None) -> dict[str, Any]:
    if headers is not None and not isinstance(headers, Mapping):
        raise ConfigurationError(f"headers must be a mapping, not {type(headers).__name__}")
    result = dict(headers or {})
    if "alg" in result:
        raise ConfigurationError(
            "the 'alg' header is set by the minter's algorithm and cannot be overridden"
        )
    return result


def _load_signing_key(key: Any, algorithm: str, allow_weak: bool) -> Any:
    """Load and check the signing key once, as PyJWT's algorithm will use it."""
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
        raise ConfigurationError(f"{algorithm} needs a key on the {EC_CURVES[algorithm]} curve")
    if isinstance(key, rsa.RSAPrivateKey):
        check_rsa_key(key.public_key())
    try:
        jwt.get_algorithm_by_name(algorithm).prepare_key(key)
    except jwt.InvalidKeyError as exc:
        raise ConfigurationError(f"the key does not fit {algorithm}: {exc}") from exc
    return key
