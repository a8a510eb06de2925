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
import secrets
import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from . import _checks
from ._checks import Duration
from .errors import ConfigurationError, RevocationUnavailable
from .jose.compact import peek_claim, token_id
from .redisconn import NotAcknowledged, RedisConnection

logger = logging.getLogger("jwt_wsgi")

_PING_EVERY = 0.5  # seconds between the mirror's PINGs and state checks
_SILENCE = 1.5  # seconds without a word from Redis after which the mirror is out of sync
_DOWN_PAUSE = 0.5  # seconds after a failed try during which checks do not wait on Redis
_BATCH = 500  # entries per write-back script
_RETRY_AT_MOST = 0.25  # seconds between the mirror's tries to get back in sync
_KINDS = ("id:", "fam:", "sub:", "sid:")  # what the mirror holds (not used: records)

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
    instant too; single use is one ``SET ... NX GET``. Redis may be one server,
    a Sentinel-managed primary or a Cluster (:mod:`jwt_wsgi.redisconn`).

    **Writes** are one script on the primary: the entry is merged with what is
    there (a later expiry and, for "revoked before" watermarks, a later
    instant win, so writes in any order converge), a change counter is
    incremented and the change published. With ``min_replicas`` (1 for
    Sentinel and Cluster, 0 for one server) the write returns only once that
    many replicas hold it (``WAIT``); otherwise, or when Redis cannot be
    reached, :class:`~jwt_wsgi.errors.RevocationUnavailable` is raised: a
    revocation is never silently lost.

    **The mirror** (``mirror=True``, the default) keeps a copy of the live
    denylist in this process, so a request's check is dictionary look-ups,
    not a round trip. A thread of each store subscribes to the change channel
    first, then loads the whole denylist (so no change can fall between the
    two), then applies every change it hears, in order: a gap in the change
    counter means changes were missed, and the mirror resyncs. Every half
    second it pings the subscription and reads the store's epoch (a random id
    kept in Redis), its counter and the server's ``run_id``, so a restart, a
    failover or a flush is noticed within a second even when the client
    library reconnects and resubscribes by itself.

    **Nothing a live process knew is lost.** When the epoch or ``run_id``
    changed or the counter went back (Redis restarted without persistence, a
    lagging replica took over), the process writes back what it holds before
    trusting the mirror again: every denylist entry and watermark with its
    original expiry, and the single-use records (used refresh tokens, DPoP
    proof ids) it wrote itself, kept until they expire. Every live process
    does the same; the merges make them converge.

    **Checks.** While the mirror is in sync, checks are local. When it may not
    be, a check asks Redis (one ``MGET``) and counts an entry the mirror holds
    as well: entries never un-revoke, so the union is never wrong. When Redis
    cannot answer either, :class:`~jwt_wsgi.errors.RevocationUnavailable` is
    raised, so the authenticator's ``revocation_unavailable`` decides (503 by
    default); after a failed try, checks do not wait on Redis again for half a
    second, and only one at a time probes it. With ``stale_for`` a mirror that
    was in sync when contact was lost answers alone for at most that many
    seconds, then checks fail closed: a process cut off from Redis misses
    revocations made elsewhere for that long. Off (``0``) by default.

    :param connection: where Redis is: a URL (``redis://``,
        ``redis+sentinel://``, ``redis+cluster://``, see
        :mod:`jwt_wsgi.redisconn`) or a ``redis.Redis``/``RedisCluster`` client
        (its address and credentials are used, with this store's timeouts).
    :param prefix: key prefix (``"jwt_wsgi:revoked:"``; in a Cluster
        ``"{jwt_wsgi:revoked}:"``, a hash tag keeping every key in one slot);
        the change channel is ``{prefix}changes``.
    :param mirror: keep the local mirror (``True``); without it there is no
        restart recovery, since the process holds nothing to write back.
    :param timeout: seconds to connect and to wait for each reply (0.5).
    :param min_replicas: replicas every write waits for (``None``: 1 with
        Sentinel or a Cluster, 0 for one server).
    :param replica_timeout: seconds a write waits for them (0.25, or half ``timeout`` if less;
        less than ``timeout``).
    :param stale_for: seconds a mirror that lost contact keeps answering (0).

    The other options are :class:`DenylistStore`'s.
    """

    def __init__(
        self,
        connection: Any,
        *,
        prefix: str | None = None,
        mirror: bool = True,
        timeout: float = 0.5,
        min_replicas: int | None = None,
        replica_timeout: Duration | None = None,
        stale_for: Duration = 0,
        default_ttl: Duration = 86400,
        max_token_lifetime: Duration = 30 * 86400,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(
            default_ttl=default_ttl, max_token_lifetime=max_token_lifetime, clock=clock
        )
        self._conn = RedisConnection.of(connection, timeout)
        self._errors = self._conn.errors
        self.prefix = self._conn.check_prefix(prefix, "jwt_wsgi:revoked:")
        self.channel = self.prefix + "changes"
        self._seq_key, self._epoch_key = self.prefix + "seq", self.prefix + "epoch"
        self.min_replicas = (
            self._conn.default_min_replicas
            if min_replicas is None
            else _checks.count(min_replicas, "min_replicas")
        )
        self.replica_timeout = self._conn.check_replica_timeout(replica_timeout, 0.25)
        self.stale_for = _checks.seconds(stale_for, "stale_for")
        self._mirror: dict[str, tuple[str, float]] = {}
        #: Whether checks are answered from the mirror (it is known to be in sync).
        self.in_sync = False
        #: How many times the mirror (re)loaded the denylist, for monitoring.
        self.syncs = 0
        #: How many times this process wrote back what it held after Redis lost it.
        self.restores = 0
        self._epoch: str | None = None
        self._run_id: str | None = None
        self._seq = 0
        self._lost_at: float | None = None  # when the mirror left sync (monotonic)
        self._down_until = -math.inf  # checks do not try Redis before then (monotonic)
        self._suspect_down = False
        self._probing = threading.Lock()
        # Single-use records this process wrote, to write back after a restart.
        self._own: dict[str, tuple[str, float]] = {}
        self._own_expiries: list[tuple[float, str]] = []
        self._own_lock = threading.Lock()
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
        """A store for a ``redis://``, ``redis+sentinel://`` or ``redis+cluster://`` URL."""
        return cls(url, timeout=timeout, **options)

    def close(self) -> None:
        """Stop following changes and close this store's connections."""
        self._mirrored = self.in_sync = False
        self._stopped.set()
        if self._follower is not None:
            self._follower.join(timeout=5)
        self._conn.close()

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
        now = self.clock()
        mirror = self._mirror
        values: list[str | None] = []
        for key in keys:
            entry = mirror.get(key)
            values.append(entry[0] if entry is not None and now < entry[1] else None)
        if self.in_sync:
            return values
        if self._mirrored and self._follower is None:
            self._follow_in_background()  # the first check after a fork
        # Out of sync: Redis, and what the mirror holds (entries never un-revoke).
        if self._suspect_down:
            if time.monotonic() < self._down_until or not self._probing.acquire(blocking=False):
                return self._stale(values, "Redis did not answer a moment ago")
            self._probing.release()  # this check is the probe; others keep failing fast
        try:
            raw = self._conn.mget([self.prefix + key for key in keys])
        except self._errors as exc:
            self._unreachable()
            return self._stale(values, f"redis: {type(exc).__name__}")
        self._suspect_down = False
        return [
            _later(key, held, None if found is None else _decode(found)[0])
            for key, held, found in zip(keys, values, raw, strict=True)
        ]

    def _set(self, key: str, value: str, until: float) -> None:
        (stored,) = self._write([(key, value, until)])
        self._remember(key, *_decode(stored))  # this process sees its own write at once

    def _set_first(self, key: str, value: str, until: float) -> str | None:
        try:
            earlier = self._conn.script(
                _FIRST_USE,
                [self.prefix + key],
                [f"{value}|{until!r}", math.ceil(until)],
                min_replicas=self.min_replicas,
                replica_timeout=self.replica_timeout,
            )
        except NotAcknowledged as exc:
            self._keep_own(key, value, until)  # it is on the primary: ours to restore
            raise RevocationUnavailable(f"redis: {exc}; it may not survive a failover") from exc
        except self._errors as exc:
            raise RevocationUnavailable(f"redis: {type(exc).__name__}") from exc
        if earlier is None:
            self._keep_own(key, value, until)
            return None
        return _decode(earlier)[0]

    def _write(
        self, entries: Sequence[tuple[str, str, float]], *, replicas: int | None = None
    ) -> list[Any]:
        """Merge ``(key, value, until)`` entries into Redis and publish each change;
        the stored values, in order."""
        keys = [self._seq_key, *(self.prefix + key for key, _, _ in entries)]
        args: list[Any] = [self.channel]
        for key, value, until in entries:
            args += [key, value, repr(until)]
        try:
            stored: list[Any] = self._conn.script(
                _MERGE,
                keys,
                args,
                min_replicas=self.min_replicas if replicas is None else replicas,
                replica_timeout=self.replica_timeout,
            )
        except NotAcknowledged as exc:
            raise RevocationUnavailable(
                f"redis: the revocation was written but {exc}; it may not survive a failover"
            ) from exc
        except self._errors as exc:
            raise RevocationUnavailable(
                f"redis: {type(exc).__name__}; the revocation was not recorded"
            ) from exc
        return stored

    # -- what this process knows -----------------------------------------------------

    def _remember(self, key: str, value: str, until: float) -> None:
        held = self._mirror.get(key)
        self._mirror[key] = (value, until) if held is None else _merge(key, held, (value, until))

    def _keep_own(self, key: str, value: str, until: float) -> None:
        with self._own_lock:
            self._own[key] = (value, until)
            heapq.heappush(self._own_expiries, (until, key))
            now = self.clock()
            while self._own_expiries and self._own_expiries[0][0] <= now:
                _, gone = heapq.heappop(self._own_expiries)
                if gone in self._own and self._own[gone][1] <= now:
                    del self._own[gone]

    def _stale(self, values: list[str | None], reason: str) -> list[str | None]:
        """The mirror's answer while Redis cannot give one, within ``stale_for``; else raise."""
        lost = self._lost_at
        if self.stale_for and lost is not None and time.monotonic() - lost <= self.stale_for:
            return values
        raise RevocationUnavailable(reason)

    def _unreachable(self) -> None:
        self._suspect_down = True
        self._down_until = time.monotonic() + _DOWN_PAUSE

    def restore(self) -> int:
        """Write back what this process holds (the mirror's entries, its own single-use
        records), merged with what Redis has; how many entries changed in Redis.

        The mirror does this by itself when it sees Redis lost them; call it to
        re-seed a store by hand. Raises
        :class:`~jwt_wsgi.errors.RevocationUnavailable` if Redis cannot be reached.
        """
        now = self.clock()
        entries = [
            (key, value, until)
            for key, (value, until) in list(self._mirror.items())
            if now < until < math.inf
        ]
        changed = 0
        for start in range(0, len(entries), _BATCH):
            batch = entries[start : start + _BATCH]
            # Waiting for replicas is best effort here: the mirrors keep what they hold.
            stored = self._write(batch, replicas=0)
            changed += sum(1 for (_, value, until), s in zip(batch, stored, strict=True)
                           if s is not None)  # fmt: skip
        with self._own_lock:
            own = [(k, v, u) for k, (v, u) in self._own.items() if now < u]
        for start in range(0, len(own), _BATCH):
            batch = own[start : start + _BATCH]
            args: list[Any] = []
            for _, value, until in batch:
                args += [f"{value}|{until!r}", math.ceil(until)]
            try:
                self._conn.script(_RESTORE_USED, [self.prefix + k for k, _, _ in batch], args)
            except self._errors as exc:
                raise RevocationUnavailable(f"redis: {type(exc).__name__}") from exc
        self.restores += 1
        return len(entries) + len(own)

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
        self._lost_at = None
        self._stopped = threading.Event()
        self._starting = threading.Lock()
        self._probing = threading.Lock()
        self._own_lock = threading.Lock()
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
                synced = self.syncs > syncs  # this attempt had got in sync
                if synced:
                    pause = 0.05  # the first retry comes quickly
                if not isinstance(exc, self._errors):
                    logger.exception("revocation mirror failed; asking Redis per request")
                elif synced:
                    logger.warning(
                        "revocation mirror out of sync (%s: %.120s); asking Redis per request",
                        type(exc).__name__,
                        str(exc),
                    )
            if self._stopped.wait(pause):
                return
            # Short, so that a process back in touch writes back what it holds soon
            # after a failover, before a process started meanwhile trusts the store.
            pause = min(pause * 2, _RETRY_AT_MOST)

    def _follow_once(self) -> None:
        import redis  # the redis extra: a Redis store has it by now (redisconn checked)

        pubsub = self._conn.pubsub(self.channel)
        try:
            pubsub.subscribe(self.channel)
            deadline = time.monotonic() + _SILENCE
            while pubsub.get_message(timeout=0.2) is None:  # the subscription's confirmation
                if self._stopped.is_set():
                    return
                if time.monotonic() > deadline:
                    raise redis.TimeoutError("no subscription confirmation")
            epoch, seq, run_id = self._state()
            lost = self._lost(epoch, seq, run_id)
            if lost is not None:
                count = self.restore()
                logger.warning(
                    "Redis lost revocations (%s): wrote back the %d entries this process held",
                    lost,
                    count,
                )
                epoch, seq, run_id = self._state()
            self._mirror = self._load()
            self._epoch, self._seq, self._run_id = epoch, seq, run_id
            while (message := pubsub.get_message(timeout=0)) is not None:
                self._apply(message)  # changes heard while loading
            self.in_sync = True
            self._lost_at = None
            self._suspect_down = False
            self.syncs += 1
            heard = checked = time.monotonic()
            seen = seq  # the server's counter at the last check
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
                if now - checked >= _PING_EVERY:
                    checked = now
                    pubsub.ping()
                    self._purge()
                    epoch, seq, run_id = self._state()
                    lost = self._lost(epoch, seq, run_id)
                    if lost is not None:
                        raise _OutOfStep(lost)
                    if self._seq < seen:  # a change published before the last check never came
                        raise _OutOfStep("changes were missed")
                    seen = seq
        finally:
            if self.in_sync:
                self._lost_at = time.monotonic()
            self.in_sync = False
            try:
                pubsub.close()
            except self._errors:
                pass

    def _state(self) -> tuple[str, int, str]:
        """The store's epoch (made if missing), its change counter, and the server's run id."""
        epoch, seq = self._conn.script(
            _STATE, [self._epoch_key, self._seq_key], [secrets.token_hex(8)]
        )
        return _text(epoch), int(seq), self._conn.server_id(self._epoch_key)

    def _lost(self, epoch: str, seq: int, run_id: str) -> str | None:
        """Why Redis may have lost entries this process holds, or ``None``."""
        if self._epoch is None:
            return None  # the first sync: nothing known to lose
        if epoch != self._epoch:
            return "the store was emptied: a restart without persistence, or a flush"
        if run_id != self._run_id:
            return "the server restarted or a replica took over"
        if seq < self._seq:
            return "changes went back: a replica that lagged took over"
        return None

    def _load(self) -> dict[str, tuple[str, float]]:
        loaded: dict[str, tuple[str, float]] = {}
        start = len(self.prefix)
        keys = [k for k in self._conn.scan(self.prefix) if _text(k)[start:].startswith(_KINDS)]
        for first in range(0, len(keys), 1000):
            batch = keys[first : first + 1000]
            for key, raw in zip(batch, self._conn.mget(batch), strict=True):
                if raw is not None:
                    loaded[_text(key)[start:]] = _decode(raw)
        return loaded

    def _apply(self, message: dict[str, Any]) -> None:
        if message.get("type") != "message":
            return
        text = _text(message["data"])
        first, _, rest = text.partition("\n")
        if first.isdigit() and "\n" in rest:
            seq = int(first)
            if seq > self._seq + 1:
                raise _OutOfStep("changes were missed")
            self._seq = max(self._seq, seq)
            key, _, stored = rest.partition("\n")
        else:  # a 0.2 process, during a rolling upgrade
            key, stored = first, rest
        self._remember(key, *_decode(stored))

    def _purge(self) -> None:
        now = self.clock()
        for key in [k for k, (_, until) in list(self._mirror.items()) if until <= now]:
            self._mirror.pop(key, None)


class _OutOfStep(Exception):
    """The mirror can no longer be trusted to be complete: resync."""


#: The script every denylist write runs: merge each entry (the later expiry;
#: for watermarks, the later instant), count and publish what changed.
_MERGE = """
local stored = {}
for i = 2, #KEYS do
  local j = 2 + (i - 2) * 3
  local short, value, untl = ARGV[j], ARGV[j + 1], ARGV[j + 2]
  local current = redis.call('GET', KEYS[i])
  if current then
    local cut = string.find(current, '|[^|]*$')
    if cut then
      local held_value = string.sub(current, 1, cut - 1)
      local held_until = string.sub(current, cut + 1)
      if tonumber(held_until) and tonumber(held_until) > tonumber(untl) then
        untl = held_until
      end
      local kind = string.sub(short, 1, 4)
      if (kind == 'sub:' or kind == 'sid:') and tonumber(held_value)
          and tonumber(held_value) > tonumber(value) then
        value = held_value
      end
    end
  end
  local new = value .. '|' .. untl
  if new ~= current then
    redis.call('SET', KEYS[i], new, 'EXAT', string.format('%d', math.ceil(tonumber(untl))))
    local seq = redis.call('INCR', KEYS[1])
    redis.call('PUBLISH', ARGV[1], seq .. '\\n' .. short .. '\\n' .. new)
  end
  stored[#stored + 1] = new
end
return stored
"""
_FIRST_USE = "return redis.call('SET', KEYS[1], ARGV[1], 'EXAT', ARGV[2], 'NX', 'GET')"
_RESTORE_USED = """
for i = 1, #KEYS do
  redis.call('SET', KEYS[i], ARGV[2 * i - 1], 'EXAT', ARGV[2 * i], 'NX')
end
return #KEYS
"""
_STATE = """
local epoch = redis.call('GET', KEYS[1])
if not epoch then
  redis.call('SET', KEYS[1], ARGV[1])
  epoch = ARGV[1]
end
return {epoch, redis.call('GET', KEYS[2]) or '0'}
"""


def _forked(store: weakref.ref[RedisRevocationStore]) -> None:
    mirrored = store()
    if mirrored is not None:
        mirrored._after_fork()


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _decode(raw: Any) -> tuple[str, float]:
    """A stored ``value|until`` as ``(value, until)`` (an old bare value lasts forever)."""
    text = _text(raw)
    value, _, until = text.rpartition("|")
    if not value:
        return text, math.inf
    try:
        return value, float(until)
    except ValueError:
        return text, math.inf


def _merge(key: str, a: tuple[str, float], b: tuple[str, float]) -> tuple[str, float]:
    """Two records of one entry as one: the later expiry, and for a watermark the later
    instant (the stricter), as the write script merges them."""
    value = a[0]
    if key.startswith(("sub:", "sid:")):
        value = max(a[0], b[0], key=_instant)
    return value, max(a[1], b[1])


def _later(key: str, held: str | None, found: str | None) -> str | None:
    """The stricter of the mirror's and Redis's values of one entry."""
    if held is None or found is None:
        return found if held is None else held
    return max(held, found, key=_instant) if key.startswith(("sub:", "sid:")) else found


def _instant(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        return math.inf  # unreadable: the strictest
