"""Key handling: every accepted form verifies, every unsafe setting is refused."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from jwt_wsgi import ConfigurationError, InvalidToken, KeyRing, Provider
from jwt_wsgi.errors import DisallowedAlgorithm, InvalidSignature, UnknownKey
from jwt_wsgi.jose.verifier import TokenVerifier

from .helpers import NOW, SECRET, Clock, b64, make_token


def pem_public(key: Any) -> bytes:
    return key.public_key().public_bytes(  # type: ignore[no-any-return]
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def refusal(key: Any, token: str, algorithms: list[str]) -> type[InvalidToken] | None:
    """Why ``token`` is refused under ``key`` (``None``: it verifies)."""
    verifier = TokenVerifier(Provider("p", algorithms, key=key), clock=Clock())
    try:
        verifier.verify(token)
    except InvalidToken as error:
        return type(error)
    return None


def verifies(key: Any, token: str, algorithms: list[str]) -> bool:
    return refusal(key, token, algorithms) is None


def test_hmac_secret_as_str_and_bytes() -> None:
    token = make_token()
    assert verifies(SECRET, token, ["HS256"])
    assert verifies(SECRET.encode(), token, ["HS256"])


def test_rsa_key_forms(rsa_key: rsa.RSAPrivateKey) -> None:
    token = make_token(key=rsa_key, algorithm="RS256")
    jwk_dict = jwt.PyJWK.from_dict(
        {**jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key.public_key(), as_dict=True), "kid": "k1"}
    )
    forms = {
        "pem-str": pem_public(rsa_key).decode(),
        "pem-bytes": pem_public(rsa_key),
        "public-object": rsa_key.public_key(),
        "private-object": rsa_key,
        "pyjwk": jwk_dict,
        "jwk-dict": jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key.public_key(), as_dict=True),
        "list": [SECRET.encode()[:0] or rsa_key.public_key()],
    }
    for name, key in forms.items():
        assert verifies(key, token, ["RS256"]), name


def test_ec_and_eddsa(ec_key: ec.EllipticCurvePrivateKey) -> None:
    assert verifies(ec_key.public_key(), make_token(key=ec_key, algorithm="ES256"), ["ES256"])
    ed = ed25519.Ed25519PrivateKey.generate()
    assert verifies(ed.public_key(), make_token(key=ed, algorithm="EdDSA"), ["EdDSA"])


def test_jwks_selects_by_kid_and_refuses_unknown_or_missing_kid(
    rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    jwks = {
        "keys": [
            {**jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key.public_key(), as_dict=True), "kid": "r"},
            {**jwt.algorithms.ECAlgorithm.to_jwk(ec_key.public_key(), as_dict=True), "kid": "e"},
        ]
    }
    for key in (jwks, jwt.PyJWKSet.from_dict(jwks)):
        algs = ["RS256", "ES256"]
        assert verifies(key, make_token(key=rsa_key, algorithm="RS256", headers={"kid": "r"}), algs)
        assert verifies(key, make_token(key=ec_key, algorithm="ES256", headers={"kid": "e"}), algs)
        unknown = make_token(key=ec_key, algorithm="ES256", headers={"kid": "x"})
        assert refusal(key, unknown, algs) is UnknownKey
        assert refusal(key, make_token(key=ec_key, algorithm="ES256"), algs) is UnknownKey


def test_several_keys_for_rotation() -> None:
    old, new = "o" * 32, "n" * 32
    for secret in (old, new):
        assert verifies([old, new], make_token(key=secret), ["HS256"])
    assert refusal([old, new], make_token(key="x" * 32), ["HS256"]) is InvalidSignature


@pytest.mark.parametrize(
    ("algorithms", "message"),
    [
        pytest.param(["none"], "none", id="none"),
        pytest.param(["NONE"], "none", id="none-upper"),
        pytest.param([], "at least one", id="empty"),
        pytest.param("HS256", "list", id="string-not-list"),
        pytest.param(["HS1"], "unsupported", id="unknown"),
        pytest.param(["ES521"], "unsupported", id="unregistered-alias"),
    ],
)
def test_bad_algorithm_lists(algorithms: Any, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        KeyRing(SECRET, algorithms)


def test_asymmetric_key_with_hs_algorithm_is_refused(rsa_key: rsa.RSAPrivateKey) -> None:
    with pytest.raises(ConfigurationError, match="algorithm confusion"):
        KeyRing(pem_public(rsa_key), ["RS256", "HS256"])
    # The reason is named even when HS* is the only algorithm.
    with pytest.raises(ConfigurationError, match="algorithm confusion"):
        KeyRing(pem_public(rsa_key), ["HS256"])


def test_mixed_symmetric_and_asymmetric_keys_are_refused(rsa_key: rsa.RSAPrivateKey) -> None:
    with pytest.raises(ConfigurationError, match="mix"):
        KeyRing([SECRET, rsa_key.public_key()], ["HS256", "RS256"])


@pytest.mark.parametrize(("algorithm", "length"), [("HS256", 31), ("HS384", 47), ("HS512", 63)])
def test_short_hmac_secrets_are_refused_unless_allowed(algorithm: str, length: int) -> None:
    with pytest.raises(ConfigurationError, match="RFC 7518"):
        KeyRing("k" * length, [algorithm])
    KeyRing("k" * (length + 1), [algorithm])
    KeyRing("k" * length, [algorithm], allow_weak_hmac_keys=True)


def test_small_rsa_keys_are_refused() -> None:
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(ConfigurationError, match="2048"):
        KeyRing(small.public_key(), ["RS256"])


def test_key_that_fits_no_algorithm_is_refused(ec_key: ec.EllipticCurvePrivateKey) -> None:
    with pytest.raises(ConfigurationError, match="no configured key"):
        KeyRing(ec_key.public_key(), ["RS256"])
    p384 = ec.generate_private_key(ec.SECP384R1())
    with pytest.raises(ConfigurationError, match="no configured key"):
        KeyRing(p384.public_key(), ["ES256"])  # curve must match the algorithm


def test_duplicate_kid_is_refused() -> None:
    jwks = {"keys": [{"kty": "oct", "k": "a" * 43, "kid": "same"}] * 2}
    with pytest.raises(ConfigurationError, match="kid"):
        KeyRing(jwks, ["HS256"])


def test_jwk_use_and_key_ops_and_alg_are_honoured(rsa_key: rsa.RSAPrivateKey) -> None:
    public = jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key.public_key(), as_dict=True)
    token = make_token(key=rsa_key, algorithm="RS256", headers={"kid": "k"})
    usable = {**public, "kid": "k", "use": "sig"}
    assert verifies({"keys": [usable]}, token, ["RS256"])
    enc = {**public, "kid": "k", "use": "enc"}
    with pytest.raises(ConfigurationError, match="key 'k': it is for use 'enc'"):
        KeyRing({"keys": [enc]}, ["RS256"])
    sign_only = {**public, "kid": "k", "key_ops": ["sign"]}
    with pytest.raises(ConfigurationError, match="key 'k': its key_ops do not include 'verify'"):
        KeyRing({"keys": [sign_only]}, ["RS256"])
    ps_only = {**public, "kid": "k", "alg": "PS256"}
    ring = {"keys": [ps_only, {**usable, "kid": "z"}]}
    assert refusal(ring, token, ["RS256", "PS256"]) is InvalidSignature


def test_header_embedded_keys_are_never_used(rsa_key: rsa.RSAPrivateKey) -> None:
    attacker = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    embedded = jwt.algorithms.RSAAlgorithm.to_jwk(attacker.public_key(), as_dict=True)
    token = make_token(
        key=attacker,
        algorithm="RS256",
        headers={"jwk": embedded, "jku": "https://evil.example/jwks", "x5u": "https://evil"},
    )
    assert refusal(rsa_key.public_key(), token, ["RS256"]) is InvalidSignature


def test_kid_is_an_opaque_lookup_string() -> None:
    token = make_token(headers={"kid": "../../etc/passwd"})
    assert verifies(SECRET, token, ["HS256"])  # a keyless ring ignores the label
    jwks = {
        "keys": [
            {"kty": "oct", "k": jwt.utils.base64url_encode(SECRET.encode()).decode(), "kid": "a"}
        ]
    }
    assert refusal(jwks, token, ["HS256"]) is UnknownKey


def test_public_key_pem_is_not_an_hmac_secret(rsa_key: rsa.RSAPrivateKey) -> None:
    # The classic confusion attack: sign HS256 with the RSA public key's PEM.
    pem = pem_public(rsa_key)
    signing_input = b64({"alg": "HS256"}) + "." + b64({"sub": "x", "exp": int(NOW) + 60})
    signature = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
    with pytest.raises(ConfigurationError, match="algorithm confusion"):
        KeyRing(pem, ["RS256", "HS256"])
    assert refusal(pem, signing_input + "." + b64(signature), ["RS256"]) is not None


def keycloak_like_set(rsa_key: rsa.RSAPrivateKey, kid: str = "sig-1") -> dict[str, Any]:
    """A signing key beside an encryption key, as Keycloak and others publish."""
    enc_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = jwt.algorithms.RSAAlgorithm.to_jwk
    return {
        "keys": [
            {**jwk(enc_key.public_key(), as_dict=True), "kid": "enc-1", "use": "enc",
             "alg": "RSA-OAEP"},
            {**jwk(rsa_key.public_key(), as_dict=True), "kid": kid, "use": "sig", "alg": "RS256"},
        ]
    }  # fmt: skip


def test_a_configured_set_skips_an_encryption_key_and_logs_why(
    rsa_key: rsa.RSAPrivateKey, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("INFO", logger="jwt_wsgi"):
        ring = KeyRing(keycloak_like_set(rsa_key), ["RS256"])
    assert [k.kid for k in ring.keys] == ["sig-1"]
    assert "skipping key 'enc-1': it is for use 'enc', not 'sig'" in caplog.text
    token = make_token(key=rsa_key, algorithm="RS256", headers={"kid": "sig-1"})
    assert verifies(keycloak_like_set(rsa_key), token, ["RS256"])


def test_an_encryption_algorithm_without_use_is_skipped_too(rsa_key: rsa.RSAPrivateKey) -> None:
    jwk = jwt.algorithms.RSAAlgorithm.to_jwk
    oaep = {**jwk(rsa_key.public_key(), as_dict=True), "kid": "e", "alg": "RSA-OAEP-256"}
    sig = {**jwk(rsa_key.public_key(), as_dict=True), "kid": "s"}
    assert [k.kid for k in KeyRing({"keys": [oaep, sig]}, ["RS256"]).keys] == ["s"]
    reason = "key 'e': its alg 'RSA-OAEP-256' is not a signature algorithm jwt_wsgi verifies"
    with pytest.raises(ConfigurationError, match=reason):
        KeyRing({"keys": [oaep]}, ["RS256"])


def test_a_broken_member_of_a_configured_set_is_named_with_its_reason(
    rsa_key: rsa.RSAPrivateKey,
) -> None:
    good = {**jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key.public_key(), as_dict=True), "kid": "g"}
    cases = [
        ({"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA", "kid": "off-curve"}, "off-curve"),
        ({"kty": "weird", "kid": "odd"}, "key type 'weird' is not supported"),
        ({"kty": "EC", "crv": "P-999", "kid": "c"}, "curve 'P-999' is not supported"),
        ({"kty": ["RSA"], "kid": "listy"}, "not supported"),
        ({"kty": "RSA", "kid": 7}, "kid is not a string"),
    ]
    for member, message in cases:
        with pytest.raises(ConfigurationError, match=message):
            KeyRing({"keys": [member, good]}, ["RS256", "ES256"])
        # In a fetched set the same member is skipped and the good key serves.
        ring = KeyRing({"keys": [member, good]}, ["RS256", "ES256"], skip_unusable=True)
        assert [k.kid for k in ring.keys] == ["g"]


def test_a_pyjwk_for_encryption_is_skipped(rsa_key: rsa.RSAPrivateKey) -> None:
    public = jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key.public_key(), as_dict=True)
    enc = jwt.PyJWK.from_dict({**public, "kid": "e", "use": "enc"}, algorithm="RS256")
    sig = jwt.PyJWK.from_dict({**public, "kid": "s"}, algorithm="RS256")
    assert [k.kid for k in KeyRing([enc, sig], ["RS256"]).keys] == ["s"]


def test_der_keys_are_keys_not_secrets(rsa_key: rsa.RSAPrivateKey) -> None:
    der = rsa_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    token = make_token(key=rsa_key, algorithm="RS256")
    assert verifies(der, token, ["RS256"])
    # Given with HS256 it is refused as what it is, not taken as a secret.
    with pytest.raises(ConfigurationError, match="algorithm confusion"):
        KeyRing(der, ["HS256"])


def test_a_pem_with_escaped_newlines_loads(rsa_key: rsa.RSAPrivateKey) -> None:
    """As it arrives from an environment variable or a one-line config value."""
    one_line = pem_public(rsa_key).decode().strip().replace("\n", "\\n")
    assert "\n" not in one_line
    token = make_token(key=rsa_key, algorithm="RS256")
    assert verifies(one_line, token, ["RS256"])


def test_broken_pem_names_the_problem() -> None:
    with pytest.raises(ConfigurationError, match="PEM data cannot be loaded"):
        KeyRing("-----BEGIN PUBLIC KEY-----\nnot base64\n-----END PUBLIC KEY-----", ["RS256"])


def test_a_key_source_must_verify_every_allowed_algorithm(rsa_key: rsa.RSAPrivateKey) -> None:
    """The allow-list a user wrote is never silently replaced by the source's."""
    source = KeyRing(rsa_key.public_key(), ["RS256"])
    with pytest.raises(ConfigurationError, match=r"\['ES256'\].*\['RS256'\]"):
        Provider("p", ["ES256"], key=source)
    # A narrower allow-list than the source's is the user tightening it: honoured.
    wide = KeyRing(rsa_key.public_key(), ["RS256", "PS256"])
    ps_token = jwt.encode({"exp": int(NOW) + 60}, rsa_key, algorithm="PS256")
    assert refusal(wide, ps_token, ["RS256"]) is DisallowedAlgorithm
    assert verifies(wide, ps_token, ["RS256", "PS256"])


