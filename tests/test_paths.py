"""Path canonicalisation and the bypass corpus, against Flask on a real server."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask

from jwt_wsgi import JWTMiddleware, Rule
from jwt_wsgi.errors import UnsafePath
from jwt_wsgi.paths import canonical_path, resolve

from .helpers import SECRET, Clock, http_request, make_token


def canonical(environ: dict[str, str], check_target: bool = True) -> tuple[str, str]:
    """``canonical_path`` fed from an environ, as the rule map feeds it."""
    target = environ.get("RAW_URI") or environ.get("REQUEST_URI") or ""
    return canonical_path(
        environ.get("PATH_INFO", ""), environ.get("SCRIPT_NAME", ""), target, check_target
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("/", "/", id="root"),
        pytest.param("", "/", id="empty"),
        pytest.param("/admin", "/admin", id="plain"),
        pytest.param("/admin/", "/admin/", id="trailing-slash-kept"),
        pytest.param("//admin", "/admin", id="double-slash"),
        pytest.param("/a//b///c", "/a/b/c", id="many-slashes"),
        pytest.param("/./admin", "/admin", id="dot"),
        pytest.param("/public/../admin", "/admin", id="dotdot"),
        pytest.param("/admin/..", "/", id="dotdot-at-end"),
        pytest.param("/admin/.", "/admin/", id="dot-at-end"),
        pytest.param("/../../admin", "/admin", id="above-root"),
        pytest.param("/admin;x", "/admin;x", id="params-literal"),
        pytest.param("/a/.../b", "/a/.../b", id="three-dots-literal"),
        pytest.param("/.well-known/x", "/.well-known/x", id="dotfile"),
        pytest.param("/caf\xc3\xa9", "/caf\xc3\xa9", id="utf8-in-latin1"),
    ],
)
def test_canonical_forms(raw: str, expected: str) -> None:
    wsgi_path, text = canonical({"PATH_INFO": raw})
    assert wsgi_path == expected
    assert text == expected.encode("latin-1").decode("utf-8")


@pytest.mark.parametrize(
    "environ",
    [
        pytest.param({"PATH_INFO": "/admin\x00"}, id="nul"),
        pytest.param({"PATH_INFO": "/admin\n"}, id="newline"),
        pytest.param({"PATH_INFO": "/admin\\..\\x"}, id="backslash"),
        pytest.param({"PATH_INFO": "/\xff\xfe"}, id="invalid-utf8"),
        pytest.param({"PATH_INFO": "/..;/admin"}, id="dotdot-params"),
        pytest.param({"PATH_INFO": "/x/.;a/admin"}, id="dot-params"),
        pytest.param({"PATH_INFO": "/\u0100"}, id="not-latin1-str"),
        pytest.param({"PATH_INFO": "//admin", "RAW_URI": "/%2Fadmin"}, id="encoded-slash"),
        pytest.param({"PATH_INFO": "/a\\b", "REQUEST_URI": "/a%5cb?x=1"}, id="encoded-backslash"),
    ],
)
def test_unsafe_paths_are_refused(environ: dict[str, str]) -> None:
    with pytest.raises(UnsafePath):
        canonical(environ)


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        pytest.param({"SCRIPT_NAME": "/api", "PATH_INFO": "", "REQUEST_URI": "/api"},
                     ("/", "/"), id="mount"),
        pytest.param({"SCRIPT_NAME": "/prefix/api", "PATH_INFO": "/x", "RAW_URI": "/api/x"},
                     ("/x", "/x"), id="proxy-prefix"),
        pytest.param({"PATH_INFO": "/a/b", "RAW_URI": "http://h:80/a/b?q"},
                     ("/a/b", "/a/b"), id="absolute-form"),
        pytest.param({"PATH_INFO": "/caf\xc3\xa9", "RAW_URI": "/caf%C3%A9"},
                     ("/caf\xc3\xa9", "/caf\xe9"), id="utf8"),
        pytest.param({"PATH_INFO": "//admin", "RAW_URI": "//admin"},
                     ("/admin", "/admin"), id="same-unclean"),
        pytest.param({"PATH_INFO": "/admin", "RAW_URI": "/x/../admin"},
                     ("/admin", "/admin"), id="server-resolved"),
        pytest.param({"PATH_INFO": "*", "REQUEST_URI": "*"}, ("/*", "/*"), id="asterisk"),
    ],
)  # fmt: skip
def test_request_target_agreeing_with_path_info(
    environ: dict[str, str], expected: tuple[str, str]
) -> None:
    """Accepted, and read as one path: the app's (WSGI's latin-1) and the rules' (text)."""
    assert canonical(environ) == expected


