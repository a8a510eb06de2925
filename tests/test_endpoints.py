"""A login's whole life through a real server on 127.0.0.1: refresh, reuse, logout, step-up."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

import jwt
import pytest
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from jwt_wsgi import (
    Authenticator,
    AuthError,
    Cookies,
    JWTMiddleware,
    LogoutEndpoint,
    MemoryRevocationStore,
    Minter,
    MissingToken,
    Policy,
    Provider,
    RedisRevocationStore,
    RefreshEndpoint,
    RevokedToken,
    Rule,
    StepUpRequired,
)
from jwt_wsgi.errors import (
    CsrfFailed,
    InvalidRequest,
    MalformedToken,
    MintingFailed,
    RefreshReused,
    StoreUnavailable,
    WrongTokenKind,
)
from jwt_wsgi.revocation import DenylistStore

from .helpers import NOW, SECRET, Clock, Refusals, Statuses, echo_app

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

COOKIES = Cookies(secure=False)


class Service:
    """Login, refresh, logout and an API, composed as an application would."""

    def __init__(self, store: DenylistStore, clock: Clock, **middleware: Any) -> None:
        self.clock = clock
        self.store = store
        self.minter = Minter(SECRET, expires_in=60, refresh_expires_in=3600, clock=clock)

        @self.minter.claims_loader
        def claims_for(identity: str) -> dict[str, Any]:
            # Refreshes run the loader again: claims follow the user's current roles.
            now = int(clock())
            return {"sub": identity, "iat": now, "exp": now + 60, "roles": "user"}

        self.refusals = Refusals()
        self.refresh = RefreshEndpoint(self.minter, store=store, cookies=COOKIES, grace=10)
        self.refresh_cookies = RefreshEndpoint(
            self.minter, store=store, cookies=COOKIES, respond="cookies"
        )
        self.refresh_both = RefreshEndpoint(
            self.minter, store=store, cookies=COOKIES, respond="both"
        )
        api = DispatcherMiddleware(
            echo_app,
            {
                "/auth/logout": LogoutEndpoint(store=store, cookies=COOKIES, minter=self.minter),
                "/auth/logout-everywhere": LogoutEndpoint(
                    store=store, cookies=COOKIES, everywhere=True, minter=self.minter
                ),
            },
        )
        middleware.setdefault("rules", [])
        middleware.setdefault("locations", ["header", "cookie"])
        guard = JWTMiddleware(
            api,
            key=SECRET,
            algorithms=["HS256"],
            revocation=store,
            cookies=COOKIES,
            clock=clock,
            on_error=self.refusals,
            **middleware,
        )
        self.app = DispatcherMiddleware(
            guard,
            {
                "/auth/login": self.login,
                "/auth/refresh": self.refresh,
                "/auth/refresh-cookies": self.refresh_cookies,
                "/auth/refresh-both": self.refresh_both,
            },
        )

    def login(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        pair = self.minter.mint_pair("alice")
        body = json.dumps({"access_token": pair.access_token, "refresh_token": pair.refresh_token})
        cookies = COOKIES.set(pair.access_token, pair.refresh_token, now=self.clock())
        start_response("200 OK", [("Content-Type", "application/json"), *cookies])
        return [body.encode()]


@pytest.fixture(params=["memory", "redis"])
def store(request: pytest.FixtureRequest, clock: Clock) -> Iterator[DenylistStore]:
    if request.param == "memory":
        yield MemoryRevocationStore(clock=clock)
        return
    url = request.getfixturevalue("redis_url")
    redis_store = RedisRevocationStore.from_url(
        url, prefix=f"test:{uuid.uuid4().hex}:", clock=clock
    )
    yield redis_store
    redis_store.close()


@pytest.fixture
def service(store: DenylistStore, clock: Clock) -> Service:
    return Service(store, clock)


@pytest.fixture
def url(service: Service, serve: Any) -> str:
    return str(serve(service.app))


class Reply:
    """One HTTP answer, with every header kept (Set-Cookie repeats)."""

    def __init__(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body: Any = json.loads(body) if body else None

    def header(self, name: str) -> str:
        return next(v for k, v in self.headers if k.lower() == name.lower())

    def cookies(self) -> dict[str, str]:
        """The cookies set, by name (a deletion sets the empty string)."""
        from http.cookies import SimpleCookie

        jar: dict[str, str] = {}
        for name, value in self.headers:
            if name.lower() == "set-cookie":
                parsed: SimpleCookie = SimpleCookie()
                parsed.load(value)
                jar.update({k: m.value for k, m in parsed.items()})
        return jar

    def __iter__(self) -> Iterator[Any]:  # status, headers, body, for unpacking
        return iter((self.status, dict(self.headers), self.body))


def call(
    url: str,
    path: str,
    *,
    method: str = "GET",
    token: str | None = None,
    body: Any = None,
    headers: dict[str, str] | None = None,
    raw: bytes | None = None,
) -> Reply:
    import http.client
    from urllib.parse import urlsplit

    sent = dict(headers or {})
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    data = raw
    if body is not None:
        data = json.dumps(body).encode()
        sent["Content-Type"] = "application/json"
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
    try:
        conn.request(method, path, body=data, headers=sent)
        response = conn.getresponse()
        return Reply(response.status, response.getheaders(), response.read())
    finally:
        conn.close()


def login(url: str) -> dict[str, str]:
    reply = call(url, "/auth/login", method="POST")
    assert reply.status == 200
    return dict(reply.body)


def refresh(url: str, refresh_token: str) -> tuple[int, Any]:
    reply = call(url, "/auth/refresh", method="POST", body={"refresh_token": refresh_token})
    return reply.status, reply.body


def test_a_refresh_token_is_refused_on_api_paths(url: str, service: Service) -> None:
    pair = login(url)
    assert call(url, "/api", token=pair["access_token"]).status == 200
    assert call(url, "/api", token=pair["refresh_token"]).status == 401
    assert service.refusals.last() is WrongTokenKind


def test_refresh_rotates_and_the_new_pair_works(url: str, service: Service) -> None:
    pair = login(url)
    status, body = refresh(url, pair["refresh_token"])
    assert status == 200
    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert body["refresh_token"] != pair["refresh_token"] and body["expires_in"] == 60
    reply = call(url, "/api", token=body["access_token"])
    assert reply.status == 200 and reply.body["claims"]["roles"] == "user"
    data = reply.body
    # The new access token continues the login: same family, the login's auth_time.
    first = call(url, "/api", token=pair["access_token"]).body["claims"]
    assert data["claims"]["fam"] == first["fam"]
    assert data["claims"]["auth_time"] == first["auth_time"]
    assert refresh(url, body["refresh_token"])[0] == 200


def test_a_replayed_refresh_token_revokes_the_whole_family(
    url: str, service: Service, clock: Clock
) -> None:
    pair = login(url)
    status, rotated = refresh(url, pair["refresh_token"])
    assert status == 200
    clock.now += 11  # past the grace
    status, body = refresh(url, pair["refresh_token"])  # a stolen copy comes back
    assert status == 401 and body["error"] == "invalid_token"
    assert service.refresh.authenticator  # (the endpoint answered, not the API)
    # Everything of that login is dead: the old and the new access tokens,
    # and the refresh token the rotation gave.
    for token in (pair["access_token"], rotated["access_token"]):
        assert call(url, "/api", token=token).status == 401
        assert service.refusals.last() is RevokedToken
    assert refresh(url, rotated["refresh_token"])[0] == 401
    # Another login is not affected.
    other = login(url)
    assert call(url, "/api", token=other["access_token"]).status == 200


def test_reuse_is_refused_with_its_own_class(service: Service, clock: Clock) -> None:
    refusals: list[type[AuthError]] = []
    pair = service.minter.mint_pair("alice")
    assert post_refresh(service.refresh, pair.refresh_token)[0] == "200 OK"
    clock.now += 11
    status, body = post_refresh(service.refresh, pair.refresh_token, refusals)
    assert status.startswith("401") and body["error_description"] == RefreshReused().description


def post_refresh(
    app: Any, token: str, refusals: list[type[AuthError]] | None = None
) -> tuple[str, Any]:
    import io

    data = json.dumps({"refresh_token": token}).encode()
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(data)),
        "wsgi.input": io.BytesIO(data),
    }
    seen: list[str] = []
    body = b"".join(app(environ, lambda status, headers, exc=None: seen.append(status)))
    return seen[0], json.loads(body) if body else None


def test_two_tabs_refreshing_at_once_stay_logged_in(url: str, service: Service) -> None:
    """Concurrent use of one refresh token within the grace is not reuse."""
    pair = login(url)
    results: list[tuple[int, Any]] = []
    barrier = threading.Barrier(4)

    def tab(_: int) -> None:
        barrier.wait()
        results.append(refresh(url, pair["refresh_token"]))

    threads = [threading.Thread(target=tab, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [status for status, _ in results] == [200] * 4
    for _, body in results:
        assert call(url, "/api", token=body["access_token"]).status == 200
        assert refresh(url, body["refresh_token"])[0] == 200


def test_refresh_by_cookie_needs_csrf_and_answers_with_cookies(url: str) -> None:
    jar = call(url, "/auth/login", method="POST").cookies()
    assert set(jar) == {"access_token", "csrf_access_token", "refresh_token", "csrf_refresh_token"}
    cookie = "; ".join(f"{k}={v}" for k, v in jar.items())
    no_csrf = call(url, "/auth/refresh-cookies", method="POST", headers={"Cookie": cookie})
    assert no_csrf.status == 403 and no_csrf.body["error"] == "csrf_failed"
    reply = call(
        url,
        "/auth/refresh-cookies",
        method="POST",
        headers={"Cookie": cookie, "X-CSRF-Token": jar["csrf_refresh_token"]},
    )
    assert reply.status == 200
    assert "access_token" not in reply.body and "refresh_token" not in reply.body
    fresh = reply.cookies()
    assert set(fresh) == set(jar) and fresh["refresh_token"] != jar["refresh_token"]
    assert "HttpOnly" in next(
        v for k, v in reply.headers if k == "Set-Cookie" and v.startswith("refresh_token=")
    )
    assert "HttpOnly" not in next(
        v for k, v in reply.headers if k == "Set-Cookie" and v.startswith("csrf_refresh_token=")
    )
    assert (
        call(url, "/api", headers={"Cookie": f"access_token={fresh['access_token']}"}).status == 200
    )


@pytest.mark.parametrize(
    ("make_request", "status", "refusal"),
    [
        pytest.param(
            lambda p: {"body": {"refresh_token": p["access_token"]}},
            401,
            WrongTokenKind,
            id="access-token",
        ),
        pytest.param(
            lambda p: {"body": {"refresh_token": "not.a.jwt"}}, 401, MalformedToken, id="garbage"
        ),
        pytest.param(
            lambda p: {"body": {"refresh_token": 5}}, 400, InvalidRequest, id="not-a-string"
        ),
        pytest.param(lambda p: {"body": {}}, 401, MissingToken, id="missing"),
        pytest.param(
            lambda p: {"body": {"refresh_token": p["refresh_token"]}, "token": p["access_token"]},
            400,
            InvalidRequest,
            id="two-tokens",
        ),
        pytest.param(
            # A valid refresh token in a body over the limit: refused unread.
            lambda p: {
                "raw": json.dumps(
                    {"refresh_token": p["refresh_token"], "pad": "x" * 20_000}
                ).encode(),
                "headers": {"Content-Type": "application/json"},
            },
            400,
            InvalidRequest,
            id="oversize-body",
        ),
        pytest.param(
            lambda p: {"raw": b"{not json", "headers": {"Content-Type": "application/json"}},
            400,
            InvalidRequest,
            id="broken-json",
        ),
        pytest.param(
            lambda p: {"headers": {"Cookie": "refresh_token=" + "x" * 9000}},
            401,
            MalformedToken,
            id="oversize-cookie",
        ),
    ],
)
def test_bad_input_at_the_refresh_endpoint_is_a_clear_4xx(
    url: str, service: Service, make_request: Any, status: int, refusal: type[AuthError]
) -> None:
    pair = login(url)
    spec = make_request(pair)
    reply = call(url, "/auth/refresh", method="POST", **spec)
    assert reply.status == status
    assert reply.body["error"] == refusal.body_error


def test_the_refresh_endpoint_answers_post_only(url: str) -> None:
    status, headers, body = call(url, "/auth/refresh")
    assert status == 405 and headers["Allow"] == "POST"
    assert body["error"] == "method_not_allowed"


def test_logout_ends_the_login_and_clears_cookies(url: str, service: Service) -> None:
    pair = login(url)
    reply = call(url, "/auth/logout", method="POST", token=pair["access_token"])
    assert reply.status == 204
    assert reply.cookies() == dict.fromkeys(
        ["access_token", "csrf_access_token", "refresh_token", "csrf_refresh_token"], ""
    )
    assert call(url, "/api", token=pair["access_token"]).status == 401
    assert service.refusals.last() is RevokedToken
    assert refresh(url, pair["refresh_token"])[0] == 401  # the family went with it


def test_logout_everywhere_ends_every_login_of_the_subject(
    url: str, service: Service, clock: Clock
) -> None:
    logins = [login(url) for _ in range(3)]
    clock.now += 1
    reply = call(url, "/auth/logout-everywhere", method="POST", token=logins[0]["access_token"])
    assert reply.status == 204
    for pair in logins:
        assert call(url, "/api", token=pair["access_token"]).status == 401
        assert refresh(url, pair["refresh_token"])[0] == 401
    clock.now += 1
    again = login(url)  # a login after the logout works
    assert call(url, "/api", token=again["access_token"]).status == 200


def test_logout_without_a_token_is_refused(url: str) -> None:
    assert call(url, "/auth/logout", method="POST").status == 401


def test_tokens_without_a_jti_are_revocable_by_digest(store: DenylistStore, clock: Clock) -> None:
    minter = Minter(SECRET, clock=clock)

    @minter.claims_loader
    def loader(identity: str) -> dict[str, Any]:
        return {"sub": identity, "exp": clock.now + 60}  # no jti, as the seed's loader

    token = minter.mint("alice")
    app = JWTMiddleware(echo_app, key=SECRET, algorithms=["HS256"], revocation=store, clock=clock)
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "HTTP_AUTHORIZATION": f"Bearer {token}"}
    statuses = Statuses()
    list(app(dict(environ), statuses))
    store.revoke_token(token)
    list(app(dict(environ), statuses))
    assert statuses.seen == ["200 OK", "401 Unauthorized"]


class TestStepUp:
    """RFC 9470: fresh=, max_age= and acr= answer insufficient_user_authentication."""

    @pytest.fixture
    def app_url(self, serve: Any, clock: Clock) -> Iterator[tuple[str, Minter]]:
        minter = Minter(SECRET, expires_in=3600, clock=clock)
        self.refusals = Refusals()
        app = JWTMiddleware(
            echo_app,
            key=SECRET,
            algorithms=["HS256"],
            clock=clock,
            on_error=self.refusals,
            rules=[
                Rule("/password", ["POST"], fresh=True),
                Rule("/payments", max_age=60, acr=["urn:mfa"]),
            ],
        )
        yield serve(app), minter

    def test_fresh_for_fifteen_minutes_after_login(
        self, app_url: tuple[str, Minter], clock: Clock
    ) -> None:
        url, minter = app_url
        login = minter.mint("alice", fresh=True)
        assert call(url, "/password", method="POST", token=login).status == 200
        clock.now += 901
        status, headers, body = call(url, "/password", method="POST", token=login)
        assert status == 401 and self.refusals.last() is StepUpRequired
        assert 'error="insufficient_user_authentication"' in headers["WWW-Authenticate"]
        assert 'max_age="900"' in headers["WWW-Authenticate"]
        assert body["max_age"] == "900"
        assert call(url, "/password", method="POST", token=minter.mint("alice")).status == 401

    def test_acr_and_max_age_together(self, app_url: tuple[str, Minter], clock: Clock) -> None:
        url, minter = app_url
        weak = minter.mint("alice", {"acr": "urn:password"}, fresh=True)
        status, headers, _ = call(url, "/payments", token=weak)
        assert status == 401 and 'acr_values="urn:mfa"' in headers["WWW-Authenticate"]
        strong = minter.mint("alice", {"acr": "urn:mfa"}, fresh=True)
        assert call(url, "/payments", token=strong).status == 200
        clock.now += 61
        assert call(url, "/payments", token=strong).status == 401


def test_a_policy_holds_on_every_path_whatever_rule_matches(clock: Clock) -> None:
    """A catch-all rule is bypassed by more specific rules; a policy is not."""
    from .helpers import ValidatingClient, make_token

    refusals = Refusals()
    app = JWTMiddleware(
        echo_app,
        key=SECRET,
        algorithms=["HS256"],
        clock=clock,
        on_error=refusals,
        policy=Policy(claims={"tenant": "acme"}),
        rules=[Rule("/<path:rest>"), Rule("/reports/<path:rest>", scopes=["reports"])],
    )
    client = ValidatingClient(app)
    other_tenant = make_token({"tenant": "evil", "scope": "reports"})
    assert (
        client.get("/reports/q1", headers={"Authorization": f"Bearer {other_tenant}"}).status_code
        == 403
    )
    good = make_token({"tenant": "acme", "scope": "reports"})
    assert client.get("/reports/q1", headers={"Authorization": f"Bearer {good}"}).status_code == 200


def test_a_rule_written_for_refresh_tokens_accepts_them(clock: Clock) -> None:
    from .helpers import ValidatingClient

    minter = Minter(SECRET, clock=clock)
    pair = minter.mint_pair("alice")
    app = JWTMiddleware(
        echo_app,
        key=SECRET,
        algorithms=["HS256"],
        clock=clock,
        rules=[Rule("/token-info", kinds=["refresh", "access"])],
    )
    client = ValidatingClient(app)
    for token in (pair.refresh_token, pair.access_token):
        assert (
            client.get("/token-info", headers={"Authorization": f"Bearer {token}"}).status_code
            == 200
        )
    assert (
        client.get("/other", headers={"Authorization": f"Bearer {pair.refresh_token}"}).status_code
        == 401
    )


def test_a_refresh_token_known_by_its_typ_header_alone_is_a_refresh_token(clock: Clock) -> None:
    """Explicit typing (RFC 8725 3.11): typ refresh+jwt without a type claim."""
    import jwt as pyjwt

    from .helpers import ValidatingClient

    token = pyjwt.encode(
        {"sub": "alice", "exp": int(clock.now) + 60}, SECRET, headers={"typ": "refresh+jwt"}
    )
    refusals = Refusals()
    app = JWTMiddleware(echo_app, key=SECRET, algorithms=["HS256"], clock=clock, on_error=refusals)
    response = ValidatingClient(app).get("/", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401 and refusals.last() is WrongTokenKind


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda s: RefreshEndpoint("minter", store=s), "minter must be a Minter"),  # type: ignore[arg-type]
        (lambda s: RefreshEndpoint(Minter(SECRET), store={}), "store must be"),  # type: ignore[arg-type]
        (lambda s: RefreshEndpoint(Minter(SECRET), store=s, authenticator=5), "Authenticator"),  # type: ignore[arg-type]
        (lambda s: RefreshEndpoint(Minter(SECRET), store=s, respond="xml"), "respond"),  # type: ignore[arg-type]
        (lambda s: RefreshEndpoint(Minter(SECRET), store=s, grace=-1), "grace"),
        (lambda s: LogoutEndpoint(store=[]), "store must be"),  # type: ignore[arg-type]
        (lambda s: LogoutEndpoint(store=s, everywhere="yes"), "everywhere"),  # type: ignore[arg-type]
    ],
)
def test_session_endpoint_options_are_checked(make: Any, message: str) -> None:
    from jwt_wsgi import ConfigurationError

    with pytest.raises(ConfigurationError, match=message):
        make(MemoryRevocationStore())


def test_a_form_body_and_a_bad_content_length(url: str) -> None:
    pair = login(url)
    form = f"refresh_token={pair['refresh_token']}".encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    assert call(url, "/auth/refresh", method="POST", raw=form, headers=headers).status == 200
    odd = {"Content-Type": "text/plain"}  # a body of another type carries no token
    assert call(url, "/auth/refresh", method="POST", raw=b"hello", headers=odd).status == 401
    import io

    environ = {
        "REQUEST_METHOD": "POST",
        "CONTENT_LENGTH": "a lot",
        "CONTENT_TYPE": "application/json",
        "wsgi.input": io.BytesIO(b"{}"),
    }
    statuses = Statuses()
    app = RefreshEndpoint(Minter(SECRET), store=MemoryRevocationStore())
    assert b"Content-Length" in b"".join(app(environ, statuses))
    assert statuses.seen == ["400 Bad Request"]


def test_a_memory_store_forgets_what_expired(clock: Clock) -> None:
    store = MemoryRevocationStore(clock=clock)
    store.revoke_family("f", expires_at=clock.now + 10)
    assert store.first_use("j", expires_at=clock.now + 10) is None
    assert store.first_use("j") == clock.now
    assert store.is_revoked({"fam": "f"})
    clock.now += 11
    store.revoke("other")  # writes purge what expired
    assert not store.is_revoked({"fam": "f"}) and store.first_use("j") is None
    for bad in ({"sub": None}, {"fam": ""}):
        from jwt_wsgi import ConfigurationError

        with pytest.raises(ConfigurationError):
            if "sub" in bad:
                store.revoke_before()
            else:
                store.revoke_family("")


def test_a_redis_store_that_is_down_says_so(redis_server: Any) -> None:
    from jwt_wsgi import RevocationUnavailable

    # Unmirrored, so the check asks Redis (a mirror's is covered in test_revocation).
    store = RedisRevocationStore.from_url(redis_server.url, timeout=0.2, mirror=False)
    redis_server.stop()
    for call_store in (
        lambda: store.revoke_family("f"),
        lambda: store.first_use("j"),
        lambda: store.is_revoked({"jti": "j"}),
    ):
        with pytest.raises(RevocationUnavailable):
            call_store()
    store.close()


# -- the token's life under attack ----------------------------------------------------


def form(token: str) -> dict[str, Any]:
    """A plain HTML form's POST carrying ``token``: what another site can make a browser send."""
    return {
        "raw": f"refresh_token={token}".encode(),
        "headers": {"Content-Type": "application/x-www-form-urlencoded"},
    }


