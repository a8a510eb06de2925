"""Property-based tests: paths and tokens drawn by hypothesis, invariants checked.

The default profile keeps ``make test`` fast; ``make fuzz`` selects the
``fuzz`` profile (``HYPOTHESIS_PROFILE=fuzz``), which draws far more examples.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.test import create_environ, run_wsgi_app

from jwt_wsgi import InvalidToken, JWTMiddleware, Provider, Rule
from jwt_wsgi.errors import UnsafePath
from jwt_wsgi.jose.verifier import TokenVerifier
from jwt_wsgi.paths import canonical_path

from .helpers import SECRET, Clock, b64, hs256_token, make_token
from .test_paths import flask_admin_app, protect

SEGMENTS = st.one_of(
    st.sampled_from(
        [
            "",
            ".",
            "..",
            "admin",
            "ADMIN",
            "public",
            "x",
            "..;",
            ".;a",
            ";x",
            "admin;x",
            "%2e",
            "%2e%2e",
            "%2f",
            "%2F",
            "%5c",
            "\\",
            "..\\",
            "%00",
            "\x00",
            "\t",
            "é",
            "\xff",
            "~",
        ]
    ),  # fmt: skip
    st.text(min_size=1, max_size=6),
)
PATHS = st.lists(SEGMENTS, max_size=7).map(lambda parts: "/" + "/".join(parts))
RAW_PATHS = st.one_of(PATHS, st.text(max_size=30))


@given(RAW_PATHS)
def test_canonical_path_is_canonical_and_idempotent(raw: str) -> None:
    try:
        wsgi_path, text = canonical_path(raw)
    except UnsafePath:
        return
    assert text.startswith("/")
    segments = text.split("/")[1:]
    assert "." not in segments and ".." not in segments
    assert "" not in segments[:-1]
    assert canonical_path(wsgi_path) == (wsgi_path, text)


def _protected_flask() -> tuple[Any, list[str]]:
    """The Flask admin app behind the middleware, recording what each view saw."""
    app = flask_admin_app()
    seen: list[str] = []

    @app.after_request
    def record(response: Any) -> Any:
        from flask import request

        seen.append(request.environ["PATH_INFO"])
        return response

    app.wsgi_app = protect(app.wsgi_app)  # type: ignore[method-assign]
    return app, seen


PROTECTED_APP, _SEEN = _protected_flask()
ADMIN_TOKEN = make_token()


@given(PATHS, st.booleans())
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_no_path_reaches_admin_without_a_token_and_the_app_sees_the_checked_path(
    path: str, with_token: bool
) -> None:
    # Built by hand: a server hands any bytes through as PATH_INFO, while a
    # URL parser would reinterpret something like "////x" as a host.
    environ = create_environ("/")
    for raw in ("REQUEST_URI", "RAW_URI"):
        environ.pop(raw, None)
    environ["PATH_INFO"] = path.encode("utf-8", "surrogatepass").decode("latin-1")
    if with_token:
        environ["HTTP_AUTHORIZATION"] = f"Bearer {ADMIN_TOKEN}"
    _SEEN.clear()
    app_iter, status, _ = run_wsgi_app(PROTECTED_APP, environ, buffered=True)
    code = int(status.split()[0])
    assert code in (200, 400, 401, 404, 405), status
    if code == 200:
        body = json.loads(b"".join(app_iter))
        if body["view"] == "admin":
            assert with_token, f"{path!r} reached the admin view without a token"
        # The path the app routed is canonical (what the rules matched).
        routed = _SEEN[-1]
        assert canonical_path(routed)[0] == routed


def _mutations(token: str) -> st.SearchStrategy[str]:
    header, payload, signature = token.split(".")
    return st.one_of(
        # flip, drop or insert characters anywhere
        st.tuples(st.integers(0, len(token) - 1), st.characters()).map(
            lambda t: token[: t[0]] + t[1] + token[t[0] + 1 :]
        ),
        st.integers(0, len(token)).map(lambda i: token[:i]),
        st.text(max_size=50).map(lambda junk: token + junk),
        # reorder and duplicate segments
        st.permutations([header, payload, signature]).map(".".join),
        st.lists(st.sampled_from([header, payload, signature, ""]), max_size=6).map(".".join),
    )


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
HEADERS = st.dictionaries(
    st.sampled_from(["alg", "kid", "typ", "crit", "b64", "jwk", "jku", "x5u", "x5c", "cty"]),
    st.one_of(JSON_VALUES, st.sampled_from(["HS256", "none", "RS256", "HS512"])),
)
PAYLOADS = st.one_of(
    st.dictionaries(
        st.sampled_from(["sub", "exp", "nbf", "iat", "aud", "iss", "jti", "roles"]), JSON_VALUES
    ),
    JSON_VALUES,
)


@given(st.data())
def test_verifier_raises_only_invalid_token(data: st.DataObject) -> None:
    verifier = TokenVerifier(Provider("p", ["HS256"], key=SECRET, audience="api", issuer="me"))
    token = data.draw(
        st.one_of(
            _mutations(make_token({"aud": "api", "iss": "me"})),
            st.builds(
                lambda h, p: hs256_token(json.dumps(h).encode(), json.dumps(p).encode()),
                HEADERS,
                PAYLOADS,
            ),
            st.builds(lambda raw: b64(raw), st.binary(max_size=64)),
        )
    )
    try:
        result = verifier.verify_static(token)
    except InvalidToken:
        return
    # Anything accepted really is a well-formed, correctly signed claim set.
    assert isinstance(result.claims, dict)
    assert result.header.get("alg") == "HS256"
    assert "crit" not in result.header and "b64" not in result.header


@given(st.data())
def test_middleware_never_answers_500_nor_echoes_the_token(data: st.DataObject) -> None:
    def ok(environ: Any, start_response: Any) -> list[bytes]:
        start_response("200 OK", [])
        return [b"ok"]

    app = JWTMiddleware(
        ok,
        key=SECRET,
        algorithms=["HS256"],
        rules=[Rule("/r", claims={"roles": "admin"}, scopes=["w"])],
        clock=Clock(),
    )
    token = data.draw(_mutations(make_token({"roles": ["admin"], "scope": "w"})))
    value = data.draw(
        st.sampled_from(["Bearer {}", "bearer  {} ", "Bearer {},Bearer {}", "{}", "Basic {}"])
    ).replace("{}", token)
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        # What a server would pass on: bytes read as latin-1 (a lone surrogate,
        # which no socket delivers, still becomes some bytes, as for paths above).
        value = value.encode("utf-8", "surrogatepass").decode("latin-1")
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": data.draw(st.sampled_from(["/r", "/", "/x"])),
        "HTTP_AUTHORIZATION": value,
    }
    statuses: list[str] = []
    body = b"".join(app(environ, lambda s, h, e=None: statuses.append(s)))  # type: ignore[arg-type]
    assert statuses and statuses[0][:3] in ("200", "400", "401", "403")
    if len(token) > 8:
        assert token.encode("latin-1", "replace") not in body


def test_base64_helper_matches_the_standard_library() -> None:
    assert b64(b"\xfb\xff") == base64.urlsafe_b64encode(b"\xfb\xff").decode().rstrip("=")
