"""The verified-token cache: pay for a signature once per token, not per request.

Clients send the same token until it expires, and verifying it (strict parse,
signature, static claims) costs far more than everything else the middleware
does. :class:`TokenCache` remembers the :class:`~jwt_wsgi.jose.verifier.VerifiedToken`
result per token string, bounded, evicting what has gone unused longest.

What a hit does *not* skip, so caching never weakens a check:

* ``exp``, ``nbf`` and ``iat`` are checked against the current time on every
  request; an expired entry is dropped the moment it is seen.
* Rules (claims, scopes, ``when``) and revocation run on every request.
* An entry remembers the key ring that verified it and is used only while
  that ring is still in force (:meth:`~jwt_wsgi.jose.verifier.VerifiedToken.holds`). When
  the keys change (``set_keys``, a refreshed JWKS), older entries are ignored
  and their tokens verified again against the new keys.

Only successes are cached. A failed token is verified again when it returns:
caching failures would let a flood of junk evict the good entries. One token
has one string form, because the strict parser refuses padded or
non-canonical base64url, so the cache key cannot be dodged by re-spelling.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from .errors import ConfigurationError

if TYPE_CHECKING:
    from .jose.verifier import VerifiedToken


class TokenCache:
    """A thread-safe, bounded cache of verified tokens with second-chance eviction.

    Eviction approximates least-recently-used the way CLOCK does: a hit only
    marks its entry as used (one attribute store, where moving an entry to the
    end of an ordered dict costs several times more on every request), and
    when the cache is full the oldest entries are examined in insertion
    order: a used one loses its mark and goes to the back, the first unused
    one is evicted. A token requested again and again is never evicted while
    tokens seen once come and go.

    :param size: the most entries kept; ``0`` turns the cache off.
    """

    def __init__(self, size: int = 10_000) -> None:
        if not isinstance(size, int) or size < 0:
            raise ConfigurationError(f"cache_size must be 0 (off) or more, not {size!r}")
        self.size = size
        self._entries: dict[str, VerifiedToken] = {}
        #: The entry for a token, or ``None``, counting and marking nothing: the
        #: dict's own ``get``, for the authenticator's header path, which
        #: counts a hit and marks the entry itself when the entry holds.
        self.peek: Callable[[str], VerifiedToken | None] = self._entries.get
        self._lock = threading.Lock()
        #: Counters for monitoring; updated without a lock, so approximate
        #: under concurrency.
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, token: str) -> VerifiedToken | None:
        """The entry for ``token``, or ``None``. Takes no lock."""
        entry = self._entries.get(token)
        if entry is None:
            self.misses += 1
            return None
        self.hits += 1
        entry.used = True
        return entry

    def put(self, token: str, verified: VerifiedToken) -> None:
        """Remember that ``token`` verified."""
        if not self.size:
            return
        entries = self._entries
        with self._lock:
            entries.pop(token, None)
            while len(entries) >= self.size:
                oldest = next(iter(entries))
                entry = entries.pop(oldest)
                if entry.used:  # a second chance, at the back
                    entry.used = False
                    entries[oldest] = entry
                else:
                    break
            entries[token] = verified

    def discard(self, token: str) -> None:
        """Forget ``token`` (it expired, say)."""
        with self._lock:
            self._entries.pop(token, None)
