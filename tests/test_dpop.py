"""DPoP (RFC 9449): proofs checked request by request, replay refused across instances."""

from __future__ import annotations

import base64
import json
import warnings
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jwt_wsgi import (
    AuthError,
    ConfigurationError,
    DPoP,
    DPoPNonces,
    ExpiredToken,
    JWTMiddleware,
    MemoryRevocationStore,
    MissingToken,
    Provider,
    RedisRevocationStore,
    Rule,
)
from jwt_wsgi.binding import DPoPMode
from jwt_wsgi.dpop import access_token_hash, normalise_url
from jwt_wsgi.errors import (
    DPoPAlgorithmNotAllowed,
    DPoPAthMismatch,
    DPoPDowngrade,
    DPoPKeyMismatch,
    DPoPMethodMismatch,
    DPoPNonceRequired,
    DPoPNotAccepted,
    DPoPProofMissing,
    DPoPProofReplayed,
    DPoPProofStale,
    DPoPRequired,
    DPoPSignatureInvalid,
    DPoPTokenNotBound,
    DPoPUrlMismatch,
    MalformedCredentials,
    MalformedDPoPProof,
    ReplayCheckFailed,
    TokenTooLarge,
    UnsupportedToken,
)
from jwt_wsgi.jose.signing import jwk_thumbprint, key_thumbprint
from jwt_wsgi.metadata import protected_resource_metadata
from jwt_wsgi.testing import DPoPKey, TokenClient

from .conftest import free_port
from .helpers import (
    NOW,
    SECRET,
    Clock,
    Refusals,
    Statuses,
    ValidatingClient,
    echo_app,
    make_token,
)

BASE = "https://api.example.com"


@pytest.fixture
def key(clock: Clock) -> DPoPKey:
    return DPoPKey(clock=clock)


def bound(key: DPoPKey, claims: dict[str, Any] | None = None) -> str:
    return make_token({"cnf": {"jkt": key.jkt}, **(claims or {})})


class Api:
    """A middleware with DPoP over ``echo_app``, a client, and the refusals it made."""

    def __init__(self, clock: Clock, mode: DPoPMode = "allowed", **options: Any) -> None:
        self.refusals = Refusals()
        rules = options.pop("rules", ())
        proofs = options.pop("dpop_proofs", None) or DPoP(BASE, **options)
        self.mw = JWTMiddleware(echo_app, key=SECRET, algorithms=["HS256"], clock=clock,
                                dpop=mode, dpop_proofs=proofs, rules=rules,
                                on_error=self.refusals)  # fmt: skip
        self.client = ValidatingClient(self.mw)

    def get(self, path: str = "/orders", method: str = "GET", **headers: str) -> Any:
        return self.client.open(path, method=method, headers=headers)

    def send(self, token: str, proof: str | None, path: str = "/orders", **kw: Any) -> Any:
        headers = {"Authorization": f"DPoP {token}"}
        if proof is not None:
            headers["DPoP"] = proof
        return self.get(path, **{**kw, **headers})

    def refused(self) -> type[AuthError]:
        return self.refusals.last()


def challenges(response: Any) -> list[str]:
    return list(response.headers.getlist("WWW-Authenticate"))


# -- the happy path ----------------------------------------------------------------


def test_a_bound_token_with_its_proof_passes_and_the_app_sees_the_claims(
    clock: Clock, key: DPoPKey
) -> None:
    api = Api(clock)
    token = bound(key, {"scope": "orders"})
    response = api.send(token, key.proof("GET", BASE + "/orders", token))
    assert response.status_code == 200
    assert response.json["claims"]["cnf"] == {"jkt": key.jkt}
    assert response.json["claims"]["scope"] == "orders"
    # Once more with a new proof: the token comes from the cache, the proof is checked again.
    again = api.send(token, key.proof("GET", BASE + "/orders", token))
    assert again.status_code == 200 and api.mw.cache.hits == 1


def test_proof_signed_by_each_default_algorithm_passes(clock: Clock) -> None:
    """RFC 9864's Ed25519 among them: identity providers advertise it first."""
    from jwt_wsgi.dpop import DEFAULT_ALGORITHMS

    assert "Ed25519" in DEFAULT_ALGORITHMS
    api = Api(clock)
    for algorithm in DEFAULT_ALGORITHMS:
        key = DPoPKey(algorithm, clock=clock)
        token = bound(key)
        proof = key.proof("GET", BASE + "/orders", token)
        assert jwt.get_unverified_header(proof)["alg"] == algorithm
        response = api.send(token, proof)
        assert response.status_code == 200, algorithm


def test_unbound_bearer_tokens_still_pass_where_dpop_is_allowed(clock: Clock) -> None:
    api = Api(clock)
    assert api.get(Authorization=f"Bearer {make_token()}").status_code == 200


def test_thumbprint_is_rfc7638s_and_agrees_with_the_signing_module(key: DPoPKey) -> None:
    # RFC 7638 section 3.1's example key and thumbprint.
    example = {
        "kty": "RSA",
        "e": "AQAB",
        "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tS"
        "oc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR"
        "0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhA"
        "I4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
    }
    assert jwk_thumbprint(example) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    assert key.jkt == key_thumbprint(key.key.public_key())


