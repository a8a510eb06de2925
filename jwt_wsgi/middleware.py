"""The WSGI middleware: route, authenticate, authorize, expose, then call the app.

:class:`JWTMiddleware` wraps an app (Flask, Django, Pyramid, Falcon, Bottle,
a bare function). For every request it:

1. **routes**: canonicalises ``PATH_INFO`` (:mod:`jwt_wsgi.paths`), finds the
   most specific :class:`~jwt_wsgi.rules.Rule` for it and the method, and
   hands the app that same path, so the rule that was checked is the route
   that runs;
2. **authenticates**, unless the rule is public: its
   :class:`~jwt_wsgi.authenticator.Authenticator` reads the bearer token and
   checks it (cache, provider, signature, claims, clock, revocation);
3. **authorizes**: the middleware's ``policy`` (checks for every path), then
   the rule's own (providers, token kind, claims, scopes, freshness, ``when``);
4. **exposes** the result in the environ keys below and calls the app, whose
   response it passes on untouched (the request body is never read).

A refusal is an :class:`~jwt_wsgi.errors.AuthError` subclass, answered by
``on_error`` (by default the error itself: RFC 6750 status, JSON body and
challenge) and logged on the ``jwt_wsgi`` logger at INFO with its reason
code, method and path, never the token.

Environ keys set for the app:

``jwt.claims``
    The verified claim set (a fresh ``dict`` per request, safe to mutate), or
    ``None`` on a public path, a preflight, or an optional path with no token.
``jwt.token``
    The raw token string, or ``None``. Treat it as a secret: never log it.
``jwt.header``
    The JOSE header (``alg``, ``kid``, ...), or ``None``.
``jwt.provider``
    The name of the provider that accepted the token, or ``None``.
``jwt.location``
    Where the request carried the token: ``"header"`` (``Bearer`` or
    ``DPoP``), ``"cookie"`` or ``"query"``; ``None`` without a token. A
    browser attaches cookies to requests other sites trigger, never a bearer
    header, so code that skips a CSRF check must ask for ``"header"`` here.
``REMOTE_USER``
    The ``sub`` claim (or the claim named by ``remote_user``), when it is a
    string or an integer.

Security notes: everything is protected unless a rule says otherwise
(``default="required"``); ``algorithms`` has no default; the app must route on
``PATH_INFO``, which Werkzeug, Flask, Django and the other WSGI frameworks do.
"""

from __future__ import annotations

import functools
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Unpack

from . import _checks
from .authenticator import Authenticated, Authenticator, AuthenticatorOptions
from .cache import TokenCache
from .errors import (
    CHALLENGE_KEY,
    AuthError,
    Challenge,
    ConfigurationError,
    MissingToken,
    PrincipalUnavailable,
    UnknownPrincipal,
    VerificationFailed,
    WrongTokenKind,
)
from .jose.keys import KeyInput
from .metrics import Metrics
from .rules import Auth, Policy, Rule, RuleMap
from .settings import configured, configured_from_env

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

logger = logging.getLogger("jwt_wsgi")

#: ``on_error(environ, start_response, error)`` answers a refused request.
ErrorHandler = Callable[["WSGIEnvironment", "StartResponse", AuthError], Iterable[bytes]]


def get_claims(environ: WSGIEnvironment) -> dict[str, Any] | None:
    """The verified claims of this request, or ``None`` where no token was required.

    Raises :class:`~jwt_wsgi.errors.ConfigurationError` when no
    :class:`JWTMiddleware` handled the request, so a missing middleware is
    never mistaken for an anonymous request.
    """
    try:
        claims: dict[str, Any] | None = environ["jwt.claims"]
    except KeyError:
        raise ConfigurationError(
            "no 'jwt.claims' in the environ: is JWTMiddleware wrapping this app?"
        ) from None
    return claims


