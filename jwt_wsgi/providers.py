"""Token providers: the issuers a middleware trusts, each with its own keys and rules.

A :class:`Provider` describes one issuer (an identity provider, or a minter in
another service): its ``iss``, where its keys come from (``key=``, a
``jwks_url``, or OpenID Connect discovery from ``issuer`` alone), its
algorithms, audience, leeway and required claims.

With several providers the middleware reads the token's ``iss`` before
verifying (a strict parse, no trust placed in it), picks the provider with
that issuer, and verifies against that provider only. A token with an issuer
no provider has is refused. ``Rule(..., providers=[...])`` limits a path to
some providers. The middleware's single-provider keywords (``key=``,
``algorithms=``, ...) build one provider named ``"default"``.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import ConfigurationError
from .jwks import RemoteKeySet
from .keys import KeyRing, KeySource
from .tokens import Verifier


@dataclass(frozen=True)
class Provider:
    """One trusted issuer.

    :param name: how rules and logs refer to it.
    :param algorithms: the allow-list for its tokens (required).
    :param issuer: its ``iss`` value; required when there are several providers.
    :param key: static key(s) in any form ``JWTMiddleware(key=...)`` takes, or
        a key source (:class:`~jwt_wsgi.keys.KeySource`) such as a configured
        :class:`~jwt_wsgi.jwks.RemoteKeySet`.
    :param jwks_url: fetch its keys from this JWK Set URL (default policy of
        :class:`~jwt_wsgi.jwks.RemoteKeySet`). With neither ``key`` nor
        ``jwks_url``, the URL is discovered from ``issuer``.
    :param audience: accepted ``aud`` value(s).
    :param leeway: seconds of clock skew tolerated.
    :param require: claims its tokens must carry.
    :param typ: accepted ``typ`` header value(s).
    :param allow_http: allow ``http://`` key URLs (tests on loopback only).
    :param allow_weak_hmac_keys: accept short HMAC secrets.
    """

    name: str
    algorithms: Sequence[str]
    issuer: str | None = None
    key: Any = None
    jwks_url: str | None = None
    audience: str | Collection[str] | None = None
    leeway: float = 0
    require: Sequence[str] = ("exp",)
    typ: str | Collection[str] | None = None
    allow_http: bool = False
    allow_weak_hmac_keys: bool = False

    def key_source(self) -> KeySource:
        """Where this provider's keys come from, built once."""
        if self.key is not None and self.jwks_url is not None:
            raise ConfigurationError(f"provider {self.name!r}: give key or jwks_url, not both")
        if hasattr(self.key, "current") and hasattr(self.key, "refresh_for"):
            source: KeySource = self.key  # a KeyRing, a RemoteKeySet, or your own
            return source
        if self.key is not None:
            return KeyRing(
                self.key, self.algorithms, allow_weak_hmac_keys=self.allow_weak_hmac_keys
            )
        if self.jwks_url is None and self.issuer is None:
            raise ConfigurationError(
                f"provider {self.name!r} needs key=, jwks_url= or an issuer to discover keys from"
            )
        return RemoteKeySet(
            self.jwks_url,
            algorithms=self.algorithms,
            issuer=self.issuer,
            allow_http=self.allow_http,
        )

    def verifier(self, max_token_bytes: int) -> Verifier:
        """A verifier for this provider's tokens."""
        return Verifier(
            self.key_source(),
            audience=self.audience,
            issuer=self.issuer,
            leeway=self.leeway,
            require=self.require,
            typ=self.typ,
            max_token_bytes=max_token_bytes,
            provider=self.name,
        )
