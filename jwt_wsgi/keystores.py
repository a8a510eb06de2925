"""Key stores: where a minter's signing keys are kept, so every worker signs alike.

A :class:`SigningKey` (:mod:`jwt_wsgi.jose.signing`) is one private key (or
HMAC secret) with its algorithm and ``kid``. A key store holds a minter's
keys, current first:

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
import functools
import logging
import os
import secrets
import tempfile
import threading
import time
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization

from . import _checks
from .errors import ConfigurationError, KeyStoreUnavailable
from .jose.keys import ALGORITHM_KEY_TYPES, validate_algorithms
from .jose.signing import (  # the core of signing; these stores keep the keys
    SigningKey,
    generate_private_key,
    signing_key,
)
from .redisconn import NotAcknowledged, RedisConnection

logger = logging.getLogger("jwt_wsgi")


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
            generate_private_key(algorithm) if key is None else key,
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
                self._add(generate_private_key(self.algorithm), None)

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
            return self._add(generate_private_key(self.algorithm) if key is None else key, kid)

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
    kid, and a version stamp (a random value each change draws), changed by
    every change in the same script, so a reader re-reads the keys only when
    the stamp moved (one ``GET`` per :meth:`keys` call otherwise). Redis may be
    one server, a Sentinel-managed primary or a Cluster
    (:mod:`jwt_wsgi.redisconn`); with ``min_replicas`` (1 for Sentinel and
    Cluster) a rotation or retirement returns once replicas hold it.

    **A restart forgets no key.** Each process looks at the stamp every half
    second. When Redis comes back empty (no persistence) or a replica that
    never saw a key took over, every process writes back the keys it holds,
    the current one included unless another is current by then, so the kid
    set, the published JWK Set and every token signed before stay valid. A
    process that holds no key and finds the store empty waits
    ``first_key_wait`` seconds for the others to write theirs back before it
    makes a first key. While Redis cannot be reached, signing and the JWK Set
    use the keys read last (no change can happen meanwhile: changes go through
    Redis); a process that never read any raises
    :class:`~jwt_wsgi.errors.KeyStoreUnavailable`.

    The private keys are as safe as the Redis holding them: use its ACLs and TLS.

    :param connection: where Redis is: a URL (``redis://``, ``redis+sentinel://``,
        ``redis+cluster://``) or a ``redis.Redis``/``RedisCluster`` client.
    :param algorithm: the algorithm of generated keys (``"ES256"``).
    :param prefix: key prefix (``"jwt_wsgi:keys:"``; in a Cluster
        ``"{jwt_wsgi:keys}:"``).
    :param timeout: seconds to connect and to wait for each reply (2).
    :param min_replicas: replicas a change waits for (``None``: 1 with
        Sentinel or a Cluster, 0 for one server).
    :param replica_timeout: seconds a change waits for them (0.5, or half ``timeout`` if less;
        less than ``timeout``).
    :param first_key_wait: seconds an empty store is given to be restored by
        other processes before a first key is made (1.5).
    """

    def __init__(
        self,
        connection: Any,
        *,
        algorithm: str = "ES256",
        prefix: str | None = None,
        timeout: float = 2.0,
        min_replicas: int | None = None,
        replica_timeout: float | None = None,
        first_key_wait: float = 1.5,
    ) -> None:
        (self.algorithm,) = validate_algorithms([algorithm])
        if ALGORITHM_KEY_TYPES[self.algorithm] == "oct":
            raise ConfigurationError("a Redis key store holds asymmetric keys; share secrets")
        self._conn = RedisConnection.of(connection, timeout)
        self.prefix = self._conn.check_prefix(prefix, "jwt_wsgi:keys:")
        self._keys = [self.prefix + name for name in ("pem", "current", "version")]
        self.min_replicas = (
            self._conn.default_min_replicas
            if min_replicas is None
            else _checks.count(min_replicas, "min_replicas")
        )
        self.replica_timeout = self._conn.check_replica_timeout(replica_timeout, 0.5)
        self.first_key_wait = _checks.seconds(first_key_wait, "first_key_wait")
        self._seen: tuple[object, tuple[SigningKey, ...]] | None = None
        self._loaded: dict[str, SigningKey] = {}
        self._lock = threading.RLock()
        self._failing = False
        #: How many times this process wrote its keys back after Redis lost them.
        self.restores = 0
        self._stopped = threading.Event()
        self._watcher: threading.Thread | None = None
        os.register_at_fork(after_in_child=functools.partial(_key_store_forked, weakref.ref(self)))
        try:
            self.keys()
        except KeyStoreUnavailable:
            logger.warning("the Redis key store is unreachable; its keys are read on first use")

    @classmethod
    def from_url(cls, url: str, **options: Any) -> RedisKeyStore:
        """A store for a ``redis://``, ``redis+sentinel://`` or ``redis+cluster://`` URL."""
        return cls(url, **options)

    def close(self) -> None:
        """Stop watching the store and close its connections."""
        self._stopped.set()
        if self._watcher is not None:
            self._watcher.join(timeout=5)
        self._conn.close()

    def keys(self) -> tuple[SigningKey, ...]:
        """Every key, the current one first (re-read when the stamp moved)."""
        seen = self._seen
        try:
            stamp = self._conn.node(self._keys[0]).get(self._keys[2])
            if seen is not None and stamp is not None and seen[0] == stamp:
                self._recovered()
                return seen[1]
            with self._lock:
                keys = self._read()
        except self._conn.errors as exc:
            return self._held(exc)
        self._recovered()
        self._watch_in_background()
        return keys

    def version(self) -> object:
        """The stamp of the keys last read: it changes whenever :meth:`keys` would
        answer differently (reading them again when Redis's stamp moved)."""
        self.keys()
        seen = self._seen
        return None if seen is None else seen[0]

    def rotate(
        self, key: Any = None, *, algorithm: str | None = None, kid: str | None = None
    ) -> str:
        """Add ``key`` (or a new one) and make it current, for every worker. Returns its kid."""
        if algorithm not in (None, self.algorithm):
            raise ConfigurationError(f"this store holds {self.algorithm} keys")
        new = signing_key(
            generate_private_key(self.algorithm) if key is None else key, self.algorithm, kid
        )
        assert new.kid is not None
        added, _ = self._change(_ADD_KEY, [new.kid, _pem(new), "0"])
        if not added:
            raise ConfigurationError(f"kid {new.kid!r} is taken")
        self._loaded[new.kid] = new
        return new.kid

    def retire(self, kid: str) -> None:
        """Drop the (non-current) key ``kid`` for every worker: its tokens stop verifying."""
        outcome, _ = self._change(_RETIRE_KEY, [kid])
        if outcome == "current":
            raise ConfigurationError("the current key cannot be retired; rotate first")
        if outcome == "missing":
            raise ConfigurationError(f"this store holds no key {kid!r}")

    # -- reading, restoring, changing ---------------------------------------------

    def _read(self) -> tuple[SigningKey, ...]:
        """The keys as Redis has them; an empty store is restored or given a first key."""
        for _ in range(2):
            pipe = self._conn.node(self._keys[0]).pipeline(transaction=False)
            pipe.get(self._keys[1])
            pipe.hgetall(self._keys[0])
            pipe.get(self._keys[2])
            current, pems, stamp = pipe.execute()
            current = _text(current) if current is not None else None
            pems = {_text(k): v for k, v in pems.items()}
            if current is not None and current in pems and stamp is not None:
                break
            self._fill()
        else:
            raise ConfigurationError("the Redis key store names a current key it does not hold")
        keys = []
        for kid, pem in sorted(pems.items()):
            if kid not in self._loaded:
                self._loaded[kid] = signing_key(pem, self.algorithm, kid)
            keys.append(self._loaded[kid])
        keys.sort(key=lambda k: k.kid != current)
        self._seen = (stamp, tuple(keys))
        return self._seen[1]

    def _fill(self) -> None:
        """Redis holds no current key: write back the keys held here, else wait for
        other processes to write theirs back, else make the first key."""
        held = () if self._seen is None else self._seen[1]
        if held:
            args: list[Any] = [held[0].kid, _stamp()]
            for key in held:
                args += [key.kid, _pem(key)]
            restored = self._conn.script(_RESTORE_KEYS, self._keys, args)
            self.restores += 1
            logger.warning(
                "the Redis key store had lost its keys (a restart or a failover): wrote back "
                "the %d this process held (%d were missing)",
                len(held),
                restored,
            )
            return
        deadline = time.monotonic() + self.first_key_wait
        while time.monotonic() < deadline:
            if self._conn.node(self._keys[0]).exists(self._keys[1]):
                return  # another process restored or made one
            time.sleep(0.05)
        new = signing_key(generate_private_key(self.algorithm), self.algorithm, None)
        assert new.kid is not None
        self._conn.script(_ADD_KEY, self._keys, [new.kid, _pem(new), "1", _stamp()])

    def _change(self, script: str, args: list[Any]) -> tuple[Any, Any]:
        """Run a change script with a new stamp, waiting for ``min_replicas``."""
        try:
            outcome, detail = self._conn.script(
                script,
                self._keys,
                [*args, _stamp()],
                min_replicas=self.min_replicas,
                replica_timeout=self.replica_timeout,
            )
        except NotAcknowledged as exc:
            raise KeyStoreUnavailable(
                f"the key change was written but {exc}; it may not survive a failover"
            ) from exc
        except self._conn.errors as exc:
            raise KeyStoreUnavailable(f"redis: {type(exc).__name__}; nothing changed") from exc
        return _text(outcome) if isinstance(outcome, bytes) else outcome, detail

    def _held(self, exc: BaseException) -> tuple[SigningKey, ...]:
        """The keys read last, while Redis cannot be reached."""
        seen = self._seen
        if seen is None:
            raise KeyStoreUnavailable(
                f"the Redis key store is unreachable ({type(exc).__name__}) and no keys "
                "were read before"
            ) from exc
        if not self._failing:
            self._failing = True
            logger.warning(
                "the Redis key store is unreachable (%s); signing with the keys read last",
                type(exc).__name__,
            )
        return seen[1]

    def _recovered(self) -> None:
        if self._failing:
            self._failing = False
            logger.warning("the Redis key store answers again")

    # -- watching for a store that lost its keys --------------------------------------

    def _watch_in_background(self) -> None:
        if self._watcher is None and not self._stopped.is_set():
            with self._lock:
                if self._watcher is None:
                    self._watcher = threading.Thread(
                        target=self._watch, name="jwt_wsgi key store watch", daemon=True
                    )
                    self._watcher.start()

    def _watch(self) -> None:
        while not self._stopped.wait(_KEY_WATCH_EVERY):
            try:
                self.keys()
            except Exception:  # unreachable: keys() logs it once; a bug: log and go on
                if not self._failing:
                    logger.exception("watching the Redis key store failed")

    def _after_fork(self) -> None:
        self._lock = threading.RLock()
        self._stopped = threading.Event()
        self._watcher = None


