"""JSON Web Key Sets over HTTP: fetching an issuer's keys, and publishing ours.

:class:`RemoteKeySet` is a key source for :class:`~jwt_wsgi.tokens.Verifier`.
It fetches a JWK Set from ``url`` (or finds the URL by OpenID Connect
discovery from ``issuer``), parses it with PyJWT's JWK types through
:class:`~jwt_wsgi.keys.KeyRing`, and owns the fetching policy the peers get
wrong:

* **Lifetime.** A fetched set is used for ``Cache-Control: max-age`` seconds,
  clamped to ``[min_lifetime, max_lifetime]``, or ``lifetime`` without one.
* **Unknown kid.** A token naming a ``kid`` the set lacks triggers a refetch,
  at most one per ``cooldown`` seconds however many such tokens arrive, so a
  flood of made-up ``kid`` values costs one fetch per window.
* **One fetch at a time.** Requests arriving during a fetch wait for it and
  share its result (no thundering herd).
* **Stale-if-error.** When a fetch fails, the last good set keeps serving for
  ``stale_for`` seconds past its lifetime (logged as a warning); after that
  the middleware fails closed: 401 ``invalid_token``, "the signing keys are
  unavailable". A failed fetch is retried at most once per ``cooldown``.
* **Transport.** Every fetch has a ``timeout``; only ``https://`` URLs (and
  redirects) unless ``allow_http=True``; responses over 1 MiB are refused.
* **Rotation.** When the set changes, the ring changes, so tokens verified
  under a removed key stop passing even if the verified-token cache holds
  them. An unchanged set keeps its ring and the cache stays warm.

:func:`jwks_app` serves a :class:`~jwt_wsgi.minter.Minter`'s public keys at
``/.well-known/jwks.json`` so that one service mints and others verify by URL.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from werkzeug.http import parse_cache_control_header

from .errors import ConfigurationError, InvalidToken
from .keys import KeyRing, validate_algorithms

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

    from .minter import Minter

logger = logging.getLogger("jwt_wsgi")

MAX_RESPONSE_BYTES = 1 << 20


class KeysUnavailable(InvalidToken):
    """401: the issuer's keys could not be fetched and no usable copy is left."""


class FetchError(Exception):
    """A key set or discovery document could not be fetched or understood."""


class _HTTPSOnlyRedirects(urllib.request.HTTPRedirectHandler):
    """Follow redirects only to https URLs (a downgrade would expose the keys)."""

    def redirect_request(
        self, req: Any, fp: Any, code: Any, msg: Any, headers: Any, newurl: str
    ) -> Any:
        if not newurl.startswith("https://"):
            raise FetchError("refused a redirect away from https")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


