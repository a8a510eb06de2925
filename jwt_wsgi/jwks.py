"""JSON Web Key Sets over HTTP: fetching an issuer's keys, and publishing ours.

:class:`RemoteKeySet` is a key source for a :class:`~jwt_wsgi.providers.Provider`.
It fetches a JWK Set from ``url`` (or finds the URL by OpenID Connect
discovery from ``issuer``), builds a :class:`~jwt_wsgi.jose.keys.KeyRing` from it,
and owns the fetching policy:

* **Lifetime.** A fetched set is used for ``Cache-Control: max-age`` seconds,
  clamped to ``[min_lifetime, max_lifetime]``, or ``lifetime`` without one.
* **Refresh ahead, off the request path.** Once 80% of the lifetime has
  passed, the next request starts a refresh in a background thread and goes
  on with the keys it has. A request waits (for at most ``timeout`` seconds)
  only for the very first fetch, an unknown-``kid`` refetch, and a set whose
  lifetime ran out with no request during the refresh window; a set is never
  used past its lifetime unless a fetch has failed. A hanging key server
  cannot stall requests whose keys are known.
* **One fetch at a time.** A request that must wait shares the fetch in
  flight (no thundering herd).
* **Unknown kid.** A token naming a ``kid`` the set lacks triggers a refetch
  unless a fetch began within the last ``cooldown`` seconds, so a flood of
  made-up ``kid`` values costs one fetch per window. One request at a time
  waits for that refetch; other unknown-kid requests meanwhile are refused
  at once (``kid_unknown``), so a hanging key server and made-up kids hold
  at most one thread, and requests whose kid is known never queue behind
  them. The flood does not delay the lifetime refresh, so a genuine rotation
  is seen within the set's lifetime whatever the flood.
* **Failures.** Every way a fetch can fail (connection, TLS, a reply that is
  not HTTP or is cut short, a status other than 200, oversize, bad JSON, a set
  with no usable key, the deadline) is one failed fetch: logged once, without
  a traceback, then retried after a backoff that starts at ``retry_after``
  seconds and doubles up to ``cooldown``, so the end of an outage is noticed
  within seconds.
* **Stale-if-error.** While fetches fail, the last good set keeps serving until
  ``stale_for`` seconds past its lifetime, never longer; then tokens are
  refused with :class:`~jwt_wsgi.errors.KeysUnavailable` until a fetch
  succeeds. ``stale_for=0`` fails closed the moment the lifetime ends.
* **Transport.** ``timeout`` is a deadline for the whole fetch (discovery,
  connect, TLS, headers, body, redirects), kept even against a server that
  sends one byte at a time. Only ``https://`` URLs unless ``allow_http=True``,
  and redirects only to ``https://``; responses over 1 MiB are refused. Proxy settings from
  the environment are not used: key sets are fetched directly.
* **Rotation.** When the set changes, the ring changes, so tokens verified
  under a removed key stop passing even if the verified-token cache holds
  them. An unchanged set keeps its ring and the cache stays warm.

Lifetimes are measured on ``time.monotonic`` by default, so a wall-clock jump
neither expires a set early nor keeps it past its time.

:func:`~jwt_wsgi.endpoints.jwks_app` serves a :class:`~jwt_wsgi.minter.Minter`'s public keys at
``/.well-known/jwks.json`` so that one service mints and others verify by URL.
"""

from __future__ import annotations

import logging
import math
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from . import _checks
from ._compat import moved
from ._http import FetchError, get_json
from .errors import ConfigurationError, KeysUnavailable
from .jose.keys import KeyRing, validate_algorithms

if TYPE_CHECKING:
    from ._checks import Duration

__all__ = ["KeysUnavailable", "RemoteKeySet"]

logger = logging.getLogger("jwt_wsgi")

#: The share of a set's lifetime after which a request starts a background refresh.
REFRESH_AHEAD = 0.8


