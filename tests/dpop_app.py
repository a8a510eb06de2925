"""An app protected with DPoP, configured from ``JWT_WSGI_*`` variables, for gunicorn."""

from __future__ import annotations

from jwt_wsgi import JWTMiddleware

from .helpers import echo_app

app = JWTMiddleware.from_env(echo_app)
