"""The strict parser: what PyJWT 2.15 accepts and we refuse, each named."""

from __future__ import annotations

import dataclasses
from typing import Any

import jwt
import pytest

from jwt_wsgi import ExpiredToken, InvalidToken, Provider
from jwt_wsgi.errors import (
    DisallowedAlgorithm,
    ImmatureToken,
    InvalidClaim,
    InvalidSignature,
    InvalidTokenType,
    IssuedInFuture,
    MalformedToken,
    TokenTooLarge,
    UnsupportedToken,
)
from jwt_wsgi.jose.verifier import TokenVerifier, VerifiedToken

from .helpers import NOW, SECRET, Clock, b64, hs256_token, make_token

CLAIMS = {"sub": "alice", "exp": int(NOW) + 600}


def verifier(**options: Any) -> TokenVerifier[Provider]:
    return TokenVerifier(Provider("p", ["HS256"], key=SECRET, **options), clock=Clock())


def test_a_plain_token_verifies() -> None:
    result = verifier().verify(make_token())
    assert result.claims["sub"] == "alice"
    assert result.header == {"alg": "HS256", "typ": "JWT"}
    assert result.valid_until == int(NOW) + 600
    assert result.provider == "p"


def test_verify_checks_the_clock_too() -> None:
    """The one-call check is safe: an expired token is refused, not returned."""
    with pytest.raises(ExpiredToken):
        verifier().verify(make_token({"exp": int(NOW) - 1}))
    # verify_static is the cacheable half and leaves the clock to check_time.
    assert verifier().verify_static(make_token({"exp": int(NOW) - 1})).claims["sub"] == "alice"


def test_jwt_decode_agrees_on_the_plain_token() -> None:
    token = make_token()
    decoded = jwt.decode(
        token,
        SECRET,
        algorithms=["HS256"],
        options={"verify_exp": False, "verify_iat": False},
    )
    assert verifier().verify_static(token).claims == decoded


def padded(token: str) -> str:
    return token + "="


def with_bom(token: str) -> str:
    return hs256_token({"alg": "HS256"}, b"\xef\xbb\xbf" + b'{"sub":"a","exp":9999999999}')


def utf16(token: str) -> str:
    return hs256_token({"alg": "HS256"}, '{"sub":"a","exp":9999999999}'.encode("utf-16"))


def exp_string(token: str) -> str:
    return hs256_token({"alg": "HS256"}, {"sub": "a", "exp": "9999999999"})


def duplicate_claim(token: str) -> str:
    return hs256_token({"alg": "HS256"}, b'{"sub":"a","sub":"admin","exp":9999999999}')


def duplicate_header(token: str) -> str:
    return hs256_token(b'{"alg":"none","alg":"HS256"}', CLAIMS)


def spaced_duplicate_claim(token: str) -> str:
    return hs256_token({"alg": "HS256"}, b' {"sub":"a","sub":"admin","exp":9999999999}\n')


def trailing_data(token: str) -> str:
    return hs256_token({"alg": "HS256"}, b'{"sub":"a","exp":9999999999} {}')


def not_an_object(token: str) -> str:
    return hs256_token({"alg": "HS256"}, b"[1, 2]")


def nan_claim(token: str) -> str:
    return hs256_token({"alg": "HS256"}, b'{"sub":"a","exp":NaN}')


def crit_header(token: str) -> str:
    return hs256_token({"alg": "HS256", "crit": ["exp"], "exp": 1}, CLAIMS)


def b64_false(token: str) -> str:
    return hs256_token({"alg": "HS256", "b64": False, "crit": ["b64"]}, CLAIMS)


def jwe(token: str) -> str:
    return "eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d"


def too_large(token: str) -> str:
    return hs256_token({"alg": "HS256"}, {**CLAIMS, "pad": "x" * 9000})


def four_segments(token: str) -> str:
    return token + ".x"


def bad_base64_char(token: str) -> str:
    return token[:-2] + "+/"


