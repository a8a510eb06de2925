"""What a DPoP proof adds to a request, against a plain bearer token's cache miss.

A proof is a signature verification on every request by design (a new proof
each time), so a DPoP request costs about what a bearer cache miss costs. The
cases run in alternating rounds (:func:`interleaved`) with an ES256 access
token and ES256 proofs, each request with a proof made beforehand; the clock
is frozen so no proof goes stale while the rounds run:

* ``bare``: the app alone;
* ``bearer-hit`` and ``bearer-miss``: a plain bearer token, cached or not;
* ``dpop-hit``: a DPoP-bound token (cached) with a fresh proof, replay ids in memory;
* ``dpop-redis``: the same with replay ids in Redis (one ``SET NX`` round trip);
* ``dpop-nonce``: the same as ``dpop-hit`` with server nonces.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric import ec
from werkzeug.test import EnvironBuilder

from jwt_wsgi import DPoP, DPoPNonces, JWTMiddleware, Minter, RedisRevocationStore
from jwt_wsgi.testing import DPoPKey

from .test_request_overhead import hello, request, timed_interleaved

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

NOW = 1_800_000_000.0
BASE = "https://api.example.com"


def test_dpop_cost_against_a_bearer_miss(benchmark: Any, redis_url: str) -> None:
    benchmark.group = "dpop-ES256"
    benchmark.extra_info["case"] = "dpop"
    rounds, number = (2, 10) if benchmark.disabled else (15, 200)
    needed = (rounds + 1) * number + 10

    signing = ec.generate_private_key(ec.SECP256R1())
    minter = Minter(signing, "ES256", expires_in=3600, clock=lambda: NOW)
    client = DPoPKey(clock=lambda: NOW)
    bound = minter.mint("alice", {"cnf": {"jkt": client.jkt}})
    plain = minter.mint("alice")
    nonces = DPoPNonces(b"n" * 32, clock=lambda: NOW)
    redis = RedisRevocationStore.from_url(redis_url, prefix="bench-dpop:", mirror=False)

    def middleware(**options: Any) -> JWTMiddleware:
        return JWTMiddleware(hello, key=signing.public_key(), algorithms=["ES256"],
                             clock=lambda: NOW, dpop="allowed", **options)  # fmt: skip

    def environ(token: str, scheme: str = "Bearer", proof: str | None = None) -> WSGIEnvironment:
        headers = [("Authorization", f"{scheme} {token}")]
        if proof is not None:
            headers.append(("DPoP", proof))
        built: WSGIEnvironment = EnvironBuilder(path="/hello", headers=headers).get_environ()
        return built

    def proofs(nonce: str | None = None) -> Iterator[WSGIEnvironment]:
        made = [client.proof("GET", BASE + "/hello", bound, nonce=nonce) for _ in range(needed)]
        return iter([environ(bound, "DPoP", proof) for proof in made])

    def steady(app: JWTMiddleware, environs: Iterator[WSGIEnvironment]) -> Callable[[], bytes]:
        return lambda: request(app, next(environs))

    miss_app = middleware(dpop_proofs=DPoP(BASE), cache_size=16)
    misses = itertools.cycle([environ(minter.mint(f"user{i}")) for i in range(64)])
    hit_app = middleware(dpop_proofs=DPoP(BASE))
    hit_environ = environ(plain)
    steps = {
        "bare": lambda: request(hello, hit_environ),
        "bearer-hit": lambda: request(hit_app, hit_environ),
        "bearer-miss": lambda: request(miss_app, next(misses)),
        "dpop-hit": steady(middleware(dpop_proofs=DPoP(BASE)), proofs()),
        "dpop-redis": steady(middleware(dpop_proofs=DPoP(BASE, replay=redis)), proofs()),
        "dpop-nonce": steady(
            middleware(dpop_proofs=DPoP(BASE, nonces=nonces)), proofs(nonces.current())
        ),
    }
    try:
        for step in steps.values():
            assert step() == b"hello"  # each case passes, and (below) keeps passing
        best = timed_interleaved(benchmark, steps, rounds=rounds, number=number)
    finally:
        redis.close()
    benchmark.extra_info["dpop_us"] = {name: seconds * 1e6 for name, seconds in best.items()}
