"""Creating tokens: :class:`Minter`, with a replaceable claims loader.

The minter is the framework-free form of flask-jwt-simple's ``create_jwt``
and ``@jwt.jwt_data_loader``::

    minter = Minter(secret, algorithm="HS256", expires_in=timedelta(minutes=15))

    @minter.claims_loader
    def claims_for(identity):
        now = datetime.now(timezone.utc)
        return {"sub": identity, "iat": now, "nbf": now,
                "exp": now + timedelta(minutes=15), "roles": roles_of(identity)}

    token = minter.mint("alice")

Without a loader a token carries ``sub``, ``iat``, ``nbf``, ``exp``, ``jti``
(and ``iss``/``aud`` when the minter has them). With a loader, **the dict it
returns is the complete claim set**: defaults are not merged in, as in
flask-jwt-simple. ``datetime`` values become NumericDates (naive ones are
taken as UTC). The signing algorithm is always the minter's own: a header
named ``alg`` is refused, never allowed to override it.

For browser sessions and long-lived logins, :meth:`Minter.mint_pair` makes
an access token and a refresh token that belong together: one family
(``fam``, the login), one CSRF value (``csrf``, for cookies), the time of
the login (``auth_time``, for freshness and step-up). Refresh tokens say so
twice, in their ``typ`` header (``refresh+jwt``) and their ``type`` claim,
so they are never taken for access tokens.

Keys live in a key store (:mod:`jwt_wsgi.keystores`): this process's memory by
default, or a :class:`~jwt_wsgi.keystores.FileKeyStore` every worker shares.
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

from . import _checks
from ._checks import Duration
from ._compat import moved
from .errors import ConfigurationError
from .jose.encoding import b64encode
from .jose.keys import KeyRing, validate_algorithms
from .jose.signing import SigningKey, jws_encoder, sign
from .keystores import MemoryKeyStore

__all__ = ["KeyStore", "Minter", "SigningKey", "TokenPair"]

# thumbprint was importable from here; it is jwt_wsgi.jose.signing.key_thumbprint now.
__getattr__ = moved("jwt_wsgi.minter", {"jwt_wsgi.jose.signing": ("thumbprint=key_thumbprint",)})

ClaimsLoader = Callable[[Any], Mapping[str, Any]]
_Loader = TypeVar("_Loader", bound=ClaimsLoader)

#: The ``typ`` header of refresh tokens (RFC 8725 section 3.11, explicit typing).
REFRESH_TYP = "refresh+jwt"


class KeyStore(Protocol):
    """Where a minter's keys live (:mod:`jwt_wsgi.keystores`)."""

    def keys(self) -> tuple[SigningKey, ...]:
        """Every key, the current one first."""
        ...

    def version(self) -> object:
        """A value that changes whenever :meth:`keys` would answer differently."""
        ...

    def rotate(
        self, key: Any = None, *, algorithm: str | None = None, kid: str | None = None
    ) -> str:
        """Make a new key current; returns its kid."""
        ...

    def retire(self, kid: str) -> None:
        """Drop a key that is not current."""
        ...


@dataclass(frozen=True)
class TokenPair:
    """An access token and a refresh token of one login (see :meth:`Minter.mint_pair`).

    :param access_token: the access token.
    :param refresh_token: the refresh token: send it only to the refresh endpoint.
    :param family: the ``fam`` both carry; revoking it ends this login.
    :param csrf: the ``csrf`` value both carry, for cookie clients.
    :param expires_in: the access token's lifetime in seconds.
    """

    access_token: str
    refresh_token: str
    family: str
    csrf: str
    expires_in: int


