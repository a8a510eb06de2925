"""RFC 9728 protected-resource metadata, and the challenge that points to it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from jwt_wsgi import ConfigurationError, JWTMiddleware, Policy, Provider, Rule
from jwt_wsgi.metadata import ResourceMetadata, metadata_url, protected_resource_metadata

from .helpers import SECRET, Clock, ValidatingClient, echo_app, make_token

RESOURCE = "https://api.example/v1"
URL = "https://api.example/.well-known/oauth-protected-resource/v1"


def build(clock: Clock, **options: Any) -> JWTMiddleware:
    providers = [
        Provider("staff", ["HS256"], issuer="https://login.example", key=SECRET),
        Provider("partners", ["HS256"], issuer="https://partners.example", key="p" * 64),
    ]
    return JWTMiddleware(
        echo_app,
        providers=providers,
        clock=clock,
        resource_metadata=URL,
        rules=[
            Rule("/reports/<path:rest>", scopes=["reports:read"]),
            Rule("/admin", scopes=["admin", "reports:read"]),
            Rule("/health", auth="public"),
        ],
        policy=Policy(scopes=["api"]),
        **options,
    )


def test_the_well_known_url_goes_before_the_resources_path() -> None:
    assert metadata_url(RESOURCE) == URL
    assert metadata_url("https://api.example") == (
        "https://api.example/.well-known/oauth-protected-resource"
    )
    assert metadata_url("https://api.example/") == (
        "https://api.example/.well-known/oauth-protected-resource"
    )


def test_the_document_has_rfc_9728s_members(clock: Clock) -> None:
    document = protected_resource_metadata(
        build(clock), RESOURCE, resource_name="Reports API",
        resource_documentation="https://docs.example/api",
        extra={"resource_policy_uri": "https://api.example/policy"},
    )  # fmt: skip
    assert document == {
        "resource": RESOURCE,  # REQUIRED, and equal to the identifier the URL was built from
        "authorization_servers": ["https://login.example", "https://partners.example"],
        "scopes_supported": ["admin", "api", "reports:read"],
        "bearer_methods_supported": ["header"],
        "resource_name": "Reports API",
        "resource_documentation": "https://docs.example/api",
        "resource_policy_uri": "https://api.example/policy",
    }


def test_bearer_methods_follow_where_tokens_are_read(clock: Clock) -> None:
    mw = build(clock, locations=["header", "cookie", "query"])
    document = protected_resource_metadata(mw, RESOURCE, scopes_supported=["x"])
    assert document["bearer_methods_supported"] == ["header", "query"]  # a cookie is not one
    assert document["scopes_supported"] == ["x"]


def test_served_at_the_well_known_path_and_announced_in_challenges(clock: Clock) -> None:
    app = ResourceMetadata(build(clock), RESOURCE, resource_name="Reports API")
    client = ValidatingClient(app)
    answer = client.get("/.well-known/oauth-protected-resource/v1")
    assert answer.status_code == 200 and answer.mimetype == "application/json"
    assert answer.headers["Cache-Control"] == "max-age=3600"  # public, unlike refusals
    document = json.loads(answer.data)
    assert document["resource"] == RESOURCE and document["resource_name"] == "Reports API"
    assert client.head("/.well-known/oauth-protected-resource/v1").data == b""
    assert client.post("/.well-known/oauth-protected-resource/v1").status_code == 405
    refused = client.get("/reports/q3")
    assert refused.status_code == 401
    assert f'resource_metadata="{URL}"' in refused.headers["WWW-Authenticate"]
    staff = {"iss": "https://login.example"}
    scoped = client.get("/reports/q3", headers={"Authorization": f"Bearer {make_token(staff)}"})
    assert scoped.status_code == 403  # insufficient_scope points there too
    assert f'resource_metadata="{URL}"' in scoped.headers["WWW-Authenticate"]
    token = make_token({**staff, "scope": "api reports:read"})
    assert (
        client.get("/reports/q3", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    )


def test_without_it_the_challenge_is_unchanged(clock: Clock) -> None:
    mw = JWTMiddleware(echo_app, key=SECRET, algorithms=["HS256"], clock=clock)
    assert "resource_metadata" not in ValidatingClient(mw).get("/").headers["WWW-Authenticate"]


@pytest.mark.parametrize(
    "resource", ["http://api.example", "https://api.example/#frag", "api.example", "https://"]
)
def test_a_resource_is_an_https_url_without_fragment(clock: Clock, resource: str) -> None:
    with pytest.raises(ConfigurationError, match="https URL without a fragment"):
        ResourceMetadata(build(clock), resource)


def test_http_for_loopback_tests_and_bad_challenge_urls(clock: Clock) -> None:
    assert metadata_url("http://127.0.0.1:8000", allow_http=True).startswith("http://127.0.0.1")
    with pytest.raises(ConfigurationError, match="resource_metadata must be the metadata's URL"):
        JWTMiddleware(echo_app, key=SECRET, algorithms=["HS256"], resource_metadata='x"y')
