"""Verification keys: accepted in every common form, checked and prepared once.

A :class:`KeyRing` is built when the middleware is constructed. It turns what
the caller passed (an HMAC secret, a PEM string, a ``cryptography`` key, a
``jwt.PyJWK``, a ``jwt.PyJWKSet``, a JWK or JWK Set ``dict``, or a list of any
of these) into :class:`VerifyingKey` entries, each bound to the algorithms it
may verify and holding the key already prepared for PyJWT's algorithm objects.
At request time it only answers "which keys may verify this ``alg`` and
``kid``?" with a dictionary look-up.

Security decisions made here (RFC 8725 section 3):

* ``algorithms`` is an explicit allow-list; ``none`` is never allowed.
* An asymmetric key never sits beside an ``HS*`` algorithm (algorithm
  confusion: a public key used as an HMAC secret), and a key set never mixes
  symmetric and asymmetric keys.
* HMAC secrets shorter than the hash output are refused (RFC 7518 section 3.2)
  unless ``allow_weak_hmac_keys=True``; RSA keys under 2048 bits are refused
  (RFC 7518 section 3.3).
* A key is only used for the algorithms of its type and curve, and only for
  its JWK ``alg`` when it names one; JWKs marked for another ``use`` or without
  ``verify`` in ``key_ops`` are never used for signatures.
* Header-embedded keys (``jwk``, ``jku``, ``x5u``, ``x5c``) are never
  consulted: keys come from the configuration only, and ``kid`` is an opaque
  look-up string.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import jwt
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import (
    load_pem_private_key,
    load_pem_public_key,
    load_ssh_public_key,
)
from jwt.algorithms import Algorithm, get_default_algorithms

from .errors import ConfigurationError

logger = logging.getLogger("jwt_wsgi")

#: The registered JWS algorithms (RFC 7518, RFC 8037, RFC 8812) jwt_wsgi
#: verifies, with the key type each needs. PyJWT's unregistered ``ES521``
#: alias is deliberately absent.
ALGORITHM_KEY_TYPES: Mapping[str, str] = {
    "HS256": "oct",
    "HS384": "oct",
    "HS512": "oct",
    "RS256": "RSA",
    "RS384": "RSA",
    "RS512": "RSA",
    "PS256": "RSA",
    "PS384": "RSA",
    "PS512": "RSA",
    "ES256": "EC",
    "ES384": "EC",
    "ES512": "EC",
    "ES256K": "EC",
    "EdDSA": "OKP",
}

#: RFC 7518 section 3.2: an HMAC key at least as long as the hash output.
HMAC_MIN_BYTES: Mapping[str, int] = {"HS256": 32, "HS384": 48, "HS512": 64}

#: RFC 7518 section 3.3 (and RFC 8725): RSA keys of at least 2048 bits.
RSA_MIN_BITS = 2048


@dataclass(frozen=True)
class VerifyingKey:
    """One key, ready for PyJWT's algorithm objects.

    :param kid: the key id, or ``None``.
    :param key_type: ``"oct"``, ``"RSA"``, ``"EC"`` or ``"OKP"``.
    :param prepared: per algorithm, the key as that algorithm's ``verify`` wants it.
    """

    kid: str | None
    key_type: str
    prepared: Mapping[str, Any]


class KeySource(Protocol):
    """Where a verifier gets its keys: a fixed ring, or a remote set that changes.

    :meth:`current` is called on every request, cache hits included, so it
    must be cheap; :meth:`refresh_for` is called when a token names a ``kid``
    the current ring lacks.
    """

    algorithms: tuple[str, ...]

    def current(self) -> KeyRing:
        """The ring in force now."""
        ...

    def refresh_for(self, kid: str) -> KeyRing:
        """The ring to use for an unknown ``kid`` (possibly after a refetch)."""
        ...


def check_hmac_secret(secret: bytes, algorithm: str, allow_weak: bool = False) -> None:
    """Refuse an HMAC secret shorter than the hash (RFC 7518 section 3.2)."""
    if len(secret) >= HMAC_MIN_BYTES[algorithm] or allow_weak:
        return
    raise ConfigurationError(
        f"HMAC secret of {len(secret)} bytes is too short for {algorithm}: at least "
        f"{HMAC_MIN_BYTES[algorithm]} are required (RFC 7518 section 3.2). Use a random "
        "secret such as secrets.token_bytes(64), or pass allow_weak_hmac_keys=True "
        "for legacy tokens you cannot re-issue"
    )


def check_rsa_key(key: rsa.RSAPublicKey) -> None:
    """Refuse RSA keys that are too small or carry the ROCA fingerprint."""
    if key.key_size < RSA_MIN_BITS:
        raise ConfigurationError(
            f"RSA key of {key.key_size} bits refused: at least {RSA_MIN_BITS} "
            "are required (RFC 7518 section 3.3)"
        )
    if has_roca_fingerprint(key.public_numbers().n):
        raise ConfigurationError(
            "RSA key refused: its modulus has the ROCA fingerprint (CVE-2017-15361), "
            "so its private key can be recovered; generate a new key"
        )


def _roca_subgroups() -> tuple[tuple[int, frozenset[int]], ...]:
    # Keys made by the flawed generator have moduli congruent to a power of
    # 65537 modulo a primorial of the small primes, so modulo each small
    # prime p the modulus lies in the subgroup 65537 generates. A random
    # modulus lands outside one of these subgroups with overwhelming odds.
    primes = [p for p in range(3, 168) if all(p % d for d in range(2, int(p**0.5) + 1))]
    return tuple((p, frozenset(pow(65537, k, p) for k in range(p))) for p in primes)


_ROCA_SUBGROUPS = _roca_subgroups()


def has_roca_fingerprint(modulus: int) -> bool:
    """Whether an RSA modulus has the ROCA (CVE-2017-15361) structure."""
    return all(modulus % p in subgroup for p, subgroup in _ROCA_SUBGROUPS)


def validate_algorithms(algorithms: Sequence[str]) -> tuple[str, ...]:
    """Check an allow-list of algorithms and return it as a tuple."""
    if isinstance(algorithms, (str, bytes)) or not isinstance(algorithms, Sequence):
        raise ConfigurationError(
            "algorithms must be a list of algorithm names, e.g. ['RS256']; "
            "never derive it from the token (RFC 8725 section 3.1)"
        )
    if not algorithms:
        raise ConfigurationError("algorithms must name at least one algorithm")
    for name in algorithms:
        if not isinstance(name, str) or name.lower() == "none":
            raise ConfigurationError(
                "the 'none' algorithm can never be allowed (RFC 8725 section 3.1)"
            )
        if name not in ALGORITHM_KEY_TYPES:
            raise ConfigurationError(
                f"unsupported algorithm {name!r}; choose from {sorted(ALGORITHM_KEY_TYPES)}"
            )
    return tuple(dict.fromkeys(algorithms))


class KeyRing:
    """The keys a verifier may use, indexed by ``kid``.

    :param key: the key or keys, in any form the module docstring lists.
    :param algorithms: the allow-list; each key serves the subset fitting its type.
    :param allow_weak_hmac_keys: accept HMAC secrets shorter than the hash.
        Only for legacy tokens you cannot re-issue.
    :param skip_unusable: in a JWK Set, skip members that cannot be parsed
        (an unknown ``kty`` or curve) or that are too weak (small or ROCA RSA
        keys, short secrets) instead of refusing the set; skipped weak keys are
        logged. For sets fetched from an issuer, which may publish keys for
        other purposes: one bad key must not take the good ones down.
    """

    def __init__(
        self,
        key: Any,
        algorithms: Sequence[str],
        *,
        allow_weak_hmac_keys: bool = False,
        skip_unusable: bool = False,
    ) -> None:
        self.algorithms = validate_algorithms(algorithms)
        self._impl: dict[str, Algorithm] = {
            name: impl for name, impl in get_default_algorithms().items() if name in self.algorithms
        }
        self.allow_weak_hmac_keys = allow_weak_hmac_keys
        self.skip_unusable = skip_unusable
        entries, self.requires_kid = _expand(key, skip_unusable)
        symmetric = {_key_type(entry[1]) == "oct" for entry in entries}
        if len(symmetric) > 1:
            raise ConfigurationError(
                "a key set must not mix HMAC secrets with asymmetric keys (RFC 8725 section 2.1)"
            )
        keys = [k for k in (self._prepare(*entry) for entry in entries) if k]
        if not keys:
            raise ConfigurationError(
                f"no configured key can verify any of the algorithms {list(self.algorithms)}"
            )
        if False in symmetric and any(a.startswith("HS") for a in self.algorithms):
            raise ConfigurationError(
                "an asymmetric key cannot be used with an HS* algorithm: anyone holding "
                "the public key could forge tokens (algorithm confusion, RFC 8725 section 2.1)"
            )
        self._by_kid: dict[str, VerifyingKey] = {}
        anonymous: list[VerifyingKey] = []
        for k in keys:
            if k.kid is None:
                anonymous.append(k)
            elif k.kid in self._by_kid:
                raise ConfigurationError(f"two keys share the kid {k.kid!r}")
            else:
                self._by_kid[k.kid] = k
        self._anonymous = tuple(anonymous)
        self.keys: tuple[VerifyingKey, ...] = tuple(keys)

    def current(self) -> KeyRing:
        """A ring is its own, fixed key source."""
        return self

    def refresh_for(self, kid: str) -> KeyRing:
        """A fixed ring has nothing to refresh."""
        return self

    def algorithm(self, name: str) -> Algorithm | None:
        """PyJWT's algorithm object for an allowed ``name``, else ``None``."""
        return self._impl.get(name)

    def candidates(self, kid: str | None) -> tuple[VerifyingKey, ...]:
        """The keys to try for a token with this ``kid`` (none if it is unknown).

        A key set (JWKS) selects strictly by ``kid``: a token without one, or
        with one the set lacks, has no candidates. Keys configured one by one
        serve tokens without a ``kid``, and those configured without a ``kid``
        also serve tokens that carry one, so a minter may label its tokens
        before the verifiers know the label.
        """
        if kid is not None:
            found = self._by_kid.get(kid)
            if found is not None:
                return (found,)
            return () if self.requires_kid else self._anonymous
        return () if self.requires_kid else self.keys

    def _prepare(
        self, kid: str | None, raw: Any, jwk_alg: str | None, usable: bool
    ) -> VerifyingKey | None:
        """Bind one key to the allowed algorithms it fits; ``None`` if it fits none."""
        if not usable:
            return None
        key_type = _key_type(raw)
        prepared: dict[str, Any] = {}
        try:
            if key_type == "RSA":
                check_rsa_key(raw)
            for name in self.algorithms:
                if ALGORITHM_KEY_TYPES[name] == key_type and jwk_alg in (None, name):
                    if key_type == "oct":
                        check_hmac_secret(raw, name, self.allow_weak_hmac_keys)
                    prepared.update(self._prepared_for(name, raw))
        except ConfigurationError as exc:
            if not self.skip_unusable:
                raise
            logger.warning("skipping key %r of a key set: %s", kid, exc)
            return None
        if not prepared:
            return None
        return VerifyingKey(kid=kid, key_type=key_type, prepared=prepared)

    def _prepared_for(self, name: str, raw: Any) -> dict[str, Any]:
        """``{name: key}`` as PyJWT's algorithm wants it, or ``{}`` if it does not fit."""
        try:
            return {name: self._impl[name].prepare_key(raw)}
        except (jwt.InvalidKeyError, ValueError, TypeError):
            return {}  # e.g. a P-384 key offered for ES256


