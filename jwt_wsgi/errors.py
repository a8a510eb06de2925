"""Everything jwt_wsgi raises, in one tree, and how a refusal becomes a response.

:class:`Error` is the root: ``except jwt_wsgi.Error`` catches all of it.

* :class:`ConfigurationError` is raised by constructors for settings that are
  unsafe or cannot work (a weak key, ``none`` in ``algorithms``, a string where
  a list is expected). It is also a ``ValueError``, and it surfaces at
  start-up, never during a request.
* :class:`AuthError` says why one request was refused. Its RFC 6750
  outcomes (:class:`InvalidRequest` 400, :class:`MissingToken` and
  :class:`InvalidToken` 401, :class:`InsufficientScope` 403), RFC 9470's
  :class:`StepUpRequired` (401), :class:`CsrfFailed` (403) and
  :class:`ServiceUnavailable` (503) branch into one leaf per reason, so
  ``on_error`` and tests branch on the class (``except ExpiredToken``) and
  logs and metrics on its stable :attr:`~AuthError.reason` code
  (``"token_expired"``), never on an English sentence.
* :class:`RevocationUnavailable` is what a revocation store raises when it
  cannot answer; the middleware turns it into :class:`RevocationCheckFailed`.

Every :class:`AuthError` is a small WSGI application, as Werkzeug's HTTP
exceptions are: calling it answers the request with its status, a JSON body
and an RFC 6750 ``WWW-Authenticate`` challenge. An ``on_error`` handler can
therefore send the default answer and adjust it. Descriptions are fixed
sentences: no token, key or claim value ever appears in one, so they are safe
to send and to log.

An error is never changed after it is raised. What its challenge says beyond
the error itself (the realm, the metadata URL, the DPoP schemes the path
offers) is a :class:`Challenge` the middleware puts in
``environ["jwt.challenge"]`` before answering; the rendering methods take it
as an argument.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, ClassVar, Final

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment


__all__ = [
    "CHALLENGE_KEY",
    "Challenge",
    "DEFAULT_CHALLENGE",
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
    "CsrfFailed",
    "StepUpRequired",
    "ServiceUnavailable",
    "RevocationCheckFailed",
    "ReplayCheckFailed",
    "StoreUnavailable",
    "MintingFailed",
    "PrincipalUnavailable",
    "json_headers",
    "json_response",
    "error_response",
]

#: The WSGI environ key holding the :class:`Challenge` of a refused request.
CHALLENGE_KEY: Final = "jwt.challenge"


@dataclass(frozen=True, slots=True)
class Challenge:
    """What a refusal's ``WWW-Authenticate`` challenges say beyond the error itself.

    :param realm: the protection space (RFC 7235 section 2.2).
    :param resource_metadata: the RFC 9728 metadata URL, when there is one.
    :param dpop_algs: the DPoP proof algorithms, where the path accepts DPoP
        (RFC 9449 section 7.1): a ``DPoP`` challenge with ``algs`` is offered.
    :param bearer: whether a ``Bearer`` challenge is offered (not where DPoP
        is required).
    :param dpop: whether the error's challenge is in the ``DPoP`` scheme: the
        request used it, or the path requires it. Proof errors always are.
    """

    realm: str = "api"
    resource_metadata: str | None = None
    dpop_algs: tuple[str, ...] | None = None
    bearer: bool = True
    dpop: bool = False


#: The challenge of an error answered without a middleware's settings.
DEFAULT_CHALLENGE: Final = Challenge()


class Error(Exception):
    """The root of every exception jwt_wsgi raises."""


class ConfigurationError(Error, ValueError):
    """A setting given to a constructor is unsafe or cannot work."""


class RevocationUnavailable(Error):
    """A revocation store could not say whether a token is revoked."""


class KeyStoreUnavailable(Error):
    """A shared key store could not be read, or a change to it could not be recorded
    (or acknowledged by its replicas), and no keys read before can stand in."""


class AuthError(Error):
    """A request was refused.

    Subclasses fix the HTTP :attr:`status`, the RFC 6750 :attr:`error` code,
    the :attr:`reason` code and a default :attr:`description`.

    :param description: replaces the class's fixed sentence. Never put token,
        key or claim values in it.
    :param scope: the scopes a 403 needed, sent as the challenge's ``scope``.
    :param detail: what failed, for the log only (a claim's name, a rule's
        condition); never sent to the client.
    """

    status: ClassVar[int] = 401
    #: The RFC 6750 ``error`` code in the challenge (``None``: no code).
    error: ClassVar[str | None] = None
    #: The ``error`` member of the JSON body. RFC 6750 puts no code in the
    #: challenge of a request without credentials, but a JSON client still
    #: wants something to switch on.
    body_error: ClassVar[str] = "unauthorized"
    #: A stable code for logs, metrics and ``on_error``: one per leaf class.
    reason: ClassVar[str] = "unauthorized"
    #: The fixed sentence sent as ``error_description``.
    default_description: ClassVar[str] = "the request was refused"

    #: ``"DPoP"`` for errors about DPoP proofs, whose challenge is always in
    #: that scheme (see :attr:`Challenge.dpop` for the others).
    scheme: ClassVar[str] = "Bearer"
    #: A DPoP nonce to send as ``DPoP-Nonce`` (RFC 9449 section 8).
    dpop_nonce: str | None = None

    def __init__(
        self,
        description: str | None = None,
        *,
        scope: Iterable[str] = (),
        detail: str | None = None,
    ) -> None:
        self.description = description or self.default_description
        super().__init__(self.description)
        self.scope: tuple[str, ...] = tuple(scope)
        self.detail = detail

    @property
    def status_line(self) -> str:
        """The WSGI status line, e.g. ``"401 Unauthorized"``."""
        return _STATUS_LINES[self.status]

    def challenge(self, settings: Challenge | str = DEFAULT_CHALLENGE) -> str | None:
        """The ``WWW-Authenticate`` value carrying the error (RFC 6750 section 3), or ``None``.

        Its scheme is ``Bearer``, or ``DPoP`` (with ``algs``) for a DPoP
        request or a path that requires DPoP.

        :param settings: the :class:`Challenge`, or just the realm to name.
        """
        if isinstance(settings, str):
            settings = Challenge(realm=settings)
        parts = [("realm", settings.realm)]
        if self.error is not None:
            parts += [("error", self.error), ("error_description", self.description)]
        if self.scope:
            parts.append(("scope", " ".join(self.scope)))
        if settings.resource_metadata is not None:
            parts.append(("resource_metadata", settings.resource_metadata))
        scheme = self._scheme(settings)
        if scheme == "DPoP" and settings.dpop_algs:
            parts.append(("algs", " ".join(settings.dpop_algs)))
        return _challenge(scheme, parts) + self._extra_challenge()

    def _scheme(self, settings: Challenge) -> str:
        return "DPoP" if settings.dpop or self.scheme == "DPoP" else "Bearer"

    def _extra_challenge(self) -> str:
        """More parameters for the error's own challenge (a subclass's)."""
        return ""

    def challenges(self, settings: Challenge = DEFAULT_CHALLENGE) -> list[str]:
        """Every ``WWW-Authenticate`` value: :meth:`challenge`, then a bare one for
        the other scheme the path accepts (``Bearer`` and ``DPoP``, RFC 9449 section 7.1)."""
        first = self.challenge(settings)
        if first is None:
            return []
        scheme = self._scheme(settings)
        if settings.dpop_algs is None or (scheme == "DPoP" and not settings.bearer):
            return [first]
        other = "Bearer" if scheme == "DPoP" else "DPoP"
        parts = [("realm", settings.realm)]
        if settings.resource_metadata is not None:
            parts.append(("resource_metadata", settings.resource_metadata))
        if other == "DPoP":
            parts.append(("algs", " ".join(settings.dpop_algs)))
        return [first, _challenge(other, parts)]

    def body(self) -> dict[str, str]:
        """The JSON body: ``error``, ``error_description`` and ``scope`` when set."""
        body = {"error": self.body_error, "error_description": self.description}
        if self.scope:
            body["scope"] = " ".join(self.scope)
        return body

    def headers(
        self, content_length: int, settings: Challenge = DEFAULT_CHALLENGE
    ) -> list[tuple[str, str]]:
        """The response headers for a body of ``content_length`` bytes."""
        return json_headers(content_length) + self.extra_headers(settings)

    def extra_headers(self, settings: Challenge = DEFAULT_CHALLENGE) -> list[tuple[str, str]]:
        """The headers beyond the JSON body's: the challenges, a DPoP nonce."""
        headers = [("WWW-Authenticate", challenge) for challenge in self.challenges(settings)]
        if self.dpop_nonce is not None:
            headers.append(("DPoP-Nonce", self.dpop_nonce))
        return headers

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """Answer the request with this error (a WSGI application), the challenge
        settings taken from ``environ["jwt.challenge"]`` when the middleware put them there."""
        settings = environ.get(CHALLENGE_KEY, DEFAULT_CHALLENGE)
        return json_response(
            environ, start_response, self.status_line, self.body(), self.extra_headers(settings)
        )


