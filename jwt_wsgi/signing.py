"""Signing keys: loaded and checked once, and kept where every worker signs alike.

A :class:`SigningKey` is one private key (or HMAC secret) with its algorithm
and ``kid``. A key store holds a minter's keys, current first:

* :class:`MemoryKeyStore` keeps them in this process: enough for one process,
  and what ``Minter(key)`` uses.
* :class:`FileKeyStore` keeps them in a directory that every worker of a
  server (and every machine, on shared storage) reads; :class:`RedisKeyStore`
  keeps them in Redis, for machines that share no storage. With gunicorn's
  ``-w 4``, each worker would otherwise make a key of its own, so tokens
  signed by one worker would fail wherever another worker's published set is
  trusted, and a rotation would reach one worker only. Every worker signs
  with the store's current key and publishes the store's set; a rotation in
  any worker (or by an operator's script) reaches all of them at their next
  token.

Only asymmetric keys go in a file store: HMAC secrets are shared by
configuration, and never published.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import secrets
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import (
    load_der_private_key,
    load_pem_private_key,
)

from .errors import ConfigurationError
from .keys import (
    ALGORITHM_KEY_TYPES,
    EC_CURVES,
    check_hmac_secret,
    check_rsa_key,
    curve_fits,
    pem_text,
    validate_algorithms,
)
from .tokens import b64encode

_PRIVATE_TYPES = {
    "RSA": (rsa.RSAPrivateKey,),
    "EC": (ec.EllipticCurvePrivateKey,),
    "OKP": (ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey),
}
_EC_CLASSES: dict[str, Callable[[], ec.EllipticCurve]] = {
    "secp256r1": ec.SECP256R1,
    "secp384r1": ec.SECP384R1,
    "secp521r1": ec.SECP521R1,
    "secp256k1": ec.SECP256K1,
}


@dataclass(frozen=True)
class SigningKey:
    """One key a minter signs with: the prepared key, its algorithm and ``kid``."""

    key: Any
    algorithm: str
    kid: str | None

    def public_jwk(self) -> dict[str, Any] | None:
        """The public half as a JWK, or ``None`` for an HMAC secret (never published)."""
        if isinstance(self.key, bytes):
            return None
        return public_jwk(self.key.public_key(), self.algorithm, self.kid)


def public_jwk(public_key: Any, algorithm: str, kid: str | None) -> dict[str, Any]:
    """A public key as a signing JWK: ``use``, ``alg`` and ``kid`` set, no ``key_ops``."""
    jwk: dict[str, Any] = jwt.get_algorithm_by_name(algorithm).to_jwk(public_key, as_dict=True)
    # RFC 7517 section 4.3: use and key_ops should not appear together;
    # PyJWT adds key_ops to RSA keys, and every verifier knows use.
    jwk.pop("key_ops", None)
    jwk.update(use="sig", alg=algorithm)
    if kid is not None:
        jwk["kid"] = kid
    return jwk


def signing_key(
    key: Any, algorithm: str, kid: str | None = None, *, allow_weak_hmac_keys: bool = False
) -> SigningKey:
    """A checked :class:`SigningKey`; asymmetric keys get their RFC 7638 thumbprint as ``kid``."""
    (name,) = validate_algorithms([algorithm])
    prepared = load_signing_key(key, name, allow_weak_hmac_keys)
    if kid is None and not isinstance(prepared, bytes):
        kid = thumbprint(prepared.public_key())
    return SigningKey(prepared, name, kid)


def generate_key(algorithm: str) -> Any:
    """A new private key for ``algorithm`` (RSA 3072 bits for RS*/PS*)."""
    key_type = ALGORITHM_KEY_TYPES[algorithm]
    if key_type == "EC":
        return ec.generate_private_key(_EC_CLASSES[EC_CURVES[algorithm]]())
    if key_type == "RSA":
        return rsa.generate_private_key(public_exponent=65537, key_size=3072)
    if key_type == "OKP":
        return ed25519.Ed25519PrivateKey.generate()
    raise ConfigurationError(f"{algorithm} keys are secrets to share, not keys to generate")


def new_key(algorithm: str) -> Any:
    """A fresh key to sign with: 64 random bytes for ``HS*``, else :func:`generate_key`'s."""
    if ALGORITHM_KEY_TYPES[algorithm] == "oct":
        return secrets.token_bytes(64)
    return generate_key(algorithm)


def key_family(key: Any) -> str:
    """The algorithm whose PyJWT object exports ``key`` (private or public) as a JWK."""
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return "RS256"
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        return "ES256"
    return "EdDSA"