@pytest.mark.parametrize("path", ["/auth/refresh-cookies", "/auth/refresh-both"])
def test_login_csrf_a_form_with_the_attackers_refresh_token_sets_no_cookie(
    url: str, service: Service, path: str
) -> None:
    """RFC 6749 section 10.12: a cross-site form posting the attacker's own refresh
    token would sign the victim's browser into the attacker's account."""
    attacker = login(url)
    reply = call(url, path, method="POST", **form(attacker["refresh_token"]))
    assert reply.status == 403 and reply.body["error"] == "csrf_failed"
    assert reply.cookies() == {}
    # Refused before its use was recorded: the attacker's token is untouched.
    assert refresh(url, attacker["refresh_token"])[0] == 200
    # A bearer header is no way around it either, when the answer sets cookies.
    other = login(url)
    header = call(url, path, method="POST", token=other["refresh_token"])
    assert header.status == 403 and header.body["error"] == "csrf_failed"


def test_a_refresh_answering_with_cookies_takes_the_token_bound_csrf_header(
    url: str, service: Service
) -> None:
    pair = login(url)
    csrf = jwt.decode(pair["refresh_token"], options={"verify_signature": False})["csrf"]
    wrong = call(
        url, "/auth/refresh-both", method="POST",
        headers={"X-CSRF-Token": "planted", **form(pair["refresh_token"])["headers"]},
        raw=form(pair["refresh_token"])["raw"],
    )  # fmt: skip
    assert wrong.status == 403 and wrong.body["error"] == "csrf_failed"
    spec = form(pair["refresh_token"])
    reply = call(
        url, "/auth/refresh-both", method="POST", raw=spec["raw"],
        headers={**spec["headers"], "X-CSRF-Token": csrf},
    )  # fmt: skip
    assert reply.status == 200 and set(reply.cookies()) >= {"access_token", "refresh_token"}
    assert reply.body["refresh_token"] == reply.cookies()["refresh_token"]


