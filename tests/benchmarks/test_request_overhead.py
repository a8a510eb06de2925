"""Per-request cost, side by side in one run: bare app, jwt.decode, jwt_wsgi, peers.

Every case calls a WSGI app directly with a prepared environ (a copy per
call) and consumes the response, so the figures are the middleware's own cost
and not a server's. ``make bench`` prints the medians and the ratios the
targets are stated in (see ``conftest.py`` beside this file); ``make test``
runs each case once, untimed, so none of them can rot.
"""

from __future__ import annotations

import functools
import gc
import itertools
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from werkzeug.test import EnvironBuilder

from jwt_wsgi import JWTMiddleware, Minter

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

SECRET = "b" * 64
K = TypeVar("K")
ALGORITHMS = ["HS256", "RS256", "ES256"]


def hello(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
    return [b"hello"]


def _start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
    if not status.startswith("200"):
        raise AssertionError(f"benchmark request failed: {status}")
    return None


def request(app: WSGIApplication, environ: WSGIEnvironment) -> bytes:
    """One request: a fresh environ, the whole body consumed, close() called."""
    result = app(environ.copy(), _start_response)
    try:
        return b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()


def environ_for(token: str | None, path: str = "/hello") -> WSGIEnvironment:
    headers = [("Authorization", f"Bearer {token}")] if token else []
    environ: WSGIEnvironment = EnvironBuilder(path=path, headers=headers).get_environ()
    return environ


@pytest.fixture(scope="module")
def keys() -> dict[str, tuple[Any, Any]]:
    """Per algorithm: (signing key, verifying key)."""
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    return {
        "HS256": (SECRET, SECRET),
        "RS256": (rsa_key, rsa_key.public_key()),
        "ES256": (ec_key, ec_key.public_key()),
    }


def protected(verify_key: Any, alg: str, **options: Any) -> JWTMiddleware:
    return JWTMiddleware(hello, key=verify_key, algorithms=[alg], **options)


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_bare_app(benchmark: Any, alg: str, keys: dict[str, tuple[Any, Any]]) -> None:
    benchmark.group = f"wsgi-{alg}"
    benchmark.extra_info["case"] = f"bare-{alg}"
    environ = environ_for(Minter(keys[alg][0], alg).mint("alice"))
    assert benchmark(request, hello, environ) == b"hello"


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_jwt_decode(benchmark: Any, alg: str, keys: dict[str, tuple[Any, Any]]) -> None:
    benchmark.group = f"wsgi-{alg}"
    benchmark.extra_info["case"] = f"decode-{alg}"
    sign, verify = keys[alg]
    token = Minter(sign, alg).mint("alice")
    claims = benchmark(jwt.decode, token, verify, algorithms=[alg])
    assert claims["sub"] == "alice"


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_jwt_wsgi_cache_hit(benchmark: Any, alg: str, keys: dict[str, tuple[Any, Any]]) -> None:
    benchmark.group = f"wsgi-{alg}"
    benchmark.extra_info["case"] = f"hit-{alg}"
    sign, verify = keys[alg]
    app = protected(verify, alg)
    environ = environ_for(Minter(sign, alg).mint("alice"))
    assert benchmark(request, app, environ) == b"hello"
    assert len(app.cache) == 1


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_jwt_wsgi_cache_miss(benchmark: Any, alg: str, keys: dict[str, tuple[Any, Any]]) -> None:
    """A token not in the cache on every request: full verification each time.

    Requests cycle through more distinct tokens than the cache holds, so each
    one was evicted before it comes back (an LRU's worst case): every request
    pays the strict parse, the signature check, the claims and the cache
    insertion with its eviction.
    """
    benchmark.group = f"wsgi-{alg}"
    benchmark.extra_info["case"] = f"miss-{alg}"
    sign, verify = keys[alg]
    app = protected(verify, alg, cache_size=MISS_CACHE_SIZE)
    minter = Minter(sign, alg)
    pool = [environ_for(minter.mint(f"user{i}")) for i in range(4 * MISS_CACHE_SIZE)]
    environs = itertools.cycle(pool)
    misses_before = app.cache.misses
    assert benchmark(lambda: request(app, next(environs))) == b"hello"
    assert app.cache.hits == 0 and app.cache.misses > misses_before


MISS_CACHE_SIZE = 16


def location_cases() -> dict[str, tuple[WSGIApplication, WSGIEnvironment]]:
    """The same cached token in the header, and in a cookie among others."""
    pair = Minter(SECRET).mint_pair("alice")
    cookie = (
        "_ga=GA1.1.123456789.1700000000; theme=dark; "
        f"access_token={pair.access_token}; csrf_access_token={pair.csrf}"
    )
    return {
        "bare": (hello, environ_for(pair.access_token)),
        "header": (protected(SECRET, "HS256"), environ_for(pair.access_token)),
        "cookie": (
            protected(SECRET, "HS256", locations=["cookie"]),
            EnvironBuilder(path="/hello", headers=[("Cookie", cookie)]).get_environ(),
        ),
    }


def interleaved(
    steps: Mapping[K, Callable[[], object]], rounds: int, number: int
) -> dict[K, float]:
    """Each step's best time per call (seconds) over ``rounds`` alternating rounds.

    Run one after the other, two benchmark cases differ by more than the
    variants on this shared machine; alternating rounds in one test and
    keeping each variant's fastest round compares them under the same load.
    """
    best = {name: float("inf") for name in steps}
    for _ in range(rounds):
        for name, step in steps.items():
            started = time.perf_counter()
            for _ in range(number):
                step()
            best[name] = min(best[name], (time.perf_counter() - started) / number)
    return best


def timed_interleaved(
    benchmark: Any, steps: Mapping[K, Callable[[], object]], *, rounds: int, number: int
) -> dict[K, float]:
    """:func:`interleaved` as one benchmark round; a short run under ``make test``."""
    best: dict[K, float] = {}
    if benchmark.disabled:
        rounds, number = 2, 10
    benchmark.pedantic(
        lambda: best.update(interleaved(steps, rounds=rounds, number=number)),
        rounds=1,
        iterations=1,
    )
    return best


class FloorReference:
    """What a header cache hit cannot cost less than in Python: the same work, nothing else.

    A yardstick for the hit's ratio, not a middleware: one memo look-up keyed
    on the four environ values routing keys on, the header read, one look-up
    of the whole header value, a clock read and the validity window, the
    claims and the header copied, and the five environ keys a hit sets. No
    rules, no key-ring or revocation check, no counters, no error handling.
    """

    def __init__(self, app: WSGIApplication, environ: WSGIEnvironment, token: str) -> None:
        self.app = app
        target = environ.get("RAW_URI") or environ.get("REQUEST_URI") or ""
        key = (environ["REQUEST_METHOD"], environ["PATH_INFO"], environ["SCRIPT_NAME"], target)
        self.routes = {key: environ["PATH_INFO"]}
        decoded = jwt.decode_complete(token, SECRET, algorithms=["HS256"])
        self.tokens = {f"Bearer {token}": (decoded["payload"], decoded["header"], token)}

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        target = environ.get("RAW_URI") or environ.get("REQUEST_URI") or ""
        environ["PATH_INFO"] = self.routes[
            (
                environ.get("REQUEST_METHOD"),
                environ.get("PATH_INFO"),
                environ.get("SCRIPT_NAME"),
                target,
            )
        ]
        claims, header, token = self.tokens[environ["HTTP_AUTHORIZATION"]]
        if not time.time() < claims["exp"]:
            raise AssertionError("the benchmark token expired")
        claims = environ["jwt.claims"] = claims.copy()
        environ["jwt.header"] = header.copy()
        environ["jwt.token"] = token
        environ["jwt.provider"] = "default"
        environ["REMOTE_USER"] = claims["sub"]
        return self.app(environ, start_response)


class CacheOnlyReference:
    """A hit through the middleware's own routing and token cache, and nothing else.

    The second yardstick, between the floor and the hit: what a hit path
    flattened into one function would cost if it kept only the cache's own
    conditions (the key ring still in force, the validity window) and
    dropped everything else the middleware does per request (rules, policy,
    token kind, counters, the result object, sender and revocation checks).
    Not a middleware: it refuses nothing and falls back on nothing.
    """

    def __init__(self, middleware: JWTMiddleware) -> None:
        self.app = middleware.app
        self.route = middleware.rules.route
        self.peek = middleware.authenticator.cache.peek
        self.clock = middleware.authenticator.clock

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        environ["PATH_INFO"], _rule = self.route(environ)
        token = environ["HTTP_AUTHORIZATION"][7:]
        entry = self.peek(token)
        now = self.clock()
        if (
            entry is None
            or entry.verifier.keys.current() is not entry.ring
            or not entry.valid_from <= now < entry.valid_until
        ):
            raise AssertionError("the benchmark token is not a cache hit")
        claims = environ["jwt.claims"] = entry.claims.copy()
        environ["jwt.header"] = entry.header.copy()
        environ["jwt.token"] = token
        environ["jwt.provider"] = entry.provider
        environ["REMOTE_USER"] = claims["sub"]
        return self.app(environ, start_response)


def fresh_header(app: WSGIApplication, environ: WSGIEnvironment) -> Callable[[], bytes]:
    """:func:`request` with the token's header (``Cookie``, else ``Authorization``)
    built anew for each call.

    A server makes new strings for every request, so a look-up keyed on the
    header pays for hashing it each time; reusing one string object would
    let Python's cached hash make whole-header look-ups look cheaper than
    they are.
    """
    key = "HTTP_COOKIE" if "HTTP_COOKIE" in environ else "HTTP_AUTHORIZATION"
    value = environ[key]

    def one() -> bytes:
        copy = environ.copy()
        copy[key] = value[:-1] + value[-1]
        return request(app, copy)

    return one


def test_hit_against_decode_interleaved(benchmark: Any) -> None:
    """The HS256 hit and miss ratios from alternating rounds (best round each), beside the medians.

    The medians of separate cases move with this shared machine's load (two
    algorithms' hits, the same code, have differed by half); alternating the
    bare app, the hit, the miss and ``jwt.decode`` in one test compares them
    under one load. The two yardsticks run in the same rounds:
    :class:`FloorReference`, the ratio a hit would have if it did its work and
    nothing else, and :class:`CacheOnlyReference`, the middleware's own
    routing and cache with every other per-request step removed. Each request
    carries a new ``Authorization`` string, as from a server
    (:func:`fresh_header`).
    """
    benchmark.group = "wsgi-HS256"
    benchmark.extra_info["case"] = "hit-decode-interleaved"
    token = Minter(SECRET).mint("alice")
    environ = environ_for(token)
    app = protected(SECRET, "HS256")
    floor = FloorReference(hello, environ, token)
    cache_only = CacheOnlyReference(app)
    request(app, environ)  # the token is cached before the rounds start
    # As in test_jwt_wsgi_cache_miss: more tokens than the cache holds, cycled.
    missing = protected(SECRET, "HS256", cache_size=MISS_CACHE_SIZE)
    minter = Minter(SECRET)
    pool = itertools.cycle([environ_for(minter.mint(f"u{i}")) for i in range(4 * MISS_CACHE_SIZE)])
    steps: dict[str, Callable[[], object]] = {
        "bare": fresh_header(hello, environ),
        "floor": fresh_header(floor, environ),
        "cache-only": fresh_header(cache_only, environ),
        "hit": fresh_header(app, environ),
        "miss": lambda: request(missing, next(pool)),
        "decode": functools.partial(jwt.decode, token, SECRET, algorithms=["HS256"]),
    }
    best = timed_interleaved(benchmark, steps, rounds=15, number=1000)
    benchmark.extra_info["interleaved_us"] = {name: t * 1e6 for name, t in best.items()}
    assert app.cache.hits > 0 and missing.cache.hits == 0 and missing.cache.misses > 0
    # The yardsticks leave what the middleware leaves, so they measure the same work.
    exposed = ("PATH_INFO", "REMOTE_USER", "jwt.claims", "jwt.header", "jwt.token", "jwt.provider")
    left: list[list[object]] = []
    for wrapper in (app, floor, cache_only):
        seen = environ.copy()
        assert b"".join(wrapper(seen, _start_response)) == b"hello"
        left.append([seen[key] for key in exposed])
    assert left[0] == left[1] == left[2] and left[0][1] == "alice"


def test_cookie_and_header_hits_interleaved(benchmark: Any) -> None:
    """Cookie and header cache hits, measured in alternating rounds (:func:`interleaved`)."""
    benchmark.group = "location-HS256"
    benchmark.extra_info["case"] = "hit-by-location"
    cases = location_cases()
    steps = {name: fresh_header(app, environ) for name, (app, environ) in cases.items()}
    best = timed_interleaved(benchmark, steps, rounds=40, number=3000)
    benchmark.extra_info.update(
        interleaved_us={name: value * 1e6 for name, value in best.items()},
        cookie_over_header=(best["cookie"] - best["bare"]) / (best["header"] - best["bare"]),
    )
    assert cases["cookie"][0].cache.hits > 0  # type: ignore[attr-defined]


def flask_app(kind: str) -> tuple[Any, str]:
    """The same Flask route: unprotected, behind jwt_wsgi, or flask-jwt-extended."""
    from flask import Flask
    from flask_jwt_extended import JWTManager, create_access_token, jwt_required

    app = Flask(__name__)
    app.config["JWT_SECRET_KEY"] = SECRET
    JWTManager(app)
    with app.app_context():
        token = create_access_token("alice")

    def hello_view() -> str:
        return "hello"

    # The view is the same in all three; each guard leaves the claims where
    # its users read them (flask-jwt-extended: get_jwt(); jwt_wsgi: environ).
    if kind == "flask-jwt-extended":
        app.route("/hello")(jwt_required()(hello_view))
    else:
        app.route("/hello")(hello_view)
    if kind == "flask-jwt_wsgi":
        app.wsgi_app = JWTMiddleware(  # type: ignore[method-assign]
            app.wsgi_app, key=SECRET, algorithms=["HS256"]
        )
    return app, token


@pytest.mark.parametrize("kind", ["flask-bare", "flask-jwt_wsgi", "flask-jwt-extended"])
def test_flask_route(benchmark: Any, kind: str) -> None:
    """The same token, repeated, as a client sends it until it expires."""
    benchmark.group = "flask-HS256"
    benchmark.extra_info["case"] = kind
    app, token = flask_app(kind)
    environ = environ_for(token)
    assert benchmark(request, app, environ) == b"hello"
    # Each guard really guards: without the token the route is refused.
    if kind != "flask-bare":
        with pytest.raises(AssertionError, match="401"):
            request(app, environ_for(None))


def test_flask_routes_interleaved(benchmark: Any) -> None:
    """The three Flask cases of :func:`test_flask_route` in alternating rounds (best round each).

    Each guard adds a few microseconds to a request of about a hundred, so
    the medians of separate cases are mostly this machine's noise; under one
    load the added costs compare.
    """
    benchmark.group = "flask-HS256"
    benchmark.extra_info["case"] = "flask-interleaved"
    kinds = ("flask-bare", "flask-jwt_wsgi", "flask-jwt-extended")
    apps = {kind: flask_app(kind) for kind in kinds}
    # The floor reference around the same Flask app: what the hit's work alone
    # costs once it runs beside Flask's (see docs/performance.rst).
    floored, token = flask_app("flask-bare")
    floored.wsgi_app = FloorReference(floored.wsgi_app, environ_for(token), token)
    apps["flask-floor"] = (floored, token)
    steps = {
        kind: functools.partial(request, app, environ_for(token))
        for kind, (app, token) in apps.items()
    }
    best = timed_interleaved(benchmark, steps, rounds=40, number=200)
    benchmark.extra_info["interleaved_us"] = {name: t * 1e6 for name, t in best.items()}
    assert all(step() == b"hello" for step in steps.values())


def _rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        resident_pages = int(statm.read().split()[1])
    import resource

    return resident_pages * resource.getpagesize()


def test_memory_bound_with_many_distinct_tokens(benchmark: Any) -> None:
    """100,000 distinct valid tokens through a default middleware: RSS stays bounded."""
    benchmark.group = "memory"
    benchmark.extra_info["case"] = "memory-100k-tokens"
    count = 2_000 if benchmark.disabled else 100_000
    app = JWTMiddleware(hello, key=SECRET, algorithms=["HS256"])
    minter = Minter(SECRET)
    environs: Iterable[WSGIEnvironment] = (
        {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "HTTP_AUTHORIZATION": f"Bearer {t}"}
        for t in (minter.mint(f"user{i}") for i in range(count))
    )

    def run() -> None:
        for environ in environs:
            request(app, environ)

    gc.collect()
    before = _rss_bytes()
    benchmark.pedantic(run, rounds=1, iterations=1)
    gc.collect()
    growth = _rss_bytes() - before
    benchmark.extra_info.update(
        tokens=count, rss_growth_mib=growth / 2**20, cache_entries=len(app.cache)
    )
    assert len(app.cache) == min(count, app.cache.size)


def test_jwt_wsgi_cache_hit_with_revocation(benchmark: Any, redis_url: str) -> None:
    """A cache hit plus the revocation look-up every request makes, interleaved with none.

    ``redis-mirror`` answers from the process's mirror of the denylist;
    ``redis-rtt`` (``mirror=False``) asks Redis, one round trip per request.
    """
    from jwt_wsgi import MemoryRevocationStore, RedisRevocationStore

    benchmark.group = "revocation-HS256"
    benchmark.extra_info["case"] = "hit-revocation"
    mirrored = RedisRevocationStore.from_url(redis_url, prefix="bench:", mirror=True)
    asking = RedisRevocationStore.from_url(redis_url, prefix="bench:", mirror=False)
    assert mirrored.wait_in_sync(10) and not asking.wait_in_sync(10)
    environ = environ_for(Minter(SECRET).mint("alice"))
    apps = {
        "none": protected(SECRET, "HS256"),
        "memory": protected(SECRET, "HS256", revocation=MemoryRevocationStore()),
        "redis-mirror": protected(SECRET, "HS256", revocation=mirrored),
        "redis-rtt": protected(SECRET, "HS256", revocation=asking),
    }
    steps = {name: functools.partial(request, app, environ) for name, app in apps.items()}
    for step in steps.values():
        assert step() == b"hello"
    try:
        best = timed_interleaved(benchmark, steps, rounds=20, number=300)
        assert mirrored.in_sync  # every round answered from the mirror
    finally:
        mirrored.close()
        asking.close()
    benchmark.extra_info["revocation_us"] = {name: t * 1e6 for name, t in best.items()}
