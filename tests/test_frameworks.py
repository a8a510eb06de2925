"""The same protection in front of real frameworks, over a real server.

Each app has ``/open`` (public) and ``/me`` (protected), and reads the claims
only from the WSGI environ, the one contract between jwt_wsgi and a framework.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from jwt_wsgi import JWTMiddleware, Rule

from .helpers import SECRET, Clock, http_request, make_token


def flask_app() -> Any:
    from flask import Flask, request

    app = Flask(__name__)

    @app.route("/open")
    def open_() -> Any:
        return {"who": None}

    @app.route("/me")
    def me() -> Any:
        return {"who": request.environ["jwt.claims"]["sub"]}

    return app


def django_app() -> Any:
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(
            DEBUG=False,
            SECRET_KEY="test-only",
            ROOT_URLCONF=__name__,
            ALLOWED_HOSTS=["127.0.0.1", "localhost"],
            MIDDLEWARE=[],
        )
        django.setup()
    from django.core.wsgi import get_wsgi_application

    return get_wsgi_application()


def _django_me(request: Any) -> Any:
    from django.http import JsonResponse

    return JsonResponse({"who": request.environ["jwt.claims"]["sub"]})


def _django_open(request: Any) -> Any:
    from django.http import JsonResponse

    return JsonResponse({"who": None})


def __getattr__(name: str) -> Any:
    # Django reads ``urlpatterns`` from ROOT_URLCONF (this module) lazily.
    if name == "urlpatterns":
        from django.urls import path

        return [path("me", _django_me), path("open", _django_open)]
    raise AttributeError(name)


def pyramid_app() -> Any:
    from pyramid.config import Configurator

    with Configurator() as config:
        config.add_route("me", "/me")
        config.add_route("open", "/open")
        config.add_view(
            lambda request: {"who": request.environ["jwt.claims"]["sub"]},
            route_name="me",
            renderer="json",
        )
        config.add_view(lambda request: {"who": None}, route_name="open", renderer="json")
        return config.make_wsgi_app()


def falcon_app() -> Any:
    import falcon

    class Me:
        def on_get(self, req: Any, resp: Any) -> None:
            resp.media = {"who": req.env["jwt.claims"]["sub"]}

    class Open:
        def on_get(self, req: Any, resp: Any) -> None:
            resp.media = {"who": None}

    app = falcon.App()
    app.add_route("/me", Me())
    app.add_route("/open", Open())
    return app


def bottle_app() -> Any:
    import bottle

    app = bottle.Bottle()
    app.route("/me")(lambda: {"who": bottle.request.environ["jwt.claims"]["sub"]})
    app.route("/open")(lambda: {"who": None})
    return app


FRAMEWORKS: dict[str, Callable[[], Any]] = {
    "flask": flask_app,
    "django": django_app,
    "pyramid": pyramid_app,
    "falcon": falcon_app,
    "bottle": bottle_app,
}


@pytest.mark.parametrize("name", FRAMEWORKS)
def test_framework_behind_the_middleware(serve: Any, name: str) -> None:
    app = JWTMiddleware(
        FRAMEWORKS[name](),
        key=SECRET,
        algorithms=["HS256"],
        rules=[Rule("/open", auth="public")],
        clock=Clock(),
    )
    url = serve(app)
    status, _, body = http_request(url, "/open")
    assert (status, json.loads(body)) == (200, {"who": None})
    for path in ("/me", "//me", "/open/../me"):
        status, headers, _ = http_request(url, path)
        assert status == 401, path
        assert headers["WWW-Authenticate"] == 'Bearer realm="api"'
    auth = {"Authorization": f"Bearer {make_token({'sub': 'carol'})}"}
    status, _, body = http_request(url, "/me", headers=auth)
    assert (status, json.loads(body)) == (200, {"who": "carol"})
