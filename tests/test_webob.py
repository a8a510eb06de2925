"""The WebOb request adapter."""

from __future__ import annotations

from typing import Any

from webob import Request

from jwt_wsgi.webob import JWTRequest


def test_properties_read_the_environ() -> None:
    environ: dict[str, Any] = {"jwt.claims": {"sub": "a"}, "jwt.header": {"alg": "HS256"}}
    request = JWTRequest.blank("/", environ=environ)
    assert request.jwt_claims == {"sub": "a"}
    assert request.jwt_header == {"alg": "HS256"}
    assert JWTRequest.blank("/").jwt_claims is None
    assert isinstance(request, Request)
