"""What waiting for a replica (``WAIT``) costs a revocation and a single-use record.

A primary and a replica on loopback; two stores on the primary, one that
waits for the replica (``min_replicas=1``) and one that does not. In
alternating rounds each revokes a fresh token id, records a fresh single
use (a refresh token, a DPoP proof id), and ``make bench`` prints what the
wait adds. On loopback the replica is microseconds away; across machines
add the network's round trip.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from jwt_wsgi import RedisRevocationStore

from ..fixtures.redis_servers import RedisServer, wait_for, warm_up
from .test_request_overhead import timed_interleaved

FAR = 4_000_000_000.0

pytestmark = pytest.mark.redis


@pytest.fixture
def replicated() -> Iterator[tuple[RedisServer, RedisServer]]:
    primary = RedisServer(args=["--repl-diskless-sync-delay", "0"])
    replica = RedisServer(args=["--replicaof", "127.0.0.1", str(primary.port)])
    wait_for(lambda: replica.client().info("replication")["master_link_status"] == "up", 15)
    warm_up(primary)
    yield primary, replica
    replica.cleanup()
    primary.cleanup()


def test_wait_for_a_replica(benchmark: Any, replicated: tuple[RedisServer, RedisServer]) -> None:
    benchmark.group = "replicated-writes"
    benchmark.extra_info["case"] = "replicated-writes"
    primary, replica = replicated
    stores = {
        replicas: RedisRevocationStore(
            primary.url, prefix="bench-wait:", mirror=False, min_replicas=replicas
        )
        for replicas in (0, 1)
    }
    counter = itertools.count()

    def revoking(store: RedisRevocationStore) -> Callable[[], object]:
        return lambda: store.revoke(f"r-{next(counter)}", expires_at=FAR)

    def using(store: RedisRevocationStore) -> Callable[[], object]:
        return lambda: store.first_use(f"u-{next(counter)}", expires_at=FAR)

    steps: dict[str, Callable[[], object]] = {}
    for replicas, store in stores.items():
        steps[f"revoke-{replicas}"] = revoking(store)
        steps[f"first_use-{replicas}"] = using(store)
    try:
        for step in steps.values():
            step()
        best = timed_interleaved(benchmark, steps, rounds=15, number=200)
        # The waited-for writes are on the replica indeed.
        client = replica.client()
        assert client.exists("bench-wait:id:r-0") or client.exists("bench-wait:id:r-1")
        client.close()
    finally:
        for store in stores.values():
            store.close()
    benchmark.extra_info["write_us"] = {name: seconds * 1e6 for name, seconds in best.items()}
