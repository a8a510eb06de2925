"""Wycheproof's JSON Web Signature and JSON Web Key vectors through our key layer.

The vectors (``tests/vectors/wycheproof``, Apache-2.0, provenance in the README
there) are compact JWS with non-JWT payloads, so they run at the JWS layer:
the same key loading (:class:`~jwt_wsgi.KeyRing`) and signature verification
(:meth:`~jwt_wsgi.jose.verifier.TokenVerifier.verify_jws`) the middleware uses. A key the ring
refuses at construction verifies nothing, so its tokens count as invalid.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from jwt_wsgi import ConfigurationError, InvalidToken, KeyRing, Provider
from jwt_wsgi.jose.keys import ALGORITHM_KEY_TYPES
from jwt_wsgi.jose.verifier import TokenVerifier

VECTORS = Path(__file__).resolve().parent / "vectors" / "wycheproof"

SIGNATURES = "json_web_signature_test.json"

# Vectors whose label contradicts the RFCs. We follow the RFCs: the test
# expects the verdict given here instead of the label, for the reason given.
RFC_VERDICTS: dict[tuple[str, int], tuple[str, str]] = {
    (SIGNATURES, 346): ("invalid", "PS384 token, but the key's JWK 'alg' is PS256 (RFC 7517 4.4)"),
    (SIGNATURES, 350): ("invalid", "as 346, with key_ops"),
    (SIGNATURES, 347): ("invalid", "the key's 'alg' is ES521, not a registered JWS algorithm"),
    (SIGNATURES, 351): ("invalid", "as 347, with key_ops"),
    (SIGNATURES, 367): ("valid", "byte-identical to tcId 357, which is labelled valid"),
    (SIGNATURES, 370): ("valid", "byte-identical to tcId 357, which is labelled valid"),
    (SIGNATURES, 372): ("invalid", "'?' is not in the base64url alphabet (RFC 7515 2)"),
    (SIGNATURES, 373): ("invalid", "'?' is not in the base64url alphabet (RFC 7515 2)"),
}


def _key_type(jwk: dict[str, Any]) -> str:
    keys = jwk.get("keys")
    return str(keys[0]["kty"] if keys else jwk["kty"])


def _cases(filename: str) -> list[Any]:
    data = json.loads((VECTORS / filename).read_text())
    cases = []
    for group in data["testGroups"]:
        if "jwe" in group["comment"]:
            continue  # JWE is out of scope: the middleware refuses encrypted tokens
        key = group.get("public") or group["private"]
        for test in group["tests"]:
            expected, _reason = RFC_VERDICTS.get((filename, test["tcId"]), (test["result"], ""))
            cases.append(
                pytest.param(
                    key,
                    test["jws"],
                    expected,
                    id=f"{test['tcId']}-{group['comment']}-{test['comment']}",
                )
            )
    return cases


def verdict(key: dict[str, Any], jws: Any) -> str:
    if not isinstance(jws, str):
        return "invalid"  # JSON serialization: we accept compact tokens only
    algorithms = [a for a, kty in ALGORITHM_KEY_TYPES.items() if kty == _key_type(key)]
    try:
        ring = KeyRing(key, algorithms)
    except ConfigurationError:
        return "invalid"
    try:
        TokenVerifier(Provider("w", algorithms, key=ring, require=())).verify_jws(jws)
    except InvalidToken:
        return "invalid"
    return "valid"


@pytest.mark.parametrize(("key", "jws", "expected"), _cases(SIGNATURES))
def test_json_web_signature(key: dict[str, Any], jws: Any, expected: str) -> None:
    assert verdict(key, jws) == expected


@pytest.mark.parametrize(("key", "jws", "expected"), _cases("json_web_key_test.json"))
def test_json_web_key(key: dict[str, Any], jws: Any, expected: str) -> None:
    assert verdict(key, jws) == expected


@pytest.mark.parametrize(("key", "jws", "expected"), _cases("json_web_crypto_test.json"))
def test_json_web_crypto_signatures(key: dict[str, Any], jws: Any, expected: str) -> None:
    assert verdict(key, jws) == expected


def test_every_rfc_verdict_names_a_real_vector() -> None:
    data = json.loads((VECTORS / SIGNATURES).read_text())
    ids = {t["tcId"] for g in data["testGroups"] for t in g["tests"]}
    assert {tc for _, tc in RFC_VERDICTS} <= ids
