"""Token verification: a strict parse, PyJWT's signature check, then the claims.

:class:`Verifier` is configured once and then called per token. It splits the
work in three so that the verified-token cache can skip the expensive middle:

1. :meth:`Verifier.verify` parses the compact JWS strictly, checks the
   signature with PyJWT's algorithm objects and the keys prepared by
   :class:`~jwt_wsgi.keys.KeyRing`, and checks the claims that never change
   (``iss``, ``aud``, required claims, types). Its result can be cached.
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
import re
from base64 import urlsafe_b64decode, urlsafe_b64encode
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import InvalidToken
from .keys import KeyRing

_SEGMENT = re.compile(r"[A-Za-z0-9_-]*\Z")
_NUMERIC_DATES = ("exp", "nbf", "iat")


@dataclass(frozen=True)
class Verified:
    """A token whose signature and static claims checked out.

    :param header: the JOSE header.
    :param claims: the claim set. Treat it as read-only: it may be shared by
        cached requests; the middleware hands handlers a copy.
    :param expires: the ``exp`` claim, or ``None``.
    :param kid: the key id of the key that verified it.
    """

    header: dict[str, Any]
    claims: dict[str, Any]
    expires: float | None
    kid: str | None


def b64decode(segment: str) -> bytes:
    """Decode one base64url segment, refusing padding and non-canonical forms.

    PyJWT accepts ``=`` padding and ignores stray trailing bits, so one token
    has several spellings. Refusing them keeps "one token, one string", which
    the verified-token cache and any denylist keyed on the string rely on.
    """
    if not _SEGMENT.match(segment) or len(segment) % 4 == 1:
        raise InvalidToken("the token is not valid base64url")
    try:
        data = urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):  # pragma: no cover - excluded by the regex
        raise InvalidToken("the token is not valid base64url") from None
    if urlsafe_b64encode(data).rstrip(b"=") != segment.encode("ascii"):
        raise InvalidToken("the token is not valid base64url")
    return data


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate member name")
    return result


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_json_object(data: bytes, what: str) -> dict[str, Any]:
    """Parse UTF-8 JSON into a dict, refusing duplicates, BOMs and non-objects."""
    try:
        text = data.decode("utf-8")
        value = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise InvalidToken(f"the token {what} is not a UTF-8 JSON object") from None
    if not isinstance(value, dict):
        raise InvalidToken(f"the token {what} is not a JSON object")
    return value


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class Verifier:
    """Verifies tokens against one configuration, built once.

    :param keys: the prepared keys and algorithm allow-list.
    :param audience: accepted ``aud`` values; when set, the claim is required
        and must contain one of them. When unset, a token with ``aud`` is
        refused (RFC 7519 section 4.1.3).
    :param issuer: accepted ``iss`` values; when set, the claim is required.
    :param leeway: seconds of clock skew allowed for ``exp``, ``nbf``, ``iat``.
    :param require: claims that must be present.
    :param typ: when set, the ``typ`` header must equal one of these
        (case-insensitive, ``application/`` prefix optional; RFC 8725 3.11).
    :param max_token_bytes: longer tokens are refused before any parsing.
    """

    def __init__(
        self,
        keys: KeyRing,
        *,
        audience: str | Collection[str] | None = None,
        issuer: str | Collection[str] | None = None,
        leeway: float = 0,
        require: Sequence[str] = ("exp",),
        typ: str | Collection[str] | None = None,
        max_token_bytes: int = 8192,
    ) -> None:
        self.keys = keys
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

    def verify_jws(self, token: str) -> tuple[dict[str, Any], bytes, str | None]:
        """Check structure, header and signature; return header, payload bytes, kid."""
        if len(token) > self.max_token_bytes:
            raise InvalidToken("the token is too large")
        dots = token.count(".")
        if dots == 4:
            raise InvalidToken("encrypted tokens (JWE) are not accepted")
        if dots != 2:
            raise InvalidToken("the token is not a compact JWS")
        header_b64, payload_b64, signature_b64 = token.split(".")
        if not header_b64 or not payload_b64 or not signature_b64:
            raise InvalidToken("the token has an empty segment")
        header = parse_json_object(b64decode(header_b64), "header")
        alg = header.get("alg")
        algorithm = self.keys.algorithm(alg) if isinstance(alg, str) else None
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
        candidates = self.keys.candidates(kid)
        if not candidates:
            raise InvalidToken("no key matches the token's key id")
        for candidate in candidates:
            key = candidate.prepared.get(alg)  # type: ignore[arg-type]
            if key is not None and _safe_verify(algorithm, signing_input, key, signature):
                return header, payload, candidate.kid
        raise InvalidToken("the token signature is invalid")

    def verify(self, token: str) -> Verified:
        """Everything but the clock: signature, then the claims that never change."""
        header, payload, kid = self.verify_jws(token)
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
        return Verified(header=header, claims=claims, expires=exp, kid=kid)

    def check_time(self, claims: dict[str, Any], now: float) -> None:
        """Refuse a token that has expired or is not yet valid, with leeway."""
        exp = claims.get("exp")
        if exp is not None and exp <= now - self.leeway:
            raise InvalidToken("the token has expired")
        nbf = claims.get("nbf")
        if nbf is not None and nbf > now + self.leeway:
            raise InvalidToken("the token is not valid yet")
        iat = claims.get("iat")
        if iat is not None and iat > now + self.leeway:
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
