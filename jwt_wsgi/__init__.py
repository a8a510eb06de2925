"""JWT bearer authentication for any WSGI application.

:class:`JWTMiddleware` verifies the token once per request and applies path
:class:`Rule` objects; handlers read the claims from ``environ["jwt.claims"]``
or :func:`get_claims`. :class:`Minter` creates tokens.
"""

from __future__ import annotations

from .errors import (
    AuthError,
    ConfigurationError,
    InsufficientScope,
    InvalidRequest,
    InvalidToken,
    MissingToken,
    ServiceUnavailable,
    error_response,
)
from .jwks import KeysUnavailable, RemoteKeySet, jwks_app
from .keys import KeyRing, KeySource
from .middleware import JWTMiddleware, get_claims
from .minter import Minter, SigningKey
from .providers import Provider
from .revocation import (
    MemoryRevocationStore,
    RedisRevocationStore,
    RevocationStore,
    RevocationUnavailable,
)
from .rules import Rule
from .tokens import Verified, Verifier

__version__ = "0.1.0"

__all__ = [
    # middleware and minter
    "JWTMiddleware",
    "Minter",
    "Rule",
    "get_claims",
    "Provider",
    # keys
    "KeyRing",
    "KeySource",
    "RemoteKeySet",
    "SigningKey",
    "jwks_app",
    # revocation
    "RevocationStore",
    "MemoryRevocationStore",
    "RedisRevocationStore",
    # verification building blocks
    "Verifier",
    "Verified",
    # errors
    "AuthError",
    "ConfigurationError",
    "InsufficientScope",
    "InvalidRequest",
    "InvalidToken",
    "KeysUnavailable",
    "MissingToken",
    "RevocationUnavailable",
    "ServiceUnavailable",
    "error_response",
    "__version__",
]
