"""Signing keys shared by every worker: one current key, rotations seen by all."""

from __future__ import annotations

import multiprocessing
import os
import stat
import uuid
from pathlib import Path
from typing import Any

import jwt
import pytest

from jwt_wsgi import (
    Authenticator,
    ConfigurationError,
    FileKeyStore,
    Minter,
    Provider,
    RedisKeyStore,
    jwks_app,
)
from jwt_wsgi.errors import KeyStoreUnavailable, UnknownKey

from .fixtures.redis_servers import RedisClusterNodes, RedisServer, SentinelGroup
from .helpers import Clock


def _first_kid(directory: str) -> str:
    kid = FileKeyStore(directory).keys()[0].kid
    assert kid is not None
    return kid


@pytest.mark.slow
def test_workers_starting_together_make_one_first_key(tmp_path: Path) -> None:
    directory = str(tmp_path / "keys")
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        kids = pool.map(_first_kid, [directory] * 8)
    assert len(set(kids)) == 1
    assert len(list((tmp_path / "keys").glob("*.pem"))) == 1


def test_a_rotation_in_one_worker_reaches_the_others(tmp_path: Path) -> None:
    one, two = FileKeyStore(tmp_path), FileKeyStore(tmp_path)
    minter_one, minter_two = Minter(key_store=one), Minter(key_store=two)
    assert minter_one.current.kid == minter_two.current.kid
    old = minter_two.mint("alice")
    new_kid = minter_one.rotate()
    assert minter_two.current.kid == new_kid
    assert jwt.get_unverified_header(minter_two.mint("alice"))["kid"] == new_kid
    assert minter_one.jwks() == minter_two.jwks() and len(minter_two.jwks()["keys"]) == 2
    # Both verify both, through the minter's own key source.
    auth = Authenticator(Provider("self", ["ES256"], key=minter_two.key_source()))
    assert auth.authenticate(old).provider == "self"
    old_kid = jwt.get_unverified_header(old)["kid"]
    minter_two.retire(old_kid)
    assert [k["kid"] for k in minter_one.jwks()["keys"]] == [new_kid]
    auth = Authenticator(Provider("self", ["ES256"], key=minter_one.key_source()))
    with pytest.raises(UnknownKey):
        auth.authenticate(old)


def test_the_minter_key_source_follows_rotations_after_its_recheck(tmp_path: Path) -> None:
    clock = Clock()
    minter = Minter(key_store=FileKeyStore(tmp_path), clock=clock)
    other = Minter(key_store=FileKeyStore(tmp_path), clock=clock)
    auth = Authenticator(Provider("self", ["ES256"], key=minter.key_source()), clock=clock)
    other.rotate()
    token = other.mint("alice")
    # An unknown kid makes the source look at once: no request waits a recheck.
    assert auth.authenticate(token).claims["sub"] == "alice"


def test_keys_are_private_files(tmp_path: Path) -> None:
    store = FileKeyStore(tmp_path / "k")
    assert stat.S_IMODE(os.stat(tmp_path / "k").st_mode) == 0o700
    for path in (tmp_path / "k").glob("*.pem"):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert store.keys()[0].algorithm == "ES256"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s: s.retire(s.keys()[0].kid or ""), "current key cannot be retired"),
        (lambda s: s.retire("../CURRENT"), "holds no key"),
        (lambda s: s.retire("missing"), "holds no key"),
        (lambda s: s.rotate(algorithm="RS256"), "holds ES256 keys"),
        (lambda s: s.rotate(kid="../escape"), "unusable as a file name"),
    ],
)
def test_bad_store_operations(tmp_path: Path, call: object, message: str) -> None:
    store = FileKeyStore(tmp_path)
    with pytest.raises(ConfigurationError, match=message):
        call(store)  # type: ignore[operator]


def test_secrets_are_not_kept_in_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="asymmetric"):
        FileKeyStore(tmp_path, algorithm="HS256")