def test_a_json_refresh_with_a_body_token_needs_no_csrf(url: str) -> None:
    """No cookie in, no cookie out: nothing a browser keeps, so nothing to forge."""
    pair = login(url)
    reply = call(url, "/auth/refresh", method="POST", **form(pair["refresh_token"]))
    assert reply.status == 200 and reply.cookies() == {}


@pytest.mark.parametrize("method", ["GET", "HEAD", "PUT", "DELETE", "OPTIONS"])
@pytest.mark.parametrize("path", ["/auth/logout", "/auth/logout-everywhere"])
def test_logout_csrf_only_post_logs_out(
    url: str, service: Service, method: str, path: str, clock: Clock
) -> None:
    """An <img>, a link, a prefetch or a HEAD carrying only the cookies changes nothing."""
    victim = call(url, "/auth/login", method="POST").cookies()
    other = login(url)  # another session of the same user, for "everywhere"
    clock.now += 1
    cookie = "; ".join(f"{k}={v}" for k, v in victim.items())
    reply = call(url, path, method=method, headers={"Cookie": cookie})
    if method in ("GET", "HEAD"):
        assert reply.status == 405 and reply.header("Allow") == "POST"
    else:  # the middleware's own CSRF check stops unsafe methods first
        assert reply.status in (403, 405)
    assert reply.cookies() == {}
    assert (
        call(url, "/api", headers={"Cookie": f"access_token={victim['access_token']}"}).status
        == 200
    )
    assert call(url, "/api", token=other["access_token"]).status == 200


