"""Flask behind jwt_wsgi: the middleware wraps ``app.wsgi_app``; views read the claims.

Serve with ``gunicorn flask_app:app`` or ``waitress-serve flask_app:app`` from
this directory (``JWT_SECRET`` holds the HS256 secret). See docs/frameworks.rst.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from flask import Flask

from jwt_wsgi import JWTMiddleware, Rule
from jwt_wsgi.flask import current_claims, current_identity

# Refusals are INFO records of the "jwt_wsgi" logger: show them on stderr.
logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
logging.getLogger("jwt_wsgi").setLevel(logging.INFO)

app = Flask(__name__)


@app.get("/health")
def health() -> Any:
    return {"ok": True}


@app.get("/me")
def me() -> Any:
    return {"user": current_identity()}


@app.get("/admin")
def admin() -> Any:
    claims = current_claims() or {}
    return {"admin": claims.get("sub")}


@app.post("/notes")
def notes() -> Any:
    return {"saved": True, "by": current_identity()}


app.wsgi_app = JWTMiddleware(  # type: ignore[method-assign]
    app.wsgi_app,
    key=os.environ["JWT_SECRET"],
    algorithms=["HS256"],
    rules=[Rule("/health", auth="public"), Rule("/admin", claims={"roles": "admin"})],
)
