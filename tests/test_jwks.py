"""Remote key sets over real HTTP, from a key server on 127.0.0.1 that misbehaves on cue.

The clock the key set reads is frozen and moved by hand; fetches happen for
real, over loopback, in the key set's own threads. ``keys.settle()`` waits for
a background fetch before a test counts what the server saw.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import warnings
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from jwt_wsgi import (
    Authenticator,
    AuthError,
    ConfigurationError,
    JWTMiddleware,
    Provider,
    RemoteKeySet,
)
from jwt_wsgi.errors import KeysUnavailable, UnknownKey

from .fixtures.keyserver import DrippingRelay, KeyServer
from .helpers import NOW, Clock, Refusals, ValidatingClient, echo_app, run_in_threads, wait_until


def public_jwk(key: Any, kid: str, **extra: Any) -> dict[str, Any]:
    algorithm = "ES256" if isinstance(key, ec.EllipticCurvePrivateKey) else "RS256"
    jwk = jwt.get_algorithm_by_name(algorithm).to_jwk(key.public_key(), as_dict=True)
    return {**jwk, "kid": kid, **extra}


@pytest.fixture
def server() -> Iterator[KeyServer]:
    key_server = KeyServer()
    yield key_server
    key_server.close()


@pytest.fixture(scope="module")
def ec_keys() -> dict[str, ec.EllipticCurvePrivateKey]:
    return {name: ec.generate_private_key(ec.SECP256R1()) for name in ("k1", "k2", "evil")}


def token(key: Any, kid: str, **claims: Any) -> str:
    payload = {"sub": "alice", "iat": int(NOW), "exp": int(NOW) + 86400, **claims}
    return jwt.encode(payload, key, algorithm="ES256", headers={"kid": kid})


def remote(server: KeyServer, clock: Clock, **options: Any) -> RemoteKeySet:
    options.setdefault("algorithms", ["ES256"])
    return RemoteKeySet(server.jwks_url, allow_http=True, clock=clock, **options)


class Guarded:
    """The echo app behind a middleware verifying with a remote key set."""

    def __init__(self, keys: RemoteKeySet, clock: Clock, **options: Any) -> None:
        self.keys = keys
        self.refusals = Refusals()
        self.middleware = JWTMiddleware(
            echo_app,
            key=keys,
            algorithms=list(keys.algorithms),
            clock=clock,
            on_error=self.refusals,
            **options,
        )

    def status(self, tok: str) -> int:
        client = ValidatingClient(self.middleware)
        return client.get("/", headers={"Authorization": f"Bearer {tok}"}).status_code

    def refused_with(self, tok: str) -> type[AuthError] | None:
        before = len(self.refusals.errors)
        status = self.status(tok)
        if status == 200:
            return None
        assert len(self.refusals.errors) == before + 1
        return self.refusals.last()


def guarded(server: KeyServer, clock: Clock, **options: Any) -> Guarded:
    key_options = {k: options.pop(k) for k in list(options) if k in _KEY_OPTIONS}
    return Guarded(remote(server, clock, **key_options), clock, **options)


_KEY_OPTIONS = ("cooldown", "lifetime", "stale_for", "timeout", "retry_after", "algorithms")


# -- the normal life of a key set ----------------------------------------------


def test_fetches_once_and_verifies(
    server: KeyServer, ec_keys: dict[str, Any], clock: Clock
) -> None:
    server.keys = [public_jwk(ec_keys["k1"], "k1")]
    mw = JWTMiddleware(
        echo_app, jwks_url=server.jwks_url, algorithms=["ES256"], allow_http=True, clock=clock
    )
    client = ValidatingClient(mw)
    for i in range(3):
        tok = token(ec_keys["k1"], "k1", n=i)
        assert client.get("/", headers={"Authorization": f"Bearer {tok}"}).status_code == 200
    assert server.fetches == 1


def test_http_urls_need_allow_http() -> None:
    with pytest.raises(ConfigurationError, match="https"):
        RemoteKeySet("http://127.0.0.1/jwks.json", algorithms=["ES256"])
    with pytest.raises(ConfigurationError, match="https"):
        JWTMiddleware(echo_app, jwks_url="http://127.0.0.1/jwks.json", algorithms=["ES256"])


def test_lifetimes_are_monotonic_by_default() -> None:
    """A wall-clock jump neither expires a set early nor keeps it past its time."""
    assert RemoteKeySet("https://idp.example/jwks", algorithms=["ES256"]).clock is time.monotonic


def test_max_age_sets_the_lifetime_and_refresh_starts_ahead(
    server: KeyServer, ec_keys: dict[str, Any], clock: Clock
) -> None:
    server.keys = [public_jwk(ec_keys["k1"], "k1")]
    server.cache_control = "public, max-age=120"
    keys = remote(server, clock)
    keys.current()
    clock.now += 95  # before 80% of 120 s: no refresh
    keys.current()
    keys.settle(5)
    assert server.fetches == 1
    clock.now += 2  # past 96 s: the next request starts a refresh, in the background
    keys.current()
    assert keys.settle(5)
    assert server.fetches == 2
    server.cache_control = "max-age=1"  # clamped up to min_lifetime (60)
    clock.now += 97
    keys.current()
    keys.settle(5)
    assert server.fetches == 3
    clock.now += 47  # 80% of 60 s is 48 s
    keys.current()
    keys.settle(5)
    assert server.fetches == 3


def test_rotation_found_by_unknown_kid(
    server: KeyServer, ec_keys: dict[str, Any], clock: Clock
) -> None:
    server.keys = [public_jwk(ec_keys["k1"], "k1")]
    g = guarded(server, clock)
    assert g.status(token(ec_keys["k1"], "k1")) == 200
    server.keys = [public_jwk(ec_keys["k2"], "k2"), public_jwk(ec_keys["k1"], "k1")]
    clock.now += 31  # past the cooldown since the first fetch
    assert g.status(token(ec_keys["k2"], "k2")) == 200


def test_removed_key_stops_cached_tokens_after_refresh(
    server: KeyServer, ec_keys: dict[str, Any], clock: Clock
) -> None:
    server.keys = [public_jwk(ec_keys["k1"], "k1"), public_jwk(ec_keys["k2"], "k2")]
    g = guarded(server, clock)
    old, new = token(ec_keys["k1"], "k1"), token(ec_keys["k2"], "k2")
    assert g.status(old) == 200 and g.status(new) == 200
    assert g.status(old) == 200  # a cache hit
    server.keys = [public_jwk(ec_keys["k2"], "k2")]  # k1 withdrawn
    clock.now += 250  # past 80% of the lifetime: this request starts a refresh
    g.status(new)
    assert g.keys.settle(5)
    assert g.refused_with(old) is UnknownKey
    assert g.status(new) == 200


def test_unchanged_set_keeps_the_cache_warm(
    server: KeyServer, ec_keys: dict[str, Any], clock: Clock
) -> None:
    server.keys = [public_jwk(ec_keys["k1"], "k1")]
    g = guarded(server, clock)
    tok = token(ec_keys["k1"], "k1")
    g.status(tok)
    clock.now += 300
    g.status(tok)
    g.keys.settle(5)
    g.status(tok)
    assert server.fetches == 2 and g.middleware.cache.hits == 2


def test_concurrent_first_requests_share_one_fetch(
    server: KeyServer, ec_keys: dict[str, Any], clock: Clock
) -> None:
    server.keys = [public_jwk(ec_keys["k1"], "k1")]
    server.delay = 0.3
    g = guarded(server, clock)
    results: list[int] = []

    def request(i: int) -> None:
        results.append(g.status(token(ec_keys["k1"], "k1", n=i)))

    run_in_threads(request, 8)
    assert results == [200] * 8
    assert server.fetches == 1


@pytest.mark.slow
def test_one_request_at_a_time_waits_for_an_unknown_kid(
    server: KeyServer, ec_keys: dict[str, Any], clock: Clock
) -> None:
    """A hanging key server and made-up kids: one request waits for the refetch (until
    its deadline), the next unknown kid is refused at once, and known kids pass."""
    server.keys = [public_jwk(ec_keys["k1"], "k1")]
    g = guarded(server, clock, timeout=1.5, cooldown=0)
    assert g.status(token(ec_keys["k1"], "k1")) == 200
    server.behaviour = "hang"
    fetches = server.fetches
    waiting = threading.Thread(target=g.status, args=(token(ec_keys["evil"], "made-up-1"),))
    waiting.start()
    wait_until(lambda: server.fetches > fetches)  # the refetch is in flight, and hangs
    assert g.refused_with(token(ec_keys["evil"], "made-up-2")) is UnknownKey
    assert g.status(token(ec_keys["k1"], "k1", n=2)) == 200
    assert waiting.is_alive()  # all of that while the first still waits
    waiting.join(5)
    assert not waiting.is_alive() and server.fetches == fetches + 1


@pytest.mark.parametrize("issuer", ["billing", "accounts.google.com", "urn:example:idp"])
def test_an_issuer_that_is_no_url_with_a_jwks_url(
    server: KeyServer, ec_keys: dict[str, Any], clock: Clock, issuer: str
) -> None:
    """``iss`` is a StringOrURI (RFC 7519 section 4.1.1): only discovery needs a URL."""
    server.keys = [public_jwk(ec_keys["k1"], "k1")]
    provider = Provider("billing", ["ES256"], issuer=issuer, jwks_url=server.jwks_url,
                        allow_http=True)  # fmt: skip
    auth = Authenticator(provider, clock=clock)
    assert auth.authenticate(token(ec_keys["k1"], "k1", iss=issuer)).claims["iss"] == issuer
    with pytest.raises(ConfigurationError, match="give jwks_url="):
        Provider("billing", ["ES256"], issuer=issuer)


def test_openid_discovery(server: KeyServer, ec_keys: dict[str, Any], clock: Clock) -> None:
    server.keys = [public_jwk(ec_keys["k1"], "k1")]
    refusals = Refusals()
    mw = JWTMiddleware(
        echo_app,
        issuer=server.url,
        algorithms=["ES256"],
        allow_http=True,
        clock=clock,
        on_error=refusals,
    )
    client = ValidatingClient(mw)
    good = token(ec_keys["k1"], "k1", iss=server.url)
    assert client.get("/", headers={"Authorization": f"Bearer {good}"}).status_code == 200
    other = token(ec_keys["k1"], "k1", iss="https://other")
    assert client.get("/", headers={"Authorization": f"Bearer {other}"}).status_code == 401
    assert refusals.last().reason == "iss_mismatch"


def test_keys_for_other_uses_or_algorithms_are_skipped_and_logged(
    server: KeyServer,
    ec_keys: dict[str, Any],
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    server.keys = [
        public_jwk(ec_keys["k1"], "enc-key", use="enc"),
        public_jwk(ec_keys["k2"], "es384-only", alg="ES384"),
        public_jwk(rsa_key, "rsa"),  # RS256 is not in this verifier's algorithms
        {"kty": "weird", "kid": "unknown-type"},  # skipped, not fatal
        public_jwk(ec_keys["evil"], "good"),
    ]
    g = guarded(server, clock)
    with caplog.at_level(logging.INFO, logger="jwt_wsgi"):
        assert g.status(token(ec_keys["evil"], "good")) == 200
    for kid in ("enc-key", "es384-only", "rsa", "unknown-type"):
        assert f"skipping key '{kid}'" in caplog.text
    assert g.refused_with(token(ec_keys["k1"], "enc-key")) is UnknownKey
    assert g.refused_with(token(ec_keys["k2"], "es384-only")) is UnknownKey


def test_one_weak_key_in_a_fetched_set_is_skipped_not_fatal(
    server: KeyServer,
    ec_keys: dict[str, Any],
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    server.keys = [public_jwk(weak, "weak"), public_jwk(ec_keys["k1"], "k1")]
    g = guarded(server, clock, algorithms=["ES256", "RS256"])
    with caplog.at_level(logging.WARNING, logger="jwt_wsgi"):
        assert g.status(token(ec_keys["k1"], "k1")) == 200
    assert "skipping key 'weak'" in caplog.text and "2048" in caplog.text
    with warnings.catch_warnings():  # newer PyJWT warns about the key's size
        warnings.simplefilter("ignore")
        weak_token = jwt.encode({"exp": int(NOW) + 60}, weak, "RS256", headers={"kid": "weak"})
    assert g.refused_with(weak_token) is UnknownKey


def test_the_allow_list_of_the_middleware_and_of_the_key_set_must_agree(
    server: KeyServer, clock: Clock
) -> None:
    keys = remote(server, clock, algorithms=["RS256"])
    with pytest.raises(ConfigurationError, match=r"\['ES256'\].*\['RS256'\]"):
        JWTMiddleware(echo_app, key=keys, algorithms=["ES256"])


# -- failures: every broken reply is one failed fetch ------------------------------

BROKEN = [
    "status-500",
    "hang",
    "hang-headers",
    "drip",
    "drip-headers",
    "not-http",
    "cut-chunk",
    "cut-body",
    "long-header",
    "garbage",
    "not-a-set",
    "oversize",
    "close",
    "redirect-to-http",
]


# What the log says for the failures that could otherwise pass for another.
EXPECTED_REASON = {
    "status-500": "HTTP 500",
    "oversize": "over 1048576 bytes",
    "redirect-to-http": "non-https",
    "drip": "deadline",
    "not-a-set": "not a JWK Set",
}


def misbehave(server: KeyServer, behaviour: str) -> None:
    if behaviour == "redirect-to-http":
        server.behaviour = "redirect"
        server.redirect_to = server.url + "/moved.json"
    else:
        server.behaviour = behaviour


def no_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    assert "Traceback" not in caplog.text
    assert all(record.exc_info is None for record in caplog.records)


@pytest.mark.slow
@pytest.mark.parametrize("behaviour", BROKEN)
def test_a_broken_first_fetch_is_401_keys_unavailable(
    server: KeyServer,
    ec_keys: dict[str, Any],
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
    behaviour: str,
) -> None:
    server.keys = [public_jwk(ec_keys["k1"], "k1")]
    misbehave(server, behaviour)
    g = guarded(server, clock, timeout=1, cooldown=30)
    with caplog.at_level(logging.INFO, logger="jwt_wsgi"):
        assert g.refused_with(token(ec_keys["k1"], "k1")) is KeysUnavailable
        # Further requests within the backoff do not fetch again.
        for _ in range(5):
            assert g.refused_with(token(ec_keys["k1"], "k1")) is KeysUnavailable
    assert g.keys.settle(5)
    assert server.fetches == 1
    assert g.keys.failed_fetches == 1
    failures = [r.getMessage() for r in caplog.records if "key set fetch failed" in r.message]
    assert len(failures) == 1
    assert EXPECTED_REASON.get(behaviour, "") in failures[0]
    no_tracebacks(caplog)


@pytest.mark.slow
@pytest.mark.parametrize("behaviour", BROKEN)
def test_a_broken_refresh_serves_the_last_good_keys(
    server: KeyServer,
    ec_keys: dict[str, Any],
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
    behaviour: str,
) -> None:
    server.keys = [public_jwk(ec_keys["k1"], "k1")]
    g = guarded(server, clock, timeout=1, lifetime=300, stale_for=600, cache_size=0)
    tok = token(ec_keys["k1"], "k1")
    assert g.status(tok) == 200
    misbehave(server, behaviour)
    clock.now += 301  # expired, still inside stale_for
    with caplog.at_level(logging.INFO, logger="jwt_wsgi"):
        for _ in range(5):
            assert g.status(tok) == 200  # served stale, never waiting on the fetch
        assert g.keys.settle(5)
        assert g.status(tok) == 200
    assert server.fetches == 2  # one refetch, then the backoff holds
    warnings = [r for r in caplog.records if "key set fetch failed" in r.message]
    assert len(warnings) == 1 and "serving the last good keys" in warnings[0].message
    no_tracebacks(caplog)


@pytest.mark.slow
def test_the_deadline_holds_against_a_server_that_drips(
    server: KeyServer, ec_keys: dict[str, Any], clock: Clock
) -> None:
    """One byte every 0.2 s would take minutes; the fetch ends at its 1 s deadline."""
    server.keys = [public_jwk(ec_keys["k1"], "k1")]
    for behaviour in ("drip", "drip-headers"):
        server.behaviour = behaviour
        keys = remote(server, clock, timeout=1)
        started = time.monotonic()
        with pytest.raises(KeysUnavailable):
            keys.current()
        assert keys.settle(2)  # the fetch itself has ended, not just the wait
        assert time.monotonic() - started < 3  # a bound on the deadline, not a benchmark
        assert keys.failed_fetches == 1


@pytest.mark.slow
@pytest.mark.parametrize("behaviour", ["drip", "drip-close"])
def test_a_fetch_stops_reading_at_its_deadline(
    server: KeyServer, ec_keys: dict[str, Any], clock: Clock, behaviour: str
) -> None:
    """The fetch's thread, not only the request waiting for it, lets go at the deadline:
    also when the reply says ``Connection: close`` (http.client then hands the socket
    to the response, out of the connection's reach)."""
    server.keys = [public_jwk(ec_keys["k1"], "k1")]
    server.behaviour = behaviour
    keys = remote(server, clock, timeout=1)
    started = time.monotonic()
    with pytest.raises(KeysUnavailable):
        keys.current()
    assert keys.settle(2)
    wait_until(lambda: bool(server.hung_up), seconds=5)
    assert server.hung_up[0] - started < 2  # the server saw the client go, not 20 s later


@pytest.mark.slow
def test_a_tls_handshake_dripping_in_ends_at_the_deadline(
    tls_server: KeyServer, ec_keys: dict[str, Any], clock: Clock
) -> None:
    """Every byte of the server, the handshake's too, one every 0.2 s: the deadline holds
    while the TLS socket does not exist yet."""
    tls_server.keys = [public_jwk(ec_keys["k1"], "k1")]
    relay = DrippingRelay(tls_server.port)
    try:
        keys = RemoteKeySet(
            f"https://127.0.0.1:{relay.port}/jwks.json", algorithms=["ES256"], timeout=1,
            ssl_context=tls_server.client_context, clock=clock,
        )  # fmt: skip
        started = time.monotonic()
        with pytest.raises(KeysUnavailable):
            keys.current()
        assert keys.settle(2) and keys.failed_fetches == 1
        wait_until(lambda: bool(relay.hung_up), seconds=5)
        assert relay.hung_up[0] - started < 2
    finally:
        relay.close()


def test_stale_keys_never_outlive_stale_for(
    server: KeyServer, ec_keys: dict[str, Any], clock: Clock
) -> None:
    """The reproduction: stale_for=0 fails closed at once, and stays closed."""
    server.keys = [public_jwk(ec_keys["k1"], "k1")]
    g = guarded(server, clock, lifetime=300, stale_for=0, cooldown=30)
    tok = token(ec_keys["k1"], "k1")
    assert g.status(tok) == 200
    server.behaviour = "status-500"
    clock.now += 300
    assert g.refused_with(tok) is KeysUnavailable
    for _ in range(40):  # every second of the cooldown and beyond
        clock.now += 1
        assert g.refused_with(tok) is KeysUnavailable
    server.behaviour = "ok"
    clock.now += 30  # the backoff (capped by the cooldown) has passed
    assert g.status(tok) == 200


@pytest.mark.parametrize("stale_for", [0, 1, 600])
def test_the_last_good_set_serves_until_lifetime_plus_stale_for_exactly(
    server: KeyServer, ec_keys: dict[str, Any], clock: Clock, stale_for: int
) -> None:
    server.keys = [public_jwk(ec_keys["k1"], "k1")]
    g = guarded(server, clock, lifetime=300, stale_for=stale_for, cache_size=0)
    tok = token(ec_keys["k1"], "k1")
    assert g.status(tok) == 200
    server.behaviour = "status-500"
    fetched_at = clock.now
    clock.now = fetched_at + 300 + stale_for - 0.5
    assert g.status(tok) == 200
    g.keys.settle(5)
    clock.now = fetched_at + 300 + stale_for
    assert g.refused_with(tok) is KeysUnavailable


def test_backoff_notices_the_end_of_an_outage_and_a_rotation_within_seconds(
    server: KeyServer, ec_keys: dict[str, Any], clock: Clock
) -> None:
    server.keys = [public_jwk(ec_keys["k1"], "k1")]
    g = guarded(server, clock, lifetime=300, cooldown=30, retry_after=2)
    old = token(ec_keys["k1"], "k1")
    assert g.status(old) == 200
    server.behaviour = "status-500"
    clock.now += 300
    for _ in range(3):  # failures at +0, +2, +6 s: the backoff doubles
        g.status(old)
        assert g.keys.settle(5)
        clock.now += 2**g.keys.failed_fetches
    assert g.keys.failed_fetches == 3
    # The outage ends and the issuer rotates at once.
    server.behaviour = "ok"
    server.keys = [public_jwk(ec_keys["k2"], "k2")]
    clock.now += 8  # the next retry falls due
    g.status(old)
    assert g.keys.settle(5)
    assert g.refused_with(old) is UnknownKey  # withdrawn: refused
    assert g.status(token(ec_keys["k2"], "k2")) == 200


def test_a_kid_flood_does_not_delay_a_rotation_beyond_the_lifetime(
    server: KeyServer, ec_keys: dict[str, Any], clock: Clock
) -> None:
    server.keys = [public_jwk(ec_keys["k1"], "k1")]
    g = guarded(server, clock, lifetime=300, cooldown=30)
    assert g.status(token(ec_keys["k1"], "k1")) == 200
    clock.now += 30
    results: list[int] = []

    def attacker(i: int) -> None:
        for j in range(10):
            results.append(g.status(token(ec_keys["evil"], f"made-up-{i}-{j}")))

    run_in_threads(attacker, 8)
    assert set(results) == {401}
    assert {type(error) for error in g.refusals.errors} == {UnknownKey}
    assert server.fetches == 2  # one refetch for the whole flood
    # The issuer rotates just after the flood spent the refetch budget.
    server.keys = [public_jwk(ec_keys["k2"], "k2"), public_jwk(ec_keys["k1"], "k1")]
    clock.now += 1
    assert g.refused_with(token(ec_keys["k2"], "k2")) is UnknownKey  # within the cooldown
    assert server.fetches == 2
    # The lifetime refresh is not spent by the flood: it runs on time.
    clock.now += 210  # 80% of the 300 s lifetime since the last fetch
    g.status(token(ec_keys["k1"], "k1"))
    assert g.keys.settle(5)
    assert g.status(token(ec_keys["k2"], "k2")) == 200


def test_unknown_kid_flood_causes_one_fetch_per_cooldown(
    server: KeyServer, ec_keys: dict[str, Any], clock: Clock
) -> None:
    server.keys = [public_jwk(ec_keys["k1"], "k1")]
    g = guarded(server, clock, cooldown=30)
    assert g.status(token(ec_keys["k1"], "k1")) == 200
    assert g.refused_with(token(ec_keys["evil"], "too-soon")) is UnknownKey
    assert server.fetches == 1  # within the cooldown of the first fetch
    clock.now += 29
    assert g.refused_with(token(ec_keys["evil"], "still-cooling")) is UnknownKey
    assert server.fetches == 1
    clock.now += 1
    assert g.refused_with(token(ec_keys["evil"], "again")) is UnknownKey
    assert server.fetches == 2


def test_known_kids_never_wait_for_a_hanging_refresh(
    server: KeyServer, ec_keys: dict[str, Any], clock: Clock
) -> None:
    server.keys = [public_jwk(ec_keys["k1"], "k1")]
    g = guarded(server, clock, timeout=5, lifetime=300)
    tok = token(ec_keys["k1"], "k1")
    assert g.status(tok) == 200
    server.behaviour = "hang"
    clock.now += 250  # a refresh falls due
    assert g.status(tok) == 200
    # The request was answered while the refresh is still hanging.
    assert not g.keys.settle(0)
    done = threading.Event()

    def request() -> None:
        g.status(tok)
        done.set()

    threading.Thread(target=request, daemon=True).start()
    assert done.wait(2)
    assert not g.keys.settle(0)


def test_discovery_naming_another_issuer_is_refused(clock: Clock) -> None:
    server = KeyServer()
    try:
        keys = RemoteKeySet(
            issuer=server.url + "/realm", algorithms=["ES256"], allow_http=True, clock=clock
        )
        with pytest.raises(KeysUnavailable):
            keys.current()
    finally:
        server.close()


# -- TLS and redirects --------------------------------------------------------------


@pytest.fixture
def tls_server() -> Iterator[KeyServer]:
    key_server = KeyServer(tls=True)
    yield key_server
    key_server.close()


def test_https_with_a_trusted_certificate(
    tls_server: KeyServer, ec_keys: dict[str, Any], clock: Clock
) -> None:
    tls_server.keys = [public_jwk(ec_keys["k1"], "k1")]
    keys = RemoteKeySet(
        tls_server.jwks_url,
        algorithms=["ES256"],
        ssl_context=tls_server.client_context,
        clock=clock,
    )
    assert [k.kid for k in keys.current().keys] == ["k1"]


def test_an_untrusted_certificate_is_a_failed_fetch(
    tls_server: KeyServer, ec_keys: dict[str, Any], clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    tls_server.keys = [public_jwk(ec_keys["k1"], "k1")]
    keys = RemoteKeySet(tls_server.jwks_url, algorithms=["ES256"], clock=clock)
    with caplog.at_level(logging.WARNING, logger="jwt_wsgi"), pytest.raises(KeysUnavailable):
        keys.current()
    # Which fetch failed and why, once, in the log; the client gets keys_unavailable only.
    failures = [r for r in caplog.records if "key set fetch failed" in r.getMessage()]
    assert len(failures) == 1
    assert f"the TLS certificate of {tls_server.jwks_url} is not trusted" in caplog.text
    assert "give ca_file=" in caplog.text and keys.last_failure is not None
    no_tracebacks(caplog)


@pytest.mark.slow
def test_https_to_a_plain_http_server_is_a_failed_fetch(
    server: KeyServer, ec_keys: dict[str, Any], clock: Clock
) -> None:
    server.keys = [public_jwk(ec_keys["k1"], "k1")]
    keys = RemoteKeySet(
        server.jwks_url.replace("http:", "https:"), algorithms=["ES256"], timeout=1
    )  # the server waits for a request the client never sends
    with pytest.raises(KeysUnavailable):
        keys.current()


def test_redirects_are_followed_to_https_only(
    tls_server: KeyServer, ec_keys: dict[str, Any], clock: Clock
) -> None:
    tls_server.keys = [public_jwk(ec_keys["k1"], "k1")]
    tls_server.behaviour = "redirect"
    tls_server.redirect_to = tls_server.url + "/moved.json"
    context = tls_server.client_context
    keys = RemoteKeySet(tls_server.jwks_url, algorithms=["ES256"], ssl_context=context)
    assert [k.kid for k in keys.current().keys] == ["k1"]
    # Downgrading to http is refused, even where http is allowed.
    tls_server.redirect_to = "http://127.0.0.1:9/jwks.json"
    keys = RemoteKeySet(
        tls_server.jwks_url, algorithms=["ES256"], ssl_context=context, allow_http=True
    )
    with pytest.raises(KeysUnavailable):
        keys.current()


def test_redirect_loops_end(tls_server: KeyServer, clock: Clock) -> None:
    tls_server.behaviour = "redirect"
    tls_server.redirect_to = tls_server.jwks_url
    context = tls_server.client_context
    keys = RemoteKeySet(tls_server.jwks_url, algorithms=["ES256"], ssl_context=context)
    with pytest.raises(KeysUnavailable):
        keys.current()
    assert tls_server.fetches == 4  # the first request and three redirects


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("lifetime", 0),
        ("timeout", -1),
        ("cooldown", "30"),
        ("stale_for", float("nan")),
        ("ssl_context", "yes"),
        ("clock", 3),
        ("allow_http", "true"),
    ],
)
def test_bad_options_are_refused(option: str, value: Any) -> None:
    with pytest.raises(ConfigurationError, match=option):
        RemoteKeySet("https://idp.example/jwks", algorithms=["ES256"], **{option: value})