def test_logout_with_a_cookie_token_needs_the_csrf_header(url: str, service: Service) -> None:
    jar = call(url, "/auth/login", method="POST").cookies()
    cookie = "; ".join(f"{k}={v}" for k, v in jar.items())
    no_csrf = call(url, "/auth/logout", method="POST", headers={"Cookie": cookie})
    assert no_csrf.status == 403 and service.refusals.last() is CsrfFailed
    reply = call(
        url, "/auth/logout", method="POST",
        headers={"Cookie": cookie, "X-CSRF-Token": jar["csrf_access_token"]},
    )  # fmt: skip
    assert reply.status == 204 and reply.cookies()["access_token"] == ""
    assert (
        call(url, "/api", headers={"Cookie": f"access_token={jar['access_token']}"}).status == 401
    )


def test_the_logout_endpoint_checks_csrf_itself(clock: Clock) -> None:
    """Behind a middleware with csrf=False, or one that does not say where the token was."""
    store = MemoryRevocationStore(clock=clock)
    minter = Minter(SECRET, clock=clock)
    pair = minter.mint_pair("alice")
    claims = jwt.decode(pair.access_token, options={"verify_signature": False})
    logout = LogoutEndpoint(store=store, cookies=COOKIES, minter=minter)
    for location in ("cookie", None):
        environ = {"REQUEST_METHOD": "POST", "jwt.claims": claims, "jwt.token": pair.access_token}
        if location is not None:
            environ["jwt.location"] = location
        statuses = Statuses()
        answer = json.loads(b"".join(logout(environ, statuses)))
        assert statuses.seen == ["403 Forbidden"] and answer["error"] == "csrf_failed"
    assert not store.is_revoked(claims)
    header = {"REQUEST_METHOD": "POST", "jwt.claims": claims, "jwt.token": pair.access_token,
              "jwt.location": "header"}  # fmt: skip
    statuses = Statuses()
    list(logout(header, statuses))
    assert statuses.seen == ["204 No Content"] and store.is_revoked(claims)


