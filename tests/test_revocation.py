"""Revocation: in memory, through a real Redis shared by two middlewares, and when it fails."""

from __future__ import annotations

import logging
import math
import time
import uuid
from typing import Any

import pytest
import redis

from jwt_wsgi import (
    ConfigurationError,
    JWTMiddleware,
    MemoryRevocationStore,
    RedisRevocationStore,
    RevocationUnavailable,
    RevokedToken,
)
from jwt_wsgi.errors import RevocationCheckFailed

from .fixtures.redis_servers import RedisClusterNodes, RedisServer, SentinelGroup
from .helpers import (
    NOW,
    Clock,
    Refusals,
    ValidatingClient,
    make_token,
    protect,
    wait_until,
)


def build(revocation: Any, **options: Any) -> JWTMiddleware:
    return protect(revocation=revocation, on_error=Refusals(), **options)  # type: ignore[no-any-return]


def last_refusal(mw: JWTMiddleware) -> type[Any]:
    assert isinstance(mw.on_error, Refusals)
    return mw.on_error.last()


def get(mw: JWTMiddleware, token: str) -> tuple[int, Any]:
    response = ValidatingClient(mw).get("/", headers={"Authorization": f"Bearer {token}"})
    return response.status_code, response.get_json()


def claims_of(token: str) -> dict[str, Any]:
    import jwt

    return dict(jwt.decode(token, options={"verify_signature": False}))


def test_memory_store_revokes_even_cached_tokens() -> None:
    store = MemoryRevocationStore(clock=Clock())
    mw = build(store)
    token = make_token({"jti": "t1"})
    assert get(mw, token)[0] == 200
    assert get(mw, token)[0] == 200  # now a cache hit
    store.revoke(claims_of(token))
    status, body = get(mw, token)
    assert (status, body["error_description"]) == (401, "the token has been revoked")
    assert last_refusal(mw) is RevokedToken
    assert get(mw, make_token({"jti": "t2"}))[0] == 200


def test_memory_store_forgets_revocations_once_the_token_expired() -> None:
    clock = Clock()
    store = MemoryRevocationStore(clock=clock)
    store.revoke({"jti": "old", "exp": NOW + 10})
    store.revoke("by-id", expires_at=NOW + 100)
    assert store.is_revoked({"jti": "old"}) and store.is_revoked({"jti": "by-id"})
    clock.now = NOW + 10
    store.revoke("another", expires_at=NOW + 100)  # writes purge what expired
    assert len(store) == 2 and not store.is_revoked({"jti": "old"})


def test_memory_store_keeps_an_entry_rewritten_with_a_later_expiry() -> None:
    """Expired entries leave on writes; one rewritten to last longer stays."""
    clock = Clock()
    store = MemoryRevocationStore(clock=clock)
    store.revoke("t1", expires_at=NOW + 10)
    store.revoke("t1", expires_at=NOW + 100)
    store.revoke("t2", expires_at=NOW + 10)
    clock.now = NOW + 50
    store.revoke("t3", expires_at=NOW + 100)  # a write: what expired leaves
    assert store.is_revoked({"jti": "t1"}) and not store.is_revoked({"jti": "t2"})
    assert len(store) == 2


def test_revoking_needs_a_jti() -> None:
    with pytest.raises(ConfigurationError, match="jti"):
        MemoryRevocationStore().revoke({"sub": "x"})


def test_custom_callable() -> None:
    mw = build(lambda claims: claims.get("sub") == "mallory")
    assert get(mw, make_token({"sub": "mallory"}))[0] == 401
    assert last_refusal(mw) is RevokedToken
    assert get(mw, make_token({"sub": "alice"}))[0] == 200


