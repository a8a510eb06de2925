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
from cryptography.hazmat.primitives.asymmetric import ec

from jwt_wsgi import Authenticator, Provider, RemoteKeySet

from .fixtures.keyserver import KeyServer
from .helpers import NOW, Clock, b64

CLAIMS = {"sub": "interop", "iat": int(NOW), "exp": int(NOW) + 600}


def jwcrypto_pair(curve: str, kid: str) -> tuple[dict[str, Any], str]:
    from jwcrypto import jwk
    from jwcrypto import jwt as cjwt

    key = jwk.JWK.generate(kty="OKP", crv=curve, kid=kid)
    token = cjwt.JWT(header={"alg": "EdDSA", "kid": kid}, claims=CLAIMS)
    token.make_signed_token(key)
    public: dict[str, Any] = json.loads(key.export_public())
    return public, token.serialize()


def joserfc_p256_key() -> Any:
    """A joserfc P-256 key whose exported coordinates are full length.

    joserfc 1.5, the version that installs beside the cryptography floor
    (``make test-min``), drops leading zero bytes of EC coordinates, about
    one key in 128; RFC 7518 section 6.2.1.2 requires all 32, so such a JWK
    is refused here, as PyJWT refuses it. joserfc 1.6.8 and later export
    them in full, and there the first key is taken.
    """
    from joserfc.jwk import ECKey

    while True:
        key = ECKey.generate_key("P-256")
        public = key.as_dict(private=False)
        if len(public["x"]) == len(public["y"]) == 43:  # 32 bytes in base64url
            return key


def test_a_short_ec_coordinate_is_refused() -> None:
    """The JWK joserfc 1.5 exports for one key in 128: a coordinate below 32 bytes."""
    from jwt_wsgi import ConfigurationError

    public = jwt.algorithms.ECAlgorithm.to_jwk(
        ec.generate_private_key(ec.SECP256R1()).public_key(), as_dict=True
    )
    short = {**public, "x": b64(jwt.utils.base64url_decode(public["x"])[1:])}
    with pytest.raises(ConfigurationError, match="cannot be loaded"):
        Provider("p", ["ES256"], key={"keys": [short]})


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


def joserfc_rfc9864_token(curve: str, kid: str, alg: str | None = None) -> tuple[Any, str]:
    """A joserfc OKP key and a token it signed under RFC 9864's name (``alg``: another)."""
    from joserfc import jwt as jjwt
    from joserfc.jwk import OKPKey

    key = OKPKey.generate_key(curve)  # type: ignore[arg-type]
    name = alg or curve
    with warnings.catch_warnings():  # joserfc 1.5 marks these names as recommended-only
        warnings.simplefilter("ignore")
        token = jjwt.encode({"alg": name, "kid": kid}, CLAIMS, key, algorithms=[name])
    return key, token


@pytest.mark.parametrize("curve", ["Ed25519", "Ed448"])
def test_rfc9864_tokens_from_another_library_verify(curve: str, server: KeyServer) -> None:
    """RFC 9864's fully-specified names: a joserfc token with ``alg`` ``Ed25519`` or
    ``Ed448`` verifies, with JWKs whose ``alg`` names the curve or names none, configured
    and fetched; a configuration allowing only ``EdDSA`` does not take them."""
    from jwt_wsgi.errors import DisallowedAlgorithm

    key, token = joserfc_rfc9864_token(curve, "k9864")
    public = {**key.as_dict(private=False), "kid": "k9864"}
    for member in (public, {**public, "alg": curve}):
        auth = Authenticator(Provider("p", [curve], key={"keys": [member]}), clock=Clock())
        assert auth.authenticate(token).claims["sub"] == "interop"
    server.keys = [{**public, "alg": curve}]
    fetched = RemoteKeySet(server.jwks_url, algorithms=[curve], allow_http=True, clock=Clock())
    auth = Authenticator(Provider("p", [curve], key=fetched), clock=Clock())
    assert auth.authenticate(token).claims["sub"] == "interop"
    only_eddsa = Authenticator(Provider("p", ["EdDSA"], key={"keys": [public]}), clock=Clock())
    with pytest.raises(DisallowedAlgorithm):
        only_eddsa.authenticate(token)