class Minter:
    """Signs tokens with its current key; publishes the public keys of all it holds.

    Key rotation: :meth:`rotate` makes a new key current while older ones stay
    in :meth:`jwks` (tokens they signed still verify elsewhere) until
    :meth:`retire` drops them. Asymmetric keys get their RFC 7638 thumbprint
    as ``kid`` unless one is given.

    :param key: an HMAC secret (``str``/``bytes``), a PEM or DER private key,
        a ``cryptography`` private key, or a private ``jwt.PyJWK``; or leave it
        out and give ``key_store``.
    :param algorithm: the signing algorithm (``"HS256"``); ``none`` is refused.
    :param key_store: where the keys live instead of ``key``: a
        :class:`~jwt_wsgi.keystores.FileKeyStore` shared by every worker.
    :param expires_in: lifetime of default-claim and pair access tokens, in
        seconds or as a ``timedelta`` (15 minutes).
    :param refresh_expires_in: lifetime of refresh tokens (30 days).
    :param issuer: added as ``iss`` to default claims and refresh tokens.
    :param audience: added as ``aud`` to default claims and refresh tokens.
    :param kid: the key id put in the header (``None``; for asymmetric keys,
        the RFC 7638 thumbprint).
    :param headers: extra JOSE headers for every token (``None``); ``alg`` is refused.
    :param allow_weak_hmac_keys: accept an HMAC secret shorter than the hash.
    :param clock: returns the current Unix time (``time.time``).
    """

    def __init__(
        self,
        key: Any = None,
        algorithm: str = "HS256",
        *,
        key_store: KeyStore | None = None,
        expires_in: Duration = timedelta(minutes=15),
        refresh_expires_in: Duration = timedelta(days=30),
        issuer: str | None = None,
        audience: str | Collection[str] | None = None,
        kid: str | None = None,
        headers: Mapping[str, Any] | None = None,
        allow_weak_hmac_keys: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.allow_weak_hmac_keys = _checks.flag(allow_weak_hmac_keys, "allow_weak_hmac_keys")
        if (key is None) == (key_store is None):
            raise ConfigurationError("give a Minter key or key_store=, one of the two")
        if key_store is None:
            key_store = MemoryKeyStore(
                key, algorithm, kid=kid, allow_weak_hmac_keys=allow_weak_hmac_keys
            )
        elif not all(hasattr(key_store, m) for m in ("keys", "version", "rotate", "retire")):
            raise ConfigurationError("key_store must have keys(), version(), rotate(), retire()")
        self.key_store: KeyStore = key_store
        self.expires_in = timedelta(
            seconds=_checks.seconds(expires_in, "expires_in", positive=True)
        )
        self.refresh_expires_in = timedelta(
            seconds=_checks.seconds(refresh_expires_in, "refresh_expires_in", positive=True)
        )
        if issuer is not None and not isinstance(issuer, str):
            raise ConfigurationError(f"issuer must be a string, not {type(issuer).__name__}")
        self.issuer = issuer
        if audience is None or isinstance(audience, str):
            self.audience: str | list[str] | None = audience
        else:
            self.audience = sorted(_checks.string_set(audience, "audience", example="'api'"))
        self.headers = _check_headers(headers)
        if "kid" in self.headers:
            raise ConfigurationError("set the key id with kid=, not headers=")
        self.clock = _checks.function(clock, "clock", "() -> float")
        self._loader: ClaimsLoader | None = None
        self._jws = jws_encoder()

    @property
    def current(self) -> SigningKey:
        """The key new tokens are signed with."""
        return self.key_store.keys()[0]

    @property
    def algorithm(self) -> str:
        """The current key's algorithm."""
        return self.current.algorithm

    def rotate(
        self, key: Any = None, *, algorithm: str | None = None, kid: str | None = None
    ) -> str:
        """Sign with ``key`` (a new one when ``None``) from now on; keep older keys published.

        Returns the new kid. With a shared key store, every worker signs with
        the new key from its next token.
        """
        return self.key_store.rotate(key, algorithm=algorithm, kid=kid)

    def retire(self, kid: str) -> None:
        """Stop publishing the (non-current) key ``kid``: its tokens stop verifying."""
        self.key_store.retire(kid)

    def jwks(self) -> dict[str, list[dict[str, Any]]]:
        """The public JWK Set of every asymmetric key held; HMAC secrets never appear."""
        keys = self.key_store.keys()
        return {"keys": [jwk for k in keys if (jwk := k.public_jwk()) is not None]}

    def key_source(self, *, recheck: Duration = 1.0) -> MinterKeys:
        """A key source over this minter's own keys, for verifying what it signs.

        Follows rotations: the store is looked at again at most every
        ``recheck`` seconds (a shared store is a directory to read).
        """
        return MinterKeys(self, recheck=_checks.seconds(recheck, "recheck"))

    def claims_loader(self, loader: _Loader) -> _Loader:
        """Register ``loader(identity) -> dict`` as the source of every claim set.

        Usable as a decorator. The returned dict is the whole claim set: add
        ``exp`` yourself if you want tokens to expire (the middleware requires
        it by default).
        """
        self._loader = loader
        return loader

    def default_claims(self, identity: Any) -> dict[str, Any]:
        """The claims a token gets when no loader is registered."""
        now = int(self.clock())
        claims: dict[str, Any] = {
            "sub": _subject(identity),
            "iat": now,
            "nbf": now,
            "exp": now + int(self.expires_in.total_seconds()),
            "jti": uuid.uuid4().hex,
        }
        if self.issuer is not None:
            claims["iss"] = self.issuer
        if self.audience is not None:
            claims["aud"] = self.audience
        return claims

    def mint(
        self,
        identity: Any,
        claims: Mapping[str, Any] | None = None,
        *,
        headers: Mapping[str, Any] | None = None,
        fresh: bool = False,
        csrf: bool = False,
    ) -> str:
        """Create a signed (access) token for ``identity``.

        :param claims: added on top of the loader's (or the default) claims,
            replacing any of the same name.
        :param headers: extra JOSE headers for this token; ``alg`` is refused.
        :param fresh: the user has just proven who they are (a login):
            ``auth_time`` is set to now, for ``Rule(fresh=...)`` and step-up.
        :param csrf: add a random ``csrf`` claim, for a token sent in a cookie
            (see :mod:`jwt_wsgi.cookies`); :meth:`mint_pair` always does.
        """
        if self._loader is not None:
            payload = dict(self._loader(identity))
        else:
            payload = self.default_claims(identity)
        if claims:
            payload.update(claims)
        if fresh:
            payload["auth_time"] = int(self.clock())
        if csrf:
            payload["csrf"] = secrets.token_urlsafe(24)
        return self._sign(payload, headers)

    def mint_pair(
        self,
        identity: Any,
        claims: Mapping[str, Any] | None = None,
        *,
        fresh: bool = True,
        family: str | None = None,
        auth_time: float | None = None,
    ) -> TokenPair:
        """An access token and a refresh token of one login.

        The access token is :meth:`mint`'s, plus ``fam``, ``csrf`` and
        ``auth_time`` (and a ``jti`` if it has none); the refresh token carries
        ``sub``, ``iat``, ``exp`` (``refresh_expires_in``), ``jti``, ``type``,
        ``fam``, ``csrf``, ``auth_time`` (and ``iss``/``aud``) and the ``typ``
        header ``refresh+jwt``.

        :param fresh: a login (``True``): ``auth_time`` is now. A refresh passes
            ``False`` with the ``auth_time`` of the login it continues.
        :param family: continue this login's family (a refresh) instead of
            starting one.
        :param auth_time: when the user last proved who they are.
        """
        now = int(self.clock())
        family = family or uuid.uuid4().hex
        csrf = secrets.token_urlsafe(24)
        if fresh:
            auth_time = now
        extra: dict[str, Any] = {"fam": family, "csrf": csrf}
        if auth_time is not None:
            extra["auth_time"] = int(auth_time)
        access_claims = (
            dict(self._loader(identity)) if self._loader is not None
            else self.default_claims(identity)
        )  # fmt: skip
        access_claims.setdefault("jti", uuid.uuid4().hex)
        access_claims.update(claims or {})
        access_claims.update(extra)
        refresh_claims: dict[str, Any] = {
            "sub": _subject(identity),
            "iat": now,
            "exp": now + int(self.refresh_expires_in.total_seconds()),
            "jti": uuid.uuid4().hex,
            "type": "refresh",
            **extra,
        }
        if self.issuer is not None:
            refresh_claims["iss"] = self.issuer
        if self.audience is not None:
            refresh_claims["aud"] = self.audience
        access = self._sign(access_claims, None)
        refresh = self._sign(refresh_claims, {"typ": REFRESH_TYP})
        expires = access_claims.get("exp")
        lifetime = int(expires - now) if isinstance(expires, int | float) else 0
        return TokenPair(access, refresh, family, csrf, max(lifetime, 0))

    def _sign(self, payload: dict[str, Any], headers: Mapping[str, Any] | None) -> str:
        payload = {name: _numeric_date(value) for name, value in payload.items()}
        signing = self.current
        merged = {**self.headers, **_check_headers(headers)}
        if signing.kid is not None:
            merged["kid"] = signing.kid
        return sign(self._jws, payload, signing.key, signing.algorithm, merged)


class MinterKeys:
    """A key source (:class:`~jwt_wsgi.jose.keys.KeySource`) over a minter's keys.

    The ring is rebuilt when the minter's store changes, looked at no more
    often than every ``recheck`` seconds, so a cache hit stays a comparison.
    """

    def __init__(self, minter: Minter, *, recheck: float = 1.0) -> None:
        self._minter = minter
        self._recheck = recheck
        keys = minter.key_store.keys()
        self.algorithms = validate_algorithms(sorted({k.algorithm for k in keys}))
        self._checked_at = minter.clock()
        self._version = minter.key_store.version()
        self._ring = self._build(keys)

    def current(self) -> KeyRing:
        """The ring for the minter's keys, rebuilt after a rotation."""
        now = self._minter.clock()
        if now - self._checked_at >= self._recheck:
            self._checked_at = now
            version = self._minter.key_store.version()
            if version != self._version:
                self._version = version
                self._ring = self._build(self._minter.key_store.keys())
        return self._ring

    def refresh_for(self, kid: str) -> KeyRing:
        """An unknown kid may be a rotation this process has not seen yet: look now."""
        self._checked_at = -float("inf")
        return self.current()

    def _build(self, keys: tuple[SigningKey, ...]) -> KeyRing:
        material: list[Any] = []
        for key in keys:
            jwk = key.public_jwk()
            material.append(
                jwk if jwk is not None else {"kty": "oct", "kid": key.kid, "k": b64encode(key.key)}
            )
        if len(material) == 1 and keys[0].kid is None:
            return KeyRing(keys[0].key, self.algorithms, allow_weak_hmac_keys=True)
        return KeyRing({"keys": material}, self.algorithms, allow_weak_hmac_keys=True)


def _subject(identity: Any) -> str:
    if isinstance(identity, bool) or not isinstance(identity, (str, int)):
        raise ConfigurationError(
            f"identity must be a str or an int (it becomes the 'sub' claim), "
            f"not {type(identity).__name__}"
        )
    return str(identity)


def _numeric_date(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return int(value.timestamp())
    return value


def _check_headers(headers: Mapping[str, Any] | None) -> dict[str, Any]:
    if headers is not None and not isinstance(headers, Mapping):
        raise ConfigurationError(f"headers must be a mapping, not {type(headers).__name__}")
    result = dict(headers or {})
    if "alg" in result:
        raise ConfigurationError(
            "the 'alg' header is set by the minter's algorithm and cannot be overridden"
        )
    return result