class JWTMiddleware:
    """Verify bearer JWTs in front of ``app`` and apply path rules.

    :param app: the WSGI application to protect.
    :param authenticator: an :class:`~jwt_wsgi.authenticator.Authenticator`
        to use; or leave it out and pass its keywords (``providers=``,
        ``revocation=``, ``cache_size=``...) or, for one issuer, those of a
        :class:`~jwt_wsgi.providers.Provider` (``key=``, ``algorithms=``,
        ``issuer=``, ``audience=``...) as ``**options``.
    :param rules: :class:`~jwt_wsgi.rules.Rule` objects; most specific wins.
    :param policy: a :class:`~jwt_wsgi.rules.Policy` every authenticated
        request must pass as well as its rule's checks (``None``), for what
        holds on every path: a claim, an audience-like claim, token kinds.
    :param default: the mode for paths no rule matches (``"required"``).
    :param realm: the ``realm`` of the challenge (``"api"``).
    :param cors_preflight: let CORS preflight requests (``OPTIONS`` with
        ``Origin`` and ``Access-Control-Request-Method``) through without a
        token (``False``).
    :param remote_user: the claim copied to ``REMOTE_USER`` (``"sub"``;
        ``None`` turns it off).
    :param on_error: ``fn(environ, start_response, error)`` answering a
        refusal; the default is the error itself (``error(environ,
        start_response)``), which a handler may also call. If it raises, the
        default answer is sent and the exception logged.
    :param principal: ``fn(claims) -> user``, called once per authenticated
        request after its rule passed; the result goes in
        ``environ["jwt.principal"]`` (``None`` where no token was required).
        Returning ``None`` refuses with
        :class:`~jwt_wsgi.errors.UnknownPrincipal` (401); raising refuses with
        :class:`~jwt_wsgi.errors.PrincipalUnavailable` (503, the exception
        logged), or with the :class:`~jwt_wsgi.errors.AuthError` raised.
        ``None`` (the default) loads nothing and sets no key.
    :param resource_metadata: the URL of this API's RFC 9728 metadata
        (:func:`jwt_wsgi.metadata.metadata_url`), sent as ``resource_metadata``
        in every challenge so OAuth clients can discover how to get a token
        (``None``).
    :param case_sensitive: match rules case-sensitively (``True``).
    :param check_request_target: refuse requests whose raw target
        (``RAW_URI``/``REQUEST_URI``) disagrees with ``SCRIPT_NAME`` +
        ``PATH_INFO`` or has an encoded slash (``True``). Turn off only behind
        middleware that rewrites ``PATH_INFO`` on purpose.

    Example::

        app.wsgi_app = JWTMiddleware(
            app.wsgi_app, key=SECRET, algorithms=["HS256"],
            rules=[Rule("/login", ["POST"], auth="public")],
        )
    """

    def __init__(
        self,
        app: WSGIApplication,
        authenticator: Authenticator | None = None,
        *,
        rules: Sequence[Rule] = (),
        policy: Policy | None = None,
        default: Auth = "required",
        realm: str = "api",
        cors_preflight: bool = False,
        remote_user: str | None = "sub",
        on_error: ErrorHandler | None = None,
        principal: Callable[[dict[str, Any]], Any] | None = None,
        resource_metadata: str | None = None,
        case_sensitive: bool = True,
        check_request_target: bool = True,
        **options: Unpack[AuthenticatorOptions],
    ) -> None:
        self.app = _checks.function(app, "app", "(environ, start_response) -> iterable")
        if authenticator is None:
            if not options:
                raise ConfigurationError(
                    "JWTMiddleware needs keys and algorithms (key=, jwks_url= or issuer=, and "
                    "algorithms=); in Django it wraps the application in wsgi.py, it is not an "
                    "entry of MIDDLEWARE (see the framework guides)"
                )
            authenticator = Authenticator.from_options(**options)
        elif not isinstance(authenticator, Authenticator):
            raise ConfigurationError(
                f"the second argument must be an Authenticator, not {type(authenticator).__name__}"
                "; pass key=, algorithms= and the other options by keyword"
            )
        elif options:
            raise ConfigurationError(
                f"give an Authenticator or its options, not both: {sorted(options)}"
            )
        self.authenticator = authenticator
        self.rules = RuleMap(
            rules, default, case_sensitive=case_sensitive, check_request_target=check_request_target
        )
        if policy is not None and (not isinstance(policy, Policy) or isinstance(policy, Rule)):
            raise ConfigurationError(f"policy must be a Policy, not {type(policy).__name__}")
        self.policy = policy
        known = authenticator.providers.keys()
        for rule in self.rules.rules:
            unknown = (rule.providers or frozenset()) - known
            if unknown:
                raise ConfigurationError(f"{rule!r} names unknown providers {sorted(unknown)}")
            if rule.dpop not in (None, "disabled") and authenticator.dpop_proofs is None:
                raise ConfigurationError(
                    f"{rule!r} accepts DPoP: give dpop_proofs=DPoP(base_url=...) to say how "
                    "proofs are checked"
                )
        if not isinstance(realm, str) or '"' in realm or "\\" in realm:
            raise ConfigurationError(f"realm must be a string without quotes, not {realm!r}")
        self.realm = realm
        self.cors_preflight = _checks.flag(cors_preflight, "cors_preflight")
        if remote_user is not None and not isinstance(remote_user, str):
            raise ConfigurationError(
                f"remote_user must be a claim name or None, not {remote_user!r}"
            )
        self.remote_user = remote_user
        _checks.callable_or_none(on_error, "on_error", "(environ, start_response, error)")
        self.on_error = on_error
        _checks.callable_or_none(principal, "principal", "(claims) -> user or None")
        self.principal = principal
        if resource_metadata is not None and (
            not isinstance(resource_metadata, str)
            or not resource_metadata.startswith(("https://", "http://"))
            or '"' in resource_metadata
        ):
            raise ConfigurationError(
                f"resource_metadata must be the metadata's URL, not {resource_metadata!r}"
            )
        self.resource_metadata = resource_metadata
        self._plain_challenge = Challenge(realm, resource_metadata)
        #: Counts for monitoring (see :meth:`metrics`); updated without a lock,
        #: so approximate under concurrency, as the cache's are.
        self.accepted = 0
        self.anonymous = 0
        self.refused: Counter[str] = Counter()
        self.shadow_refused: Counter[str] = Counter()
        # Bound once: these run for every request.
        self._route = self.rules.route
        self._authenticate = authenticator.authenticate_request
        self._clock = authenticator.clock

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """Route, authenticate, authorize, expose, then call the app (or refuse)."""
        rule: Rule | None = None
        try:
            environ["PATH_INFO"], rule = self._route(environ)
            result: Authenticated | None = None
            if rule.auth != "public" and not (self.cors_preflight and _is_preflight(environ)):
                result = self._authenticate(environ, rule.locations, rule.dpop)
                if result is None:
                    if rule.auth == "required":
                        raise MissingToken()
                else:
                    if self.policy is not None:
                        self.policy.authorize(result, environ, self._clock)
                    if rule.checks:
                        rule.authorize(result, environ, self._clock)
                    elif result.kind != "access":
                        raise WrongTokenKind()
                    if self.principal is not None:
                        environ["jwt.principal"] = self._load_principal(result.claims)
        except AuthError as error:
            if rule is None or not rule.shadow:
                return self._refuse(environ, start_response, error, rule)
            self._shadow(environ, error, rule)
        except Exception:
            # A bug of ours or of a dependency must not become a 500 with a
            # traceback; fail closed and leave the details in the log.
            logger.exception("unexpected error while authenticating a request")
            return self._refuse(environ, start_response, VerificationFailed(), rule)
        if result is None:
            self.anonymous += 1
            environ["jwt.claims"] = environ["jwt.token"] = None
            environ["jwt.header"] = environ["jwt.provider"] = environ["jwt.location"] = None
            if self.principal is not None:
                environ["jwt.principal"] = None
        else:
            self.accepted += 1
            claims = environ["jwt.claims"] = result.claims
            environ["jwt.token"] = result.token
            environ["jwt.header"] = result.header
            environ["jwt.provider"] = result.provider
            environ["jwt.location"] = result.location
            if self.remote_user is not None:
                user = claims.get(self.remote_user)
                if isinstance(user, str):
                    environ["REMOTE_USER"] = user
                elif isinstance(user, int) and not isinstance(user, bool):
                    environ["REMOTE_USER"] = str(user)
            if result.dpop_nonce is not None:
                start_response = _with_header(start_response, "DPoP-Nonce", result.dpop_nonce)
        return self.app(environ, start_response)

    def _load_principal(self, claims: dict[str, Any]) -> Any:
        """The user behind ``claims``; a refusal, never a 500, when there is none."""
        assert self.principal is not None
        try:
            principal = self.principal(claims)
        except AuthError:
            raise
        except Exception:
            logger.exception("the principal loader raised")
            raise PrincipalUnavailable() from None
        if principal is None:
            raise UnknownPrincipal()
        return principal

    def _shadow(self, environ: WSGIEnvironment, error: AuthError, rule: Rule) -> None:
        """A shadow rule's refusal: logged and counted, and the request goes on."""
        self.shadow_refused[error.reason] += 1
        if self.principal is not None:
            environ.setdefault("jwt.principal", None)
        _log_refusal(f"shadow rule {rule.pattern} would refuse", environ, error, rule.pattern, True)

    def _challenge(self, environ: WSGIEnvironment, rule: Rule | None) -> Challenge:
        """What the refusal's challenges say: the realm and metadata URL, and where
        DPoP is configured, which schemes the path offers (RFC 9449 section 7.1):
        DPoP (with ``algs``) unless the path disables it, Bearer unless it requires
        DPoP; the error's own challenge is in the scheme the request used."""
        proofs = self.authenticator.dpop_proofs
        if proofs is None:
            return self._plain_challenge
        if rule is not None and rule.dpop is not None:
            modes = frozenset({rule.dpop})
        else:
            modes = self.authenticator.dpop_modes(rule.providers if rule is not None else None)
        required = modes == {"required"}
        return Challenge(
            self.realm,
            self.resource_metadata,
            dpop_algs=proofs.algorithms if modes != {"disabled"} else None,
            bearer=not required,
            dpop=required or self.authenticator.uses_dpop_scheme(environ),
        )

    def _refuse(
        self,
        environ: WSGIEnvironment,
        start_response: StartResponse,
        error: AuthError,
        rule: Rule | None = None,
    ) -> Iterable[bytes]:
        environ[CHALLENGE_KEY] = self._challenge(environ, rule)
        self.refused[error.reason] += 1
        if rule is None:
            decided = None
        elif rule is self.rules.default:
            decided = "(default)"
        else:
            decided = rule.pattern
        _log_refusal("refused", environ, error, decided)
        if self.on_error is not None:
            try:
                return self.on_error(environ, start_response, error)
            except Exception:
                logger.exception("on_error raised; sending the default response")
        return error(environ, start_response)

    @classmethod
    def from_config(
        cls, app: WSGIApplication, settings: Mapping[str, str], *, source: str = "configuration"
    ) -> JWTMiddleware:
        """Build from string settings (as :func:`~jwt_wsgi.config.from_config`)."""
        return configured(functools.partial(cls, app), settings, source=source)

    @classmethod
    def from_env(
        cls,
        app: WSGIApplication,
        prefix: str = "JWT_WSGI_",
        environ: Mapping[str, str] | None = None,
    ) -> JWTMiddleware:
        """Build from ``JWT_WSGI_*`` environment variables (:func:`jwt_wsgi.config.from_env`)."""
        return configured_from_env(functools.partial(cls, app), prefix, environ)

    def metrics(self) -> Metrics:
        """What this middleware has decided so far, and what its dependencies did.

        Requests ``accepted`` (a token passed every check), ``anonymous`` (let
        through without a token: a public or optional path, a preflight) and
        ``refused`` by reason code (and ``shadow_refused``: what shadow rules
        would have refused); the token cache's hits, misses and size;
        per provider, key set fetches and failed fetches; and revocation
        checks that could not be answered. Counts since construction, per
        process (see :mod:`jwt_wsgi.metrics` for Prometheus).
        """
        authenticator = self.authenticator
        fetches: dict[str, int] = {}
        failures: dict[str, int] = {}
        for name, provider in authenticator.providers.items():
            fetches[name] = getattr(provider.keys, "fetches", 0)
            failures[name] = getattr(provider.keys, "failed_fetches", 0)
        return Metrics(
            accepted=self.accepted,
            anonymous=self.anonymous,
            refused=dict(self.refused),
            shadow_refused=dict(self.shadow_refused),
            cache_hits=authenticator.cache.hits,
            cache_misses=authenticator.cache.misses,
            cache_entries=len(authenticator.cache),
            key_fetches=fetches,
            key_fetch_failures=failures,
            revocation_unavailable=authenticator.revocation_failures,
        )

    @property
    def cache(self) -> TokenCache:
        """The authenticator's verified-token cache (its ``hits`` and ``misses`` count)."""
        return self.authenticator.cache

    def set_keys(self, key: KeyInput, *, provider: str = "default") -> None:
        """Replace a provider's keys, offline (see :meth:`Authenticator.set_keys`)."""
        self.authenticator.set_keys(key, provider=provider)


