"""The route audit against real routers, and ``explain`` against the real middleware."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

import jwt
import pytest
from werkzeug.routing import Map
from werkzeug.routing import Rule as WerkzeugRule

from jwt_wsgi import ConfigurationError, DPoP, JWTMiddleware, Rule
from jwt_wsgi.audit import Route, audit_routes, explain, find_routes, sample_path
from jwt_wsgi.cli import OK, REFUSED, main

from .fixtures import audit_app
from .helpers import SECRET, ValidatingClient
from .test_frameworks import bottle_app, django_app, pyramid_app

ROOT = __import__("pathlib").Path(__file__).resolve().parent.parent


def token(**claims: Any) -> str:
    now = int(time.time())
    return jwt.encode({"sub": "alice", "iat": now, "exp": now + 600, **claims}, SECRET, "HS256")


#: The audited app, as the command takes it.
APP = "tests.fixtures.audit_app:app"


def middleware(app: Any = audit_app.app) -> JWTMiddleware:
    found = app.wsgi_app
    assert isinstance(found, JWTMiddleware)
    return found


def by_route(reports: list[Any]) -> dict[tuple[str, str], Any]:
    return {(r.method, r.route.pattern): r for r in reports}


def test_every_route_and_method_with_its_protection() -> None:
    reports, unused = audit_routes(middleware(), find_routes(audit_app.app))
    table = by_route(reports)
    assert table["POST", "/login"].mode == "public"
    assert table["GET", "/health"].mode == "public"
    admin = table["GET", "/admin/<path:rest>"]
    assert (admin.mode, admin.rule, admin.checks) == (
        "required", "/admin/<path:rest>", ["claims.roles=admin"]
    )  # fmt: skip
    assert table["DELETE", "/items/<int:item>"].checks == ["scopes=items:delete"]
    assert table["GET", "/items/<int:item>"].mode == "optional"
    forgotten = table["GET", "/forgotten"]
    assert (forgotten.mode, forgotten.rule, forgotten.flags) == ("required", None, ["default"])
    assert table["GET", "/api/<name>"].flags == ["shadowed"]
    assert unused == ["/reports/<path:rest>"]
    assert ("GET", "/static/<path:filename>") in table  # Flask's own route is audited too


def test_a_permissive_default_is_flagged() -> None:
    mw = middleware(audit_app.open_by_default)
    reports, _ = audit_routes(mw, find_routes(audit_app.open_by_default))
    forgotten = by_route(reports)["GET", "/forgotten"]
    assert (forgotten.mode, forgotten.flags) == ("optional", ["default", "public-by-default"])


@pytest.mark.parametrize(
    ("pattern", "sample"),
    [
        ("/items/<int:id>", "/items/1"),
        ("/f/<float:x>", "/f/1.5"),
        ("/p/<path:rest>", "/p/x/y"),
        ("/u/<uuid:id>", "/u/00000000-0000-0000-0000-000000000001"),
        ("/a/<any(one, two):x>", "/a/one"),
        ("/s/<name>", "/s/x"),
        ("/d/<slug:s>", "/d/a-slug"),
        ("/b/<id:int>", "/b/1"),
        ("/py/{id}", "/py/x"),
        ("/py/{rest:.*}", "/py/x/y"),
        ("me", "/me"),
        ("/c/<custom:x>", "/c/x"),
    ],
)
def test_sample_paths(pattern: str, sample: str) -> None:
    assert sample_path(pattern) == sample


def test_routes_from_a_werkzeug_map_and_each_framework() -> None:
    url_map = Map([WerkzeugRule("/x/<int:n>", endpoint="x", methods=["PUT"])])
    assert find_routes(url_map) == [Route("/x/<int:n>", "/x/1", ("PUT",))]
    mw = JWTMiddleware(django_app(), key=SECRET, algorithms=["HS256"])
    assert {r.pattern for r in find_routes(mw)} >= {"/me", "/open"}
    pyramid = find_routes(pyramid_app())
    assert {(r.pattern, r.sample) for r in pyramid} == {("/me", "/me"), ("/open", "/open")}
    assert {r.pattern for r in find_routes(bottle_app())} == {"/me", "/open"}
    with pytest.raises(ConfigurationError, match="cannot read the routes of a function"):
        find_routes(lambda environ, start_response: [])


@pytest.mark.parametrize(
    ("method", "path", "claims", "status", "reason"),
    [
        ("GET", "/admin/users", None, 401, "token_missing"),
        ("GET", "/admin/users", {}, 403, "claim_mismatch"),
        ("GET", "/admin/users", {"roles": "admin"}, 200, None),
        ("DELETE", "/items/3", {"scope": "read"}, 403, "scope_missing"),
        ("GET", "/items/3", None, 200, None),
        ("GET", "/health", None, 200, None),
        ("GET", "/forgotten", {"exp": 1000}, 401, "token_expired"),
        ("GET", "/admin/../forgotten", {}, 200, None),
    ],
)
def test_explain_agrees_with_the_middleware(
    method: str, path: str, claims: dict[str, Any] | None, status: int, reason: str | None
) -> None:
    mw = middleware()
    sent = None if claims is None else token(**claims)
    decision = explain(mw, sent, method, path)
    assert (decision.status, decision.reason) == (status, reason)
    headers = {"Authorization": f"Bearer {sent}"} if sent else {}
    real = ValidatingClient(audit_app.app).open(path, method=method, headers=headers)
    assert real.status_code == status
    if status == 200 and sent is not None:
        assert decision.claims is not None and decision.claims["sub"] == "alice"


def test_explain_names_the_rule_that_decided() -> None:
    decision = explain(middleware(), token(), "GET", "/admin/x")
    assert (decision.rule, decision.mode) == ("/admin/<path:rest>", "required")
    decision = explain(middleware(), token(), "GET", "/forgotten")
    assert (decision.rule, decision.mode, decision.status) == (None, "required", 200)
    decision = explain(middleware(), None, "GET", "/a\\b")
    assert (decision.status, decision.reason, decision.rule) == (400, "path_unsafe", None)


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_the_routes_command(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "routes", APP)
    assert code == OK
    assert "GET     /forgotten" in out and "[default]" in out
    assert "unused rule: /reports/<path:rest> matches no route  [unused-rule]" in out
    code, out, err = cli(capsys, "routes", APP, "--fail-on", "shadowed")
    assert code == REFUSED and "1 finding(s) of shadowed" in err
    code, _, _ = cli(capsys, "routes", APP, "--fail-on", "public-by-default")
    assert code == OK
    code, _, _ = cli(capsys, "routes", "tests.fixtures.audit_app:open_by_default", "--fail-on",
                     "public-by-default")  # fmt: skip
    assert code == REFUSED
    code, _, _ = cli(capsys, "routes", APP, "--fail-on", "unused-rule")
    assert code == REFUSED
    code, out, _ = cli(capsys, "routes", "tests.fixtures.audit_app:app.wsgi_app", "--json")
    rows = json.loads(out)
    assert rows["unused_rules"] == ["/reports/<path:rest>"]
    assert {"pattern": "/forgotten", "method": "GET", "mode": "required", "rule": None,
            "checks": [], "flags": ["default"]} in rows["routes"]  # fmt: skip


def test_the_explain_command(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "explain", APP, "none", "GET", "/admin/x")
    assert code == REFUSED and out.startswith("401 token_missing:")
    admin = token(roles="admin")
    code, out, _ = cli(capsys, "explain", APP, admin, "GET", "/admin/x")
    assert code == OK and out.startswith("200: the app is called (required, rule /admin/")
    code, out, _ = cli(capsys, "explain", APP, admin, "DELETE", "/items/1", "--json")
    answer = json.loads(out)
    assert code == REFUSED and answer["reason"] == "scope_missing" and answer["status"] == 403


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("nocolon", "expected module:attribute"),
        ("tests.nope:app", "the app: cannot import 'tests.nope:app'"),
        ("tests.fixtures.audit_app:RULES", "is not a JWTMiddleware"),
    ],
)
def test_bad_targets(capsys: pytest.CaptureFixture[str], target: str, message: str) -> None:
    code, _, err = cli(capsys, "routes", target)
    assert code == 2 and message in err


def test_the_console_script_from_a_project_directory() -> None:
    done = subprocess.run(
        [str(__import__("pathlib").Path(sys.executable).with_name("jwt-wsgi")), "routes",
         APP, "--fail-on", "default"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == REFUSED and "/forgotten" in done.stdout


def test_django_includes_class_based_views_and_regex_routes() -> None:
    from jwt_wsgi.audit import _django_routes

    django_app()  # settings configured once per process
    routes = {r.pattern: r for r in _django_routes("tests.fixtures.django_urls")}
    assert routes["/api/items/"].methods == ("GET", "POST")
    assert routes["/api/items/<int:pk>"].sample == "/api/items/1"
    assert routes["/about"].methods == ("GET", "POST", "PUT", "PATCH", "DELETE")
    assert "/legacy/(?P<year>[0-9]{4})/" in routes


def test_pyramid_route_methods() -> None:
    from pyramid.config import Configurator

    with Configurator() as config:
        config.add_route("items", "/items/{id}", request_method=("POST", "DELETE"))
        config.add_route("files", "files/{rest:.*}")
        config.add_view(lambda request: "ok", route_name="items", renderer="string")
        router = config.make_wsgi_app()
    routes = {r.pattern: r for r in find_routes(router)}
    assert routes["/items/{id}"].methods == ("DELETE", "POST")
    assert routes["/files/{rest:.*}"].sample == "/files/x/y"


def test_every_kind_of_check_is_described() -> None:
    def weekdays(claims: Any, environ: Any) -> bool:
        return True

    mw = JWTMiddleware(
        lambda environ, start_response: [],
        key=SECRET,
        algorithms=["HS256"],
        dpop_proofs=DPoP("https://api.example.com"),
        rules=[
            Rule("/a", providers=["default"], kinds=["refresh"], max_age=60, acr=["mfa"],
                 when=weekdays, dpop="required"),
        ],
    )  # fmt: skip
    (report,), _ = audit_routes(mw, [Route("/a", "/a", ("GET",))])
    assert report.checks == [
        "providers=default", "kinds=refresh", "max_age=60s", "acr=mfa", "when=weekdays",
        "dpop=required",
    ]  # fmt: skip
