"""The protected Flask app of ``test_paths``, as a module gunicorn can import."""

from __future__ import annotations

from .test_paths import flask_admin_app, protect

app = flask_admin_app()
app.wsgi_app = protect(app.wsgi_app)  # type: ignore[method-assign]
