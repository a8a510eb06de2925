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
from .cookies import Cookies
from .dpop import DPoP, DPoPNonces
from .endpoints import LogoutEndpoint, RefreshEndpoint, jwks_app
from .errors import (
    AmbiguousCredentials,
    AuthError,
    CertificateMismatch,
    CertificateRequired,
    ClaimMismatch,
    ConditionFailed,
    ConfigurationError,
    CsrfFailed,
    DisallowedAlgorithm,
    DPoPAlgorithmNotAllowed,
    DPoPAthMismatch,
    DPoPDowngrade,
    DPoPKeyMismatch,
    DPoPMethodMismatch,
    DPoPNonceRequired,
    DPoPNotAccepted,
    DPoPProofMissing,
    DPoPProofReplayed,
    DPoPProofStale,
    DPoPRequired,
    DPoPSignatureInvalid,
    DPoPTokenNotBound,
    DPoPUrlMismatch,
    Error,
    ExpiredToken,
    ImmatureToken,
    InsufficientScope,
    InvalidAudience,
    InvalidClaim,
    InvalidDPoPProof,
    InvalidIssuer,
    InvalidRequest,
    InvalidSignature,
    InvalidToken,
    InvalidTokenType,
    IssuedInFuture,
    KeyStoreUnavailable,
    KeysUnavailable,
    MalformedCredentials,
    MalformedDPoPProof,
    MalformedToken,
    MintingFailed,
    MissingClaim,
    MissingToken,
    PrincipalUnavailable,
    ProviderNotAccepted,
    RefreshReused,
    ReplayCheckFailed,
    RevocationCheckFailed,
    RevocationUnavailable,
    RevokedToken,
    ScopeMissing,
    ServiceUnavailable,
    StepUpRequired,
    StoreUnavailable,
    TokenNotBound,
    TokenTooLarge,
    UnknownKey,
    UnknownPrincipal,
    UnsafePath,
    UnsupportedToken,
    VerificationFailed,
    WrongTokenKind,
    error_response,
)
from .jose.keys import KeyInput, KeyRing, KeySource
from .jose.signing import SigningKey
from .jwks import RemoteKeySet
from .keystores import FileKeyStore, MemoryKeyStore, RedisKeyStore
from .middleware import JWTMiddleware, get_claims
from .minter import Minter, TokenPair
from .providers import Provider, ProviderOptions
from .revocation import (
    DenylistStore,
    MemoryRevocationStore,
    RedisRevocationStore,
    RevocationStore,
)
from .rules import Policy, Rule
from .sources import TokenSources

__version__ = "0.2.0"

__all__ = [
    # middleware, authentication, minting
    "JWTMiddleware",
    "Rule",
    "Policy",
    "get_claims",
    "Authenticator",
    "Authenticated",
    "AuthenticatorOptions",
    "Provider",
    "ProviderOptions",
    "Minter",
    "TokenPair",
    "RefreshEndpoint",
    "LogoutEndpoint",
    "SigningKey",
    "MemoryKeyStore",
    "FileKeyStore",
    "RedisKeyStore",
    # where tokens come from
    "TokenSources",
    "Cookies",
    # sender-constrained tokens
    "DPoP",
    "DPoPNonces",
    # keys
    "KeyInput",
    "KeyRing",
    "KeySource",
    "RemoteKeySet",
    "jwks_app",
    # revocation
    "RevocationStore",
    "DenylistStore",
    "MemoryRevocationStore",
    "RedisRevocationStore",
    # errors: the root, configuration, and refusals by outcome and reason
    "Error",
    "ConfigurationError",
    "RevocationUnavailable",
    "KeyStoreUnavailable",
    "AuthError",
    "InvalidRequest",
    "MalformedCredentials",
    "UnsafePath",
    "AmbiguousCredentials",
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
    "WrongTokenKind",
    "RevokedToken",
    "RefreshReused",
    "KeysUnavailable",
    "UnknownPrincipal",
    "CertificateRequired",
    "CertificateMismatch",
    "TokenNotBound",
    "DPoPDowngrade",
    "DPoPRequired",
    "DPoPTokenNotBound",
    "DPoPNotAccepted",
    "DPoPKeyMismatch",
    "VerificationFailed",
    "InvalidDPoPProof",
    "DPoPProofMissing",
    "MalformedDPoPProof",
    "DPoPAlgorithmNotAllowed",
    "DPoPSignatureInvalid",
    "DPoPMethodMismatch",
    "DPoPUrlMismatch",
    "DPoPProofStale",
    "DPoPAthMismatch",
    "DPoPProofReplayed",
    "DPoPNonceRequired",
    "InsufficientScope",
    "ScopeMissing",
    "ClaimMismatch",
    "ConditionFailed",
    "StepUpRequired",
    "CsrfFailed",
    "ServiceUnavailable",
    "RevocationCheckFailed",
    "PrincipalUnavailable",
    "ReplayCheckFailed",
    "StoreUnavailable",
    "MintingFailed",
    "error_response",
    "__version__",
]


def __getattr__(name: str) -> Any:
    """Names from before 0.2, still importable with a :class:`DeprecationWarning`."""
    if name in ("Verifier", "Verified"):
        from ._legacy import DEPRECATED, LEGACY

        warnings.warn(
            f"jwt_wsgi.{name} is deprecated: {DEPRECATED[name]}", DeprecationWarning, stacklevel=2
        )
        return LEGACY[name]
    raise AttributeError(f"module 'jwt_wsgi' has no attribute {name!r}")
