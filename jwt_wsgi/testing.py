"""Test helpers for your own protected app: tokens its middleware accepts, and tokens it must not.

:class:`TestTokens` swaps a fresh test key into the app's provider (offline,
even when production fetches a JWK Set) and mints tokens with the provider's
own issuer and audience, so tests exercise the app's real configuration and
rules, not a relaxed copy::

    from jwt_wsgi.testing import TestTokens, TokenClient

    def test_admins_only(app):            # app.wsgi_app is the JWTMiddleware
        tokens = TestTokens(app.wsgi_app)
        client = TokenClient(app, tokens.token("alice", {"roles": ["admin"]}))
        assert client.get("/admin").status_code == 200
        assert TokenClient(app, tokens.expired("alice")).get("/admin").status_code == 401

Nothing here belongs in production code: a :class:`TestTokens` replaces the
keys the middleware trusts.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import jwt
from werkzeug.test import Client

from .authenticator import Authenticator
from .dpop import make_proof
from .errors import ConfigurationError
from .jose.signing import jwk_thumbprint, new_signing_key, public_jwk, signing_key
from .middleware import JWTMiddleware
from .minter import Minter

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

__all__ = ["DPoPKey", "TestTokens", "TokenClient"]


class TestTokens:
    """Mint tokens that ``target`` accepts, and the usual bad ones.

    :param target: the app's :class:`~jwt_wsgi.JWTMiddleware` or
        :class:`~jwt_wsgi.Authenticator`.
    :param provider: which provider's keys to replace (``"default"``).
    :param algorithm: the test key's algorithm; by default the provider's first.
    :param key: a private key or secret to use instead of a fresh one.

    The provider's keys are replaced by the test key at once (its other
    settings, issuer, audience, leeway, ``typ``, stay); cached verifications
    made under the old keys stop counting.
    """

    __test__ = False  # not a test class, whatever pytest's name rule says

    def __init__(
        self,
        target: JWTMiddleware | Authenticator,
        *,
        provider: str = "default",
        algorithm: str | None = None,
        key: Any = None,
    ) -> None:
        authenticator = target.authenticator if isinstance(target, JWTMiddleware) else target
        if not isinstance(authenticator, Authenticator):
            raise ConfigurationError("TestTokens needs a JWTMiddleware or an Authenticator")
        settings = authenticator.providers.get(provider)
        if settings is None:
            raise ConfigurationError(
                f"no provider named {provider!r}; there are {sorted(authenticator.providers)}"
            )
        self.algorithm = algorithm or settings.algorithms[0]
        if self.algorithm not in settings.algorithms:
            raise ConfigurationError(
                f"provider {provider!r} does not accept {self.algorithm}; it accepts "
                f"{list(settings.algorithms)}"
            )
        self.kid = "test-" + secrets.token_hex(4)
        if key is None:
            key = new_signing_key(self.algorithm)
        self._signing = signing_key(key, self.algorithm, self.kid)
        audience = sorted(settings.audience)[0] if settings.audience else None
        self.minter = Minter(
            key,
            self.algorithm,
            issuer=settings.issuer,
            audience=audience,
            kid=self.kid,
            clock=authenticator.clock,
        )
        public = self._signing.public_jwk()
        authenticator.set_keys(public if public is not None else key, provider=provider)
        self._leeway = settings.leeway
        self._typ = sorted(settings.typ)[0] if settings.typ else None

    def token(
        self,
        identity: Any = "test-user",
        claims: Mapping[str, Any] | None = None,
        *,
        lifetime: float | None = None,
        fresh: bool = False,
    ) -> str:
        """A valid access token for ``identity``, with ``claims`` on top of the usual ones.

        :param lifetime: seconds until it expires (the minter's 15 minutes by default).
        :param fresh: set ``auth_time`` to now, as after a login (step-up rules).
        """
        extra = dict(claims or {})
        if lifetime is not None:
            extra.setdefault("exp", int(self.minter.clock() + lifetime))
        return self.minter.mint(identity, extra, headers=self._headers(), fresh=fresh)

    def header(
        self, identity: Any = "test-user", claims: Mapping[str, Any] | None = None
    ) -> dict[str, str]:
        """``{"Authorization": "Bearer <token>"}`` for a valid token."""
        return {"Authorization": f"Bearer {self.token(identity, claims)}"}

    def expired(self, identity: Any = "test-user", claims: Mapping[str, Any] | None = None) -> str:
        """A token that expired an hour ago (beyond any leeway configured)."""
        now = int(self.minter.clock())
        past = now - 3600 - int(self._leeway)
        times = {"iat": past - 900, "nbf": past - 900, "exp": past}
        return self.minter.mint(identity, {**times, **(claims or {})}, headers=self._headers())

    def not_yet_valid(
        self, identity: Any = "test-user", claims: Mapping[str, Any] | None = None
    ) -> str:
        """A token whose ``nbf`` is an hour from now (beyond any leeway configured)."""
        start = int(self.minter.clock()) + 3600 + int(self._leeway)
        return self.token(identity, {"nbf": start, "exp": start + 900, **(claims or {})})

    def forged(self, identity: Any = "test-user", claims: Mapping[str, Any] | None = None) -> str:
        """A token like :meth:`token`'s, with this ``kid``, signed by another key."""
        impostor = Minter(
            new_signing_key(self.algorithm),
            self.algorithm,
            issuer=self.minter.issuer,
            audience=self.minter.audience,
            kid=self.kid,
            clock=self.minter.clock,
        )
        return impostor.mint(identity, claims, headers=self._headers())

    def unsigned(self, identity: Any = "test-user", claims: Mapping[str, Any] | None = None) -> str:
        """The :meth:`token` claims with ``alg: none`` and no signature."""
        payload = jwt.decode(self.token(identity, claims), options={"verify_signature": False})
        return jwt.encode(payload, "", algorithm="none")

    def bound(
        self,
        key: DPoPKey,
        identity: Any = "test-user",
        claims: Mapping[str, Any] | None = None,
    ) -> str:
        """A valid access token bound to ``key`` (``cnf.jkt``, RFC 9449)."""
        return self.token(identity, {**(claims or {}), "cnf": {"jkt": key.jkt}})

    def _headers(self) -> dict[str, Any] | None:
        return {"typ": self._typ} if self._typ else None


class DPoPKey:
    """A client's DPoP key: the ``jkt`` tokens are bound to, and proofs signed with it.

    :param algorithm: the proof algorithm (``"ES256"``).
    :param key: a private key to use instead of a fresh one.
    :param clock: the proofs' ``iat`` (``time.time``).
    """

    def __init__(
        self,
        algorithm: str = "ES256",
        *,
        key: Any = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.algorithm = algorithm
        self.key = new_signing_key(algorithm) if key is None else key
        self.jwk: dict[str, Any] = public_jwk(self.key.public_key(), algorithm, None)
        self.jkt = jwk_thumbprint(self.jwk)
        self.clock = clock

    def proof(
        self,
        method: str,
        url: str,
        token: str | None = None,
        *,
        nonce: str | None = None,
        claims: Mapping[str, Any] | None = None,
        headers: Mapping[str, Any] | None = None,
    ) -> str:
        """A proof for one request (see :func:`~jwt_wsgi.dpop.make_proof`), ``iat`` now."""
        return make_proof(
            self.key, self.algorithm, method, url, token,
            nonce=nonce, claims=claims, headers=headers, now=self.clock(), jwk=self.jwk,
        )  # fmt: skip

    def headers(self, token: str, method: str, url: str, **options: Any) -> dict[str, str]:
        """``Authorization: DPoP <token>`` and a ``DPoP`` proof for one request."""
        return {
            "Authorization": f"DPoP {token}",
            "DPoP": self.proof(method, url, token, **options),
        }


class TokenClient(Client):
    """A Werkzeug test client that sends ``token`` with every request.

    :param app: the WSGI app (a Flask app works too: its ``wsgi_app`` runs).
    :param token: sent as ``Authorization: Bearer <token>``, or ``None``.
    :param cookie: send the token in this cookie instead of the header.
    :param dpop: send the token as ``Authorization: DPoP <token>`` with a fresh
        proof by this :class:`DPoPKey` for each request, whose ``htu`` is
        ``base_url`` and the request's path.
    :param base_url: the URL the app's :class:`~jwt_wsgi.dpop.DPoP` expects
        (``"http://localhost"``).

    A request's own ``headers`` win: pass ``headers={"Authorization": ...}``
    to send something else once.
    """

    def __init__(
        self,
        app: WSGIApplication,
        token: str | None = None,
        *,
        cookie: str | None = None,
        dpop: DPoPKey | None = None,
        base_url: str = "http://localhost",
    ) -> None:
        super().__init__(app)
        self.token = token
        self.dpop = dpop
        self.base_url = base_url.rstrip("/")
        if token is not None and cookie is not None:
            self.set_cookie(cookie, token)
            self.token = None

    def open(self, *args: Any, **kwargs: Any) -> Any:
        """Add the ``Authorization`` header (and DPoP proof) unless the request sets its own."""
        if self.token is not None:
            headers = dict(kwargs.pop("headers", None) or {})
            if self.dpop is not None and isinstance(args[0] if args else None, str):
                path = args[0].partition("?")[0]
                method = kwargs.get("method", "GET")
                for name, value in self.dpop.headers(
                    self.token, method, self.base_url + path
                ).items():
                    headers.setdefault(name, value)
            headers.setdefault("Authorization", f"Bearer {self.token}")
            kwargs["headers"] = headers
        return super().open(*args, **kwargs)