def test_odd_redirects_and_urls_are_failed_fetches(clock: Clock) -> None:
    from jwt_wsgi._http import FetchError, get_json

    tls = KeyServer(tls=True)
    try:
        tls.behaviour = "redirect"
        tls.redirect_to = ""  # a 302 without a Location
        with pytest.raises(FetchError, match="without a Location"):
            get_json(tls.jwks_url, timeout=2, ssl_context=tls.client_context)
        tls.behaviour = "ok"
        document, _ = get_json(tls.jwks_url + "?v=2", timeout=2, ssl_context=tls.client_context)
        assert document == {"keys": []}
    finally:
        tls.close()
    with pytest.raises(FetchError, match="not an http"):
        get_json("ftp://127.0.0.1/jwks.json", timeout=1)
    with pytest.raises(FetchError, match="deadline"):
        get_json("http://127.0.0.1:9/jwks.json", timeout=0)


# -- a private CA and the fetch policy, from every entry point ------------------------


@pytest.fixture(scope="module")
def private_ca() -> Any:
    from .fixtures.tlsproxy import Authority

    return Authority()


@pytest.fixture
def private_server(private_ca: Any) -> Iterator[KeyServer]:
    key_server = KeyServer(tls=True, authority=private_ca)
    yield key_server
    key_server.close()