def non_canonical_tail(token: str) -> str:
    # HS256 signatures are 32 bytes: 43 chars whose last carries 2 spare bits.
    last = token[-1]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return token[:-1] + alphabet[alphabet.index(last) ^ 1]


def sub_not_string(token: str) -> str:
    return hs256_token({"alg": "HS256"}, {"sub": 42, "exp": int(NOW) + 60})


def kid_not_string(token: str) -> str:
    return hs256_token({"alg": "HS256", "kid": 7}, CLAIMS)


def alg_missing(token: str) -> str:
    return hs256_token({"typ": "JWT"}, CLAIMS)


def empty_signature(token: str) -> str:
    return token.rsplit(".", 1)[0] + "."


def empty_header(token: str) -> str:
    return "." + token.split(".", 1)[1]


def sub_a_bool(token: str) -> str:
    return hs256_token({"alg": "HS256"}, {"sub": True, "exp": int(NOW) + 60})


def alg_not_a_string(token: str) -> str:
    return hs256_token({"alg": ["HS256"]}, CLAIMS)


@pytest.mark.parametrize(
    ("mutate", "error"),
    [
        (padded, MalformedToken),
        (with_bom, MalformedToken),
        (utf16, MalformedToken),
        (exp_string, InvalidClaim),
        (duplicate_claim, MalformedToken),
        (duplicate_header, MalformedToken),
        (spaced_duplicate_claim, MalformedToken),
        (trailing_data, MalformedToken),
        (not_an_object, MalformedToken),
        (nan_claim, MalformedToken),
        (crit_header, UnsupportedToken),
        (b64_false, UnsupportedToken),
        (jwe, UnsupportedToken),
        (too_large, TokenTooLarge),
        (four_segments, MalformedToken),
        (bad_base64_char, MalformedToken),
        (non_canonical_tail, MalformedToken),
        (sub_not_string, InvalidClaim),
        (sub_a_bool, InvalidClaim),
        (kid_not_string, MalformedToken),
        (alg_missing, DisallowedAlgorithm),
        (alg_not_a_string, DisallowedAlgorithm),
        (empty_signature, MalformedToken),
        (empty_header, MalformedToken),
    ],
    ids=lambda f: getattr(f, "__name__", ""),
)
def test_refused(mutate: Any, error: type[InvalidToken]) -> None:
    with pytest.raises(InvalidToken) as refused:
        verifier().verify_static(mutate(make_token()))
    assert type(refused.value) is error


def test_json_with_whitespace_around_it_is_still_json() -> None:
    """RFC 8259 allows whitespace around a JSON text; compact or not, the same claims."""
    token = hs256_token(b' {"alg":"HS256"}\r\n', b'\t{"sub":"alice","exp":%d} ' % (NOW + 600))
    result = verifier().verify(token)
    assert result.claims == {"sub": "alice", "exp": int(NOW) + 600}
    assert result.header == {"alg": "HS256"}


def test_empty_segments_are_named_as_such() -> None:
    """Without its own guard an empty signature would reach the key and fail there."""
    for mutate in (empty_signature, empty_header):
        with pytest.raises(MalformedToken, match="empty segment"):
            verifier().verify_static(mutate(make_token()))


def test_numeric_sub_is_refused_unless_allowed() -> None:
    token = hs256_token({"alg": "HS256"}, {"sub": 42, "exp": int(NOW) + 60})
    with pytest.raises(InvalidClaim):
        verifier().verify(token)
    assert verifier(allow_numeric_sub=True).verify(token).claims["sub"] == 42
    for bad_sub in (True, 4.5, ["a"]):
        bad = hs256_token({"alg": "HS256"}, {"sub": bad_sub, "exp": int(NOW) + 60})
        with pytest.raises(InvalidClaim):
            verifier(allow_numeric_sub=True).verify(bad)