#: The members of each key type's RFC 7638 thumbprint input, in their order.
_THUMBPRINT_MEMBERS = {
    "RSA": ("e", "kty", "n"),
    "EC": ("crv", "kty", "x", "y"),
    "OKP": ("crv", "kty", "x"),
}


def thumbprint(public_key: Any) -> str:
    """The RFC 7638 JWK thumbprint (SHA-256) of a public key: a stable default ``kid``."""
    family = key_family(public_key)
    return jwk_thumbprint(jwt.get_algorithm_by_name(family).to_jwk(public_key, as_dict=True))


def jwk_thumbprint(jwk: Mapping[str, Any]) -> str:
    """The RFC 7638 SHA-256 thumbprint of a public JWK, from its required members
    (a DPoP key's ``jkt``); :class:`ConfigurationError` if it lacks them."""
    members = _THUMBPRINT_MEMBERS.get(jwk.get("kty"))  # type: ignore[arg-type]
    if members is None or not all(isinstance(jwk.get(m), str) for m in members):
        raise ConfigurationError("the JWK lacks the members of its key type")
    canonical = json.dumps({m: jwk[m] for m in members}, separators=(",", ":"))
    return b64encode(hashlib.sha256(canonical.encode("utf-8")).digest())


def load_signing_key(key: Any, algorithm: str, allow_weak: bool) -> Any:
    """Load and check a signing key once, as PyJWT's algorithm will use it."""
    key_type = ALGORITHM_KEY_TYPES[algorithm]
    if isinstance(key, jwt.PyJWK):
        key = key.key
    if key_type == "oct":
        secret = key.encode("utf-8") if isinstance(key, str) else key
        if not isinstance(secret, bytes) or not secret:
            raise ConfigurationError(f"{algorithm} needs a non-empty secret (str or bytes)")
        check_hmac_secret(secret, algorithm, allow_weak)
        return secret
    if isinstance(key, str):
        key = key.encode("utf-8")
    if isinstance(key, bytes):
        try:
            if key.lstrip().startswith(b"-----BEGIN"):
                key = load_pem_private_key(pem_text(key), password=None)
            else:
                key = load_der_private_key(key, password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            raise ConfigurationError(
                f"{algorithm} needs a private key (PEM or DER, unencrypted): {exc}"
            ) from None
    if not isinstance(key, _PRIVATE_TYPES[key_type]):
        raise ConfigurationError(f"{algorithm} needs a {key_type} private key")
    if not curve_fits(key, algorithm):
        raise ConfigurationError(f"{algorithm} needs a key on the {EC_CURVES[algorithm]} curve")
    if isinstance(key, rsa.RSAPrivateKey):
        check_rsa_key(key.public_key())
    try:
        jwt.get_algorithm_by_name(algorithm).prepare_key(key)
    except jwt.InvalidKeyError as exc:
        raise ConfigurationError(f"the key does not fit {algorithm}: {exc}") from exc
    return key


class MemoryKeyStore:
    """A minter's keys in this process's memory, current first.

    :param key: the first key (an HMAC secret or a private key, see
        :func:`signing_key`).
    :param algorithm: its algorithm.
    :param kid: its ``kid`` (the RFC 7638 thumbprint for asymmetric keys).
    :param allow_weak_hmac_keys: accept an HMAC secret shorter than the hash.
    """

    def __init__(
        self,
        key: Any,
        algorithm: str = "HS256",
        *,
        kid: str | None = None,
        allow_weak_hmac_keys: bool = False,
    ) -> None:
        self.allow_weak_hmac_keys = allow_weak_hmac_keys
        self._keys: tuple[SigningKey, ...] = (
            signing_key(key, algorithm, kid, allow_weak_hmac_keys=allow_weak_hmac_keys),
        )
        self._version = 0

    def keys(self) -> tuple[SigningKey, ...]:
        """Every key held, the current one first."""
        return self._keys

    def version(self) -> object:
        """Changes whenever :meth:`keys` would answer differently."""
        return self._version

    def rotate(
        self, key: Any = None, *, algorithm: str | None = None, kid: str | None = None
    ) -> str:
        """Make ``key`` (or a new one) current; older keys stay published. Returns its kid."""
        algorithm = algorithm or self._keys[0].algorithm
        new = signing_key(
            generate_key(algorithm) if key is None else key,
            algorithm,
            kid,
            allow_weak_hmac_keys=self.allow_weak_hmac_keys,
        )
        if new.kid is None or any(k.kid == new.kid for k in self._keys):
            raise ConfigurationError("a rotated-in key needs a kid no other key of this minter has")
        self._keys = (new, *self._keys)
        self._version += 1
        return new.kid

    def retire(self, kid: str) -> None:
        """Stop publishing the (non-current) key ``kid``: its tokens stop verifying."""
        if self._keys[0].kid == kid:
            raise ConfigurationError("the current key cannot be retired; rotate first")
        if not any(k.kid == kid for k in self._keys):
            raise ConfigurationError(f"this minter holds no key {kid!r}")
        self._keys = tuple(k for k in self._keys if k.kid != kid)
        self._version += 1


class FileKeyStore:
    """A minter's keys in a directory shared by every worker, current first.

    The directory holds one ``<kid>.pem`` (PKCS #8, mode 0600) per key and a
    ``CURRENT`` file naming the current kid; writes are atomic renames under
    an exclusive lock, so workers starting at once create one first key, and
    a reader never sees half a key. Readers notice changes by the directory's
    listing and ``CURRENT``'s identity, checked at each :meth:`keys` call.

    :param directory: where the keys live (created, mode 0700, if missing).
    :param algorithm: the algorithm of generated keys (``"ES256"``); any
        asymmetric one.
    """

    CURRENT = "CURRENT"

    def __init__(self, directory: str | os.PathLike[str], *, algorithm: str = "ES256") -> None:
        (self.algorithm,) = validate_algorithms([algorithm])
        if ALGORITHM_KEY_TYPES[self.algorithm] == "oct":
            raise ConfigurationError("a file key store holds asymmetric keys; share secrets")
        self.directory = Path(directory)
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._seen: tuple[object, tuple[SigningKey, ...]] | None = None
        self._loaded: dict[str, SigningKey] = {}
        with self._exclusive():
            if not (self.directory / self.CURRENT).exists():
                self._add(generate_key(self.algorithm), None)

    def keys(self) -> tuple[SigningKey, ...]:
        """Every key in the directory, the current one first (re-read when it changed)."""
        stamp = self.version()
        seen = self._seen
        if seen is not None and seen[0] == stamp:
            return seen[1]
        with self._lock:
            current = (self.directory / self.CURRENT).read_text().strip()
            keys = []
            for path in sorted(self.directory.glob("*.pem")):
                kid = path.stem
                if kid not in self._loaded:
                    self._loaded[kid] = signing_key(path.read_bytes(), self.algorithm, kid)
                keys.append(self._loaded[kid])
            keys.sort(key=lambda k: k.kid != current)
            if not keys or keys[0].kid != current:
                raise ConfigurationError(f"{self.directory}: CURRENT names no key file")
            self._seen = (stamp, tuple(keys))
            return self._seen[1]

    def version(self) -> object:
        """The directory's listing and ``CURRENT``'s identity: changes with any rotation."""
        current = os.stat(self.directory / self.CURRENT)
        return (current.st_ino, current.st_mtime_ns, tuple(sorted(os.listdir(self.directory))))

    def rotate(
        self, key: Any = None, *, algorithm: str | None = None, kid: str | None = None
    ) -> str:
        """Add ``key`` (or a new one) and make it current, for every worker. Returns its kid."""
        if algorithm not in (None, self.algorithm):
            raise ConfigurationError(f"this store holds {self.algorithm} keys")
        with self._exclusive():
            return self._add(generate_key(self.algorithm) if key is None else key, kid)

    def retire(self, kid: str) -> None:
        """Delete the (non-current) key ``kid`` for every worker: its tokens stop verifying."""
        with self._exclusive():
            if (self.directory / self.CURRENT).read_text().strip() == kid:
                raise ConfigurationError("the current key cannot be retired; rotate first")
            path = self.directory / f"{kid}.pem"
            if not _safe_kid(kid) or not path.exists():
                raise ConfigurationError(f"this store holds no key {kid!r}")
            path.unlink()

    def _add(self, key: Any, kid: str | None) -> str:
        new = signing_key(key, self.algorithm, kid)
        assert new.kid is not None
        if not _safe_kid(new.kid) or (self.directory / f"{new.kid}.pem").exists():
            raise ConfigurationError(f"kid {new.kid!r} is taken or unusable as a file name")
        pem = new.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        self._write(f"{new.kid}.pem", pem)
        self._write(self.CURRENT, new.kid.encode())
        return new.kid

    def _write(self, name: str, data: bytes) -> None:
        fd, temporary = tempfile.mkstemp(dir=self.directory, prefix=".tmp-")
        try:
            os.write(fd, data)
            os.fchmod(fd, 0o600)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, self.directory / name)

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[None]:
        """One writer at a time, across processes (``flock``) and threads."""
        with self._lock, open(self.directory / ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


class RedisKeyStore:
    """A minter's keys in Redis, shared by every worker of every machine, current first.

    Three keys under ``prefix``: a hash of PKCS #8 PEMs by kid, the current
    kid, and a version counter that every change increments in the same
    transaction, so a reader re-reads the keys only when the counter moved
    (one ``GET`` per :meth:`keys` call otherwise). The private keys are as safe
    as the Redis holding them: use its ACLs and TLS.

    :param client: a ``redis.Redis`` client.
    :param algorithm: the algorithm of generated keys (``"ES256"``).
    :param prefix: key prefix (``"jwt_wsgi:keys:"``).
    """

    def __init__(
        self, client: Any, *, algorithm: str = "ES256", prefix: str = "jwt_wsgi:keys:"
    ) -> None:
        (self.algorithm,) = validate_algorithms([algorithm])
        if ALGORITHM_KEY_TYPES[self.algorithm] == "oct":
            raise ConfigurationError("a Redis key store holds asymmetric keys; share secrets")
        self._client = client
        self._pems, self._current, self._version = (
            prefix + "pem",
            prefix + "current",
            prefix + "version",
        )
        self._seen: tuple[object, tuple[SigningKey, ...]] | None = None
        self._loaded: dict[str, SigningKey] = {}
        self._add(generate_key(self.algorithm), None, only_if_empty=True)

    @classmethod
    def from_url(cls, url: str, **options: Any) -> RedisKeyStore:
        """A store for ``redis://host:port/db``."""
        import redis

        return cls(redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2), **options)

    def keys(self) -> tuple[SigningKey, ...]:
        """Every key, the current one first (re-read when the version moved)."""
        stamp = self.version()
        seen = self._seen
        if seen is not None and seen[0] == stamp:
            return seen[1]
        pipe = self._client.pipeline(transaction=True)
        pipe.get(self._current)
        pipe.hgetall(self._pems)
        pipe.get(self._version)
        current, pems, stamp = pipe.execute()
        current = current.decode() if isinstance(current, bytes) else current
        keys = []
        for raw_kid, pem in sorted(pems.items()):
            kid = raw_kid.decode() if isinstance(raw_kid, bytes) else raw_kid
            if kid not in self._loaded:
                self._loaded[kid] = signing_key(pem, self.algorithm, kid)
            keys.append(self._loaded[kid])
        keys.sort(key=lambda k: k.kid != current)
        if not keys or keys[0].kid != current:
            raise ConfigurationError("the Redis key store names a current key it does not hold")
        self._seen = (stamp, tuple(keys))
        return self._seen[1]

    def version(self) -> object:
        """The change counter: one ``GET``."""
        return self._client.get(self._version)

    def rotate(
        self, key: Any = None, *, algorithm: str | None = None, kid: str | None = None
    ) -> str:
        """Add ``key`` (or a new one) and make it current, for every worker. Returns its kid."""
        if algorithm not in (None, self.algorithm):
            raise ConfigurationError(f"this store holds {self.algorithm} keys")
        return self._add(generate_key(self.algorithm) if key is None else key, kid)

    def retire(self, kid: str) -> None:
        """Drop the (non-current) key ``kid`` for every worker: its tokens stop verifying."""
        import redis

        with self._client.pipeline(transaction=True) as pipe:
            while True:
                try:
                    pipe.watch(self._current, self._pems)
                    current = pipe.get(self._current)
                    if (current.decode() if isinstance(current, bytes) else current) == kid:
                        raise ConfigurationError("the current key cannot be retired; rotate first")
                    if not pipe.hexists(self._pems, kid):
                        raise ConfigurationError(f"this store holds no key {kid!r}")
                    pipe.multi()
                    pipe.hdel(self._pems, kid)
                    pipe.incr(self._version)
                    pipe.execute()
                    return
                except redis.WatchError:
                    continue

    def _add(self, key: Any, kid: str | None, *, only_if_empty: bool = False) -> str:
        import redis

        new = signing_key(key, self.algorithm, kid)
        assert new.kid is not None
        pem = new.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        with self._client.pipeline(transaction=True) as pipe:
            while True:
                try:
                    pipe.watch(self._current, self._pems)
                    current = pipe.get(self._current)
                    if only_if_empty and current is not None:
                        return current.decode() if isinstance(current, bytes) else str(current)
                    if pipe.hexists(self._pems, new.kid):
                        raise ConfigurationError(f"kid {new.kid!r} is taken")
                    pipe.multi()
                    pipe.hset(self._pems, new.kid, pem)
                    pipe.set(self._current, new.kid)
                    pipe.incr(self._version)
                    pipe.execute()
                    return new.kid
                except redis.WatchError:
                    continue  # another worker changed the store meanwhile: look again


def _safe_kid(kid: str) -> bool:
    return bool(kid) and all(c.isalnum() or c in "-_." for c in kid) and not kid.startswith(".")
