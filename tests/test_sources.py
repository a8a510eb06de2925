"""Where tokens come from: header, cookie, query string; one token per request; CSRF."""

from __future__ import annotations

from typing import Any

import pytest
from werkzeug.test import Client

from jwt_wsgi import (
    AuthError,
    ConfigurationError,
    Cookies,
    CsrfFailed,
    JWTMiddleware,
    Minter,
    MissingToken,
    Rule,
)
from jwt_wsgi.cookies import read_cookie
from jwt_wsgi.errors import AmbiguousCredentials, MalformedCredentials
from jwt_wsgi.sources import Location

from .helpers import (
    SECRET,
    Clock,
    Refusals,
    Statuses,
    ValidatingClient,
    http_request,
    make_token,
    protect,
)

COOKIES = Cookies(secure=False)


def build(refusals: Refusals | None = None, **options: Any) -> JWTMiddleware:
    options.setdefault("locations", ["header", "cookie"])
    options.setdefault("cookies", COOKIES)
    return protect(on_error=refusals, **options)  # type: ignore[no-any-return]


def client_of(middleware: JWTMiddleware) -> ValidatingClient:
    """A test client that sends the Cookie header as written (no cookie jar)."""
    return ValidatingClient(middleware, use_cookies=False)


def pair_cookie(token: str) -> dict[str, str]:
    return {"Cookie": f"theme=dark; access_token={token}; lang=en"}


def test_a_cookie_token_is_read_on_safe_methods() -> None:
    token = make_token()
    client = client_of(build())
    body = client.get("/", headers=pair_cookie(token)).get_json()
    assert body["claims"]["sub"] == "alice" and body["has_token"]


@pytest.mark.parametrize(
    ("locations", "request_headers", "query", "expected"),
    [
        pytest.param(["header"], "bearer", "", "header", id="header-only"),
        pytest.param(["cookie"], "cookie", "", "cookie", id="cookie-only"),
        pytest.param(["header", "cookie"], "cookie", "", "cookie", id="cookie-of-several"),
        pytest.param(["header", "cookie"], "both", "", "header", id="same-token-both"),
        pytest.param(["header", "query"], "", "token", "query", id="query"),
        pytest.param(["header"], "", "", None, id="no-token"),
    ],
)
def test_the_app_learns_where_the_token_came_from(
    locations: list[Location], request_headers: str, query: str, expected: str | None
) -> None:
    """``jwt.location``: what CSRF decisions downstream (logout, Django) depend on."""
    token = make_token()
    seen: list[Any] = []

    def app(environ: Any, start_response: Any) -> Any:
        seen.append(environ["jwt.location"])
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    middleware = JWTMiddleware(
        app, key=SECRET, algorithms=["HS256"], clock=Clock(), locations=locations,
        cookies=COOKIES, rules=[Rule("/", auth="optional")],
    )  # fmt: skip
    headers: dict[str, str] = {}
    if request_headers in ("bearer", "both"):
        headers["Authorization"] = f"Bearer {token}"
    if request_headers in ("cookie", "both"):
        headers.update(pair_cookie(token))
    client_of(middleware).get("/", headers=headers, query_string=query and f"access_token={token}")
    assert seen == [expected]


def test_header_and_cookie_with_the_same_token_are_one_token() -> None:
    token = make_token()
    headers = {**pair_cookie(token), "Authorization": f"Bearer {token}"}
    assert client_of(build()).get("/", headers=headers).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(
            {
                "Authorization": f"Bearer {make_token()}",
                "Cookie": f"access_token={make_token({'sub': 'b'})}",
            },
            id="header-and-cookie",
        ),
        pytest.param(
            {"Cookie": f"access_token={make_token()}; access_token={make_token({'sub': 'b'})}"},
            id="two-cookies",
        ),
    ],
)
def test_two_different_tokens_are_400_never_a_silent_pick(headers: dict[str, str]) -> None:
    refusals = Refusals()
    response = client_of(build(refusals)).get("/", headers=headers)
    assert response.status_code == 400
    assert refusals.last() is AmbiguousCredentials


def test_locations_decide_what_is_read() -> None:
    refusals = Refusals()
    token = make_token()
    header_only = build(refusals, locations=["header"])
    assert client_of(header_only).get("/", headers=pair_cookie(token)).status_code == 401
    assert refusals.last() is MissingToken
    cookie_only = build(refusals, locations=["cookie"])
    bearer = {"Authorization": f"Bearer {token}"}
    assert client_of(cookie_only).get("/", headers=bearer).status_code == 401
    assert client_of(cookie_only).get("/", headers=pair_cookie(token)).status_code == 200