# -- 400 ---------------------------------------------------------------------


class InvalidRequest(AuthError):
    """400 ``invalid_request``: the request is malformed."""

    status = 400
    error = "invalid_request"
    body_error = "invalid_request"
    reason = "request_invalid"
    default_description = "the request is malformed"


class MalformedCredentials(InvalidRequest):
    """400: the credentials header cannot be read as exactly one bearer token."""

    reason = "credentials_malformed"
    default_description = "the Authorization header must carry exactly one bearer token"


class UnsafePath(InvalidRequest):
    """400: the request path has no single safe reading (see :mod:`jwt_wsgi.paths`)."""

    reason = "path_unsafe"
    default_description = "the request path cannot be made safe"


class AmbiguousCredentials(InvalidRequest):
    """400: two different tokens came in one request (say, a header and a cookie)."""

    reason = "credentials_ambiguous"
    default_description = "the request carries more than one token"


# -- 401 without credentials ------------------------------------------------------


class MissingToken(AuthError):
    """401 with a bare challenge: no bearer token was sent where one is required."""

    status = 401
    error = None
    body_error = "missing_token"
    reason = "token_missing"
    default_description = "a bearer token is required"


# -- 401 invalid_token ------------------------------------------------------------


class InvalidToken(AuthError):
    """401 ``invalid_token``: the token cannot be accepted. Each reason is a subclass."""

    status = 401
    error = "invalid_token"
    body_error = "invalid_token"
    reason = "token_invalid"
    default_description = "the token is invalid"