_Entry = tuple[str | None, Any, str | None, bool]


def _expand(key: Any, skip_unusable: bool = False) -> tuple[list[_Entry], bool]:
    """Flatten ``key`` into ``(kid, raw key, jwk alg, usable)`` entries.

    The boolean says whether selection must be by ``kid`` (a key set).
    """
    if isinstance(key, jwt.PyJWKSet):
        return [_from_jwk(k) for k in key.keys], True
    if isinstance(key, Mapping) and "keys" in key:
        return [_from_jwk(k) for k in _parse_jwks(key, skip_unusable)], True
    if isinstance(key, (list, tuple)):
        if not key:
            raise ConfigurationError("an empty list of keys can verify nothing")
        entries: list[_Entry] = []
        for item in key:
            sub, _ = _expand(item, skip_unusable)
            entries.extend(sub)
        return entries, False
    if isinstance(key, jwt.PyJWK):
        return [_from_jwk(key)], False
    if isinstance(key, Mapping):
        return [_from_jwk(_parse_jwk(key))], False
    return [(None, _load(key), None, True)], False


def _parse_jwk(data: Mapping[str, Any]) -> jwt.PyJWK:
    try:
        return jwt.PyJWK.from_dict(dict(data))
    except jwt.PyJWTError as exc:
        raise ConfigurationError(f"unusable JWK: {type(exc).__name__}") from exc


