"""The errors jwt_wsgi raises, and the one function that turns them into responses.

Two families, kept apart on purpose:

* :class:`ConfigurationError` is raised by constructors for settings that
  would be unsafe or cannot work (a weak key, ``none`` in ``algorithms``, an
  asymmetric key paired with ``HS256``). It is a ``ValueError`` so it surfaces
  at start-up, never during a request.
* :class:`AuthError` and its subclasses describe why one request was refused.
  Each leaf is one RFC 6750 outcome and carries the HTTP status, the ``error``
  code and a fixed, human-readable description. Descriptions never contain the
  token, key material or claim values: they are safe to send and to log.

:func:`error_response` is the default ``on_error``: a JSON body and a
``WWW-Authenticate`` challenge as RFC 6750 section 3 describes.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from collections.abc import Iterable

    from _typeshed.wsgi import StartResponse, WSGIEnvironment


class ConfigurationError(ValueError):
    """A setting given to a constructor is unsafe or cannot work."""


class AuthError(Exception):
    """A request was refused. Subclasses fix the status and the RFC 6750 code.

    :param description: a fixed sentence, sent to the client as
        ``error_description``. Never put token or key material in it.
    :param scope: the scopes a 403 needed, sent as the challenge's ``scope``.
    """

    status: ClassVar[int] = 401
    error: ClassVar[str | None] = None
    #: The ``error`` member of the JSON body. RFC 6750 puts no code in the
    #: challenge of a request without credentials, but a JSON client still
    #: wants something to switch on.
    body_error: ClassVar[str] = "unauthorized"

    def __init__(self, description: str, *, scope: Iterable[str] | None = None) -> None:
        super().__init__(description)
        self.description = description
        self.scope: tuple[str, ...] = tuple(scope or ())

    @property
    def status_line(self) -> str:
        return _STATUS_LINES[self.status]


class InvalidRequest(AuthError):
    """400: the request is malformed (a broken header, a path that cannot be made safe)."""

    status = 400
    error = "invalid_request"
    body_error = "invalid_request"


class MissingToken(AuthError):
    """401 with a bare challenge: no bearer token was sent where one is required."""

    status = 401
    error = None
    body_error = "missing_token"


class InvalidToken(AuthError):
    """401 ``invalid_token``: bad signature, expired, wrong audience, revoked, ..."""

    status = 401
    error = "invalid_token"
    body_error = "invalid_token"


class InsufficientScope(AuthError):
    """403 ``insufficient_scope``: a valid token whose claims do not satisfy the rule."""

    status = 403
    error = "insufficient_scope"
    body_error = "insufficient_scope"


class ServiceUnavailable(AuthError):
    """503: a dependency needed to decide (a revocation store) did not answer.

    Refusing with 503 rather than 401 tells clients the token may be fine and a
    retry may succeed; failing open would let revoked tokens through.
    """

    status = 503
    error = None
    body_error = "temporarily_unavailable"


_STATUS_LINES = {
    400: "400 Bad Request",
    401: "401 Unauthorized",
    403: "403 Forbidden",
    503: "503 Service Unavailable",
}


def _quote(value: str) -> str:
    # Descriptions are our own fixed ASCII sentences; escaping keeps the
    # header valid even if a subclass is careless.
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def challenge(error: AuthError, realm: str) -> str:
    """Build the ``WWW-Authenticate`` value for ``error`` (RFC 6750 section 3)."""
    parts = [f"realm={_quote(realm)}"]
    if error.error is not None:
        parts.append(f"error={_quote(error.error)}")
        parts.append(f"error_description={_quote(error.description)}")
    if error.scope:
        parts.append(f"scope={_quote(' '.join(error.scope))}")
    return "Bearer " + ", ".join(parts)


def error_response(
    environ: WSGIEnvironment,
    start_response: StartResponse,
    error: AuthError,
    realm: str = "api",
) -> Iterable[bytes]:
    """Answer ``error`` with its status, a JSON body and a Bearer challenge."""
    body = {"error": error.body_error, "error_description": error.description}
    if error.scope:
        body["scope"] = " ".join(error.scope)
    payload = json.dumps(body).encode("ascii")
    headers = [
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(payload))),
        ("Cache-Control", "no-store"),
    ]
    if error.status != 503:
        headers.append(("WWW-Authenticate", challenge(error, realm)))
    else:
        headers.append(("Retry-After", "1"))
    start_response(error.status_line, headers)
    if environ.get("REQUEST_METHOD") == "HEAD":
        return [b""]
    return [payload]
