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
import pytest

from jwt_wsgi import Authenticator, JWTMiddleware, Provider, Rule

from .test_request_overhead import SECRET, environ_for, hello, request

LONG_LIVED = 4_000_000_000


def token(claims: dict[str, Any] | None = None, key: str = SECRET, kid: str | None = None) -> str:
    headers = {"kid": kid} if kid else None
    return jwt.encode({"sub": "alice", "exp": LONG_LIVED, **(claims or {})}, key, headers=headers)


def run(benchmark: Any, dimension: str, size: int, step: Callable[[], bytes]) -> None:
    benchmark.group = f"scaling-{dimension}"
    benchmark.extra_info["case"] = f"scale-{dimension}-{size}"
    benchmark.extra_info["scale"] = (dimension, size)
    assert benchmark(step) == b"hello"


@pytest.mark.parametrize("count", [1, 100, 1_000])
def test_rules(benchmark: Any, count: int) -> None:
    rules = [Rule(f"/area{i}/<path:rest>", scopes=["read"]) for i in range(count)]
    app = JWTMiddleware(hello, key=SECRET, algorithms=["HS256"], rules=rules)
    environ = environ_for(token({"scope": "read"}), path=f"/area{count - 1}/item")
    run(benchmark, "rules", count, lambda: request(app, environ))


@pytest.mark.parametrize("count", [10, 100_000])
def test_distinct_paths(benchmark: Any, count: int) -> None:
    rules = [Rule("/items/<int:id>", scopes=["read"]), Rule("/health", auth="public")]
    app = JWTMiddleware(hello, key=SECRET, algorithms=["HS256"], rules=rules)
    base = environ_for(token({"scope": "read"}))
    paths = (f"/items/{i}" for i in range(count))
    environs = itertools.cycle(
        [{**base, "PATH_INFO": p, "REQUEST_URI": p, "RAW_URI": p} for p in paths]
    )
    run(benchmark, "paths", count, lambda: request(app, next(environs)))
    assert len(app.rules._memo) <= app.rules._memo_size


def hmac_key_set(count: int) -> dict[str, Any]:
    def jwk(i: int) -> dict[str, str]:
        secret = f"{SECRET}-{i}".encode()
        return {"kty": "oct", "kid": f"k{i}", "k": base64.urlsafe_b64encode(secret).decode()}

    return {"keys": [jwk(i) for i in range(count)]}


@pytest.mark.parametrize("count", [1, 200])
def test_keys_in_a_set(benchmark: Any, count: int) -> None:
    app = JWTMiddleware(hello, key=hmac_key_set(count), algorithms=["HS256"], cache_size=0)
    last = f"{SECRET}-{count - 1}"
    environ = environ_for(token(key=last, kid=f"k{count - 1}"))
    run(benchmark, "keys", count, lambda: request(app, environ))


@pytest.mark.parametrize("count", [1, 2, 20])
def test_providers(benchmark: Any, count: int) -> None:
    providers = [
        Provider(f"p{i}", issuer=f"https://issuer{i}.example", key=f"{SECRET}-{i}",
                 algorithms=["HS256"])
        for i in range(count)
    ]  # fmt: skip
    app = JWTMiddleware(hello, Authenticator(providers, cache_size=0))
    last = count - 1
    environ = environ_for(token({"iss": f"https://issuer{last}.example"}, key=f"{SECRET}-{last}"))
    run(benchmark, "providers", count, lambda: request(app, environ))


CACHE_SIZE = 256


@pytest.mark.parametrize("factor", [1, 10])
def test_working_set_of_tokens(benchmark: Any, factor: int) -> None:
    app = JWTMiddleware(hello, key=SECRET, algorithms=["HS256"], cache_size=CACHE_SIZE)
    tokens = [token({"sub": f"user{i}"}) for i in range(CACHE_SIZE * factor)]
    environs = itertools.cycle([environ_for(t) for t in tokens])
    run(benchmark, "tokens-x-cache", factor, lambda: request(app, next(environs)))
    assert len(app.cache) <= CACHE_SIZE
