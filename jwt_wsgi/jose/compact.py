"""Reading a compact JWS before it is verified: its claims, its id, its kind.

Only to choose how to verify it (which provider, which denylist entries),
never trusted on their own; the parse is the verifier's, as strict.
"""

from __future__ import annotations

import hashlib
from typing import Any

from ..errors import MalformedToken, TokenTooLarge
from .encoding import b64decode, parse_json_object


def peek_claim(token: str, name: str, max_bytes: int) -> Any:
    """Read one claim from a token *before* verifying it (see :func:`peek_claims`)."""
    return peek_claims(token, max_bytes).get(name)


def peek_claims(token: str, max_bytes: int) -> dict[str, Any]:
    """Read a token's claim set *before* verifying it, to choose a provider.

    Parsed as strictly as a verified token; the values are only used to pick
    the keys the token is then verified with, never trusted on their own.
    """
    if len(token) > max_bytes:
        raise TokenTooLarge()
    segments = token.split(".")
    if len(segments) != 3:
        raise MalformedToken("the token is not a compact JWS")
    return parse_json_object(b64decode(segments[1]), "claim set")


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