class MalformedToken(InvalidToken):
    """Not a compact JWS of strict base64url and UTF-8 JSON objects."""

    reason = "token_malformed"
    default_description = "the token is malformed"


class TokenTooLarge(MalformedToken):
    """Longer than ``max_token_bytes``: refused before any parsing."""

    reason = "token_too_large"
    default_description = "the token is too large"


class UnsupportedToken(InvalidToken):
    """A JWE, a critical extension, or an unencoded payload: forms we never accept."""

    reason = "token_unsupported"
    default_description = "the token uses a form that is not supported"


class DisallowedAlgorithm(InvalidToken):
    """The header's ``alg`` is not in the allow-list."""

    reason = "alg_not_allowed"
    default_description = "the token's algorithm is not allowed"


class InvalidTokenType(InvalidToken):
    """The header's ``typ`` is not an accepted one."""

    reason = "typ_mismatch"
    default_description = "the token type is not accepted"


class UnknownKey(InvalidToken):
    """No configured key has the token's ``kid`` (or, without one, can be tried)."""

    reason = "kid_unknown"
    default_description = "no key matches the token's key id"


class InvalidSignature(InvalidToken):
    """The signature does not verify under any candidate key."""

    reason = "signature_invalid"
    default_description = "the token signature is invalid"


class MissingClaim(InvalidToken):
    """A required claim is absent."""

    reason = "claim_missing"
    default_description = "the token lacks a required claim"


class InvalidClaim(InvalidToken):
    """A registered claim has the wrong type (``exp`` as a string, ``sub`` as a number)."""

    reason = "claim_malformed"
    default_description = "a claim of the token has the wrong type"


class ExpiredToken(InvalidToken):
    """``exp`` (plus the leeway) has passed."""

    reason = "token_expired"
    default_description = "the token has expired"


class ImmatureToken(InvalidToken):
    """``nbf`` (less the leeway) is still in the future."""

    reason = "token_not_yet_valid"
    default_description = "the token is not valid yet"


class IssuedInFuture(ImmatureToken):
    """``iat`` (less the leeway) is in the future."""

    reason = "token_issued_in_future"
    default_description = "the token was issued in the future"


class InvalidAudience(InvalidToken):
    """``aud`` names none of the accepted audiences (or is set when none is configured)."""

    reason = "aud_mismatch"
    default_description = "the token is not meant for this audience"


class InvalidIssuer(InvalidToken):
    """``iss`` is not an accepted issuer."""

    reason = "iss_mismatch"
    default_description = "the token's issuer is not accepted"


