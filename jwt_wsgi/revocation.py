"""Revocation: a denylist consulted on every request, for logout that takes effect at once.

The authenticator asks its ``revocation=`` store on every request, cache hits
included, so a revocation stops a token at its next request. A store answers
for four kinds of entry, all in one look-up (dictionary look-ups in a Redis
store's local mirror, one ``MGET`` when the mirror is out of sync):

* **one token**, by its id: its ``jti``, or for a token without one a digest
  of the token itself (:meth:`DenylistStore.revoke_token`), so tokens from
  any claims loader can be revoked;
* **a family**, the ``fam`` claim :meth:`Minter.mint_pair
  <jwt_wsgi.minter.Minter.mint_pair>` gives every token of one login, so a
  refresh token used twice, or a logout, ends the whole session;
* **everything a subject (``sub``) or a session (``sid``) was issued before
  an instant** (:meth:`DenylistStore.revoke_before`): "log out everywhere";
* and it records **single use** of refresh tokens
  (:meth:`DenylistStore.first_use`), for rotation with reuse detection.

Every entry expires when nothing it refuses can still be alive (the token's
``exp``, or the longest token lifetime for a watermark), so the store never
grows without bound.

* :class:`MemoryRevocationStore`: one process (thread-safe).
* :class:`RedisRevocationStore`: every process and machine behind a load
  balancer shares one denylist (redis-py; Redis 7.0 or newer), each process
  checking against a local mirror that follows changes through pub/sub.
* Any ``is_revoked(claims) -> bool`` callable works too.

A store that cannot answer raises
:class:`~jwt_wsgi.errors.RevocationUnavailable`; the authenticator then fails
closed (503, :class:`~jwt_wsgi.errors.RevocationCheckFailed`) by default, or
open if configured so.
"""

from __future__ import annotations

import functools
import heapq
import logging
import math
import os
import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from . import _checks
from ._checks import Duration
from .errors import ConfigurationError, RevocationUnavailable
from .tokens import peek_claim, token_id

logger = logging.getLogger("jwt_wsgi")

_PING_EVERY = 0.5  # seconds between the mirror's PINGs on its subscription
_SILENCE = 1.5  # seconds without a word from Redis after which the mirror is out of sync

__all__ = [
    "DenylistStore",
    "MemoryRevocationStore",
    "RedisRevocationStore",
    "RevocationStore",
    "RevocationUnavailable",
    "token_id",
]


class RevocationStore(Protocol):
    """What the authenticator needs of a store."""

    def is_revoked(self, claims: Mapping[str, Any]) -> bool:
        """Whether the token with these claims has been revoked."""
        ...