def test_the_test_client_sends_dpop_with_a_fresh_proof_per_request(clock: Clock) -> None:
    api = Api(clock)
    key = DPoPKey(clock=clock)
    client = TokenClient(api.mw, bound(key), dpop=key, base_url=BASE)
    assert [client.get("/orders").status_code for _ in range(3)] == [200, 200, 200]
    assert client.post("/orders?page=2").status_code == 200


# -- every refusal, with its RFC 9449 error -------------------------------------------


def test_a_missing_proof_is_invalid_dpop_proof_in_a_dpop_challenge(
    clock: Clock, key: DPoPKey
) -> None:
    api = Api(clock)
    response = api.send(bound(key), None)
    assert response.status_code == 401 and api.refused() is DPoPProofMissing
    assert response.json["error"] == "invalid_dpop_proof"
    first, second = challenges(response)
    assert first.startswith('DPoP realm="api", error="invalid_dpop_proof"')
    assert first.endswith('algs="ES256 ES384 Ed25519 EdDSA PS256 RS256"')
    assert second == 'Bearer realm="api"'


@pytest.mark.parametrize(
    ("change", "refusal"),
    [
        ({"headers": {"typ": "JWT"}}, MalformedDPoPProof),
        ({"headers": {"typ": None}}, MalformedDPoPProof),
        ({"headers": {"crit": ["exp"]}}, MalformedDPoPProof),
        ({"headers": {"jwk": None}}, MalformedDPoPProof),
        ({"headers": {"jwk": "abc"}}, MalformedDPoPProof),
        ({"claims": {"jti": None}}, MalformedDPoPProof),
        ({"claims": {"jti": ""}}, MalformedDPoPProof),
        ({"claims": {"jti": "x" * 257}}, MalformedDPoPProof),
        ({"claims": {"htm": None}}, MalformedDPoPProof),
        ({"claims": {"htu": 7}}, MalformedDPoPProof),
        ({"claims": {"iat": None}}, MalformedDPoPProof),
        ({"claims": {"iat": "1800000000"}}, MalformedDPoPProof),
        ({"claims": {"iat": True}}, MalformedDPoPProof),
        ({"claims": {"htm": "POST"}}, DPoPMethodMismatch),
        ({"claims": {"htm": "get"}}, DPoPMethodMismatch),
        ({"claims": {"htu": "https://other.example.com/orders"}}, DPoPUrlMismatch),
        ({"claims": {"htu": BASE + "/orders/1"}}, DPoPUrlMismatch),
        ({"claims": {"htu": "http://api.example.com/orders"}}, DPoPUrlMismatch),
        ({"claims": {"htu": "https://api.example.com:8443/orders"}}, DPoPUrlMismatch),
        ({"claims": {"htu": "https://user@api.example.com/orders"}}, DPoPUrlMismatch),
        ({"claims": {"htu": "not a url"}}, DPoPUrlMismatch),
        ({"claims": {"iat": int(NOW) - 66}}, DPoPProofStale),
        ({"claims": {"iat": int(NOW) + 6}}, DPoPProofStale),
        ({"claims": {"ath": None}}, DPoPAthMismatch),
        ({"claims": {"ath": access_token_hash("another.token.x")}}, DPoPAthMismatch),
    ],
)
def test_each_broken_proof_is_refused_for_its_reason(
    clock: Clock, key: DPoPKey, change: dict[str, Any], refusal: type[AuthError]
) -> None:
    api = Api(clock)
    token = bound(key)
    headers = {k: v for k, v in change.get("headers", {}).items() if v is not None}
    claims = dict(change.get("claims", {}))
    proof = key.proof("GET", BASE + "/orders", token, claims=claims, headers=headers)
    if None in change.get("headers", {}).values() or None in claims.values():
        proof = _without(proof, key, change)
    response = api.send(token, proof)
    assert (response.status_code, api.refused()) == (401, refusal)
    assert response.json["error"] == "invalid_dpop_proof"
    assert challenges(response)[0].startswith('DPoP realm="api", error="invalid_dpop_proof"')


def _without(proof: str, key: DPoPKey, change: dict[str, Any]) -> str:
    """The proof re-signed without the members ``change`` sets to ``None``."""
    header = jwt.get_unverified_header(proof)
    claims = jwt.decode(proof, options={"verify_signature": False})
    for name, value in change.get("headers", {}).items():
        if value is None:
            header.pop(name, None)
    for name, value in change.get("claims", {}).items():
        if value is None:
            claims.pop(name, None)
    header.pop("alg", None)
    return jwt.encode(claims, key.key, algorithm=key.algorithm, headers=header)


def test_a_proof_using_an_unsupported_jws_extension_is_malformed(
    clock: Clock, key: DPoPKey
) -> None:
    """``b64`` (RFC 7797), even ``true``, which some PyJWT versions drop when signing."""
    api = Api(clock)
    token = bound(key)
    header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": key.jwk, "b64": True}
    claims = {"jti": "j", "htm": "GET", "htu": BASE + "/orders", "iat": int(NOW),
              "ath": access_token_hash(token)}  # fmt: skip
    signing_input = f"{_b64(header)}.{_b64(claims)}"
    signature = jwt.get_algorithm_by_name("ES256").sign(signing_input.encode(), key.key)
    response = api.send(token, f"{signing_input}.{_b64(signature)}")
    assert (response.status_code, api.refused()) == (401, MalformedDPoPProof)
    header.pop("b64")
    signing_input = f"{_b64(header)}.{_b64(claims)}"
    signature = jwt.get_algorithm_by_name("ES256").sign(signing_input.encode(), key.key)
    assert api.send(token, f"{signing_input}.{_b64(signature)}").status_code == 200


