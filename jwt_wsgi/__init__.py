"""JWT bearer authentication for any WSGI application.

:class:`JWTMiddleware` verifies the token once per request and applies path
:class:`Rule` objects; handlers read the claims from ``environ["jwt.claims"]``
or :func:`get_claims`. :class:`Authenticator` makes the same decision without
WSGI, :class:`Provider` holds one issuer's verification settings, and
:class:`Minter` creates tokens. Everything raised derives from :class:`Error`.
"""

from __future__ import annotations

import warnings
from typing import Any

from .authenticator import Authenticated, Authenticator, AuthenticatorOptions
from .errors import (
    AuthError,
    ClaimMismatch,
    ConditionFailed,
    ConfigurationError,
    DisallowedAlgorithm,
    Error,
    ExpiredToken,
    ImmatureToken,
    InsufficientScope,
    InvalidAudience,
    InvalidClaim,
    InvalidIssuer,
    InvalidRequest,
    InvalidSignature,
    InvalidToken,
    InvalidTokenType,
    IssuedInFuture,
    KeysUnavailable,
    MalformedCredentials,
    MalformedToken,
    MissingClaim,
    MissingToken,
    ProviderNotAccepted,
    RevocationCheckFailed,
    RevocationUnavailable,
    RevokedToken,
    ScopeMissing,
    ServiceUnavailable,
    TokenTooLarge,
    UnknownKey,
    UnsafePath,
    UnsupportedToken,
    VerificationFailed,
    error_response,
)
from .jwks import RemoteKeySet, jwks_app
from .keys import KeyInput, KeyRing, KeySource
from .middleware import JWTMiddleware, get_claims
from .minter import Minter, SigningKey
from .providers import Provider, ProviderOptions
from .revocation import MemoryRevocationStore, RedisRevocationStore, RevocationStore
from .rules import Rule

__version__ = "0.2.0"

__all__ = [
    # middleware, authentication, minting
    "JWTMiddleware",
    "Rule",
    "get_claims",
    "Authenticator",
    "Authenticated",
    "AuthenticatorOptions",
    "Provider",
    "ProviderOptions",
    "Minter",
    "SigningKey",
    # keys
    "KeyInput",
    "KeyRing",
    "KeySource",
    "RemoteKeySet",
    "jwks_app",
    # revocation
    "RevocationStore",
    "MemoryRevocationStore",
    "RedisRevocationStore",
    # errors: the root, configuration, and refusals by outcome and reason
    "Error",
    "ConfigurationError",
    "RevocationUnavailable",
    "AuthError",
    "InvalidRequest",
    "MalformedCredentials",
    "UnsafePath",
    "MissingToken",
    "InvalidToken",
    "MalformedToken",
    "TokenTooLarge",
    "UnsupportedToken",
    "DisallowedAlgorithm",
    "InvalidTokenType",
    "UnknownKey",
    "InvalidSignature",
    "MissingClaim",
    "InvalidClaim",
    "ExpiredToken",
    "ImmatureToken",
    "IssuedInFuture",
    "InvalidAudience",
    "InvalidIssuer",
    "ProviderNotAccepted",
    "RevokedToken",
    "KeysUnavailable",
    "VerificationFailed",
    "InsufficientScope",
    "ScopeMissing",
    "ClaimMismatch",
    "ConditionFailed",
    "ServiceUnavailable",
    "RevocationCheckFailed",
    "error_response",
    "__version__",
]


def __getattr__(name: str) -> Any:
    """Names from before 0.2, still importable with a :class:`DeprecationWarning`."""
    if name in ("Verifier", "Verified"):
        from ._compat import DEPRECATED, LEGACY

        warnings.warn(
            f"jwt_wsgi.{name} is deprecated: {DEPRECATED[name]}", DeprecationWarning, stacklevel=2
        )
        return LEGACY[name]
    raise AttributeError(f"module 'jwt_wsgi' has no attribute {name!r}")