def test_a_minter_takes_a_key_or_a_store(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="one of the two"):
        Minter()
    with pytest.raises(ConfigurationError, match="one of the two"):
        Minter("s" * 64, key_store=FileKeyStore(tmp_path))


def test_retire_cannot_reach_outside_the_directory(tmp_path: Path) -> None:
    outside = tmp_path / "outside.pem"
    outside.write_text("not a key of the store")
    store = FileKeyStore(tmp_path / "keys")
    with pytest.raises(ConfigurationError, match="holds no key"):
        store.retire("../outside")
    assert outside.exists()


def _first_redis_kid(arguments: tuple[str, str]) -> str:
    url, prefix = arguments
    kid = RedisKeyStore.from_url(url, prefix=prefix).keys()[0].kid
    assert kid is not None
    return kid


def test_redis_key_store_across_processes_and_rotations(redis_url: str) -> None:
    prefix = f"test:{uuid.uuid4().hex}:"
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        kids = pool.map(_first_redis_kid, [(redis_url, prefix)] * 8)
    assert len(set(kids)) == 1  # workers starting together make one first key
    one = Minter(key_store=RedisKeyStore.from_url(redis_url, prefix=prefix))
    two = Minter(key_store=RedisKeyStore.from_url(redis_url, prefix=prefix))
    old = two.mint("alice")
    new_kid = one.rotate()
    assert two.current.kid == new_kid and one.jwks() == two.jwks()
    auth = Authenticator(Provider("self", ["ES256"], key=two.key_source()))
    assert auth.authenticate(old).claims["sub"] == "alice"
    two.retire(kids[0])
    assert [k["kid"] for k in one.jwks()["keys"]] == [new_kid]
    with pytest.raises(ConfigurationError, match="current key cannot be retired"):
        one.retire(new_kid)
    with pytest.raises(ConfigurationError, match="holds no key"):
        one.retire("missing")


@pytest.mark.parametrize("algorithm", ["RS256", "PS384", "ES384", "ES512", "ES256K", "EdDSA"])
def test_every_asymmetric_algorithm_gets_a_key_of_its_own(algorithm: str, tmp_path: Path) -> None:
    minter = Minter(key_store=FileKeyStore(tmp_path, algorithm=algorithm))
    token = minter.mint("alice")
    auth = Authenticator(Provider("self", [algorithm], key=minter.key_source()))
    assert auth.authenticate(token).claims["sub"] == "alice"
    assert jwt.get_unverified_header(token)["kid"] == minter.current.kid


def test_a_store_whose_current_key_is_missing_is_refused(tmp_path: Path) -> None:
    store = FileKeyStore(tmp_path)
    (tmp_path / "CURRENT").write_text("vanished")
    with pytest.raises(ConfigurationError, match="CURRENT names no key"):
        store.keys()


def test_secrets_are_not_generated(tmp_path: Path) -> None:
    from jwt_wsgi.jose.signing import generate_private_key

    with pytest.raises(ConfigurationError, match="secrets"):
        generate_private_key("HS256")
    with pytest.raises(ConfigurationError, match="asymmetric"):
        RedisKeyStore(None, algorithm="HS512")


# -- a Redis key store that Redis restarts, fails over or loses -----------------------


def kids(minter: Minter) -> set[str]:
    return {key["kid"] for key in minter.jwks()["keys"]}