def test_failing_callable_fails_closed_or_open(caplog: pytest.LogCaptureFixture) -> None:
    def broken(claims: Any) -> bool:
        raise RevocationUnavailable("down")

    mw = build(broken)
    status, body = get(mw, make_token())
    assert status == 503 and body["error"] == "temporarily_unavailable"
    assert last_refusal(mw) is RevocationCheckFailed
    with caplog.at_level(logging.WARNING, logger="jwt_wsgi"):
        assert get(build(broken, revocation_unavailable="open"), make_token())[0] == 200
    assert "letting the token through" in caplog.text


@pytest.mark.parametrize("mirror", [True, False], ids=["mirrored", "unmirrored"])
def test_redis_revocation_is_seen_by_another_middleware(redis_url: str, mirror: bool) -> None:
    prefix = f"test:{uuid.uuid4().hex}:"
    store_a = RedisRevocationStore.from_url(redis_url, prefix=prefix, mirror=mirror)
    store_b = RedisRevocationStore.from_url(redis_url, prefix=prefix, mirror=mirror)
    assert store_b.wait_in_sync(10) is mirror
    service_a, service_b = build(store_a), build(store_b)
    token = make_token({"jti": "shared-1", "exp": 4_000_000_000})
    assert get(service_a, token)[0] == 200 and get(service_b, token)[0] == 200
    store_a.revoke(claims_of(token))
    assert get(service_a, token)[0] == 401  # the revoking process: at once
    assert last_refusal(service_a) is RevokedToken
    if mirror:  # another process: within milliseconds from its mirror (unmirrored: at once)
        wait_until(lambda: get(service_b, token)[0] == 401)
    assert get(service_b, token) == (
        401,
        {"error": "invalid_token", "error_description": "the token has been revoked"},
    )
    assert last_refusal(service_b) is RevokedToken
    assert store_b.in_sync is mirror
    store_a.close()
    store_b.close()


def test_redis_entries_expire_with_the_token(redis_url: str) -> None:
    prefix = f"test:{uuid.uuid4().hex}:"
    store = RedisRevocationStore.from_url(redis_url, prefix=prefix)
    client = redis.Redis.from_url(redis_url)
    import time

    store.revoke({"jti": "soon", "exp": time.time() + 100})
    ttl = client.ttl(prefix + "id:soon")
    assert 90 <= ttl <= 101
    store.revoke({"jti": "gone", "exp": time.time() - 1})  # already expired: nothing stored
    assert not client.exists(prefix + "id:gone")
    store.revoke("no-exp")
    assert 86300 < client.ttl(prefix + "id:no-exp") <= 86401  # EXAT rounds up
    client.close()
    store.close()


def test_redis_down_fails_closed_with_503_by_default(redis_server: RedisServer) -> None:
    store = RedisRevocationStore.from_url(redis_server.url, timeout=0.2, mirror=False)
    closed, opened = build(store), build(store, revocation_unavailable="open")
    token = make_token({"jti": "j"})
    assert get(closed, token)[0] == 200
    redis_server.stop()
    status, body = get(closed, token)
    assert status == 503
    assert last_refusal(closed) is RevocationCheckFailed
    assert body == {
        "error": "temporarily_unavailable",
        "error_description": "the revocation list is unavailable",
    }
    assert get(opened, token)[0] == 200
    with pytest.raises(RevocationUnavailable):
        store.revoke("j")
    store.close()


def test_a_buggy_revocation_callable_is_logged_and_fails_closed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def buggy(claims: Any) -> bool:
        raise KeyError("bug in a revocation check")

    mw = build(buggy)
    with caplog.at_level(logging.ERROR, logger="jwt_wsgi"):
        assert get(mw, make_token())[0] == 503
    assert last_refusal(mw) is RevocationCheckFailed
    assert "the revocation check raised" in caplog.text


# -- the mirror: in-memory checks, still shared ---------------------------------------


def _watch_in_another_process(url: str, prefix: str, ready: Any, result: Any) -> None:
    """Run in a child process: a mirrored store that reports when it sees the revocation."""
    store = RedisRevocationStore.from_url(url, prefix=prefix)
    assert store.wait_in_sync(10)
    ready.set()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if store.is_revoked({"jti": "cross-process"}):
            result.put(("seen", store.in_sync))
            store.close()
            return
        time.sleep(0.001)
    result.put(("not seen", store.in_sync))