def test_proof_age_limits_are_inclusive_and_configurable(clock: Clock, key: DPoPKey) -> None:
    api = Api(clock, max_age=10, leeway=2)
    token = bound(key)
    for iat, status in ((NOW - 12, 200), (NOW - 13, 401), (NOW + 2, 200), (NOW + 3, 401)):
        response = api.send(token, key.proof("GET", BASE + "/orders", token, claims={"iat": iat}))
        assert response.status_code == status, iat


@pytest.mark.parametrize("alg", ["HS256", "none", "ES512", "RS512", "XX1"])
def test_a_proof_algorithm_outside_the_allow_list_is_refused(
    clock: Clock, key: DPoPKey, alg: str
) -> None:
    api = Api(clock)
    token = bound(key)
    header = {"typ": "dpop+jwt", "alg": alg, "jwk": key.jwk}
    claims = {"jti": "j1", "htm": "GET", "htu": BASE + "/orders", "iat": int(NOW)}
    claims["ath"] = access_token_hash(token)
    proof = f"{_b64(header)}.{_b64(claims)}.{_b64(b'x' * 64)}"
    response = api.send(token, proof)
    assert (response.status_code, api.refused()) == (401, DPoPAlgorithmNotAllowed)


def test_a_proof_key_must_be_public_and_fit_its_algorithm(clock: Clock, key: DPoPKey) -> None:
    api = Api(clock)
    token = bound(key)
    private = jwt.get_algorithm_by_name("ES256").to_jwk(key.key, as_dict=True)
    rsa = DPoPKey("RS256", clock=clock)
    p384 = DPoPKey("ES384", clock=clock)
    for jwk in (private, rsa.jwk, p384.jwk, {**key.jwk, "kty": "oct", "k": "c2VjcmV0"},
                {**key.jwk, "use": "enc"}, {**key.jwk, "alg": "ES384"}, {"kty": "EC"}):  # fmt: skip
        proof = key.proof("GET", BASE + "/orders", token, headers={"jwk": jwk})
        response = api.send(token, proof)
        assert (response.status_code, api.refused()) == (401, MalformedDPoPProof), jwk


def test_a_weak_rsa_proof_key_is_refused(clock: Clock) -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    weak = DPoPKey("RS256", key=rsa.generate_private_key(65537, 1024), clock=clock)
    api = Api(clock)
    token = bound(weak)
    with warnings.catch_warnings():  # newer PyJWT warns the signer too
        warnings.simplefilter("ignore")
        proof = weak.proof("GET", BASE + "/orders", token)
    response = api.send(token, proof)
    assert (response.status_code, api.refused()) == (401, MalformedDPoPProof)


def test_a_proof_signed_by_another_key_than_its_jwk_is_refused(clock: Clock, key: DPoPKey) -> None:
    api = Api(clock)
    thief = DPoPKey(clock=clock)
    token = bound(key)
    forged = thief.proof("GET", BASE + "/orders", token, headers={"jwk": key.jwk})
    response = api.send(token, forged)
    assert (response.status_code, api.refused()) == (401, DPoPSignatureInvalid)
    header, payload, _ = key.proof("GET", BASE + "/orders", token).split(".")
    for signature in ("", "AA", "!!!!", _b64(b"\0" * 64)):
        response = api.send(token, f"{header}.{payload}.{signature}")
        assert api.refused() in (DPoPSignatureInvalid, MalformedDPoPProof), signature


def test_a_stolen_token_with_the_thiefs_own_proof_is_a_key_mismatch(
    clock: Clock, key: DPoPKey
) -> None:
    api = Api(clock)
    thief = DPoPKey(clock=clock)
    token = bound(key)
    response = api.send(token, thief.proof("GET", BASE + "/orders", token))
    assert (response.status_code, api.refused()) == (401, DPoPKeyMismatch)
    # RFC 9449 section 7.1: a key-binding failure is invalid_token, in the DPoP challenge.
    assert response.json["error"] == "invalid_token"
    assert challenges(response)[0].startswith('DPoP realm="api", error="invalid_token"')


def test_a_replayed_proof_is_refused(clock: Clock, key: DPoPKey) -> None:
    api = Api(clock)
    token = bound(key)
    proof = key.proof("GET", BASE + "/orders", token)
    assert api.send(token, proof).status_code == 200
    assert api.send(token, proof).status_code == 401 and api.refused() is DPoPProofReplayed
    clock.now += 300  # later: the proof is stale, and its id forgotten
    assert api.send(token, proof).status_code == 401 and api.refused() is DPoPProofStale


def test_a_refused_proof_does_not_use_up_its_id(clock: Clock, key: DPoPKey) -> None:
    api = Api(clock)
    token = bound(key)
    proof = key.proof("GET", BASE + "/orders", token)
    assert api.send(token, proof, method="POST").status_code == 401
    assert api.refused() is DPoPMethodMismatch
    assert api.send(token, proof).status_code == 200


