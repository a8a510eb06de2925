"""flask-jwt-extended's "JWT locations" example (tokens in cookies), ported to jwt_wsgi.

Tokens are read from the header, a cookie or the query string
(``locations=``, was ``JWT_TOKEN_LOCATION``; a JSON body is not a location
jwt_wsgi reads, because the middleware never reads request bodies). A login
can set the token in an ``HttpOnly`` cookie with its readable CSRF cookie,
and a state-changing request with the cookie needs the ``X-CSRF-Token``
header. ``/only_headers`` reads the header alone (was
``@jwt_required(locations=["headers"])``).
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask, jsonify

from jwt_wsgi import Cookies, JWTMiddleware, Minter, Rule

app = Flask(__name__)

# Was JWT_COOKIE_SECURE = False: only over https in production (the default).
COOKIES = Cookies(secure=os.environ.get("COOKIE_SECURE", "0") == "1")
JWT_SECRET_KEY = os.environ.get("JWT_SECRET_KEY", "super-secret-change-me-32-bytes-at-least")
minter = Minter(JWT_SECRET_KEY)


@app.route("/login_without_cookies", methods=["POST"])
def login_without_cookies() -> Any:
    access_token = minter.mint("example_user")  # was: create_access_token
    return jsonify(access_token=access_token)


@app.route("/login_with_cookies", methods=["POST"])
def login_with_cookies() -> Any:
    response = jsonify({"msg": "login successful"})
    access_token = minter.mint("example_user", csrf=True)
    for name, value, params in COOKIES.params(access_token, now=minter.clock()):
        response.set_cookie(name, value, **params)  # was: set_access_cookies
    return response


@app.route("/logout_with_cookies", methods=["POST"])
def logout_with_cookies() -> Any:
    response = jsonify({"msg": "logout successful"})
    for name, value, params in COOKIES.clear_params():
        response.set_cookie(name, value, **params)  # was: unset_jwt_cookies
    return response


@app.route("/protected", methods=["GET", "POST"])
def protected() -> Any:
    return jsonify(foo="bar")


@app.route("/only_headers")
def only_headers() -> Any:
    return jsonify(foo="baz")


app.wsgi_app = JWTMiddleware(  # type: ignore[method-assign]
    app.wsgi_app,
    key=JWT_SECRET_KEY,
    algorithms=["HS256"],
    locations=["header", "cookie", "query"],  # was: JWT_TOKEN_LOCATION
    cookies=COOKIES,
    rules=[
        Rule("/login_without_cookies", ["POST"], auth="public"),
        Rule("/login_with_cookies", ["POST"], auth="public"),
        Rule("/logout_with_cookies", ["POST"], auth="public"),
        Rule("/only_headers", locations=["header"]),
    ],
)

if __name__ == "__main__":
    from demo_server import serve

    serve(app, title="flask-jwt-extended's JWT locations, on jwt_wsgi", login=False)
