"""DPoP (RFC 9449): access tokens bound to a key the client proves it holds, request by request.

A DPoP-bound token carries the SHA-256 thumbprint of the client's public key
in ``cnf.jkt`` and arrives as ``Authorization: DPoP <token>`` together with a
``DPoP`` header: a proof JWT the client signed for this one request. A stolen
token is useless without the private key, and a stolen proof is useless for
any other request. :class:`DPoP` holds how proofs are checked (section 4.3):

* ``typ`` is ``dpop+jwt``; ``alg`` is an asymmetric algorithm of the
  allow-list; the header's ``jwk`` is a public key of that algorithm, which
  verifies the signature (PyJWT's algorithm objects, as for tokens);
* ``htm`` is the request's method and ``htu`` its URL: one of the configured
  ``base_url`` values followed by the path the rules matched. The URL is never
  built from ``Host`` or ``X-Forwarded-*``, so neither can be spoofed to make a
  proof for another server pass here;
* ``iat`` is within ``max_age`` (plus ``leeway`` either way) of now;
* ``ath`` is the hash of the access token sent with it, and the proof key's
  thumbprint is the token's ``cnf.jkt``;
* the ``jti`` was never seen before, across every process sharing the
  ``replay`` store (a Redis store for a cluster): one atomic ``SET NX`` kept
  as long as the proof could still be accepted;
* with :class:`DPoPNonces`, the ``nonce`` is one this server issued lately
  (section 8): a client without one gets ``use_dpop_nonce`` and a
  ``DPoP-Nonce`` header, and a fresh one when the nonce rotates.

Where DPoP applies is the ``dpop=`` mode of each
:class:`~jwt_wsgi.providers.Provider` and :class:`~jwt_wsgi.rules.Rule`:
``"disabled"``, ``"allowed"`` or ``"required"``. A DPoP-bound token sent as
``Bearer`` is a downgrade and always refused.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from jwt.algorithms import Algorithm

from . import _checks
from ._checks import Duration
from ._compat import moved
from ._memo import BoundedMemo
from .errors import (
    ConfigurationError,
    DPoPAlgorithmNotAllowed,
    DPoPAthMismatch,
    DPoPKeyMismatch,
    DPoPMethodMismatch,
    DPoPNonceRequired,
    DPoPProofMissing,
    DPoPProofReplayed,
    DPoPProofStale,
    DPoPSignatureInvalid,
    DPoPUrlMismatch,
    MalformedDPoPProof,
    MalformedToken,
    ReplayCheckFailed,
    RevocationUnavailable,
)
from .jose.compact import split_jws
from .jose.encoding import b64decode, b64encode, parse_json_object
from .jose.keys import (
    ALGORITHM_KEY_TYPES,
    algorithm_object,
    prepare_public_jwk,
    validate_algorithms,
)
from .jose.signing import jwk_thumbprint, jws_encoder, public_jwk, sign
from .jose.verifier import safe_verify
from .revocation import DenylistStore, MemoryRevocationStore

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

#: The proof algorithms accepted unless configured otherwise: asymmetric only.
DEFAULT_ALGORITHMS = ("ES256", "ES384", "Ed25519", "EdDSA", "PS256", "RS256")

#: The memo of proof headers (one per client key), and the longest header kept.
_MEMO_SIZE = 4096
_MEMO_MAX_CHARS = 2048
#: RFC 3986's unreserved characters, which percent-encoding normalisation decodes.
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
#: What a path may hold unencoded (RFC 3986 section 3.3's pchar and "/").
_PATH_SAFE = "/-._~!$&'()*+,;=:@"
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def access_token_hash(token: str) -> str:
    """A proof's ``ath`` for ``token``: base64url SHA-256 of its ASCII (section 4.2)."""
    return b64encode(hashlib.sha256(token.encode("ascii")).digest())