def test_the_same_jti_from_two_client_keys_does_not_collide(clock: Clock) -> None:
    api = Api(clock)
    one, two = DPoPKey(clock=clock), DPoPKey(clock=clock)
    for key in (one, two):
        token = bound(key)
        proof = key.proof("GET", BASE + "/orders", token, claims={"jti": "same"})
        assert api.send(token, proof).status_code == 200


def test_two_dpop_headers_are_refused(clock: Clock, key: DPoPKey) -> None:
    api = Api(clock)
    token = bound(key)
    first = key.proof("GET", BASE + "/orders", token)
    second = key.proof("GET", BASE + "/orders", token)
    response = api.send(token, f"{first}, {second}")
    assert (response.status_code, api.refused()) == (401, MalformedDPoPProof)
    assert response.json["error_description"] == "the request must carry exactly one DPoP proof"
    # A proof over max_proof_bytes is refused unparsed, valid or not.
    large = key.proof("GET", BASE + "/orders", token, claims={"pad": "x" * 5000})
    response = api.send(token, large)
    assert (response.status_code, api.refused()) == (401, MalformedDPoPProof)


def test_a_dpop_header_that_is_no_jws_is_malformed(clock: Clock, key: DPoPKey) -> None:
    api = Api(clock)
    token = bound(key)
    for proof in ("abc", "a.b", "a.b.c.d", "!!.!!.!!", f"{_b64(b'[1]')}.{_b64(b'{}')}.AA"):
        response = api.send(token, proof)
        assert (response.status_code, api.refused()) == (401, MalformedDPoPProof), proof


# -- the token side: binding, downgrade, modes ------------------------------------------


def test_a_bound_token_sent_as_bearer_is_a_downgrade_in_every_mode(
    clock: Clock, key: DPoPKey
) -> None:
    for mode in ("allowed", "required", "disabled"):
        api = Api(clock, mode)
        response = api.get(Authorization=f"Bearer {bound(key)}")
        assert (response.status_code, api.refused()) == (401, DPoPDowngrade), mode
        assert issubclass(DPoPDowngrade, UnsupportedToken)
    # And with no DPoP configured at all.
    refusals = Refusals()
    plain = JWTMiddleware(echo_app, key=SECRET, algorithms=["HS256"], clock=clock,
                          on_error=refusals)  # fmt: skip
    response = ValidatingClient(plain).get("/", headers={"Authorization": f"Bearer {bound(key)}"})
    assert (response.status_code, refusals.last()) == (401, DPoPDowngrade)
    assert challenges(response) == [
        'Bearer realm="api", error="invalid_token", error_description="a DPoP-bound token '
        'must be sent with the DPoP scheme and a proof"'
    ]


def test_an_unbound_token_with_the_dpop_scheme_is_refused(clock: Clock, key: DPoPKey) -> None:
    api = Api(clock)
    token = make_token()
    response = api.send(token, key.proof("GET", BASE + "/orders", token))
    assert (response.status_code, api.refused()) == (401, DPoPTokenNotBound)
    assert challenges(response)[0].startswith('DPoP realm="api", error="invalid_token"')


def test_required_dpop_refuses_bearer_and_challenges_with_dpop_only(
    clock: Clock, key: DPoPKey
) -> None:
    api = Api(clock, "required")
    response = api.get(Authorization=f"Bearer {make_token()}")
    assert (response.status_code, api.refused()) == (401, DPoPRequired)
    assert challenges(response) == [
        'DPoP realm="api", error="invalid_token", error_description="this resource needs a '
        'DPoP-bound token", algs="ES256 ES384 Ed25519 EdDSA PS256 RS256"'
    ]
    response = api.get()
    assert (response.status_code, api.refused()) == (401, MissingToken)
    assert challenges(response) == [
        'DPoP realm="api", algs="ES256 ES384 Ed25519 EdDSA PS256 RS256"'
    ]
    token = bound(key)
    assert api.send(token, key.proof("GET", BASE + "/orders", token)).status_code == 200


def test_no_token_where_dpop_is_allowed_offers_both_schemes(clock: Clock) -> None:
    api = Api(clock)
    response = api.get()
    assert challenges(response) == [
        'Bearer realm="api"',
        'DPoP realm="api", algs="ES256 ES384 Ed25519 EdDSA PS256 RS256"',
    ]


def test_a_disabled_provider_refuses_the_dpop_scheme_and_offers_bearer_only(
    clock: Clock, key: DPoPKey
) -> None:
    api = Api(clock, "disabled")
    token = bound(key)
    response = api.send(token, key.proof("GET", BASE + "/orders", token))
    assert (response.status_code, api.refused()) == (401, DPoPNotAccepted)
    response = api.get()
    assert challenges(response) == ['Bearer realm="api"']


