"""Token providers: the issuers an authenticator trusts, and the one home of their settings.

A :class:`Provider` describes one issuer (an identity provider, or a minter in
another service): its ``iss``, where its keys come from (``key=``, a
``jwks_url``, or OpenID Connect discovery from ``issuer`` alone), its
algorithms, audience, leeway, required claims and accepted ``typ``. Every
verification setting lives here and nowhere else:
``JWTMiddleware(app, key=..., algorithms=...)`` is a shortcut that builds
exactly ``Provider("default", algorithms, key=...)``.

With several providers the authenticator reads the token's ``iss`` before
verifying (a strict parse, no trust placed in it), picks the provider with
that issuer, and verifies against that provider only. A token with an issuer
no provider has is refused. ``Rule(..., providers=[...])`` limits a path to
some providers.
"""

from __future__ import annotations

import ssl
from collections.abc import Collection, Sequence
from typing import Any, Literal, TypedDict

from . import _checks
from ._checks import Duration
from .binding import DPOP_MODES, DPoPMode
from .errors import ConfigurationError
from .jose.keys import KeyInput, KeyRing, KeySource, is_key_source, validate_algorithms
from .jwks import RemoteKeySet

#: The claims RFC 9068 section 2.2 makes every JWT access token carry.
RFC9068_CLAIMS = ("iss", "exp", "aud", "sub", "client_id", "iat", "jti")