def test_a_revocation_in_one_process_is_refused_in_another(redis_url: str) -> None:
    import multiprocessing

    prefix = f"test:{uuid.uuid4().hex}:"
    context = multiprocessing.get_context("spawn")
    ready, result = context.Event(), context.Queue()
    child = context.Process(
        target=_watch_in_another_process, args=(redis_url, prefix, ready, result)
    )
    child.start()
    try:
        assert ready.wait(20)
        store = RedisRevocationStore.from_url(redis_url, prefix=prefix, mirror=False)
        store.revoke("cross-process", expires_at=4_000_000_000)
        # Seen from the child's mirror (in sync), not by asking Redis.
        assert result.get(timeout=15) == ("seen", True)
    finally:
        child.join(timeout=15)


def _check_after_fork(store: RedisRevocationStore, ready: Any, result: Any) -> None:
    """Run in a forked child: the inherited mirror must not be trusted as it was."""
    inherited = store.in_sync
    synced = store.wait_in_sync(10)
    ready.set()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not store.is_revoked({"jti": "after-fork"}):
        time.sleep(0.001)
    result.put((inherited, synced, store.is_revoked({"jti": "after-fork"}), store.in_sync))


def test_a_forked_worker_follows_changes_itself(redis_url: str) -> None:
    """gunicorn --preload builds the store in the master and forks workers from it."""
    import multiprocessing
    import warnings

    store = RedisRevocationStore.from_url(redis_url, prefix=f"test:{uuid.uuid4().hex}:")
    assert store.wait_in_sync(10)
    context = multiprocessing.get_context("fork")
    ready, result = context.Event(), context.Queue()
    child = context.Process(target=_check_after_fork, args=(store, ready, result))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # forking a threaded process
        child.start()
    try:
        assert ready.wait(20)
        writer = RedisRevocationStore.from_url(redis_url, prefix=store.prefix, mirror=False)
        writer.revoke("after-fork", expires_at=4_000_000_000)
        # Not in sync on arrival, in sync after its own follower loaded, then it heard.
        assert result.get(timeout=15) == (False, True, True, True)
    finally:
        child.join(timeout=15)
        store.close()


@pytest.fixture
def mirrored(redis_server: RedisServer) -> Any:
    store = RedisRevocationStore.from_url(redis_server.url, prefix="m:", timeout=0.3)
    assert store.wait_in_sync(10)
    yield store
    store.close()


def test_checks_are_answered_from_the_mirror(
    mirrored: RedisRevocationStore, redis_server: RedisServer
) -> None:
    writer = RedisRevocationStore.from_url(redis_server.url, prefix="m:", mirror=False)
    writer.revoke_family("fam-1", expires_at=4_000_000_000)
    cutoff = int(time.time())
    writer.revoke_before(sub="alice", at=cutoff)
    wait_until(lambda: "fam:fam-1" in mirrored._mirror and "sub:alice" in mirrored._mirror)
    admin = redis.Redis(port=redis_server.port)

    def mgets() -> int:
        return int(admin.info("commandstats").get("cmdstat_mget", {}).get("calls", 0))

    before = mgets()
    assert mirrored.is_revoked({"fam": "fam-1"})
    assert mirrored.is_revoked({"sub": "alice", "iat": cutoff - 1})
    assert not mirrored.is_revoked({"sub": "alice", "iat": cutoff})
    assert not mirrored.is_revoked({"jti": "never-revoked"})
    assert mgets() == before  # not one round trip
    assert writer.is_revoked({"fam": "fam-1"}) and mgets() == before + 1  # unmirrored: one
    admin.close()