DAY = 86400.0


def test_a_logout_outlives_the_refresh_tokens_it_revokes(clock: Clock) -> None:
    """RFC 9700 section 4.14.2: with 90-day refresh tokens, a logged-out refresh token
    must not refresh again on day 31 (the store's old 30-day default)."""
    store = MemoryRevocationStore(clock=clock, max_token_lifetime=90 * DAY)
    minter = Minter(SECRET, refresh_expires_in=90 * DAY, clock=clock)
    refresh_app = RefreshEndpoint(minter, store=store)
    logout = LogoutEndpoint(store=store, minter=minter)
    app = DispatcherMiddleware(
        JWTMiddleware(
            DispatcherMiddleware(echo_app, {"/logout": logout}),
            key=SECRET, algorithms=["HS256"], revocation=store, clock=clock,
        ),
        {"/refresh": refresh_app},
    )  # fmt: skip
    from .helpers import ValidatingClient

    client = ValidatingClient(app, use_cookies=False)
    pair = minter.mint_pair("alice")
    bearer = {"Authorization": f"Bearer {pair.access_token}"}
    assert client.post("/logout", headers=bearer).status_code == 204
    for days in (31, 89):
        clock.now = NOW + days * DAY
        reply = client.post("/refresh", json={"refresh_token": pair.refresh_token})
        assert reply.status_code == 401 and reply.get_json()["error_description"] == (
            RevokedToken.default_description
        )


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda store, minter: RefreshEndpoint(minter, store=store), id="refresh"),
        pytest.param(lambda store, minter: LogoutEndpoint(store=store, minter=minter), id="logout"),
    ],
)
def test_a_store_that_forgets_before_refresh_tokens_expire_is_refused(make: Any) -> None:
    from jwt_wsgi import ConfigurationError

    minter = Minter(SECRET, refresh_expires_in=90 * DAY)
    with pytest.raises(ConfigurationError, match="max_token_lifetime >= refresh_expires_in"):
        make(MemoryRevocationStore(), minter)  # 30 days by default
    make(MemoryRevocationStore(max_token_lifetime=90 * DAY), minter)