def test_a_curve_that_does_not_match_the_name_is_refused() -> None:
    """A token saying ``Ed25519`` signed by an Ed448 key, and JWKs saying one curve's name
    for the other curve: refused, each with its reason."""
    from cryptography.hazmat.primitives.asymmetric import ed448

    from jwt_wsgi import ConfigurationError
    from jwt_wsgi.errors import InvalidSignature

    key, _ = joserfc_rfc9864_token("Ed448", "k448")
    public = {**key.as_dict(private=False), "kid": "k448"}
    private = ed448.Ed448PrivateKey.from_private_bytes(
        jwt.utils.base64url_decode(key.as_dict(private=True)["d"])
    )
    signing_input = b64({"alg": "Ed25519", "kid": "k448"}) + "." + b64(CLAIMS)
    forged = signing_input + "." + b64(private.sign(signing_input.encode()))  # valid, mislabelled
    both = Authenticator(Provider("p", ["Ed25519", "Ed448"], key={"keys": [public]}),
                         clock=Clock())  # fmt: skip
    with pytest.raises(InvalidSignature) as refused:  # the Ed448 key serves no Ed25519 token
        both.authenticate(forged)
    assert refused.value.detail == "no key of the type and curve Ed25519 names"
    with pytest.raises(ConfigurationError, match="fits none of"):
        Provider("p", ["Ed25519"], key={"keys": [{**public, "alg": "Ed25519"}]})
    with pytest.raises(ConfigurationError, match="not the one Ed25519 uses"):
        from jwt_wsgi.jose.keys import prepare_public_jwk

        prepare_public_jwk(public, "Ed25519")


@pytest.mark.upstream
def test_pyjwt_alone_cannot_load_an_ed448_jwk_without_alg() -> None:
    """Why the JWK loader is ours: PyJWK infers no algorithm for Ed448."""
    public, _ = jwcrypto_pair("Ed448", "k")
    with pytest.raises(jwt.PyJWTError, match="Ed448"):
        jwt.PyJWK.from_dict(public)


def test_certificate_bound_tokens_from_other_libraries(clock: Clock) -> None:
    """``cnf.x5t#S256`` tokens made by jwcrypto and joserfc, checked against the certificate."""
    from cryptography.hazmat.primitives import serialization
    from joserfc import jwt as jjwt
    from jwcrypto import jwk
    from jwcrypto import jwt as cjwt

    from jwt_wsgi.errors import CertificateMismatch

    from .fixtures.tlsproxy import Authority, thumbprint

    authority = Authority()
    _, _, cert = authority.issue("interop")
    _, _, other = authority.issue("interop-other")
    claims = {**CLAIMS, "cnf": {"x5t#S256": thumbprint(cert)}}
    made = {}
    key = jwk.JWK.generate(kty="EC", crv="P-256", kid="c1")
    signed = cjwt.JWT(header={"alg": "ES256", "kid": "c1"}, claims=claims)
    signed.make_signed_token(key)
    made["jwcrypto"] = (json.loads(key.export_public()), signed.serialize())
    rfc_key = joserfc_p256_key()
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


def _jwcrypto_proof(kty: str, alg: str) -> tuple[str, Callable[[dict[str, Any]], str]]:
    """A client key made by jwcrypto: its own RFC 7638 thumbprint, and a proof signer."""
    from jwcrypto import jwk
    from jwcrypto import jwt as cjwt

    choices: dict[str, dict[str, Any]] = {
        "EC": {"crv": "P-256"},
        "OKP": {"crv": "Ed25519"},
        "RSA": {"size": 2048},
    }
    options = {"crv": "Ed448"} if alg == "Ed448" else choices[kty]
    key = jwk.JWK.generate(kty=kty, **options)
    public = json.loads(key.export_public())

    def sign(claims: dict[str, Any]) -> str:
        proof = cjwt.JWT(header={"typ": "dpop+jwt", "alg": alg, "jwk": public}, claims=claims)
        proof.make_signed_token(key)
        return str(proof.serialize())

    return key.thumbprint(), sign


