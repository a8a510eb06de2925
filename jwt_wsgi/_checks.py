"""Checks for constructor arguments: one way to say what was wrong and what is expected.

Every public constructor validates its options here, at construction, so a
mistake (a string where a list is expected, a ``timedelta`` where seconds were
assumed, an uncallable callback) stops the program at start-up with a
:class:`~jwt_wsgi.errors.ConfigurationError` that names the option, the type
it got and what it takes, never later inside a request.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterable
from datetime import timedelta
from typing import Any, TypeVar

from .errors import ConfigurationError

#: A length of time: seconds as a number, or a ``timedelta``.
Duration = float | timedelta

_T = TypeVar("_T")
_F = TypeVar("_F", bound=Callable[..., Any])


def _got(value: Any) -> str:
    return (
        f"got {type(value).__name__} {value!r}"
        if isinstance(value, str | int)
        else (f"got {type(value).__name__}")
    )


def seconds(value: Duration, option: str, *, positive: bool = False) -> float:
    """``value`` in seconds: a non-negative (or positive) finite number or timedelta."""
    if isinstance(value, timedelta):
        result = value.total_seconds()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        result = float(value)
    else:
        raise ConfigurationError(
            f"{option} must be seconds (a number) or a timedelta; {_got(value)}"
        )
    if math.isnan(result) or math.isinf(result) or result < 0 or (positive and result == 0):
        which = "positive" if positive else "zero or more"
        raise ConfigurationError(f"{option} must be {which} and finite; got {result!r} seconds")
    return result


def count(value: int, option: str, *, minimum: int = 0) -> int:
    """An ``int`` of at least ``minimum`` (``bool`` is not a count)."""
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ConfigurationError(f"{option} must be an int of at least {minimum}; {_got(value)}")
    return value


def strings(value: Iterable[str] | None, option: str, *, example: str) -> tuple[str, ...]:
    """A sequence of strings, refusing a bare string (which would iterate by character)."""
    if value is None:
        return ()
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise ConfigurationError(
            f"{option} must be a list of strings, e.g. {example}; {_got(value)}"
        )
    items = tuple(value)
    for item in items:
        if not isinstance(item, str) or not item:
            raise ConfigurationError(
                f"{option} must hold non-empty strings, e.g. {example}; one is {_got(item)}"
            )
    return items


def string_set(value: str | Collection[str] | None, option: str, *, example: str) -> frozenset[str]:
    """One string or a collection of strings, as a set (empty for ``None``)."""
    if isinstance(value, str):
        value = (value,)
    return frozenset(strings(value, option, example=example))


def choice(value: _T, option: str, choices: Collection[_T]) -> _T:
    """``value`` if it is one of ``choices``."""
    if value not in choices:
        raise ConfigurationError(
            f"{option} must be one of {sorted(map(repr, choices))}; {_got(value)}"
        )
    return value


def callable_or_none(value: Callable[..., Any] | None, option: str, signature: str) -> None:
    """Refuse anything that is neither ``None`` nor callable."""
    if value is not None and not callable(value):
        raise ConfigurationError(f"{option} must be a callable {signature}; {_got(value)}")


def function(value: _F, option: str, signature: str) -> _F:
    """``value`` if it is callable."""
    if not callable(value):
        raise ConfigurationError(f"{option} must be a callable {signature}; {_got(value)}")
    return value


def flag(value: bool, option: str) -> bool:
    """A real ``bool`` (``"false"`` from a config file is truthy, so it is refused)."""
    if not isinstance(value, bool):
        raise ConfigurationError(f"{option} must be True or False; {_got(value)}")
    return value