def test_a_redis_restart_forgets_no_key(redis_server: RedisServer, caplog: Any) -> None:
    """Redis back empty: the live worker writes its keys back, and a worker started after
    the restart waits for that instead of making a first key of its own, so both publish
    one key set and every token signed before still verifies."""
    old = Minter(key_store=RedisKeyStore(redis_server.url, prefix="rk:"))
    old.rotate()
    before = kids(old)
    token = old.mint("alice")
    with caplog.at_level("WARNING", logger="jwt_wsgi"):
        redis_server.stop()
        redis_server.start()
        replacement = Minter(key_store=RedisKeyStore(redis_server.url, prefix="rk:"))
    assert "wrote back the 2 this process held" in caplog.text
    assert kids(replacement) == kids(old) == before
    assert replacement.current.kid == old.current.kid
    verifier = Authenticator(Provider("rk", ["ES256"], key=replacement.jwks()))
    assert verifier.authenticate(token).claims["sub"] == "alice"
    assert (
        Authenticator(Provider("rk", ["ES256"], key=old.jwks()))
        .authenticate(replacement.mint("bob"))
        .claims["sub"]
        == "bob"
    )
    for minter in (old, replacement):
        assert isinstance(minter.key_store, RedisKeyStore)
        minter.key_store.close()


def test_a_stamp_cannot_repeat_across_a_restart(redis_server: RedisServer) -> None:
    """The stamp is drawn at random, not counted: a store back from a restart with a new
    first key cannot wear the stamp a worker cached before it (the old "1" again)."""
    one = RedisKeyStore(redis_server.url, prefix="st:", first_key_wait=0)
    stamp = one.version()
    client = redis_server.client()
    assert client.get("st:version") == stamp and len(str(stamp)) > 16
    client.close()
    one.rotate()
    assert one.version() != stamp
    one.close()


def test_a_key_store_that_is_down(redis_server: RedisServer) -> None:
    """Unreachable: a worker that read the keys goes on signing with them (no change can
    happen without Redis); one that never did cannot sign, and its JWK Set is a 503."""
    held = Minter(key_store=RedisKeyStore(redis_server.url, prefix="dn:"))
    kid = held.current.kid
    redis_server.stop()
    assert jwt.get_unverified_header(held.mint("alice"))["kid"] == kid
    with pytest.raises(KeyStoreUnavailable):
        held.rotate()
    empty_store = RedisKeyStore(redis_server.url, prefix="dn:", timeout=0.2)
    with pytest.raises(KeyStoreUnavailable, match="no keys were read before"):
        Minter(key_store=empty_store).mint("alice")
    from werkzeug.test import Client

    class NoKeys(Minter):
        def __init__(self) -> None:
            self.key_store = empty_store

    reply = Client(jwks_app(NoKeys())).get("/.well-known/jwks.json")
    assert reply.status_code == 503 and reply.headers["Retry-After"] == "1"
    assert reply.get_json() == {
        "error": "temporarily_unavailable",
        "error_description": "the signing keys are unavailable",
    }
    redis_server.start()
    assert held.current.kid is not None
    for store in (held.key_store, empty_store):
        assert isinstance(store, RedisKeyStore)
        store.close()


def test_a_key_store_through_sentinel_survives_a_failover(sentinel_group: SentinelGroup) -> None:
    store = RedisKeyStore(sentinel_group.url, prefix="sk:")
    assert store.min_replicas == 1
    minter = Minter(key_store=store)
    new = minter.rotate()  # returned: the replica holds it
    before = kids(minter)
    store.close()
    sentinel_group.kill_primary_and_wait_for_failover()
    after = RedisKeyStore(sentinel_group.url, prefix="sk:", min_replicas=0, first_key_wait=0)
    assert kids(Minter(key_store=after)) == before and after.keys()[0].kid == new
    after.close()


def test_a_key_store_in_a_cluster(redis_cluster: RedisClusterNodes) -> None:
    store = RedisKeyStore(redis_cluster.url, min_replicas=0)
    assert store.prefix == "{jwt_wsgi:keys}:"
    minter = Minter(key_store=store)
    kid = minter.rotate()
    other = RedisKeyStore(redis_cluster.url, min_replicas=0)
    assert other.keys()[0].kid == kid and len(other.keys()) == 2
    with pytest.raises(ConfigurationError, match="hash tag"):
        RedisKeyStore(redis_cluster.url, prefix="keys:")
    store.close()
    other.close()