def make_proof(
    key: Any,
    algorithm: str,
    method: str,
    url: str,
    token: str | None = None,
    *,
    nonce: str | None = None,
    claims: Mapping[str, Any] | None = None,
    headers: Mapping[str, Any] | None = None,
    now: float | None = None,
    jwk: Mapping[str, Any] | None = None,
) -> str:
    """A client's DPoP proof for one request, signed with its private ``key`` (PyJWT).

    ``htm``, ``htu``, ``iat`` (``now``), a random ``jti``, and ``ath`` for
    ``token``; ``claims`` and ``headers`` add or override members; ``jwk`` is
    the key's public JWK when the caller keeps it. For clients, tests and the
    ``jwt-wsgi proof`` command.
    """
    public = public_jwk(key.public_key(), algorithm, None) if jwk is None else jwk
    payload: dict[str, Any] = {
        "jti": secrets.token_urlsafe(16),
        "htm": method,
        "htu": url,
        "iat": int(time.time() if now is None else now),
    }
    if token is not None:
        payload["ath"] = access_token_hash(token)
    if nonce is not None:
        payload["nonce"] = nonce
    payload.update(claims or {})
    header = {"typ": "dpop+jwt", "jwk": public, **(headers or {})}
    return sign(jws_encoder(), payload, key, algorithm, header)


def _normalise_escapes(path: str) -> str:
    """RFC 3986 section 6.2.2: unreserved characters decoded, other escapes in upper case."""

    def one(match: re.Match[str]) -> str:
        char = chr(int(match.group(1), 16))
        return char if char in _UNRESERVED else "%" + match.group(1).upper()

    return _ESCAPE.sub(one, path)


def normalise_url(url: str) -> str | None:
    """``url`` in the form ``htu`` is compared in, or ``None`` if it is no http(s) URL.

    Syntax- and scheme-based normalisation (RFC 3986 sections 6.2.2 and 6.2.3,
    as RFC 9449 section 4.3 asks): scheme and host in lower case, the default
    port dropped, an empty path as ``/``, escapes normalised; the query and
    fragment are ignored.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme  # urlsplit gives it in lower case, as hostname
    host = parts.hostname
    if scheme not in _DEFAULT_PORTS or not host or "@" in parts.netloc:
        return None
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port is None or port == _DEFAULT_PORTS[scheme] else f"{host}:{port}"
    path = _normalise_escapes(quote(parts.path or "/", safe=_PATH_SAFE + "%"))
    return f"{scheme}://{netloc}{path}"


class DPoPNonces:
    """Server nonces for DPoP proofs (RFC 9449 section 8), with no state to share.

    A nonce is an HMAC of the current period under ``secret``; the nonces of
    this period and the one before are accepted, so every process holding the
    same secret accepts the nonces any of them issued, and a nonce lives
    between one and two ``lifetime`` periods. Nonces keep proofs from being
    made in advance and make client clocks irrelevant.

    :param secret: at least 32 random bytes, the same in every process.
    :param lifetime: seconds each nonce is issued for (``300``).
    :param clock: returns the current Unix time (``time.time``).
    """

    def __init__(
        self,
        secret: bytes,
        *,
        lifetime: Duration = 300,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if isinstance(secret, str):
            secret = secret.encode("utf-8")
        if not isinstance(secret, bytes) or len(secret) < 32:
            raise ConfigurationError(
                "the DPoP nonce secret must be at least 32 bytes, e.g. secrets.token_bytes(32)"
            )
        self._secret = secret
        self.lifetime = _checks.seconds(lifetime, "nonce lifetime", positive=True)
        self.clock = _checks.function(clock, "clock", "() -> float")
        self._memo: tuple[int, str, str] | None = None

    @classmethod
    def generate(cls, **options: Any) -> DPoPNonces:
        """Nonces under a random secret: for one process only."""
        return cls(secrets.token_bytes(32), **options)

    def _pair(self, now: float) -> tuple[str, str]:
        period = int(now // self.lifetime)
        memo = self._memo
        if memo is None or memo[0] != period:
            memo = (period, self._nonce(period), self._nonce(period - 1))
            self._memo = memo
        return memo[1], memo[2]

    def _nonce(self, period: int) -> str:
        mac = hmac.new(self._secret, period.to_bytes(8, "big", signed=True), hashlib.sha256)
        return b64encode(mac.digest()[:18])

    def current(self) -> str:
        """The nonce to give clients now."""
        return self._pair(self.clock())[0]

    def check(self, nonce: object) -> str | None:
        """``None`` if ``nonce`` is the current one; the current one if ``nonce`` is
        the previous period's (still accepted: send the client the new one).

        Raises :class:`~jwt_wsgi.errors.DPoPNonceRequired` for anything else.
        """
        current, previous = self._pair(self.clock())
        if isinstance(nonce, str):
            if hmac.compare_digest(nonce, current):
                return None
            if hmac.compare_digest(nonce, previous):
                return current
        raise DPoPNonceRequired(nonce=current)


@dataclass(frozen=True, slots=True)
class Proof:
    """A DPoP proof that passed :meth:`DPoP.verify`.

    :param jkt: the RFC 7638 thumbprint of the key that signed it: what a
        token endpoint puts in the token's ``cnf.jkt``.
    :param nonce: a fresh nonce to send as ``DPoP-Nonce`` (the proof used the
        previous one), or ``None``.
    """

    jkt: str
    nonce: str | None


@dataclass(frozen=True, slots=True)
class _ProofKey:
    """What a proof header says, checked once per distinct header: the client's key."""

    algorithm: Algorithm
    key: Any
    thumbprint: str


