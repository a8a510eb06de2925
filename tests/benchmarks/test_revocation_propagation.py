"""Time from ``revoke()`` in one process to refusal in every gunicorn worker.

gunicorn serves ``propagation_app`` with four workers, each with its own
mirrored :class:`~jwt_wsgi.RedisRevocationStore`. Each round revokes a fresh
probe ``jti`` from this process and waits until all four workers have
refused it (each worker's watcher reports the instant its middleware first
answered 401; see ``propagation_app``). Reported: p50 and p99 of the slowest
worker per round and of every worker's delay. The watchers poll every
0.2 ms, which bounds the resolution; the clock is the machine's, shared by
all the processes.
"""

from __future__ import annotations

import itertools
import statistics
import time
import urllib.error
import urllib.request
import uuid
from typing import Any

import redis

from jwt_wsgi import RedisRevocationStore

from .propagation_app import probe_token

WORKERS = 4
ROUNDS = 200


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def http_status(url: str, token: str) -> int:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as refused:
        return refused.code


def test_revocation_reaches_every_gunicorn_worker(
    benchmark: Any, redis_url: str, gunicorn: Any
) -> None:
    prefix = f"propagation:{uuid.uuid4().hex}:"
    server = gunicorn(
        "tests.benchmarks.propagation_app:create()",
        workers=WORKERS,
        env={"REDIS_URL": redis_url, "PROPAGATION_PREFIX": prefix},
    )
    reports = redis.Redis.from_url(redis_url)
    ready = [reports.blpop([prefix + "ready"], timeout=30) for _ in range(WORKERS)]
    assert all(ready), "not every worker's mirror got in sync"
    writer = RedisRevocationStore.from_url(redis_url, prefix=prefix, mirror=False)
    slowest: list[float] = []
    every: list[float] = []
    numbers = itertools.count()

    def revoke_and_wait_for_all() -> None:
        number = next(numbers)
        started = time.time()
        writer.revoke(f"probe-{number}", expires_at=4_000_000_000)
        delays = []
        for _ in range(WORKERS):
            seen = reports.blpop([f"{prefix}seen:probe-{number}"], timeout=10)
            assert seen is not None, f"a worker never refused probe {number}"
            delays.append(float(seen[1].split()[1]) - started)
        slowest.append(max(delays))
        every.extend(delays)

    benchmark.group = "revocation-propagation"
    benchmark.extra_info["case"] = "propagation"
    benchmark.pedantic(revoke_and_wait_for_all, rounds=ROUNDS, iterations=1)
    # Over HTTP too: the last probe is refused by whichever worker answers, a
    # probe never revoked is not.
    last = next(numbers) - 1
    assert {http_status(server.url, probe_token(last)) for _ in range(8)} == {401}
    assert http_status(server.url, probe_token(10**6)) == 200
    benchmark.extra_info.update(
        workers=WORKERS,
        rounds=len(slowest),
        all_p50_ms=statistics.median(slowest) * 1e3,
        all_p99_ms=percentile(slowest, 0.99) * 1e3,
        each_p50_ms=statistics.median(every) * 1e3,
        each_p99_ms=percentile(every, 0.99) * 1e3,
    )
    writer.close()
    reports.close()