def _log_refusal(
    what: str, environ: WSGIEnvironment, error: AuthError, rule: str | None, shadow: bool = False
) -> None:
    """One INFO record per refusal: which rule decided and what failed, for operators
    only (never sent to the client), also as ``jwt_*`` attributes; never the token."""
    method, path = environ.get("REQUEST_METHOD"), environ.get("PATH_INFO")
    logger.info(
        "%s %s %s with %d %s: %s%s%s",
        what,
        method,
        path,
        error.status,
        error.reason,
        error.description,
        "" if rule is None or shadow else f" (rule {rule})",
        "" if error.detail is None else f" [{error.detail}]",
        extra={
            "jwt_reason": error.reason,
            "jwt_status": error.status,
            "jwt_method": method,
            "jwt_path": path,
            "jwt_rule": rule,
            "jwt_detail": error.detail,
            **({"jwt_shadow": True} if shadow else {}),
        },
    )


def _with_header(start_response: StartResponse, name: str, value: str) -> StartResponse:
    """``start_response`` adding one header to the app's response."""

    def wrapped(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        return start_response(status, [*headers, (name, value)], exc_info)

    return wrapped


def _is_preflight(environ: WSGIEnvironment) -> bool:
    """A CORS preflight: ``OPTIONS`` with ``Origin`` and the method it asks about."""
    return (
        environ.get("REQUEST_METHOD") == "OPTIONS"
        and "HTTP_ORIGIN" in environ
        and "HTTP_ACCESS_CONTROL_REQUEST_METHOD" in environ
    )
