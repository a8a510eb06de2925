"""Token verification: a strict parse, PyJWT's signature check, then the claims.

:class:`Verifier` is configured once and then called per token. It splits the
work in two so that the verified-token cache can skip the expensive part:

1. :meth:`Verifier.verify` parses the compact JWS strictly, checks the
   signature with PyJWT's algorithm objects and the keys its key source
   (:class:`~jwt_wsgi.keys.KeyRing`, :class:`~jwt_wsgi.jwks.RemoteKeySet`)
   has prepared, and checks the claims that never change (``iss``, ``aud``,
   required claims, types). Its :class:`Verified` result can be cached.
2. :meth:`Verifier.check_time` checks ``exp``, ``nbf`` and ``iat`` against
   the current time. It runs on every request, cached or not.

The parse is stricter than PyJWT on purpose (RFC 7515, RFC 7519, RFC 8725):
base64url without padding and with canonical trailing bits, UTF-8 JSON only (no
BOM, no UTF-16), no duplicate member names, no ``NaN``; unknown ``crit``
extensions and ``b64: false`` are refused; ``typ`` can be enforced; NumericDate
claims must be JSON numbers; a JWE (five segments) is refused clearly. The
signature itself is never checked by code of ours: PyJWT's ``Algorithm.verify``
does it.
"""

from __future__ import annotations

import binascii
import json
import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import InvalidToken
from .keys import KeyRing, KeySource

_NUMERIC_DATES = ("exp", "nbf", "iat")


@dataclass(slots=True)
class Verified:
    """A token whose signature and static claims checked out.

    :param header: the JOSE header.
    :param claims: the claim set. Read-only: cached requests share it, and
        handlers get :meth:`fresh_claims` instead.
    :param kid: the key id of the key that verified it.
    :param verifier: the verifier (provider) that accepted it.
    :param ring: the key ring that verified it; a cached entry is good only
        while its verifier's keys are still this ring.
    :param valid_from: the first instant it is valid (``nbf``/``iat`` less
        the leeway), ``-inf`` when unbounded.
    :param valid_until: the instant it stops being valid (``exp`` plus the
        leeway), ``inf`` when it never expires.
    """

    header: dict[str, Any]
    claims: dict[str, Any]
    kid: str | None
    verifier: Verifier
    ring: KeyRing
    valid_from: float
    valid_until: float
    #: Names of claims holding objects or arrays: only those need deep copies.
    nested: tuple[str, ...] = ()
    #: Whether any header member is an object or array.
    header_nested: bool = False

    @property
    def expires(self) -> float | None:
        """The ``exp`` claim, or ``None``."""
        exp = self.claims.get("exp")
        return exp

    @property
    def provider(self) -> str | None:
        """The name of the provider that accepted the token."""
        return self.verifier.provider

    def current(self) -> bool:
        """Whether the keys that verified the token are still the keys in force."""
        return self.verifier.keys.current() is self.ring

    def fresh_claims(self) -> dict[str, Any]:
        """A deep copy of the claims for one request, so mutations stay there."""
        claims = self.claims.copy()
        for name in self.nested:
            claims[name] = copy_json(claims[name])
        return claims

    def fresh_header(self) -> dict[str, Any]:
        """A copy of the header for one request (deep only when it nests)."""
        if self.header_nested:
            return copy_json(self.header)  # type: ignore[no-any-return]
        return self.header.copy()


def copy_json(value: Any) -> Any:
    """Copy a JSON value deeply: in JSON only dicts and lists are containers.

    Several times faster than ``copy.deepcopy``, which matters because every
    request, cached or not, gets its own copy.
    """
    if type(value) is dict:
        copy = value.copy()
        for name, item in value.items():
            if type(item) is dict or type(item) is list:
                copy[name] = copy_json(item)
        return copy
    if type(value) is list:
        return [copy_json(item) for item in value]
    return value


def b64decode(segment: str) -> bytes:
    """Decode one base64url segment, refusing padding and non-canonical forms.

    PyJWT accepts ``=`` padding, so one token has several spellings. Refusing
    padding and stray trailing bits keeps "one token, one string", which the
    verified-token cache and any denylist keyed on the string rely on.
    """
    tail = len(segment) % 4
    if tail == 1 or "=" in segment or "+" in segment or "/" in segment:
        raise InvalidToken("the token is not valid base64url")
    standard = segment.replace("-", "+").replace("_", "/") + _PADDING[tail]
    try:
        data = binascii.a2b_base64(standard, strict_mode=True)
    except (binascii.Error, ValueError):
        raise InvalidToken("the token is not valid base64url") from None
    if tail and _ALPHABET_INDEX[segment[-1]] & _SPARE_BITS[tail]:
        raise InvalidToken("the token is not valid base64url")
    return data


