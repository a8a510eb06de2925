"""The WebOb request adapter."""

from __future__ import annotations

from webob import Request

from jwt_wsgi.webob import JWTRequest


def test_properties_read_the_environ() -> None:
    request = JWTRequest.blank(
        "/", environ={"jwt.claims": {"sub": "a"}, "jwt.header": {"alg": "HS256"}}
    )
    assert request.jwt_claims == {"sub": "a"}
    assert request.jwt_header == {"alg": "HS256"}
    assert JWTRequest.blank("/").jwt_claims is None
    assert isinstance(request, Request)
