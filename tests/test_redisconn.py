"""Connections to Redis: the URL forms, and timeouts and retries that are the store's own."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from jwt_wsgi import ConfigurationError, RedisKeyStore, RedisRevocationStore, RevocationUnavailable
from jwt_wsgi.redisconn import RedisConnection, parse_redis_url

from .fixtures.redis_servers import RedisServer, SentinelGroup


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param("redis://127.0.0.1:6380/2",
                     {"kind": "server", "hosts": [("127.0.0.1", 6380)], "db": 2, "tls": False},
                     id="server"),
        pytest.param("rediss://user:p%40ss@cache.internal",
                     {"kind": "server", "hosts": [("cache.internal", 6379)], "tls": True,
                      "username": "user", "password": "p@ss"},
                     id="tls-credentials-default-port"),
        pytest.param("redis+sentinel://:pw@s1:26379,s2,[::1]:26380/mymaster/3"
                     "?sentinel_password=spw",
                     {"kind": "sentinel", "service": "mymaster", "db": 3, "password": "pw",
                      "hosts": [("s1", 26379), ("s2", 26379), ("::1", 26380)],
                      "sentinel_password": "spw"},
                     id="sentinel"),
        pytest.param("redis+cluster://n1:7000,n2:7001",
                     {"kind": "cluster", "hosts": [("n1", 7000), ("n2", 7001)], "db": 0},
                     id="cluster"),
    ],
)  # fmt: skip
def test_redis_urls(url: str, expected: dict[str, Any]) -> None:
    parts = parse_redis_url(url)
    assert {name: parts[name] for name in expected} == expected


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://x", "a Redis URL starts with one of"),
        ("redis+sentinel://s1:26379", "names no service"),
        ("redis+sentinel://s1:x/svc", "expected host:port, got 's1:x'"),
        ("redis://a,b", "names several hosts"),
        ("redis://a/zero", "the path after the host is a db number"),
        ("redis+cluster://a/1", "database 0 only"),
        ("redis://a?sentinel_password=x", "unknown URL option"),
    ],
)
def test_bad_redis_urls_say_why(url: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        parse_redis_url(url)


def test_a_client_of_another_kind_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="client must be a redis.Redis"):
        RedisConnection(client=object())
    with pytest.raises(ConfigurationError, match="one of the two"):
        RedisConnection()


class SilentServer:
    """Accepts connections on loopback, counts them, and never answers a byte."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.accepted = 0
        self._held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.accepted += 1
            self._held.append(conn)

    def close(self) -> None:
        try:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() in its thread
        except OSError:
            pass
        self.listener.close()
        for conn in self._held:
            conn.close()


@pytest.fixture
def silent() -> Iterator[SilentServer]:
    server = SilentServer()
    yield server
    server.close()


def test_a_given_client_keeps_its_address_not_its_retries(silent: SilentServer) -> None:
    """A client built with retries and backoff (redis-py's default since 6.0 retries three
    times) and a long timeout: the store asks once, within its own timeout, and says so."""
    from redis.backoff import ConstantBackoff
    from redis.retry import Retry

    patient = redis.Redis(port=silent.port, socket_timeout=30, socket_connect_timeout=30,
                          retry=Retry(ConstantBackoff(1), 5))  # fmt: skip
    store = RedisRevocationStore(patient, mirror=False, timeout=0.2)
    started = time.monotonic()
    with pytest.raises(RevocationUnavailable, match="TimeoutError"):
        store.is_revoked({"jti": "x"})
    assert silent.accepted == 1  # one connection, one try
    assert time.monotonic() - started < 5  # a bound, far below the client's 30 s x 6 tries
    store.close()


def test_the_key_store_asks_once_too(silent: SilentServer) -> None:
    from jwt_wsgi.errors import KeyStoreUnavailable

    store = RedisKeyStore(f"redis://127.0.0.1:{silent.port}/0", timeout=0.2)
    accepted = silent.accepted
    with pytest.raises(KeyStoreUnavailable, match="unreachable"):
        store.keys()
    assert silent.accepted == accepted + 1
    store.close()


def test_a_sentinel_client_is_taken_with_its_service(sentinel_group: SentinelGroup) -> None:
    from redis.sentinel import Sentinel

    sentinels = [("127.0.0.1", port) for port in sentinel_group.sentinel_ports]
    client = Sentinel(sentinels).master_for(sentinel_group.SERVICE)
    store = RedisRevocationStore(client, mirror=False)
    assert store.min_replicas == 1  # a Sentinel primary has replicas to wait for
    store.revoke("via-a-sentinel-client", expires_at=4_000_000_000)
    replica = sentinel_group.replica.client()
    assert replica.exists(store.prefix + "id:via-a-sentinel-client")  # WAIT: already there
    replica.close()
    store.close()


@pytest.mark.parametrize("given", ["url", "client"])
def test_closing_a_store_closes_every_connection_it_opened(
    redis_server: RedisServer, given: str
) -> None:
    """A store built on a client works on a copy of it (its own pool): closing the store
    closes that pool too, so no socket outlives it (redis-py leaves such pools open)."""
    admin = redis_server.client()
    client = redis.Redis.from_url(redis_server.url)
    before = len(admin.client_list())
    store = RedisRevocationStore(redis_server.url if given == "url" else client, mirror=False)
    store.revoke("closing", expires_at=4_000_000_000)
    assert len(admin.client_list()) > before
    store.close()
    deadline = time.monotonic() + 2
    while len(admin.client_list()) > before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(admin.client_list()) == before
    client.close()
    admin.close()


def test_a_lone_server_waits_for_no_replica(redis_server: RedisServer) -> None:
    store = RedisRevocationStore(redis_server.url, mirror=False)
    assert store.min_replicas == 0
    store.revoke("no-replica-needed", expires_at=4_000_000_000)
    waiting = RedisRevocationStore(redis_server.url, mirror=False, min_replicas=1)
    with pytest.raises(RevocationUnavailable, match="0 of 1 replicas acknowledged"):
        waiting.revoke("needs-a-replica", expires_at=4_000_000_000)
    # Written on the primary all the same: the caller learns it may not last.
    assert store.is_revoked({"jti": "needs-a-replica"})
    store.close()
    waiting.close()