FETCH_POLICY = {
    "timeout": ("2s", 2.0),
    "cooldown": ("5s", 5.0),
    "lifetime": ("10m", 600.0),
    "min_lifetime": ("1m", 60.0),
    "max_lifetime": ("2h", 7200.0),
    "stale_for": ("30m", 1800.0),
    "retry_after": ("3s", 3.0),
}


def built_from(entry: str, server: KeyServer, directory: Any) -> JWTMiddleware:
    """The same provider settings through one entry point; each fetches the keys."""
    from jwt_wsgi.config import from_config

    seconds = {name: value for name, (_, value) in FETCH_POLICY.items()}
    texts = {name: text for name, (text, _) in FETCH_POLICY.items()}
    python: dict[str, Any] = {"issuer": server.url, "ca_file": server.ca_file, **seconds}
    if entry == "shortcut":  # discovery over https, through the private CA
        return JWTMiddleware(echo_app, algorithms=["ES256"], **python)
    if entry == "provider":
        return JWTMiddleware(echo_app, providers=[Provider("idp", ["ES256"], **python)])
    settings = {"algorithms": "ES256", "ca_file": str(server.ca_file), "issuer": server.url,
                **texts}  # fmt: skip
    if entry == "ini":
        ini = directory / "app.ini"
        ini.write_text("[filter:jwt]\nuse = egg:jwt_wsgi\n" + "".join(
            f"{name} = {value}\n" for name, value in settings.items()
        ))  # fmt: skip
        from paste.deploy import loadfilter  # type: ignore[import-untyped]

        built: JWTMiddleware = loadfilter(f"config:{ini}", name="jwt")(echo_app)
        return built
    if entry == "several":
        scoped = {f"provider.idp.{name}": value for name, value in settings.items()}
        return from_config(echo_app, {"providers": "idp", **scoped})
    environ = {f"JWT_WSGI_{name.upper()}": value for name, value in settings.items()}
    return JWTMiddleware.from_env(echo_app, environ=environ)


