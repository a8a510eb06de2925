"""The authenticator: from a token to verified claims, with no web framework involved.

:class:`Authenticator` holds everything that decides whether a token is good:
the token source, the verified-token cache, the providers and how one is
chosen, the verification itself and the revocation check. One token goes
through it as::

    token source -> cache -> provider (by iss) -> verification
        -> sender check (certificate, DPoP proof) -> revocation
        -> CSRF (cookie tokens) -> Authenticated

The middleware calls :meth:`Authenticator.authenticate_request` for each
request; tests, command-line tools and other adapters call
:meth:`Authenticator.authenticate` with a token string and get the same
answer the middleware would, every check included (signature, claims, the
clock, revocation). Both raise an :class:`~jwt_wsgi.errors.AuthError`
subclass per refusal reason.
"""

from __future__ import annotations

import difflib
import hmac
import logging
import time
import warnings
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Unpack

from . import _checks
from ._memo import BoundedMemo
from .bearer import B64TOKEN, BearerHeader
from .binding import DPoPMode
from .cache import TokenCache
from .certificates import ClientCertificates
from .cookies import read_cookie
from .dpop import DPoP
from .errors import (
    CertificateMismatch,
    CertificateRequired,
    ConfigurationError,
    DPoPDowngrade,
    DPoPNotAccepted,
    DPoPRequired,
    DPoPTokenNotBound,
    InvalidIssuer,
    MalformedCredentials,
    MalformedToken,
    RevocationCheckFailed,
    RevocationUnavailable,
    RevokedToken,
    TokenNotBound,
    TokenTooLarge,
)
from .jose.compact import peek_claims, token_id
from .jose.keys import KeyInput, KeyRing
from .jose.verifier import TokenVerifier, VerifiedToken
from .providers import Provider, ProviderOptions
from .revocation import DenylistStore, RevocationStore
from .sources import SAFE_METHODS, Location, SourceOptions, TokenSources

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

logger = logging.getLogger("jwt_wsgi")

#: ``revocation=`` takes a store, or a ``fn(claims) -> bool`` callable.
Revocation = RevocationStore | Callable[[dict[str, Any]], bool]


@dataclass(slots=True)
class Authenticated:
    """A token that passed every check, as one request sees it.

    :param token: the token string. A credential: never log it.
    :param claims: the verified claims, a fresh copy for this caller (safe
        to mutate).
    :param header: the JOSE header, a fresh copy.
    :param provider: the name of the provider that accepted it.
    :param kind: ``"access"``, or ``"refresh"`` for a refresh token.
    :param dpop_nonce: a fresh DPoP nonce to send with the response
        (``DPoP-Nonce``), when the proof used the one before.
    :param location: where the request carried the token: ``"header"`` (the
        ``Bearer`` or ``DPoP`` scheme), ``"cookie"`` or ``"query"``; ``None``
        for a token given to :meth:`Authenticator.authenticate` directly.
        Whether a request needs CSRF protection depends on it.

    Made for one caller and never shared, so it is not frozen (a frozen
    dataclass costs more to build than a cache hit costs in all).
    """

    token: str
    claims: dict[str, Any]
    header: dict[str, Any]
    provider: str
    kind: str = "access"
    dpop_nonce: str | None = None
    location: Location | None = "header"


