"""Names from before 0.2 that keep working, with a deprecation warning.

``jwt_wsgi.Verifier`` and ``jwt_wsgi.Verified`` were exported building blocks;
:class:`~jwt_wsgi.authenticator.Authenticator` replaced them as the way to
verify outside a request. The old ``Verifier(keys, audience=..., ...)``
signature still builds a verifier, now from a
:class:`~jwt_wsgi.providers.Provider`, and its ``verify()`` checks the clock
too: the old one did not, which made the obvious call unsafe.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from ._checks import Duration
from .jose.keys import KeySource
from .jose.verifier import Verified, Verifier
from .providers import Provider

DEPRECATED = {
    "Verifier": "use jwt_wsgi.Authenticator(Provider(...)).authenticate(token)",
    "Verified": "Authenticator.authenticate() returns jwt_wsgi.Authenticated",
}


class LegacyVerifier(Verifier[Provider]):
    """``Verifier(keys, *, audience, issuer, leeway, require, typ, max_token_bytes, provider)``."""

    def __init__(
        self,
        keys: KeySource,
        *,
        audience: str | Collection[str] | None = None,
        issuer: str | None = None,
        leeway: Duration = 0,
        require: Sequence[str] = ("exp",),
        typ: str | Collection[str] | None = None,
        max_token_bytes: int = 8192,
        provider: str | None = None,
    ) -> None:
        settings = Provider(
            provider or "default",
            keys.algorithms,
            key=keys,
            issuer=issuer,
            audience=audience,
            leeway=leeway,
            require=require,
            typ=typ,
        )
        super().__init__(settings, max_token_bytes=max_token_bytes)


LEGACY = {"Verifier": LegacyVerifier, "Verified": Verified}


def moved(old: str, homes: Mapping[str, Sequence[str]]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for a module whose names moved: ``{new module: names}``.

    ``from jwt_wsgi.tokens import Verifier`` keeps working for a release, with
    a :class:`DeprecationWarning` naming the module to import from instead.
    """
    home_of = {name: module for module, names in homes.items() for name in names}

    def __getattr__(name: str) -> Any:
        if name not in home_of:
            raise AttributeError(f"module {old!r} has no attribute {name!r}")
        warnings.warn(
            f"{old}.{name} moved: import it from {home_of[name]}",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(importlib.import_module(home_of[name]), name)

    return __getattr__
