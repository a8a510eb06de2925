"""Tokens in browser cookies: names, attributes, and the CSRF double-submit value.

A browser app keeps its tokens where JavaScript cannot read them: in
``HttpOnly`` cookies. The browser then sends them with every request to the
site, including requests another site triggers, so a state-changing request
must also prove it came from the app's own page (CSRF). jwt_wsgi does this
the double-submit way, bound into the token: :meth:`Minter.mint_pair
<jwt_wsgi.minter.Minter.mint_pair>` puts a random ``csrf`` claim in each
token, :meth:`Cookies.set` also sets that value in a cookie the page *can*
read, and the page echoes it in a header (``X-CSRF-Token``) on unsafe methods.
The authenticator compares the header with the claim of the verified token,
in constant time. Another site can make the browser send the cookies, but
cannot read the value to put in the header, and cannot forge a token whose
claim matches a value it planted.

:class:`Cookies` is configured once and used on both sides: the authenticator
reads the token and CSRF names from it, and the login, refresh and logout
views set and clear cookies with it, from any framework (a list of
``Set-Cookie`` headers for ``start_response``, or ``set_cookie`` keywords
for Flask, Django and WebOb responses).
"""

from __future__ import annotations

import math
import re
from typing import Any, Literal

from werkzeug.http import dump_cookie

from . import _checks
from .errors import AmbiguousCredentials, ConfigurationError
from .jose.compact import peek_claim

SameSite = Literal["Lax", "Strict", "None"]
_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")

#: Cookie attributes as the ``set_cookie`` of Flask, Django and WebOb take them.
CookieParams = dict[str, Any]


