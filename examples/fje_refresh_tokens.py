"""flask-jwt-extended's "refresh tokens" example, ported to jwt_wsgi.

The login returns an access token and a refresh token; ``/refresh`` accepts
only refresh tokens (``Rule(..., kinds=["refresh"])``, was
``@jwt_required(refresh=True)``) and returns a new access token; every other
path accepts only access tokens. For single-use refresh tokens with reuse
detection, mount :class:`~jwt_wsgi.RefreshEndpoint` instead (see
``browser_app.py`` and ``auth_service.py``).
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from flask import Flask, jsonify, request

from jwt_wsgi import JWTMiddleware, Minter, Rule, get_claims

app = Flask(__name__)

JWT_SECRET_KEY = os.environ.get("JWT_SECRET_KEY", "super-secret-change-me-32-bytes-at-least")
minter = Minter(
    JWT_SECRET_KEY,
    expires_in=timedelta(hours=1),  # was: JWT_ACCESS_TOKEN_EXPIRES
    refresh_expires_in=timedelta(days=30),  # was: JWT_REFRESH_TOKEN_EXPIRES
)


@app.route("/login", methods=["POST"])
def login() -> Any:
    pair = minter.mint_pair("example_user")  # was: create_access_token + create_refresh_token
    return jsonify(access_token=pair.access_token, refresh_token=pair.refresh_token)


# The rule below admits only refresh tokens here (was: @jwt_required(refresh=True)).
@app.route("/refresh", methods=["POST"])
def refresh() -> Any:
    identity = get_claims(request.environ)["sub"]  # type: ignore[index]  # was: get_jwt_identity()
    access_token = minter.mint(identity)  # was: create_access_token(identity=identity)
    return jsonify(access_token=access_token)


@app.route("/protected", methods=["GET"])
def protected() -> Any:
    return jsonify(foo="bar")


app.wsgi_app = JWTMiddleware(  # type: ignore[method-assign]
    app.wsgi_app,
    key=JWT_SECRET_KEY,
    algorithms=["HS256"],
    rules=[
        Rule("/login", ["POST"], auth="public"),
        Rule("/refresh", ["POST"], kinds=["refresh"]),
    ],
)

if __name__ == "__main__":
    from demo_server import serve

    serve(app, title="flask-jwt-extended's refresh tokens, on jwt_wsgi", login=False)
