"""The principal loader: the user behind the claims, once per request, never a 500."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import pytest

from jwt_wsgi import ConfigurationError, JWTMiddleware, Rule
from jwt_wsgi.errors import ClaimMismatch, PrincipalUnavailable, UnknownPrincipal

from .helpers import SECRET, Clock, Refusals, ValidatingClient, make_token


@dataclass
class User:
    name: str


class Directory:
    """A user store that counts its look-ups and can be broken."""

    def __init__(self) -> None:
        self.users = {"alice": User("alice")}
        self.calls: list[dict[str, Any]] = []
        self.down = False

    def __call__(self, claims: dict[str, Any]) -> User | None:
        self.calls.append(claims)
        if self.down:
            raise ConnectionError(f"user store down while loading {claims['sub']}")
        if claims["sub"] == "disabled":
            raise ClaimMismatch("the account is disabled")
        return self.users.get(claims["sub"])


def whoami(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    principal = environ.get("jwt.principal", "absent")
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [repr(principal).encode()]


def build(directory: Directory, clock: Clock, refusals: Refusals) -> JWTMiddleware:
    return JWTMiddleware(
        whoami,
        key=SECRET,
        algorithms=["HS256"],
        clock=clock,
        on_error=refusals,
        principal=directory,
        rules=[
            Rule("/public", auth="public"),
            Rule("/maybe", auth="optional"),
            Rule("/admin", claims={"roles": "admin"}),
        ],
    )


def bearer(sub: str, **claims: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_token({'sub': sub, **claims})}"}


def test_the_user_is_loaded_once_and_handed_to_the_app(clock: Clock) -> None:
    directory, refusals = Directory(), Refusals()
    client = ValidatingClient(build(directory, clock, refusals))
    answer = client.get("/", headers=bearer("alice"))
    assert answer.status_code == 200 and answer.text == "User(name='alice')"
    assert len(directory.calls) == 1 and directory.calls[0]["sub"] == "alice"


def test_no_token_no_look_up(clock: Clock) -> None:
    directory, refusals = Directory(), Refusals()
    client = ValidatingClient(build(directory, clock, refusals))
    assert client.get("/public").text == "None"
    assert client.get("/maybe").text == "None"
    assert directory.calls == []


def test_an_unknown_user_is_a_401(clock: Clock) -> None:
    directory, refusals = Directory(), Refusals()
    client = ValidatingClient(build(directory, clock, refusals))
    answer = client.get("/", headers=bearer("mallory"))
    assert answer.status_code == 401 and refusals.last() is UnknownPrincipal
    assert answer.get_json()["error"] == "invalid_token"


def test_a_broken_user_store_is_a_503_and_logged_without_the_token(
    clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    directory, refusals = Directory(), Refusals()
    directory.down = True
    client = ValidatingClient(build(directory, clock, refusals))
    headers = bearer("alice")
    with caplog.at_level(logging.ERROR, logger="jwt_wsgi"):
        answer = client.get("/", headers=headers)
    assert answer.status_code == 503 and refusals.last() is PrincipalUnavailable
    assert answer.headers["Retry-After"] == "1"
    assert "the principal loader raised" in caplog.text and "ConnectionError" in caplog.text
    assert headers["Authorization"].split()[1] not in caplog.text


def test_a_loader_may_refuse_with_its_own_reason(clock: Clock) -> None:
    directory, refusals = Directory(), Refusals()
    client = ValidatingClient(build(directory, clock, refusals))
    answer = client.get("/", headers=bearer("disabled"))
    assert answer.status_code == 403 and refusals.last() is ClaimMismatch


def test_a_request_its_rule_refuses_loads_no_user(clock: Clock) -> None:
    directory, refusals = Directory(), Refusals()
    client = ValidatingClient(build(directory, clock, refusals))
    assert client.get("/admin", headers=bearer("alice")).status_code == 403
    assert directory.calls == []
    assert client.get("/admin", headers=bearer("alice", roles="admin")).status_code == 200
    assert len(directory.calls) == 1


def test_without_a_loader_no_key_is_set(clock: Clock) -> None:
    mw = JWTMiddleware(whoami, key=SECRET, algorithms=["HS256"], clock=clock)
    assert ValidatingClient(mw).get("/", headers=bearer("alice")).text == "'absent'"


def test_a_loader_must_be_callable() -> None:
    with pytest.raises(ConfigurationError, match="principal must be a callable"):
        JWTMiddleware(whoami, key=SECRET, algorithms=["HS256"], principal="users")  # type: ignore[arg-type]
