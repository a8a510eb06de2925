"""Remote key sets over real HTTP from a key server on 127.0.0.1 that the tests steer."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from jwt_wsgi import ConfigurationError, JWTMiddleware, RemoteKeySet
from jwt_wsgi.jwks import KeysUnavailable

from .helpers import NOW, Clock, ValidatingClient, echo_app, run_in_threads

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment


def public_jwk(key: Any, kid: str, **extra: Any) -> dict[str, Any]:
    algorithm = "ES256" if isinstance(key, ec.EllipticCurvePrivateKey) else "RS256"
    jwk = jwt.get_algorithm_by_name(algorithm).to_jwk(key.public_key(), as_dict=True)
    return {**jwk, "kid": kid, **extra}


class KeyServer:
    """A JWKS (and OpenID discovery) endpoint whose answers the test controls."""

    def __init__(self) -> None:
        self.keys: list[dict[str, Any]] = []
        self.status = "200 OK"
        self.delay = 0.0
        self.cache_control: str | None = None
        self.body: bytes | None = None
        self.issuer = ""
        self.fetches = 0
        self.lock = threading.Lock()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ["PATH_INFO"]
        if path == "/.well-known/openid-configuration":
            body = json.dumps({"issuer": self.issuer, "jwks_uri": self.issuer + "/jwks.json"})
            start_response("200 OK", [("Content-Type", "application/json")])
            return [body.encode()]
        with self.lock:
            self.fetches += 1
        time.sleep(self.delay)
        headers = [("Content-Type", "application/json")]
        if self.cache_control:
            headers.append(("Cache-Control", self.cache_control))
        start_response(self.status, headers)
        return [self.body if self.body is not None else json.dumps({"keys": self.keys}).encode()]


@pytest.fixture
def key_server(serve: Callable[[Any], str]) -> Iterator[tuple[KeyServer, str]]:
    server = KeyServer()
    url = serve(server)
    server.issuer = url
    yield server, url


@pytest.fixture(scope="module")
def ec_keys() -> dict[str, ec.EllipticCurvePrivateKey]:
    return {name: ec.generate_private_key(ec.SECP256R1()) for name in ("k1", "k2", "evil")}


def token(key: Any, kid: str, **claims: Any) -> str:
    payload = {"sub": "alice", "iat": int(NOW), "exp": int(NOW) + 3600, **claims}
    return jwt.encode(payload, key, algorithm="ES256", headers={"kid": kid})


def remote(url: str, clock: Clock, **options: Any) -> RemoteKeySet:
    options.setdefault("algorithms", ["ES256"])
    return RemoteKeySet(url + "/jwks.json", allow_http=True, clock=clock, **options)


def guarded(url: str, clock: Clock, **options: Any) -> JWTMiddleware:
    """The echo app behind a middleware verifying with the key server's set."""
    keys = remote(url, clock, **{k: options.pop(k) for k in list(options) if k in _KEY_OPTIONS})
    return JWTMiddleware(echo_app, key=keys, algorithms=["ES256"], clock=clock, **options)


_KEY_OPTIONS = ("cooldown", "lifetime", "stale_for", "timeout")


def status_of(middleware: JWTMiddleware, tok: str) -> tuple[int, str]:
    response = ValidatingClient(middleware).get("/", headers={"Authorization": f"Bearer {tok}"})
    return response.status_code, (response.get_json() or {}).get("error_description", "")


def test_fetches_once_and_verifies(
    key_server: tuple[KeyServer, str], ec_keys: dict[str, Any], clock: Clock
) -> None:
    server, url = key_server
    server.keys = [public_jwk(ec_keys["k1"], "k1")]
    mw = JWTMiddleware(
        echo_app, jwks_url=url + "/jwks.json", algorithms=["ES256"], allow_http=True, clock=clock
    )
    for i in range(3):
        assert status_of(mw, token(ec_keys["k1"], "k1", n=i))[0] == 200
    assert server.fetches == 1


def test_http_urls_need_allow_http() -> None:
    with pytest.raises(ConfigurationError, match="https"):
        RemoteKeySet("http://127.0.0.1/jwks.json", algorithms=["ES256"])
    with pytest.raises(ConfigurationError, match="https"):
        JWTMiddleware(echo_app, jwks_url="http://127.0.0.1/jwks.json", algorithms=["ES256"])


def test_max_age_sets_the_lifetime_within_bounds(
    key_server: tuple[KeyServer, str], ec_keys: dict[str, Any], clock: Clock
) -> None:
    server, url = key_server
    server.keys = [public_jwk(ec_keys["k1"], "k1")]
    server.cache_control = "public, max-age=120"
    keys = remote(url, clock)
    keys.current()
    clock.now += 119
    keys.current()
    assert server.fetches == 1
    clock.now += 1
    keys.current()
    assert server.fetches == 2
    server.cache_control = "max-age=1"  # clamped up to min_lifetime (60)
    clock.now += 120
    keys.current()
    clock.now += 59
    keys.current()
    assert server.fetches == 3


