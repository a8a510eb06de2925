"""The verified-token cache never weakens a check."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from jwt_wsgi import Authenticator, ExpiredToken, JWTMiddleware, Provider, Rule
from jwt_wsgi.cache import TokenCache
from jwt_wsgi.errors import (
    ClaimMismatch,
    ImmatureToken,
    InvalidSignature,
    MalformedToken,
    ScopeMissing,
)
from jwt_wsgi.jose.verifier import TokenVerifier

from .helpers import (
    NOW,
    SECRET,
    Clock,
    Refusals,
    ValidatingClient,
    bearer,
    make_token,
    protect,
    run_in_threads,
)

OTHER = "o" * 64


def build(clock: Clock, refusals: Refusals | None = None, **options: Any) -> JWTMiddleware:
    return protect(clock=clock, on_error=refusals, **options)  # type: ignore[no-any-return]


def test_second_request_is_a_hit(clock: Clock) -> None:
    mw = build(clock)
    c = ValidatingClient(mw)
    token = make_token()
    assert c.get("/", headers=bearer(token)).status_code == 200
    assert (mw.cache.hits, mw.cache.misses) == (0, 1)
    assert c.get("/", headers=bearer(token)).status_code == 200
    assert mw.cache.hits == 1


def test_hit_still_checks_expiry_and_drops_the_entry(clock: Clock) -> None:
    refusals = Refusals()
    mw = build(clock, refusals)
    c = ValidatingClient(mw)
    token = make_token({"exp": int(NOW) + 60})
    assert c.get("/", headers=bearer(token)).status_code == 200
    clock.now = NOW + 60
    response = c.get("/", headers=bearer(token))
    assert response.status_code == 401
    assert refusals.last() is ExpiredToken
    assert response.get_json()["error_description"] == "the token has expired"
    assert len(mw.cache) == 0


def test_hit_honours_leeway(clock: Clock) -> None:
    refusals = Refusals()
    mw = build(clock, refusals, leeway=30)
    c = ValidatingClient(mw)
    token = make_token({"exp": int(NOW) + 60})
    assert c.get("/", headers=bearer(token)).status_code == 200
    clock.now = NOW + 89
    assert c.get("/", headers=bearer(token)).status_code == 200
    clock.now = NOW + 90
    assert c.get("/", headers=bearer(token)).status_code == 401
    assert refusals.last() is ExpiredToken


def test_hit_before_nbf_is_refused(clock: Clock) -> None:
    refusals = Refusals()
    mw = build(clock, refusals)
    c = ValidatingClient(mw)
    token = make_token({"nbf": int(NOW) + 10})
    clock.now = NOW + 10
    assert c.get("/", headers=bearer(token)).status_code == 200
    clock.now = NOW  # a clock stepped back must not let a cached token through early
    assert c.get("/", headers=bearer(token)).status_code == 401
    assert refusals.last() is ImmatureToken


def test_hit_still_applies_every_rule(clock: Clock) -> None:
    refusals = Refusals()
    mw = build(
        clock,
        refusals,
        rules=[Rule("/admin", claims={"roles": "admin"}), Rule("/write", scopes=["w"])],
    )
    c = ValidatingClient(mw)
    token = make_token({"roles": "user", "scope": "r"})
    assert c.get("/", headers=bearer(token)).status_code == 200  # now cached
    assert c.get("/admin", headers=bearer(token)).status_code == 403
    assert refusals.last() is ClaimMismatch
    assert c.get("/write", headers=bearer(token)).status_code == 403
    assert refusals.last() is ScopeMissing
    assert mw.cache.hits == 2


def test_removed_key_stops_cached_tokens(clock: Clock) -> None:
    refusals = Refusals()
    mw = build(clock, refusals, key=[SECRET, OTHER])
    c = ValidatingClient(mw)
    old, new = make_token(key=SECRET), make_token(key=OTHER)
    assert c.get("/", headers=bearer(old)).status_code == 200
    assert c.get("/", headers=bearer(new)).status_code == 200
    mw.set_keys(OTHER)  # SECRET is retired
    assert c.get("/", headers=bearer(old)).status_code == 401
    assert refusals.last() is InvalidSignature
    assert c.get("/", headers=bearer(new)).status_code == 200


#: Every way a token reaches the cache: the header hit path (which inlines the
#: freshness test), a cookie, the query string, and authenticate() without WSGI.
WAYS: dict[str, tuple[dict[str, Any], Callable[[str], dict[str, Any]]]] = {
    "header": ({}, lambda t: {"headers": {"Authorization": f"Bearer {t}"}}),
    "cookie": ({"locations": ["cookie"]}, lambda t: {"headers": {"Cookie": f"access_token={t}"}}),
    "query": ({"locations": ["query"]}, lambda t: {"query_string": {"access_token": t}}),
}


@pytest.mark.parametrize("way", WAYS)
def test_a_cached_token_stops_when_its_key_goes_or_its_time_runs_out(
    clock: Clock, way: str
) -> None:
    options, send = WAYS[way]
    refusals = Refusals()
    mw = build(clock, refusals, key=[SECRET, OTHER], **options)
    c = ValidatingClient(mw, use_cookies=False)  # the Cookie header as written
    old, short = make_token(key=SECRET), make_token({"exp": int(NOW) + 30}, key=OTHER)
    for token in (old, short, old, short):
        assert c.get("/", **send(token)).status_code == 200
    assert mw.cache.hits == 2
    mw.set_keys(OTHER)
    assert c.get("/", **send(old)).status_code == 401
    assert refusals.last() is InvalidSignature
    clock.now += 31
    assert c.get("/", **send(short)).status_code == 401
    assert refusals.last() is ExpiredToken


def test_authenticate_without_wsgi_sees_the_same_freshness(clock: Clock) -> None:
    authenticator = Authenticator(Provider("p", ["HS256"], key=[SECRET, OTHER]), clock=clock)
    token = make_token(key=SECRET)
    assert authenticator.authenticate(token).claims["sub"] == "alice"
    assert authenticator.authenticate(token).claims["sub"] == "alice"
    assert authenticator.cache.hits == 1
    authenticator.set_keys(OTHER, provider="p")
    with pytest.raises(InvalidSignature):
        authenticator.authenticate(token)


def test_set_keys_checks_the_new_keys() -> None:
    import pytest

    from jwt_wsgi import ConfigurationError

    mw = build(Clock())
    with pytest.raises(ConfigurationError):
        mw.set_keys("short")
    assert ValidatingClient(mw).get("/", headers=bearer(make_token())).status_code == 200


def test_invalid_tokens_are_not_cached(clock: Clock) -> None:
    refusals = Refusals()
    mw = build(clock, refusals)
    c = ValidatingClient(mw)
    bad = make_token(key=OTHER)
    for _ in range(3):
        assert c.get("/", headers=bearer(bad)).status_code == 401
        assert refusals.last() is InvalidSignature
    assert len(mw.cache) == 0


def test_padded_spelling_is_not_a_second_key(clock: Clock) -> None:
    refusals = Refusals()
    mw = build(clock, refusals)
    c = ValidatingClient(mw)
    token = make_token()
    assert c.get("/", headers=bearer(token)).status_code == 200
    assert c.get("/", headers=bearer(token + "=")).status_code == 401
    assert refusals.last() is MalformedToken
    assert len(mw.cache) == 1


def test_other_header_spellings_hit_the_same_entry(clock: Clock) -> None:
    mw = build(clock)
    c = ValidatingClient(mw)
    token = make_token()
    assert c.get("/", headers=bearer(token)).status_code == 200
    assert c.get("/", headers={"Authorization": f"bearer  {token} "}).status_code == 200
    assert mw.cache.hits == 1 and len(mw.cache) == 1


def test_cache_size_zero_turns_it_off(clock: Clock) -> None:
    mw = build(clock, cache_size=0)
    c = ValidatingClient(mw)
    token = make_token()
    for _ in range(3):
        assert c.get("/", headers=bearer(token)).status_code == 200
    assert len(mw.cache) == 0 and mw.cache.hits == 0


def test_bound_holds_and_least_recently_used_goes_first() -> None:
    verifier = TokenVerifier(Provider("p", ["HS256"], key=SECRET))
    cache = TokenCache(size=3)
    tokens = [make_token({"sub": f"u{i}"}) for i in range(5)]
    for token in tokens[:3]:
        cache.put(token, verifier.verify_static(token))
    assert cache.get(tokens[0]) is not None  # u0 is now most recent
    for token in tokens[3:]:
        cache.put(token, verifier.verify_static(token))
    assert len(cache) == 3
    assert cache.get(tokens[0]) is not None
    assert cache.get(tokens[1]) is None
    assert cache.get(tokens[2]) is None


def test_a_token_in_use_outlives_a_stream_of_one_time_tokens() -> None:
    """Second-chance eviction: hits keep an entry, whatever arrives after it."""
    verifier = TokenVerifier(Provider("p", ["HS256"], key=SECRET))
    cache = TokenCache(size=4)
    hot = make_token({"sub": "hot"})
    cache.put(hot, verifier.verify_static(hot))
    for i in range(50):
        one_time = make_token({"sub": f"once{i}"})
        cache.put(one_time, verifier.verify_static(one_time))
        assert cache.get(hot) is not None, i
        assert len(cache) <= 4
    cache.put(hot, verifier.verify_static(hot))  # a re-put replaces, never duplicates
    assert len(cache) == 4


def test_a_token_in_use_through_the_middleware_outlives_one_time_tokens(clock: Clock) -> None:
    """The header path marks its hits as the cache's own ``get`` does."""
    mw = build(clock, cache_size=4)
    c = ValidatingClient(mw)
    hot = make_token({"sub": "hot"})
    for i in range(20):
        assert c.get("/", headers=bearer(hot)).status_code == 200
        assert c.get("/", headers=bearer(make_token({"sub": f"once{i}"}))).status_code == 200
    assert (mw.cache.hits, mw.cache.misses) == (19, 21)


def test_bound_holds_under_concurrent_load(clock: Clock) -> None:
    mw = build(clock, cache_size=50)
    tokens = [make_token({"sub": f"u{i}"}) for i in range(400)]

    def worker(offset: int) -> None:
        c = ValidatingClient(mw)
        for token in tokens[offset::4]:
            assert c.get("/", headers=bearer(token)).status_code == 200

    run_in_threads(worker, 4)
    assert len(mw.cache) == 50


def test_mutating_claims_on_a_hit_does_not_touch_the_cache(clock: Clock) -> None:
    mw = build(clock)
    token = make_token({"roles": ["user"], "profile": {"tier": "free"}})
    seen: list[Any] = []

    def app(environ: Any, start_response: Any) -> Any:
        claims = environ["jwt.claims"]
        seen.append((list(claims["roles"]), dict(claims["profile"])))
        claims["roles"].append("admin")
        claims["profile"]["tier"] = "gold"
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b""]

    mw.app = app
    c = ValidatingClient(mw)
    for _ in range(3):
        c.get("/", headers=bearer(token))
    assert seen == [(["user"], {"tier": "free"})] * 3