class Authenticator:
    """Verifies tokens the way the middleware does, for any caller.

    :param providers: the trusted issuer(s). With several, each needs its own
        ``issuer``, and a token is verified only by the provider its ``iss``
        names.
    :param revocation: a store with ``is_revoked(claims)``
        (:class:`~jwt_wsgi.revocation.MemoryRevocationStore`,
        :class:`~jwt_wsgi.revocation.RedisRevocationStore`) or such a callable,
        asked for every token, cached or not (``None``).
    :param revocation_unavailable: when the store cannot answer, ``"closed"``
        refuses with 503 (:class:`~jwt_wsgi.errors.RevocationCheckFailed`);
        ``"open"`` lets the token through and logs a warning.
    :param sources: where tokens are read (:class:`~jwt_wsgi.sources.TokenSources`:
        the ``Authorization: Bearer`` header by default).
    :param cache_size: verified tokens remembered (``10000``; ``0`` is off).
    :param max_token_bytes: longer tokens are refused unparsed (``8192``,
        about 6 KiB of claims JSON once base64url-encoded).
    :param certificate_environ: for certificate-bound tokens (RFC 8705), the
        environ key the server fills with the client's PEM certificate (e.g.
        ``"SSL_CLIENT_CERT"``); ``None`` by default.
    :param certificate_header: instead, a header a trusted TLS-terminating
        proxy sets with the URL-encoded PEM certificate (e.g.
        ``"X-Client-Cert"``); never trusted unless named. See
        :mod:`jwt_wsgi.certificates`.
    :param dpop_proofs: how DPoP proofs are checked (:class:`~jwt_wsgi.dpop.DPoP`:
        the API's base URL, proof algorithms, age, replay store, nonces);
        needed where a provider or rule accepts DPoP (``None``). The
        ``Authorization: DPoP <token>`` scheme is read only with it.
    :param clock: returns the current Unix time (``time.time``); tests freeze it.
    """

    def __init__(
        self,
        providers: Provider | Sequence[Provider],
        *,
        revocation: Revocation | None = None,
        revocation_unavailable: Literal["closed", "open"] = "closed",
        sources: TokenSources | None = None,
        cache_size: int = 10_000,
        max_token_bytes: int = 8192,
        certificate_environ: str | None = None,
        certificate_header: str | None = None,
        dpop_proofs: DPoP | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if isinstance(providers, Provider):
            providers = [providers]
        if isinstance(providers, str | bytes) or not isinstance(providers, Sequence):
            raise ConfigurationError("providers must be a Provider or a list of Providers")
        if not providers or not all(isinstance(p, Provider) for p in providers):
            raise ConfigurationError("providers must hold at least one Provider, and only those")
        self.max_token_bytes = _checks.count(max_token_bytes, "max_token_bytes", minimum=1)
        self._clock = self.clock = _checks.function(clock, "clock", "() -> float")
        self._verifiers: dict[str, TokenVerifier[Provider]] = {}
        for provider in providers:
            if provider.name in self._verifiers:
                raise ConfigurationError(f"two providers are named {provider.name!r}")
            self._verifiers[provider.name] = TokenVerifier(
                provider, max_token_bytes=self.max_token_bytes, clock=clock
            )
        self._single = self._verifiers[providers[0].name] if len(providers) == 1 else None
        self._by_issuer: dict[str, TokenVerifier[Provider]] = {}
        if self._single is None:
            for provider in providers:
                if provider.issuer is None or provider.issuer in self._by_issuer:
                    raise ConfigurationError(
                        "with several providers, each needs an issuer of its own to be chosen by"
                    )
                self._by_issuer[provider.issuer] = self._verifiers[provider.name]
        if sources is None:
            sources = TokenSources()
        elif not isinstance(sources, TokenSources):
            raise ConfigurationError(f"sources must be TokenSources, not {type(sources).__name__}")
        self.sources = sources
        #: How the bearer header is read (its name and scheme).
        self.bearer = self.sources.bearer
        # The default, header only, has a path of its own: the usual request;
        # and so has cookie only, the browser app's.
        self._header_only = self.sources.locations == ("header",)
        self._cookie_only = self.sources.locations == ("cookie",)
        self._cookie_name = self.sources.cookies.access
        self._cookie_memo: BoundedMemo[str, str] = BoundedMemo(
            _COOKIE_MEMO_SIZE, _COOKIE_MEMO_MAX_CHARS
        )
        self._environ_key = self.bearer.environ_key
        self._prefix = self.bearer.prefix
        self._prefix_length = len(self._prefix)
        # A header longer than this cannot hold a token we would accept.
        self._max_header = self.max_token_bytes + len(self._prefix) + 64
        self.certificates = ClientCertificates(
            environ_key=certificate_environ, header=certificate_header
        )
        self.cache = TokenCache(_checks.count(cache_size, "cache_size"))
        self._cached = self.cache.peek
        self._is_revoked = _revocation_check(revocation)
        # jwt_wsgi's own stores also know tokens without a jti, by digest, and
        # take the entries to look up, worked out once per verified token.
        self._denylist = revocation if isinstance(revocation, DenylistStore) else None
        #: Revocation checks the store could not answer (for monitoring).
        self.revocation_failures = 0
        self._fail_open = (
            _checks.choice(revocation_unavailable, "revocation_unavailable", ("closed", "open"))
            == "open"
        )
        if dpop_proofs is not None and not isinstance(dpop_proofs, DPoP):
            raise ConfigurationError(
                f"dpop_proofs must be a DPoP, not {type(dpop_proofs).__name__}"
            )
        self.dpop_proofs = dpop_proofs
        for provider in providers:
            if provider.dpop != "disabled" and dpop_proofs is None:
                raise ConfigurationError(
                    f"provider {provider.name!r} accepts DPoP: give "
                    "dpop_proofs=DPoP(base_url=...) to say how proofs are checked"
                )
        self._dpop_replay = (
            None if dpop_proofs is None else dpop_proofs.replay_store(revocation, clock)
        )
        # The DPoP scheme is read from the Authorization header only (RFC 9449 section 7).
        self._dpop_scheme = dpop_proofs is not None and self._environ_key == "HTTP_AUTHORIZATION"

    @classmethod
    def from_options(cls, **options: Unpack[AuthenticatorOptions]) -> Authenticator:
        """An authenticator from keywords, building ``Provider("default", ...)`` when asked.

        Takes :class:`Authenticator`'s keywords, ``providers`` included, or
        instead of ``providers`` the keywords of one :class:`Provider`; and
        instead of ``sources`` those of :class:`~jwt_wsgi.sources.TokenSources`.
        A keyword of none of them is refused with the nearest known name.
        """
        given: dict[str, Any] = dict(options)
        unknown = set(given) - _OPTION_NAMES
        if unknown:
            name = sorted(unknown)[0]
            close = difflib.get_close_matches(name, _OPTION_NAMES, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigurationError(f"unknown option {name!r}{hint}")
        shortcut = {name: given.pop(name) for name in list(given) if name in _PROVIDER_OPTIONS}
        source_options = {n: given.pop(n) for n in list(given) if n in _SOURCE_OPTIONS}
        if source_options:
            if given.get("sources") is not None:
                raise ConfigurationError(
                    f"with sources=, set {sorted(source_options)} on the TokenSources instead"
                )
            given["sources"] = TokenSources(**source_options)
        providers = given.pop("providers", None)
        if providers is None:
            algorithms = shortcut.pop("algorithms", None)
            providers = Provider("default", algorithms, **shortcut)
        elif shortcut:
            raise ConfigurationError(
                f"with providers=, set {sorted(shortcut)} on each Provider instead"
            )
        return cls(providers, **given)

    @property
    def source(self) -> BearerHeader:
        """Deprecated (0.3): :attr:`bearer`, named for what it is beside :attr:`sources`."""
        warnings.warn(
            "Authenticator.source is deprecated: use Authenticator.bearer",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.bearer

    @property
    def providers(self) -> Mapping[str, Provider]:
        """The providers by name."""
        return {name: verifier.provider for name, verifier in self._verifiers.items()}

    def dpop_modes(self, providers: Collection[str] | None = None) -> frozenset[DPoPMode]:
        """The DPoP modes of these providers (by name; all by default)."""
        return frozenset(
            verifier.provider.dpop
            for name, verifier in self._verifiers.items()
            if providers is None or name in providers
        )

    def authenticate(self, token: str) -> Authenticated:
        """Check ``token`` completely; raise an :class:`~jwt_wsgi.errors.AuthError` if it fails."""
        if not isinstance(token, str):
            raise MalformedToken("the token must be a string")
        result = self._authenticate(token, self._clock())
        result.location = None
        return result

    def authenticate_request(
        self,
        environ: WSGIEnvironment,
        locations: Sequence[Location] | None = None,
        dpop: DPoPMode | None = None,
    ) -> Authenticated | None:
        """Check the request's token; ``None`` if it carries none.

        :param locations: where to look (the configured locations by default);
            a rule's own locations, say.
        :param dpop: the DPoP mode here (a rule's), instead of the provider's.

        In the default case, a header alone, the header is read once and its
        usual spelling (``Bearer <token>``) is looked up in the cache before
        any parsing: only strings that passed the strict parse are cached, so
        a hit needs nothing more.
        """
        if locations is not None or not self._header_only:
            if locations is None and self._cookie_only:
                return self._from_cookie(environ, dpop)
            return self._from_sources(environ, locations or self.sources.locations, dpop)
        value: str | None = environ.get(self._environ_key)
        if value is None:
            return None
        now = self._clock()
        looked_up = None
        if value.startswith(self._prefix):
            looked_up = value[self._prefix_length :]
            # TokenCache.get and VerifiedToken.holds, inlined: this is the per-request path.
            cached = self._cached(looked_up)
            if (
                cached is not None
                and cached.verifier.keys.current() is cached.ring
                and cached.valid_from <= now < cached.valid_until
            ):
                cached.used = True
                self.cache.hits += 1
                if cached.bound or dpop is not None:
                    self._check_sender(cached, environ, looked_up, dpop, now, dpop_scheme=False)
                # fresh_claims() and fresh_header(), inlined for the usual flat token.
                claims = cached.claims.copy() if not cached.nested else cached.fresh_claims()
                if self._is_revoked is not None:
                    self._check_revocation(claims, cached, looked_up)
                header = cached.header.copy() if not cached.header_nested else cached.fresh_header()
                return Authenticated(looked_up, claims, header, cached.provider, cached.kind)
        if self._dpop_scheme and _is_dpop(value):
            return self._from_dpop(value, environ, dpop, now)
        if len(value) > self._max_header:
            raise TokenTooLarge()
        token = self.bearer.parse(value)
        if token is None:
            return None
        return self._authenticate(token, now, environ, dpop)

    def _from_dpop(
        self, value: str, environ: WSGIEnvironment, dpop: DPoPMode | None, now: float
    ) -> Authenticated:
        """``Authorization: DPoP <token>``: the token, then its proof (RFC 9449 section 7).

        A refusal answers in the DPoP scheme (see :meth:`uses_dpop_scheme`)."""
        if len(value) > self._max_header:
            raise TokenTooLarge()
        parts = value.split()
        if len(parts) != 2 or not B64TOKEN.match(parts[1]):
            raise MalformedCredentials("the Authorization header must carry exactly one DPoP token")
        return self._authenticate(parts[1], now, environ, dpop, dpop_scheme=True)

    def uses_dpop_scheme(self, environ: WSGIEnvironment) -> bool:
        """Whether the request sent its token in the DPoP scheme (RFC 9449 section 7),
        which a refusal's challenge then answers in."""
        value = environ.get(self._environ_key) if self._dpop_scheme else None
        return isinstance(value, str) and _is_dpop(value)

    def _from_cookie(
        self, environ: WSGIEnvironment, dpop: DPoPMode | None = None
    ) -> Authenticated | None:
        """The cookie-only case, the browser app's: read, cache, then CSRF."""
        header: str | None = environ.get("HTTP_COOKIE")
        if header is None:
            return None
        # A browser sends the same Cookie header again and again: remember
        # what it held, in a bounded memo, as the rule map remembers routes.
        token = self._cookie_memo.get(header)
        if token is None:
            token = read_cookie(header, self._cookie_name)
            if not token:
                return None
            self._cookie_memo.remember(header, token)
        result = self._authenticate(token, self._clock(), environ, dpop)
        result.location = "cookie"
        if environ.get("REQUEST_METHOD") not in SAFE_METHODS:
            self.sources.check_csrf(environ, result.claims)
        return result

    def _from_sources(
        self,
        environ: WSGIEnvironment,
        locations: Sequence[Location],
        dpop: DPoPMode | None = None,
    ) -> Authenticated | None:
        """The token from any of ``locations``, with what its location needs checked.

        Where the query string is a location, the token parameter is removed
        from it whichever location won and whatever the outcome (RFC 6750
        section 5.3): the app behind a shadow rule, its logs and its error
        pages never see it.
        """
        try:
            if self._dpop_scheme and "header" in locations:
                value = environ.get(self._environ_key)
                if isinstance(value, str) and _is_dpop(value):
                    return self._from_dpop(value, environ, dpop, self._clock())
            found = self.sources.read(environ, locations)
            if found is None:
                return None
            token, location = found
            result = self._authenticate(token, self._clock(), environ, dpop)
            result.location = location
            if location == "cookie":
                self.sources.check_csrf(environ, result.claims)
            return result
        finally:
            if "query" in locations:
                self.sources.strip_query(environ)

    def set_keys(self, key: KeyInput, *, provider: str = "default") -> None:
        """Replace a provider's keys with static ones, offline (same forms as ``key=``).

        The keys are checked against the provider's algorithms before they
        take effect. Cached tokens are verified again under the new keys, so a
        token whose key was removed stops passing at once. For tests and for
        a minter's own service; no network is involved, even when the
        provider fetched its keys before.
        """
        verifier = self._verifiers.get(provider)
        if verifier is None:
            raise ConfigurationError(
                f"no provider named {provider!r}; there are {sorted(self._verifiers)}"
            )
        settings = verifier.provider
        verifier.set_keys(
            KeyRing(key, settings.algorithms, allow_weak_hmac_keys=settings.allow_weak_hmac_keys)
        )

    def _authenticate(
        self,
        token: str,
        now: float,
        environ: WSGIEnvironment | None = None,
        dpop: DPoPMode | None = None,
        *,
        dpop_scheme: bool = False,
    ) -> Authenticated:
        """Every location's token, once read: the cache, else verification (whose
        compact-JWS split refuses an overlong token before any other work)."""
        cached = self.cache.get(token)
        if cached is not None:
            if cached.holds(now):
                return self._accept(token, cached, environ, dpop, now, dpop_scheme)
            self.cache.discard(token)
            if cached.verifier.keys.current() is cached.ring:
                cached.verifier.check_time(cached, now)  # the same keys: time ran out
        if self._single is not None:
            verifier, verified = self._single, self._single.verify_static(token)
        else:
            peeked = peek_claims(token, self.max_token_bytes)
            verifier = self._choose_verifier(peeked.get("iss"))
            verified = verifier.verify_static(token, peeked)
        verifier.check_time(verified, now)
        self.cache.put(token, verified)
        return self._accept(token, verified, environ, dpop, now, dpop_scheme)

    def _choose_verifier(self, issuer: Any) -> TokenVerifier[Provider]:
        """The provider a token's ``iss`` names (read unverified, trusted for nothing else)."""
        verifier = self._by_issuer.get(issuer) if isinstance(issuer, str) else None
        if verifier is None:
            raise InvalidIssuer()
        return verifier

    def _accept(
        self,
        token: str,
        verified: VerifiedToken,
        environ: WSGIEnvironment | None,
        dpop: DPoPMode | None,
        now: float,
        dpop_scheme: bool,
    ) -> Authenticated:
        """The per-caller result, after the checks every request makes: the
        sender (the certificate or DPoP key a token is bound to), and revocation.

        (Inlined in :meth:`authenticate_request` for the usual cache hit.)
        """
        nonce = None
        if verified.bound or dpop is not None or dpop_scheme:
            nonce = self._check_sender(verified, environ, token, dpop, now, dpop_scheme)
        # fresh_claims() and fresh_header(), inlined for the usual flat token.
        claims = verified.claims.copy() if not verified.nested else verified.fresh_claims()
        if self._is_revoked is not None:
            self._check_revocation(claims, verified, token)
        header = verified.header.copy() if not verified.header_nested else verified.fresh_header()
        return Authenticated(token, claims, header, verified.provider, verified.kind, nonce)

    def _check_sender(
        self,
        verified: VerifiedToken,
        environ: WSGIEnvironment | None,
        token: str,
        dpop: DPoPMode | None,
        now: float,
        dpop_scheme: bool,
    ) -> str | None:
        """The request comes from the token's holder: its certificate (RFC 8705)
        and its DPoP proof (RFC 9449), as the token's binding and the mode ask.

        ``dpop`` is the rule's mode, else the provider's applies. Returns a
        DPoP nonce to send with the response, or ``None``.
        """
        if verified.needs_certificate:
            self._check_certificate(verified, environ)
        mode = verified.verifier.dpop if dpop is None else dpop
        if not dpop_scheme:
            if verified.jkt is not None:
                raise DPoPDowngrade()
            if mode == "required":
                raise DPoPRequired()
            return None
        if mode == "disabled":
            raise DPoPNotAccepted()
        if verified.jkt is None:
            raise DPoPTokenNotBound()
        assert self.dpop_proofs is not None and self._dpop_replay is not None
        assert environ is not None
        proof = self.dpop_proofs.verify(
            environ, self._dpop_replay, token=token, jkt=verified.jkt, now=now
        )
        return proof.nonce

    def _check_certificate(self, verified: VerifiedToken, environ: WSGIEnvironment | None) -> None:
        """RFC 8705: the request's client certificate is the one the token is bound to."""
        presented = self.certificates.thumbprint(environ)
        if presented is None:
            raise CertificateRequired()
        if verified.x5t is None:
            raise TokenNotBound()
        if not hmac.compare_digest(presented, verified.x5t):
            raise CertificateMismatch()

    def _check_revocation(
        self, claims: dict[str, Any], verified: VerifiedToken, token: str
    ) -> None:
        assert self._is_revoked is not None
        try:
            if self._denylist is not None:
                keys = verified.revocation_keys
                if keys is None:  # computed once per verification, then cached
                    static = verified.claims
                    keys = self._denylist.keys_for(static, token_id(token, static))
                    verified.revocation_keys = keys
                revoked = self._denylist.is_revoked_by(keys, claims.get("iat"))
            else:
                revoked = self._is_revoked(claims)
        except Exception as exc:
            self.revocation_failures += 1
            if not isinstance(exc, RevocationUnavailable):
                logger.exception("the revocation check raised")
            if self._fail_open:
                logger.warning("revocation unavailable (%s); letting the token through", exc)
                return
            raise RevocationCheckFailed() from exc
        if revoked:
            raise RevokedToken()


class AuthenticatorOptions(ProviderOptions, SourceOptions, total=False):
    """The keywords of :class:`Authenticator`, plus those of one :class:`Provider`
    and of :class:`~jwt_wsgi.sources.TokenSources`.

    What ``JWTMiddleware(app, **options)`` and
    :meth:`Authenticator.from_options` take; the two classes document each.
    """

    providers: Provider | Sequence[Provider] | None
    revocation: Revocation | None
    revocation_unavailable: Literal["closed", "open"]
    sources: TokenSources | None
    cache_size: int
    max_token_bytes: int
    certificate_environ: str | None
    certificate_header: str | None
    dpop_proofs: DPoP | None
    clock: Callable[[], float]


#: The cookie-header memo's bound, and the longest header it keeps.
_COOKIE_MEMO_SIZE = 4096
_COOKIE_MEMO_MAX_CHARS = 4096

_PROVIDER_OPTIONS = frozenset(ProviderOptions.__optional_keys__)
_SOURCE_OPTIONS = frozenset(SourceOptions.__optional_keys__)
_OPTION_NAMES = frozenset(AuthenticatorOptions.__optional_keys__)


def _is_dpop(value: str) -> bool:
    """Whether an ``Authorization`` value uses the DPoP scheme (in any case)."""
    return value[:4].lower() == "dpop" and (len(value) == 4 or value[4].isspace())


def _revocation_check(revocation: Revocation | None) -> Callable[..., bool] | None:
    if revocation is None:
        return None
    is_revoked = getattr(revocation, "is_revoked", None)
    if callable(is_revoked):
        check: Callable[..., bool] = is_revoked
        return check
    if callable(revocation):
        return revocation
    raise ConfigurationError(
        "revocation must be a store with is_revoked(claims) or a callable "
        f"(claims) -> bool; got {type(revocation).__name__}"
    )
