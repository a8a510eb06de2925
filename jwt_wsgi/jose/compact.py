"""The compact JWS: split once, the same way for tokens, DPoP proofs and ``inspect``.

:func:`split_jws` is the one place a compact serialization is taken apart,
its length checked first. The rest reads a token *before* it is verified:
its claims, its id, its kind, only to choose how to verify it (which
provider, which denylist entries), never trusted on their own; the parse is
the verifier's, as strict.
"""

from __future__ import annotations

import hashlib
from typing import Any

from ..errors import MalformedToken, TokenTooLarge, UnsupportedToken
from .encoding import b64decode, parse_json_object


def check_length(token: str, max_bytes: int) -> None:
    """Refuse a token longer than ``max_bytes`` before any work is spent on it."""
    if len(token) > max_bytes:
        raise TokenTooLarge()


def split_jws(token: str, max_bytes: int) -> tuple[str, str, str]:
    """A compact JWS's three base64url segments: header, payload, signature.

    Raises :class:`~jwt_wsgi.errors.TokenTooLarge` past ``max_bytes``,
    :class:`~jwt_wsgi.errors.UnsupportedToken` for a JWE (five segments),
    :class:`~jwt_wsgi.errors.MalformedToken` for anything else not three.
    """
    check_length(token, max_bytes)
    segments = token.split(".")
    if len(segments) == 3:
        return segments[0], segments[1], segments[2]
    if len(segments) == 5:
        raise UnsupportedToken("encrypted tokens (JWE) are not accepted")
    raise MalformedToken("the token is not a compact JWS")


def read_unverified(token: str, max_bytes: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """A token's header and claims, parsed as strictly as a verified one, *not* verified."""
    header_b64, payload_b64, _ = split_jws(token, max_bytes)
    header = parse_json_object(b64decode(header_b64), "header")
    return header, parse_json_object(b64decode(payload_b64), "claim set")


def peek_claim(token: str, name: str, max_bytes: int) -> Any:
    """Read one claim from a token *before* verifying it (see :func:`peek_claims`)."""
    return peek_claims(token, max_bytes).get(name)


def peek_claims(token: str, max_bytes: int) -> dict[str, Any]:
    """Read a token's claim set *before* verifying it, to choose a provider.

    Parsed as strictly as a verified token; the values are only used to pick
    the keys the token is then verified with, never trusted on their own.
    """
    return parse_json_object(b64decode(split_jws(token, max_bytes)[1]), "claim set")


def token_id(token: str, claims: dict[str, Any] | None = None) -> str:
    """The id a token is revoked by: its ``jti``, or a digest of the token without one."""
    jti = claims.get("jti") if claims is not None else peek_claim(token, "jti", len(token))
    if isinstance(jti, str):
        return jti
    return "sha256:" + hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def token_kind(header: dict[str, Any], claims: dict[str, Any]) -> str:
    """``"refresh"`` for a refresh token, ``"access"`` for any other.

    A refresh token says so in its ``type`` claim (as flask-jwt-extended's
    do) or its ``typ`` header (``refresh+jwt``, as jwt_wsgi's minter sets).
    """
    typ = header.get("typ")
    if claims.get("type") == "refresh" or (isinstance(typ, str) and typ.lower() == "refresh+jwt"):
        return "refresh"
    return "access"