def test_a_rule_reads_its_own_locations() -> None:
    """Query tokens for one download path only, the last resort RFC 6750 allows."""
    token = make_token()
    middleware = build(
        locations=["header"], rules=[Rule("/download/<name>", locations=["query", "header"])]
    )
    client = client_of(middleware)
    assert client.get(f"/download/x?access_token={token}").status_code == 200
    assert client.get(f"/other?access_token={token}").status_code == 401


def test_a_query_token_never_reaches_the_app() -> None:
    token = make_token()
    seen: dict[str, str] = {}

    def app(environ: Any, start_response: Any) -> Any:
        seen.update(
            query=environ["QUERY_STRING"],
            uri=environ.get("REQUEST_URI", ""),
            claims=environ["jwt.claims"]["sub"],
        )
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    middleware = JWTMiddleware(
        app, key=SECRET, algorithms=["HS256"], clock=Clock(), locations=["query"]
    )
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/events",
        "QUERY_STRING": f"since=5&access_token={token}&x=%20y",
        "REQUEST_URI": f"/events?since=5&access_token={token}&x=%20y",
    }
    list(middleware(environ, Statuses()))
    assert seen == {"query": "since=5&x=%20y", "uri": "/events?since=5&x=%20y", "claims": "alice"}


@pytest.mark.parametrize(
    ("headers", "rule"),
    [
        pytest.param("same", "required", id="same-token-in-the-header"),
        pytest.param("none", "required", id="query-alone"),
        pytest.param("bad", "shadow", id="refused-under-a-shadow-rule"),
        pytest.param("none", "public-miss", id="optional-path-bad-token"),
    ],
)
def test_a_query_token_is_stripped_whichever_location_won(headers: str, rule: str) -> None:
    """RFC 6750 section 5.3: with query allowed, the parameter never reaches the app,
    whether the header carried the same token, or the request goes on refused
    under a shadow rule."""
    token = make_token()
    seen: dict[str, str] = {}

    def app(environ: Any, start_response: Any) -> Any:
        seen.update(
            {k: environ.get(k, "") for k in ("QUERY_STRING", "REQUEST_URI", "RAW_URI")},
        )
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    query_token = token if headers != "bad" else make_token(key="o" * 64)
    rules = [Rule("/events", shadow=rule == "shadow")]
    if rule == "public-miss":
        rules = [Rule("/events", auth="optional")]
        query_token = "garbage"
    middleware = JWTMiddleware(
        app, key=SECRET, algorithms=["HS256"], clock=Clock(),
        locations=["header", "query"], rules=rules,
    )  # fmt: skip
    target = f"/events?since=5&access_token={query_token}&x=%20y"
    environ = {
        "REQUEST_METHOD": "GET", "PATH_INFO": "/events", "QUERY_STRING": target.split("?")[1],
        "REQUEST_URI": target, "RAW_URI": target,
    }  # fmt: skip
    if headers == "same":
        environ["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    statuses = Statuses()
    list(middleware(environ, statuses))
    if rule != "public-miss":
        assert statuses.seen == ["200 OK"]
        assert seen == {
            "QUERY_STRING": "since=5&x=%20y",
            "REQUEST_URI": "/events?since=5&x=%20y",
            "RAW_URI": "/events?since=5&x=%20y",
        }
    for key in ("QUERY_STRING", "REQUEST_URI", "RAW_URI"):  # refused requests' too
        assert query_token not in environ[key]


def test_a_query_without_the_token_parameter_is_left_as_it_came() -> None:
    seen: dict[str, str] = {}

    def app(environ: Any, start_response: Any) -> Any:
        seen.update(query=environ["QUERY_STRING"], uri=environ["REQUEST_URI"])
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    middleware = JWTMiddleware(
        app, key=SECRET, algorithms=["HS256"], clock=Clock(), locations=["header", "query"]
    )
    environ = {
        "REQUEST_METHOD": "GET", "PATH_INFO": "/e", "QUERY_STRING": "a=1&&b=2&",
        "REQUEST_URI": "/e?a=1&&b=2&", "HTTP_AUTHORIZATION": f"Bearer {make_token()}",
    }  # fmt: skip
    list(middleware(environ, Statuses()))
    assert seen == {"query": "a=1&&b=2&", "uri": "/e?a=1&&b=2&"}


def test_query_tokens_are_off_by_default_and_never_logged(
    serve: Any, caplog: pytest.LogCaptureFixture
) -> None:
    token = make_token({"sub": "x"}, key="o" * 64)  # refused: a bad signature
    url = serve(build(locations=["header", "query"]))
    with caplog.at_level("INFO", logger="jwt_wsgi"):
        status, _, body = http_request(url, f"/feed?access_token={token}")
    assert status == 401 and token not in body.decode()
    # Ours logs the path, never the query; the server's own access log (the
    # "werkzeug" logger here) records the request line: why query is a last resort.
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name == "jwt_wsgi")
    assert "/feed" in ours and token not in ours and "access_token" not in ours
    url = serve(build(locations=["header"]))
    assert http_request(url, f"/feed?access_token={make_token()}")[0] == 401