def test_more_key_forms(rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey) -> None:
    """SSH lines, certificates, private PEMs and JWKs in a list verify like the rest."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    token = make_token(key=rsa_key, algorithm="RS256")
    ssh = rsa_key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "issuer")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(rsa_key.public_key()).serial_number(1)
        .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
        .sign(rsa_key, hashes.SHA256())
    )  # fmt: skip
    private_pem = rsa_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    jwk = jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key.public_key(), as_dict=True)
    for key in (
        ssh,
        cert.public_bytes(serialization.Encoding.PEM),
        cert.public_bytes(serialization.Encoding.DER),
        private_pem,
        [jwk, ec_key.public_key()],
    ):
        assert verifies(key, token, ["RS256", "ES256"]), key


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ([], "empty list"),
        (b"", "empty HMAC secret"),
        ({"keys": []}, "non-empty 'keys' list"),
        ({"keys": ["not a member"]}, "not a JSON object"),
        (3.14, "unsupported key type float"),
    ],
)
def test_key_inputs_that_cannot_work(key: Any, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        KeyRing(key, ["HS256"])


def test_a_key_source_inside_a_list_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="cannot be nested"):
        KeyRing([SECRET, KeyRing(SECRET, ["HS256"])], ["HS256"])


def test_a_fetched_set_skips_members_that_are_not_objects(caplog: pytest.LogCaptureFixture) -> None:
    member = {"kty": "oct", "k": b64(SECRET.encode()), "kid": "k"}
    with caplog.at_level("WARNING", logger="jwt_wsgi"):
        ring = KeyRing({"keys": ["junk", member]}, ["HS256"], skip_unusable=True)
    assert [k.kid for k in ring.keys] == ["k"]
    assert "member #0: not a JSON object" in caplog.text


def test_a_key_that_came_with_a_request_is_checked_like_a_configured_one() -> None:
    """prepare_public_jwk (DPoP proof keys): each refusal says why; nothing private passes."""
    from jwt_wsgi.jose.keys import prepare_public_jwk

    p256 = ec.generate_private_key(ec.SECP256R1())
    es256 = jwt.get_algorithm_by_name("ES256")
    public = es256.to_jwk(p256.public_key(), as_dict=True)
    private = es256.to_jwk(p256, as_dict=True)
    p384 = es256.to_jwk(ec.generate_private_key(ec.SECP384R1()).public_key(), as_dict=True)
    rsa_public = jwt.get_algorithm_by_name("RS256").to_jwk(
        rsa.generate_private_key(65537, 2048).public_key(), as_dict=True
    )
    assert isinstance(prepare_public_jwk(public, "ES256"), ec.EllipticCurvePublicKey)
    for member, algorithm, message in [
        (private, "ES256", "private or secret"),
        ({"kty": "oct", "k": "c2VjcmV0"}, "ES256", "private or secret"),
        ({**public, "use": "enc"}, "ES256", "use 'enc'"),
        ({**public, "alg": "ES384"}, "ES256", "its alg"),
        (rsa_public, "ES256", "not a key for ES256"),
        (p384, "ES256", "its curve is not the one ES256 uses"),
        ({"kty": "EC", "crv": "P-256"}, "ES256", "cannot be loaded"),
    ]:
        with pytest.raises(ConfigurationError, match=message):
            prepare_public_jwk(member, algorithm)
