"""Connections to the Redis that holds shared state: one server, Sentinel, or a Cluster.

Every Redis-backed part of jwt_wsgi (the revocation store and its mirror,
DPoP replay ids, the minter's key store) reaches Redis through a
:class:`RedisConnection`, which owns three decisions:

**Where.** A URL names the topology, one string for Python, ``.ini`` files
and environment variables alike:

``redis://[user:password@]host:port[/db]``
    One server (``rediss://`` for TLS).
``redis+sentinel://[user:password@]host:port[,host:port...]/service[/db]``
    The primary of ``service``, found by asking the listed Sentinels, and
    found again after a failover (``rediss+sentinel://`` for TLS). The
    credentials are the servers'; ``?sentinel_password=`` (and
    ``sentinel_username=``) authenticate to the Sentinels.
``redis+cluster://[user:password@]host:port[,host:port...]``
    A Redis Cluster, discovered from any of the listed nodes
    (``rediss+cluster://`` for TLS). Each store keeps all its keys in one hash
    slot (a ``{hash tag}`` in its prefix), so its scripts and its loads run
    on one primary.

A ``redis.Redis`` client (plain or from ``Sentinel.master_for``) or a
``redis.cluster.RedisCluster`` is taken too: its address and credentials are
kept, its timeouts and retries are not (below).

**How long.** The connection's socket timeouts (``timeout``, for connect and
for each reply) and no retries of the client library's own: a request's
revocation check waits at most ``2 * timeout`` on Redis (connect, then the
reply), never a client's exponential backoff.

**How durable.** Writes run as one script on the primary holding the keys
and, with ``min_replicas``, are followed on the same connection by ``WAIT``:
a write returns only once that many replicas hold it, so a failover to a
replica cannot lose it. Otherwise the write raises
:class:`NotAcknowledged`: the caller learns it may not survive a failover.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any
from urllib.parse import parse_qs, unquote

from . import _checks
from .errors import ConfigurationError

__all__ = ["NotAcknowledged", "RedisConnection", "parse_redis_url"]

#: The schemes a URL may name, and the topology each means.
SCHEMES = {
    "redis": ("server", False),
    "rediss": ("server", True),
    "redis+sentinel": ("sentinel", False),
    "rediss+sentinel": ("sentinel", True),
    "redis+cluster": ("cluster", False),
    "rediss+cluster": ("cluster", True),
}
_SENTINEL_PORT = 26379
_REDIS_PORT = 6379


def _redis(module: str = "redis") -> Any:
    """redis-py (an optional dependency, the ``redis`` extra), untyped on purpose: its
    annotations change from release to release, and every call here is checked by tests
    against both the floor and the newest."""
    return importlib.import_module(module)


class NotAcknowledged(Exception):
    """A write reached the primary, but not ``min_replicas`` replicas within the timeout."""


def parse_redis_url(url: str) -> dict[str, Any]:
    """The parts of a Redis URL: ``kind``, ``tls``, ``hosts``, ``service``, ``db``,
    ``username``, ``password`` and the Sentinels' credentials.

    Raises :class:`~jwt_wsgi.errors.ConfigurationError` saying what is wrong.
    """
    if not isinstance(url, str):
        raise ConfigurationError(f"a Redis URL must be a string, not {type(url).__name__}")
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in SCHEMES:
        raise ConfigurationError(
            f"a Redis URL starts with one of {sorted(SCHEMES)}:// (got {_redacted(url)!r})"
        )
    kind, tls = SCHEMES[scheme.lower()]
    netloc, _, tail = rest.partition("/")
    path, _, query = tail.partition("?")
    if "?" in netloc:
        netloc, _, query = netloc.partition("?")
    username = password = None
    if "@" in netloc:
        credentials, _, netloc = netloc.rpartition("@")
        user, colon, secret = credentials.partition(":")
        username = unquote(user) or None
        password = unquote(secret) if colon else None
    default_port = _SENTINEL_PORT if kind == "sentinel" else _REDIS_PORT
    hosts = [_host_port(part, default_port, url) for part in netloc.split(",")]
    if kind == "server" and len(hosts) != 1:
        raise ConfigurationError(
            f"{_redacted(url)!r} names several hosts: use redis+sentinel:// or redis+cluster://"
        )
    segments = [s for s in path.split("/") if s]
    service = None
    if kind == "sentinel":
        if not segments:
            raise ConfigurationError(
                f"{_redacted(url)!r} names no service: redis+sentinel://host:port/SERVICE[/db]"
            )
        service = unquote(segments.pop(0))
    db = 0
    if segments:
        if len(segments) > 1 or not segments[0].isdigit():
            raise ConfigurationError(f"{_redacted(url)!r}: the path after the host is a db number")
        db = int(segments[0])
    if kind == "cluster" and db != 0:
        raise ConfigurationError("a Redis Cluster has database 0 only")
    options = {k: v[-1] for k, v in parse_qs(query).items()}
    unknown = sorted(set(options) - {"sentinel_username", "sentinel_password"})
    if unknown or (kind != "sentinel" and options):
        raise ConfigurationError(
            f"{_redacted(url)!r}: unknown URL option {(unknown or [*options])[0]!r}"
        )
    return {
        "kind": kind,
        "tls": tls,
        "hosts": hosts,
        "service": service,
        "db": db,
        "username": username,
        "password": password,
        "sentinel_username": options.get("sentinel_username"),
        "sentinel_password": options.get("sentinel_password"),
    }


def _host_port(part: str, default: int, url: str) -> tuple[str, int]:
    host, colon, port = part.rpartition(":")
    if not colon or part.endswith("]"):  # no port (an IPv6 address in brackets has colons)
        host, colon, port = part, "", ""
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not host or (colon and not port.isdigit()):
        raise ConfigurationError(f"{_redacted(url)!r}: expected host:port, got {part!r}")
    return host, int(port) if colon else default


def _redacted(url: str) -> str:
    """The URL without its password, for error messages."""
    scheme, sep, rest = url.partition("://")
    netloc, slash, tail = rest.partition("/")
    if "@" in netloc:
        credentials, _, hosts = netloc.rpartition("@")
        user = credentials.partition(":")[0]
        netloc = f"{user}:***@{hosts}" if ":" in credentials else f"{user}@{hosts}"
    return f"{scheme}{sep}{netloc}{slash}{tail}"


class RedisConnection:
    """One Redis topology, reached with the store's own timeouts and without retries.

    :param url: where (see the module); or give ``client``.
    :param client: a ``redis.Redis`` or ``redis.cluster.RedisCluster`` whose
        address and credentials to use.
    :param timeout: seconds to connect, and to wait for each reply (0.5).
    """

    def __init__(self, url: str | None = None, *, client: Any = None, timeout: float = 0.5) -> None:
        redis = _redis()
        if (url is None) == (client is None):
            raise ConfigurationError("give a Redis URL or a client, one of the two")
        if not isinstance(timeout, int | float) or isinstance(timeout, bool) or not timeout > 0:
            raise ConfigurationError(
                f"timeout must be a positive number of seconds, not {timeout!r}"
            )
        self.timeout = float(timeout)
        #: What either a command or a connection raises when Redis cannot answer.
        self.errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        self._lock = threading.Lock()
        self._cluster: Any = None
        self._build: Callable[[], Any]
        if url is not None:
            parts = parse_redis_url(url)
            self.kind: str = parts["kind"]
            self._build = lambda: self._from_parts(parts)
            self.description = _redacted(url)
        else:
            self.kind, self._build, self.description = self._from_client(client)
        if self.kind != "cluster":
            self._client = self._build()

    @classmethod
    def of(cls, connection: Any, timeout: float) -> RedisConnection:
        """A connection from a URL, a client, or a connection (returned as it is)."""
        if isinstance(connection, RedisConnection):
            return connection
        if isinstance(connection, str):
            return cls(connection, timeout=timeout)
        return cls(client=connection, timeout=timeout)

    # -- building clients ----------------------------------------------------------

    def _settings(self) -> dict[str, Any]:
        no_retries = _redis("redis.retry").Retry(_redis("redis.backoff").NoBackoff(), 0)
        return {
            "socket_timeout": self.timeout,
            "socket_connect_timeout": self.timeout,
            "retry": no_retries,
            "health_check_interval": 0,
            "decode_responses": False,
        }

    def _from_parts(self, parts: dict[str, Any]) -> Any:
        redis = _redis()
        auth = {"username": parts["username"], "password": parts["password"]}
        tls: dict[str, Any] = {"ssl": True} if parts["tls"] else {}
        settings = self._settings()
        if parts["kind"] == "server":
            ((host, port),) = parts["hosts"]
            return redis.Redis(host=host, port=port, db=parts["db"], **auth, **tls, **settings)
        if parts["kind"] == "sentinel":
            sentinel_settings = {
                **self._settings(),
                "username": parts["sentinel_username"],
                "password": parts["sentinel_password"],
                **tls,
            }
            sentinel = _redis("redis.sentinel").Sentinel(
                parts["hosts"], sentinel_kwargs=sentinel_settings
            )
            return sentinel.master_for(parts["service"], db=parts["db"], **auth, **tls, **settings)
        cluster = _redis("redis.cluster")
        return cluster.RedisCluster(
            startup_nodes=[cluster.ClusterNode(host, port) for host, port in parts["hosts"]],
            **auth,
            **tls,
            **settings,
        )

    def _from_client(self, client: Any) -> tuple[str, Any, str]:
        """The kind of ``client``, a builder of a client at its address with our settings,
        and a description for logs."""
        redis = _redis()
        if isinstance(client, _redis("redis.cluster").RedisCluster):
            nodes = [(n.host, n.port) for n in client.get_nodes()]
            kwargs = dict(client.nodes_manager.connection_kwargs)
            auth = {k: kwargs.get(k) for k in ("username", "password")}
            parts = {"kind": "cluster", "hosts": nodes, "tls": bool(kwargs.get("ssl")), **auth}
            return "cluster", lambda: self._from_parts(parts), f"a Redis Cluster at {nodes}"
        if not isinstance(client, redis.Redis):
            raise ConfigurationError(
                "client must be a redis.Redis or a redis.cluster.RedisCluster, "
                f"not {type(client).__name__}; or give a URL"
            )
        pool = client.connection_pool
        if isinstance(pool, _redis("redis.sentinel").SentinelConnectionPool):
            manager, service = pool.sentinel_manager, pool.service_name
            kwargs = dict(pool.connection_kwargs)
            kept = {k: kwargs[k] for k in ("db", "username", "password") if k in kwargs}

            def sentinel_client() -> Any:
                return manager.master_for(service, **kept, **self._settings())

            return "sentinel", sentinel_client, f"the Sentinel service {service!r}"
        kwargs = dict(pool.connection_kwargs)
        kwargs.update(self._settings())
        connection_class = pool.connection_class

        def server_client() -> Any:
            return redis.Redis(
                connection_pool=redis.ConnectionPool(connection_class=connection_class, **kwargs)
            )

        where = kwargs.get("path") or f"{kwargs.get('host')}:{kwargs.get('port')}"
        return "server", server_client, f"Redis at {where}"

    @property
    def client(self) -> Any:
        """The client for commands that Redis routes itself (a Cluster is made on first use,
        so a store can be built while its cluster is down)."""
        if self.kind != "cluster":
            return self._client
        cluster = self._cluster
        if cluster is None:
            with self._lock:
                if self._cluster is None:
                    self._cluster = self._build()
                cluster = self._cluster
        return cluster

    @property
    def default_min_replicas(self) -> int:
        """How many replicas a write waits for unless told: one where replicas take
        over (Sentinel, Cluster), none for a lone server."""
        return 0 if self.kind == "server" else 1

    def check_replica_timeout(self, value: Any, default: float) -> float:
        """``replica_timeout`` in seconds (``None``: ``default``, or half ``timeout`` if
        less), checked to end before a reply's own timeout (``WAIT`` answers when it
        ends, on a socket that waits ``timeout``)."""
        if value is None:
            return min(default, self.timeout / 2)
        seconds = _checks.seconds(value, "replica_timeout", positive=True)
        if seconds >= self.timeout:
            raise ConfigurationError(
                f"replica_timeout ({seconds:g} s) must be less than timeout "
                f"({self.timeout:g} s): WAIT's answer comes when replica_timeout ends"
            )
        return seconds

    def check_prefix(self, prefix: str | None, default: str) -> str:
        """``prefix`` (or ``default``, made one hash slot), checked to keep a store's keys
        in one hash slot of a Cluster."""
        if prefix is None:
            prefix = default if self.kind != "cluster" else "{" + default.rstrip(":") + "}:"
        if not isinstance(prefix, str):
            raise ConfigurationError(f"prefix must be a string, not {prefix!r}")
        if self.kind == "cluster":
            start = prefix.find("{")
            end = prefix.find("}", start + 1)
            if start == -1 or end <= start + 1:
                raise ConfigurationError(
                    f"in a Redis Cluster a store's keys share one hash slot: give a prefix with "
                    f"a hash tag, such as {'{' + prefix.rstrip(':') + '}:'!r} (got {prefix!r})"
                )
        return prefix

    # -- commands on the primary holding a key ---------------------------------------

    def node(self, key: str) -> Any:
        """A client of the primary holding ``key`` (the client itself outside a Cluster)."""
        if self.kind != "cluster":
            return self._client
        cluster = self.client
        return cluster.get_redis_connection(cluster.get_node_from_key(key))

    def forget_topology(self) -> None:
        """After an error in a Cluster: find the slots' primaries again on next use."""
        if self.kind == "cluster" and self._cluster is not None:
            try:
                self._cluster.nodes_manager.initialize()
            except self.errors:
                pass  # the next command will try again

    def script(
        self,
        source: str,
        keys: Sequence[str],
        args: Sequence[Any],
        *,
        min_replicas: int = 0,
        replica_timeout: float = 0.5,
    ) -> Any:
        """Run a Lua script on the primary holding ``keys[0]``, then ``WAIT`` for
        ``min_replicas`` replicas on the same connection. Returns the script's answer.

        Raises the client's errors, or :class:`NotAcknowledged`.
        """
        try:
            pipe = self.node(keys[0]).pipeline(transaction=False)
            pipe.eval(source, len(keys), *keys, *args)
            if min_replicas:
                pipe.execute_command("WAIT", min_replicas, max(1, round(replica_timeout * 1000)))
            answers = pipe.execute()
        except self.errors:
            self.forget_topology()
            raise
        if min_replicas and answers[1] < min_replicas:
            raise NotAcknowledged(
                f"{answers[1]} of {min_replicas} replicas acknowledged within {replica_timeout} s"
            )
        return answers[0]

    def mget(self, keys: Sequence[str | bytes]) -> list[Any]:
        """``MGET`` on the primary holding them (one hash slot in a Cluster)."""
        try:
            return list(self.node(_key_text(keys[0])).mget(list(keys)))
        except self.errors:
            self.forget_topology()
            raise

    def scan(self, prefix: str) -> Iterator[bytes]:
        """Every key starting with ``prefix`` on the primary holding the prefix's slot."""
        node = self.node(prefix)
        for key in node.scan_iter(match=_glob_escape(prefix) + "*", count=1000):
            yield key if isinstance(key, bytes) else str(key).encode()

    def server_id(self, key: str) -> str:
        """The ``run_id`` of the server holding ``key``: it changes when that server
        restarts or a replica takes its place. ``""`` where ``INFO`` is not allowed (a
        proxy, a managed service): the store's epoch and change counter still tell."""
        try:
            info = self.node(key).info("server")
        except _redis().ResponseError:
            return ""
        return str(info.get("run_id", ""))

    def pubsub(self, channel_key: str) -> Any:
        """A ``PubSub`` on the primary holding ``channel_key``'s slot (published messages
        reach subscribers on every node of a Cluster)."""
        return self.node(channel_key).pubsub(ignore_subscribe_messages=False)

    def close(self) -> None:
        """Close the connections this object made."""
        try:
            if self.kind == "cluster":
                if self._cluster is not None:
                    self._cluster.close()
            else:
                self._client.close()
                # A client built on a pool of ours (a clone, a Sentinel's master_for)
                # does not close that pool itself: its sockets would stay open.
                self._client.connection_pool.disconnect()
        except self.errors:
            pass


def _key_text(key: str | bytes) -> str:
    return key.decode() if isinstance(key, bytes) else key


def _glob_escape(text: str) -> str:
    """``text`` as a literal in a ``SCAN MATCH`` pattern."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)
