"""A protected app trusting the TLS proxy's certificate header (test_mtls, under gunicorn)."""

from __future__ import annotations

from jwt_wsgi import JWTMiddleware

from .helpers import SECRET, echo_app

app = JWTMiddleware(echo_app, key=SECRET, algorithms=["HS256"], certificate_header="X-Client-Cert")