class FlakyLoader:
    """A claims loader whose database goes down and comes back."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.down = False

    def __call__(self, identity: str) -> dict[str, Any]:
        if self.down:
            raise ConnectionError("the user database is down")
        now = int(self.clock())
        return {"sub": identity, "iat": now, "exp": now + 60}


def test_a_refresh_is_all_or_nothing_when_the_claims_loader_fails(
    clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    store = MemoryRevocationStore(clock=clock)
    minter = Minter(SECRET, refresh_expires_in=3600, clock=clock)
    loader = minter.claims_loader(FlakyLoader(clock))
    from .helpers import ValidatingClient

    client = ValidatingClient(RefreshEndpoint(minter, store=store, grace=1), use_cookies=False)
    pair = minter.mint_pair("alice")
    loader.down = True
    reply = client.post("/", json={"refresh_token": pair.refresh_token})
    assert reply.status_code == 503 and reply.headers["Retry-After"] == "1"
    assert reply.get_json()["error_description"] == MintingFailed.default_description
    assert "minting a refreshed pair failed" in caplog.text
    assert len(store) == 0  # the refresh token was not consumed
    loader.down = False
    clock.now += 30  # well past the grace: a consumed token would now revoke the login
    again = client.post("/", json={"refresh_token": pair.refresh_token})
    assert again.status_code == 200 and again.get_json()["refresh_token"]


def test_store_failures_at_the_endpoints_are_503_never_500(redis_server: Any) -> None:
    """Redis down: refresh and logout answer a JSON 503 with Retry-After, in every
    revocation_unavailable setting, and a logout that did not happen clears no cookie."""
    from jwt_wsgi import RevocationUnavailable

    store = RedisRevocationStore.from_url(redis_server.url, timeout=0.2, mirror=False)
    minter = Minter(SECRET)
    pair = minter.mint_pair("alice")
    logout = LogoutEndpoint(store=store, cookies=COOKIES, minter=minter)
    from .helpers import ValidatingClient

    refresh_client = ValidatingClient(
        RefreshEndpoint(
            minter, store=store,
            authenticator=Authenticator(
                Provider("r", ["HS256"], key=SECRET, require=("exp", "jti", "fam")),
                revocation=store, revocation_unavailable="open",
            ),
        ),
        use_cookies=False,
    )  # fmt: skip
    logout_client = ValidatingClient(
        JWTMiddleware(logout, key=SECRET, algorithms=["HS256"], revocation=store,
                      revocation_unavailable="open"),
        use_cookies=False,
    )  # fmt: skip
    redis_server.stop()
    with pytest.raises(RevocationUnavailable):
        store.is_revoked({"jti": "x"})
    reply = refresh_client.post("/", json={"refresh_token": pair.refresh_token})
    assert reply.status_code == 503 and reply.headers["Retry-After"] == "1"
    assert reply.get_json()["error_description"] == StoreUnavailable.default_description
    out = logout_client.post("/", headers={"Authorization": f"Bearer {pair.access_token}"})
    assert out.status_code == 503 and out.headers["Content-Type"] == "application/json"
    assert out.get_json()["error_description"] == StoreUnavailable.default_description
    assert "Set-Cookie" not in out.headers
    store.close()


#: endpoint path -> (whether it changes a login by POST, whether its answer sets cookies)
ENDPOINTS = {
    "/auth/refresh": "refresh",
    "/auth/refresh-cookies": "refresh",
    "/auth/refresh-both": "refresh",
    "/auth/logout": "logout",
    "/auth/logout-everywhere": "logout",
}


@pytest.mark.parametrize("csrf", ["none", "wrong", "right"])
@pytest.mark.parametrize("location", ["cookie", "header", "body", "query"])
@pytest.mark.parametrize("method", ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize("path", list(ENDPOINTS))
def test_no_state_change_without_the_csrf_proof(
    clock: Clock, path: str, method: str, location: str, csrf: str
) -> None:
    """Every endpoint x method x token location x CSRF header: a login changes (a token
    used or revoked, session cookies set) only by POST, and only with the CSRF proof
    where the credential came from a cookie or the answer sets cookies."""
    from .helpers import ValidatingClient

    store = MemoryRevocationStore(clock=clock)
    service = Service(store, clock, locations=["header", "cookie", "query"])
    pair = service.minter.mint_pair("alice")
    kind = ENDPOINTS[path]
    token = pair.refresh_token if kind == "refresh" else pair.access_token
    claims = jwt.decode(token, options={"verify_signature": False})
    headers: dict[str, str] = {}
    query = ""
    data = None
    if location == "cookie":
        name = "refresh_token" if kind == "refresh" else "access_token"
        headers["Cookie"] = f"{name}={token}"
    elif location == "header":
        headers["Authorization"] = f"Bearer {token}"
    elif location == "body":
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        data = f"refresh_token={token}".encode()
    else:
        query = f"access_token={token}"
    if csrf != "none":
        headers["X-CSRF-Token"] = claims["csrf"] if csrf == "right" else "planted"
    client = ValidatingClient(service.app, use_cookies=False)
    reply = client.open(path, method=method, headers=headers, data=data, query_string=query)
    readable = location in (("cookie", "header", "body") if kind == "refresh"
                            else ("cookie", "header", "query"))  # fmt: skip
    sets_cookies = path != "/auth/refresh" if kind == "refresh" else False
    needs_csrf = location == "cookie" or sets_cookies
    allowed = method == "POST" and readable and (csrf == "right" or not needs_csrf)
    if kind == "refresh":
        changed = len(store) > 0  # the refresh token's use was recorded
    else:
        changed = store.is_revoked(claims)
    assert changed == allowed, (reply.status_code, reply.get_data())
    if not allowed:
        assert reply.status_code in (400, 401, 403, 405)
        set_cookies = [v for k, v in reply.headers.items() if k == "Set-Cookie"]
        assert not [c for c in set_cookies if not c.split(";")[0].endswith("=")]
    if method == "POST" and readable and not allowed:  # refused for the CSRF proof
        assert reply.status_code == 403 and reply.get_json()["error"] == "csrf_failed"