class DPoP:
    """How DPoP proofs are checked: the authenticator's ``dpop=``.

    :param base_url: the URL or URLs clients address this API by, e.g.
        ``"https://api.example.com"`` (a path prefix is allowed:
        ``"https://example.com/api"``). A proof's ``htu`` must be one of them
        followed by ``SCRIPT_NAME`` and the path the rules matched. Required:
        the URL is never taken from the request's ``Host`` or forwarded headers.
    :param algorithms: the proof algorithms accepted, asymmetric only
        (``ES256 ES384 Ed25519 EdDSA PS256 RS256``: RFC 9864's ``Ed25519``
        as well as the polymorphic ``EdDSA``); sent as ``algs`` in challenges.
    :param max_age: how old a proof's ``iat`` may be, in seconds (``60``).
    :param leeway: clock skew tolerated either way, in seconds (``5``).
    :param replay: where proof ids are remembered: a
        :class:`~jwt_wsgi.revocation.MemoryRevocationStore` (one process) or
        :class:`~jwt_wsgi.revocation.RedisRevocationStore` (every process
        sharing it). ``None``: the authenticator's revocation store when it is
        one of these, else a memory store of its own.
    :param nonces: require server nonces (:class:`DPoPNonces`); ``None``
        requires none.
    :param max_proof_bytes: longer ``DPoP`` headers are refused unparsed (``4096``).
    """

    def __init__(
        self,
        base_url: str | Sequence[str],
        *,
        algorithms: Sequence[str] = DEFAULT_ALGORITHMS,
        max_age: Duration = 60,
        leeway: Duration = 5,
        replay: DenylistStore | None = None,
        nonces: DPoPNonces | None = None,
        max_proof_bytes: int = 4096,
    ) -> None:
        urls = (base_url,) if isinstance(base_url, str) else base_url
        self.base_urls = tuple(
            _check_base_url(url)
            for url in _checks.strings(urls, "base_url", example="'https://api.example.com'")
        )
        if not self.base_urls:
            raise ConfigurationError("base_url needs at least one URL")
        self.algorithms = validate_algorithms(algorithms)
        symmetric = [a for a in self.algorithms if ALGORITHM_KEY_TYPES[a] == "oct"]
        if symmetric:
            raise ConfigurationError(
                f"DPoP proofs are signed with the client's private key; {symmetric} are "
                "symmetric (RFC 9449 section 4.2)"
            )
        self._algorithms = {name: algorithm_object(name) for name in self.algorithms}
        self.max_age = _checks.seconds(max_age, "max_age", positive=True)
        self.leeway = _checks.seconds(leeway, "leeway")
        if replay is not None and not isinstance(replay, DenylistStore):
            raise ConfigurationError(
                "replay must be a MemoryRevocationStore or RedisRevocationStore, "
                f"not {type(replay).__name__}"
            )
        self.replay = replay
        if nonces is not None and not isinstance(nonces, DPoPNonces):
            raise ConfigurationError(f"nonces must be DPoPNonces, not {type(nonces).__name__}")
        self.nonces = nonces
        self.max_proof_bytes = _checks.count(max_proof_bytes, "max_proof_bytes", minimum=256)
        self._keys: BoundedMemo[str, _ProofKey] = BoundedMemo(_MEMO_SIZE, _MEMO_MAX_CHARS)

    def replay_store(self, revocation: object, clock: Callable[[], float]) -> DenylistStore:
        """The store proof ids go to, given the authenticator's revocation store."""
        if self.replay is not None:
            return self.replay
        if isinstance(revocation, DenylistStore):
            return revocation
        return MemoryRevocationStore(clock=clock)

    def verify(
        self,
        environ: WSGIEnvironment,
        replay: DenylistStore,
        *,
        token: str | None = None,
        jkt: str | None = None,
        now: float | None = None,
    ) -> Proof:
        """Check the request's ``DPoP`` proof; raise an :class:`~jwt_wsgi.errors.AuthError`
        subclass (:class:`~jwt_wsgi.errors.InvalidDPoPProof` and its kin) if it fails.

        :param replay: where the proof's id is recorded (see :meth:`replay_store`).
        :param token: the access token sent with it: ``ath`` must be its hash.
            A token endpoint (RFC 9449 section 5) has none, and binds the
            token it issues to the returned :attr:`Proof.jkt`.
        :param jkt: the thumbprint the token is bound to (its ``cnf.jkt``).
        :param now: the current time (``time.time()``).
        """
        if now is None:
            now = time.time()
        value = environ.get("HTTP_DPOP")
        if not isinstance(value, str) or not value.strip():
            raise DPoPProofMissing()
        if len(value) > self.max_proof_bytes or "," in value:
            # Two DPoP headers arrive joined by a comma, which no JWS contains.
            raise MalformedDPoPProof("the request must carry exactly one DPoP proof")
        proof = value.strip()
        try:
            header_b64, payload_b64, signature_b64 = split_jws(proof, self.max_proof_bytes)
        except MalformedToken:
            raise MalformedDPoPProof("the DPoP proof is not a compact JWS") from None
        key = self._keys.get(header_b64)
        if key is None:
            key = self._keys.remember(header_b64, self._proof_key(header_b64))
        try:
            signature = b64decode(signature_b64)
            payload = b64decode(payload_b64)
        except MalformedToken:
            raise MalformedDPoPProof("the DPoP proof is not valid base64url") from None
        signing_input = proof[: len(header_b64) + 1 + len(payload_b64)].encode("ascii")
        if not safe_verify(key.algorithm, signing_input, key.key, signature):
            raise DPoPSignatureInvalid()
        try:
            claims = parse_json_object(payload, "claim set")
        except MalformedToken:
            raise MalformedDPoPProof("the DPoP proof's claims are not a JSON object") from None
        jti, htm, htu, iat = (claims.get(n) for n in ("jti", "htm", "htu", "iat"))
        if not isinstance(jti, str) or not jti or len(jti) > 256:
            raise MalformedDPoPProof("the DPoP proof needs a jti")
        if not isinstance(htm, str) or not isinstance(htu, str):
            raise MalformedDPoPProof("the DPoP proof needs htm and htu")
        if not isinstance(iat, int | float) or isinstance(iat, bool) or iat != iat:
            raise MalformedDPoPProof("the DPoP proof needs a numeric iat")
        if htm != environ.get("REQUEST_METHOD"):
            raise DPoPMethodMismatch()
        if not self._htu_matches(htu, environ):
            raise DPoPUrlMismatch()
        if not now - self.max_age - self.leeway <= iat <= now + self.leeway:
            raise DPoPProofStale()
        if token is not None:
            ath = claims.get("ath")
            if not isinstance(ath, str) or not hmac.compare_digest(ath, access_token_hash(token)):
                raise DPoPAthMismatch()
        if jkt is not None and not hmac.compare_digest(key.thumbprint, jkt):
            raise DPoPKeyMismatch()
        fresh = None if self.nonces is None else self.nonces.check(claims.get("nonce"))
        # Last, so that only proofs good in every other way take a place in the store.
        ident = f"dpop:{key.thumbprint}:{hashlib.sha256(jti.encode()).hexdigest()[:32]}"
        try:
            first = replay.first_use(ident, expires_at=iat + self.max_age + 2 * self.leeway)
        except RevocationUnavailable as exc:
            raise ReplayCheckFailed() from exc
        if first is not None:
            raise DPoPProofReplayed()
        return Proof(key.thumbprint, fresh)

    def _proof_key(self, header_b64: str) -> _ProofKey:
        """Check a proof header (``typ``, ``alg``, ``jwk``) and load its key."""
        try:
            header = parse_json_object(b64decode(header_b64), "header")
        except MalformedToken:
            raise MalformedDPoPProof("the DPoP proof header is not a JSON object") from None
        typ = header.get("typ")
        if not isinstance(typ, str) or typ.lower() != "dpop+jwt":
            raise MalformedDPoPProof("the DPoP proof's typ must be dpop+jwt")
        alg = header.get("alg")
        algorithm = self._algorithms.get(alg) if isinstance(alg, str) else None
        if algorithm is None:
            raise DPoPAlgorithmNotAllowed()
        if "crit" in header or "b64" in header:
            raise MalformedDPoPProof("the DPoP proof uses an unsupported JWS extension")
        jwk = header.get("jwk")
        if not isinstance(jwk, dict):
            raise MalformedDPoPProof("the DPoP proof has no public jwk")
        try:
            key = prepare_public_jwk(jwk, alg)  # type: ignore[arg-type]
            thumbprint = jwk_thumbprint(jwk)
        except ConfigurationError:
            raise MalformedDPoPProof("the DPoP proof's jwk is no public key for its alg") from None
        return _ProofKey(algorithm, key, thumbprint)

    def _htu_matches(self, htu: str, environ: WSGIEnvironment) -> bool:
        """Whether ``htu`` is a base URL followed by the request's (routed) path."""
        claimed = normalise_url(htu)
        if claimed is None:
            return False
        path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
        try:
            raw = path.encode("latin-1")
        except UnicodeEncodeError:
            return False
        encoded = _normalise_escapes(quote(raw, safe=_PATH_SAFE)) or "/"
        return any(claimed == base + encoded for base in self.base_urls)


def _check_base_url(url: str) -> str:
    """A base URL in normal form, without its trailing slash; refuse anything else."""
    normal = normalise_url(url)
    parts = urlsplit(url)
    if normal is None or parts.query or parts.fragment or "#" in url or "?" in url:
        raise ConfigurationError(
            f"base_url must be an http(s) URL without query or fragment, not {url!r}"
        )
    return normal.rstrip("/")


# The mode literal moved to jwt_wsgi.binding in 0.3, where settings can name it.
__getattr__ = moved("jwt_wsgi.dpop", {"jwt_wsgi.binding": ("DPoPMode", "DPOP_MODES")})