def test_unknown_kid_flood_causes_one_fetch_per_cooldown(
    key_server: tuple[KeyServer, str], ec_keys: dict[str, Any], clock: Clock
) -> None:
    server, url = key_server
    server.keys = [public_jwk(ec_keys["k1"], "k1")]
    mw = guarded(url, clock, cooldown=30)
    assert status_of(mw, token(ec_keys["k1"], "k1"))[0] == 200
    assert server.fetches == 1
    assert status_of(mw, token(ec_keys["evil"], "too-soon"))[0] == 401
    assert server.fetches == 1  # within the cooldown of the first fetch
    clock.now += 30
    results: list[int] = []

    def attacker(i: int) -> None:
        for j in range(10):
            results.append(status_of(mw, token(ec_keys["evil"], f"made-up-{i}-{j}"))[0])

    run_in_threads(attacker, 8)
    assert set(results) == {401}
    assert server.fetches == 2  # one refetch for the whole flood
    clock.now += 29
    assert status_of(mw, token(ec_keys["evil"], "still-cooling"))[0] == 401
    assert server.fetches == 2
    clock.now += 1
    assert status_of(mw, token(ec_keys["evil"], "again"))[0] == 401
    assert server.fetches == 3


def test_rotation_found_by_unknown_kid(
    key_server: tuple[KeyServer, str], ec_keys: dict[str, Any], clock: Clock
) -> None:
    server, url = key_server
    server.keys = [public_jwk(ec_keys["k1"], "k1")]
    mw = guarded(url, clock)
    assert status_of(mw, token(ec_keys["k1"], "k1"))[0] == 200
    server.keys = [public_jwk(ec_keys["k2"], "k2"), public_jwk(ec_keys["k1"], "k1")]
    clock.now += 31  # past the cooldown since the first fetch
    assert status_of(mw, token(ec_keys["k2"], "k2"))[0] == 200


def test_removed_key_stops_cached_tokens_after_refresh(
    key_server: tuple[KeyServer, str], ec_keys: dict[str, Any], clock: Clock
) -> None:
    server, url = key_server
    server.keys = [public_jwk(ec_keys["k1"], "k1"), public_jwk(ec_keys["k2"], "k2")]
    mw = guarded(url, clock)
    old, new = token(ec_keys["k1"], "k1"), token(ec_keys["k2"], "k2")
    assert status_of(mw, old)[0] == 200 and status_of(mw, new)[0] == 200
    assert status_of(mw, old)[0] == 200  # a cache hit
    server.keys = [public_jwk(ec_keys["k2"], "k2")]  # k1 withdrawn
    clock.now += 300  # the set's lifetime passes: next request refetches
    assert status_of(mw, old) == (401, "no key matches the token's key id")
    assert status_of(mw, new)[0] == 200


def test_unchanged_set_keeps_the_cache_warm(
    key_server: tuple[KeyServer, str], ec_keys: dict[str, Any], clock: Clock
) -> None:
    server, url = key_server
    server.keys = [public_jwk(ec_keys["k1"], "k1")]
    mw = guarded(url, clock)
    tok = token(ec_keys["k1"], "k1")
    status_of(mw, tok)
    clock.now += 300
    status_of(mw, tok)
    assert server.fetches == 2 and mw.cache.hits == 1


def test_concurrent_requests_share_one_fetch(
    key_server: tuple[KeyServer, str], ec_keys: dict[str, Any], clock: Clock
) -> None:
    server, url = key_server
    server.keys = [public_jwk(ec_keys["k1"], "k1")]
    server.delay = 0.3
    mw = guarded(url, clock)
    results: list[int] = []

    def request(i: int) -> None:
        results.append(status_of(mw, token(ec_keys["k1"], "k1", n=i))[0])

    run_in_threads(request, 8)
    assert results == [200] * 8
    assert server.fetches == 1


