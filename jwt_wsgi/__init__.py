"""JWT bearer authentication for any WSGI application.

:class:`JWTMiddleware` verifies the token once per request and applies path
:class:`Rule` objects; handlers read the claims from ``environ["jwt.claims"]``
or :func:`get_claims`. :class:`Authenticator` makes the same decision without
WSGI, :class:`Provider` holds one issuer's verification settings, and
:class:`Minter` creates tokens. Everything raised derives from :class:`Error`.

``__all__`` holds what applications construct and the errors they commonly
catch (the outcome bases and a few leaves); every error class is in
:mod:`jwt_wsgi.errors`. Names exported here before 0.3 still import, with a
:class:`DeprecationWarning` naming their module.
"""

from __future__ import annotations

import warnings
from typing import Any

from ._compat import moved
from ._legacy import DEPRECATED, LEGACY
from .authenticator import Authenticated, Authenticator
from .cookies import Cookies
from .dpop import DPoP, DPoPNonces
from .endpoints import LogoutEndpoint, RefreshEndpoint, jwks_app
from .errors import (
    AuthError,
    ConfigurationError,
    CsrfFailed,
    Error,
    ExpiredToken,
    InsufficientScope,
    InvalidRequest,
    InvalidToken,
    MissingToken,
    RevocationUnavailable,
    RevokedToken,
    ServiceUnavailable,
    StepUpRequired,
)
from .jose.keys import KeyRing, KeySource
from .jwks import RemoteKeySet
from .keystores import FileKeyStore, MemoryKeyStore, RedisKeyStore
from .middleware import JWTMiddleware, get_claims
from .minter import Minter, TokenPair
from .providers import Provider
from .revocation import MemoryRevocationStore, RedisRevocationStore, RevocationStore
from .rules import Policy, Rule
from .sources import TokenSources

__version__ = "0.2.0"

__all__ = [
    # middleware and authentication
    "JWTMiddleware",
    "Rule",
    "Policy",
    "get_claims",
    "Authenticator",
    "Authenticated",
    "Provider",
    # where tokens come from
    "TokenSources",
    "Cookies",
    # sender-constrained tokens
    "DPoP",
    "DPoPNonces",
    # minting and the endpoints of a login
    "Minter",
    "TokenPair",
    "MemoryKeyStore",
    "FileKeyStore",
    "RedisKeyStore",
    "RefreshEndpoint",
    "LogoutEndpoint",
    "jwks_app",
    # keys
    "KeyRing",
    "KeySource",
    "RemoteKeySet",
    # revocation
    "RevocationStore",
    "MemoryRevocationStore",
    "RedisRevocationStore",
    # errors: the root, configuration, the outcomes of a refusal and common leaves
    "Error",
    "ConfigurationError",
    "RevocationUnavailable",
    "AuthError",
    "InvalidRequest",
    "MissingToken",
    "InvalidToken",
    "ExpiredToken",
    "RevokedToken",
    "InsufficientScope",
    "StepUpRequired",
    "CsrfFailed",
    "ServiceUnavailable",
    "__version__",
]

#: Exported here before 0.3, importable from their modules now.
_MOVED = moved(
    "jwt_wsgi",
    {
        "jwt_wsgi.errors": (
            "AmbiguousCredentials",
            "CertificateMismatch",
            "CertificateRequired",
            "ClaimMismatch",
            "ConditionFailed",
            "DisallowedAlgorithm",
            "DPoPAlgorithmNotAllowed",
            "DPoPAthMismatch",
            "DPoPDowngrade",
            "DPoPKeyMismatch",
            "DPoPMethodMismatch",
            "DPoPNonceRequired",
            "DPoPNotAccepted",
            "DPoPProofMissing",
            "DPoPProofReplayed",
            "DPoPProofStale",
            "DPoPRequired",
            "DPoPSignatureInvalid",
            "DPoPTokenNotBound",
            "DPoPUrlMismatch",
            "ImmatureToken",
            "InvalidAudience",
            "InvalidClaim",
            "InvalidDPoPProof",
            "InvalidIssuer",
            "InvalidSignature",
            "InvalidTokenType",
            "IssuedInFuture",
            "KeyStoreUnavailable",
            "KeysUnavailable",
            "MalformedCredentials",
            "MalformedDPoPProof",
            "MalformedToken",
            "MintingFailed",
            "MissingClaim",
            "PrincipalUnavailable",
            "ProviderNotAccepted",
            "RefreshReused",
            "ReplayCheckFailed",
            "RevocationCheckFailed",
            "ScopeMissing",
            "StoreUnavailable",
            "TokenNotBound",
            "TokenTooLarge",
            "UnknownKey",
            "UnknownPrincipal",
            "UnsafePath",
            "UnsupportedToken",
            "VerificationFailed",
            "WrongTokenKind",
            "error_response",
        ),
        "jwt_wsgi.authenticator": ("AuthenticatorOptions",),
        "jwt_wsgi.providers": ("ProviderOptions",),
        "jwt_wsgi.jose.keys": ("KeyInput",),
        "jwt_wsgi.jose.signing": ("SigningKey",),
        "jwt_wsgi.revocation": ("DenylistStore",),
    },
    stacklevel=3,
)


def __getattr__(name: str) -> Any:
    """Names from before 0.3, still importable with a :class:`DeprecationWarning`."""
    if name in LEGACY:
        warnings.warn(
            f"jwt_wsgi.{name} is deprecated: {DEPRECATED[name]}", DeprecationWarning, stacklevel=2
        )
        return LEGACY[name]
    return _MOVED(name)