def test_rules_override_the_providers_mode(clock: Clock, key: DPoPKey) -> None:
    rules = [
        Rule("/payments/<path:rest>", dpop="required"),
        Rule("/legacy/<path:rest>", dpop="disabled"),
        Rule("/beta/<path:rest>", dpop="allowed"),
    ]
    api = Api(clock, "disabled", rules=rules)
    token = bound(key)
    plain = f"Bearer {make_token()}"
    for path in ("/payments/1", "/beta/1"):
        response = api.send(token, key.proof("GET", BASE + path, token), path=path)
        assert response.status_code == 200, path
    assert api.get("/payments/1", Authorization=plain).status_code == 401
    assert api.refused() is DPoPRequired
    assert api.get("/beta/1", Authorization=plain).status_code == 200
    assert api.get("/legacy/1", Authorization=plain).status_code == 200
    response = api.send(token, key.proof("GET", BASE + "/legacy/1", token), path="/legacy/1")
    assert (response.status_code, api.refused()) == (401, DPoPNotAccepted)
    # The default path follows the provider: disabled.
    response = api.send(token, key.proof("GET", BASE + "/orders", token))
    assert (response.status_code, api.refused()) == (401, DPoPNotAccepted)


def test_a_cached_bearer_token_is_refused_on_a_dpop_only_rule(clock: Clock) -> None:
    api = Api(clock, "allowed", rules=[Rule("/payments", dpop="required")])
    plain = f"Bearer {make_token()}"
    assert api.get("/orders", Authorization=plain).status_code == 200
    assert api.get("/payments", Authorization=plain).status_code == 401  # a cache hit
    assert api.refused() is DPoPRequired and api.mw.cache.hits == 1


def test_token_errors_on_a_dpop_request_answer_in_the_dpop_scheme(
    clock: Clock, key: DPoPKey
) -> None:
    api = Api(clock)
    token = bound(key, {"exp": int(NOW) - 10})
    response = api.send(token, key.proof("GET", BASE + "/orders", token))
    assert (response.status_code, api.refused()) == (401, ExpiredToken)
    assert challenges(response)[0].startswith('DPoP realm="api", error="invalid_token"')
    for header in ("DPoP", "DPoP a b", "DPoP a,b"):
        response = api.get(Authorization=header)
        assert (response.status_code, api.refused()) == (400, MalformedCredentials), header
        assert challenges(response)[0].startswith('DPoP realm="api", error="invalid_request"')


def test_the_dpop_scheme_is_not_read_without_dpop_configured(clock: Clock, key: DPoPKey) -> None:
    refusals = Refusals()
    mw = JWTMiddleware(echo_app, key=SECRET, algorithms=["HS256"], clock=clock,
                       on_error=refusals)  # fmt: skip
    token = bound(key)
    headers = key.headers(token, "GET", BASE + "/")
    response = ValidatingClient(mw).get("/", headers=headers)
    assert (response.status_code, refusals.last()) == (401, MissingToken)


def test_dpop_from_the_header_when_cookies_are_read_too(clock: Clock, key: DPoPKey) -> None:
    refusals = Refusals()
    mw = JWTMiddleware(echo_app, key=SECRET, algorithms=["HS256"], clock=clock,
                       locations=["header", "cookie"], dpop="allowed",
                       dpop_proofs=DPoP(BASE), on_error=refusals)  # fmt: skip
    token = bound(key)
    client = ValidatingClient(mw)
    assert client.get("/a", headers=key.headers(token, "GET", BASE + "/a")).status_code == 200
    response = client.get("/a", headers={"Authorization": f"DPoP {token}"})
    assert (response.status_code, refusals.last()) == (401, DPoPProofMissing)
    browser = ValidatingClient(mw)
    browser.set_cookie("access_token", token)
    response = browser.get("/a")
    assert (response.status_code, refusals.last()) == (401, DPoPDowngrade)


def test_authenticate_without_a_request_refuses_a_bound_token(clock: Clock, key: DPoPKey) -> None:
    api = Api(clock)
    with pytest.raises(DPoPDowngrade):
        api.mw.authenticator.authenticate(bound(key))
    assert api.mw.authenticator.authenticate(make_token()).claims["sub"] == "alice"


# -- htu: built from configuration and the routed path, never from Host ------------------


@pytest.mark.parametrize(
    ("htu", "status"),
    [
        ("https://api.example.com/orders", 200),
        ("HTTPS://API.Example.COM/orders", 200),
        ("https://api.example.com:443/orders", 200),
        ("https://api.example.com/orders?page=2#top", 200),
        ("https://api.example.com/%6Frders", 200),
        ("https://api.example.com/Orders", 401),
        ("https://api.example.com/orders/", 401),
        ("https://api.example.com//orders", 401),
    ],
)
def test_htu_is_compared_after_rfc3986_normalisation(
    clock: Clock, key: DPoPKey, htu: str, status: int
) -> None:
    api = Api(clock)
    token = bound(key)
    assert api.send(token, key.proof("GET", htu, token)).status_code == status


def test_htu_cannot_be_steered_by_host_or_forwarded_headers(clock: Clock, key: DPoPKey) -> None:
    api = Api(clock)
    token = bound(key)
    spoofed = {"Host": "evil.example", "X-Forwarded-Host": "evil.example",
               "X-Forwarded-Proto": "http",
               "Forwarded": "host=evil.example;proto=http"}  # fmt: skip
    for htu in ("https://evil.example/orders", "http://evil.example/orders"):
        response = api.send(token, key.proof("GET", htu, token), **spoofed)
        assert (response.status_code, api.refused()) == (401, DPoPUrlMismatch), htu
    # The configured URL still works whatever Host says.
    response = api.send(token, key.proof("GET", BASE + "/orders", token), **spoofed)
    assert response.status_code == 200


