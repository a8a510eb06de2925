"""The failure drill: gunicorn under load while Redis fails over, restarts empty, or goes away.

gunicorn (2 gthread workers x 4 threads) serves :mod:`tests.fixtures.drill_app`, whose
middleware checks a Redis revocation store. Eight client threads send valid
and revoked tokens (seven in ten valid) over keep-alive connections while one
fault is injected per phase; after each fault one worker is replaced, so a new
process must agree with the old ones. Per phase the drill counts, from every
answer:

* revoked tokens accepted, and of those, any accepted after the store was
  whole again (a process that cannot know yet, at the very start of a
  restart, is inside the documented propagation delay; after it, none may be);
* valid tokens refused as invalid (401): never;
* 503s (fail closed) and the window they fell in;
* the slowest answer and the 99th percentile.

``make drill`` prints the table; ``docs/revocation.rst`` shows one run. The
assertions are about correctness only, never about time.
"""

from __future__ import annotations

import http.client
import math
import os
import random
import signal
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
import pytest

from jwt_wsgi import RedisRevocationStore

from .conftest import Gunicorn
from .fixtures.drill_app import SECRET
from .fixtures.redis_servers import RedisServer, SentinelGroup
from .helpers import wait_until

pytestmark = pytest.mark.drill

FAR = 4_000_000_000
CLIENTS = 8


def token(jti: str) -> str:
    return jwt.encode({"sub": "drill", "jti": jti, "exp": FAR}, SECRET, algorithm="HS256")


@dataclass
class Answer:
    at: float
    kind: str  # "valid", "revoked", or "pending" (a token about to be revoked)
    status: int
    seconds: float
    worker: str
    reason: str = ""


@dataclass
class Phase:
    name: str
    answers: list[Answer] = field(default_factory=list)
    fault_at: float = 0.0
    whole_at: float = 0.0  # the store held every revocation again (seen by a new process)

    def row(self) -> dict[str, Any]:
        revoked_ok = [a for a in self.answers if a.kind == "revoked" and a.status == 200]
        late = [a for a in revoked_ok if a.at > self.whole_at]
        unavailable = [a for a in self.answers if a.status == 503]
        latencies = sorted(a.seconds for a in self.answers if a.status)
        window = "-"
        if unavailable:
            first, last = (a.at - self.fault_at for a in (unavailable[0], unavailable[-1]))
            window = f"{first:+.2f} .. {last:+.2f} s"
        return {
            "phase": self.name,
            "requests": len(self.answers),
            "revoked accepted": len(revoked_ok),
            "after the store was whole": len(late),
            "valid refused": sum(1 for a in self.answers if a.kind == "valid" and a.status == 401),
            "503s": len(unavailable),
            "503 window": window,
            "no answer": sum(1 for a in self.answers if a.status == 0),
            "p99 ms": round(1000 * latencies[int(len(latencies) * 0.99) - 1], 1),
            "max ms": round(1000 * latencies[-1], 1),
            "whole again": f"{self.whole_at - self.fault_at:+.2f} s",
            "workers": len({a.worker for a in self.answers if a.worker}),
        }


class Load:
    """Client threads sending valid and revoked tokens until stopped.

    A token counts as revoked for a request sent after its ``revoke()`` returned
    (:meth:`revoked_now`), never before.
    """

    def __init__(self, port: int, valid: list[str], revoked: list[str], phase: Phase) -> None:
        self.port, self.valid, self.revoked, self.phase = port, valid, revoked, phase
        self.revoked_at: dict[str, float] = {}
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(n,)) for n in range(CLIENTS)]

    def revoked_now(self, tokens: list[str]) -> None:
        now = time.monotonic()
        self.revoked_at.update(dict.fromkeys(tokens, now))

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)

    def _run(self, seed: int) -> None:
        chance = random.Random(seed)
        conn: http.client.HTTPConnection | None = None
        sent_on = 0
        while not self._stop.is_set():
            pick_revoked = chance.random() < 0.3
            sent = chance.choice(self.revoked if pick_revoked else self.valid)
            started = time.monotonic()
            kind = "valid"
            if pick_revoked:
                revoked = self.revoked_at.get(sent, math.inf) < started
                kind = "revoked" if revoked else "pending"
            status, worker, reason = 0, "", ""
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                conn.request("GET", "/", headers={"Authorization": f"Bearer {sent}"})
                response = conn.getresponse()
                body = response.read()
                status, worker = response.status, response.getheader("X-Worker") or ""
                reason = body[:80].decode(errors="replace") if status != 200 else ""
                sent_on += 1
                if response.getheader("Connection", "").lower() == "close" or sent_on >= 50:
                    # A new connection now and then, as a load balancer's would: a
                    # replaced worker gets its share of the traffic.
                    conn.close()
                    conn, sent_on = None, 0
            except (OSError, http.client.HTTPException):
                if conn is not None:
                    conn.close()
                conn = None
                time.sleep(0.01)
            self.phase.answers.append(
                Answer(started, kind, status, time.monotonic() - started, worker, reason)
            )
        if conn is not None:
            conn.close()