class RemoteKeySet:
    """An issuer's JWK Set, fetched over HTTP and kept fresh.

    :param url: the JWK Set URL (``jwks_uri``).
    :param algorithms: the allow-list; keys for other algorithms are skipped.
    :param issuer: without ``url``, discover it from
        ``{issuer}/.well-known/openid-configuration`` (whose ``issuer`` must
        match exactly, as OpenID Connect Discovery 4.3 requires).
    :param lifetime: seconds a set is used when the response has no max-age (300).
    :param min_lifetime: lower bound for max-age (60).
    :param max_lifetime: upper bound for max-age (86400).
    :param cooldown: least seconds between two fetches caused by unknown
        ``kid`` values or by failures (30).
    :param stale_for: seconds the last good set keeps serving past its
        lifetime while fetches fail (3600); ``0`` fails closed at once.
    :param timeout: seconds for each HTTP request (5).
    :param allow_http: accept ``http://`` URLs (for tests on loopback only).
    :param clock: returns the current Unix time (``time.time``).
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        algorithms: Sequence[str],
        issuer: str | None = None,
        lifetime: float = 300,
        min_lifetime: float = 60,
        max_lifetime: float = 86400,
        cooldown: float = 30,
        stale_for: float = 3600,
        timeout: float = 5,
        allow_http: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.algorithms = validate_algorithms(algorithms)
        if url is None and issuer is None:
            raise ConfigurationError(
                "a remote key set needs a url or an issuer to discover it from"
            )
        self.allow_http = allow_http
        if url is not None:
            self._check_url(url)
        if issuer is not None and url is None:
            self._check_url(issuer)
        self.url = url
        self.issuer = issuer
        if not 0 < min_lifetime <= lifetime <= max_lifetime:
            raise ConfigurationError("need 0 < min_lifetime <= lifetime <= max_lifetime")
        self.lifetime = lifetime
        self.min_lifetime = min_lifetime
        self.max_lifetime = max_lifetime
        self.cooldown = cooldown
        self.stale_for = stale_for
        self.timeout = timeout
        self.clock = clock
        self._opener = urllib.request.build_opener(_HTTPSOnlyRedirects())
        self._lock = threading.Lock()
        self._ring: KeyRing | None = None
        self._document: Any = None  # the last good set, to spot an unchanged one
        self._fresh_until = -math.inf  # the ring is used without a fetch until then
        self._usable_until = -math.inf  # the ring may serve (stale) until then
        self._last_attempt = -math.inf
        self._attempts = 0
        #: How many HTTP fetches of the key set were made (for monitoring).
        self.fetches = 0

    def current(self) -> KeyRing:
        """The ring in force; refetches when it is due. Raises :class:`KeysUnavailable`."""
        ring = self._ring
        if ring is not None and self.clock() < self._fresh_until:
            return ring
        return self._refresh(force=False)

    def refresh_for(self, kid: str) -> KeyRing:
        """Refetch for an unknown ``kid``, unless a fetch happened within the cooldown."""
        return self._refresh(force=True)

    def _refresh(self, *, force: bool) -> KeyRing:
        attempts_seen = self._attempts
        with self._lock:
            now = self.clock()
            # A request that waited while another fetched shares that result.
            if self._attempts == attempts_seen:
                if force:
                    due = now - self._last_attempt >= self.cooldown
                else:
                    due = now >= self._fresh_until
                if due:
                    self._fetch(now)
            return self._usable(now)

    def _usable(self, now: float) -> KeyRing:
        if self._ring is None or now >= self._usable_until:
            raise KeysUnavailable("the signing keys are unavailable")
        return self._ring

    def _fetch(self, now: float) -> None:
        self._last_attempt = now
        self._attempts += 1
        try:
            document, max_age = self._get_json(self._jwks_url())
            self.fetches += 1
            if document == self._document and self._ring is not None:
                ring = self._ring  # unchanged: keep the ring, and the cache warm
            else:
                ring = KeyRing(document, self.algorithms, skip_unusable=True)
        except (FetchError, ConfigurationError) as exc:
            # Keep what we had; the caller decides whether it is still usable.
            self._fresh_until = now + self.cooldown
            if self._ring is not None and now < self._usable_until:
                logger.warning("key set fetch failed (%s); serving the last good keys", exc)
            else:
                logger.error("key set fetch failed (%s); no usable keys", exc)
            return
        if max_age is None:
            lifetime = self.lifetime
        else:
            lifetime = min(max(max_age, self.min_lifetime), self.max_lifetime)
        self._ring = ring
        self._document = document
        self._fresh_until = now + lifetime
        self._usable_until = now + lifetime + self.stale_for

    def _jwks_url(self) -> str:
        if self.url is None:
            assert self.issuer is not None
            discovery = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
            config, _ = self._get_json(discovery)
            if config.get("issuer") != self.issuer:
                raise FetchError("the discovery document names another issuer")
            url = config.get("jwks_uri")
            if not isinstance(url, str):
                raise FetchError("the discovery document has no jwks_uri")
            try:
                self._check_url(url)
            except ConfigurationError as exc:
                raise FetchError(str(exc)) from None
            self.url = url
        return self.url

    def _get_json(self, url: str) -> tuple[dict[str, Any], float | None]:
        request = urllib.request.Request(url, headers={"Accept": "application/json"})
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                body = response.read(MAX_RESPONSE_BYTES + 1)
                cache_control = response.headers.get("Cache-Control", "")
        except FetchError:
            raise
        except (OSError, urllib.error.URLError, ValueError) as exc:
            raise FetchError(f"{type(exc).__name__} fetching {url}") from None
        if len(body) > MAX_RESPONSE_BYTES:
            raise FetchError(f"the response from {url} is too large")
        try:
            document = json.loads(body)
        except ValueError:
            raise FetchError(f"the response from {url} is not JSON") from None
        if not isinstance(document, dict):
            raise FetchError(f"the response from {url} is not a JSON object")
        max_age = parse_cache_control_header(cache_control).max_age
        return document, float(max_age) if max_age is not None else None

    def _check_url(self, url: str) -> None:
        if url.startswith("https://") or (self.allow_http and url.startswith("http://")):
            return
        raise ConfigurationError(f"key set URLs must use https (got {url!r}); allow_http is off")


def jwks_app(
    minter: Minter, *, path: str = "/.well-known/jwks.json", max_age: int = 300
) -> Callable[[WSGIEnvironment, StartResponse], Iterable[bytes]]:
    """A WSGI app serving ``minter.jwks()`` at ``path`` (404 elsewhere).

    The set is rendered per request so a rotation shows at once; caches may
    keep it ``max_age`` seconds, so keep a retired key published at least that
    long after its last token expires.
    """

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD")
        if environ.get("PATH_INFO") != path or method not in ("GET", "HEAD"):
            start_response("404 Not Found", [("Content-Type", "application/json")])
            return [b'{"error": "not_found"}']
        body = json.dumps(minter.jwks()).encode()
        start_response(
            "200 OK",
            [
                ("Content-Type", "application/jwk-set+json"),
                ("Content-Length", str(len(body))),
                ("Cache-Control", f"public, max-age={max_age}"),
            ],
        )
        return [b""] if method == "HEAD" else [body]

    return app