def test_several_base_urls_and_a_path_prefix(clock: Clock, key: DPoPKey) -> None:
    api = Api(clock, dpop_proofs=DPoP(["https://api.example.com/v1/", "http://internal:8080"]))
    token = bound(key)
    for htu in ("https://api.example.com/v1/orders", "http://internal:8080/orders"):
        assert api.send(token, key.proof("GET", htu, token)).status_code == 200, htu
    assert api.send(token, key.proof("GET", BASE + "/orders", token)).status_code == 401


def test_htu_includes_script_name_and_the_canonical_path(clock: Clock, key: DPoPKey) -> None:
    api = Api(clock)
    token = bound(key)
    proof = key.proof("GET", BASE + "/svc/a%20b/c", token)
    response = api.client.get(
        "/a b/c", headers={"Authorization": f"DPoP {token}", "DPoP": proof},
        environ_overrides={"SCRIPT_NAME": "/svc"},
    )  # fmt: skip
    assert response.status_code == 200
    # htu is the path the rules matched: /a/./b is routed, and checked, as /a/b.
    response = api.send(token, key.proof("GET", BASE + "/a/./b", token), path="/a/./b")
    assert (response.status_code, api.refused()) == (401, DPoPUrlMismatch)
    response = api.send(token, key.proof("GET", BASE + "/a/b", token), path="/a/./b")
    assert response.status_code == 200 and response.json["path"] == "/a/b"


def test_normalise_url_refuses_what_is_no_http_url() -> None:
    for bad in ("ftp://x/", "https://", "//x/y", "https://x:99999/", "https://u:p@x/", "x"):
        assert normalise_url(bad) is None, bad
    assert normalise_url("https://[::1]:443/a%7e%2f") == "https://[::1]/a~%2F"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_htu_normalisation_never_raises(text: str) -> None:
    result = normalise_url(text)
    assert result is None or result.startswith(("http://", "https://"))


@settings(max_examples=200, deadline=None)
@given(proof=st.text(max_size=200), method=st.sampled_from(["GET", "POST", "PATCH"]))
def test_any_dpop_header_is_a_clean_refusal_never_a_500(proof: str, method: str) -> None:
    clock = Clock()
    key = DPoPKey(clock=clock)
    api = Api(clock)
    environ = {"HTTP_AUTHORIZATION": f"DPoP {bound(key)}", "HTTP_DPOP": proof}
    statuses = Statuses()
    api.mw({**_environ(method), **environ}, statuses)
    assert statuses.seen[0].startswith(("400", "401")), statuses.seen


def _environ(method: str) -> dict[str, Any]:
    from werkzeug.test import EnvironBuilder

    return dict(EnvironBuilder(path="/orders", method=method).get_environ())


# -- nonces ----------------------------------------------------------------------------


def test_nonces_are_demanded_then_accepted_then_rotated(clock: Clock, key: DPoPKey) -> None:
    nonces = DPoPNonces(b"n" * 32, lifetime=60, clock=clock)
    api = Api(clock, nonces=nonces)
    token = bound(key)
    response = api.send(token, key.proof("GET", BASE + "/orders", token))
    assert (response.status_code, api.refused()) == (401, DPoPNonceRequired)
    assert response.json["error"] == "use_dpop_nonce"
    assert challenges(response)[0].startswith('DPoP realm="api", error="use_dpop_nonce"')
    nonce = response.headers["DPoP-Nonce"]
    response = api.send(token, key.proof("GET", BASE + "/orders", token, nonce=nonce))
    assert response.status_code == 200 and "DPoP-Nonce" not in response.headers
    clock.now += 60  # the next period: the old nonce still passes, and a new one is sent
    response = api.send(token, key.proof("GET", BASE + "/orders", token, nonce=nonce))
    assert response.status_code == 200
    fresh = response.headers["DPoP-Nonce"]
    assert fresh != nonce
    clock.now += 60  # two periods on: the old nonce is refused with the current one
    response = api.send(token, key.proof("GET", BASE + "/orders", token, nonce=nonce))
    assert (response.status_code, api.refused()) == (401, DPoPNonceRequired)
    assert response.headers["DPoP-Nonce"] == nonces.current() not in (fresh, nonce)
    assert (
        api.send(token, key.proof("GET", BASE + "/orders", token, nonce=fresh)).status_code == 200
    )
    for wrong in ("", "x" * 24, 7):
        proof = key.proof("GET", BASE + "/orders", token, claims={"nonce": wrong})
        assert api.send(token, proof).status_code == 401 and api.refused() is DPoPNonceRequired


def test_nonces_under_one_secret_pass_in_every_process(clock: Clock) -> None:
    secret = b"s" * 32
    one, two = DPoPNonces(secret, clock=clock), DPoPNonces(secret, clock=clock)
    assert two.check(one.current()) is None
    other = DPoPNonces(b"t" * 32, clock=clock)
    with pytest.raises(DPoPNonceRequired):
        other.check(one.current())
    assert DPoPNonces.generate(clock=clock).current() != one.current()


