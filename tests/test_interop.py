"""Keys and tokens made by other maintained JOSE libraries verify here.

jwcrypto and joserfc export OKP keys (RFC 8037) without an ``alg`` member,
the normal shape; PyJWT infers an algorithm only for Ed25519, so jwt_wsgi
loads JWKs by their ``kty`` and ``crv`` itself. Each key is tried configured
and fetched from a key server on 127.0.0.1.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import jwt
import pytest

from jwt_wsgi import Authenticator, Provider, RemoteKeySet

from .helpers import NOW, Clock
from .keyserver import KeyServer

CLAIMS = {"sub": "interop", "iat": int(NOW), "exp": int(NOW) + 600}


def jwcrypto_pair(curve: str, kid: str) -> tuple[dict[str, Any], str]:
    from jwcrypto import jwk
    from jwcrypto import jwt as cjwt

    key = jwk.JWK.generate(kty="OKP", crv=curve, kid=kid)
    token = cjwt.JWT(header={"alg": "EdDSA", "kid": kid}, claims=CLAIMS)
    token.make_signed_token(key)
    public: dict[str, Any] = json.loads(key.export_public())
    return public, token.serialize()


def joserfc_pair(curve: str, kid: str) -> tuple[dict[str, Any], str]:
    from joserfc import jwt as jjwt
    from joserfc.jwk import OKPKey

    key = OKPKey.generate_key(curve)  # type: ignore[arg-type]
    with warnings.catch_warnings():  # joserfc prefers RFC 9864's "Ed25519"/"Ed448"
        warnings.simplefilter("ignore")
        token = jjwt.encode({"alg": "EdDSA", "kid": kid}, CLAIMS, key, algorithms=["EdDSA"])
    public: dict[str, Any] = {**key.as_dict(private=False), "kid": kid}
    return public, token


MAKERS: dict[str, Callable[[str, str], tuple[dict[str, Any], str]]] = {
    "jwcrypto": jwcrypto_pair,
    "joserfc": joserfc_pair,
}


@pytest.fixture
def server() -> Iterator[KeyServer]:
    key_server = KeyServer()
    yield key_server
    key_server.close()


@pytest.mark.parametrize("curve", ["Ed25519", "Ed448"])
@pytest.mark.parametrize("library", sorted(MAKERS))
def test_okp_jwks_without_alg_verify_configured_and_fetched(
    library: str, curve: str, server: KeyServer
) -> None:
    public, token = MAKERS[library](curve, f"{library}-{curve}")
    assert "alg" not in public and public["crv"] == curve
    # Configured: as one JWK and inside a JWK Set.
    for key in (public, {"keys": [public]}):
        auth = Authenticator(Provider("p", ["EdDSA"], key=key), clock=Clock())
        assert auth.authenticate(token).claims["sub"] == "interop"
    # Fetched: the same set from a key server.
    server.keys = [public]
    keys = RemoteKeySet(server.jwks_url, algorithms=["EdDSA"], allow_http=True, clock=Clock())
    auth = Authenticator(Provider("p", ["EdDSA"], key=keys), clock=Clock())
    assert auth.authenticate(token).claims["sub"] == "interop"
    assert [k.kid for k in keys.current().keys] == [public["kid"]]


def test_pyjwt_alone_cannot_load_an_ed448_jwk_without_alg() -> None:
    """Why the JWK loader is ours: PyJWK infers no algorithm for Ed448."""
    public, _ = jwcrypto_pair("Ed448", "k")
    with pytest.raises(jwt.PyJWTError, match="Ed448"):
        jwt.PyJWK.from_dict(public)


def test_certificate_bound_tokens_from_other_libraries(clock: Clock) -> None:
    """``cnf.x5t#S256`` tokens made by jwcrypto and joserfc, checked against the certificate."""
    from cryptography.hazmat.primitives import serialization
    from joserfc import jwt as jjwt
    from joserfc.jwk import ECKey
    from jwcrypto import jwk
    from jwcrypto import jwt as cjwt

    from jwt_wsgi import CertificateMismatch

    from .tlsproxy import Authority, thumbprint

    authority = Authority()
    _, _, cert = authority.issue("interop")
    _, _, other = authority.issue("interop-other")
    claims = {**CLAIMS, "cnf": {"x5t#S256": thumbprint(cert)}}
    made = {}
    key = jwk.JWK.generate(kty="EC", crv="P-256", kid="c1")
    signed = cjwt.JWT(header={"alg": "ES256", "kid": "c1"}, claims=claims)
    signed.make_signed_token(key)
    made["jwcrypto"] = (json.loads(key.export_public()), signed.serialize())
    rfc_key = ECKey.generate_key("P-256")
    token = jjwt.encode({"alg": "ES256", "kid": "c2"}, claims, rfc_key, algorithms=["ES256"])
    made["joserfc"] = ({**rfc_key.as_dict(private=False), "kid": "c2"}, token)
    for library, (public, token) in made.items():
        authenticator = Authenticator(
            Provider("p", ["ES256"], key={"keys": [public]}),
            clock=clock,
            certificate_environ="SSL_CLIENT_CERT",
        )
        pem = cert.public_bytes(serialization.Encoding.PEM).decode()
        environ = {"HTTP_AUTHORIZATION": f"Bearer {token}", "SSL_CLIENT_CERT": pem}
        result = authenticator.authenticate_request(environ)
        assert result is not None and result.claims["sub"] == "interop", library
        environ["SSL_CLIENT_CERT"] = other.public_bytes(serialization.Encoding.PEM).decode()
        with pytest.raises(CertificateMismatch):
            authenticator.authenticate_request(environ)
