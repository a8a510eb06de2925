"""Against an OpenID Provider we did not write: node-oidc-provider, over HTTPS, on loopback.

The provider issues RFC 9068 JWT access tokens by client credentials, signed
with RS256, ES256 and RFC 9864's Ed25519, and DPoP-bound tokens after a
server nonce. jwt_wsgi finds its keys by discovery alone, trusting the
provider's private CA through ``ca_file``; the provider restarts with a new
key set while the API runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jwt
import pytest

from jwt_wsgi import DPoP, JWTMiddleware, Rule
from jwt_wsgi.errors import UnknownKey
from jwt_wsgi.testing import DPoPKey

from .fixtures.oidc_provider import AUDIENCE, RESOURCES, OpenIDProvider
from .fixtures.tlsproxy import Authority
from .helpers import Refusals, ValidatingClient, echo_app

API = "https://api.example"

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def authority() -> Authority:
    return Authority()


@pytest.fixture
def provider(authority: Authority) -> Iterator[OpenIDProvider]:
    op = OpenIDProvider(authority)
    yield op
    op.close()


def api(op: OpenIDProvider, **options: Any) -> tuple[JWTMiddleware, Refusals]:
    """The API as its guide configures it for an RFC 9068 provider: discovery from the
    issuer, the private CA, the resource's audience, a scope on the orders path."""
    refusals = Refusals()
    middleware = JWTMiddleware(
        echo_app,
        issuer=op.issuer,
        ca_file=str(op.authority.ca_file),
        algorithms=["RS256", "ES256", "Ed25519"],
        audience=AUDIENCE,
        profile="rfc9068",
        cooldown=0,
        rules=[Rule("/orders", scopes=["orders:read"])],
        on_error=refusals,
        **options,
    )
    return middleware, refusals


def get(middleware: JWTMiddleware, headers: dict[str, str]) -> Any:
    return ValidatingClient(middleware).get("/orders", headers=headers, base_url=API)


@pytest.mark.parametrize("resource", sorted(RESOURCES))
def test_its_tokens_verify_by_discovery_alone(provider: OpenIDProvider, resource: str) -> None:
    status, _, body = provider.token(resource)
    assert status == 200 and body["token_type"] == "Bearer"
    token = body["access_token"]
    assert jwt.get_unverified_header(token)["alg"] == RESOURCES[resource]
    middleware, _ = api(provider)
    response = get(middleware, {"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    claims = response.get_json()["claims"]
    assert (claims["sub"], claims["client_id"], claims["scope"]) == (
        "api-client", "api-client", "orders:read"
    )  # fmt: skip


def test_a_key_set_replaced_while_running(provider: OpenIDProvider) -> None:
    """The provider restarts under new keys: the new kid is fetched at its first token,
    and tokens of the keys it dropped stop passing, cached or not."""
    middleware, refusals = api(provider)
    _, _, old = provider.token("https://api.example/es256")
    assert get(middleware, {"Authorization": f"Bearer {old['access_token']}"}).status_code == 200
    provider.stop()
    provider.start(new_keys=True)
    _, _, new = provider.token("https://api.example/es256")
    assert jwt.get_unverified_header(new["access_token"])["kid"] == "es256-2"
    assert get(middleware, {"Authorization": f"Bearer {new['access_token']}"}).status_code == 200
    again = get(middleware, {"Authorization": f"Bearer {old['access_token']}"})
    assert again.status_code == 401 and refusals.last() is UnknownKey


def test_dpop_bound_tokens_from_its_token_endpoint_with_its_nonce(
    provider: OpenIDProvider,
) -> None:
    """A client with an Ed25519 key (what the provider offers first): the token endpoint
    asks for its nonce, then binds the token to the key; the API takes it with a proof."""
    key = DPoPKey("Ed25519")
    metadata = provider.request("GET", "/.well-known/openid-configuration")[2]
    assert b'"dpop_signing_alg_values_supported":["Ed25519"' in metadata

    def proof(url: str, nonce: str | None) -> str:
        return key.proof("POST", url, nonce=nonce)

    status, headers, body = provider.token("https://api.example/es256", proof=proof)
    assert status == 400 and body["error"] == "use_dpop_nonce"
    status, _, body = provider.token(
        "https://api.example/es256", proof=proof, nonce=headers["dpop-nonce"]
    )
    assert status == 200 and body["token_type"] == "DPoP"
    token = body["access_token"]
    assert jwt.decode(token, options={"verify_signature": False})["cnf"] == {"jkt": key.jkt}
    middleware, refusals = api(provider, dpop="required", dpop_proofs=DPoP(API))
    response = get(middleware, key.headers(token, "GET", f"{API}/orders"))
    assert response.status_code == 200, response.get_json()
    as_bearer = get(middleware, {"Authorization": f"Bearer {token}"})
    assert as_bearer.status_code == 401 and refusals.last().__name__ == "DPoPDowngrade"
