"""The strict parser: what PyJWT 2.15 accepts and we refuse, each named."""

from __future__ import annotations

from typing import Any

import jwt
import pytest

from jwt_wsgi import InvalidToken, KeyRing, Verifier

from .helpers import NOW, SECRET, b64, hs256_token, make_token

CLAIMS = {"sub": "alice", "exp": int(NOW) + 600}


def verifier(**options: Any) -> Verifier:
    return Verifier(KeyRing(SECRET, ["HS256"]), **options)


def test_a_plain_token_verifies() -> None:
    result = verifier().verify(make_token())
    assert result.claims["sub"] == "alice"
    assert result.header == {"alg": "HS256", "typ": "JWT"}
    assert result.expires == int(NOW) + 600


def test_jwt_decode_agrees_on_the_plain_token() -> None:
    token = make_token()
    decoded = jwt.decode(
        token,
        SECRET,
        algorithms=["HS256"],
        options={"verify_exp": False, "verify_iat": False},
    )
    assert verifier().verify(token).claims == decoded


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


@pytest.mark.parametrize(
    "mutate",
    [
        padded,
        with_bom,
        utf16,
        exp_string,
        duplicate_claim,
        duplicate_header,
        not_an_object,
        nan_claim,
        crit_header,
        b64_false,
        jwe,
        too_large,
        four_segments,
        bad_base64_char,
        non_canonical_tail,
        sub_not_string,
        kid_not_string,
        alg_missing,
        empty_signature,
    ],
    ids=lambda f: f.__name__,
)
def test_refused(mutate: Any) -> None:
    with pytest.raises(InvalidToken):
        verifier().verify(mutate(make_token()))


@pytest.mark.parametrize("mutate", [padded, with_bom, exp_string, duplicate_claim])
def test_pyjwt_alone_accepts_these(mutate: Any) -> None:
    """Shows why the strict layer exists: PyJWT 2.15 takes each of these."""
    jwt.decode(
        mutate(make_token()),
        SECRET,
        algorithms=["HS256"],
        options={"verify_exp": False, "verify_iat": False},
    )


def test_jwe_gets_a_clear_description() -> None:
    with pytest.raises(InvalidToken, match="JWE"):
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
        with pytest.raises(InvalidToken, match="type"):
            verifier(typ=typ).verify(token)


def timed(v: Verifier, **claims: Any) -> Any:
    return v.verify(hs256_token({"alg": "HS256"}, {"sub": "a", **claims}))


def test_time_checks_with_leeway() -> None:
    v = verifier(leeway=5, require=[])
    v.check_time(timed(v, exp=NOW - 4), NOW)
    with pytest.raises(InvalidToken, match="expired"):
        v.check_time(timed(v, exp=NOW - 5), NOW)
    v.check_time(timed(v, nbf=NOW + 5), NOW)
    with pytest.raises(InvalidToken, match="not valid yet"):
        v.check_time(timed(v, nbf=NOW + 6), NOW)
    with pytest.raises(InvalidToken, match="issued in the future"):
        v.check_time(timed(v, iat=NOW + 6), NOW)
    v.check_time(timed(v), NOW)  # no time claims: always valid


def test_negative_leeway_is_refused() -> None:
    with pytest.raises(ValueError, match="leeway"):
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
        with pytest.raises(InvalidToken):
            Verifier(KeyRing(key, ["ES256", "RS256"])).verify(token)


@pytest.mark.parametrize("aud", [[1, 2], {"a": 1}, 7, ["api", None]])
def test_malformed_audience_is_refused(aud: Any) -> None:
    with pytest.raises(InvalidToken, match="audience is malformed"):
        verifier(audience="api").verify(hs256_token({"alg": "HS256"}, {**CLAIMS, "aud": aud}))