@pytest.mark.parametrize(
    ("query", "refusal"),
    [
        ("access_token=a&access_token=b", AmbiguousCredentials),
        ("access_token=a%20b", MalformedCredentials),
    ],
)
def test_malformed_query_tokens(query: str, refusal: type[AuthError]) -> None:
    refusals = Refusals()
    middleware = build(refusals, locations=["query"])
    assert client_of(middleware).get(f"/?{query}").status_code == 400
    assert refusals.last() is refusal


class TestCsrf:
    """Cookie tokens on unsafe methods need the CSRF header matching their claim."""

    def token(self) -> tuple[str, str]:
        pair = Minter(SECRET, clock=Clock()).mint_pair("alice")
        return pair.access_token, pair.csrf

    @pytest.mark.parametrize(
        "method",
        ["POST", "PUT", "PATCH", "DELETE",
         "PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "SEARCH"],
    )  # fmt: skip
    def test_unsafe_methods_need_the_matching_header(self, method: str) -> None:
        refusals = Refusals()
        # wsgiref's validator warns about WebDAV methods: Werkzeug's client alone here.
        client = Client(build(refusals), use_cookies=False)
        token, csrf = self.token()
        cookie = pair_cookie(token)
        response = client.open("/notes", method=method, headers=cookie)
        assert response.status_code == 403 and refusals.last() is CsrfFailed
        assert "WWW-Authenticate" not in response.headers
        assert response.get_json()["error"] == "csrf_failed"
        wrong = {**cookie, "X-CSRF-Token": csrf[:-1] + ("A" if csrf[-1] != "A" else "B")}
        assert client.open("/notes", method=method, headers=wrong).status_code == 403
        right = {**cookie, "X-CSRF-Token": csrf}
        assert client.open("/notes", method=method, headers=right).status_code == 200

    @pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS", "TRACE"])
    def test_safe_methods_need_none(self, method: str) -> None:
        token, _ = self.token()
        client = client_of(build())
        assert client.open("/notes", method=method, headers=pair_cookie(token)).status_code == 200

    @pytest.mark.parametrize(
        "override", ["X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override"]
    )
    def test_a_method_override_header_does_not_make_a_post_safe(self, override: str) -> None:
        """Frameworks that honour an override header route a POST as a GET; the
        CSRF decision is made on the method the browser sent."""
        refusals = Refusals()
        token, _ = self.token()
        headers = {**pair_cookie(token), override: "GET"}
        response = client_of(build(refusals)).post("/notes?_method=GET", headers=headers)
        assert response.status_code == 403 and refusals.last() is CsrfFailed

    def test_host_prefixed_cookie_names_work(self) -> None:
        token, csrf = self.token()
        cookies = Cookies(access="__Host-access", access_csrf="__Host-csrf", secure=False)
        client = client_of(build(cookies=cookies))
        headers = {"Cookie": f"__Host-access={token}", "X-CSRF-Token": csrf}
        assert client.post("/notes", headers=headers).status_code == 200
        assert client.post("/notes", headers={"Cookie": f"__Host-access={token}"}).status_code == (
            403
        )

    def test_header_tokens_need_none(self) -> None:
        token, _ = self.token()
        headers = {"Authorization": f"Bearer {token}"}
        assert client_of(build()).post("/notes", headers=headers).status_code == 200

    def test_a_cookie_token_without_a_csrf_claim_cannot_change_state(self) -> None:
        """A planted csrf cookie alone proves nothing: only the signed claim counts."""
        refusals = Refusals()
        token = make_token()
        headers = {
            "Cookie": f"access_token={token}; csrf_access_token=planted",
            "X-CSRF-Token": "planted",
        }
        assert client_of(build(refusals)).post("/", headers=headers).status_code == 403
        assert refusals.last() is CsrfFailed

    def test_csrf_can_be_turned_off_for_apis_no_browser_calls(self) -> None:
        token, _ = self.token()
        middleware = build(csrf=False)
        assert client_of(middleware).post("/", headers=pair_cookie(token)).status_code == 200


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("access_token=abc", "abc"),
        ("a=1; access_token=abc; b=2", "abc"),
        ("a=1;access_token=abc", "abc"),
        ('access_token="abc"', "abc"),
        ("my_access_token=abc", None),
        ("access_token_x=abc", None),
        ("access_token=abc; access_token=abc", "abc"),
        ("", None),
    ],
)
def test_read_cookie(header: str, expected: str | None) -> None:
    assert read_cookie(header, "access_token") == expected