#: Seconds between two looks at a Redis key store's stamp.
_KEY_WATCH_EVERY = 0.5

#: Add a key and make it current (ARGV: kid, pem, only_if_empty, stamp).
_ADD_KEY = """
if ARGV[3] == '1' and redis.call('EXISTS', KEYS[2]) == 1 then
  return {0, redis.call('GET', KEYS[2])}
end
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return {0, ARGV[1]} end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('SET', KEYS[2], ARGV[1])
redis.call('SET', KEYS[3], ARGV[4])
return {1, ARGV[1]}
"""
#: Drop a key that is not current (ARGV: kid, stamp).
_RETIRE_KEY = """
if redis.call('GET', KEYS[2]) == ARGV[1] then return {'current', 0} end
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return {'missing', 0} end
redis.call('SET', KEYS[3], ARGV[2])
return {'retired', 1}
"""
#: Write back held keys (ARGV: current kid, stamp, then kid, pem pairs): each key
#: only if missing, the current one only if none is current.
_RESTORE_KEYS = """
local added = 0
for i = 3, #ARGV, 2 do
  added = added + redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i + 1])
end
local current = redis.call('GET', KEYS[2])
if not current or redis.call('HEXISTS', KEYS[1], current) == 0 then
  redis.call('SET', KEYS[2], ARGV[1])
  added = added + 1
end
if added > 0 or redis.call('EXISTS', KEYS[3]) == 0 then redis.call('SET', KEYS[3], ARGV[2]) end
return added
"""


def _pem(key: SigningKey) -> bytes:
    pem: bytes = key.key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return pem


def _stamp() -> str:
    return secrets.token_hex(12)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _key_store_forked(store: weakref.ref[RedisKeyStore]) -> None:
    watched = store()
    if watched is not None:
        watched._after_fork()


def _safe_kid(kid: str) -> bool:
    return bool(kid) and all(c.isalnum() or c in "-_." for c in kid) and not kid.startswith(".")