def workers(server: Gunicorn) -> list[int]:
    children = Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children")
    return [int(pid) for pid in children.read_text().split()]


def replace_a_worker(server: Gunicorn) -> None:
    """End one worker as a deploy or a crash would; gunicorn starts another."""
    before = workers(server)
    os.kill(before[0], signal.SIGTERM)
    wait_until(lambda: len(set(workers(server)) - set(before)) == 1, seconds=30)


def whole(url: str, prefix: str, revoked: list[str]) -> Callable[[], bool]:
    """Whether a process starting now would find every revocation in Redis."""

    def check() -> bool:
        try:
            store = RedisRevocationStore(url, prefix=prefix, mirror=False, min_replicas=0)
        except Exception:
            return False
        try:
            return all(store.is_revoked({"jti": jti}) for jti in revoked)
        except Exception:
            return False
        finally:
            store.close()

    return check


@pytest.fixture
def tokens() -> tuple[list[str], list[str], list[str]]:
    valid = [token(f"valid-{n}") for n in range(40)]
    revoked_ids = [f"revoked-{n}" for n in range(40)]
    return valid, [token(jti) for jti in revoked_ids], revoked_ids


REPORT: list[dict[str, Any]] = []


def serve(gunicorn: Callable[..., Gunicorn], url: str, prefix: str, **env: str) -> Gunicorn:
    server = gunicorn(
        "tests.fixtures.drill_app:create()",
        workers=2,
        env={"DRILL_URL": url, "DRILL_PREFIX": prefix, **env},
        args=["--worker-class", "gthread", "--threads", "4"],
    )
    server.wait_for_workers(2)
    return server


def settle(seconds: float) -> None:
    time.sleep(seconds)


def check(phase: Phase) -> None:
    row = phase.row()
    REPORT.append(row)
    print(_table([row]))
    assert row["after the store was whole"] == 0, row
    assert row["valid refused"] == 0, row


@pytest.mark.parametrize("stale_for", ["0", "5"])
def test_a_sentinel_failover_with_a_lagging_replica(
    gunicorn: Callable[..., Gunicorn],
    sentinel_group: SentinelGroup,
    tokens: tuple[list[str], list[str], list[str]],
    stale_for: str,
) -> None:
    valid, revoked, ids = tokens
    writer = RedisRevocationStore(sentinel_group.url, prefix="drill-a:", mirror=False)
    for jti in ids[:20]:
        writer.revoke(jti, expires_at=FAR)  # acknowledged by the replica
    server = serve(gunicorn, sentinel_group.url, "drill-a:", DRILL_STALE_FOR=stale_for)
    phase = Phase(f"Sentinel failover, replica lagging, stale_for {stale_for} s")
    with Load(server.port, valid, revoked, phase) as load:
        load.revoked_now(revoked[:20])
        settle(1)
        sentinel_group.proxy.stall()  # the replica stops hearing the primary
        lagging = RedisRevocationStore(sentinel_group.url, prefix="drill-a:", mirror=False,
                                       min_replicas=0)  # fmt: skip
        for jti in ids[20:]:
            lagging.revoke(jti, expires_at=FAR)  # on the primary only
        load.revoked_now(revoked[20:])
        settle(1)
        phase.fault_at = time.monotonic()
        sentinel_group.kill_primary_and_wait_for_failover()
        replace_a_worker(server)
        wait_until(whole(sentinel_group.url, "drill-a:", ids), seconds=30)
        phase.whole_at = time.monotonic()
        settle(3)
    writer.close()
    lagging.close()
    check(phase)
    if stale_for != "0":  # the mirrors answered through the whole failover
        assert phase.row()["503s"] == 0