# -- replay across instances and processes, through real Redis ---------------------------------


@pytest.fixture
def shared_store(redis_url: str) -> Iterator[RedisRevocationStore]:
    store = RedisRevocationStore.from_url(redis_url, prefix=f"dpop-{free_port()}:")
    yield store
    store.close()


def test_a_proof_replayed_at_a_second_instance_sharing_redis_is_refused(
    clock: Clock, key: DPoPKey, redis_url: str
) -> None:
    prefix = f"dpop-{free_port()}:"
    stores = [RedisRevocationStore.from_url(redis_url, prefix=prefix) for _ in range(2)]
    try:
        first, second = (Api(clock, replay=store) for store in stores)
        token = bound(key)
        proof = key.proof("GET", BASE + "/orders", token)
        assert first.send(token, proof).status_code == 200
        response = second.send(token, proof)
        assert (response.status_code, second.refused()) == (401, DPoPProofReplayed)
        fresh = key.proof("GET", BASE + "/orders", token)
        assert second.send(token, fresh).status_code == 200
        assert first.send(token, fresh).status_code == 401
    finally:
        for store in stores:
            store.close()


def test_the_revocation_store_keeps_proof_ids_unless_told_otherwise(
    clock: Clock, key: DPoPKey
) -> None:
    revocation = MemoryRevocationStore(clock=clock)
    proofs = DPoP(BASE)
    mw = JWTMiddleware(echo_app, key=SECRET, algorithms=["HS256"], clock=clock, dpop="allowed",
                       dpop_proofs=proofs, revocation=revocation)  # fmt: skip
    token = bound(key)
    assert (
        ValidatingClient(mw).get("/a", headers=key.headers(token, "GET", BASE + "/a")).status_code
        == 200
    )
    assert len(revocation) == 1  # the proof id, kept for the proof window
    clock.now += 71
    revocation.revoke("other", expires_at=clock.now + 10)  # a write purges what expired
    assert len(revocation) == 1


def test_replay_store_down_is_503_never_a_pass(clock: Clock, key: DPoPKey) -> None:
    down = RedisRevocationStore.from_url(f"redis://127.0.0.1:{free_port()}/0", mirror=False)
    api = Api(clock, replay=down)
    token = bound(key)
    response = api.send(token, key.proof("GET", BASE + "/orders", token))
    assert (response.status_code, api.refused()) == (503, ReplayCheckFailed)
    assert response.json["error"] == "temporarily_unavailable"
    assert response.headers["Retry-After"] == "1"


# -- configuration, metadata ------------------------------------------------------------


def test_configuration_mistakes_stop_at_start_up() -> None:
    cases: list[tuple[Any, str]] = [
        (lambda: DPoP("ftp://x"), "base_url"),
        (lambda: DPoP("https://x/?q"), "base_url"),
        (lambda: DPoP([]), "base_url"),
        (lambda: DPoP(BASE, algorithms=["HS256"]), "symmetric"),
        (lambda: DPoP(BASE, algorithms=["none"]), "none"),
        (lambda: DPoP(BASE, max_age=0), "max_age"),
        (lambda: DPoP(BASE, replay={}), "replay"),  # type: ignore[arg-type]
        (lambda: DPoP(BASE, nonces="x"), "nonces"),  # type: ignore[arg-type]
        (lambda: DPoPNonces(b"short"), "32 bytes"),
        (lambda: Provider("p", ["HS256"], key=SECRET, dpop="on"), "dpop"),  # type: ignore[arg-type]
        (lambda: JWTMiddleware(echo_app, key=SECRET, algorithms=["HS256"], dpop="allowed"),
         "dpop_proofs"),
        (lambda: JWTMiddleware(echo_app, key=SECRET, algorithms=["HS256"],
                               rules=[Rule("/x", dpop="required")]), "dpop_proofs"),
        (lambda: Rule("/x", auth="public", dpop="required"), "public"),
        (lambda: Rule("/x", dpop="yes"), "dpop"),  # type: ignore[arg-type]
        (lambda: JWTMiddleware(echo_app, key=SECRET, algorithms=["HS256"],
                               dpop_proofs="x"),  # type: ignore[arg-type]
         "DPoP"),
    ]  # fmt: skip
    for build, words in cases:
        with pytest.raises(ConfigurationError, match=words):
            build()


def test_the_metadata_document_announces_dpop(clock: Clock) -> None:
    api = Api(clock, algorithms=["ES256", "EdDSA"])
    document = protected_resource_metadata(api.mw, BASE)
    assert document["dpop_signing_alg_values_supported"] == ["ES256", "EdDSA"]
    assert document["dpop_bound_access_tokens_required"] is False
    required = Api(clock, "required")
    assert protected_resource_metadata(required.mw, BASE)["dpop_bound_access_tokens_required"]
    plain = JWTMiddleware(echo_app, key=SECRET, algorithms=["HS256"])
    assert "dpop_signing_alg_values_supported" not in protected_resource_metadata(plain, BASE)


def _b64(data: bytes | dict[str, Any]) -> str:
    raw = json.dumps(data).encode() if isinstance(data, dict) else data
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


