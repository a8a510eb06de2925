"""A Flask app with a mix of protections, for the route audit and ``explain`` (test_audit)."""

from __future__ import annotations

from typing import Any

from flask import Flask

from jwt_wsgi import JWTMiddleware, Rule

from .helpers import SECRET

app = Flask(__name__)


def view(**_: Any) -> str:
    return "ok"


app.add_url_rule("/login", "login", view, methods=["POST"])
app.add_url_rule("/health", "health", view)
app.add_url_rule("/admin/<path:rest>", "admin", view)
app.add_url_rule("/items/<int:item>", "items", view, methods=["GET", "DELETE"])
app.add_url_rule("/api/<name>", "api", view)
app.add_url_rule("/forgotten", "forgotten", view)

RULES = [
    Rule("/login", ["POST"], auth="public"),
    Rule("/health", auth="public"),
    Rule("/admin/<path:rest>", claims={"roles": "admin"}),
    Rule("/items/<int:item>", ["DELETE"], scopes=["items:delete"]),
    Rule("/items/<int:item>", ["GET"], auth="optional"),
    Rule("/api/<path:rest>", scopes=["api"]),
    Rule("/api/<name>", auth="public"),  # wins over the rule above: a shadow
    Rule("/reports/<path:rest>"),  # no such route
]


def protect(default: str = "required") -> JWTMiddleware:
    return JWTMiddleware(
        app.wsgi_app,
        key=SECRET,
        algorithms=["HS256"],
        rules=RULES,
        default=default,  # type: ignore[arg-type]
    )


app.wsgi_app = protect()  # type: ignore[method-assign]
open_by_default = Flask(__name__)
open_by_default.url_map = app.url_map
open_by_default.wsgi_app = protect("optional")  # type: ignore[method-assign]