def _parse_jwks(data: Mapping[str, Any], skip_unusable: bool) -> list[jwt.PyJWK]:
    members = data.get("keys")
    if not isinstance(members, list) or not members:
        raise ConfigurationError("a JWK Set needs a non-empty 'keys' list")
    parsed = []
    for member in members:
        try:
            if not isinstance(member, Mapping):
                raise ConfigurationError("every member of a JWK Set must be a JSON object")
            parsed.append(_parse_jwk(member))
        except ConfigurationError:
            if not skip_unusable:
                raise
    return parsed


def _from_jwk(jwk_obj: jwt.PyJWK) -> _Entry:
    # PyJWK keeps the JWK's members; PyJWT itself ignores ``use`` and
    # ``key_ops`` when verifying, so read them here.
    members: Mapping[str, Any] = getattr(jwk_obj, "_jwk_data", {})
    use = members.get("use")
    ops = members.get("key_ops")
    usable = use in (None, "sig") and (ops is None or "verify" in ops)
    raw = jwk_obj.key
    if isinstance(raw, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        raw = raw.public_key()
    elif isinstance(raw, (ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey)):
        raw = raw.public_key()
    alg = members.get("alg")
    return jwk_obj.key_id, raw, alg if isinstance(alg, str) else None, usable


def _load(key: Any) -> Any:
    """A public key object or HMAC secret bytes from a string, bytes or key object."""
    if isinstance(key, str):
        key = key.encode("utf-8")
    if isinstance(key, bytes):
        stripped = key.strip()
        if stripped.startswith(b"-----BEGIN"):
            return _load_pem(stripped)
        if stripped.startswith((b"ssh-rsa ", b"ecdsa-sha2-", b"ssh-ed25519 ")):
            return load_ssh_public_key(stripped)
        if not key:
            raise ConfigurationError("an empty HMAC secret can verify nothing")
        return key
    if isinstance(
        key,
        (
            rsa.RSAPrivateKey,
            ec.EllipticCurvePrivateKey,
            ed25519.Ed25519PrivateKey,
            ed448.Ed448PrivateKey,
        ),
    ):
        return key.public_key()
    if isinstance(
        key,
        (
            rsa.RSAPublicKey,
            ec.EllipticCurvePublicKey,
            ed25519.Ed25519PublicKey,
            ed448.Ed448PublicKey,
        ),
    ):
        return key
    raise ConfigurationError(f"unsupported key type {type(key).__name__}")


def _load_pem(data: bytes) -> Any:
    if b"CERTIFICATE" in data.split(b"\n", 1)[0]:
        return x509.load_pem_x509_certificate(data).public_key()
    if b"PRIVATE KEY" in data.split(b"\n", 1)[0]:
        return load_pem_private_key(data, password=None).public_key()
    try:
        return load_pem_public_key(data)
    except ValueError as exc:
        raise ConfigurationError("the PEM data is not a public key") from exc


def _key_type(raw: Any) -> str:
    if isinstance(raw, bytes):
        return "oct"
    if isinstance(raw, rsa.RSAPublicKey):
        return "RSA"
    if isinstance(raw, ec.EllipticCurvePublicKey):
        return "EC"
    if isinstance(raw, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)):
        return "OKP"
    raise ConfigurationError(f"unsupported key type {type(raw).__name__}")