# -- real processes: gunicorn servers sharing one Redis ----------------------------------


def test_replay_and_nonces_across_gunicorn_servers_sharing_redis(
    gunicorn: Any, redis_url: str
) -> None:
    """Two servers of two workers each, configured from the environment: a proof
    used at one is refused at the other, and a nonce issued by one passes at the other."""
    import http.client
    import time

    env = {
        "DPOP_APP_ALGORITHMS": "HS256",
        "DPOP_APP_KEY_ENV": "DPOP_TEST_KEY",
        "DPOP_TEST_KEY": SECRET,
        "DPOP_APP_DPOP": "allowed",
        "DPOP_APP_DPOP_BASE_URL": BASE,
        "DPOP_APP_DPOP_NONCE_SECRET_ENV": "DPOP_NONCE",
        "DPOP_NONCE": "n" * 32,
        "DPOP_APP_REVOCATION_URL": redis_url,
        "DPOP_APP_REVOCATION_PREFIX": f"dpop-http-{free_port()}:",
    }
    servers = [gunicorn("tests.fixtures.dpop_app:app", workers=2, env=env) for _ in range(2)]
    key = DPoPKey()
    now = time.time()
    token = make_token({"cnf": {"jkt": key.jkt}}, now=now)

    def send(server: Any, proof: str, **headers: str) -> tuple[int, Any, Any]:
        """One request through the real server; the response headers with repeats kept."""
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        try:
            conn.request("GET", "/orders", headers={"Authorization": f"DPoP {token}",
                                                    "DPoP": proof, **headers})  # fmt: skip
            response = conn.getresponse()
            return response.status, response.msg, json.loads(response.read())
        finally:
            conn.close()

    status, headers, body = send(servers[0], key.proof("GET", BASE + "/orders", token))
    assert (status, body["error"]) == (401, "use_dpop_nonce")
    nonce = headers["DPoP-Nonce"]
    proof = key.proof("GET", BASE + "/orders", token, nonce=nonce)
    status, _, body = send(servers[1], proof)  # the other server accepts the first's nonce
    assert status == 200 and body["claims"]["cnf"] == {"jkt": key.jkt}
    for server in (servers[0], servers[1], servers[1]):  # replayed anywhere, any worker
        status, headers, body = send(server, proof)
        assert (status, body["error"]) == (401, "invalid_dpop_proof")
        assert body["error_description"] == "the DPoP proof was already used"
        first, second = headers.get_all("WWW-Authenticate")
        assert first.startswith('DPoP realm="api", error="invalid_dpop_proof"')
        assert second == 'Bearer realm="api"'
    spoofed = key.proof("GET", "https://evil.example/orders", token, nonce=nonce)
    status, _, body = send(servers[0], spoofed, Host="evil.example",
                           **{"X-Forwarded-Host": "evil.example"})  # fmt: skip
    assert (status, body["error_description"]) == (401, "the DPoP proof was made for another URL")


def test_an_oversized_dpop_header_is_refused_unparsed(clock: Clock) -> None:
    api = Api(clock)
    response = api.get(Authorization="DPoP " + "a " * 5000)
    assert (response.status_code, api.refused()) == (401, TokenTooLarge)


def test_a_rule_for_one_provider_offers_that_providers_schemes(clock: Clock) -> None:
    """Challenges follow the providers a rule accepts: DPoP is offered only where one takes it."""
    refusals = Refusals()
    providers = [
        Provider("staff", ["HS256"], key=SECRET, issuer="https://staff", dpop="required"),
        Provider("partners", ["HS256"], key=SECRET, issuer="https://partners"),
    ]
    mw = JWTMiddleware(echo_app, providers=providers, dpop_proofs=DPoP(BASE), on_error=refusals,
                       rules=[Rule("/partners", providers=["partners"]),
                              Rule("/staff", providers=["staff"])])  # fmt: skip
    client = ValidatingClient(mw)
    assert challenges(client.get("/partners")) == ['Bearer realm="api"']
    assert challenges(client.get("/staff")) == [
        'DPoP realm="api", algs="ES256 ES384 Ed25519 EdDSA PS256 RS256"'
    ]
    assert challenges(client.get("/other")) == [
        'Bearer realm="api"',
        'DPoP realm="api", algs="ES256 ES384 Ed25519 EdDSA PS256 RS256"',
    ]


def test_a_hung_replay_store_is_503_then_proofs_pass_again(
    clock: Clock, key: DPoPKey, redis_server: Any
) -> None:
    """Redis frozen (SIGSTOP): the store's socket timeout ends the wait with a 503; when
    Redis comes back, so does DPoP."""
    import redis

    client = redis.Redis.from_url(redis_server.url, socket_timeout=0.3)
    store = RedisRevocationStore(client, mirror=False)  # its own connection, from the client's
    api = Api(clock, replay=store)
    token = bound(key)
    try:
        redis_server.hang()
        try:
            response = api.send(token, key.proof("GET", BASE + "/orders", token))
            assert (response.status_code, api.refused()) == (503, ReplayCheckFailed)
        finally:
            redis_server.resume()
        assert api.send(token, key.proof("GET", BASE + "/orders", token)).status_code == 200
    finally:
        store.close()
        client.close()
