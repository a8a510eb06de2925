"""The middleware end to end, through Werkzeug's test client and a real server."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import pytest
from werkzeug.test import Client

from jwt_wsgi import (
    AuthError,
    ConfigurationError,
    ExpiredToken,
    JWTMiddleware,
    MissingToken,
    Provider,
    Rule,
    get_claims,
)
from jwt_wsgi.errors import (
    ClaimMismatch,
    ConditionFailed,
    DisallowedAlgorithm,
    ImmatureToken,
    InvalidAudience,
    InvalidClaim,
    InvalidIssuer,
    InvalidSignature,
    IssuedInFuture,
    MalformedCredentials,
    MalformedToken,
    MissingClaim,
    ScopeMissing,
    VerificationFailed,
)

from .helpers import (
    NOW,
    SECRET,
    Clock,
    Refusals,
    ValidatingClient,
    bearer,
    echo_app,
    http_request,
    make_token,
    protect,
    run_in_threads,
)

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment


def build(clock: Clock | None = None, app: Any = echo_app, **options: Any) -> JWTMiddleware:
    return protect(app, clock=clock or Clock(), **options)  # type: ignore[no-any-return]


def client(middleware: JWTMiddleware) -> ValidatingClient:
    return ValidatingClient(middleware)


def test_valid_token_reaches_app_with_claims_header_and_remote_user() -> None:
    token = make_token({"roles": ["admin"]})
    response = client(build()).get("/anything", headers=bearer(token))
    assert response.status_code == 200
    body = response.get_json()
    assert body["claims"]["roles"] == ["admin"]
    assert body["claims"]["sub"] == "alice"
    assert body["header"] == {"alg": "HS256", "typ": "JWT"}
    assert body["has_token"] is True
    assert body["remote_user"] == "alice"


def test_remote_user_configurable_and_can_be_turned_off() -> None:
    token = make_token({"email": "a@example.com"})
    body = client(build(remote_user="email")).get("/", headers=bearer(token)).get_json()
    assert body["remote_user"] == "a@example.com"
    body = client(build(remote_user=None)).get("/", headers=bearer(token)).get_json()
    assert body["remote_user"] is None


@pytest.mark.parametrize(
    ("headers", "status", "error", "refusal"),
    [
        pytest.param({}, 401, None, MissingToken, id="missing"),
        pytest.param(
            {"Authorization": "Basic dXNlcjpwYXNz"}, 401, None, MissingToken, id="other-scheme"
        ),
        pytest.param(
            {"Authorization": ""}, 400, "invalid_request", MalformedCredentials, id="empty-header"
        ),
        pytest.param(
            {"Authorization": "Bearer"}, 400, "invalid_request", MalformedCredentials, id="scheme"
        ),
        pytest.param(
            {"Authorization": "Bearer a b"}, 400, "invalid_request", MalformedCredentials, id="two"
        ),
        pytest.param(
            {"Authorization": "Bearer a.b.c,Bearer d.e.f"},
            400,
            "invalid_request",
            MalformedCredentials,
            id="joined",
        ),
        pytest.param(
            {"Authorization": "Bearer a.b\x01"},
            400,
            "invalid_request",
            MalformedCredentials,
            id="bad-char",
        ),
        pytest.param(
            {"Authorization": "Bearer not-a-jwt"}, 401, "invalid_token", MalformedToken, id="junk"
        ),
    ],
)
def test_token_errors_follow_rfc6750(
    headers: dict[str, str], status: int, error: str, refusal: type[AuthError]
) -> None:
    refusals = Refusals()
    response = client(build(on_error=refusals)).get("/private", headers=headers)
    assert refusals.last() is refusal
    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/json"
    body = response.get_json()
    assert set(body) == {"error", "error_description"}
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith('Bearer realm="api"')
    if error is None:
        assert "error=" not in challenge
        assert body["error"] == "missing_token"
    else:
        assert f'error="{error}"' in challenge
        assert "error_description=" in challenge
        assert body["error"] == error


@pytest.mark.parametrize(
    ("claims", "options", "refusal", "description"),
    [
        pytest.param(
            {"exp": int(NOW) - 1}, {}, ExpiredToken, "the token has expired", id="expired"
        ),
        pytest.param(
            {"nbf": int(NOW) + 60}, {}, ImmatureToken, "the token is not valid yet", id="nbf"
        ),
        pytest.param(
            {"iat": int(NOW) + 60},
            {},
            IssuedInFuture,
            "the token was issued in the future",
            id="iat-future",
        ),
        pytest.param({"exp": None}, {}, MissingClaim, "the token has no 'exp' claim", id="no-exp"),
        pytest.param(
            {"exp": str(int(NOW) + 60)},
            {},
            InvalidClaim,
            "the token's 'exp' claim is not a number",
            id="str-exp",
        ),
        pytest.param(
            {"aud": "other"},
            {"audience": "api"},
            InvalidAudience,
            "the token is not meant for this audience",
            id="wrong-aud",
        ),
        pytest.param(
            {"aud": "api"},
            {},
            InvalidAudience,
            "the token is not meant for this audience",
            id="aud-unexpected",
        ),
        pytest.param(
            {}, {"audience": "api"}, MissingClaim, "the token has no 'aud' claim", id="aud-missing"
        ),
        pytest.param(
            {"iss": "evil"},
            {"issuer": "good"},
            InvalidIssuer,
            "the token's issuer is not accepted",
            id="iss",
        ),
        pytest.param(
            {}, {"issuer": "good"}, MissingClaim, "the token has no 'iss' claim", id="iss-missing"
        ),
        pytest.param(
            {},
            {"require": ["exp", "jti"]},
            MissingClaim,
            "the token has no 'jti' claim",
            id="require-jti",
        ),
    ],
)
def test_invalid_claims_are_401_invalid_token(
    claims: dict[str, Any], options: dict[str, Any], refusal: type[AuthError], description: str
) -> None:
    refusals = Refusals()
    mw = build(on_error=refusals, **options)
    response = client(mw).get("/", headers=bearer(make_token(claims)))
    assert refusals.last() is refusal
    assert response.status_code == 401
    assert response.get_json() == {"error": "invalid_token", "error_description": description}


@pytest.mark.parametrize(
    ("claims", "options"),
    [
        pytest.param({"aud": ["x", "api"]}, {"audience": "api"}, id="aud-list"),
        pytest.param({"aud": "b"}, {"audience": ["a", "b"]}, id="several-audiences"),
        pytest.param({"iss": "good"}, {"issuer": "good"}, id="issuer"),
        pytest.param({"exp": int(NOW) - 5}, {"leeway": 10}, id="leeway-exp"),
        pytest.param({"nbf": int(NOW) + 5}, {"leeway": 10}, id="leeway-nbf"),
        pytest.param({"exp": None}, {"require": []}, id="exp-not-required"),
    ],
)
def test_valid_claim_variants_pass(claims: dict[str, Any], options: dict[str, Any]) -> None:
    response = client(build(**options)).get("/", headers=bearer(make_token(claims)))
    assert response.status_code == 200, response.get_json()


def test_bad_signature_and_wrong_key() -> None:
    refusals = Refusals()
    token = make_token(key="o" * 64)
    response = client(build(on_error=refusals)).get("/", headers=bearer(token))
    assert response.status_code == 401
    assert refusals.last() is InvalidSignature
    assert response.get_json()["error_description"] == "the token signature is invalid"


@pytest.mark.parametrize(
    ("algorithm", "key"), [("HS512", SECRET), ("none", None)], ids=["HS512", "none"]
)
def test_algorithm_not_in_allow_list_is_refused(algorithm: str, key: Any) -> None:
    refusals = Refusals()
    token = make_token(algorithm=algorithm, key=key)
    response = client(build(on_error=refusals)).get("/", headers=bearer(token))
    assert response.status_code == 401
    assert refusals.last() is DisallowedAlgorithm


def test_scheme_is_case_insensitive_and_whitespace_tolerated() -> None:
    token = make_token()
    for value in (f"bearer {token}", f"BEARER {token}", f"  Bearer   {token}  "):
        assert client(build()).get("/", headers={"Authorization": value}).status_code == 200


def test_custom_header_and_scheme() -> None:
    token = make_token()
    mw = build(header="X-Api-Token", scheme="")
    assert client(mw).get("/", headers={"X-Api-Token": token}).status_code == 200
    assert client(mw).get("/", headers=bearer(token)).status_code == 401
    mw = build(scheme="JWT")
    assert client(mw).get("/", headers={"Authorization": f"JWT {token}"}).status_code == 200


def test_rules_public_optional_required() -> None:
    mw = build(
        rules=[
            Rule("/public", auth="public"),
            Rule("/maybe", auth="optional"),
            Rule("/private", auth="required"),
        ],
        on_error=(refusals := Refusals()),
    )
    c = client(mw)
    good, bad = make_token(), make_token(key="o" * 64)
    assert c.get("/public").get_json()["claims"] is None
    # public skips authentication entirely, even with a broken token
    assert c.get("/public", headers=bearer(bad)).status_code == 200
    assert c.get("/maybe").get_json()["claims"] is None
    assert c.get("/maybe", headers=bearer(good)).get_json()["claims"]["sub"] == "alice"
    assert c.get("/maybe", headers=bearer(bad)).status_code == 401
    assert refusals.last() is InvalidSignature
    assert c.get("/private").status_code == 401
    assert refusals.last() is MissingToken
    assert c.get("/unlisted").status_code == 401  # default deny
    assert refusals.last() is MissingToken


def test_default_can_be_relaxed() -> None:
    mw = build(default="public", rules=[Rule("/admin/<path:rest>", auth="required")])
    assert client(mw).get("/home").status_code == 200
    assert client(mw).get("/admin/users").status_code == 401


def test_claims_and_scopes_failures_are_403() -> None:
    refusals = Refusals()
    mw = build(
        rules=[
            Rule("/admin", claims={"roles": "admin"}),
            Rule("/write", scopes=["notes:write"]),
        ],
        on_error=refusals,
    )
    c = client(mw)
    peasant = make_token({"roles": "peasant", "scope": "notes:read"})
    admin = make_token({"roles": ["user", "admin"], "scope": "notes:read notes:write"})
    assert c.get("/admin", headers=bearer(admin)).status_code == 200
    response = c.get("/admin", headers=bearer(peasant))
    assert response.status_code == 403
    assert refusals.last() is ClaimMismatch
    assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]
    response = c.get("/write", headers=bearer(peasant))
    assert response.status_code == 403
    assert refusals.last() is ScopeMissing
    assert 'scope="notes:write"' in response.headers["WWW-Authenticate"]
    assert response.get_json()["scope"] == "notes:write"
    assert c.get("/write", headers=bearer(admin)).status_code == 200


def test_optional_rule_checks_claims_only_when_a_token_came() -> None:
    mw = build(rules=[Rule("/feed", auth="optional", claims={"tier": "gold"})])
    c = client(mw)
    assert c.get("/feed").status_code == 200
    assert c.get("/feed", headers=bearer(make_token({"tier": "tin"}))).status_code == 403
    assert c.get("/feed", headers=bearer(make_token({"tier": "gold"}))).status_code == 200


def test_when_receives_claims_and_environ_and_its_exception_denies(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[str] = []

    def own_account(claims: Any, environ: WSGIEnvironment) -> bool:
        seen.append(environ["PATH_INFO"])
        return bool(environ["PATH_INFO"] == f"/users/{claims['sub']}")

    def broken(claims: Any, environ: WSGIEnvironment) -> bool:
        raise RuntimeError("bug in a user check")

    refusals = Refusals()
    mw = build(
        rules=[Rule("/users/<name>", when=own_account), Rule("/broken", when=broken)],
        on_error=refusals,
    )
    c = client(mw)
    token = make_token()
    assert c.get("/users/alice", headers=bearer(token)).status_code == 200
    assert c.get("/users/bob", headers=bearer(token)).status_code == 403
    assert refusals.last() is ConditionFailed
    assert seen == ["/users/alice", "/users/bob"]
    with caplog.at_level(logging.ERROR, logger="jwt_wsgi"):
        assert c.get("/broken", headers=bearer(token)).status_code == 403
    assert refusals.last() is ConditionFailed
    assert "bug in a user check" in caplog.text


def test_methods_limit_a_rule_and_head_follows_get() -> None:
    mw = build(
        default="public",
        rules=[Rule("/notes", ["POST"], auth="required"), Rule("/reports", ["GET"])],
    )
    c = client(mw)
    assert c.get("/notes").status_code == 200
    assert c.post("/notes").status_code == 401
    assert c.get("/reports").status_code == 401
    assert c.head("/reports").status_code == 401
    assert c.post("/reports").status_code == 200  # falls through to the default


def test_cors_preflight_passes_only_when_enabled() -> None:
    preflight = {"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}
    assert client(build()).options("/api", headers=preflight).status_code == 401
    mw = build(cors_preflight=True)
    response = client(mw).options("/api", headers=preflight)
    assert response.status_code == 200
    assert response.get_json()["claims"] is None
    # A bare OPTIONS is not a preflight.
    assert client(mw).options("/api").status_code == 401


def test_on_error_replaces_the_response_and_a_failing_one_falls_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def custom(
        environ: WSGIEnvironment, start_response: StartResponse, error: AuthError
    ) -> Iterable[bytes]:
        start_response(error.status_line, [("Content-Type", "text/plain")])
        return [f"{error.status} {error.error}".encode()]

    response = client(build(on_error=custom)).get("/", headers=bearer("x.y.z"))
    assert response.get_data() == b"401 invalid_token"

    def broken(environ: WSGIEnvironment, start_response: StartResponse, error: AuthError) -> Any:
        raise ValueError("bug in on_error")

    with caplog.at_level(logging.ERROR, logger="jwt_wsgi"):
        response = client(build(on_error=broken)).get("/")
    assert response.status_code == 401
    assert response.get_json()["error"] == "missing_token"
    assert "bug in on_error" in caplog.text


def test_rejections_are_logged_without_the_token(caplog: pytest.LogCaptureFixture) -> None:
    token = make_token(key="o" * 64)
    with caplog.at_level(logging.INFO, logger="jwt_wsgi"):
        response = client(build()).get("/secret/place", headers=bearer(token))
    assert response.status_code == 401
    assert "/secret/place" in caplog.text
    assert "signature is invalid" in caplog.text
    assert token not in caplog.text
    assert token.split(".")[2] not in caplog.text
    assert token not in response.get_data(as_text=True)


def test_successful_requests_log_nothing(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="jwt_wsgi"):
        client(build()).get("/", headers=bearer(make_token()))
    assert caplog.records == []


def test_handler_mutation_of_claims_affects_no_other_request() -> None:
    def mutating(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        claims = get_claims(environ)
        assert claims is not None
        before = json.dumps(claims, sort_keys=True).encode()
        claims["roles"].append("admin")
        claims["sub"] = "mallory"
        environ["jwt.header"]["alg"] = "none"
        start_response("200 OK", [("Content-Type", "application/json")])
        return [before]

    mw = build(app=mutating)
    token = make_token({"roles": ["user"]})
    first = client(mw).get("/", headers=bearer(token)).get_json()
    second = client(mw).get("/", headers=bearer(token)).get_json()
    assert first == second
    assert second["roles"] == ["user"] and second["sub"] == "alice"


@pytest.mark.parametrize(
    "headers",
    [None, {"x-meta": {"tags": ["a"]}}],
    ids=["flat-header", "nested-header"],
)
def test_tokens_sharing_a_header_each_get_their_own_copy(headers: dict[str, Any] | None) -> None:
    """An issuer's tokens share one remembered header; mutating it in one request,
    cold or cached, reaches no other request, of that token or another."""
    seen: list[str] = []

    def mutating(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        header = environ["jwt.header"]
        seen.append(json.dumps(header, sort_keys=True))
        header["alg"] = "none"
        if "x-meta" in header:
            header["x-meta"]["tags"].append("admin")
        claims = get_claims(environ)
        assert claims is not None
        before = json.dumps(claims["meta"])
        claims["meta"]["roles"]["admin"] = True
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [before.encode()]

    mw = build(app=mutating)
    # Objects without arrays, so the claims' nesting is found by their braces.
    claims = [{"n": n, "meta": {"roles": {"user": True}}} for n in range(3)]
    tokens = [make_token(c, headers=headers) for c in claims]
    assert len({token.split(".")[0] for token in tokens}) == 1
    bodies = [
        client(mw).get("/", headers=bearer(token)).get_data(as_text=True)
        for token in tokens + tokens  # cold, then cached
    ]
    expected = {"alg": "HS256", "typ": "JWT", **(headers or {})}
    assert seen == [json.dumps(expected, sort_keys=True)] * 6
    assert bodies == ['{"roles": {"user": true}}'] * 6
    assert mw.cache.hits == 3


def test_a_remembered_header_does_not_vouch_for_a_signature() -> None:
    """After a good token, one with the very same header and a forged signature fails."""
    refusals = Refusals()
    mw = build(on_error=refusals)
    good = make_token()
    forged = make_token({"sub": "mallory"}, key="f" * 64)
    assert good.split(".")[0] == forged.split(".")[0]
    assert client(mw).get("/", headers=bearer(good)).status_code == 200
    assert client(mw).get("/", headers=bearer(forged)).status_code == 401
    assert refusals.last() is InvalidSignature


def test_response_is_streamed_untouched_and_body_never_read() -> None:
    class Body:
        def read(self, *args: Any) -> bytes:
            raise AssertionError("the middleware read the request body")

    def streaming(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        start_response("201 Created", [("X-Custom", "1")])
        yield b"part1"
        yield b"part2"

    mw = build(app=streaming)
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/upload",
        "HTTP_AUTHORIZATION": f"Bearer {make_token()}",
        "wsgi.input": Body(),
    }
    statuses: list[str] = []

    def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
        statuses.append(status)

    chunks = list(mw(environ, start_response))
    assert chunks == [b"part1", b"part2"]
    assert statuses == ["201 Created"]


def test_head_request_gets_no_error_body() -> None:
    response = client(build()).head("/")
    assert response.status_code == 401
    assert response.get_data() == b""


def test_concurrent_requests_each_see_their_own_claims() -> None:
    mw = build()
    tokens = {i: make_token({"sub": f"user{i}"}) for i in range(8)}
    errors: list[str] = []

    def worker(i: int) -> None:
        name = f"user{i}"
        c = Client(mw)
        for _ in range(50):
            body = c.get("/", headers=bearer(tokens[i])).get_json()
            if body["claims"]["sub"] != name:
                errors.append(f"{name} saw {body['claims']['sub']}")

    run_in_threads(worker, len(tokens))
    assert errors == []


def test_through_a_real_server(serve: Any) -> None:
    url = serve(build(rules=[Rule("/open", auth="public")]))
    status, headers, body = http_request(url, "/open")
    assert status == 200
    status, headers, body = http_request(url, "/closed")
    assert status == 401
    assert headers["WWW-Authenticate"] == 'Bearer realm="api"'
    status, _, body = http_request(url, "/closed", headers=bearer(make_token()))
    assert status == 200
    assert json.loads(body)["claims"]["sub"] == "alice"


def test_mounted_under_script_name_matches_path_info() -> None:
    from werkzeug.middleware.dispatcher import DispatcherMiddleware

    inner = build(rules=[Rule("/open", auth="public")])
    outer = DispatcherMiddleware(echo_app, {"/api": inner})
    c = Client(outer)
    assert c.get("/api/open").status_code == 200
    assert c.get("/api/closed").status_code == 401


def test_a_bug_below_the_middleware_is_401_and_logged_never_500(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class BrokenKeySource:
        """A custom key source with a bug in it."""

        algorithms = ("HS256",)

        def current(self) -> Any:
            raise RuntimeError("bug in a key source")

        def refresh_for(self, kid: str) -> Any:
            raise RuntimeError("bug in a key source")

    refusals = Refusals()
    mw = build(key=BrokenKeySource(), on_error=refusals)
    with caplog.at_level(logging.ERROR, logger="jwt_wsgi"):
        response = client(mw).get("/", headers=bearer(make_token()))
    assert response.status_code == 401
    assert refusals.last() is VerificationFailed
    assert response.get_json()["error_description"] == "the token could not be verified"
    assert "bug in a key source" in caplog.text


def test_providers_are_known_by_name() -> None:
    mw = JWTMiddleware(
        echo_app,
        providers=[
            Provider("a", ["HS256"], issuer="a", key=SECRET),
            Provider("b", ["HS256"], issuer="b", key="t" * 64),
        ],
    )
    assert set(mw.authenticator.providers) == {"a", "b"}


def test_get_claims_outside_the_middleware_is_an_error_not_anonymous() -> None:
    with pytest.raises(ConfigurationError, match="JWTMiddleware"):
        get_claims({"PATH_INFO": "/"})
    assert get_claims({"jwt.claims": None}) is None


@pytest.mark.parametrize(
    ("options", "named"),
    [
        pytest.param({"header": "Bad Header"}, "header", id="header-name"),
        pytest.param({"scheme": "Bear er"}, "scheme", id="scheme"),
        pytest.param({"revocation_unavailable": "maybe"}, "revocation_unavailable", id="mode"),
        pytest.param({"revocation": 42}, "revocation", id="revocation-not-callable"),
        pytest.param({"on_error": "json"}, "on_error", id="on_error-not-callable"),
        pytest.param({"app": None}, "app", id="app-none"),
        pytest.param({"require": "exp"}, "require", id="require-a-string"),
        pytest.param({"audience": 123}, "audience", id="audience-an-int"),
        pytest.param({"leeway": "5"}, "leeway", id="leeway-a-string"),
        pytest.param({"leeway": -1}, "leeway", id="leeway-negative"),
        pytest.param({"cache_size": -1}, "cache_size", id="cache-size-negative"),
        pytest.param({"max_token_bytes": 0}, "max_token_bytes", id="max-token-bytes"),
        pytest.param({"default": "maybe"}, "default", id="default-mode"),
        pytest.param({"cors_preflight": "yes"}, "cors_preflight", id="flag-a-string"),
        pytest.param({"remote_user": 1}, "remote_user", id="remote-user"),
        pytest.param({"realm": 'a"b'}, "realm", id="realm-quote"),
        pytest.param({"rules": Rule("/x")}, "rules", id="rules-not-a-list"),
        pytest.param({"algorithm": ["HS256"]}, "did you mean 'algorithms'", id="typo"),
        pytest.param({"algorithms": None}, "algorithms is required", id="no-algorithms"),
        pytest.param({"algorithms": "HS256"}, "algorithms must be a list", id="algorithms-str"),
        pytest.param({"key": None}, "key=", id="no-key"),
        pytest.param({"typ": 5}, "typ", id="typ"),
        pytest.param({"clock": 5}, "clock", id="clock"),
    ],
)
def test_bad_options_are_refused_at_construction(options: dict[str, Any], named: str) -> None:
    app = options.pop("app", echo_app)
    options.setdefault("key", SECRET)
    options.setdefault("algorithms", ["HS256"])
    with pytest.raises(ConfigurationError, match=named):
        JWTMiddleware(app, **options)


def test_provider_settings_beside_providers_are_refused() -> None:
    provider = Provider("a", ["HS256"], issuer="a", key=SECRET)
    with pytest.raises(ConfigurationError, match="on each Provider"):
        JWTMiddleware(echo_app, providers=[provider], leeway=0)


def test_an_authenticator_and_its_options_together_are_refused() -> None:
    from jwt_wsgi import Authenticator

    authenticator = Authenticator(Provider("a", ["HS256"], key=SECRET), clock=Clock())
    with pytest.raises(ConfigurationError, match="not both"):
        JWTMiddleware(echo_app, authenticator, cache_size=5)
    with pytest.raises(ConfigurationError, match="Authenticator"):
        JWTMiddleware(echo_app, SECRET)  # type: ignore[arg-type]
    mw = JWTMiddleware(echo_app, authenticator)
    assert client(mw).get("/", headers=bearer(make_token())).status_code == 200


def test_bare_token_header_must_hold_exactly_one_token() -> None:
    refusals = Refusals()
    mw = build(header="X-Api-Token", scheme="", on_error=refusals)
    assert client(mw).get("/", headers={"X-Api-Token": "a b"}).status_code == 400
    assert refusals.last() is MalformedCredentials
    assert client(mw).get("/", headers={"X-Api-Token": ""}).status_code == 400
    assert refusals.last() is MalformedCredentials


def test_a_middleware_without_keys_says_where_it_goes_in_django() -> None:
    """Listed in Django's MIDDLEWARE, it is built as JWTMiddleware(get_response)."""

    def get_response(request: Any) -> Any:
        return None

    with pytest.raises(ConfigurationError, match="wraps the application in wsgi.py"):
        JWTMiddleware(get_response)  # type: ignore[arg-type]
