"""A bounded memo: the one way the request path remembers work it did for an input.

Several parts see the same inputs again and again (an issuer's token header,
a browser's ``Cookie`` header, a client's DPoP proof header, a routed path)
and remember what they computed. :class:`BoundedMemo` is a ``dict`` (so a
look-up is ``dict.get`` at C speed) that keeps at most ``size`` entries,
keyed by strings (or tuples of strings) no longer than ``max_length``: when
full it is emptied, which costs one recomputation per entry and bounds its
memory against inputs chosen to fill it. No lock is needed: each operation
is one atomic ``dict`` operation, and two threads that race only compute
the same value twice.
"""

from __future__ import annotations

from collections.abc import Hashable, Sized
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class BoundedMemo(dict[K, V], Generic[K, V]):
    """At most ``size`` remembered values; keys longer than ``max_length`` are not kept.

    :param size: entries kept before the memo is emptied.
    :param max_length: the longest key kept (for a tuple, its parts' total).
    """

    __slots__ = ("max_length", "size")

    def __init__(self, size: int, max_length: int | None = None) -> None:
        super().__init__()
        self.size = size
        self.max_length = max_length

    def remember(self, key: K, value: V) -> V:
        """Keep ``value`` for ``key`` (unless the key is too long to keep); return it."""
        if self.max_length is not None and _length(key) > self.max_length:
            return value
        if len(self) >= self.size:
            self.clear()
        self[key] = value
        return value


def _length(key: object) -> int:
    if isinstance(key, tuple):
        return sum(len(part) for part in key if isinstance(part, Sized))
    return len(key) if isinstance(key, Sized) else 0