def test_the_mirror_resyncs_after_its_subscription_drops(
    mirrored: RedisRevocationStore, redis_server: RedisServer
) -> None:
    admin = redis.Redis(port=redis_server.port)
    writer = RedisRevocationStore.from_url(redis_server.url, prefix="m:", mirror=False)
    syncs = mirrored.syncs
    admin.client_kill_filter(_type="pubsub")
    wait_until(lambda: not mirrored.in_sync or mirrored.syncs > syncs)
    # Whatever is revoked meanwhile is refused: by asking Redis, then from the mirror.
    writer.revoke("during-the-gap", expires_at=4_000_000_000)
    assert mirrored.is_revoked({"jti": "during-the-gap"})
    wait_until(lambda: mirrored.in_sync and mirrored.syncs > syncs)
    assert "id:during-the-gap" in mirrored._mirror
    assert mirrored.is_revoked({"jti": "during-the-gap"})
    admin.close()


def test_a_hung_redis_takes_the_mirror_out_of_sync_and_checks_fail_closed(
    mirrored: RedisRevocationStore, redis_server: RedisServer
) -> None:
    mirrored.revoke("before-the-hang", expires_at=4_000_000_000)
    redis_server.hang()  # connections stay open; nothing answers, not even PING
    try:
        wait_until(lambda: not mirrored.in_sync, seconds=5)
        with pytest.raises(RevocationUnavailable):
            mirrored.is_revoked({"jti": "never-revoked"})
    finally:
        redis_server.resume()
    wait_until(lambda: mirrored.in_sync)
    assert mirrored.is_revoked({"jti": "before-the-hang"})
    assert not mirrored.is_revoked({"jti": "never-revoked"})