@pytest.mark.parametrize("down_for", [1.0, 6.0], ids=["1s", "6s"])
def test_a_restart_without_persistence(
    gunicorn: Callable[..., Gunicorn],
    redis_server: RedisServer,
    tokens: tuple[list[str], list[str], list[str]],
    down_for: float,
) -> None:
    valid, revoked, ids = tokens
    writer = RedisRevocationStore(redis_server.url, prefix="drill-b:", mirror=False)
    for jti in ids:
        writer.revoke(jti, expires_at=FAR)
    writer.close()
    server = serve(gunicorn, redis_server.url, "drill-b:")
    phase = Phase(f"Redis restarted empty after {down_for:g} s")
    with Load(server.port, valid, revoked, phase) as load:
        load.revoked_now(revoked)
        settle(1)
        phase.fault_at = time.monotonic()
        redis_server.stop()
        settle(down_for)
        redis_server.start()
        replace_a_worker(server)
        wait_until(whole(redis_server.url, "drill-b:", ids), seconds=30)
        phase.whole_at = time.monotonic()
        settle(3)
    check(phase)


def test_unreachable_for_longer_than_stale_for(
    gunicorn: Callable[..., Gunicorn],
    redis_server: RedisServer,
    tokens: tuple[list[str], list[str], list[str]],
) -> None:
    """stale_for=2: the mirrors answer for two seconds, then checks fail closed until
    Redis is back (frozen, SIGSTOP: connections hang rather than fail)."""
    valid, revoked, ids = tokens
    writer = RedisRevocationStore(redis_server.url, prefix="drill-c:", mirror=False)
    for jti in ids:
        writer.revoke(jti, expires_at=FAR)
    writer.close()
    server = serve(gunicorn, redis_server.url, "drill-c:", DRILL_STALE_FOR="2")
    phase = Phase("Redis unreachable 5 s, stale_for 2 s")
    with Load(server.port, valid, revoked, phase) as load:
        load.revoked_now(revoked)
        settle(1)
        phase.fault_at = time.monotonic()
        redis_server.hang()
        settle(5)
        redis_server.resume()
        replace_a_worker(server)
        wait_until(whole(redis_server.url, "drill-c:", ids), seconds=30)
        phase.whole_at = time.monotonic()
        settle(3)
    check(phase)
    unavailable = [a.at - phase.fault_at for a in phase.answers if a.status == 503]
    assert unavailable and min(unavailable) > 1.5  # the mirror answered first


def _table(rows: list[dict[str, Any]]) -> str:
    columns = list(rows[0])
    lines = [" | ".join(columns), " | ".join("---" for _ in columns)]
    lines += [" | ".join(str(row[c]) for c in columns) for row in rows]
    return "\n".join(lines)


@pytest.fixture(scope="module", autouse=True)
def report() -> Iterator[None]:
    yield
    if REPORT:
        text = _table(REPORT)
        print("\nfailure drill:\n" + text)
        target = os.environ.get("DRILL_REPORT")
        if target:
            Path(target).write_text(text + "\n")


def test_latency_summary_is_computable() -> None:
    """The table's percentile arithmetic on a known sample."""
    phase = Phase("sample", fault_at=0.0, whole_at=1.0)
    phase.answers = [Answer(0.5, "valid", 200, n / 1000, "1") for n in range(1, 101)]
    row = phase.row()
    assert (row["p99 ms"], row["max ms"], row["valid refused"]) == (99.0, 100.0, 0)
    assert statistics.mean(a.seconds for a in phase.answers) == pytest.approx(0.0505)
