"""Bottle behind jwt_wsgi: the claims are in ``bottle.request.environ``."""

from __future__ import annotations

import logging
import os
from typing import Any

import bottle

from jwt_wsgi import JWTMiddleware, Rule, get_claims

logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
logging.getLogger("jwt_wsgi").setLevel(logging.INFO)

api = bottle.Bottle()


def subject() -> Any:
    claims = get_claims(bottle.request.environ)
    return None if claims is None else claims["sub"]


def health() -> Any:
    return {"ok": True}


def me() -> Any:
    return {"user": subject()}


def admin() -> Any:
    return {"admin": subject()}


def notes() -> Any:
    return {"saved": True, "by": subject()}


api.route("/health", "GET", health)
api.route("/me", "GET", me)
api.route("/admin", "GET", admin)
api.route("/notes", "POST", notes)

app = JWTMiddleware(
    api,
    key=os.environ["JWT_SECRET"],
    algorithms=["HS256"],
    rules=[Rule("/health", auth="public"), Rule("/admin", claims={"roles": "admin"})],
)