def test_oversize_and_malformed_cookie_tokens_are_refused_cleanly() -> None:
    refusals = Refusals()
    client = client_of(build(refusals))
    for value in ("x" * 20_000, "not.a.jwt", "%00%01", "a.b.c.d"):
        response = client.get("/", headers={"Cookie": f"access_token={value}"})
        assert response.status_code == 401, value
        assert refusals.last().status == 401


@pytest.mark.parametrize(
    "options",
    [
        {"locations": "cookie"},
        {"locations": []},
        {"locations": ["header", "header"]},
        {"locations": ["body"]},
        {"query": "a=b"},
        {"cookies": {"access": "x"}},
    ],
)
def test_bad_location_options(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        build(**options)


@pytest.mark.parametrize(
    "options",
    [
        {"access": "bad name"},
        {"access": "same", "refresh": "same"},
        {"csrf_header": "X CSRF"},
        {"path": "relative"},
        {"samesite": "Sometimes"},
        {"samesite": "None", "secure": False},
        {"secure": "yes"},
    ],
)
def test_bad_cookie_options(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        Cookies(**options)


def test_the_cookie_memo_is_bounded_and_bypasses_no_check() -> None:
    from jwt_wsgi.authenticator import _COOKIE_MEMO_SIZE

    refusals = Refusals()
    middleware = build(refusals, locations=["cookie"])
    token, csrf = TestCsrf().token()
    client = client_of(middleware)
    for i in range(_COOKIE_MEMO_SIZE + 10):
        cookie = {"Cookie": f"n={i}; access_token={token}"}
        assert client.get("/", headers=cookie).status_code == 200
    assert 0 < len(middleware.authenticator._cookie_memo) <= _COOKIE_MEMO_SIZE
    # A remembered header still needs its CSRF value on a write...
    cookie = {"Cookie": f"n=1; access_token={token}"}
    assert client.post("/", headers=cookie).status_code == 403
    assert refusals.last() is CsrfFailed
    assert client.post("/", headers={**cookie, "X-CSRF-Token": csrf}).status_code == 200
    # ...and a header with two token cookies is never remembered.
    two = {"Cookie": f"access_token={token}; access_token={make_token()}"}
    for _ in range(2):
        assert client.get("/", headers=two).status_code == 400
        assert refusals.last() is AmbiguousCredentials


def test_cookie_keywords_fit_flask_django_and_webob_responses() -> None:
    """One list of (name, value, keywords) sets the same cookies in each framework."""
    import flask
    import webob

    from .test_frameworks import django_app

    django_app()  # configures Django the way the framework tests do
    from django.http import HttpResponse

    pair = Minter(SECRET, clock=Clock()).mint_pair("alice")
    cookies = Cookies()
    expected = {"access_token", "csrf_access_token", "refresh_token", "csrf_refresh_token"}
    for params in (
        cookies.params(pair.access_token, pair.refresh_token, now=Clock()()),
        cookies.clear_params(),
    ):
        flask_response = flask.Response()
        webob_response = webob.Response()
        django_response = HttpResponse()
        for name, value, keywords in params:
            flask_response.set_cookie(name, value, **keywords)
            webob_response.set_cookie(name, value, **keywords)
            django_response.set_cookie(name, value, **keywords)
        set_by = {
            "flask": flask_response.headers.getlist("Set-Cookie"),
            "webob": webob_response.headers.getall("Set-Cookie"),
            "django": [m.OutputString() for m in django_response.cookies.values()],
        }
        for framework, lines in set_by.items():
            assert {line.split("=", 1)[0] for line in lines} == expected, framework
            for line in lines:
                lowered = line.lower()
                assert "secure" in lowered and "samesite=lax" in lowered, (framework, line)
                assert ("httponly" in lowered) == ("csrf" not in line.split("=", 1)[0])
