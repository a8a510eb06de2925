"""Names from before 0.2 that keep working, with a deprecation warning.

``jwt_wsgi.Verifier`` and ``jwt_wsgi.Verified`` were exported building blocks;
:class:`~jwt_wsgi.authenticator.Authenticator` replaced them as the way to
verify outside a request. The old ``Verifier(keys, audience=..., ...)``
signature still builds a verifier, now from a
:class:`~jwt_wsgi.providers.Provider`, and its ``verify()`` checks the clock
too: the old one did not, which made the obvious call unsafe.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from ._checks import Duration
from .jose.keys import KeySource
from .jose.verifier import TokenVerifier, VerifiedToken
from .providers import Provider

DEPRECATED = {
    "Verifier": "use jwt_wsgi.Authenticator(Provider(...)).authenticate(token)",
    "Verified": "Authenticator.authenticate() returns jwt_wsgi.Authenticated",
}


class LegacyVerifier(TokenVerifier[Provider]):
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


LEGACY = {"Verifier": LegacyVerifier, "Verified": VerifiedToken}
