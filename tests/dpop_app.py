"""An app protected with DPoP, configured from ``DPOP_APP_*`` variables, for gunicorn."""

from __future__ import annotations

from jwt_wsgi import JWTMiddleware

from .helpers import echo_app

app = JWTMiddleware.from_env(echo_app, prefix="DPOP_APP_")