class Cookies:
    """How tokens travel in cookies: names and attributes, set and cleared alike.

    :param access: the access token's cookie (``"access_token"``), ``HttpOnly``.
    :param refresh: the refresh token's cookie (``"refresh_token"``), ``HttpOnly``.
    :param access_csrf: the readable cookie with the access token's CSRF value
        (``"csrf_access_token"``).
    :param refresh_csrf: the same for the refresh token (``"csrf_refresh_token"``).
    :param csrf_header: the header the page sends the CSRF value in
        (``"X-CSRF-Token"``).
    :param path: ``Path`` of the access cookies (``"/"``).
    :param refresh_path: ``Path`` of the refresh cookies (``"/"``); set it to
        the refresh endpoint's path so the refresh token travels nowhere else.
    :param domain: ``Domain`` (``None``: the host only, the safest).
    :param secure: ``Secure`` (``True``): sent over HTTPS only. Browsers treat
        ``http://localhost`` and ``127.0.0.1`` as secure for development.
    :param samesite: ``"Lax"`` (default), ``"Strict"``, or ``"None"`` (which
        needs ``secure``).
    :param persistent: give cookies a ``Max-Age`` ending when their token
        expires (``True``); ``False`` makes session cookies.
    """

    def __init__(
        self,
        *,
        access: str = "access_token",
        refresh: str = "refresh_token",
        access_csrf: str = "csrf_access_token",
        refresh_csrf: str = "csrf_refresh_token",
        csrf_header: str = "X-CSRF-Token",
        path: str = "/",
        refresh_path: str = "/",
        domain: str | None = None,
        secure: bool = True,
        samesite: SameSite = "Lax",
        persistent: bool = True,
    ) -> None:
        names = {"access": access, "refresh": refresh}
        names |= {"access_csrf": access_csrf, "refresh_csrf": refresh_csrf}
        for option, name in names.items():
            if not isinstance(name, str) or not _NAME.match(name):
                raise ConfigurationError(f"{option} must be a cookie name, not {name!r}")
        if len(set(names.values())) != len(names):
            raise ConfigurationError(f"cookie names must differ: {names}")
        if not isinstance(csrf_header, str) or not re.fullmatch(r"[A-Za-z0-9-]+", csrf_header):
            raise ConfigurationError(f"csrf_header must be a header name, not {csrf_header!r}")
        for option, value in (("path", path), ("refresh_path", refresh_path)):
            if not isinstance(value, str) or not value.startswith("/"):
                raise ConfigurationError(f"{option} must start with '/', not {value!r}")
        if domain is not None and not isinstance(domain, str):
            raise ConfigurationError(f"domain must be a string or None, not {domain!r}")
        self.secure = _checks.flag(secure, "secure")
        self.samesite = _checks.choice(samesite, "samesite", ("Lax", "Strict", "None"))
        if self.samesite == "None" and not self.secure:
            raise ConfigurationError("samesite='None' needs secure=True (browsers refuse it)")
        self.persistent = _checks.flag(persistent, "persistent")
        self.access, self.refresh = access, refresh
        self.access_csrf, self.refresh_csrf = access_csrf, refresh_csrf
        self.csrf_header = csrf_header
        #: The environ key of ``csrf_header``.
        self.csrf_environ_key = "HTTP_" + csrf_header.upper().replace("-", "_")
        self.path, self.refresh_path, self.domain = path, refresh_path, domain

    def params(
        self, access_token: str, refresh_token: str | None = None, *, now: float
    ) -> list[tuple[str, str, CookieParams]]:
        """``(name, value, keywords)`` for ``response.set_cookie`` in Flask, Django, WebOb.

        The tokens' own ``exp`` give each cookie its ``max_age`` (unless the
        cookies are session cookies), and their ``csrf`` claims the readable
        CSRF cookies' values.
        """
        cookies = self._pair(self.access, self.access_csrf, self.path, access_token, now)
        if refresh_token is not None:
            cookies += self._pair(
                self.refresh, self.refresh_csrf, self.refresh_path, refresh_token, now
            )
        return cookies

    def set(
        self, access_token: str, refresh_token: str | None = None, *, now: float
    ) -> list[tuple[str, str]]:
        """The ``("Set-Cookie", value)`` headers for a bare ``start_response``."""
        return [_header(name, value, p) for name, value, p in self.params(
            access_token, refresh_token, now=now
        )]  # fmt: skip

    def clear_params(self) -> list[tuple[str, str, CookieParams]]:
        """``set_cookie`` arguments that delete every cookie :meth:`params` sets."""
        return [
            (name, "", {**self._attributes(path, httponly), "max_age": 0})
            for name, path, httponly in (
                (self.access, self.path, True),
                (self.access_csrf, self.path, False),
                (self.refresh, self.refresh_path, True),
                (self.refresh_csrf, self.refresh_path, False),
            )
        ]

    def clear(self) -> list[tuple[str, str]]:
        """The ``("Set-Cookie", value)`` headers that delete every token cookie."""
        return [_header(name, value, params) for name, value, params in self.clear_params()]

    def _pair(
        self, name: str, csrf_name: str, path: str, token: str, now: float
    ) -> list[tuple[str, str, CookieParams]]:
        exp = peek_claim(token, "exp", len(token))
        lifetime: int | None = None
        if self.persistent and isinstance(exp, int | float) and not isinstance(exp, bool):
            lifetime = max(0, math.floor(exp - now))
        cookies = [(name, token, {**self._attributes(path, True), "max_age": lifetime})]
        csrf = peek_claim(token, "csrf", len(token))
        if isinstance(csrf, str):
            cookies.append(
                (csrf_name, csrf, {**self._attributes(path, False), "max_age": lifetime})
            )
        return cookies

    def _attributes(self, path: str, httponly: bool) -> CookieParams:
        return {
            "path": path,
            "domain": self.domain,
            "secure": self.secure,
            "httponly": httponly,
            "samesite": self.samesite,
        }


def _header(name: str, value: str, params: CookieParams) -> tuple[str, str]:
    return ("Set-Cookie", dump_cookie(name, value, **params))


def read_cookie(header: str, name: str) -> str | None:
    """The value of cookie ``name`` in a ``Cookie`` header, or ``None``.

    Fast on purpose (it runs on cache hits): a forward scan with ``str.find``.
    Two cookies of the name with different values (a sibling domain or path
    planting one) are refused with
    :class:`~jwt_wsgi.errors.AmbiguousCredentials` rather than guessed between.
    """
    key = name + "="
    found: str | None = None
    start = header.find(key)
    while start != -1:
        if start and header[start - 1] not in " ;":
            start = header.find(key, start + 1)  # inside another name (csrf_access_token)
            continue
        end = header.find(";", start)
        value = header[start + len(key) : end] if end != -1 else header[start + len(key) :]
        if value[:1] == " " or value[-1:] == " ":
            value = value.strip()
        if len(value) > 1 and value[0] == '"' and value[-1] == '"':
            value = value[1:-1]
        if found is not None and value != found:
            raise AmbiguousCredentials(f"the request carries two different {name} cookies")
        found = value
        start = header.find(key, end) if end != -1 else -1
    return found
