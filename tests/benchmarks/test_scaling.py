"""How per-request cost grows with rules, paths, keys, providers and tokens.

Each dimension is measured at its smallest and its large size in one run;
``make bench`` prints the ratio large/small with the aim (flat, <= 1.2) and,
where the work grows by nature, why:

* **rules** (1, 100, 1,000): a request whose path matches the *last* rule,
  steady state. The routing memo answers a path it has seen with one
  dictionary look-up, so the number of rules does not show.
* **paths** (10, 100,000 distinct paths, one rule each per request in turn):
  10 fit in the routing memo; 100,000 do not (it holds ``memo_size``,
  4,096 by default, and is cleared when full), so most requests canonicalise
  the path and ask Werkzeug's router: the cost of a memo miss, not a leak.
* **keys** (1, 200 keys in the JWK Set) and **providers** (1, 2, 20
  issuers): every request a cache miss, so the key and the provider are
  looked up each time; both are dictionary look-ups (by ``kid``, by ``iss``).
  From one provider to two, a miss also reads ``iss`` from the unverified
  payload to choose the provider (one more base64 and JSON parse); from two
  to twenty nothing grows.
* **tokens** (a working set that fits the cache, and one 10x its size):
  past the cache every request verifies the signature; this ratio is the
  price of a miss over a hit, which only a bigger cache removes.
"""

from __future__ import annotations

import base64
import itertools
from collections.abc import Callable
from typing import Any

import jwt

from jwt_wsgi import Authenticator, JWTMiddleware, Provider, Rule

from .test_request_overhead import SECRET, environ_for, hello, request, timed_interleaved

LONG_LIVED = 4_000_000_000


def token(claims: dict[str, Any] | None = None, key: str = SECRET, kid: str | None = None) -> str:
    headers = {"kid": kid} if kid else None
    return jwt.encode({"sub": "alice", "exp": LONG_LIVED, **(claims or {})}, key, headers=headers)


def run(benchmark: Any, dimension: str, steps: dict[int, Callable[[], bytes]]) -> None:
    """Time every size of one dimension in alternating rounds; keep each size's best round.

    Run as separate cases minutes apart, two sizes differ by more than the
    work on this shared machine; alternating them in one test compares
    them under the same load.
    """
    benchmark.group = f"scaling-{dimension}"
    benchmark.extra_info["case"] = f"scale-{dimension}"
    for step in steps.values():
        assert step() == b"hello"
    best = timed_interleaved(benchmark, steps, rounds=30, number=500)
    benchmark.extra_info["scale"] = (dimension, {size: t for size, t in best.items()})


def rules_step(count: int) -> Callable[[], bytes]:
    rules = [Rule(f"/area{i}/<path:rest>", scopes=["read"]) for i in range(count)]
    app = JWTMiddleware(hello, key=SECRET, algorithms=["HS256"], rules=rules)
    environ = environ_for(token({"scope": "read"}), path=f"/area{count - 1}/item")
    return lambda: request(app, environ)


def test_rules(benchmark: Any) -> None:
    run(benchmark, "rules", {count: rules_step(count) for count in (1, 100, 1_000)})


def paths_step(count: int) -> Callable[[], bytes]:
    rules = [Rule("/items/<int:id>", scopes=["read"]), Rule("/health", auth="public")]
    app = JWTMiddleware(hello, key=SECRET, algorithms=["HS256"], rules=rules)
    base = environ_for(token({"scope": "read"}))
    paths = (f"/items/{i}" for i in range(count))
    environs = itertools.cycle(
        [{**base, "PATH_INFO": p, "REQUEST_URI": p, "RAW_URI": p} for p in paths]
    )

    def step() -> bytes:
        answer = request(app, next(environs))
        assert len(app.rules._memo) <= app.rules._memo.size
        return answer

    return step


def test_distinct_paths(benchmark: Any) -> None:
    run(benchmark, "paths", {count: paths_step(count) for count in (10, 100_000)})


def hmac_key_set(count: int) -> dict[str, Any]:
    def jwk(i: int) -> dict[str, str]:
        secret = f"{SECRET}-{i}".encode()
        return {"kty": "oct", "kid": f"k{i}", "k": base64.urlsafe_b64encode(secret).decode()}

    return {"keys": [jwk(i) for i in range(count)]}


def keys_step(count: int) -> Callable[[], bytes]:
    app = JWTMiddleware(hello, key=hmac_key_set(count), algorithms=["HS256"], cache_size=0)
    last = f"{SECRET}-{count - 1}"
    environ = environ_for(token(key=last, kid=f"k{count - 1}"))
    return lambda: request(app, environ)


def test_keys_in_a_set(benchmark: Any) -> None:
    run(benchmark, "keys", {count: keys_step(count) for count in (1, 200)})


def providers_step(count: int) -> Callable[[], bytes]:
    providers = [
        Provider(f"p{i}", issuer=f"https://issuer{i}.example", key=f"{SECRET}-{i}",
                 algorithms=["HS256"])
        for i in range(count)
    ]  # fmt: skip
    app = JWTMiddleware(hello, Authenticator(providers, cache_size=0))
    last = count - 1
    environ = environ_for(token({"iss": f"https://issuer{last}.example"}, key=f"{SECRET}-{last}"))
    return lambda: request(app, environ)


def test_providers(benchmark: Any) -> None:
    run(benchmark, "providers", {count: providers_step(count) for count in (1, 2, 20)})


CACHE_SIZE = 256


def tokens_step(factor: int) -> Callable[[], bytes]:
    app = JWTMiddleware(hello, key=SECRET, algorithms=["HS256"], cache_size=CACHE_SIZE)
    tokens = [token({"sub": f"user{i}"}) for i in range(CACHE_SIZE * factor)]
    environs = itertools.cycle([environ_for(t) for t in tokens])

    def step() -> bytes:
        answer = request(app, next(environs))
        assert len(app.cache) <= CACHE_SIZE
        return answer

    return step


def test_working_set_of_tokens(benchmark: Any) -> None:
    run(benchmark, "tokens-x-cache", {factor: tokens_step(factor) for factor in (1, 10)})