class ProviderNotAccepted(InvalidToken):
    """The token's provider is valid but not among those the matched rule accepts."""

    reason = "provider_not_accepted"
    default_description = "the token's issuer is not accepted for this path"


class WrongTokenKind(InvalidToken):
    """A refresh token where an access token is needed, or the reverse."""

    reason = "token_kind_mismatch"
    default_description = "this kind of token is not accepted here"


class RevokedToken(InvalidToken):
    """The revocation store lists the token, its family, or a logout after it was issued."""

    reason = "token_revoked"
    default_description = "the token has been revoked"


class RefreshReused(RevokedToken):
    """A refresh token came back after it was used: its whole family is now revoked."""

    reason = "refresh_reused"
    default_description = "the refresh token was already used; the session is revoked"


class KeysUnavailable(InvalidToken):
    """The issuer's keys could not be fetched and no usable copy is left."""

    reason = "keys_unavailable"
    default_description = "the signing keys are unavailable"


class UnknownPrincipal(InvalidToken):
    """The token is valid but the ``principal`` loader found no such user (it returned ``None``)."""

    reason = "principal_unknown"
    default_description = "the token's subject is not a known user"


class CertificateRequired(InvalidToken):
    """The token is bound to a client certificate (RFC 8705), or must be, and none came."""

    reason = "certificate_missing"
    default_description = "the token needs the client certificate it is bound to"


class CertificateMismatch(InvalidToken):
    """The client certificate is not the one the token is bound to (``cnf.x5t#S256``)."""

    reason = "cnf_mismatch"
    default_description = "the client certificate does not match the token"


class TokenNotBound(InvalidToken):
    """The provider requires certificate-bound tokens (``mtls="required"``); this one is not."""

    reason = "token_not_bound"
    default_description = "the token is not bound to a client certificate"


class DPoPDowngrade(UnsupportedToken):
    """A DPoP-bound token (``cnf.jkt``) sent as a bearer token: refused (RFC 9449 section 7.2)."""

    reason = "dpop_downgrade"
    default_description = "a DPoP-bound token must be sent with the DPoP scheme and a proof"


class DPoPRequired(InvalidToken):
    """An unbound token where DPoP is required (``dpop="required"``)."""

    scheme = "DPoP"
    reason = "dpop_required"
    default_description = "this resource needs a DPoP-bound token"


class DPoPTokenNotBound(InvalidToken):
    """The DPoP scheme with a token that is not bound to a key (no ``cnf.jkt``)."""

    scheme = "DPoP"
    reason = "dpop_token_not_bound"
    default_description = "the token is not bound to a DPoP key"


class DPoPNotAccepted(InvalidToken):
    """The DPoP scheme where the path or provider does not take it (``dpop="disabled"``)."""

    reason = "dpop_not_accepted"
    default_description = "DPoP is not accepted here"


class DPoPKeyMismatch(InvalidToken):
    """The proof's key is not the one the token is bound to (its ``cnf.jkt``)."""

    scheme = "DPoP"
    reason = "dpop_jkt_mismatch"
    default_description = "the DPoP proof key does not match the token's binding"


class VerificationFailed(InvalidToken):
    """An unexpected error inside verification: fail closed (the details are logged)."""

    reason = "internal_error"
    default_description = "the token could not be verified"


# -- 401 DPoP proofs (RFC 9449) -----------------------------------------------------


class InvalidDPoPProof(AuthError):
    """401 ``invalid_dpop_proof``: the ``DPoP`` proof is refused. One subclass per reason."""

    status = 401
    error = "invalid_dpop_proof"
    body_error = "invalid_dpop_proof"
    scheme = "DPoP"
    reason = "dpop_proof_invalid"
    default_description = "the DPoP proof is invalid"


class DPoPProofMissing(InvalidDPoPProof):
    """A DPoP request (or a DPoP-bound token) without a ``DPoP`` header."""

    reason = "dpop_proof_missing"
    default_description = "a DPoP proof is required"


class MalformedDPoPProof(InvalidDPoPProof):
    """Not one compact JWS with ``typ`` ``dpop+jwt``, a public ``jwk`` and the required claims."""

    reason = "dpop_proof_malformed"
    default_description = "the DPoP proof is malformed"


class DPoPAlgorithmNotAllowed(InvalidDPoPProof):
    """The proof's ``alg`` is not in the DPoP allow-list."""

    reason = "dpop_alg_not_allowed"
    default_description = "the DPoP proof's algorithm is not allowed"