def _joserfc_proof(kty: str, alg: str) -> tuple[str, Callable[[dict[str, Any]], str]]:
    """The same, made by joserfc."""
    from joserfc import jwt as jjwt
    from joserfc.jwk import OKPKey, RSAKey

    key: Any
    if kty == "EC":
        key = joserfc_p256_key()
    elif kty == "RSA":
        key = RSAKey.generate_key(2048)
    else:
        key = OKPKey.generate_key("Ed448" if alg == "Ed448" else "Ed25519")
    public = key.as_dict(private=False)

    def sign(claims: dict[str, Any]) -> str:
        with warnings.catch_warnings():  # joserfc prefers RFC 9864's "Ed25519" to "EdDSA"
            warnings.simplefilter("ignore")
            header = {"typ": "dpop+jwt", "alg": alg, "jwk": public}
            return str(jjwt.encode(header, claims, key, algorithms=[alg]))

    return key.thumbprint(), sign


@pytest.mark.parametrize("library", [_jwcrypto_proof, _joserfc_proof])
@pytest.mark.parametrize(
    ("kty", "alg"),
    [("EC", "ES256"), ("RSA", "PS256"), ("OKP", "EdDSA"), ("OKP", "Ed25519"), ("OKP", "Ed448")],
)
def test_dpop_proofs_and_bound_tokens_from_other_libraries(
    clock: Clock, library: Callable[..., Any], kty: str, alg: str
) -> None:
    """A client using another library: its thumbprint in ``cnf.jkt``, its proofs verify."""
    import base64
    import hashlib

    from jwcrypto import jwk
    from jwcrypto import jwt as cjwt

    from jwt_wsgi import DPoP
    from jwt_wsgi.errors import DPoPKeyMismatch, DPoPMethodMismatch, DPoPProofReplayed

    if library is _jwcrypto_proof and kty == "RSA":
        import cryptography

        if int(cryptography.__version__.split(".")[0]) < 39:
            pytest.skip("jwcrypto signs RSA through cryptography 39's API; the floor is older")
    jkt, sign = library(kty, alg)
    issuer = jwk.JWK.generate(kty="EC", crv="P-256", kid="as")
    made = cjwt.JWT(header={"alg": "ES256", "kid": "as"}, claims={**CLAIMS, "cnf": {"jkt": jkt}})
    made.make_signed_token(issuer)
    token = made.serialize()
    authenticator = Authenticator(
        Provider(
            "p", ["ES256"], key={"keys": [json.loads(issuer.export_public())]}, dpop="required"
        ),
        dpop_proofs=DPoP(
            "https://rs.example.com", algorithms=["ES256", "PS256", "EdDSA", "Ed25519", "Ed448"]
        ),
        clock=clock,
    )
    ath = base64.urlsafe_b64encode(hashlib.sha256(token.encode()).digest()).rstrip(b"=").decode()

    def environ(method: str, jti: str) -> dict[str, Any]:
        claims = {"jti": jti, "htm": method, "htu": "https://rs.example.com/items",
                  "iat": int(NOW), "ath": ath}  # fmt: skip
        return {"HTTP_AUTHORIZATION": f"DPoP {token}", "HTTP_DPOP": sign(claims),
                "REQUEST_METHOD": "GET", "PATH_INFO": "/items"}  # fmt: skip

    result = authenticator.authenticate_request(environ("GET", "one"))
    assert result is not None and result.claims["cnf"] == {"jkt": jkt}
    with pytest.raises(DPoPMethodMismatch):
        authenticator.authenticate_request(environ("POST", "two"))
    again = environ("GET", "three")
    authenticator.authenticate_request(again)
    with pytest.raises(DPoPProofReplayed):
        authenticator.authenticate_request(again)
    other_jkt, other_sign = library(kty, alg)
    stolen = environ("GET", "four")
    stolen["HTTP_DPOP"] = other_sign(
        {"jti": "four", "htm": "GET", "htu": "https://rs.example.com/items", "iat": int(NOW),
         "ath": ath}
    )  # fmt: skip
    assert other_jkt != jkt
    with pytest.raises(DPoPKeyMismatch):
        authenticator.authenticate_request(stolen)
