"""The WSGI middleware: one bearer-token check in front of any WSGI app.

:class:`JWTMiddleware` wraps an app (Flask, Django, Pyramid, Falcon, Bottle,
a bare function). For every request it:

1. canonicalises ``PATH_INFO`` (:mod:`jwt_wsgi.paths`) and finds the most
   specific :class:`~jwt_wsgi.rules.Rule` for it and the method, then hands
   the app that same path, so the rule that was checked is the route that runs;
2. unless the rule is public, reads the bearer token and verifies it with the
   provider its ``iss`` names, or finds it in the verified-token cache, always
   re-checking the clock and that the keys are unchanged;
3. asks the revocation store, then checks the rule's providers, claims,
   scopes and ``when``;
4. sets the environ keys below and calls the app, whose response it passes on
   untouched (the request body is never read).

A refusal is an :class:`~jwt_wsgi.errors.AuthError` turned into an RFC 6750
response by ``on_error``, and logged (reason, method, path; never the token)
on the ``jwt_wsgi`` logger at INFO.

Environ keys set for the app:

``jwt.claims``
    The verified claim set (a fresh ``dict`` per request, safe to mutate), or
    ``None`` on a public path, a preflight, or an optional path with no token.
``jwt.token``
    The raw token string, or ``None``. Treat it as a secret: never log it.
``jwt.header``
    The JOSE header (``alg``, ``kid``, ...), or ``None``.
``REMOTE_USER``
    The ``sub`` claim (or the claim named by ``remote_user``), when it is a
    string.

Security notes: everything is protected unless a rule says otherwise
(``default="required"``); ``algorithms`` has no default; the app must route on
``PATH_INFO``, which Werkzeug, Flask, Django and the other WSGI frameworks do.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Literal

from .bearer import TokenSource
from .cache import TokenCache
from .errors import (
    AuthError,
    ConfigurationError,
    InvalidToken,
    MissingToken,
    ServiceUnavailable,
    error_response,
)
from .keys import KeyRing
from .providers import Provider
from .revocation import RevocationStore, RevocationUnavailable
from .rules import Auth, Rule, RuleMap
from .tokens import Verified, Verifier, peek_claim

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

logger = logging.getLogger("jwt_wsgi")

#: ``on_error(environ, start_response, error)`` answers a refused request.
ErrorHandler = Callable[["WSGIEnvironment", "StartResponse", AuthError], Iterable[bytes]]


def get_claims(environ: WSGIEnvironment) -> dict[str, Any] | None:
    """The verified claims of this request, or ``None`` when no token was required."""
    claims: dict[str, Any] | None = environ.get("jwt.claims")
    return claims


class JWTMiddleware:
    """Verify bearer JWTs in front of ``app`` and apply path rules.

    :param app: the WSGI application to protect.
    :param key: the verification key(s): an HMAC secret, a PEM public key, a
        ``cryptography`` key, a ``jwt.PyJWK``, a ``jwt.PyJWKSet``, a JWK or
        JWK Set ``dict``, a list of these (see :mod:`jwt_wsgi.keys`), or a
        :class:`~jwt_wsgi.jwks.RemoteKeySet`.
    :param algorithms: the allowed algorithms, e.g. ``["RS256"]``. Required:
        never derive it from the token (RFC 8725 section 3.1).
    :param jwks_url: fetch the keys from this JWK Set URL instead of ``key``.
        With neither, and an ``issuer``, the URL is found by OpenID Connect
        discovery.
    :param rules: :class:`~jwt_wsgi.rules.Rule` objects; most specific wins.
    :param default: the mode for paths no rule matches (``"required"``).
    :param audience: accepted ``aud`` value(s); a token with ``aud`` is
        refused when this is unset.
    :param issuer: accepted ``iss`` value(s); when set, the claim is required.
    :param leeway: seconds of clock skew tolerated (``0``).
    :param require: claims every token must carry (``("exp",)``).
    :param typ: accepted ``typ`` header value(s), e.g. ``"at+jwt"`` (``None``:
        not checked).
    :param providers: several trusted issuers (:class:`~jwt_wsgi.providers.Provider`),
        chosen by the token's ``iss``; replaces ``key``, ``algorithms``,
        ``jwks_url``, ``audience``, ``issuer``, ``leeway``, ``require``, ``typ``.
    :param revocation: a store with ``is_revoked(claims)`` or such a callable,
        asked on every request (``None``).
    :param revocation_unavailable: ``"closed"`` answers 503 when the store
        cannot answer; ``"open"`` lets the request through and logs it.
    :param header: the header carrying the token (``"Authorization"``).
    :param scheme: its auth scheme (``"Bearer"``; ``""`` for a bare token).
    :param realm: the ``realm`` of the challenge (``"api"``).
    :param cors_preflight: let CORS preflight requests (``OPTIONS`` with
        ``Origin`` and ``Access-Control-Request-Method``) through without a
        token (``False``).
    :param remote_user: the claim copied to ``REMOTE_USER`` (``"sub"``;
        ``None`` turns it off).
    :param on_error: replaces :func:`~jwt_wsgi.errors.error_response`. If it
        raises, the default response is sent and the exception logged.
    :param cache_size: verified tokens remembered (``10000``; ``0`` is off).
    :param max_token_bytes: longer tokens are refused unparsed (``8192``).
    :param case_sensitive: match rules case-sensitively (``True``).
    :param check_request_target: refuse requests whose raw target
        (``RAW_URI``/``REQUEST_URI``) disagrees with ``SCRIPT_NAME`` +
        ``PATH_INFO`` or has an encoded slash (``True``). Turn off only behind
        middleware that rewrites ``PATH_INFO`` on purpose.
    :param allow_weak_hmac_keys: accept HMAC secrets shorter than the hash
        (``False``).
    :param allow_http: allow ``http://`` key set URLs (``False``; tests only).
    :param clock: returns the current Unix time (``time.time``); tests freeze it.
    """

    def __init__(
        self,
        app: WSGIApplication,
        *,
        key: Any = None,
        algorithms: Sequence[str] | None = None,
        jwks_url: str | None = None,
        rules: Sequence[Rule] = (),
        default: Auth = "required",
        audience: str | Collection[str] | None = None,
        issuer: str | None = None,
        leeway: float = 0,
        require: Sequence[str] = ("exp",),
        typ: str | Collection[str] | None = None,
        providers: Sequence[Provider] | None = None,
        revocation: RevocationStore | Callable[[dict[str, Any]], bool] | None = None,
        revocation_unavailable: Literal["closed", "open"] = "closed",
        header: str = "Authorization",
        scheme: str = "Bearer",
        realm: str = "api",
        cors_preflight: bool = False,
        remote_user: str | None = "sub",
        on_error: ErrorHandler | None = None,
        cache_size: int = 10_000,
        max_token_bytes: int = 8192,
        case_sensitive: bool = True,
        check_request_target: bool = True,
        allow_weak_hmac_keys: bool = False,
        allow_http: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.app = app
        if providers is None:
            if algorithms is None:
                raise ConfigurationError(
                    "algorithms is required, e.g. algorithms=['RS256'] (RFC 8725 section 3.1)"
                )
            if key is None and jwks_url is None and issuer is None:
                raise ConfigurationError("give key=, jwks_url= or an issuer to discover keys from")
            providers = [
                Provider(
                    "default",
                    algorithms,
                    issuer=issuer,
                    key=key,
                    jwks_url=jwks_url,
                    audience=audience,
                    leeway=leeway,
                    require=require,
                    typ=typ,
                    allow_http=allow_http,
                    allow_weak_hmac_keys=allow_weak_hmac_keys,
                )
            ]
            self._by_issuer: dict[str, Verifier] | None = None
        elif not providers:
            raise ConfigurationError("providers= needs at least one Provider")
        elif (key, jwks_url, algorithms, issuer, audience, typ) != (None,) * 6 or (
            leeway,
            tuple(require),
        ) != (0, ("exp",)):
            raise ConfigurationError(
                "with providers=, set keys, algorithms, issuer, audience, leeway, require "
                "and typ on each Provider"
            )
        else:
            self._by_issuer = {}
        self.verifiers = {p.name: p.verifier(max_token_bytes) for p in providers}
        self._single = next(iter(self.verifiers.values()))
        if len(self.verifiers) != len(providers):
            raise ConfigurationError("provider names must be unique")
        if self._by_issuer is not None:
            for provider in providers:
                if not provider.issuer or provider.issuer in self._by_issuer:
                    raise ConfigurationError(
                        "with several providers, each needs its own issuer to be chosen by"
                    )
                self._by_issuer[provider.issuer] = self.verifiers[provider.name]
        for rule in rules:
            unknown = set(rule.providers or ()) - set(self.verifiers)
            if unknown:
                raise ConfigurationError(f"{rule!r} names unknown providers {sorted(unknown)}")
        self.rules = RuleMap(
            rules,
            default,
            case_sensitive=case_sensitive,
            check_request_target=check_request_target,
        )
        self.source = TokenSource(header, scheme)
        self._prefix = f"{scheme} " if scheme else ""
        self.max_header_bytes = max_token_bytes + len(self._prefix) + 64
        self.cache = TokenCache(cache_size)
        if revocation_unavailable not in ("closed", "open"):
            raise ValueError("revocation_unavailable must be 'closed' or 'open'")
        self._is_revoked = _revocation_check(revocation)
        self.fail_open = revocation_unavailable == "open"
        self.realm = realm
        self.cors_preflight = cors_preflight
        self.remote_user = remote_user
        self.on_error = on_error
        self.clock = clock

    @property
    def verifier(self) -> Verifier:
        """The verifier of the single (``"default"``) provider."""
        if len(self.verifiers) != 1:
            raise AttributeError("several providers: use .verifiers[name]")
        return self._single

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        try:
            token, verified, claims = self._decide(environ)
        except AuthError as error:
            return self._reject(environ, start_response, error)
        except Exception:
            # A bug of ours or of a dependency must not become a 500 with a
            # traceback; fail closed and leave the details in the log.
            logger.exception("unexpected error while authenticating a request")
            return self._reject(
                environ, start_response, InvalidToken("the token could not be verified")
            )
        environ["jwt.token"] = token
        environ["jwt.claims"] = claims
        if verified is None:
            environ["jwt.header"] = None
        else:
            environ["jwt.header"] = verified.fresh_header()
            user = verified.claims.get(self.remote_user) if self.remote_user else None
            if isinstance(user, str):
                environ["REMOTE_USER"] = user
        return self.app(environ, start_response)

    def _decide(
        self, environ: WSGIEnvironment
    ) -> tuple[str | None, Verified | None, dict[str, Any] | None]:
        """Let the request through (token, verification, claims) or raise an AuthError."""
        environ["PATH_INFO"], rule = self.rules.route(environ)
        if rule.auth == "public" or (self.cors_preflight and _is_preflight(environ)):
            return None, None, None
        token, verified = self._authenticate(environ)
        if verified is None:
            if rule.auth == "required":
                raise MissingToken("a bearer token is required")
            return None, None, None
        if rule.providers is not None and verified.provider not in rule.providers:
            raise InvalidToken("the token's issuer is not accepted for this path")
        claims = verified.fresh_claims()
        if self._is_revoked is not None:
            self._check_revocation(claims)
        if rule.checks:
            rule.authorize(claims, environ)
        return token, verified, claims

    def set_keys(self, key: Any, *, provider: str = "default") -> None:
        """Replace a provider's verification keys at run time (same forms as ``key=``).

        The new keys are checked against the provider's algorithms before they
        take effect. Cached tokens are verified again under the new keys, so
        a token whose key was removed stops passing at once.
        """
        verifier = self.verifiers[provider]
        current = verifier.keys.current()
        verifier.set_keys(
            KeyRing(key, current.algorithms, allow_weak_hmac_keys=current.allow_weak_hmac_keys)
        )

    def _authenticate(self, environ: WSGIEnvironment) -> tuple[str | None, Verified | None]:
        """The request's token and its verification, or ``(None, None)`` if it has none."""
        value = environ.get(self.source.environ_key)
        if value is None:
            return None, None
        now = self.clock()
        # Fast path: the usual spelling of a token already verified. Only
        # strings that passed the strict parse are in the cache, so a hit
        # needs no further header parsing.
        looked_up = cached = None
        if value.startswith(self._prefix):
            looked_up = value[len(self._prefix) :]
            cached = self.cache.get(looked_up)
            # The test of _still_good, inlined: this is the per-request path.
            if (
                cached is not None
                and cached.verifier.keys.current() is cached.ring
                and cached.valid_from <= now < cached.valid_until
            ):
                return looked_up, cached
        if len(value) > self.max_header_bytes:
            raise InvalidToken("the token is too large")
        token = self.source.read(environ)
        if token is None:
            return None, None
        if token != looked_up:
            cached = self.cache.get(token)
        if cached is not None and self._still_good(token, cached, now):
            return token, cached
        verifier = self._choose_verifier(token)
        verified = verifier.verify(token)
        verifier.check_time(verified, now)
        self.cache.put(token, verified)
        return token, verified

    def _still_good(self, token: str, verified: Verified, now: float) -> bool:
        """Whether a cached verification holds now: same keys, inside its time window.

        ``False`` means verify again (the keys changed); a token whose time is
        up is dropped from the cache and refused.
        """
        if not verified.current():
            self.cache.discard(token)
            return False
        if not verified.valid_from <= now < verified.valid_until:
            self.cache.discard(token)
            verified.verifier.check_time(verified, now)
        return True

    def _choose_verifier(self, token: str) -> Verifier:
        if self._by_issuer is None:
            return self._single
        issuer = peek_claim(token, "iss", self.max_header_bytes)
        verifier = self._by_issuer.get(issuer) if isinstance(issuer, str) else None
        if verifier is None:
            raise InvalidToken("the token's issuer is not accepted")
        return verifier

    def _check_revocation(self, claims: dict[str, Any]) -> None:
        assert self._is_revoked is not None
        try:
            revoked = self._is_revoked(claims)
        except Exception as exc:
            if not isinstance(exc, RevocationUnavailable):
                logger.exception("the revocation check raised")
            if self.fail_open:
                logger.warning("revocation unavailable (%s); letting the token through", exc)
                return
            raise ServiceUnavailable("the revocation list is unavailable") from exc
        if revoked:
            raise InvalidToken("the token has been revoked")

    def _reject(
        self, environ: WSGIEnvironment, start_response: StartResponse, error: AuthError
    ) -> Iterable[bytes]:
        logger.info(
            "refused %r %r with %d: %s",
            environ.get("REQUEST_METHOD"),
            environ.get("PATH_INFO"),
            error.status,
            error.description,
        )
        if self.on_error is not None:
            try:
                return self.on_error(environ, start_response, error)
            except Exception:
                logger.exception("on_error raised; sending the default response")
        return error_response(environ, start_response, error, self.realm)


def _revocation_check(
    revocation: RevocationStore | Callable[[dict[str, Any]], bool] | None,
) -> Callable[[dict[str, Any]], bool] | None:
    if revocation is None:
        return None
    if hasattr(revocation, "is_revoked"):
        return revocation.is_revoked
    if callable(revocation):
        return revocation
    raise ConfigurationError("revocation must have is_revoked(claims) or be such a callable")


def _is_preflight(environ: WSGIEnvironment) -> bool:
    """A CORS preflight: ``OPTIONS`` with ``Origin`` and the method it asks about."""
    return (
        environ.get("REQUEST_METHOD") == "OPTIONS"
        and "HTTP_ORIGIN" in environ
        and "HTTP_ACCESS_CONTROL_REQUEST_METHOD" in environ
    )