class RemoteKeySet:
    """An issuer's JWK Set, fetched over HTTP and kept fresh in the background.

    :param url: the JWK Set URL (``jwks_uri``).
    :param algorithms: the allow-list; keys for other algorithms are skipped.
    :param issuer: without ``url``, discover it from
        ``{issuer}/.well-known/openid-configuration`` (whose ``issuer`` must
        match exactly, as OpenID Connect Discovery 4.3 requires); it must then
        be an https URL. With ``url`` it is any string.
    :param lifetime: seconds a set is used when the response has no max-age (300).
    :param min_lifetime: lower bound for max-age (60).
    :param max_lifetime: upper bound for max-age (86400).
    :param cooldown: least seconds between two refetches for unknown ``kid``
        values, and the cap of the retry backoff (30).
    :param stale_for: seconds the last good set keeps serving past its
        lifetime while fetches fail (3600); ``0`` fails closed at once.
    :param timeout: seconds for a whole fetch, discovery included (5).
    :param retry_after: seconds before the first retry after a failed fetch,
        doubling with each further failure up to ``cooldown`` (2).
    :param allow_http: accept ``http://`` URLs (for tests on loopback only).
    :param ssl_context: the TLS settings for fetches (the system's trust store).
    :param clock: returns seconds for lifetimes (``time.monotonic``).

    Durations take seconds or a ``timedelta``.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        algorithms: Sequence[str],
        issuer: str | None = None,
        lifetime: Duration = 300,
        min_lifetime: Duration = 60,
        max_lifetime: Duration = 86400,
        cooldown: Duration = 30,
        stale_for: Duration = 3600,
        timeout: Duration = 5,
        retry_after: Duration = 2,
        allow_http: bool = False,
        ssl_context: ssl.SSLContext | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.algorithms = validate_algorithms(algorithms)
        if url is None and issuer is None:
            raise ConfigurationError(
                "a remote key set needs a url or an issuer to discover it from"
            )
        self.allow_http = _checks.flag(allow_http, "allow_http")
        # An issuer is a StringOrURI (RFC 7519 4.1.1), "billing" or "accounts.google.com"
        # as well as a URL: it must be an https URL only when discovery starts from it.
        if url is not None:
            self._check_url(url, "url")
        elif not isinstance(issuer, str) or not issuer.startswith(("https://", "http://")):
            raise ConfigurationError(
                f"keys are discovered from an https issuer URL; {issuer!r} is not one: "
                "give jwks_url= (or key=) for this issuer"
            )
        else:
            self._check_url(issuer, "issuer")
        self.url = url
        self.issuer = issuer
        self.lifetime = _checks.seconds(lifetime, "lifetime", positive=True)
        self.min_lifetime = _checks.seconds(min_lifetime, "min_lifetime", positive=True)
        self.max_lifetime = _checks.seconds(max_lifetime, "max_lifetime", positive=True)
        if not self.min_lifetime <= self.lifetime <= self.max_lifetime:
            raise ConfigurationError("need min_lifetime <= lifetime <= max_lifetime")
        self.cooldown = _checks.seconds(cooldown, "cooldown")
        self.stale_for = _checks.seconds(stale_for, "stale_for")
        self.timeout = _checks.seconds(timeout, "timeout", positive=True)
        self.retry_after = _checks.seconds(retry_after, "retry_after")
        if ssl_context is not None and not isinstance(ssl_context, ssl.SSLContext):
            raise ConfigurationError("ssl_context must be an ssl.SSLContext")
        self.ssl_context = ssl_context
        self.clock = _checks.function(clock, "clock", "() -> float")
        self._lock = threading.Lock()
        self._ring: KeyRing | None = None
        self._document: Any = None  # the last good set, to spot an unchanged one
        self._refresh_at = -math.inf  # a request after this starts a refresh
        self._expires = -math.inf  # the end of the set's lifetime
        self._usable_until = -math.inf  # the ring may serve (stale) until then
        self._retry_at = -math.inf  # no fetch before then (backoff after failures)
        self._started_at = -math.inf  # when the last fetch began
        self._failures = 0  # consecutive failed fetches
        self._inflight: threading.Event | None = None
        self._kid_waiter = threading.Lock()  # held by the one request waiting on an unknown kid
        #: Fetches that succeeded, and fetches that failed (for monitoring).
        self.fetches = 0
        self.failed_fetches = 0
        #: Why the last fetch failed (``None`` once one succeeds), for operators.
        self.last_failure: str | None = None

    def current(self) -> KeyRing:
        """The ring in force. Raises :class:`~jwt_wsgi.errors.KeysUnavailable`.

        Called on every request: while the set is fresh this is one clock read
        and a comparison.
        """
        ring = self._ring
        if ring is not None and self.clock() < self._refresh_at:
            return ring
        return self._serve(force=False)

    def refresh_for(self, kid: str) -> KeyRing:
        """Refetch for an unknown ``kid``, unless one did within the cooldown."""
        return self._serve(force=True)

    def settle(self, timeout: float | None = None) -> bool:
        """Wait until no fetch is running; ``False`` if one still is after ``timeout``.

        For tests and orderly shutdown; requests never need it.
        """
        done = self._inflight
        return done is None or done.wait(timeout)

    def _serve(self, *, force: bool) -> KeyRing:
        """Start a fetch when one is due; wait for it only when the ring cannot answer.

        The state is read without the lock (each attribute read is atomic, and
        a fetch that lands meanwhile only makes the answer microseconds old);
        the lock is taken only to start a fetch, and the decision is checked
        again under it, so requests that go on with the keys they have never
        queue behind each other and no fetch is started twice.
        """
        now = self.clock()
        ready = self._ready(now)
        done = self._inflight
        if done is None and self._due(now, ready, force):
            with self._lock:
                done = self._inflight
                if done is None and self._due(now, self._ready(now), force):
                    done = self._start_fetch()
        if done is not None:
            if not ready:
                done.wait(self.timeout)  # no usable keys at all: every request needs this fetch
            elif force and self._kid_waiter.acquire(blocking=False):
                # An unknown kid: one request at a time waits for the refetch; the
                # others are answered with the keys at hand, so made-up kids and a
                # hanging key server cannot hold every thread of a server.
                try:
                    done.wait(self.timeout)
                finally:
                    self._kid_waiter.release()
        ring = self._ring
        if ring is None or self.clock() >= self._usable_until:
            raise KeysUnavailable()
        return ring

    def _ready(self, now: float) -> bool:
        """Whether the ring answers without waiting: within its lifetime (a refresh
        may be running ahead of expiry), or past it once a fetch has failed
        (stale-if-error), and never past ``usable_until``."""
        return (
            self._ring is not None
            and now < self._usable_until
            and (now < self._expires or self._failures > 0)
        )

    def _due(self, now: float, ready: bool, force: bool) -> bool:
        """Whether a fetch should start now (outside any backoff after a failure)."""
        if now < self._retry_at:
            return False
        if force:  # an unknown kid: at most one fetch per cooldown
            return now - self._started_at >= self.cooldown
        return not ready or now >= self._refresh_at

    def _start_fetch(self) -> threading.Event:
        """Begin a fetch in a thread of its own (the lock is held)."""
        done = threading.Event()
        self._inflight = done
        self._started_at = self.clock()
        threading.Thread(
            target=self._fetch, args=(done,), name="jwt_wsgi key set fetch", daemon=True
        ).start()
        return done

    def _fetch(self, done: threading.Event) -> None:
        try:
            try:
                document, max_age = self._download()
                if document == self._document and self._ring is not None:
                    ring = self._ring  # unchanged: keep the ring, and the cache warm
                else:
                    ring = KeyRing(document, self.algorithms, skip_unusable=True)
            except (FetchError, ConfigurationError) as exc:
                self._failed(str(exc))
            except Exception:
                logger.exception("unexpected error fetching the key set from %s", self.url)
                self._failed("unexpected error")
            else:
                self._succeeded(ring, document, max_age)
        finally:
            with self._lock:
                self._inflight = None
            done.set()

    def _succeeded(self, ring: KeyRing, document: Any, max_age: float | None) -> None:
        if max_age is None:
            lifetime = self.lifetime
        else:
            lifetime = min(max(max_age, self.min_lifetime), self.max_lifetime)
        with self._lock:
            now = self.clock()
            self._ring = ring
            self._document = document
            self._refresh_at = now + lifetime * REFRESH_AHEAD
            self._expires = now + lifetime
            self._usable_until = now + lifetime + self.stale_for
            self._failures = 0
            self._retry_at = -math.inf
            self.fetches += 1
            self.last_failure = None

    def _failed(self, reason: str) -> None:
        with self._lock:
            now = self.clock()
            self._failures += 1
            self.failed_fetches += 1
            self.last_failure = reason
            backoff = min(self.cooldown, self.retry_after * 2 ** (self._failures - 1))
            self._retry_at = now + backoff
            usable_for = self._usable_until - now if self._ring is not None else 0
        if usable_for > 0:
            logger.warning(
                "key set fetch failed (%s); serving the last good keys for %.0f s more, "
                "retrying in %.0f s",
                reason,
                usable_for,
                backoff,
            )
        else:
            logger.error(
                "key set fetch failed (%s); no usable keys, retrying in %.0f s", reason, backoff
            )

    def _download(self) -> tuple[dict[str, Any], float | None]:
        """The set and its max-age, discovery included, within one deadline."""
        deadline = time.monotonic() + self.timeout
        url = self.url if self.url is not None else self._discover(deadline)
        document, max_age = self._get(url, deadline)
        if not isinstance(document.get("keys"), list):
            raise FetchError(f"the response from {url} is not a JWK Set (no 'keys' list)")
        return document, max_age

    def _get(self, url: str, deadline: float) -> tuple[dict[str, Any], float | None]:
        return get_json(
            url,
            timeout=deadline - time.monotonic(),
            ssl_context=self.ssl_context,
        )

    def _discover(self, deadline: float) -> str:
        assert self.issuer is not None
        discovery = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
        config, _ = self._get(discovery, deadline)
        if config.get("issuer") != self.issuer:
            raise FetchError("the discovery document names another issuer")
        url = config.get("jwks_uri")
        if not isinstance(url, str):
            raise FetchError("the discovery document has no jwks_uri")
        try:
            self._check_url(url, "jwks_uri")
        except ConfigurationError as exc:
            raise FetchError(str(exc)) from None
        self.url = url
        return url

    def _check_url(self, url: str, option: str) -> None:
        if not isinstance(url, str):
            raise ConfigurationError(f"{option} must be a URL string, not {type(url).__name__}")
        if url.startswith("https://") or (self.allow_http and url.startswith("http://")):
            return
        raise ConfigurationError(
            f"{option} must use https (got {url!r}); allow_http is for loopback tests only"
        )


# jwks_app moved to jwt_wsgi.endpoints in 0.3, beside the other endpoints a minter serves.
__getattr__ = moved("jwt_wsgi.jwks", {"jwt_wsgi.endpoints": ("jwks_app",)})