class DPoPSignatureInvalid(InvalidDPoPProof):
    """The proof's signature does not verify under its own ``jwk``."""

    reason = "dpop_signature_invalid"
    default_description = "the DPoP proof signature is invalid"


class DPoPMethodMismatch(InvalidDPoPProof):
    """The proof's ``htm`` is not the request's method."""

    reason = "dpop_htm_mismatch"
    default_description = "the DPoP proof was made for another method"


class DPoPUrlMismatch(InvalidDPoPProof):
    """The proof's ``htu`` is not this resource's URL (a configured base URL and the path)."""

    reason = "dpop_htu_mismatch"
    default_description = "the DPoP proof was made for another URL"


class DPoPProofStale(InvalidDPoPProof):
    """The proof's ``iat`` is older than ``max_age`` or in the future (beyond the leeway)."""

    reason = "dpop_iat_invalid"
    default_description = "the DPoP proof is too old or from the future"


class DPoPAthMismatch(InvalidDPoPProof):
    """The proof's ``ath`` is missing or is not the hash of the token sent with it."""

    reason = "dpop_ath_mismatch"
    default_description = "the DPoP proof was made for another access token"


class DPoPProofReplayed(InvalidDPoPProof):
    """The proof's ``jti`` was seen before, by any process sharing the replay store."""

    reason = "dpop_proof_replayed"
    default_description = "the DPoP proof was already used"


class DPoPNonceRequired(AuthError):
    """401 ``use_dpop_nonce`` (RFC 9449 section 9): the proof lacks a current server nonce.

    The response carries a fresh one in ``DPoP-Nonce``; the client retries
    with a proof that includes it.
    """

    status = 401
    error = "use_dpop_nonce"
    body_error = "use_dpop_nonce"
    scheme = "DPoP"
    reason = "dpop_nonce_required"
    default_description = "the resource server requires a nonce in the DPoP proof"

    def __init__(self, description: str | None = None, *, nonce: str | None = None) -> None:
        super().__init__(description)
        self.dpop_nonce = nonce


# -- 403 ---------------------------------------------------------------------------


class InsufficientScope(AuthError):
    """403 ``insufficient_scope``: a valid token whose claims do not satisfy the rule."""

    status = 403
    error = "insufficient_scope"
    body_error = "insufficient_scope"
    reason = "forbidden"
    default_description = "the token's claims do not permit this request"


class ScopeMissing(InsufficientScope):
    """A scope the rule needs is not granted (``scope``/``scp``)."""

    reason = "scope_missing"
    default_description = "the token lacks a scope this request needs"


class ClaimMismatch(InsufficientScope):
    """A claim does not have the value the rule needs."""

    reason = "claim_mismatch"


class ConditionFailed(InsufficientScope):
    """The rule's ``when`` callable returned something other than ``True``, or raised."""

    reason = "condition_failed"


class CsrfFailed(AuthError):
    """403: a token came in a cookie on an unsafe method without the matching CSRF value.

    The double-submit value (a header such as ``X-CSRF-Token``) is missing or
    does not match the token's ``csrf`` claim. Not a problem of the token, so
    no Bearer challenge is sent.
    """

    status = 403
    error = None
    body_error = "csrf_failed"
    reason = "csrf_failed"
    default_description = "the request lacks the CSRF value that cookie tokens need"

    def challenge(self, settings: Challenge | str = DEFAULT_CHALLENGE) -> str | None:
        return None


class StepUpRequired(AuthError):
    """401 ``insufficient_user_authentication`` (RFC 9470): authenticate again, more strongly.

    The token is valid, but the user signed in too long ago (``max_age``) or
    with a weaker method than the path needs (``acr_values``); both are sent
    in the challenge and the body so the client can ask the user to re-auth.
    """

    status = 401
    error = "insufficient_user_authentication"
    body_error = "insufficient_user_authentication"
    reason = "step_up_required"
    default_description = "a more recent or stronger authentication is required"

    def __init__(
        self,
        description: str | None = None,
        *,
        max_age: int | None = None,
        acr_values: tuple[str, ...] = (),
    ) -> None:
        super().__init__(description)
        self.max_age = max_age
        self.acr_values = acr_values

    def _extra(self) -> list[tuple[str, str]]:
        extra = []
        if self.max_age is not None:
            extra.append(("max_age", str(self.max_age)))
        if self.acr_values:
            extra.append(("acr_values", " ".join(self.acr_values)))
        return extra

    def _extra_challenge(self) -> str:
        return "".join(f", {name}={_quote(value)}" for name, value in self._extra())

    def body(self) -> dict[str, str]:
        return {**super().body(), **dict(self._extra())}


