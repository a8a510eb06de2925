"""The endpoints an auth service mounts: the JWK Set, refresh and logout.

Small WSGI apps, to mount next to the API (Werkzeug's
``DispatcherMiddleware``, or a ``Rule(..., auth="public")`` path routed to
them):

:func:`jwks_app`
    ``GET`` the minter's public keys, for every verifier that trusts it.

:class:`RefreshEndpoint`
    ``POST`` a refresh token (JSON ``{"refresh_token": ...}``, a form field of
    that name, ``Authorization: Bearer``, or the refresh cookie) and get a new
    pair. **Every refresh token is single-use**: the store records its use,
    and the new pair continues the same family (the login). When a used
    refresh token comes back, someone holds a copy: the whole family is
    revoked, access tokens included, and the user must log in again (the
    OAuth 2.0 Security BCP's refresh token rotation). Two tabs that refresh at
    the same moment present the same token twice; within ``grace`` seconds of
    its first use the second gets a pair of its own instead of ending the
    session. A refresh is all or nothing: the new pair is minted before the
    refresh token is marked used, so a failure (the claims loader's database
    is down) answers 503 and leaves the token good for the retry.

:class:`LogoutEndpoint`
    Behind the middleware (it reads the verified claims): revokes the token
    and its family, or with ``everywhere=True`` every token of the subject
    issued before now, and clears the cookies.

**CSRF.** Both change a login's state, so both take ``POST`` only (a link,
an image or a prefetch is a ``GET``), and both require the CSRF proof (the
``X-CSRF-Token`` header equal to the presented token's ``csrf`` claim)
whenever their answer sets cookies or their credential came from a cookie,
whatever carried the token. That closes login CSRF as well as logout CSRF: a
page on another site can post a plain HTML form carrying *its own* refresh
token, and the browser would store the cookies the answer sets, signing the
victim into the attacker's account (RFC 6749 section 10.12). The form cannot
add a header, and a script that adds one is stopped by CORS, so a refresh
that answers with cookies demands the header even for a token sent in the
body, bound to that token's claim: an attacker who knows the value still
cannot send it cross-site.

Both answer refusals like the middleware does (RFC 6750, a JSON body, never a
500: a store or minting failure is a 503 with ``Retry-After``) and take their
store from :mod:`jwt_wsgi.revocation`: a Redis store makes single use,
families and logouts hold across every process.

**Revocations outlive what they revoke.** A logout's family entry and a "log
out everywhere" watermark must last as long as the longest refresh token they
can stop: both endpoints refuse, at construction, a store whose
``max_token_lifetime`` is shorter than the minter's ``refresh_expires_in``,
and a logout keeps its family entry for ``refresh_expires_in`` (given
``minter=``) or ``max_token_lifetime``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
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
    KeyStoreUnavailable,
    MintingFailed,
    MissingToken,
    RefreshReused,
    RevocationUnavailable,
    ServiceUnavailable,
    StoreUnavailable,
    WrongTokenKind,
    json_response,
)
from .minter import Minter
from .providers import Provider
from .revocation import DenylistStore
from .sources import TokenSources

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

logger = logging.getLogger("jwt_wsgi")

Respond = Literal["json", "cookies", "both"]


def _post_only(
    environ: WSGIEnvironment, start_response: StartResponse, what: str
) -> Iterable[bytes] | None:
    """405 for anything but ``POST``: a state change never rides a ``GET`` or ``HEAD``."""
    method = environ.get("REQUEST_METHOD", "GET")
    if method == "POST":
        return None
    return json_response(
        environ,
        start_response,
        "405 Method Not Allowed",
        {"error": "method_not_allowed", "error_description": f"POST {what}"},
        [("Allow", "POST")],
    )


def _check_lifetimes(store: DenylistStore, minter: Minter) -> float:
    """The minter's refresh lifetime, once the store is known to remember revocations as long."""
    lifetime = minter.refresh_expires_in.total_seconds()
    if store.max_token_lifetime < lifetime:
        raise ConfigurationError(
            f"the store keeps 'log out everywhere' for max_token_lifetime="
            f"{store.max_token_lifetime:g} s, but the minter's refresh tokens live "
            f"{lifetime:g} s (refresh_expires_in): a refresh token issued before such a "
            "logout would work again once the entry expires; give the store "
            "max_token_lifetime >= refresh_expires_in"
        )
    return lifetime