@pytest.mark.parametrize("entry", ["shortcut", "provider", "ini", "several", "environment"])
def test_a_private_ca_and_the_fetch_policy_from_every_entry_point(
    entry: str, private_server: KeyServer, ec_keys: dict[str, Any], tmp_path: Any
) -> None:
    """The issuer's keys behind a private CA: trusted through ca_file, wherever the
    configuration comes from, with every fetch setting reaching the key set."""
    private_server.keys = [public_jwk(ec_keys["k1"], "k1")]
    mw = built_from(entry, private_server, tmp_path)
    (provider,) = mw.authenticator.providers.values()
    keys = provider.keys
    assert isinstance(keys, RemoteKeySet)
    for name, (_, value) in FETCH_POLICY.items():
        assert getattr(keys, name) == value, name
    tok = token(ec_keys["k1"], "k1", iss=private_server.url, exp=int(time.time()) + 600,
                iat=int(time.time()))  # fmt: skip
    assert mw.authenticator.authenticate(tok).claims["sub"] == "alice"


def test_without_the_ca_the_fetch_fails_and_says_why(
    private_server: KeyServer, ec_keys: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    private_server.keys = [public_jwk(ec_keys["k1"], "k1")]
    mw = JWTMiddleware(echo_app, issuer=private_server.url, algorithms=["ES256"], timeout=2)
    tok = token(ec_keys["k1"], "k1", iss=private_server.url, exp=int(time.time()) + 600,
                iat=int(time.time()))  # fmt: skip
    with caplog.at_level(logging.WARNING, logger="jwt_wsgi"), pytest.raises(KeysUnavailable):
        mw.authenticator.authenticate(tok)
    assert "is not trusted (" in caplog.text and "give ca_file=" in caplog.text


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"key": "s" * 64, "cooldown": 5}, "apply to keys fetched by URL"),
        ({"jwks_url": "https://idp/jwks", "ca_file": "/nonexistent.pem"},
         "is no readable PEM file of CA certificates"),
        ({"jwks_url": "https://idp/jwks", "ca_file": "x", "ssl_context": object()},
         "ssl_context must be an ssl.SSLContext"),
        ({"jwks_url": "https://idp/jwks", "timeout": -1}, "timeout"),
        ({"jwks_url": "https://idp/jwks", "min_lifetime": 600, "lifetime": 60},
         "need min_lifetime <= lifetime <= max_lifetime"),
    ],
)  # fmt: skip
def test_bad_fetch_settings_are_refused(options: dict[str, Any], message: str) -> None:
    algorithms = ["HS256"] if "key" in options else ["ES256"]
    with pytest.raises(ConfigurationError, match=message):
        Provider("p", algorithms, **options)


def test_the_command_line_verifies_through_a_private_ca(
    private_server: KeyServer, ec_keys: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    from jwt_wsgi.cli import main

    private_server.keys = [public_jwk(ec_keys["k1"], "k1")]
    tok = token(ec_keys["k1"], "k1", iss=private_server.url, exp=int(time.time()) + 600,
                iat=int(time.time()))  # fmt: skip
    for source in (["--issuer", private_server.url], ["--jwks", private_server.jwks_url]):
        trusted = main(["verify", tok, "--alg", "ES256", *source, "--json",
                        "--ca-file", str(private_server.ca_file), "--timeout", "3"])  # fmt: skip
        out, _ = capsys.readouterr()
        assert trusted == 0 and json.loads(out)["claims"]["sub"] == "alice"
        untrusted = main(["verify", tok, "--alg", "ES256", *source, "--timeout", "3"])
        out, err = capsys.readouterr()
        assert untrusted == 1 and "keys_unavailable" in out
        assert "is not trusted (" in err and "give ca_file=" in err
