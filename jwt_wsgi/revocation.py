"""Revocation: a denylist of token ids, consulted on every request.

The middleware asks its ``revocation=`` store on every request, cache hits
included, so a revoked token stops at once. Entries are keyed by ``jti`` and
expire with the token's ``exp``: the store never grows without bound. Tokens
without a ``jti`` cannot be revoked one by one; add ``"jti"`` to the
middleware's ``require`` to refuse them.

* :class:`MemoryRevocationStore`: one process (thread-safe).
* :class:`RedisRevocationStore`: every process and machine behind a load
  balancer shares one denylist (redis-py).
* Any ``is_revoked(claims) -> bool`` callable works too.

A store that cannot answer raises
:class:`~jwt_wsgi.errors.RevocationUnavailable`; the authenticator then fails
closed (503, :class:`~jwt_wsgi.errors.RevocationCheckFailed`) by default, or
open if configured so.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from .errors import ConfigurationError, RevocationUnavailable

__all__ = [
    "MemoryRevocationStore",
    "RedisRevocationStore",
    "RevocationStore",
    "RevocationUnavailable",
]


class RevocationStore(Protocol):
    """What the middleware needs of a store."""

    def is_revoked(self, claims: Mapping[str, Any]) -> bool:
        """Whether the token with these claims has been revoked."""
        ...


def _jti_and_expiry(
    claims_or_jti: Mapping[str, Any] | str, expires_at: float | None
) -> tuple[str, float | None]:
    if isinstance(claims_or_jti, str):
        return claims_or_jti, expires_at
    jti = claims_or_jti.get("jti")
    if not isinstance(jti, str):
        raise ConfigurationError("only tokens with a string 'jti' claim can be revoked")
    exp = claims_or_jti.get("exp")
    if expires_at is None and isinstance(exp, (int, float)) and not isinstance(exp, bool):
        expires_at = float(exp)
    return jti, expires_at


class MemoryRevocationStore:
    """A denylist in this process's memory.

    :param default_ttl: seconds to remember a revocation when neither
        ``expires_at`` nor the token's ``exp`` is known (86400).
    :param clock: returns the current Unix time (``time.time``).
    """

    def __init__(
        self, *, default_ttl: float = 86400, clock: Callable[[], float] = time.time
    ) -> None:
        self.default_ttl = default_ttl
        self.clock = clock
        self._revoked: dict[str, float] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._revoked)

    def revoke(
        self, claims_or_jti: Mapping[str, Any] | str, *, expires_at: float | None = None
    ) -> None:
        """Revoke a token by its claims (``jti``, ``exp``) or by its ``jti``."""
        jti, expires_at = _jti_and_expiry(claims_or_jti, expires_at)
        now = self.clock()
        with self._lock:
            self._purge(now)
            self._revoked[jti] = expires_at if expires_at is not None else now + self.default_ttl

    def is_revoked(self, claims: Mapping[str, Any]) -> bool:
        jti = claims.get("jti")
        if not isinstance(jti, str):
            return False
        until = self._revoked.get(jti)
        return until is not None and self.clock() < until

    def _purge(self, now: float) -> None:
        # Runs on writes only, so reads stay a dictionary look-up.
        expired = [jti for jti, until in self._revoked.items() if until <= now]
        for jti in expired:
            del self._revoked[jti]


class RedisRevocationStore:
    """A denylist in Redis, shared by every process that points at it.

    Each revoked ``jti`` is a key ``{prefix}{jti}`` that Redis expires at the
    token's ``exp`` (``SET ... EXAT``), so the set never outgrows the tokens
    still alive.

    :param client: a ``redis.Redis`` client (its timeouts apply; set
        ``socket_timeout`` so an unreachable server cannot stall requests).
    :param prefix: key prefix (``"jwt_wsgi:revoked:"``).
    :param default_ttl: seconds to keep a revocation with no known expiry (86400).
    """

    def __init__(
        self, client: Any, *, prefix: str = "jwt_wsgi:revoked:", default_ttl: int = 86400
    ) -> None:
        import redis

        self._client = client
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        self.prefix = prefix
        self.default_ttl = default_ttl

    @classmethod
    def from_url(cls, url: str, *, timeout: float = 0.5, **options: Any) -> RedisRevocationStore:
        """A store for ``redis://host:port/db`` with short socket timeouts."""
        import redis

        client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        return cls(client, **options)

    def revoke(
        self, claims_or_jti: Mapping[str, Any] | str, *, expires_at: float | None = None
    ) -> None:
        """Revoke a token by its claims (``jti``, ``exp``) or by its ``jti``."""
        jti, expires_at = _jti_and_expiry(claims_or_jti, expires_at)
        key = self.prefix + jti
        try:
            if expires_at is None:
                self._client.set(key, b"1", ex=self.default_ttl)
            elif expires_at > time.time():
                self._client.set(key, b"1", exat=math.ceil(expires_at))
        except self._errors as exc:
            raise RevocationUnavailable(f"redis: {type(exc).__name__}") from exc

    def is_revoked(self, claims: Mapping[str, Any]) -> bool:
        jti = claims.get("jti")
        if not isinstance(jti, str):
            return False
        try:
            return bool(self._client.exists(self.prefix + jti))
        except self._errors as exc:
            raise RevocationUnavailable(f"redis: {type(exc).__name__}") from exc
