"""flask-jwt-simple's "Changing JWT Claims" example, ported to jwt_wsgi.

The claims loader replaces the whole claim set (so it re-adds exp, iat, nbf
and sub itself), /login mints a token, and /protected reads the claims from
the WSGI environ and answers 403 to non-admins. Flask itself holds no JWT
code: the middleware in front of it does the verifying.

Run it with ``python examples/flask_claims.py`` (or ``make demo``).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask, jsonify, request

from jwt_wsgi import JWTMiddleware, Minter, Rule, get_claims

JWT_SECRET_KEY = os.environ.get("JWT_SECRET_KEY", "super-secret-change-me-32-bytes-at-least")
JWT_EXPIRES = timedelta(minutes=15)
USERS = {"test": "test", "admin": "admin"}  # Change this!

app = Flask(__name__)
minter = Minter(JWT_SECRET_KEY, algorithm="HS256", expires_in=JWT_EXPIRES)


# Using the claims_loader, we can change the values that will be present in
# the JWTs made by `minter.mint()`. This overrides everything in the token,
# so re-add the default claims (exp, iat, nbf, sub) if you still want them.
@minter.claims_loader
def add_claims_to_access_token(identity: str) -> dict[str, Any]:
    if identity == "admin":
        roles = "admin"
    else:
        roles = "peasant"

    now = datetime.now(UTC)
    return {
        "exp": now + JWT_EXPIRES,
        "iat": now,
        "nbf": now,
        "sub": identity,
        "roles": roles,
    }


@app.route("/login", methods=["POST"])
def login() -> Any:
    body = request.get_json(silent=True) or {}
    username = body.get("username", None)
    password = body.get("password", None)
    if username not in USERS or USERS[username] != password:
        return jsonify({"msg": "Bad username or password"}), 401

    ret = {"jwt": minter.mint(username)}
    return jsonify(ret), 200


# In a protected view, the full data encoded in the JWT is in the environ.
@app.route("/protected", methods=["GET"])
def protected() -> Any:
    jwt_data = get_claims(request.environ)
    if jwt_data is None or jwt_data["roles"] != "admin":
        return jsonify(msg="Permission denied"), 403
    return jsonify(msg="Do not forget to drink your ovaltine")


# Everything is protected by default; /login is the one public path.
app.wsgi_app = JWTMiddleware(  # type: ignore[method-assign]
    app.wsgi_app,
    key=JWT_SECRET_KEY,
    algorithms=["HS256"],
    rules=[Rule("/login", ["POST"], auth="public")],
)


if __name__ == "__main__":
    from demo_server import serve

    serve(app, title="flask-jwt-simple's 'Changing JWT Claims', on jwt_wsgi")
