"""Token verification: a strict parse, PyJWT's signature check, then the claims.

:class:`TokenVerifier` applies one issuer's settings (:class:`VerifierSettings`, which
:class:`~jwt_wsgi.providers.Provider` is).
It splits the work in two so that the verified-token cache can skip the
expensive part:

1. :meth:`TokenVerifier.verify_static` parses the compact JWS strictly, checks the
   signature with PyJWT's algorithm objects and the keys its key source has
   prepared, and checks the claims that never change (``iss``, ``aud``,
   required claims, types). Its :class:`VerifiedToken` result can be cached.
2. :meth:`TokenVerifier.check_time` checks ``exp``, ``nbf`` and ``iat`` against
   the current time. It runs on every request, cached or not.

:meth:`TokenVerifier.verify` does both. Each refusal raises its own
:class:`~jwt_wsgi.errors.InvalidToken` subclass.

The parse is stricter than PyJWT on purpose (RFC 7515, RFC 7519, RFC 8725):
base64url without padding and with canonical trailing bits, UTF-8 JSON only (no
BOM, no UTF-16), no duplicate member names, no ``NaN``; unknown ``crit``
extensions and ``b64: false`` are refused; ``typ`` can be enforced; NumericDate
claims must be JSON numbers; a JWE (five segments) is refused clearly. The
signature itself is never checked by code of ours: PyJWT's ``Algorithm.verify``
does it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from .._memo import BoundedMemo
from ..errors import (
    DisallowedAlgorithm,
    ExpiredToken,
    ImmatureToken,
    InvalidAudience,
    InvalidClaim,
    InvalidIssuer,
    InvalidSignature,
    InvalidTokenType,
    IssuedInFuture,
    MalformedToken,
    MissingClaim,
    UnknownKey,
    UnsupportedToken,
)
from .compact import split_jws, token_kind
from .encoding import b64decode, copy_json, parse_json_object

if TYPE_CHECKING:
    from collections.abc import Collection

    from .keys import KeyRing, KeySource

_NUMERIC_DATES = ("exp", "nbf", "iat")


class VerifierSettings(Protocol):
    """What a :class:`TokenVerifier` reads from one issuer's settings, once, at construction.

    :class:`~jwt_wsgi.providers.Provider` is the implementation; the core
    names only what it reads, so that it imports nothing above it.
    """

    @property
    def name(self) -> str: ...
    @property
    def keys(self) -> KeySource: ...
    @property
    def algorithms(self) -> Collection[str]: ...
    @property
    def leeway(self) -> float: ...
    @property
    def issuer(self) -> str | None: ...
    @property
    def audience(self) -> frozenset[str]: ...
    @property
    def typ(self) -> frozenset[str] | None: ...
    @property
    def require(self) -> Collection[str]: ...
    @property
    def mtls(self) -> str | None: ...
    @property
    def dpop(self) -> str: ...
    @property
    def allow_numeric_sub(self) -> bool: ...


Settings = TypeVar("Settings", bound=VerifierSettings)


@dataclass(slots=True)
class VerifiedToken:
    """A token whose signature and static claims checked out: a cache entry.

    :param header: the JOSE header.
    :param claims: the claim set. Read-only: cached requests share it, and
        handlers get :meth:`fresh_claims` instead.
    :param kid: the key id of the key that verified it.
    :param verifier: the verifier (provider) that accepted it.
    :param ring: the key ring that verified it; the entry is good only while
        its verifier's keys are still this ring.
    :param valid_from: the first instant it is valid (``nbf``/``iat`` less
        the leeway), ``-inf`` when unbounded.
    :param valid_until: the instant it stops being valid (``exp`` plus the
        leeway), ``inf`` when it never expires.
    :param provider: the name of the provider that accepted it.
    """

    header: dict[str, Any]
    claims: dict[str, Any]
    kid: str | None
    verifier: TokenVerifier[Any]
    ring: KeyRing
    valid_from: float
    valid_until: float
    provider: str
    #: Names of claims holding objects or arrays: only those need deep copies.
    nested: tuple[str, ...] = ()
    #: Whether any header member is an object or array.
    header_nested: bool = False
    #: ``"refresh"`` for a refresh token (claim ``type`` or header ``typ``), else ``"access"``.
    kind: str = "access"
    #: The denylist entries that could revoke the token (its id, family,
    #: subject, session); filled in the first time a revocation check needs them.
    revocation_keys: tuple[str, ...] | None = None
    #: The certificate thumbprint the token is bound to (``cnf.x5t#S256``, RFC 8705).
    x5t: str | None = None
    #: Whether each request must present a client certificate for it: the
    #: token is bound to one, or its provider requires binding.
    needs_certificate: bool = False
    #: The DPoP key thumbprint the token is bound to (``cnf.jkt``, RFC 9449).
    jkt: str | None = None
    #: Whether each request needs a sender check (certificate or DPoP): the
    #: one test a cache hit makes for all of them.
    bound: bool = False
    #: Cache bookkeeping: set on each hit, cleared when eviction passes it by.
    used: bool = False

    def holds(self, now: float) -> bool:
        """Whether this verification still stands: the same keys, inside its time window.

        The one freshness test of a cached entry. ``False`` means verify
        again; :meth:`TokenVerifier.check_time` then says whether time ran out.
        """
        return (
            self.verifier.keys.current() is self.ring and self.valid_from <= now < self.valid_until
        )

    def fresh_claims(self) -> dict[str, Any]:
        """A deep copy of the claims for one request, so mutations stay there."""
        claims = self.claims.copy()
        for name in self.nested:
            claims[name] = copy_json(claims[name])
        return claims

    def fresh_header(self) -> dict[str, Any]:
        """A copy of the header for one request (deep only when it nests)."""
        if self.header_nested:
            return copy_json(self.header)  # type: ignore[no-any-return]
        return self.header.copy()


def _nested_members(members: dict[str, Any], text: bytes) -> tuple[str, ...]:
    """The names of the members holding objects or arrays.

    The JSON text of an object with no such member has one ``{`` and no
    ``[``, which two byte scans tell before any member is looked at.
    """
    if text.count(b"{") == 1 and b"[" not in text:
        return ()
    return tuple([k for k, v in members.items() if type(v) is dict or type(v) is list])


_NUMBER_TYPES = (int, float)


#: A JOSE header that passed its checks: the header, its ``alg``, its ``kid``,
#: and whether any member is an object or array.
CheckedHeader = tuple[dict[str, Any], str, str | None, bool]


class TokenVerifier(Generic[Settings]):
    """Verifies tokens against one issuer's settings.

    :param provider: the settings (a :class:`~jwt_wsgi.providers.Provider`),
        kept as :attr:`provider` for the layers above.
    :param max_token_bytes: longer tokens are refused before any parsing.
    :param clock: returns the current Unix time, for :meth:`verify`.
    """

    #: Distinct verified headers remembered; an issuer uses a handful (one per
    #: key and algorithm), so reaching this only empties the memo.
    HEADER_MEMO_SIZE = 64

    def __init__(
        self,
        provider: Settings,
        *,
        max_token_bytes: int = 8192,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.provider = provider
        self.name = provider.name
        #: The key source in force; :meth:`set_keys` replaces it.
        self.keys: KeySource = provider.keys
        self.max_token_bytes = max_token_bytes
        self.clock = clock
        # The provider's settings, read once into attributes of our own: the
        # cache-miss path reads them for every token.
        self._algorithms = frozenset(provider.algorithms)
        self._leeway = provider.leeway
        self._issuer = provider.issuer
        self._audience = provider.audience
        self._typ = provider.typ
        self._mtls_required = provider.mtls == "required"
        #: The provider's DPoP mode, applied where a rule sets none.
        self.dpop = provider.dpop
        self._numeric_sub = provider.allow_numeric_sub
        required = dict.fromkeys(provider.require)
        if provider.audience:
            required["aud"] = None
        if provider.issuer is not None:
            required["iss"] = None
        self._required = tuple(required)
        self._string_claims = ("jti",) if provider.allow_numeric_sub else ("sub", "jti")
        #: Checked headers of tokens that verified, by their base64url text.
        #: Shared by cache entries as their claims are, so never mutated.
        self._headers: BoundedMemo[str, CheckedHeader] = BoundedMemo(self.HEADER_MEMO_SIZE)

    def set_keys(self, keys: KeySource) -> None:
        """Verify with other keys from now on; tokens verified before are not current."""
        self.keys = keys

    def verify(self, token: str) -> VerifiedToken:
        """Everything, the clock included: the safe one-call check."""
        verified = self.verify_static(token)
        self.check_time(verified, self.clock())
        return verified

    def verify_jws(self, token: str) -> tuple[dict[str, Any], bool, bytes, str | None, KeyRing]:
        """Check structure, header and signature.

        Returns the header, whether it nests (an object or array member), the
        payload bytes, the ``kid`` of the key that verified the signature and
        the ring it came from. A header seen on a token that verified is
        remembered with its checks' result, so most tokens skip that part.
        """
        header_b64, payload_b64, signature_b64 = split_jws(token, self.max_token_bytes)
        # An empty payload is a valid JWS (RFC 7515); it is never a claim set,
        # which the JWT layer refuses. An empty signature is checked after the
        # header, so that an "alg": "none" token is named for what it is.
        if not header_b64:
            raise MalformedToken("the token has an empty segment")
        known = self._headers.get(header_b64)
        header, alg, kid, nested = known if known is not None else self._check_header(header_b64)
        if not signature_b64:
            raise MalformedToken("the token has an empty segment")
        ring = self.keys.current()
        algorithm = ring.algorithm(alg)
        if algorithm is None:
            raise DisallowedAlgorithm()
        signature = b64decode(signature_b64)
        payload = b64decode(payload_b64)
        signing_input = token[: len(header_b64) + 1 + len(payload_b64)].encode("ascii")
        candidates = ring.candidates(kid)
        if not candidates and kid is not None:
            # An unknown kid may mean the issuer rotated: the key source may
            # refetch (a remote set does, at most once per cooldown).
            ring = self.keys.refresh_for(kid)
            candidates = ring.candidates(kid)
        if not candidates:
            raise UnknownKey()
        tried = False
        for candidate in candidates:
            key = candidate.prepared.get(alg)
            if key is None:
                continue  # a key of another type or curve than alg names (RFC 9864)
            tried = True
            if safe_verify(algorithm, signing_input, key, signature):
                if known is None:
                    # Only headers of tokens that verified: junk cannot crowd out the issuer's few.
                    self._headers.remember(header_b64, (header, alg, kid, nested))
                return header, nested, payload, candidate.kid, ring
        if not tried:  # the log says why; the client, as for any key that does not verify
            raise InvalidSignature(detail=f"no key of the type and curve {alg} names")
        raise InvalidSignature()

    def _check_header(self, header_b64: str) -> CheckedHeader:
        """The JOSE header, its ``alg`` and ``kid`` and whether it nests, after
        every check that needs only the header and this verifier's settings."""
        text = b64decode(header_b64)
        header = parse_json_object(text, "header")
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self._algorithms:
            raise DisallowedAlgorithm()
        if "crit" in header:
            # We implement no JWS extension, so every critical one is unknown
            # to us (RFC 7515 section 4.1.11).
            raise UnsupportedToken("the token uses a critical extension that is not supported")
        if "b64" in header:
            raise UnsupportedToken("unencoded payloads (b64) are not supported")
        if self._typ is not None:
            typ = header.get("typ")
            if (
                not isinstance(typ, str)
                or typ.lower().removeprefix("application/") not in self._typ
            ):
                raise InvalidTokenType()
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise MalformedToken("the token's key id is not a string")
        return header, alg, kid, bool(_nested_members(header, text))

    def verify_static(self, token: str, claims: dict[str, Any] | None = None) -> VerifiedToken:
        """Everything but the clock: signature, then the claims that never change.

        :param claims: this token's claim set as :func:`peek_claims` parsed it
            to choose the provider, so it is not parsed twice; once the
            signature over the same text verifies, it is the verified claim set.
        """
        header, header_nested, payload, kid, ring = self.verify_jws(token)
        if claims is None:
            claims = parse_json_object(payload, "claim set")
        for name in self._required:
            if name not in claims:
                raise MissingClaim(f"the token has no '{name}' claim")
        for name in _NUMERIC_DATES:
            # Parsed JSON numbers are exactly int or float (a bool is neither).
            if name in claims and type(claims[name]) not in _NUMBER_TYPES:
                raise InvalidClaim(f"the token's '{name}' claim is not a number")
        for name in self._string_claims:
            if name in claims and not isinstance(claims[name], str):
                raise InvalidClaim(f"the token's '{name}' claim is not a string")
        if self._numeric_sub:
            sub = claims.get("sub")
            if sub is not None and (isinstance(sub, bool) or not isinstance(sub, str | int)):
                raise InvalidClaim("the token's 'sub' claim is not a string or an integer")
        if self._issuer is not None and claims.get("iss") != self._issuer:
            raise InvalidIssuer()
        if "aud" in claims:
            self._check_audience(claims["aud"])
        x5t, jkt = self._confirmation(claims["cnf"]) if "cnf" in claims else (None, None)
        needs_certificate = x5t is not None or self._mtls_required
        exp = claims.get("exp")
        nbf, iat = claims.get("nbf"), claims.get("iat")
        start = nbf if iat is None else iat if nbf is None else max(nbf, iat)
        # Positional, in the order the fields are declared: keywords cost a
        # cold request about a microsecond to bind.
        return VerifiedToken(
            header,
            claims,
            kid,
            self,  # verifier
            ring,
            start - self._leeway if start is not None else -math.inf,  # valid_from
            exp + self._leeway if exp is not None else math.inf,  # valid_until
            self.name,  # provider
            _nested_members(claims, payload),
            header_nested,
            token_kind(header, claims),
            None,  # revocation_keys, filled in when first needed
            x5t,
            needs_certificate,
            jkt,
            needs_certificate or jkt is not None or self.dpop == "required",  # bound
        )

    def check_time(self, verified: VerifiedToken, now: float) -> None:
        """Refuse a token that has expired or is not yet valid, leeway included.

        Expired means ``exp <= now - leeway``; not yet valid means ``nbf`` (or
        ``iat``) ``> now + leeway``, as PyJWT decides.
        """
        if now >= verified.valid_until:
            raise ExpiredToken()
        if now < verified.valid_from:
            nbf = verified.claims.get("nbf")
            if nbf is not None and nbf > now + self._leeway:
                raise ImmatureToken()
            raise IssuedInFuture()

    def _confirmation(self, cnf: Any) -> tuple[str | None, str | None]:
        """What the ``cnf`` claim binds a token to: a certificate (``x5t#S256``,
        RFC 8705) and a DPoP key (``jkt``, RFC 9449), each thumbprint or ``None``.

        Each request then proves it holds them (see the authenticator).
        """
        if cnf is None:
            return None, None
        if not isinstance(cnf, dict):
            raise InvalidClaim("the token's 'cnf' claim is not an object")
        found: list[str | None] = []
        for member in ("x5t#S256", "jkt"):
            value = cnf.get(member)
            if value is not None and (not isinstance(value, str) or not value):
                raise InvalidClaim(f"the token's 'cnf' {member} is not a thumbprint")
            found.append(value)
        return found[0], found[1]

    def _check_audience(self, aud: Any) -> None:
        """The ``aud`` claim names this verifier's audience (RFC 7519 section 4.1.3)."""
        values = [aud] if isinstance(aud, str) else aud
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise InvalidClaim("the token's audience is malformed")
        if not self._audience or self._audience.isdisjoint(values):
            raise InvalidAudience()


def safe_verify(algorithm: Any, message: bytes, key: Any, signature: bytes) -> bool:
    """Whether PyJWT's ``algorithm`` verifies ``signature``; never raises."""
    # PyJWT's algorithms return False for a bad signature but some raise on
    # malformed input (a wrong-length EC signature, say). Either way the
    # answer is "not verified", never an exception into the server.
    try:
        return bool(algorithm.verify(message, key, signature))
    except Exception:
        return False