# -- 503 ---------------------------------------------------------------------------


class ServiceUnavailable(AuthError):
    """503: a dependency needed to decide did not answer.

    Refusing with 503 rather than 401 tells clients the token may be fine and a
    retry may succeed; failing open would let revoked tokens through.
    """

    status = 503
    error = None
    body_error = "temporarily_unavailable"
    reason = "service_unavailable"
    default_description = "a service needed to check the token is unavailable"

    def challenge(self, settings: Challenge | str = DEFAULT_CHALLENGE) -> str | None:
        return None

    def extra_headers(self, settings: Challenge = DEFAULT_CHALLENGE) -> list[tuple[str, str]]:
        return [*super().extra_headers(settings), ("Retry-After", "1")]


class RevocationCheckFailed(ServiceUnavailable):
    """The revocation store could not answer (``revocation_unavailable="closed"``)."""

    reason = "revocation_unavailable"
    default_description = "the revocation list is unavailable"


class ReplayCheckFailed(ServiceUnavailable):
    """The DPoP replay store could not say whether a proof was used before."""

    reason = "dpop_replay_unavailable"
    default_description = "the DPoP replay check is unavailable"


class StoreUnavailable(ServiceUnavailable):
    """A session endpoint could not read or write its store (logout, refresh).

    Nothing was half done: a logout that could not be recorded says so instead
    of clearing the cookies, and a refresh token stays usable for the retry.
    """

    reason = "store_unavailable"
    default_description = "the session store is unavailable"


class MintingFailed(ServiceUnavailable):
    """A refresh could not mint the new pair (the claims loader raised: its
    database is down, say). The refresh token was not consumed; the details
    are logged."""

    reason = "minting_failed"
    default_description = "the new tokens could not be issued"


class PrincipalUnavailable(ServiceUnavailable):
    """The ``principal`` loader raised (its user store is down, say); the details are logged."""

    reason = "principal_unavailable"
    default_description = "the user store is unavailable"


_STATUS_LINES = {
    400: "400 Bad Request",
    401: "401 Unauthorized",
    403: "403 Forbidden",
    503: "503 Service Unavailable",
}


def _challenge(scheme: str, parts: list[tuple[str, str]]) -> str:
    """One ``WWW-Authenticate`` value: the scheme, then its quoted parameters."""
    return f"{scheme} " + ", ".join(f"{name}={_quote(value)}" for name, value in parts)


def _quote(value: str) -> str:
    # Descriptions are fixed ASCII sentences; escaping keeps the header valid
    # even for a careless subclass or realm.
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def json_headers(
    content_length: int,
    content_type: str = "application/json",
    cache_control: str = "no-store",
) -> list[tuple[str, str]]:
    """The headers of a JSON answer: its type, its length and how long it may be kept."""
    return [
        ("Content-Type", content_type),
        ("Content-Length", str(content_length)),
        ("Cache-Control", cache_control),
    ]


def json_response(
    environ: WSGIEnvironment,
    start_response: StartResponse,
    status: str,
    body: Any,
    headers: Iterable[tuple[str, str]] = (),
    *,
    content_type: str = "application/json",
    cache_control: str = "no-store",
) -> list[bytes]:
    """Answer with ``body`` as JSON (bytes are sent as they are): the one way every
    JSON answer of ours is written, refusals, endpoints, key sets and metadata alike.
    A ``HEAD`` request gets the headers and no body."""
    payload = body if isinstance(body, bytes) else json.dumps(body).encode("ascii")
    start_response(status, [*json_headers(len(payload), content_type, cache_control), *headers])
    return [b""] if environ.get("REQUEST_METHOD") == "HEAD" else [payload]


def error_response(
    environ: WSGIEnvironment,
    start_response: StartResponse,
    error: AuthError,
    realm: str | None = None,
) -> Iterable[bytes]:
    """The default ``on_error``: answer with ``error`` itself (see :meth:`AuthError.__call__`),
    naming ``realm`` if given instead of the middleware's."""
    if realm is not None:
        settings = environ.get(CHALLENGE_KEY, DEFAULT_CHALLENGE)
        environ = {**environ, CHALLENGE_KEY: replace(settings, realm=realm)}
    return error(environ, start_response)