@pytest.mark.upstream
@pytest.mark.parametrize("mutate", [padded, with_bom, exp_string, duplicate_claim])
def test_pyjwt_alone_accepts_these(mutate: Any) -> None:
    """Shows why the strict layer exists: PyJWT 2.15 takes each of these. A test of
    PyJWT, not of us: red means PyJWT became strict here, and the layer may shrink."""
    jwt.decode(
        mutate(make_token()),
        SECRET,
        algorithms=["HS256"],
        options={"verify_exp": False, "verify_iat": False},
    )


def test_jwe_gets_a_clear_description() -> None:
    with pytest.raises(UnsupportedToken, match="JWE"):
        verifier().verify(jwe(""))


@pytest.mark.parametrize(
    ("typ", "accepted", "header_typ", "ok"),
    [
        pytest.param("at+jwt", None, "at+jwt", True, id="exact"),
        pytest.param("at+jwt", None, "application/AT+JWT", True, id="prefixed-case"),
        pytest.param("at+jwt", None, "JWT", False, id="other"),
        pytest.param("at+jwt", None, None, False, id="absent"),
        pytest.param(["JWT", "at+jwt"], None, "JWT", True, id="several"),
    ],
)
def test_typ_enforcement(typ: Any, accepted: Any, header_typ: str | None, ok: bool) -> None:
    headers = {"typ": header_typ} if header_typ else {}
    token = hs256_token({"alg": "HS256", **headers}, CLAIMS)
    if ok:
        verifier(typ=typ).verify(token)
    else:
        with pytest.raises(InvalidTokenType):
            verifier(typ=typ).verify(token)


def timed(v: TokenVerifier[Provider], **claims: Any) -> Any:
    return v.verify_static(hs256_token({"alg": "HS256"}, {"sub": "a", **claims}))


def test_time_checks_with_leeway() -> None:
    from datetime import timedelta

    for leeway in (5, timedelta(seconds=5)):
        v = verifier(leeway=leeway, require=[])
        v.check_time(timed(v, exp=NOW - 4), NOW)
        with pytest.raises(ExpiredToken):
            v.check_time(timed(v, exp=NOW - 5), NOW)
        v.check_time(timed(v, nbf=NOW + 5), NOW)
        with pytest.raises(ImmatureToken) as early:
            v.check_time(timed(v, nbf=NOW + 6), NOW)
        assert type(early.value) is ImmatureToken
        with pytest.raises(IssuedInFuture):
            v.check_time(timed(v, iat=NOW + 6), NOW)
        v.check_time(timed(v), NOW)  # no time claims: always valid


def test_negative_leeway_is_refused() -> None:
    from jwt_wsgi import ConfigurationError

    with pytest.raises(ConfigurationError, match="leeway"):
        verifier(leeway=-1)


def test_b64_segment_round_trip() -> None:
    assert b64(b"\x00\x01") == "AAE"


def test_key_type_mismatch_is_invalid_token_where_pyjwt_raises_type_error() -> None:
    """PyJWT 2.15 raises TypeError (not a PyJWTError) for these; we answer 401."""
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    cases: list[tuple[str, Any]] = [
        (jwt.encode({"exp": int(NOW) + 60}, ec_key, "ES256"), rsa_key.public_key()),
        (jwt.encode({"exp": int(NOW) + 60}, rsa_key, "RS256"), ec_key.public_key()),
    ]
    for token, key in cases:
        with pytest.raises(TypeError):
            jwt.decode(token, key, algorithms=["ES256", "RS256"])
        with pytest.raises(InvalidToken) as refused:
            TokenVerifier(Provider("p", ["ES256", "RS256"], key=key)).verify_static(token)
        assert type(refused.value) is InvalidSignature


@pytest.mark.parametrize("aud", [[1, 2], {"a": 1}, 7, ["api", None]])
def test_malformed_audience_is_refused(aud: Any) -> None:
    with pytest.raises(InvalidClaim, match="audience is malformed"):
        verifier(audience="api").verify(hs256_token({"alg": "HS256"}, {**CLAIMS, "aud": aud}))