class Provider:
    """One trusted issuer and how its tokens are verified.

    :param name: how rules and logs refer to it.
    :param algorithms: the allow-list for its tokens, e.g. ``["RS256"]``.
        Required: never derive it from the token (RFC 8725 section 3.1).
    :param issuer: its ``iss`` value. When set, the claim is required and
        must equal it; with neither ``key`` nor ``jwks_url`` it also locates
        the keys by OpenID Connect discovery. Required with several providers.
    :param key: the verification key(s), any :data:`~jwt_wsgi.jose.keys.KeyInput`:
        an HMAC secret, a PEM/DER public key or certificate, a ``cryptography``
        key, a JWK or JWK Set, a list of these, or a key source such as a
        :class:`~jwt_wsgi.jwks.RemoteKeySet` with its own fetching policy. A
        key source must verify every algorithm in ``algorithms``; only
        ``algorithms`` are accepted even if the source knows more.
    :param jwks_url: fetch the keys from this JWK Set URL (with
        :class:`~jwt_wsgi.jwks.RemoteKeySet`'s default policy).
    :param audience: accepted ``aud`` value(s). When set, ``aud`` is required
        and must contain one; when unset, a token carrying ``aud`` is refused
        (RFC 7519 section 4.1.3).
    :param leeway: clock skew tolerated for ``exp``, ``nbf`` and ``iat``, in
        seconds or as a ``timedelta`` (``0``).
    :param require: claims every token must carry (``("exp",)``).
    :param typ: accepted ``typ`` header value(s), e.g. ``"at+jwt"``
        (case-insensitive, ``application/`` prefix optional; RFC 8725 section
        3.11); ``None`` does not check it.
    :param profile: ``"rfc9068"`` verifies tokens as RFC 9068 JWT access
        tokens: ``typ`` must be ``at+jwt`` (so an ID token is never taken for
        an access token), and ``iss``, ``exp``, ``aud``, ``sub``,
        ``client_id``, ``iat`` and ``jti`` must be present; it needs
        ``issuer`` and ``audience`` (the resource's identifier, section 4).
        ``None`` (the default) applies no profile.
    :param mtls: certificate-bound tokens (RFC 8705): ``"allowed"`` (the
        default) checks a token bound to a certificate (``cnf.x5t#S256``)
        against the client certificate and accepts unbound tokens;
        ``"required"`` accepts bound tokens only. Where the certificate comes
        from is the :class:`~jwt_wsgi.Authenticator`'s ``certificate_environ``
        or ``certificate_header``; without either, bound tokens are refused.
    :param dpop: DPoP-bound tokens (RFC 9449): ``"disabled"`` (the default)
        refuses them; ``"allowed"`` accepts them with the ``DPoP`` scheme and a
        proof, and unbound tokens as bearer tokens; ``"required"`` accepts
        DPoP-bound tokens only. A rule's own ``dpop=`` overrides it. Proofs are
        checked as the :class:`~jwt_wsgi.Authenticator`'s
        :class:`~jwt_wsgi.dpop.DPoP` says. A bound token sent as ``Bearer`` is
        refused in every mode.
    :param allow_numeric_sub: accept a number as ``sub`` (``False``). RFC 7519
        makes ``sub`` a string; some legacy issuers send user ids as numbers.
    :param allow_weak_hmac_keys: accept HMAC secrets shorter than the hash
        (``False``); only for legacy tokens you cannot re-issue.
    :param allow_http: allow ``http://`` key set URLs (``False``; loopback tests).

    Keys fetched by URL (``jwks_url``, or discovery from ``issuer``) are
    fetched by a :class:`~jwt_wsgi.jwks.RemoteKeySet`, whose policy these set
    (each is that class's option of the same name, default included):

    :param ca_file: a PEM file of the CA certificates to trust for the key
        server (a private CA, as inside companies and Kubernetes clusters);
        the system's trust store by default.
    :param ssl_context: the TLS settings instead, as an ``ssl.SSLContext``.
    :param timeout: seconds for a whole fetch, discovery included (5).
    :param cooldown: least seconds between refetches for unknown ``kid``
        values, and the cap of the retry backoff (30).
    :param lifetime: seconds a set is used when its response has no max-age (300).
    :param min_lifetime: lower bound for a response's max-age (60).
    :param max_lifetime: upper bound for a response's max-age (86400).
    :param stale_for: seconds the last good set serves past its lifetime
        while fetches fail (3600).
    :param retry_after: seconds before the first retry after a failed fetch (2).

    They apply to fetched keys only: with ``key=`` they are refused (set them
    on your own ``RemoteKeySet``).
    """

    def __init__(
        self,
        name: str,
        algorithms: Sequence[str],
        *,
        issuer: str | None = None,
        key: KeyInput | None = None,
        jwks_url: str | None = None,
        audience: str | Collection[str] | None = None,
        leeway: Duration = 0,
        require: Sequence[str] = ("exp",),
        typ: str | Collection[str] | None = None,
        profile: Literal["rfc9068"] | None = None,
        mtls: Literal["allowed", "required"] = "allowed",
        dpop: DPoPMode = "disabled",
        allow_numeric_sub: bool = False,
        allow_weak_hmac_keys: bool = False,
        allow_http: bool = False,
        ca_file: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        timeout: Duration | None = None,
        cooldown: Duration | None = None,
        lifetime: Duration | None = None,
        min_lifetime: Duration | None = None,
        max_lifetime: Duration | None = None,
        stale_for: Duration | None = None,
        retry_after: Duration | None = None,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise ConfigurationError(f"a provider name must be a non-empty string, not {name!r}")
        self.name = name
        where = f"provider {name!r}: "
        if algorithms is None:
            raise ConfigurationError(
                f"{where}algorithms is required, e.g. algorithms=['RS256'] (RFC 8725 section 3.1)"
            )
        self.algorithms = validate_algorithms(algorithms)
        if issuer is not None and (not isinstance(issuer, str) or not issuer):
            raise ConfigurationError(f"{where}issuer must be a non-empty string, not {issuer!r}")
        self.issuer = issuer
        self.audience = _checks.string_set(audience, "audience", example="'api' or ['api']")
        self.leeway = _checks.seconds(leeway, "leeway")
        self.require = _checks.strings(require, "require", example="['exp', 'jti']")
        types = _checks.string_set(typ, "typ", example="'at+jwt'")
        self.typ = frozenset(t.lower().removeprefix("application/") for t in types) or None
        if profile is not None:
            _checks.choice(profile, where + "profile", ("rfc9068",))
            if self.issuer is None or not self.audience:
                raise ConfigurationError(
                    f"{where}the RFC 9068 profile needs issuer= and audience= (section 4)"
                )
            if self.typ is not None and self.typ != {"at+jwt"}:
                raise ConfigurationError(f"{where}the RFC 9068 profile's typ is at+jwt only")
            self.typ = frozenset({"at+jwt"})
            self.require = tuple(dict.fromkeys((*self.require, *RFC9068_CLAIMS)))
        self.profile = profile
        self.mtls = _checks.choice(mtls, where + "mtls", ("allowed", "required"))
        self.dpop = _checks.choice(dpop, where + "dpop", DPOP_MODES)
        self.allow_numeric_sub = _checks.flag(allow_numeric_sub, "allow_numeric_sub")
        self.allow_weak_hmac_keys = _checks.flag(allow_weak_hmac_keys, "allow_weak_hmac_keys")
        self.allow_http = _checks.flag(allow_http, "allow_http")
        fetching: dict[str, Any] = {
            "timeout": timeout, "cooldown": cooldown, "lifetime": lifetime,
            "min_lifetime": min_lifetime, "max_lifetime": max_lifetime,
            "stale_for": stale_for, "retry_after": retry_after,
        }  # fmt: skip
        fetching = {name: value for name, value in fetching.items() if value is not None}
        tls = _ssl_context(ca_file, ssl_context, where)
        if tls is not None:
            fetching["ssl_context"] = tls
        self.keys = self._key_source(key, jwks_url, where, fetching)

    def __repr__(self) -> str:
        return f"Provider({self.name!r}, {list(self.algorithms)!r}, issuer={self.issuer!r})"

    def _key_source(
        self, key: KeyInput | None, jwks_url: str | None, where: str, fetching: dict[str, Any]
    ) -> KeySource:
        """Where this provider's keys come from, built (and checked) once."""
        if key is not None and jwks_url is not None:
            raise ConfigurationError(f"{where}give key= or jwks_url=, not both")
        if key is not None and fetching:
            raise ConfigurationError(
                f"{where}{sorted(fetching)} apply to keys fetched by URL (jwks_url= or an "
                "issuer to discover them from); with key=, set them on your own RemoteKeySet"
            )
        if is_key_source(key):
            source: KeySource = key  # type: ignore[assignment]
            missing = [a for a in self.algorithms if a not in source.algorithms]
            if missing:
                raise ConfigurationError(
                    f"{where}algorithms {list(self.algorithms)} name {missing}, which its key "
                    f"source {type(source).__name__} does not verify (its algorithms are "
                    f"{list(source.algorithms)}); make the two lists agree"
                )
            return source
        if key is not None:
            return KeyRing(key, self.algorithms, allow_weak_hmac_keys=self.allow_weak_hmac_keys)
        if jwks_url is None and self.issuer is None:
            raise ConfigurationError(
                f"{where}give key=, jwks_url= or an issuer to discover the keys from"
            )
        try:
            return RemoteKeySet(
                jwks_url,
                algorithms=self.algorithms,
                issuer=self.issuer,
                allow_http=self.allow_http,
                **fetching,
            )
        except ConfigurationError as exc:
            raise ConfigurationError(f"{where}{exc}") from None


def _ssl_context(
    ca_file: str | None, context: ssl.SSLContext | None, where: str
) -> ssl.SSLContext | None:
    """The TLS settings for fetching keys: ``context``, or one trusting ``ca_file``."""
    if context is not None and not isinstance(context, ssl.SSLContext):
        raise ConfigurationError(f"{where}ssl_context must be an ssl.SSLContext")
    if ca_file is None:
        return context
    if context is not None:
        raise ConfigurationError(f"{where}give ca_file= or ssl_context=, not both")
    if not isinstance(ca_file, str) or not ca_file:
        raise ConfigurationError(f"{where}ca_file must be a file name, not {ca_file!r}")
    try:
        return ssl.create_default_context(cafile=ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigurationError(
            f"{where}ca_file {ca_file!r} is no readable PEM file of CA certificates: {exc}"
        ) from None


class ProviderOptions(TypedDict, total=False):
    """The keywords of :class:`Provider` after ``name``, for one-provider shortcuts.

    ``JWTMiddleware(app, key=..., algorithms=[...])`` and
    ``Authenticator.from_options(...)`` take these and build
    ``Provider("default", ...)``; :class:`Provider` documents each.
    """

    algorithms: Sequence[str]
    issuer: str | None
    key: KeyInput | None
    jwks_url: str | None
    audience: str | Collection[str] | None
    leeway: Duration
    require: Sequence[str]
    typ: str | Collection[str] | None
    profile: Literal["rfc9068"] | None
    mtls: Literal["allowed", "required"]
    dpop: DPoPMode
    allow_numeric_sub: bool
    allow_weak_hmac_keys: bool
    allow_http: bool
    ca_file: str | None
    ssl_context: ssl.SSLContext | None
    timeout: Duration | None
    cooldown: Duration | None
    lifetime: Duration | None
    min_lifetime: Duration | None
    max_lifetime: Duration | None
    stale_for: Duration | None
    retry_after: Duration | None