def _answer(
    environ: WSGIEnvironment, start_response: StartResponse, error: AuthError, what: str
) -> Iterable[bytes]:
    logger.info("%s refused with %d %s", what, error.status, error.reason)
    return error(environ, start_response)


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
        ``"both"``. With cookies in the answer, every refresh needs the CSRF
        header bound to the presented token (see the module's CSRF note).
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
        self.refresh_lifetime = _check_lifetimes(store, minter)
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
        self._sets_cookies = self.respond != "json"
        self.grace = _checks.seconds(grace, "grace")
        self.max_body_bytes = _checks.count(max_body_bytes, "max_body_bytes", minimum=1)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        refused = _post_only(environ, start_response, "a refresh token")
        if refused is not None:
            return refused
        try:
            return self._refresh(environ, start_response)
        except AuthError as error:
            return _answer(environ, start_response, error, "refresh")
        except Exception:
            logger.exception("the refresh endpoint failed")
            return ServiceUnavailable()(environ, start_response)

    def _refresh(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        token, from_cookie = self._read(environ)
        result = self.authenticator.authenticate(token)
        if result.kind != "refresh":
            raise WrongTokenKind("an access token cannot be refreshed; send the refresh token")
        claims = result.claims
        if from_cookie or self._sets_cookies:
            # Cookies in the answer would sign this browser in: only the app's
            # own page may ask, whatever carried the token (login CSRF).
            self.sources.check_csrf(environ, claims)
        family = claims["fam"]
        # Mint first, mark used second: a failure leaves the token good for the retry.
        try:
            pair = self.minter.mint_pair(
                claims["sub"], fresh=False, family=family, auth_time=claims.get("auth_time")
            )
        except AuthError:
            raise
        except KeyStoreUnavailable as exc:
            logger.warning("no signing key for a refreshed pair (%s); the token stays usable", exc)
            raise MintingFailed() from None
        except Exception:
            logger.exception("minting a refreshed pair failed; the refresh token stays usable")
            raise MintingFailed() from None
        try:
            first = self.store.first_use(claims["jti"], expires_at=claims["exp"])
            if first is not None and self.minter.clock() - first > self.grace:
                # A used refresh token is back: a copy exists. End the login.
                self.store.revoke_family(
                    family, expires_at=self.minter.clock() + self.refresh_lifetime
                )
                logger.warning("a used refresh token came back: its login is revoked")
                raise RefreshReused()
        except RevocationUnavailable as exc:
            raise StoreUnavailable() from exc
        body: dict[str, Any] = {"token_type": "Bearer", "expires_in": pair.expires_in}
        headers: list[tuple[str, str]] = []
        if self.respond in ("json", "both"):
            body.update(access_token=pair.access_token, refresh_token=pair.refresh_token)
        if self._sets_cookies:
            now = self.minter.clock()
            headers = self.cookies.set(pair.access_token, pair.refresh_token, now=now)
        return json_response(environ, start_response, "200 OK", body, headers)

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
    a token, and ``POST`` to it (anything else is 405): it revokes that token
    and its family (the refresh tokens of the login with it), or with
    ``everywhere=True`` every token of the subject issued before now
    (``revoke_before``), and answers ``204 No Content``.

    A token that came in a cookie (``environ["jwt.location"]``; one this
    endpoint cannot place counts as a cookie) must come with the CSRF header
    matching its ``csrf`` claim. A token from a bearer header needs none: no
    other site can make a browser send that header, so none can trigger the
    logout. Either way the answer clears the token cookies (a page keeping
    its access token in memory and its refresh token in a cookie loses both).
    If the store cannot record the logout, the answer is 503 and the cookies
    stay: the client learns the logout did not happen, and can retry.

    :param store: the denylist to write to.
    :param cookies: the cookies to clear and the CSRF header's name
        (:class:`Cookies() <jwt_wsgi.cookies.Cookies>`).
    :param everywhere: log out every session of the subject (``False``).
    :param minter: the minter of the login's refresh tokens: the family entry
        lasts its ``refresh_expires_in``, and a store that would forget a
        watermark sooner is refused. Without it the entry lasts the store's
        ``max_token_lifetime``, which must then be at least that long.
    """

    def __init__(
        self,
        *,
        store: DenylistStore,
        cookies: Cookies | None = None,
        everywhere: bool = False,
        minter: Minter | None = None,
    ) -> None:
        if not isinstance(store, DenylistStore):
            raise ConfigurationError(
                "store must be a MemoryRevocationStore or RedisRevocationStore"
            )
        self.store = store
        self.sources = TokenSources(("header",), cookies=cookies)
        self.cookies = self.sources.cookies
        self.everywhere = _checks.flag(everywhere, "everywhere")
        if minter is None:
            self.family_lifetime = store.max_token_lifetime
        elif not isinstance(minter, Minter):
            raise ConfigurationError(f"minter must be a Minter, not {type(minter).__name__}")
        else:
            self.family_lifetime = _check_lifetimes(store, minter)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        refused = _post_only(environ, start_response, "to log out")
        if refused is not None:
            return refused
        try:
            return self._logout(environ, start_response)
        except AuthError as error:
            return _answer(environ, start_response, error, "logout")
        except Exception:
            logger.exception("the logout endpoint failed")
            return ServiceUnavailable()(environ, start_response)

    def _logout(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        claims = environ.get("jwt.claims")
        token = environ.get("jwt.token")
        if not isinstance(claims, dict) or not isinstance(token, str):
            raise MissingToken("log out with the token to end")
        if environ.get("jwt.location") not in ("header", "query"):
            self.sources.check_csrf(environ, claims)
        try:
            self.store.revoke_token(token)
            family = claims.get("fam")
            if isinstance(family, str):
                self.store.revoke_family(
                    family, expires_at=self.store.clock() + self.family_lifetime
                )
            if self.everywhere:
                sub = claims.get("sub")
                if isinstance(sub, str):
                    self.store.revoke_before(sub=sub)
        except RevocationUnavailable as exc:
            raise StoreUnavailable() from exc
        start_response("204 No Content", [("Cache-Control", "no-store"), *self.cookies.clear()])
        return [b""]


def jwks_app(
    minter: Minter, *, path: str = "/.well-known/jwks.json", max_age: int = 300
) -> Callable[[WSGIEnvironment, StartResponse], Iterable[bytes]]:
    """A WSGI app serving ``minter.jwks()`` at ``path`` (404 elsewhere).

    The set is rendered per request so a rotation shows at once; caches may
    keep it ``max_age`` seconds, so keep a retired key published at least that
    long after its last token expires. When the minter's key store cannot be
    read (and holds no keys read before), the answer is a JSON 503 with
    ``Retry-After``, never a 500.
    """

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD")
        if environ.get("PATH_INFO") != path or method not in ("GET", "HEAD"):
            return json_response(environ, start_response, "404 Not Found", {"error": "not_found"})
        try:
            document = minter.jwks()
        except Exception as exc:
            if not isinstance(exc, KeyStoreUnavailable):
                logger.exception("rendering the JWK Set failed")
            return ServiceUnavailable("the signing keys are unavailable")(environ, start_response)
        return json_response(
            environ,
            start_response,
            "200 OK",
            document,
            content_type="application/jwk-set+json",
            cache_control=f"public, max-age={max_age}",
        )

    return app