class DenylistStore:
    """The operations both stores share, on three primitives each store provides.

    :param default_ttl: seconds to remember a revocation whose token expiry is
        unknown (86400).
    :param max_token_lifetime: the longest lifetime of any token the store
        answers for (30 days): how long a "revoked before" watermark is kept.
    :param clock: returns the current Unix time (``time.time``).
    """

    def __init__(
        self,
        *,
        default_ttl: Duration = 86400,
        max_token_lifetime: Duration = 30 * 86400,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.default_ttl = _checks.seconds(default_ttl, "default_ttl", positive=True)
        self.max_token_lifetime = _checks.seconds(
            max_token_lifetime, "max_token_lifetime", positive=True
        )
        self.clock = _checks.function(clock, "clock", "() -> float")

    # -- what stores implement ------------------------------------------------------

    def _get_many(self, keys: Sequence[str]) -> list[str | None]:
        raise NotImplementedError

    def _set(self, key: str, value: str, until: float) -> None:
        raise NotImplementedError

    def _set_first(self, key: str, value: str, until: float) -> str | None:
        """Set ``key`` unless it exists; the earlier value, or ``None`` if this set it."""
        raise NotImplementedError

    # -- the denylist ------------------------------------------------------------------

    def revoke(
        self, claims_or_jti: Mapping[str, Any] | str, *, expires_at: float | None = None
    ) -> None:
        """Revoke a token by its claims (``jti``, ``exp``) or by its ``jti``."""
        if isinstance(claims_or_jti, str):
            jti: Any = claims_or_jti
        else:
            jti = claims_or_jti.get("jti")
            exp = claims_or_jti.get("exp")
            if expires_at is None and isinstance(exp, int | float) and not isinstance(exp, bool):
                expires_at = float(exp)
        if not isinstance(jti, str) or not jti:
            raise ConfigurationError(
                "only tokens with a string 'jti' claim can be revoked by claims; "
                "revoke_token(token) revokes any token"
            )
        self._revoke("id:" + jti, expires_at)

    def revoke_token(self, token: str, *, expires_at: float | None = None) -> None:
        """Revoke one token (by its ``jti``, or a digest when it has none), until its ``exp``."""
        exp = peek_claim(token, "exp", len(token))
        if expires_at is None and isinstance(exp, int | float) and not isinstance(exp, bool):
            expires_at = float(exp)
        self._revoke("id:" + token_id(token), expires_at)

    def revoke_family(self, family: str, *, expires_at: float | None = None) -> None:
        """Revoke every token of one login (its ``fam`` claim): refresh and access alike.

        ``expires_at`` should be the last ``exp`` of the family's refresh
        tokens; without it the entry lasts ``max_token_lifetime``.
        """
        if not isinstance(family, str) or not family:
            raise ConfigurationError("a family is the non-empty 'fam' claim of a token")
        until = expires_at if expires_at is not None else self.clock() + self.max_token_lifetime
        self._revoke("fam:" + family, until)

    def revoke_before(
        self, *, sub: str | None = None, sid: str | None = None, at: float | None = None
    ) -> None:
        """Revoke every token of a subject and/or session issued (``iat``) before ``at`` (now).

        "Log out everywhere": kept ``max_token_lifetime`` seconds, after which
        no token issued before ``at`` can still be valid. Tokens issued in the
        same second as ``at`` stay valid, so a login right after the logout works.
        """
        if sub is None and sid is None:
            raise ConfigurationError("revoke_before needs sub=, sid= or both")
        instant = math.floor(self.clock() if at is None else at)
        until = instant + self.max_token_lifetime
        for kind, value in (("sub", sub), ("sid", sid)):
            if value is not None:
                if not isinstance(value, str) or not value:
                    raise ConfigurationError(f"{kind} must be a non-empty string")
                self._set(f"{kind}:{value}", str(instant), until)

    def is_revoked(self, claims: Mapping[str, Any], *, token_id: str | None = None) -> bool:
        """Whether the token, its family, or its subject's or session's watermark revokes it.

        :param token_id: the token's id (see :func:`token_id`); its ``jti`` by default.
        """
        return self.is_revoked_by(self.keys_for(claims, token_id), claims.get("iat"))

    def keys_for(self, claims: Mapping[str, Any], token_id: str | None = None) -> tuple[str, ...]:
        """The entries that could revoke a token with these claims.

        They depend on the claims alone, so the authenticator computes them
        once per verified token and asks :meth:`is_revoked_by` per request.
        """
        keys: list[str] = []
        ident = token_id if token_id is not None else claims.get("jti")
        if isinstance(ident, str):
            keys.append("id:" + ident)
        for kind in ("fam", "sub", "sid"):
            value = claims.get(kind)
            if isinstance(value, str):
                keys.append(f"{kind}:{value}")
        return tuple(keys)

    def is_revoked_by(self, keys: Sequence[str], iat: Any) -> bool:
        """Whether any of ``keys`` (from :meth:`keys_for`) revokes a token issued at ``iat``."""
        if not keys:
            return False
        for key, value in zip(keys, self._get_many(keys), strict=True):
            if value is None:
                continue
            if key.startswith(("id:", "fam:")):
                return True
            if not isinstance(iat, int | float) or isinstance(iat, bool) or iat < float(value):
                return True  # issued before the watermark (or unknowable)
        return False

    def first_use(self, ident: str, *, expires_at: float | None = None) -> float | None:
        """Record that a single-use token is used now; ``None`` the first time.

        Any later call returns the time of the first use, atomically across
        every process sharing the store: refresh rotation with reuse detection.
        """
        now = self.clock()
        until = expires_at if expires_at is not None else now + self.default_ttl
        earlier = self._set_first("used:" + ident, repr(now), until)
        return None if earlier is None else float(earlier)

    def _revoke(self, key: str, expires_at: float | None) -> None:
        now = self.clock()
        until = expires_at if expires_at is not None else now + self.default_ttl
        if until > now:  # an expired token needs no entry: it is refused anyway
            self._set(key, "1", until)


class MemoryRevocationStore(DenylistStore):
    """A denylist in this process's memory (thread-safe). Options as :class:`DenylistStore`."""

    def __init__(
        self,
        *,
        default_ttl: Duration = 86400,
        max_token_lifetime: Duration = 30 * 86400,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(
            default_ttl=default_ttl, max_token_lifetime=max_token_lifetime, clock=clock
        )
        self._entries: dict[str, tuple[str, float]] = {}
        # Expiry instants in a heap, so a write drops the expired entries in
        # O(log n) each instead of scanning them all: with DPoP every request
        # writes a proof id.
        self._expiries: list[tuple[float, str]] = []
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def _get_many(self, keys: Sequence[str]) -> list[str | None]:
        now = self.clock()
        values: list[str | None] = []
        for key in keys:
            entry = self._entries.get(key)
            values.append(entry[0] if entry is not None and now < entry[1] else None)
        return values

    def _set(self, key: str, value: str, until: float) -> None:
        with self._lock:
            self._purge(self.clock())
            self._entries[key] = (value, until)
            heapq.heappush(self._expiries, (until, key))

    def _set_first(self, key: str, value: str, until: float) -> str | None:
        with self._lock:
            now = self.clock()
            self._purge(now)
            entry = self._entries.get(key)
            if entry is not None and now < entry[1]:
                return entry[0]
            self._entries[key] = (value, until)
            heapq.heappush(self._expiries, (until, key))
            return None

    def _purge(self, now: float) -> None:
        # Runs on writes only, so reads stay dictionary look-ups.
        expiries = self._expiries
        while expiries and expiries[0][0] <= now:
            until, key = heapq.heappop(expiries)
            entry = self._entries.get(key)
            if entry is not None and entry[1] == until:  # not rewritten since
                del self._entries[key]


class RedisRevocationStore(DenylistStore):
    """A denylist in Redis, shared by every process that points at it, mirrored in each.

    Each entry is a key ``{prefix}{kind}:{id}`` that Redis expires when
    nothing it refuses can be alive (``SET ... EXAT``), its value carrying that
    instant too; single use is one ``SET ... NX GET``.

    **The mirror** (``mirror=True``, the default) keeps a copy of the live
    denylist in this process, so a request's check is dictionary look-ups,
    not a round trip. Every write is ``SET`` and ``PUBLISH`` in one
    transaction; a thread of each store subscribes to the channel first, then
    loads the whole denylist (so no change can fall between the two), then
    applies every change it hears. While the mirror is known to be in sync,
    checks are local. The moment it may not be (the subscription dropped, the
    thread is reconnecting, Redis restarted: its ``run_id`` changed), checks
    ask Redis again, one ``MGET`` each, until a resync completes; and when
    Redis cannot answer either, :class:`~jwt_wsgi.errors.RevocationUnavailable`
    is raised, so the authenticator's ``revocation_unavailable`` decides.

    A Redis restart without persistence loses the denylist, and the mirrors
    resync to that: configure Redis persistence (``appendonly yes``) for a
    denylist that must survive restarts, or re-seed it from your own record
    of revocations after one (a log message says when a restart was seen).

    :param client: a ``redis.Redis`` client (its timeouts apply; set
        ``socket_timeout`` so an unreachable server cannot stall requests).
    :param prefix: key prefix (``"jwt_wsgi:revoked:"``); the change channel is
        ``{prefix}changes``.
    :param mirror: keep the local mirror (``True``).

    The other options are :class:`DenylistStore`'s.
    """

    def __init__(
        self,
        client: Any,
        *,
        prefix: str = "jwt_wsgi:revoked:",
        mirror: bool = True,
        default_ttl: Duration = 86400,
        max_token_lifetime: Duration = 30 * 86400,
        clock: Callable[[], float] = time.time,
    ) -> None:
        import redis

        super().__init__(
            default_ttl=default_ttl, max_token_lifetime=max_token_lifetime, clock=clock
        )
        self._client = client
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        if not isinstance(prefix, str):
            raise ConfigurationError(f"prefix must be a string, not {prefix!r}")
        self.prefix = prefix
        self.channel = prefix + "changes"
        self._mirror: dict[str, tuple[str, float]] = {}
        #: Whether checks are answered from the mirror (it is known to be in sync).
        self.in_sync = False
        #: How many times the mirror (re)loaded the denylist, for monitoring.
        self.syncs = 0
        self._run_id: str | None = None
        self._mirrored = _checks.flag(mirror, "mirror")
        self._stopped = threading.Event()
        self._starting = threading.Lock()
        self._follower: threading.Thread | None = None
        if self._mirrored:
            # A forked child (gunicorn --preload) inherits the mirror but not
            # the thread that keeps it current: it must not trust it.
            os.register_at_fork(after_in_child=functools.partial(_forked, weakref.ref(self)))
            self._follow_in_background()

    @classmethod
    def from_url(cls, url: str, *, timeout: float = 0.5, **options: Any) -> RedisRevocationStore:
        """A store for ``redis://host:port/db`` with short socket timeouts (mirrored)."""
        import redis

        client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        return cls(client, **options)

    def close(self) -> None:
        """Stop following changes (the mirror is no longer used)."""
        self._mirrored = self.in_sync = False
        self._stopped.set()
        if self._follower is not None:
            self._follower.join(timeout=5)

    def wait_in_sync(self, timeout: float) -> bool:
        """Wait until the mirror answers checks; ``False`` if it does not within ``timeout``
        (at once without a mirror)."""
        if not self._mirrored:
            return False
        self._follow_in_background()
        deadline = time.monotonic() + timeout
        while not self.in_sync:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    # -- the three primitives -----------------------------------------------------------

    def _get_many(self, keys: Sequence[str]) -> list[str | None]:
        if self.in_sync:
            now = self.clock()
            mirror = self._mirror
            values: list[str | None] = []
            for key in keys:
                entry = mirror.get(key)
                values.append(entry[0] if entry is not None and now < entry[1] else None)
            return values
        if self._mirrored and self._follower is None:
            self._follow_in_background()  # the first check after a fork
        try:
            raw = self._client.mget([self.prefix + key for key in keys])
        except self._errors as exc:
            raise RevocationUnavailable(f"redis: {type(exc).__name__}") from exc
        return [None if v is None else _decode(v)[0] for v in raw]

    def _set(self, key: str, value: str, until: float) -> None:
        stored = f"{value}|{until!r}"
        try:
            pipe = self._client.pipeline(transaction=True)
            pipe.set(self.prefix + key, stored, exat=math.ceil(until))
            pipe.publish(self.channel, f"{key}\n{stored}")
            pipe.execute()
        except self._errors as exc:
            raise RevocationUnavailable(f"redis: {type(exc).__name__}") from exc
        self._mirror[key] = (value, until)  # this process sees its own write at once

    def _set_first(self, key: str, value: str, until: float) -> str | None:
        try:
            earlier = self._client.set(
                self.prefix + key, f"{value}|{until!r}", exat=math.ceil(until), nx=True, get=True
            )
        except self._errors as exc:
            raise RevocationUnavailable(f"redis: {type(exc).__name__}") from exc
        return None if earlier is None else _decode(earlier)[0]

    # -- the mirror ------------------------------------------------------------------

    def _follow_in_background(self) -> None:
        with self._starting:
            if self._mirrored and self._follower is None:
                self._follower = threading.Thread(
                    target=self._follow, name="jwt_wsgi revocation mirror", daemon=True
                )
                self._follower.start()

    def _after_fork(self) -> None:
        self.in_sync = False
        self._stopped = threading.Event()
        self._starting = threading.Lock()
        self._follower = None

    def _follow(self) -> None:
        """Subscribe, load, apply changes; on any failure fall back, then resync."""
        pause = 0.05
        while not self._stopped.is_set():
            syncs = self.syncs
            try:
                self._follow_once()
            except Exception as exc:
                # Any failure (a dropped connection, a restart, a bug) leaves the
                # mirror unknown: checks ask Redis until the next resync.
                self.in_sync = False
                synced = self.syncs > syncs  # this attempt had got in sync
                if synced:
                    pause = 0.05  # the first retry comes quickly
                if not isinstance(exc, self._errors):
                    logger.exception("revocation mirror failed; asking Redis per request")
                elif synced:
                    logger.warning(
                        "revocation mirror out of sync (%s); asking Redis per request",
                        type(exc).__name__,
                    )
            if self._stopped.wait(pause):
                return
            pause = min(pause * 2, 1.0)

    def _follow_once(self) -> None:
        import redis

        pubsub = self._client.pubsub()
        try:
            pubsub.subscribe(self.channel)
            deadline = time.monotonic() + _SILENCE
            while pubsub.get_message(timeout=0.2) is None:  # the subscription's confirmation
                if self._stopped.is_set():
                    return
                if time.monotonic() > deadline:
                    raise redis.TimeoutError("no subscription confirmation")
            loaded = self._load()
            run_id = self._client.info("server").get("run_id")
            if self._run_id is not None and run_id != self._run_id:
                logger.warning(
                    "Redis restarted (a new run_id): revocations made before the restart "
                    "are gone unless Redis persists them; the mirror resyncs to what remains"
                )
            self._run_id = run_id
            self._mirror = loaded
            while (message := pubsub.get_message(timeout=0)) is not None:
                self._apply(message)  # changes heard while loading
            self.in_sync = True
            self.syncs += 1
            heard = pinged = time.monotonic()
            while not self._stopped.is_set():
                message = pubsub.get_message(timeout=0.2)
                now = time.monotonic()
                if message is not None:
                    heard = now
                    self._apply(message)
                elif now - heard > _SILENCE:
                    # A silent connection (a hung server, a lost route) is as
                    # good as a dropped one: the last PING went unanswered.
                    raise redis.TimeoutError("no answer to PING")
                if now - pinged >= _PING_EVERY:
                    pubsub.ping()
                    pinged = now
                    self._purge()
        finally:
            self.in_sync = False
            pubsub.close()

    def _load(self) -> dict[str, tuple[str, float]]:
        loaded: dict[str, tuple[str, float]] = {}
        keys = [
            k for k in self._client.scan_iter(match=self.prefix + "*", count=1000)
            if not _key(k).startswith(self.prefix + "used:") and _key(k) != self.channel
        ]  # fmt: skip
        for start in range(0, len(keys), 1000):
            batch = keys[start : start + 1000]
            for key, raw in zip(batch, self._client.mget(batch), strict=True):
                if raw is not None:
                    loaded[_key(key)[len(self.prefix) :]] = _decode(raw)
        return loaded

    def _apply(self, message: dict[str, Any]) -> None:
        if message.get("type") != "message":
            return
        data = message["data"]
        key, _, stored = (data.decode() if isinstance(data, bytes) else data).partition("\n")
        self._mirror[key] = _decode(stored)

    def _purge(self) -> None:
        now = self.clock()
        for key in [k for k, (_, until) in list(self._mirror.items()) if until <= now]:
            self._mirror.pop(key, None)


def _forked(store: weakref.ref[RedisRevocationStore]) -> None:
    mirrored = store()
    if mirrored is not None:
        mirrored._after_fork()


def _key(key: Any) -> str:
    return key.decode() if isinstance(key, bytes) else str(key)


def _decode(raw: Any) -> tuple[str, float]:
    """A stored ``value|until`` as ``(value, until)`` (an old bare value lasts forever)."""
    text = raw.decode() if isinstance(raw, bytes) else str(raw)
    value, _, until = text.rpartition("|")
    if not value:
        return text, math.inf
    try:
        return value, float(until)
    except ValueError:
        return text, math.inf