def test_request_target_disagreeing_with_path_info_is_refused() -> None:
    environ = {"PATH_INFO": "/public", "REQUEST_URI": "/admin"}
    with pytest.raises(UnsafePath, match="does not match"):
        canonical(environ)
    assert canonical(environ, check_target=False)[0] == "/public"


def test_encoded_slash_in_query_is_fine() -> None:
    assert canonical({"PATH_INFO": "/a", "REQUEST_URI": "/a?next=%2Fb"})[0] == "/a"


def test_resolve_never_returns_a_path_with_dot_or_empty_segments() -> None:
    for raw in ["/a/./b/../../..//c/", "/./.././", "a/b", "/a/b/../"]:
        segments = resolve(raw).split("/")[1:]
        assert "." not in segments and ".." not in segments
        assert "" not in segments[:-1]


def flask_admin_app() -> Flask:
    """An app with protected admin views and generous catch-alls to land in."""
    app = Flask(__name__)

    @app.route("/admin")
    def admin() -> Any:
        return {"view": "admin"}

    @app.route("/admin/<path:rest>")
    def admin_sub(rest: str) -> Any:
        return {"view": "admin"}

    @app.route("/public/<path:rest>")
    def public(rest: str) -> Any:
        return {"view": "public"}

    @app.route("/<path:rest>")
    def anything(rest: str) -> Any:
        return {"view": "other"}

    return app


# Paths that, in some server or framework, have reached a protected view.
BYPASS_CORPUS = [
    "/admin",
    "/admin/",
    "//admin",
    "///admin//",
    "/./admin",
    "/public/../admin",
    "/public/%2e%2e/admin",
    "/public/%2E%2E/admin/x",
    "/admin/..",
    "/admin/../admin",
    "/admin/x/..",
    "/%2fadmin",
    "/%2Fadmin/x",
    "/public%2f..%2fadmin",
    "/..;/admin",
    "/public/..;/admin",
    "/admin;x",
    "/admin/;x",
    "/admin%00",
    "/admin\\x",
    "/public/..%5cadmin",
    "/%61dmin",
    "/admin/%2e",
    "/admin/./x",
    "/.//admin/x",
]


def protect(app: Any) -> JWTMiddleware:
    # default="public" is the harder setting: only the rules stand between a
    # crafted path and the admin views.
    return JWTMiddleware(
        app,
        key=SECRET,
        algorithms=["HS256"],
        default="public",
        rules=[Rule("/admin"), Rule("/admin/<path:rest>")],
        clock=Clock(),
    )


@pytest.mark.parametrize("path", BYPASS_CORPUS)
def test_no_crafted_path_reaches_an_admin_view_without_a_token(serve: Any, path: str) -> None:
    url = serve(protect(flask_admin_app().wsgi_app))
    status, _, body = http_request(url, path)
    if status == 200:
        assert json.loads(body)["view"] != "admin", f"{path!r} bypassed the rules"
    else:
        assert status in (400, 401, 404), (status, body)


@pytest.mark.parametrize("path", BYPASS_CORPUS)
def test_the_same_corpus_through_the_test_client(path: str) -> None:
    from werkzeug.test import Client

    app = flask_admin_app()
    app.wsgi_app = protect(app.wsgi_app)  # type: ignore[method-assign]
    response = Client(app).get(path)
    if response.status_code == 200:
        assert response.get_json()["view"] != "admin", f"{path!r} bypassed the rules"


def test_app_receives_the_path_the_rule_matched(serve: Any) -> None:
    app = flask_admin_app()
    app.wsgi_app = protect(app.wsgi_app)  # type: ignore[method-assign]
    url = serve(app)
    token = make_token()
    status, _, body = http_request(
        url, "/public/../admin", headers={"Authorization": f"Bearer {token}"}
    )
    assert status == 200
    assert json.loads(body)["view"] == "admin"