_ALPHABET_INDEX = {
    c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
}
_PADDING = ("", "", "==", "=")
# The low bits of the last character that carry no data, which must be zero.
_SPARE_BITS = (0, 0, 0b1111, 0b11)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate member name")
    return result


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# A decoder is configured once; decoding keeps no state in it.
_DECODER = json.JSONDecoder(object_pairs_hook=_no_duplicates, parse_constant=_no_constants)


def parse_json_object(data: bytes, what: str) -> dict[str, Any]:
    """Parse UTF-8 JSON into a dict, refusing duplicates, BOMs and non-objects."""
    try:
        value = _DECODER.decode(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise InvalidToken(f"the token {what} is not a UTF-8 JSON object") from None
    if not isinstance(value, dict):
        raise InvalidToken(f"the token {what} is not a JSON object")
    return value


def peek_claim(token: str, name: str, max_bytes: int) -> Any:
    """Read one claim from a token *before* verifying it, to choose a provider.

    Parsed as strictly as a verified token; the value is only used to pick
    the keys the token is then verified with, never trusted on its own.
    """
    if len(token) > max_bytes:
        raise InvalidToken("the token is too large")
    segments = token.split(".")
    if len(segments) != 3:
        raise InvalidToken("the token is not a compact JWS")
    return parse_json_object(b64decode(segments[1]), "claim set").get(name)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class Verifier:
    """Verifies tokens against one configuration, built once.

    :param keys: where the keys come from: a :class:`~jwt_wsgi.keys.KeyRing`,
        or a remote key set that refreshes itself (:mod:`jwt_wsgi.jwks`).
    :param audience: accepted ``aud`` values; when set, the claim is required
        and must contain one of them. When unset, a token with ``aud`` is
        refused (RFC 7519 section 4.1.3).
    :param issuer: accepted ``iss`` values; when set, the claim is required.
    :param leeway: seconds of clock skew allowed for ``exp``, ``nbf``, ``iat``.
    :param require: claims that must be present.
    :param typ: when set, the ``typ`` header must equal one of these
        (case-insensitive, ``application/`` prefix optional; RFC 8725 3.11).
    :param max_token_bytes: longer tokens are refused before any parsing.
    :param provider: a name for this configuration, reported in
        :attr:`Verified.provider` (several providers, see :mod:`jwt_wsgi.providers`).
    """

    def __init__(
        self,
        keys: KeySource,
        *,
        audience: str | Collection[str] | None = None,
        issuer: str | Collection[str] | None = None,
        leeway: float = 0,
        require: Sequence[str] = ("exp",),
        typ: str | Collection[str] | None = None,
        max_token_bytes: int = 8192,
        provider: str | None = None,
    ) -> None:
        self.keys = keys
        self.provider = provider
        self.audience = _string_set(audience, "audience")
        self.issuer = _string_set(issuer, "issuer")
        self.leeway = float(leeway)
        if self.leeway < 0:
            raise ValueError("leeway must not be negative")
        self.require = tuple(require)
        if self.audience and "aud" not in self.require:
            self.require += ("aud",)
        if self.issuer and "iss" not in self.require:
            self.require += ("iss",)
        types = _string_set(typ, "typ")
        self.typ = (
            frozenset(t.lower().removeprefix("application/") for t in types) if types else None
        )
        self.max_token_bytes = max_token_bytes

    def set_keys(self, keys: KeySource) -> None:
        """Verify with other keys from now on; tokens verified before are not current."""
        self.keys = keys

    def verify_jws(self, token: str) -> tuple[dict[str, Any], bytes, str | None, KeyRing]:
        """Check structure, header and signature.

        Returns the header, the payload bytes, the ``kid`` of the key that
        verified the signature and the ring it came from.
        """
        if len(token) > self.max_token_bytes:
            raise InvalidToken("the token is too large")
        dots = token.count(".")
        if dots == 4:
            raise InvalidToken("encrypted tokens (JWE) are not accepted")
        if dots != 2:
            raise InvalidToken("the token is not a compact JWS")
        header_b64, payload_b64, signature_b64 = token.split(".")
        # An empty payload is a valid JWS (RFC 7515); it is never a claim set,
        # which the JWT layer refuses.
        if not header_b64 or not signature_b64:
            raise InvalidToken("the token has an empty segment")
        header = parse_json_object(b64decode(header_b64), "header")
        ring = self.keys.current()
        alg = header.get("alg")
        algorithm = ring.algorithm(alg) if isinstance(alg, str) else None
        if algorithm is None:
            raise InvalidToken("the token's algorithm is not allowed")
        if "crit" in header:
            # We implement no JWS extension, so every critical one is unknown
            # to us (RFC 7515 section 4.1.11).
            raise InvalidToken("the token uses a critical extension that is not supported")
        if "b64" in header:
            raise InvalidToken("unencoded payloads (b64) are not supported")
        if self.typ is not None:
            typ = header.get("typ")
            if not isinstance(typ, str) or typ.lower().removeprefix("application/") not in self.typ:
                raise InvalidToken("the token type is not accepted")
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise InvalidToken("the token's key id is not a string")
        signature = b64decode(signature_b64)
        payload = b64decode(payload_b64)
        signing_input = token[: len(header_b64) + 1 + len(payload_b64)].encode("ascii")
        candidates = ring.candidates(kid)
        if not candidates and kid is not None:
            # An unknown kid may mean the issuer rotated: the key source may
            # refetch (a remote set does, at most once per cooldown).
            ring = self.keys.refresh_for(kid)
            candidates = ring.candidates(kid)
        if not candidates:
            raise InvalidToken("no key matches the token's key id")
        for candidate in candidates:
            key = candidate.prepared.get(alg)  # type: ignore[arg-type]
            if key is not None and _safe_verify(algorithm, signing_input, key, signature):
                return header, payload, candidate.kid, ring
        raise InvalidToken("the token signature is invalid")

    def verify(self, token: str) -> Verified:
        """Everything but the clock: signature, then the claims that never change."""
        header, payload, kid, ring = self.verify_jws(token)
        claims = parse_json_object(payload, "claim set")
        for name in self.require:
            if name not in claims:
                raise InvalidToken(f"the token has no '{name}' claim")
        for name in _NUMERIC_DATES:
            if name in claims and not _number(claims[name]):
                raise InvalidToken(f"the token's '{name}' claim is not a number")
        for name in ("sub", "jti"):
            if name in claims and not isinstance(claims[name], str):
                raise InvalidToken(f"the token's '{name}' claim is not a string")
        self._check_issuer(claims)
        self._check_audience(claims)
        exp = claims.get("exp")
        starts = [claims[name] for name in ("nbf", "iat") if name in claims]
        return Verified(
            header=header,
            claims=claims,
            kid=kid,
            verifier=self,
            ring=ring,
            valid_from=max(starts) - self.leeway if starts else -math.inf,
            valid_until=exp + self.leeway if exp is not None else math.inf,
            nested=tuple([k for k, v in claims.items() if type(v) is dict or type(v) is list]),
            header_nested=any(type(v) is dict or type(v) is list for v in header.values()),
        )

    def check_time(self, verified: Verified, now: float) -> None:
        """Refuse a token that has expired or is not yet valid, leeway included.

        Expired means ``exp <= now - leeway``; not yet valid means ``nbf`` (or
        ``iat``) ``> now + leeway``, as PyJWT decides.
        """
        if now >= verified.valid_until:
            raise InvalidToken("the token has expired")
        if now < verified.valid_from:
            nbf = verified.claims.get("nbf")
            if nbf is not None and nbf > now + self.leeway:
                raise InvalidToken("the token is not valid yet")
            raise InvalidToken("the token was issued in the future")

    def _check_issuer(self, claims: dict[str, Any]) -> None:
        if self.issuer and claims.get("iss") not in self.issuer:
            raise InvalidToken("the token's issuer is not accepted")

    def _check_audience(self, claims: dict[str, Any]) -> None:
        if "aud" not in claims:
            return
        aud = claims["aud"]
        values = [aud] if isinstance(aud, str) else aud
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise InvalidToken("the token's audience is malformed")
        if not self.audience or self.audience.isdisjoint(values):
            raise InvalidToken("the token is not meant for this audience")


def _safe_verify(algorithm: Any, message: bytes, key: Any, signature: bytes) -> bool:
    # PyJWT's algorithms return False for a bad signature but some raise on
    # malformed input (a wrong-length EC signature, say). Either way the
    # answer is "not verified", never an exception into the server.
    try:
        return bool(algorithm.verify(message, key, signature))
    except Exception:
        return False


def _string_set(value: str | Collection[str] | None, what: str) -> frozenset[str]:
    if value is None:
        return frozenset()
    if isinstance(value, str):
        return frozenset((value,))
    values = frozenset(value)
    if not all(isinstance(v, str) for v in values):
        raise ValueError(f"{what} must be a string or a collection of strings")
    return values