def test_a_redis_restart_is_noticed_fails_closed_while_down_and_forgets_nothing(
    mirrored: RedisRevocationStore, redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    mirrored.revoke("before-restart", expires_at=4_000_000_000)
    assert mirrored.is_revoked({"jti": "before-restart"})
    middleware = build(mirrored)
    token = make_token({"jti": "other"})
    assert get(middleware, token)[0] == 200
    with caplog.at_level(logging.WARNING, logger="jwt_wsgi"):
        redis_server.stop()
        wait_until(lambda: not mirrored.in_sync)
    assert "revocation mirror out of sync (ConnectionError" in caplog.text
    # Out of sync and Redis down: the check cannot be answered, so it fails closed.
    with pytest.raises(RevocationUnavailable):
        mirrored.is_revoked({"jti": "before-restart"})
    assert get(middleware, token)[0] == 503
    assert last_refusal(middleware) is RevocationCheckFailed
    with caplog.at_level(logging.WARNING, logger="jwt_wsgi"):
        redis_server.start()  # the same port, no persistence: the denylist is gone
        wait_until(lambda: mirrored.in_sync)
    assert "Redis lost revocations (the store was emptied" in caplog.text
    # ...but not from this process, which wrote back what it held before trusting it again.
    assert mirrored.is_revoked({"jti": "before-restart"}) and mirrored.restores == 1
    fresh = RedisRevocationStore.from_url(redis_server.url, prefix="m:", mirror=False)
    assert fresh.is_revoked({"jti": "before-restart"})  # in Redis again, for every process
    mirrored.revoke("after-restart", expires_at=4_000_000_000)
    assert mirrored.is_revoked({"jti": "after-restart"})
    assert get(middleware, make_token({"jti": "after-restart"}))[0] == 401


def test_the_mirror_can_be_turned_off(redis_url: str) -> None:
    store = RedisRevocationStore.from_url(
        redis_url, prefix=f"test:{uuid.uuid4().hex}:", mirror=False
    )
    assert not store.wait_in_sync(60) and store.syncs == 0  # at once: nothing to wait for
    store.revoke("j", expires_at=4_000_000_000)
    assert store.is_revoked({"jti": "j"})


def test_entries_leave_the_mirror_when_they_expire(redis_server: RedisServer) -> None:
    clock = Clock(time.time())
    store = RedisRevocationStore.from_url(redis_server.url, prefix="exp:", clock=clock)
    try:
        assert store.wait_in_sync(10)
        store.revoke("short", expires_at=clock() + 60)
        store.revoke("long", expires_at=clock() + 3600)
        assert store.is_revoked({"jti": "short"}) and "id:short" in store._mirror
        clock.now += 61  # the store's clock: Redis still holds the key, the mirror purges
        assert not store.is_revoked({"jti": "short"})  # expired answers "no" at once
        wait_until(lambda: "id:short" not in store._mirror)
        assert "id:long" in store._mirror and store.is_revoked({"jti": "long"})
    finally:
        store.close()


def test_entries_written_by_0_2_are_still_read(redis_server: RedisServer) -> None:
    """0.2.0 stored bare values (no expiry instant): both paths read them."""
    admin = redis.Redis(port=redis_server.port)
    admin.set("old:id:from-0.2", "1", ex=3600)
    admin.set("old:sub:alice", "1000.0", ex=3600)
    mirrored = RedisRevocationStore.from_url(redis_server.url, prefix="old:")
    unmirrored = RedisRevocationStore.from_url(redis_server.url, prefix="old:", mirror=False)
    try:
        assert mirrored.wait_in_sync(10)
        for store in (mirrored, unmirrored):
            assert store.is_revoked({"jti": "from-0.2"})
            assert store.is_revoked({"sub": "alice", "iat": 999})
            assert not store.is_revoked({"sub": "alice", "iat": 1000})
    finally:
        mirrored.close()
        admin.close()


# -- high availability: Sentinel, Cluster, restarts that forget nothing ---------------

FAR = 4_000_000_000.0


def unmirrored(url: str, prefix: str) -> RedisRevocationStore:
    """What a process started now sees: Redis alone, no mirror of its own."""
    return RedisRevocationStore(url, prefix=prefix, mirror=False, min_replicas=0)


def test_a_sentinel_failover_is_followed_and_an_acknowledged_revocation_survives(
    sentinel_group: SentinelGroup,
) -> None:
    """Writes wait for the replica (WAIT), so a revocation whose revoke() returned is on
    it; when the primary dies, the mirrors follow the new primary and writes go there."""
    mirrored = RedisRevocationStore(sentinel_group.url, prefix="ha:")
    assert mirrored.wait_in_sync(10) and mirrored.min_replicas == 1
    writer = RedisRevocationStore(sentinel_group.url, prefix="ha:", mirror=False)
    for n in range(20):
        writer.revoke(f"before-{n}", expires_at=FAR)
    writer.close()  # no process that wrote them is left to restore anything
    mirrored.close()
    new = sentinel_group.kill_primary_and_wait_for_failover()
    assert new is sentinel_group.replica
    fresh = unmirrored(sentinel_group.url, "ha:")
    assert all(fresh.is_revoked({"jti": f"before-{n}"}) for n in range(20))
    follower = RedisRevocationStore(sentinel_group.url, prefix="ha:", min_replicas=0)
    assert follower.wait_in_sync(10)
    follower.revoke("after", expires_at=FAR)  # to the new primary
    assert fresh.is_revoked({"jti": "after"}) and follower.is_revoked({"jti": "before-0"})
    # The new primary has no replica left: a write that must reach one says so.
    strict = RedisRevocationStore(sentinel_group.url, prefix="ha:", mirror=False)
    with pytest.raises(RevocationUnavailable, match="0 of 1 replicas acknowledged"):
        strict.revoke("no-replica-left", expires_at=FAR)
    for store in (fresh, follower, strict):
        store.close()


def test_a_lagging_replica_taking_over_loses_nothing_a_live_process_knew(
    sentinel_group: SentinelGroup, caplog: pytest.LogCaptureFixture
) -> None:
    """The replica stops receiving (a stalled link); writes that wait for it fail loudly;
    writes that do not are lost with the old primary, except that the live mirrors
    held them, notice the failover, and write them back."""
    holder = RedisRevocationStore(sentinel_group.url, prefix="lag:", min_replicas=0)
    assert holder.wait_in_sync(10)
    strict = RedisRevocationStore(sentinel_group.url, prefix="lag:", mirror=False)
    sentinel_group.proxy.stall()
    with pytest.raises(RevocationUnavailable, match="may not survive a failover"):
        strict.revoke("waited", expires_at=FAR)
    holder.revoke("unacknowledged", expires_at=FAR)
    holder.revoke_before(sub="alice", at=1_900_000_000)
    assert holder.first_use("refresh-1", expires_at=FAR) is None
    replica = sentinel_group.replica.client()
    assert not replica.exists("lag:id:unacknowledged")  # the replica lags indeed
    with caplog.at_level(logging.WARNING, logger="jwt_wsgi"):
        sentinel_group.kill_primary_and_wait_for_failover()
        wait_until(lambda: holder.restores >= 1 and holder.in_sync, seconds=15)
    assert "a replica took over" in caplog.text or "changes went back" in caplog.text
    fresh = unmirrored(sentinel_group.url, "lag:")
    assert fresh.is_revoked({"jti": "unacknowledged"}) and fresh.is_revoked({"jti": "waited"})
    assert fresh.is_revoked({"sub": "alice", "iat": 1_899_999_999})
    assert fresh.first_use("refresh-1") is not None  # single use holds across the failover
    replica.close()
    for store in (holder, strict, fresh):
        store.close()


def test_single_use_records_lost_in_a_failover_are_written_back(
    sentinel_group: SentinelGroup,
) -> None:
    """Used refresh tokens and DPoP proof ids change no counter: a failover to a replica
    that lacks them is told by the server's run id, and their writer restores them."""
    holder = RedisRevocationStore(sentinel_group.url, prefix="su:", min_replicas=0)
    assert holder.wait_in_sync(10)
    holder.revoke("synced", expires_at=FAR)
    wait_until(lambda: sentinel_group.replica.client().exists("su:id:synced"))
    sentinel_group.proxy.stall()
    assert holder.first_use("dpop:proof-9", expires_at=FAR) is None
    sentinel_group.kill_primary_and_wait_for_failover()
    wait_until(lambda: holder.restores >= 1 and holder.in_sync, seconds=15)
    fresh = unmirrored(sentinel_group.url, "su:")
    assert fresh.first_use("dpop:proof-9") is not None  # a replay is still a replay
    holder.close()
    fresh.close()


@pytest.mark.parametrize("down_for", [0.3, 3.0], ids=["quick", "seconds"])
def test_a_restart_without_persistence_forgets_nothing(
    redis_server: RedisServer, down_for: float
) -> None:
    """Redis back empty, whether the mirrors' connections noticed the gap or not: every
    live process writes back the whole denylist, watermarks and its own single-use
    records, with their expiries, and a process started afterwards sees them."""
    stores = [RedisRevocationStore(redis_server.url, prefix="rs:") for _ in range(2)]
    assert all(store.wait_in_sync(10) for store in stores)
    for n in range(50):
        stores[n % 2].revoke(f"jti-{n}", expires_at=FAR - n)
    stores[0].revoke_before(sub="bob", at=1_900_000_000)
    stores[1].revoke_family("fam-1", expires_at=FAR)
    assert stores[0].first_use("dpop:proof-1", expires_at=FAR) is None
    wait_until(lambda: all(len(s._mirror) == 52 for s in stores))
    redis_server.stop()
    time.sleep(down_for)
    redis_server.start()
    wait_until(lambda: all(s.restores >= 1 and s.in_sync for s in stores), seconds=15)
    fresh = unmirrored(redis_server.url, "rs:")
    assert all(fresh.is_revoked({"jti": f"jti-{n}"}) for n in range(50))
    assert fresh.is_revoked({"sub": "bob", "iat": 1_899_999_999})
    assert not fresh.is_revoked({"sub": "bob", "iat": 1_900_000_000})
    assert fresh.is_revoked({"fam": "fam-1"})
    assert fresh.first_use("dpop:proof-1") is not None
    client = redis_server.client()
    assert client.expiretime("rs:id:jti-7") == math.ceil(FAR - 7)  # the original expiry
    client.close()
    for store in (*stores, fresh):
        store.close()


def test_a_flush_is_noticed_without_any_reconnect(redis_server: RedisServer) -> None:
    """FLUSHALL leaves every connection open: only the epoch tells the data went."""
    store = RedisRevocationStore(redis_server.url, prefix="fl:")
    assert store.wait_in_sync(10)
    store.revoke("kept", expires_at=FAR)
    client = redis_server.client()
    flush = client.pipeline(transaction=True)
    flush.flushall()
    flush.set("fl:seq", 1000)  # and others wrote since: the counter alone would not tell
    flush.execute()
    wait_until(lambda: store.restores == 1 and store.in_sync, seconds=5)
    assert client.exists("fl:id:kept")
    client.close()
    store.close()


def test_missed_changes_are_noticed_by_the_counter(redis_server: RedisServer) -> None:
    """A change counted but never heard (a message lost on a subscription the client
    library re-made by itself): the mirror resyncs within a second or so."""
    store = RedisRevocationStore(redis_server.url, prefix="gap:")
    assert store.wait_in_sync(10)
    syncs = store.syncs
    client = redis_server.client()
    client.set("gap:id:unheard", f"1|{FAR!r}")
    client.incr("gap:seq")  # counted, never published
    wait_until(lambda: store.syncs > syncs and store.in_sync, seconds=5)
    assert "id:unheard" in store._mirror
    client.close()
    store.close()


@pytest.mark.redis
def test_changes_that_went_back_are_written_again() -> None:
    """Behind a proxy that hides INFO (no run id), a replica that lagged and took over
    looks like this: the same epoch, a counter behind the one the mirror saw, and
    entries missing. The counter tells, and the holder writes them back."""
    server = RedisServer(args=["--rename-command", "INFO", ""])
    try:
        store = RedisRevocationStore(server.url, prefix="wb:")
        assert store.wait_in_sync(10)
        for n in range(3):
            store.revoke(f"j-{n}", expires_at=FAR)
        client = server.client()
        rewind = client.pipeline(transaction=True)
        rewind.delete("wb:id:j-2")
        rewind.set("wb:seq", 2)
        rewind.execute()
        wait_until(lambda: store.restores == 1 and store.in_sync, seconds=5)
        assert client.exists("wb:id:j-2")
        client.close()
        store.close()
    finally:
        server.cleanup()


def test_revocations_written_in_any_order_converge(redis_server: RedisServer) -> None:
    """A later watermark and a later expiry win, whoever writes last: a write-back of an
    older value cannot lower what Redis holds."""
    one = RedisRevocationStore(redis_server.url, prefix="cv:", mirror=False)
    now = int(time.time())
    one.revoke_before(sub="carol", at=now - 100)
    one.revoke_before(sub="carol", at=now - 200)  # earlier: does not lower the watermark
    assert unmirrored(redis_server.url, "cv:").is_revoked({"sub": "carol", "iat": now - 101})
    one.revoke("j", expires_at=FAR)
    one.revoke("j", expires_at=FAR - 1000)
    client = redis_server.client()
    assert client.expiretime("cv:id:j") == math.ceil(FAR)
    client.close()
    one.close()


def test_stale_for_answers_from_the_mirror_then_fails_closed(redis_server: RedisServer) -> None:
    """Opt-in: a mirror in sync when Redis went away answers alone for stale_for
    seconds; without it, checks fail closed at once."""
    patient = RedisRevocationStore(redis_server.url, prefix="st:", stale_for=1.5)
    strict = RedisRevocationStore(redis_server.url, prefix="st:")
    assert patient.wait_in_sync(10) and strict.wait_in_sync(10)
    patient.revoke("known", expires_at=FAR)
    wait_until(lambda: "id:known" in strict._mirror)
    redis_server.stop()
    wait_until(lambda: not patient.in_sync and not strict.in_sync, seconds=5)
    assert patient.is_revoked({"jti": "known"}) and not patient.is_revoked({"jti": "other"})
    with pytest.raises(RevocationUnavailable):
        strict.is_revoked({"jti": "other"})
    assert patient._lost_at is not None
    wait_until(lambda: time.monotonic() - patient._lost_at > 1.6, seconds=5)  # type: ignore[operator]
    with pytest.raises(RevocationUnavailable):
        patient.is_revoked({"jti": "other"})
    with pytest.raises(RevocationUnavailable, match="not recorded"):
        patient.revoke("during-the-outage", expires_at=FAR)  # never silently lost
    patient.close()
    strict.close()


def test_checks_do_not_queue_on_a_hung_redis(redis_server: RedisServer) -> None:
    """After one check found Redis silent, the next ones do not wait on it again for a
    moment: a frozen server costs one timeout, not one per request."""
    store = RedisRevocationStore(redis_server.url, prefix="hq:", mirror=False, timeout=0.3)
    calls: list[float] = []
    mget = store._conn.mget

    def counting(keys: Any) -> Any:
        calls.append(time.monotonic())
        return mget(keys)

    store._conn.mget = counting  # type: ignore[method-assign]
    redis_server.hang()
    try:
        for _ in range(5):
            with pytest.raises(RevocationUnavailable):
                store.is_revoked({"jti": "x"})
        assert len(calls) == 1  # the first asked Redis; the four after it did not
    finally:
        redis_server.resume()

    def answers() -> bool:
        try:
            return store.is_revoked({"jti": "x"}) is False
        except RevocationUnavailable:
            return False

    wait_until(answers, seconds=5)
    assert len(calls) >= 2
    store.close()


def test_a_cluster_store_keeps_one_hash_slot(redis_cluster: RedisClusterNodes) -> None:
    store = RedisRevocationStore(redis_cluster.url, min_replicas=0)
    other = RedisRevocationStore(redis_cluster.url, min_replicas=0)
    assert store.prefix == "{jwt_wsgi:revoked}:" and store.wait_in_sync(10)
    assert other.wait_in_sync(10)
    store.revoke("c-1", expires_at=FAR)
    store.revoke_before(sub="dave", at=1_900_000_000)
    assert store.first_use("r-1", expires_at=FAR) is None and store.first_use("r-1") is not None
    wait_until(lambda: "id:c-1" in other._mirror and "sub:dave" in other._mirror)
    node = redis_cluster.node_of(store.prefix)
    client = node.client()
    held = {k.decode() for k in client.keys("{jwt_wsgi:revoked}:*")}  # type: ignore[union-attr]
    assert {"{jwt_wsgi:revoked}:id:c-1", "{jwt_wsgi:revoked}:used:r-1"} <= held
    client.close()
    store.close()
    other.close()


def test_a_cluster_node_restarted_empty_gets_its_entries_back(
    redis_cluster: RedisClusterNodes,
) -> None:
    prefix = "{cl-restart}:"
    store = RedisRevocationStore(redis_cluster.url, prefix=prefix, min_replicas=0)
    assert store.wait_in_sync(10)
    store.revoke("survives", expires_at=FAR)
    redis_cluster.restart_empty(redis_cluster.node_of(prefix))
    wait_until(lambda: store.restores >= 1 and store.in_sync, seconds=20)
    fresh = RedisRevocationStore(redis_cluster.url, prefix=prefix, mirror=False, min_replicas=0)
    assert fresh.is_revoked({"jti": "survives"})
    store.close()
    fresh.close()
