"""The rest of a login's life: refresh with rotation and reuse detection, and logout.

Two small WSGI apps, to mount next to the API (Werkzeug's
``DispatcherMiddleware``, or a ``Rule(..., auth="public")`` path routed to
them):

:class:`RefreshEndpoint`
    ``POST`` a refresh token (JSON ``{"refresh_token": ...}``, a form field of
    that name, ``Authorization: Bearer``, or the refresh cookie with its CSRF
    header) and get a new pair. **Every refresh token is single-use**: the
    store records its use, and the new pair continues the same family (the
    login). When a used refresh token comes back, someone holds a copy: the
    whole family is revoked, access tokens included, and the user must log in
    again (the OAuth 2.0 Security BCP's refresh token rotation). Two tabs that
    refresh at the same moment present the same token twice; within ``grace``
    seconds of its first use the second gets a pair of its own instead of
    ending the session.

:class:`LogoutEndpoint`
    Behind the middleware (it reads the verified claims): revokes the token
    and its family, or with ``everywhere=True`` every token of the subject
    issued before now, and clears the cookies.

Both answer refusals like the middleware does (RFC 6750, a JSON body, never a
500) and take their store from :mod:`jwt_wsgi.revocation`: a Redis store
makes single use, families and logouts hold across every process.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qs

from . import _checks
from ._checks import Duration
from .authenticator import Authenticator
from .cookies import Cookies, read_cookie
from .errors import (
    AuthError,
    ConfigurationError,
    InvalidRequest,
    MissingToken,
    RefreshReused,
    WrongTokenKind,
)
from .minter import Minter
from .providers import Provider
from .revocation import DenylistStore
from .sources import TokenSources

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

logger = logging.getLogger("jwt_wsgi")

Respond = Literal["json", "cookies", "both"]


def _json(
    start_response: StartResponse,
    status: str,
    body: Any,
    headers: Iterable[tuple[str, str]] = (),
    method: str = "POST",
) -> Iterable[bytes]:
    payload = json.dumps(body).encode()
    start_response(
        status,
        [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(payload))),
            ("Cache-Control", "no-store"),
            *headers,
        ],
    )
    return [b""] if method == "HEAD" else [payload]


class RefreshEndpoint:
    """``POST`` a refresh token, get the next pair; a refresh token works once.

    :param minter: the minter of the pairs (its claims loader makes the new
        access token, for the refresh token's ``sub``).
    :param store: the denylist recording single use and revoking families.
    :param authenticator: how refresh tokens are verified; by default the
        minter's own keys, issuer and audience, and ``store``.
    :param cookies: cookie names and attributes (:class:`Cookies()
        <jwt_wsgi.cookies.Cookies>`), for reading the refresh cookie and setting
        the new pair.
    :param respond: ``"json"`` (the tokens in the body, default), ``"cookies"``
        (``Set-Cookie`` only, for browser apps: no token reaches JavaScript) or
        ``"both"``.
    :param grace: seconds after its first use during which a refresh token
        presented again gets a pair of its own (10), for concurrent tabs.
    :param max_body_bytes: larger request bodies are refused unread (16384).
    """

    def __init__(
        self,
        minter: Minter,
        *,
        store: DenylistStore,
        authenticator: Authenticator | None = None,
        cookies: Cookies | None = None,
        respond: Respond = "json",
        grace: Duration = 10,
        max_body_bytes: int = 16384,
    ) -> None:
        if not isinstance(minter, Minter):
            raise ConfigurationError(f"minter must be a Minter, not {type(minter).__name__}")
        if not isinstance(store, DenylistStore):
            raise ConfigurationError(
                "store must be a MemoryRevocationStore or RedisRevocationStore"
            )
        self.minter = minter
        self.store = store
        if authenticator is None:
            keys = minter.key_source()
            provider = Provider(
                "refresh",
                list(keys.algorithms),
                key=keys,
                issuer=minter.issuer,
                audience=minter.audience,
                require=("exp", "jti", "fam"),
            )
            authenticator = Authenticator(provider, revocation=store, clock=minter.clock)
        elif not isinstance(authenticator, Authenticator):
            raise ConfigurationError("authenticator must be an Authenticator")
        self.authenticator = authenticator
        self.sources = TokenSources(("header",), cookies=cookies)
        self.cookies = self.sources.cookies
        self.respond = _checks.choice(respond, "respond", ("json", "cookies", "both"))
        self.grace = _checks.seconds(grace, "grace")
        self.max_body_bytes = _checks.count(max_body_bytes, "max_body_bytes", minimum=1)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        if method != "POST":
            return _json(
                start_response,
                "405 Method Not Allowed",
                {"error": "method_not_allowed", "error_description": "POST a refresh token"},
                [("Allow", "POST")],
                method,
            )
        try:
            return self._refresh(environ, start_response)
        except AuthError as error:
            logger.info("refresh refused with %d %s", error.status, error.reason)
            return error(environ, start_response)

    def _refresh(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        token, from_cookie = self._read(environ)
        result = self.authenticator.authenticate(token)
        if result.kind != "refresh":
            raise WrongTokenKind("an access token cannot be refreshed; send the refresh token")
        claims = result.claims
        if from_cookie:
            self.sources.check_csrf(environ, claims)
        family = claims["fam"]
        first = self.store.first_use(claims["jti"], expires_at=claims["exp"])
        if first is not None and self.minter.clock() - first > self.grace:
            # A used refresh token is back: a copy exists. End the login.
            lifetime = self.minter.refresh_expires_in.total_seconds()
            self.store.revoke_family(family, expires_at=self.minter.clock() + lifetime)
            logger.warning("a used refresh token came back: its login is revoked")
            raise RefreshReused()
        pair = self.minter.mint_pair(
            claims["sub"], fresh=False, family=family, auth_time=claims.get("auth_time")
        )
        body: dict[str, Any] = {"token_type": "Bearer", "expires_in": pair.expires_in}
        headers: list[tuple[str, str]] = []
        if self.respond in ("json", "both"):
            body.update(access_token=pair.access_token, refresh_token=pair.refresh_token)
        if self.respond in ("cookies", "both"):
            now = self.minter.clock()
            headers = self.cookies.set(pair.access_token, pair.refresh_token, now=now)
        return _json(start_response, "200 OK", body, headers)

    def _read(self, environ: WSGIEnvironment) -> tuple[str, bool]:
        """The refresh token (and whether it came in a cookie); one place only."""
        found: list[tuple[str, bool]] = []
        body = self._body(environ)
        if body is not None:
            found.append((body, False))
        value = environ.get(self.sources.bearer.environ_key)
        if value is not None:
            header = self.sources.bearer.parse(value)
            if header is not None:
                found.append((header, False))
        cookie_header = environ.get("HTTP_COOKIE")
        if cookie_header:
            cookie = read_cookie(cookie_header, self.cookies.refresh)
            if cookie:
                found.append((cookie, True))
        tokens = {token for token, _ in found}
        if not tokens:
            raise MissingToken("a refresh token is required")
        if len(tokens) > 1:
            raise InvalidRequest("the request carries more than one refresh token")
        return found[0]

    def _body(self, environ: WSGIEnvironment) -> str | None:
        """``refresh_token`` from a JSON or form body, read within the size limit."""
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            raise InvalidRequest("the Content-Length is not a number") from None
        if length <= 0:
            return None
        if length > self.max_body_bytes:
            raise InvalidRequest("the request body is too large")
        data = environ["wsgi.input"].read(length)
        kind = environ.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
        try:
            if kind == "application/json":
                document = json.loads(data)
                value = document.get("refresh_token") if isinstance(document, dict) else None
            elif kind == "application/x-www-form-urlencoded":
                values = parse_qs(data.decode("ascii"), strict_parsing=False).get("refresh_token")
                value = values[0] if values and len(values) == 1 else None
            else:
                return None
        except (ValueError, UnicodeDecodeError):
            raise InvalidRequest("the request body cannot be read") from None
        if value is None:
            return None
        if not isinstance(value, str) or not value:
            raise InvalidRequest("refresh_token must be a string")
        return value


class LogoutEndpoint:
    """Log the request's user out: this login, or every login (``everywhere``).

    Mount it behind :class:`~jwt_wsgi.JWTMiddleware` on a path that requires
    a token: it revokes that token and its family (the refresh tokens of the
    login with it), or with ``everywhere=True`` every token of the subject
    issued before now (``revoke_before``), and clears the token cookies. It
    answers ``204 No Content``.

    :param store: the denylist to write to.
    :param cookies: the cookies to clear (:class:`Cookies()
        <jwt_wsgi.cookies.Cookies>`).
    :param everywhere: log out every session of the subject (``False``).
    """

    def __init__(
        self, *, store: DenylistStore, cookies: Cookies | None = None, everywhere: bool = False
    ) -> None:
        if not isinstance(store, DenylistStore):
            raise ConfigurationError(
                "store must be a MemoryRevocationStore or RedisRevocationStore"
            )
        self.store = store
        self.cookies = cookies or Cookies()
        self.everywhere = _checks.flag(everywhere, "everywhere")

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        claims = environ.get("jwt.claims")
        token = environ.get("jwt.token")
        if not isinstance(claims, dict) or not isinstance(token, str):
            return MissingToken("log out with the token to end")(environ, start_response)
        self.store.revoke_token(token)
        family = claims.get("fam")
        if isinstance(family, str):
            self.store.revoke_family(family)
        if self.everywhere:
            sub = claims.get("sub")
            if isinstance(sub, str):
                self.store.revoke_before(sub=sub)
        start_response("204 No Content", [("Cache-Control", "no-store"), *self.cookies.clear()])
        return [b""]
