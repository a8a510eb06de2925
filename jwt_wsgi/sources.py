"""Where a request's token is read from: a header, a cookie, or the query string.

:class:`TokenSources` is configured once with the locations it reads, in
order: ``"header"`` (the default; RFC 6750 section 2.1), ``"cookie"`` (for
browser apps, with CSRF protection, see :mod:`jwt_wsgi.cookies`) and
``"query"`` (off unless asked for; RFC 6750 section 2.3 calls it a last
resort, for clients that cannot set headers such as ``EventSource`` or a
download link). Rules may name other locations for their paths.

Exactly one token per request: the same token in two places is fine, two
different tokens are refused (:class:`~jwt_wsgi.errors.AmbiguousCredentials`,
400) rather than one silently picked. A token read from the query string is
removed from ``QUERY_STRING`` (and ``REQUEST_URI``/``RAW_URI``) before the
app sees the request, and is never logged by jwt_wsgi; the server's own
access log still records the request line, which is why it is a last resort.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal, TypedDict, cast
from urllib.parse import parse_qsl, unquote_plus

from . import _checks
from .bearer import BearerHeader
from .cookies import Cookies, read_cookie
from .errors import AmbiguousCredentials, ConfigurationError, CsrfFailed, MalformedCredentials

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

Location = Literal["header", "cookie", "query"]
LOCATIONS: tuple[Location, ...] = ("header", "cookie", "query")

#: Methods that must not change state, and so need no CSRF value (RFC 9110 9.2.1).
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


def check_locations(value: Sequence[str], option: str) -> tuple[Location, ...]:
    """A non-empty list of known locations, each at most once."""
    names = _checks.strings(value, option, example="['header', 'cookie']")
    if not names:
        raise ConfigurationError(f"{option} must name at least one of {list(LOCATIONS)}")
    unknown = [n for n in names if n not in LOCATIONS]
    if unknown or len(set(names)) != len(names):
        raise ConfigurationError(
            f"{option} must name each of {list(LOCATIONS)} at most once; got {list(names)}"
        )
    return cast(tuple[Location, ...], names)


class TokenSources:
    """The locations a token is read from, and the checks each location needs.

    :param locations: the locations read by default (``("header",)``).
    :param header: the request header of the ``"header"`` location
        (``"Authorization"``).
    :param scheme: its auth scheme (``"Bearer"``; ``""`` for a bare token).
    :param query: the query parameter of the ``"query"`` location
        (``"access_token"``, RFC 6750 section 2.3).
    :param cookies: cookie names and the CSRF header (:class:`Cookies()
        <jwt_wsgi.cookies.Cookies>`).
    :param csrf: require the CSRF value for cookie tokens on unsafe methods
        (``True``). Turn it off only for APIs that no browser calls.
    """

    def __init__(
        self,
        locations: Sequence[Location] = ("header",),
        *,
        header: str = "Authorization",
        scheme: str = "Bearer",
        query: str = "access_token",
        cookies: Cookies | None = None,
        csrf: bool = True,
    ) -> None:
        self.locations = check_locations(locations, "locations")
        self.bearer = BearerHeader(header, scheme)
        if not isinstance(query, str) or not query or any(c in query for c in "&=#"):
            raise ConfigurationError(f"query must be a query parameter name, not {query!r}")
        self.query = query
        if cookies is None:
            cookies = Cookies()
        elif not isinstance(cookies, Cookies):
            raise ConfigurationError(f"cookies must be a Cookies object, not {cookies!r}")
        self.cookies = cookies
        self.csrf = _checks.flag(csrf, "csrf")

    def read(
        self, environ: WSGIEnvironment, locations: Sequence[Location]
    ) -> tuple[str, Location] | None:
        """The token and where it came from, or ``None``; two different tokens raise."""
        found: tuple[str, Location] | None = None
        for location in locations:
            if location == "header":
                value = environ.get(self.bearer.environ_key)
                token = self.bearer.parse(value) if value is not None else None
            elif location == "cookie":
                header = environ.get("HTTP_COOKIE")
                token = read_cookie(header, self.cookies.access) if header else None
            else:
                token = self._query_token(environ.get("QUERY_STRING", ""))
            if not token:
                continue
            if found is not None and token != found[0]:
                raise AmbiguousCredentials(
                    f"the request carries different tokens in its {found[1]} and {location}"
                )
            found = found or (token, location)
        return found

    def check_csrf(self, environ: WSGIEnvironment, claims: dict[str, Any]) -> None:
        """Refuse an unsafe request whose CSRF header does not match the token's claim.

        Only the claim counts, never a cookie alone: a value planted in a cookie
        by a sibling site cannot match a claim inside a signed token.
        """
        if not self.csrf or environ.get("REQUEST_METHOD", "GET") in SAFE_METHODS:
            return
        sent = environ.get(self.cookies.csrf_environ_key)
        expected = claims.get("csrf")
        if not isinstance(sent, str) or not sent:
            raise CsrfFailed(f"the {self.cookies.csrf_header} header is missing")
        if not isinstance(expected, str) or not hmac.compare_digest(
            sent.encode("utf-8", "surrogateescape"), expected.encode("utf-8", "surrogateescape")
        ):
            raise CsrfFailed(f"the {self.cookies.csrf_header} header does not match the token")

    def strip_query(self, environ: WSGIEnvironment) -> None:
        """Remove the token parameter from the query string the app (and its logs) see.

        A query without the parameter is left exactly as it came.
        """
        query_string = environ.get("QUERY_STRING", "")
        if query_string:
            environ["QUERY_STRING"] = self._without_token(query_string)
        for key in ("REQUEST_URI", "RAW_URI"):
            target = environ.get(key)
            if target and "?" in target:
                path, _, query = target.partition("?")
                rest = self._without_token(query)
                if rest != query:
                    environ[key] = f"{path}?{rest}" if rest else path

    def _query_token(self, query: str) -> str | None:
        if self.query not in query:
            return None
        values = {v for k, v in parse_qsl(query, keep_blank_values=True) if k == self.query}
        if len(values) > 1:
            raise AmbiguousCredentials(f"the query string carries several {self.query}")
        token = values.pop() if values else None
        if token is not None and (not token or any(c.isspace() for c in token)):
            raise MalformedCredentials(f"the {self.query} parameter must hold one token")
        return token

    def _without_token(self, query: str) -> str:
        """``query`` without the token parameter (its name decoded, as a server would),
        or ``query`` itself when it has none."""
        parts = query.split("&")
        kept = [p for p in parts if unquote_plus(p.partition("=")[0]) != self.query]
        return query if len(kept) == len(parts) else "&".join(p for p in kept if p)


class SourceOptions(TypedDict, total=False):
    """The keywords of :class:`TokenSources`, for the keyword shortcuts.

    ``JWTMiddleware(app, ..., locations=["cookie"])`` and
    ``Authenticator.from_options(...)`` take these and build the sources.
    """

    locations: Sequence[Location]
    header: str
    scheme: str
    query: str
    cookies: Cookies | None
    csrf: bool
