"""The protected Flask app of ``test_paths``, as a module gunicorn can import."""

from __future__ import annotations

from jwt_wsgi import JWTMiddleware, Rule

from .helpers import SECRET, Clock
from .test_paths import flask_admin_app

app = flask_admin_app()
app.wsgi_app = JWTMiddleware(  # type: ignore[method-assign]
    app.wsgi_app,
    key=SECRET,
    algorithms=["HS256"],
    default="public",
    rules=[Rule("/admin"), Rule("/admin/<path:rest>")],
    clock=Clock(),
)
