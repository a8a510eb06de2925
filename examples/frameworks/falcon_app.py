"""Falcon behind jwt_wsgi: the claims are in ``req.env``."""

from __future__ import annotations

import logging
import os
from typing import Any

import falcon

from jwt_wsgi import JWTMiddleware, Rule, get_claims

logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
logging.getLogger("jwt_wsgi").setLevel(logging.INFO)


def subject(req: Any) -> Any:
    claims = get_claims(req.env)
    return None if claims is None else claims["sub"]


class Health:
    def on_get(self, req: Any, resp: Any) -> None:
        resp.media = {"ok": True}


class Me:
    def on_get(self, req: Any, resp: Any) -> None:
        resp.media = {"user": subject(req)}


class Admin:
    def on_get(self, req: Any, resp: Any) -> None:
        resp.media = {"admin": subject(req)}


class Notes:
    def on_post(self, req: Any, resp: Any) -> None:
        resp.media = {"saved": True, "by": subject(req)}


api = falcon.App()
api.add_route("/health", Health())
api.add_route("/me", Me())
api.add_route("/admin", Admin())
api.add_route("/notes", Notes())

app = JWTMiddleware(
    api,
    key=os.environ["JWT_SECRET"],
    algorithms=["HS256"],
    rules=[Rule("/health", auth="public"), Rule("/admin", claims={"roles": "admin"})],
)