def test_only_verified_headers_are_remembered_and_no_more_than_the_bound() -> None:
    """Headers are remembered for the issuer's next tokens: junk with a forged
    signature never enters, and many distinct headers only empty the memo."""
    v = verifier()
    for n in range(3):
        with pytest.raises(InvalidSignature):
            v.verify_static(make_token(headers={"x-n": n}, key="f" * 64))
    assert v._headers == {}
    for n in range(TokenVerifier.HEADER_MEMO_SIZE + 5):
        assert v.verify_static(make_token(headers={"x-n": n})).header["x-n"] == n
    assert 0 < len(v._headers) <= TokenVerifier.HEADER_MEMO_SIZE


@pytest.mark.parametrize(
    ("header", "refusal"),
    [
        ({"alg": "HS256", "crit": ["exp"]}, UnsupportedToken),
        ({"alg": "HS256", "kid": 7}, MalformedToken),
        ({"alg": "HS512"}, DisallowedAlgorithm),
    ],
)
def test_a_refused_header_is_refused_every_time(header: dict[str, Any], refusal: type) -> None:
    """Checks of the header are not skipped for a header seen before."""
    v = verifier()
    token = hs256_token(header, CLAIMS)
    for _ in range(2):
        with pytest.raises(refusal):
            v.verify_static(token)
    assert v._headers == {}


@pytest.mark.parametrize("name", ["exp", "nbf", "iat"])
def test_a_boolean_date_is_not_a_number(name: str) -> None:
    """JSON ``true`` parses to a Python bool, which is an int: still not a NumericDate."""
    claims = {**CLAIMS, name: True}
    with pytest.raises(InvalidClaim, match=f"'{name}' claim is not a number"):
        verifier().verify_static(hs256_token({"alg": "HS256"}, claims))


# -- VerifiedToken is built positionally (speed): every field lands where it belongs --------

#: header member, claims: cases whose flags differ pairwise, so that swapping any two
#: fields of VerifiedToken (booleans included) fails at least one of them.
FIELD_CASES = [
    ({"x-ctx": {"a": 1}}, {"cnf": {"jkt": "JKT-value"}}),
    ({}, {"cnf": {"x5t#S256": "X5T-value"}}),
    ({}, {}),
    ({"x-ctx": [1]}, {"roles": ["a"]}),
    ({}, {"cnf": {"x5t#S256": "X5T-value", "jkt": "JKT-value"}}),
]


@pytest.mark.parametrize(("extra_header", "extra_claims"), FIELD_CASES)
def test_every_field_of_a_verified_token_holds_what_it_names(
    extra_header: dict[str, Any], extra_claims: dict[str, Any]
) -> None:
    provider = Provider("the-provider", ["HS256"], key={"kty": "oct", "kid": "the-kid",
                        "k": b64(SECRET.encode())}, leeway=7)  # fmt: skip
    v = TokenVerifier(provider, clock=Clock())
    header = {"alg": "HS256", "kid": "the-kid", "typ": "refresh+jwt", **extra_header}
    claims = {"sub": "a", "iat": NOW - 100, "nbf": NOW - 50, "exp": NOW + 60, **extra_claims}
    verified = v.verify_static(hs256_token(header, claims))
    cnf = extra_claims.get("cnf", {})
    expected = {
        "header": header,
        "claims": claims,
        "kid": "the-kid",
        "verifier": v,
        "ring": v.keys.current(),
        "valid_from": NOW - 50 - 7,
        "valid_until": NOW + 60 + 7,
        "provider": "the-provider",
        "nested": tuple(n for n, value in claims.items() if isinstance(value, dict | list)),
        "header_nested": bool(extra_header),
        "kind": "refresh",
        "revocation_keys": None,
        "x5t": cnf.get("x5t#S256"),
        "needs_certificate": "x5t#S256" in cnf,
        "jkt": cnf.get("jkt"),
        "bound": bool(cnf),
        "used": False,
    }
    assert [f.name for f in dataclasses.fields(VerifiedToken)] == list(expected)
    for name, value in expected.items():
        got = getattr(verified, name)
        assert got is value if name in ("verifier", "ring") else got == value, name
        assert type(got) is type(value), name