def test_outage_serves_stale_keys_then_fails_closed(
    key_server: tuple[KeyServer, str],
    ec_keys: dict[str, Any],
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server, url = key_server
    server.keys = [public_jwk(ec_keys["k1"], "k1")]
    mw = guarded(url, clock, lifetime=300, stale_for=600, cooldown=30, cache_size=0)
    assert status_of(mw, token(ec_keys["k1"], "k1"))[0] == 200
    server.status = "503 Service Unavailable"
    clock.now += 301
    with caplog.at_level(logging.WARNING, logger="jwt_wsgi"):
        assert status_of(mw, token(ec_keys["k1"], "k1"))[0] == 200  # stale but usable
    assert "serving the last good keys" in caplog.text
    fetches = server.fetches
    for _ in range(5):  # failures are retried at most once per cooldown
        status_of(mw, token(ec_keys["k1"], "k1"))
    assert server.fetches == fetches
    clock.now += 600  # lifetime + stale_for are spent
    assert status_of(mw, token(ec_keys["k1"], "k1")) == (401, "the signing keys are unavailable")
    server.status = "200 OK"
    clock.now += 30
    assert status_of(mw, token(ec_keys["k1"], "k1"))[0] == 200  # recovered


def test_first_fetch_failing_is_401_not_500(
    key_server: tuple[KeyServer, str], ec_keys: dict[str, Any], clock: Clock
) -> None:
    server, url = key_server
    server.body = b"<html>not json</html>"
    mw = guarded(url, clock)
    assert status_of(mw, token(ec_keys["k1"], "k1")) == (401, "the signing keys are unavailable")


def test_timeout_counts_as_a_failed_fetch(
    key_server: tuple[KeyServer, str], ec_keys: dict[str, Any], clock: Clock
) -> None:
    server, url = key_server
    server.keys = [public_jwk(ec_keys["k1"], "k1")]
    server.delay = 1.0
    keys = remote(url, clock, timeout=0.2)
    started = time.monotonic()
    with pytest.raises(KeysUnavailable):
        keys.current()
    assert time.monotonic() - started < 0.9


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(b"[]", id="not-an-object"),
        pytest.param(b'{"keys": []}', id="empty"),
        pytest.param(b"x" * (1 << 20 + 1), id="too-large"),
    ],
)
def test_unusable_documents_are_failures(
    key_server: tuple[KeyServer, str], clock: Clock, bad: bytes
) -> None:
    server, url = key_server
    server.body = bad
    with pytest.raises(KeysUnavailable):
        remote(url, clock).current()


def test_keys_for_other_uses_or_algorithms_are_not_used(
    key_server: tuple[KeyServer, str], ec_keys: dict[str, Any], clock: Clock
) -> None:
    server, url = key_server
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    server.keys = [
        public_jwk(ec_keys["k1"], "enc-key", use="enc"),
        public_jwk(ec_keys["k2"], "ps-only", alg="ES384"),
        public_jwk(rsa_key, "rsa"),  # RS256 is not in this verifier's algorithms
        {"kty": "weird", "kid": "unknown-type"},  # skipped, not fatal
        public_jwk(ec_keys["evil"], "good"),
    ]
    mw = guarded(url, clock)
    assert status_of(mw, token(ec_keys["evil"], "good"))[0] == 200
    assert status_of(mw, token(ec_keys["k1"], "enc-key"))[0] == 401
    assert status_of(mw, token(ec_keys["k2"], "ps-only"))[0] == 401


def test_openid_discovery(
    key_server: tuple[KeyServer, str], ec_keys: dict[str, Any], clock: Clock
) -> None:
    server, url = key_server
    server.keys = [public_jwk(ec_keys["k1"], "k1")]
    mw = JWTMiddleware(echo_app, issuer=url, algorithms=["ES256"], allow_http=True, clock=clock)
    assert status_of(mw, token(ec_keys["k1"], "k1", iss=url))[0] == 200
    assert status_of(mw, token(ec_keys["k1"], "k1", iss="https://other"))[0] == 401


def test_discovery_naming_another_issuer_is_refused(
    key_server: tuple[KeyServer, str], ec_keys: dict[str, Any], clock: Clock
) -> None:
    server, url = key_server
    server.keys = [public_jwk(ec_keys["k1"], "k1")]
    server.issuer = "https://impostor.example"
    keys = RemoteKeySet(issuer=url, algorithms=["ES256"], allow_http=True, clock=clock)
    with pytest.raises(KeysUnavailable):
        keys.current()


def test_one_weak_key_in_a_fetched_set_is_skipped_not_fatal(
    key_server: tuple[KeyServer, str],
    ec_keys: dict[str, Any],
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server, url = key_server
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    server.keys = [public_jwk(weak, "weak"), public_jwk(ec_keys["k1"], "k1")]
    keys = remote(url, clock, algorithms=["ES256", "RS256"])
    mw = JWTMiddleware(echo_app, key=keys, algorithms=["ES256", "RS256"], clock=clock)
    with caplog.at_level(logging.WARNING, logger="jwt_wsgi"):
        assert status_of(mw, token(ec_keys["k1"], "k1"))[0] == 200
    assert "skipping key 'weak'" in caplog.text
    with pytest.warns(jwt.warnings.InsecureKeyLengthWarning):
        weak_token = jwt.encode({"exp": int(NOW) + 60}, weak, "RS256", headers={"kid": "weak"})
    assert status_of(mw, weak_token)[0] == 401
