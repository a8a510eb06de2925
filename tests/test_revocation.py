"""Revocation: in memory, through a real Redis shared by two middlewares, and when it fails."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import pytest
import redis

from jwt_wsgi import (
    ConfigurationError,
    JWTMiddleware,
    MemoryRevocationStore,
    RedisRevocationStore,
    RevocationCheckFailed,
    RevocationUnavailable,
    RevokedToken,
)

from .conftest import RedisServer
from .helpers import NOW, SECRET, Clock, Refusals, ValidatingClient, echo_app, make_token


def build(revocation: Any, **options: Any) -> JWTMiddleware:
    return JWTMiddleware(
        echo_app,
        key=SECRET,
        algorithms=["HS256"],
        revocation=revocation,
        clock=Clock(),
        on_error=Refusals(),
        **options,
    )


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


def test_redis_revocation_is_seen_by_another_middleware(redis_url: str) -> None:
    prefix = f"test:{uuid.uuid4().hex}:"
    store_a = RedisRevocationStore.from_url(redis_url, prefix=prefix)
    store_b = RedisRevocationStore.from_url(redis_url, prefix=prefix)
    service_a, service_b = build(store_a), build(store_b)
    token = make_token({"jti": "shared-1", "exp": 4_000_000_000})
    assert get(service_a, token)[0] == 200 and get(service_b, token)[0] == 200
    store_a.revoke(claims_of(token))
    assert get(service_b, token) == (
        401,
        {"error": "invalid_token", "error_description": "the token has been revoked"},
    )
    assert last_refusal(service_b) is RevokedToken
    assert get(service_a, token)[0] == 401
    assert last_refusal(service_a) is RevokedToken


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


def test_redis_down_fails_closed_with_503_by_default(redis_server: RedisServer) -> None:
    store = RedisRevocationStore.from_url(redis_server.url, timeout=0.2)
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
