"""jwt_wsgi.flask: the accessors for the claims, identity and principal of a request."""

from __future__ import annotations

from typing import Any

from flask import Flask

from jwt_wsgi import JWTMiddleware, Rule

from .helpers import SECRET, Clock, ValidatingClient, make_token


def test_flask_accessors(clock: Clock) -> None:
    from jwt_wsgi.flask import current_claims, current_identity, current_principal

    app = Flask(__name__)

    @app.get("/")
    def index() -> Any:
        claims = current_claims()
        return {"sub": current_identity(), "principal": current_principal(),
                "claims": None if claims is None else sorted(claims)}  # fmt: skip

    app.wsgi_app = JWTMiddleware(  # type: ignore[method-assign]
        app.wsgi_app,
        key=SECRET,
        algorithms=["HS256"],
        clock=clock,
        principal=lambda claims: f"user:{claims['sub']}",
        rules=[Rule("/", ["GET"], auth="optional")],
    )
    client = ValidatingClient(app)
    body = client.get("/", headers={"Authorization": f"Bearer {make_token()}"}).get_json()
    assert body == {"sub": "alice", "principal": "user:alice",
                    "claims": ["exp", "iat", "sub"]}  # fmt: skip
    assert client.get("/").get_json() == {"sub": None, "principal": None, "claims": None}
