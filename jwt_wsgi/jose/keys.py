"""Verification keys: accepted in every common form, checked and prepared once.

A :class:`KeyRing` is built at construction. It turns what the caller passed
(:data:`KeyInput`: an HMAC secret, a PEM or DER key or certificate, an SSH
public key line, a ``cryptography`` key, a ``jwt.PyJWK``, a ``jwt.PyJWKSet``,
a JWK or JWK Set ``dict``, or a list of these) into :class:`VerifyingKey`
entries, each bound to the algorithms it may verify and holding the key already
prepared for PyJWT's algorithm objects. At request time it only answers "which
keys may verify this ``alg`` and ``kid``?" with a dictionary look-up.

Security decisions made here (RFC 8725 section 3):

* ``algorithms`` is an explicit allow-list; ``none`` is never allowed.
* An asymmetric key never sits beside an ``HS*`` algorithm (algorithm
  confusion: a public key used as an HMAC secret), and a key set never mixes
  symmetric and asymmetric keys.
* HMAC secrets shorter than the hash output are refused (RFC 7518 section 3.2)
  unless ``allow_weak_hmac_keys=True``; RSA keys under 2048 bits or with the
  ROCA fingerprint are refused (RFC 7518 section 3.3).
* A key is only used for the algorithms of its type and curve, and only for
  its JWK ``alg`` when it names one.
* Header-embedded keys (``jwk``, ``jku``, ``x5u``, ``x5c``) are never
  consulted: keys come from the configuration only, and ``kid`` is an opaque
  look-up string.

One policy for every JWK, configured or fetched: a member marked for another
``use`` (``enc``), without ``verify`` in ``key_ops``, or whose ``alg`` is not a
signature algorithm we verify (``RSA-OAEP``) is *skipped* and logged with its
``kid`` and the reason; identity providers publish such keys beside their
signing keys. A member that is broken or too weak stops a configured set with a
:class:`~jwt_wsgi.errors.ConfigurationError` naming its ``kid`` and why; in a
fetched set (``skip_unusable=True``) it is skipped and logged instead, so one
bad key cannot take the good ones down.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias, Union

import jwt
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import (
    load_der_private_key,
    load_der_public_key,
    load_pem_private_key,
    load_pem_public_key,
    load_ssh_public_key,
)
from jwt.algorithms import Algorithm, get_default_algorithms

from ..errors import ConfigurationError

if TYPE_CHECKING:
    PublicKey: TypeAlias = (
        rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey
        | ed448.Ed448PublicKey
    )  # fmt: skip
    PrivateKey: TypeAlias = (
        rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
        | ed448.Ed448PrivateKey
    )  # fmt: skip

logger = logging.getLogger("jwt_wsgi")

#: What ``key=`` takes: a secret (``str``/``bytes``), PEM/DER/SSH text, a
#: ``cryptography`` key, a ``jwt.PyJWK``/``jwt.PyJWKSet``, a JWK or JWK Set
#: mapping, a list of these, or a :class:`KeySource` (a ring, a remote set).
KeyInput: TypeAlias = Union[
    str,
    bytes,
    "PublicKey",
    "PrivateKey",
    jwt.PyJWK,
    jwt.PyJWKSet,
    Mapping[str, Any],
    Sequence["KeyInput"],
    "KeySource",
]

#: The registered JWS algorithms (RFC 7518, RFC 8037, RFC 8812, RFC 9864)
#: jwt_wsgi verifies, with the key type each needs. ``Ed25519`` and ``Ed448``
#: are RFC 9864's fully-specified names for EdDSA on one curve, which it
#: prefers to the polymorphic ``EdDSA`` (still accepted, for either curve).
#: PyJWT's unregistered ``ES521`` alias is deliberately absent.
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
    "Ed25519": "OKP",
    "Ed448": "OKP",
}

#: RFC 7518 section 3.4 and RFC 8812: the one curve each ECDSA algorithm uses.
#: Checked here rather than left to PyJWT, whose older releases accept any curve.
EC_CURVES: Mapping[str, str] = {
    "ES256": "secp256r1",
    "ES384": "secp384r1",
    "ES512": "secp521r1",
    "ES256K": "secp256k1",
}

#: RFC 9864: the one curve each fully-specified EdDSA algorithm uses (``EdDSA``: either).
OKP_CURVES: Mapping[str, tuple[type, ...]] = {
    "Ed25519": (ed25519.Ed25519PublicKey, ed25519.Ed25519PrivateKey),
    "Ed448": (ed448.Ed448PublicKey, ed448.Ed448PrivateKey),
}

#: RFC 7518 section 3.2: an HMAC key at least as long as the hash output.
HMAC_MIN_BYTES: Mapping[str, int] = {"HS256": 32, "HS384": 48, "HS512": 64}

#: RFC 7518 section 3.3 (and RFC 8725): RSA keys of at least 2048 bits.
RSA_MIN_BITS = 2048

# Which of PyJWT's algorithm objects can load a JWK of each type. Chosen from
# kty and crv alone, because PyJWT's own inference (PyJWK without ``alg``)
# knows no Ed448 and differs between versions.
_JWK_LOADERS = {"RSA": "RS256", "OKP": "EdDSA", "oct": "HS256"}
_EC_CURVES = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512", "secp256k1": "ES256K"}
#: JWK members that only a private or secret key has (RFC 7518 section 6).
_PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")


def jwk_algorithm(member: Mapping[str, Any]) -> str | None:
    """The algorithm a JWK without ``alg`` is taken for, from ``kty`` and ``crv``; ``None`` if
    neither is supported. Its PyJWT algorithm object is the one that loads the JWK."""
    kty, crv = member.get("kty"), member.get("crv")
    if kty == "EC":
        return _EC_CURVES.get(crv) if isinstance(crv, str) else None
    return _JWK_LOADERS.get(kty) if isinstance(kty, str) else None


def key_from_file(data: bytes, name: str) -> KeyInput:
    """What a key file holds, in the form ``key=`` takes: the one reading of key files.

    A file starting with ``{`` is a JWK or a JWK Set (a mapping); anything
    else is key material as bytes (PEM, DER, or a raw secret). A text file
    loses the trailing newline an editor adds; a binary one (DER, random
    secret bytes) is kept whole, since its last byte may be ``0x0a``.
    ``name`` (the path) starts the error message.
    """
    stripped = data.lstrip()
    if stripped.startswith(b"{"):
        try:
            value: dict[str, Any] = json.loads(data)  # an object: the text starts with {
        except ValueError:
            raise ConfigurationError(f"{name} is not valid JSON") from None
        return value
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return data
    return data.rstrip(b"\r\n")


def public_members(member: Mapping[str, Any]) -> dict[str, Any]:
    """A JWK without what only its private half holds (RFC 7518 section 6).

    An HMAC key (``oct``) has no public half: its secret is what verifies, so
    it is returned whole.
    """
    if member.get("kty") == "oct":
        return dict(member)
    return {name: value for name, value in member.items() if name not in _PRIVATE_MEMBERS}


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
    """Where a provider gets its keys: a fixed ring, or a remote set that changes.

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


def is_key_source(value: object) -> bool:
    """Whether ``value`` is a key source rather than key material."""
    return hasattr(value, "current") and hasattr(value, "refresh_for")


def curve_fits(key: Any, algorithm: str) -> bool:
    """Whether an EC or OKP key is on the curve ``algorithm`` requires (others: always)."""
    okp = OKP_CURVES.get(algorithm)
    if okp is not None:
        return isinstance(key, okp)
    curve = EC_CURVES.get(algorithm)
    if curve is None:
        return True
    return isinstance(key, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey) and (
        key.curve.name == curve
    )


def algorithm_object(name: str) -> Algorithm:
    """PyJWT's algorithm object that signs and verifies ``name`` (one of
    :data:`ALGORITHM_KEY_TYPES`): RFC 9864's ``Ed25519`` and ``Ed448`` are
    PyJWT's EdDSA, after :func:`curve_fits` has checked the curve."""
    return get_default_algorithms()["EdDSA" if name in OKP_CURVES else name]


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
    if isinstance(algorithms, str | bytes) or not isinstance(algorithms, Sequence):
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


@dataclass(frozen=True)
class _Entry:
    """One key from the configuration, before it is bound to algorithms."""

    label: str  # how messages name it: "key 'kid'" or "key #2"
    kid: str | None
    raw: Any  # a public key object, or HMAC secret bytes
    jwk_alg: str | None


class KeyRing:
    """The keys a provider may use, indexed by ``kid``.

    :param key: the key or keys (:data:`KeyInput`, without key sources).
    :param algorithms: the allow-list; each key serves the subset fitting its type.
    :param allow_weak_hmac_keys: accept HMAC secrets shorter than the hash.
        Only for legacy tokens you cannot re-issue.
    :param skip_unusable: skip (and log) JWK members that are broken or too
        weak instead of refusing the set: for sets fetched from an issuer.
    """

    def __init__(
        self,
        key: KeyInput,
        algorithms: Sequence[str],
        *,
        allow_weak_hmac_keys: bool = False,
        skip_unusable: bool = False,
    ) -> None:
        self.algorithms = validate_algorithms(algorithms)
        self._impl: dict[str, Algorithm] = {
            name: algorithm_object(name) for name in self.algorithms
        }
        self.allow_weak_hmac_keys = allow_weak_hmac_keys
        self.skip_unusable = skip_unusable
        skipped: list[str] = []
        entries, self.requires_kid = _expand(key, skip_unusable, skipped)
        symmetric = {_key_type(entry.raw) == "oct" for entry in entries}
        if len(symmetric) > 1:
            raise ConfigurationError(
                "a key set must not mix HMAC secrets with asymmetric keys (RFC 8725 section 2.1)"
            )
        if False in symmetric and any(a.startswith("HS") for a in self.algorithms):
            raise ConfigurationError(
                "an asymmetric key cannot be used with an HS* algorithm: anyone holding "
                "the public key could forge tokens (algorithm confusion, RFC 8725 section 2.1)"
            )
        keys = [k for k in (self._prepare(entry, skipped) for entry in entries) if k is not None]
        if not keys:
            why = f" (skipped: {'; '.join(skipped)})" if skipped else ""
            raise ConfigurationError(
                f"no configured key can verify any of the algorithms {list(self.algorithms)}{why}"
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

    def _prepare(self, entry: _Entry, skipped: list[str]) -> VerifyingKey | None:
        """Bind one key to the allowed algorithms it fits; ``None`` if it fits none."""
        key_type = _key_type(entry.raw)
        fitting = [
            name
            for name in self.algorithms
            if ALGORITHM_KEY_TYPES[name] == key_type
            and entry.jwk_alg in (None, name)
            and curve_fits(entry.raw, name)
        ]
        prepared: dict[str, Any] = {}
        try:
            if key_type == "RSA":
                check_rsa_key(entry.raw)
            for name in fitting:
                if key_type == "oct":
                    check_hmac_secret(entry.raw, name, self.allow_weak_hmac_keys)
                prepared.update(self._prepared_for(name, entry.raw))
        except ConfigurationError as exc:
            if not self.skip_unusable:
                raise ConfigurationError(f"{entry.label}: {exc}") from None
            _skip(skipped, entry.label, str(exc), logging.WARNING)
            return None
        if not prepared:
            why = f"its alg {entry.jwk_alg!r}" if entry.jwk_alg else f"as a {key_type} key it"
            _skip(skipped, entry.label, f"{why} fits none of {list(self.algorithms)}")
            return None
        return VerifyingKey(kid=entry.kid, key_type=key_type, prepared=prepared)

    def _prepared_for(self, name: str, raw: Any) -> dict[str, Any]:
        """``{name: key}`` as PyJWT's algorithm wants it, or ``{}`` if it does not fit."""
        try:
            return {name: self._impl[name].prepare_key(raw)}
        except (jwt.InvalidKeyError, ValueError, TypeError):
            return {}  # e.g. a P-384 key offered for ES256


def _skip(skipped: list[str], label: str, reason: str, level: int = logging.INFO) -> None:
    """Record and log a key left out of a ring: keys meant for others at INFO, broken at WARNING."""
    skipped.append(f"{label}: {reason}")
    logger.log(level, "skipping %s: %s", label, reason)


def _expand(key: KeyInput, skip_unusable: bool, skipped: list[str]) -> tuple[list[_Entry], bool]:
    """Flatten ``key`` into entries; the boolean says whether selection is by ``kid``."""
    if isinstance(key, jwt.PyJWKSet):
        return [e for i, k in enumerate(key.keys) for e in _from_pyjwk(k, f"#{i}", skipped)], True
    if isinstance(key, Mapping) and "keys" in key:
        return _from_jwk_set(key, skip_unusable, skipped), True
    if isinstance(key, list | tuple):
        if not key:
            raise ConfigurationError("an empty list of keys can verify nothing")
        entries: list[_Entry] = []
        for index, item in enumerate(key):
            if isinstance(item, Mapping) and "keys" not in item:
                entries.extend(_from_jwk(item, f"#{index}", False, skipped))
            else:
                entries.extend(_expand(item, skip_unusable, skipped)[0])
        return entries, False
    if isinstance(key, jwt.PyJWK):
        return _from_pyjwk(key, "#0", skipped), False
    if isinstance(key, Mapping):
        return _from_jwk(key, "#0", False, skipped), False
    if is_key_source(key):
        raise ConfigurationError("a key source cannot be nested inside a list of keys")
    return [_Entry("the key", None, load_verifying_key(key), None)], False


def _from_jwk_set(data: Mapping[str, Any], skip_unusable: bool, skipped: list[str]) -> list[_Entry]:
    members = data.get("keys")
    if not isinstance(members, list) or not members:
        raise ConfigurationError("a JWK Set needs a non-empty 'keys' list")
    entries: list[_Entry] = []
    for index, member in enumerate(members):
        if not isinstance(member, Mapping):
            if not skip_unusable:
                raise ConfigurationError(f"member #{index} of the JWK Set is not a JSON object")
            _skip(skipped, f"member #{index}", "not a JSON object", logging.WARNING)
            continue
        entries.extend(_from_jwk(member, f"#{index}", skip_unusable, skipped))
    return entries


def _label(kid: Any, position: str) -> str:
    return f"key {kid!r}" if isinstance(kid, str) else f"key {position}"


def _from_jwk(
    member: Mapping[str, Any], position: str, skip_unusable: bool, skipped: list[str]
) -> list[_Entry]:
    """The entry for one JWK, or none when it is skipped (and logged)."""
    kid = member.get("kid")
    label = _label(kid, position)
    other_use = _not_for_verifying(member)
    if other_use is not None:
        _skip(skipped, label, other_use)
        return []
    try:
        if kid is not None and not isinstance(kid, str):
            raise ConfigurationError("its kid is not a string")
        raw = _public(_load_jwk(member))
    except ConfigurationError as exc:
        if not skip_unusable:
            raise ConfigurationError(f"{label} is unusable: {exc}") from None
        _skip(skipped, label, str(exc), logging.WARNING)
        return []
    alg = member.get("alg")
    return [_Entry(label, kid, raw, alg)]


def prepare_public_jwk(member: Mapping[str, Any], algorithm: str) -> Any:
    """One public JWK, checked as a ring checks its keys, prepared for ``algorithm``.

    For keys that come with a request (a DPoP proof's ``jwk``): a private or
    symmetric member, a key of another type or curve, a weak RSA key or an
    ``alg`` other than ``algorithm`` raises :class:`ConfigurationError`.
    Nothing is logged: the input is the client's.
    """
    if any(name in member for name in _PRIVATE_MEMBERS):
        raise ConfigurationError("it holds private or secret key material")
    other_use = _not_for_verifying(member)
    if other_use is not None:
        raise ConfigurationError(other_use)
    if member.get("alg", algorithm) != algorithm:
        raise ConfigurationError("its alg is not the one it signs with")
    raw = _load_jwk(member)
    if ALGORITHM_KEY_TYPES[algorithm] != _key_type(raw):
        raise ConfigurationError(f"it is not a key for {algorithm}")
    if not curve_fits(raw, algorithm):
        raise ConfigurationError(f"its curve is not the one {algorithm} uses")
    if isinstance(raw, rsa.RSAPublicKey):
        check_rsa_key(raw)
    try:
        return algorithm_object(algorithm).prepare_key(raw)
    except (jwt.InvalidKeyError, ValueError, TypeError):
        raise ConfigurationError(f"it is not a key for {algorithm}") from None


def _not_for_verifying(member: Mapping[str, Any]) -> str | None:
    """Why a JWK is meant for something other than verifying signatures, or ``None``."""
    use = member.get("use")
    if use is not None and use != "sig":
        return f"it is for use {use!r}, not 'sig'"
    ops = member.get("key_ops")
    if ops is not None and (not isinstance(ops, list) or "verify" not in ops):
        return "its key_ops do not include 'verify'"
    alg = member.get("alg")
    if alg is not None and (not isinstance(alg, str) or alg not in ALGORITHM_KEY_TYPES):
        return f"its alg {alg!r} is not a signature algorithm jwt_wsgi verifies"
    return None


def _load_jwk(member: Mapping[str, Any]) -> Any:
    """The ``cryptography`` key (or secret bytes) of one JWK, through PyJWT's loaders."""
    loader = jwk_algorithm(member)
    if loader is None:
        kty, crv = member.get("kty"), member.get("crv")
        what = f"curve {crv!r}" if kty == "EC" else f"key type {kty!r}"
        raise ConfigurationError(f"its {what} is not supported")
    try:
        return get_default_algorithms()[loader].from_jwk(dict(member))
    except Exception as exc:
        # PyJWT versions differ in what they raise for a malformed member
        # (InvalidKeyError, ValueError, KeyError...); all mean "unusable".
        raise ConfigurationError(f"it cannot be loaded ({type(exc).__name__})") from None


def _from_pyjwk(jwk_obj: jwt.PyJWK, position: str, skipped: list[str]) -> list[_Entry]:
    # A PyJWK keeps no public record of ``key_ops`` or of whether its ``alg``
    # was given or inferred; its ``use`` is public. Pass JWK dicts to have
    # ``alg`` and ``key_ops`` honoured as well.
    label = _label(jwk_obj.key_id, position)
    use = jwk_obj.public_key_use
    if use is not None and use != "sig":
        _skip(skipped, label, f"it is for use {use!r}, not 'sig'")
        return []
    return [_Entry(label, jwk_obj.key_id, _public(jwk_obj.key), None)]


def _public(key: Any) -> Any:
    if isinstance(
        key,
        rsa.RSAPrivateKey
        | ec.EllipticCurvePrivateKey
        | ed25519.Ed25519PrivateKey
        | ed448.Ed448PrivateKey,
    ):
        return key.public_key()
    return key


def pem_text(data: bytes) -> bytes:
    """PEM data with literal ``\\n`` sequences restored to newlines.

    A PEM key pasted into an environment variable or a one-line config value
    often arrives with its line breaks written as ``\\n``.
    """
    data = data.strip()
    if b"\\n" in data and b"\n" not in data:
        data = data.replace(b"\\n", b"\n")
    return data


def load_verifying_key(key: Any) -> Any:
    """A public key object or HMAC secret bytes from a string, bytes or key object.

    PEM (a public or private key, a certificate), an OpenSSH public key, DER,
    or else HMAC secret bytes: the one reading of key material for verifying.
    """
    if isinstance(key, str):
        key = key.encode("utf-8")
    if isinstance(key, bytes):
        stripped = key.strip()
        if stripped.startswith(b"-----BEGIN"):
            return _load_pem(pem_text(stripped))
        if stripped.startswith((b"ssh-rsa ", b"ecdsa-sha2-", b"ssh-ed25519 ")):
            return load_ssh_public_key(stripped)
        der = _load_der(key)
        if der is not None:
            return der
        if not key:
            raise ConfigurationError("an empty HMAC secret can verify nothing")
        return key
    if isinstance(
        key,
        rsa.RSAPublicKey
        | ec.EllipticCurvePublicKey
        | ed25519.Ed25519PublicKey
        | ed448.Ed448PublicKey
        | rsa.RSAPrivateKey
        | ec.EllipticCurvePrivateKey
        | ed25519.Ed25519PrivateKey
        | ed448.Ed448PrivateKey,
    ):
        return _public(key)
    raise ConfigurationError(f"unsupported key type {type(key).__name__}")


def _load_der(data: bytes) -> Any:
    """A public key from DER bytes (SPKI, PKCS#8/PKCS#1 private key, certificate), or ``None``.

    DER keys start with an ASN.1 SEQUENCE; bytes that parse as one are a key,
    never an HMAC secret, so a DER public key cannot be mistaken for a secret.
    """
    if not data.startswith(b"\x30"):
        return None
    for load in (
        load_der_public_key,
        lambda d: load_der_private_key(d, password=None).public_key(),
        lambda d: x509.load_der_x509_certificate(d).public_key(),
    ):
        try:
            return load(data)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            continue
    return None


def _load_pem(data: bytes) -> Any:
    first_line = data.split(b"\n", 1)[0]
    try:
        if b"CERTIFICATE" in first_line:
            return x509.load_pem_x509_certificate(data).public_key()
        if b"PRIVATE KEY" in first_line:
            return load_pem_private_key(data, password=None).public_key()
        return load_pem_public_key(data)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise ConfigurationError(f"the PEM data cannot be loaded as a key ({exc})") from None


def _key_type(raw: Any) -> str:
    if isinstance(raw, bytes):
        return "oct"
    if isinstance(raw, rsa.RSAPublicKey):
        return "RSA"
    if isinstance(raw, ec.EllipticCurvePublicKey):
        return "EC"
    if isinstance(raw, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        return "OKP"
    raise ConfigurationError(f"unsupported key type {type(raw).__name__}")
