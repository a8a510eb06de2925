"""The ``jwt-wsgi`` command line, run as the installed console script and in-process."""

from __future__ import annotations

import base64
import io
import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from jwt_wsgi import JWTMiddleware
from jwt_wsgi.cli import OK, REFUSED, USAGE, main

from .fixtures.keyserver import KeyServer
from .helpers import ValidatingClient, echo_app

SCRIPT = str(Path(sys.executable).with_name("jwt-wsgi"))


def script(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """The installed console script, as a user runs it."""
    return subprocess.run(
        [SCRIPT, *args], input=stdin, capture_output=True, text=True, timeout=60, check=False
    )


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """In-process: the exit code, standard output and standard error."""
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.server
@pytest.mark.parametrize("alg", ["ES256", "RS256", "EdDSA", "Ed25519", "Ed448", "HS256"])
def test_keygen_mint_verify_inspect_round_trip(tmp_path: Path, alg: str) -> None:
    key = tmp_path / "key.jwk"
    made = script("keygen", "--alg", alg, "--out", str(key), "--json")
    assert made.returncode == OK, made.stderr
    summary = json.loads(made.stdout)
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    private = json.loads(key.read_text())
    assert private["alg"] == alg and private["kid"] == summary["kid"]
    secret = private.get("d") or private.get("k")
    assert secret and secret not in made.stdout + made.stderr  # never echoed

    minted = script("mint", "alice", "--key", str(key), "--claim", "roles=[\"admin\"]",
                    "--claim", "team=blue", "--lifetime", "2h", "--audience", "api")  # fmt: skip
    assert minted.returncode == OK, minted.stderr
    token = minted.stdout.strip()
    header = jwt.get_unverified_header(token)
    assert header["alg"] == alg and header["kid"] == summary["kid"]

    checked = script("verify", "--key", str(key), "--alg", alg, "--audience", "api", "--json",
                     stdin=f"Bearer {token}\n")  # fmt: skip
    assert checked.returncode == OK, checked.stdout + checked.stderr
    result = json.loads(checked.stdout)
    assert result["ok"] and result["claims"]["roles"] == ["admin"]
    assert result["claims"]["team"] == "blue"
    assert result["claims"]["exp"] - result["claims"]["iat"] == 7200
    assert secret not in checked.stdout + checked.stderr

    shown = script("inspect", stdin=token)
    assert shown.returncode == OK
    assert shown.stdout.startswith("NOT VERIFIED")
    assert '"sub": "alice"' in shown.stdout
    assert "exp: " in shown.stdout and "UTC (in 2 h)" in shown.stdout


@pytest.mark.server
def test_the_middleware_accepts_what_the_command_mints(tmp_path: Path) -> None:
    key = tmp_path / "key.jwk"
    assert script("keygen", "--alg", "ES256", "--out", str(key)).returncode == OK
    public = script("jwks", str(key)).stdout
    token = script("mint", "alice", "--key", str(key)).stdout.strip()
    mw = JWTMiddleware(echo_app, key=json.loads(public), algorithms=["ES256"])
    answer = ValidatingClient(mw).get("/", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200
    assert answer.get_json()["claims"]["sub"] == "alice"


@pytest.mark.server
def test_python_dash_m_runs_the_same_command() -> None:
    done = subprocess.run([sys.executable, "-m", "jwt_wsgi", "--help"], capture_output=True,
                          text=True, timeout=60, check=False)  # fmt: skip
    assert done.returncode == 0 and "keygen" in done.stdout and "Exit codes" in done.stdout


@pytest.fixture
def ec_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    key = tmp_path / "ec.jwk"
    assert main(["keygen", "--out", str(key)]) == OK
    capsys.readouterr()
    return key


def mint(capsys: pytest.CaptureFixture[str], key: Path, *args: str) -> str:
    code, out, err = cli(capsys, "mint", "alice", "--key", str(key), *args)
    assert code == OK, err
    return out.strip()


@pytest.mark.parametrize(
    ("mint_args", "verify_args", "reason"),
    [
        (["--claim", "exp=1000"], [], "token_expired"),
        (["--claim", "nbf=4000000000"], [], "token_not_yet_valid"),
        (["--audience", "api"], ["--audience", "other"], "aud_mismatch"),
        (["--issuer", "https://a.example"], ["--issuer", "https://b.example"], "iss_mismatch"),
        (["--claim", "iat=4000000000", "--claim", "nbf=0"], [], "token_issued_in_future"),
    ],
)
def test_verify_names_why_a_token_fails(
    capsys: pytest.CaptureFixture[str],
    ec_key: Path,
    mint_args: list[str],
    verify_args: list[str],
    reason: str,
) -> None:
    token = mint(capsys, ec_key, *mint_args)
    algs = [] if "--alg" in verify_args else ["--alg", "ES256"]
    code, out, _ = cli(capsys, "verify", token, "--key", str(ec_key), *algs, *verify_args)
    assert code == REFUSED
    assert out.startswith(f"refused: {reason} (")
    code, out, _ = cli(capsys, "verify", token, "--key", str(ec_key), *algs, *verify_args,
                       "--json")  # fmt: skip
    answer = json.loads(out)
    assert code == REFUSED and answer["ok"] is False and answer["reason"] == reason


def test_verify_refuses_a_token_signed_by_another_key(
    capsys: pytest.CaptureFixture[str], ec_key: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other.jwk"
    assert main(["keygen", "--out", str(other), "--kid", "same"]) == OK
    capsys.readouterr()
    forged = jwt.encode(
        {"sub": "mallory"},
        ec.generate_private_key(ec.SECP256R1()),
        "ES256",
        headers={"kid": "same"},
    )
    code, out, _ = cli(capsys, "verify", forged, "--key", str(other), "--alg", "ES256")
    assert (code, out.split(" (")[0]) == (REFUSED, "refused: signature_invalid")
    code, out, _ = cli(
        capsys, "verify", mint(capsys, ec_key), "--key", str(other), "--alg", "ES256"
    )
    assert (code, out.split(" (")[0]) == (REFUSED, "refused: kid_unknown")


@pytest.fixture
def key_server() -> Iterator[KeyServer]:
    server = KeyServer()
    yield server
    server.close()


def test_verify_against_a_key_set_url(
    capsys: pytest.CaptureFixture[str], ec_key: Path, key_server: KeyServer
) -> None:
    code, out, _ = cli(capsys, "jwks", str(ec_key), "--json")
    key_server.keys = json.loads(out)["keys"]
    token = mint(capsys, ec_key)
    verify = ("verify", token, "--jwks", key_server.jwks_url, "--allow-http", "--alg", "ES256")
    code, out, _ = cli(capsys, *verify)
    assert code == OK and out.startswith("valid (ES256")
    key_server.behaviour = "status-500"
    fresh = cli(capsys, "verify", token, "--jwks", key_server.jwks_url.replace("jwks", "jwks2"),
                "--allow-http", "--alg", "ES256")  # fmt: skip
    assert fresh[0] == REFUSED and fresh[1].startswith("refused: keys_unavailable (")
    code, _, err = cli(capsys, "verify", token, "--jwks", key_server.jwks_url, "--alg", "ES256")
    assert code == USAGE and "must use https" in err


def test_jwks_publishes_public_keys_only(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    jwk_file, pem_file, public_pem = tmp_path / "a.jwk", tmp_path / "b.pem", tmp_path / "c.pem"
    assert main(["keygen", "--alg", "RS256", "--out", str(jwk_file)]) == OK
    assert main(["keygen", "--alg", "ES384", "--format", "pem", "--out", str(pem_file)]) == OK
    ed_file = tmp_path / "d.pem"
    assert main(["keygen", "--alg", "EdDSA", "--format", "pem", "--out", str(ed_file)]) == OK
    key = ec.generate_private_key(ec.SECP256R1())
    public_pem.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    capsys.readouterr()
    code, out, _ = cli(capsys, "jwks", str(jwk_file), str(pem_file), str(public_pem), str(ed_file))
    members = json.loads(out)["keys"]
    assert code == OK and [m["alg"] for m in members] == ["RS256", "ES384", "ES256", "EdDSA"]
    assert all(not {"d", "p", "q", "dp", "dq", "qi"} & set(m) for m in members)
    assert all(m["use"] == "sig" and m["kid"] for m in members)
    # A token minted with the PEM verifies against the published set.
    token = mint(capsys, pem_file)
    set_file = tmp_path / "set.json"
    set_file.write_text(out)
    code, out, _ = cli(capsys, "verify", token, "--key", str(set_file), "--alg", "ES384")
    assert code == OK, out


def test_inspect_reads_without_verifying(capsys: pytest.CaptureFixture[str]) -> None:
    token = jwt.encode({"sub": "x", "exp": 1000, "iat": 900}, "s" * 32, "HS256")
    code, out, _ = cli(capsys, "inspect", token)
    assert code == OK and out.startswith("NOT VERIFIED")
    assert "exp: 1970-01-01 00:16:40 UTC (" in out and " ago)" in out
    code, out, _ = cli(capsys, "inspect", token, "--json")
    shown = json.loads(out)
    assert shown["verified"] is False and shown["claims"]["sub"] == "x"
    assert shown["times"]["iat"].startswith("1970-01-01 00:15:00 UTC")


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("not-a-token", "not a compact JWS"),
        ("a.b.c", "not valid"),
        ("e30.W10.c2ln", "not a JSON object"),
        ("", "no token given"),
    ],
)
def test_inspect_refuses_what_is_not_a_token(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, token: str, message: str
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(" \n"))
    code, out, err = cli(capsys, "inspect", token or "-")
    assert code == REFUSED and message in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["mint", "a", "--key", "/nonexistent/key"], "cannot read /nonexistent/key"),
        (["mint", "a", "--key", "{key}", "--claim", "novalue"], "NAME=VALUE"),
        (["verify", "t.t.t", "--alg", "ES256"], "give --key FILE, --jwks URL or --issuer URL"),
        (
            ["verify", "t.t.t", "--alg", "ES256", "--key", "{key}", "--jwks", "https://x"],
            "not both",
        ),
        (["keygen", "--out", "{key}"], "exists; pass --force"),
        (["keygen", "--alg", "HS256", "--format", "pem", "--out", "{new}"], "no PEM form"),
        (["jwks", "{secret}"], "an HMAC secret has no public form"),
        (["mint", "a", "--key", "{garbage}"], "neither a JWK nor a PEM key"),
        (["mint", "a", "--key", "{secret}", "--alg", "ES256"], "ES256 needs"),
    ],
)
def test_bad_input_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
    ec_key: Path,
    tmp_path: Path,
    args: list[str],
    message: str,
) -> None:
    secret = tmp_path / "secret.jwk"
    assert main(["keygen", "--alg", "HS256", "--out", str(secret)]) == OK
    garbage = tmp_path / "garbage"
    garbage.write_text("hello")
    names = {"key": ec_key, "secret": secret, "garbage": garbage, "new": tmp_path / "new"}
    capsys.readouterr()
    code, out, err = cli(capsys, *(a.format(**names) for a in args))
    assert code == USAGE and message in err and "Traceback" not in err
    assert out == ""
    assert json.loads(secret.read_text())["k"] not in out + err


@pytest.mark.parametrize(
    "args",
    [
        ["keygen", "--alg", "HS257", "--out", "x"],
        ["mint", "a", "--key", "k", "--lifetime", "soon"],
        ["mint", "a", "--key", "k", "--lifetime", "0"],
        ["verify", "t"],  # --alg is required
        ["frobnicate"],
    ],
)
def test_argument_errors_exit_2(capsys: pytest.CaptureFixture[str], args: list[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(args)
    assert exited.value.code == USAGE
    assert "usage: jwt-wsgi" in capsys.readouterr().err


def test_a_token_outside_the_allow_list_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    secret = tmp_path / "secret.jwk"
    assert main(["keygen", "--alg", "HS256", "--out", str(secret)]) == OK
    capsys.readouterr()
    k = json.loads(secret.read_text())["k"]
    raw = base64.urlsafe_b64decode(k + "=" * (-len(k) % 4))
    token = jwt.encode({"sub": "x"}, raw, "HS512")
    code, out, _ = cli(capsys, "verify", token, "--key", str(secret), "--alg", "HS256")
    assert (code, out.split(" (")[0]) == (REFUSED, "refused: alg_not_allowed")
    token = mint(capsys, secret)
    code, out, _ = cli(capsys, "verify", token, "--key", str(secret), "--alg", "HS256")
    assert code == OK and out.startswith("valid (HS256")


def test_json_errors_are_json_too(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "inspect", "nope", "--json")
    assert code == REFUSED and json.loads(out) == {
        "ok": False,
        "error": "not a JWT: the token is not a compact JWS",
    }


@pytest.mark.server
def test_keygen_force_replaces_and_keeps_the_file_private(tmp_path: Path) -> None:
    key = tmp_path / "key.jwk"
    key.write_text("old")
    os.chmod(key, 0o644)
    assert main(["keygen", "--out", str(key), "--force"]) == OK
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert json.loads(key.read_text())["kty"] == "EC"


@pytest.mark.server
def test_a_closed_pipe_is_no_traceback(tmp_path: Path) -> None:
    """``jwt-wsgi ... | head -c 1``: the reader leaves early."""
    key = tmp_path / "key.jwk"
    assert main(["keygen", "--alg", "RS256", "--out", str(key)]) == OK
    reader = subprocess.Popen([SCRIPT, "jwks", str(key), str(key), str(key)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    assert reader.stdout is not None and reader.stderr is not None
    reader.stdout.close()
    err = reader.stderr.read().decode()
    reader.stderr.close()
    assert reader.wait(timeout=60) == REFUSED
    assert "Traceback" not in err


def test_token_flags_accept_any_claim_json(
    capsys: pytest.CaptureFixture[str], ec_key: Path
) -> None:
    token = mint(capsys, ec_key, "--claim", "n=3", "--claim", "ok=true", "--claim", "s=hello",
                 "--claim", 'o={"a": [1]}', "--fresh", "--kid", "mine")  # fmt: skip
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    assert (claims["n"], claims["ok"], claims["s"], claims["o"]) == (3, True, "hello", {"a": [1]})
    assert claims["auth_time"] == claims["iat"]
    assert jwt.get_unverified_header(token)["kid"] == "mine"


def test_in_process_round_trip_with_every_output_form(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The console script's paths, run in-process as well (so coverage sees them)."""
    for alg, fmt in [("RS256", "pem"), ("EdDSA", "jwk"), ("HS384", "jwk")]:
        key = tmp_path / f"{alg}.{fmt}"
        code, out, _ = cli(capsys, "keygen", "--alg", alg, "--format", fmt, "--out", str(key),
                           "--json")  # fmt: skip
        made = json.loads(out)
        assert (
            code == OK and made["alg"] == alg and (made["public_jwk"] is None) == (alg == "HS384")
        )
        code, out, _ = cli(capsys, "mint", "bob", "--key", str(key), "--lifetime", "1d", "--json")
        minted = json.loads(out)
        assert minted["header"]["alg"] == alg
        assert minted["claims"]["exp"] - minted["claims"]["iat"] == 86400
        code, out, _ = cli(capsys, "verify", f"Bearer {minted['token']}", "--key", str(key),
                           "--alg", alg, "--json")  # fmt: skip
        assert code == OK and json.loads(out)["claims"]["sub"] == "bob"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"keys": []}', "is a key set; give one key"),
        ('{"kty": "EC", "crv": "P-256"}', "holds no usable key"),
        ('{"kty": "XYZ"}', "cannot tell the algorithm"),
        ('{"kty": "oct"}', "an oct JWK needs a k member"),
        ('{"kty": "oct", "k": "***"}', "k is not base64url"),
        ("[1]", "neither a JWK nor a PEM key"),
        ("{nope", "is not valid JSON"),
        ("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "no unencrypted"),
    ],
)
def test_unusable_key_files_are_named(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, content: str, message: str
) -> None:
    key = tmp_path / "key"
    key.write_text(content)
    code, out, err = cli(capsys, "mint", "a", "--key", str(key))
    assert code == USAGE and message in err and out == ""


def test_keys_without_alg_get_their_usual_algorithm(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    for alg in ("RS256", "EdDSA", "HS256", "ES384"):
        key = tmp_path / alg
        assert main(["keygen", "--alg", alg, "--out", str(key)]) == OK
        jwk = json.loads(key.read_text())
        del jwk["alg"]
        key.write_text(json.dumps(jwk))
        capsys.readouterr()
        token = mint(capsys, key)
        assert jwt.get_unverified_header(token)["alg"] == alg


def test_jwks_names_a_file_that_holds_no_key(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.pem"
    bad.write_text("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
    code, _, err = cli(capsys, "jwks", str(bad))
    assert code == USAGE and "holds no PEM key" in err


def test_keygen_names_a_place_it_cannot_write(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = cli(capsys, "keygen", "--out", str(tmp_path / "missing" / "key.jwk"))
    assert code == USAGE and "cannot write" in err and "No such file" in err


def test_times_far_out_and_in_every_unit() -> None:
    from jwt_wsgi.cli import _times

    now = 1_800_000_000.0
    claims = {"iat": now - 30, "nbf": now + 600, "exp": now + 3 * 86400, "auth_time": 10**20}
    times = _times({**claims, "jti": 5, "x": True}, now)
    assert times["iat"].endswith("(30 s ago)")
    assert times["nbf"].endswith("(in 10 min)")
    assert times["exp"].endswith("(in 3 d)")
    assert times["auth_time"].startswith("out of range")
    assert set(times) == {"iat", "nbf", "exp", "auth_time"}
    assert "iat" not in _times({"iat": True}, now)


def test_verify_discovers_the_keys_from_the_issuer(
    capsys: pytest.CaptureFixture[str], ec_key: Path, key_server: KeyServer
) -> None:
    code, out, _ = cli(capsys, "jwks", str(ec_key), "--json")
    key_server.keys = json.loads(out)["keys"]
    issuer = key_server.url
    token = mint(capsys, ec_key, "--issuer", issuer)
    code, out, _ = cli(
        capsys, "verify", token, "--issuer", issuer, "--allow-http", "--alg", "ES256"
    )
    assert code == OK and out.startswith("valid (ES256")


def test_the_console_entry_point_exits_with_the_code(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from jwt_wsgi.cli import run

    monkeypatch.setattr("sys.argv", ["jwt-wsgi", "inspect", "x.y"])
    with pytest.raises(SystemExit) as exited:
        run()
    assert exited.value.code == REFUSED
    assert "not a JWT" in capsys.readouterr().err


def test_python_dash_m_in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    import runpy

    monkeypatch.setattr("sys.argv", ["jwt_wsgi", "inspect", "a.b"])
    with pytest.raises(SystemExit) as exited:
        runpy.run_module("jwt_wsgi", run_name="__main__")
    assert exited.value.code == REFUSED


@pytest.mark.parametrize(("alg", "fmt"), [("ES256", "jwk"), ("EdDSA", "jwk"), ("PS256", "pem")])
def test_proof_makes_a_dpop_proof_the_middleware_accepts(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    alg: str,
    fmt: str,
) -> None:
    """keygen, a bound token and ``proof``: the request passes; the same proof again does not."""
    from jwt_wsgi import DPoP, JWTMiddleware
    from jwt_wsgi.testing import TestTokens

    from .helpers import SECRET, ValidatingClient, echo_app

    base = "https://api.example.com"
    key = tmp_path / "client.key"
    assert main(["keygen", "--alg", alg, "--format", fmt, "--out", str(key)]) == OK
    capsys.readouterr()
    mw = JWTMiddleware(echo_app, key=SECRET, algorithms=["HS256"], dpop="required",
                       dpop_proofs=DPoP(base, algorithms=[alg]))  # fmt: skip
    # A PEM says nothing of its algorithm: RSA's usual one would be RS256.
    chosen = ["--alg", alg] if fmt == "pem" else []
    code, out, _ = cli(capsys, "proof", "GET", base + "/x", "--key", str(key), *chosen, "--json")
    assert code == OK
    jkt = json.loads(out)["jkt"]
    token = TestTokens(mw).token("alice", {"cnf": {"jkt": jkt}})
    monkeypatch.setattr("sys.stdin", io.StringIO(f"DPoP {token}\n"))
    code, out, _ = cli(
        capsys, "proof", "GET", base + "/x", "--key", str(key), *chosen, "--token", "-"
    )
    made = out.strip()
    assert code == OK and len(out.splitlines()) == 1
    assert jwt.get_unverified_header(made)["typ"] == "dpop+jwt"
    client = ValidatingClient(mw)
    headers = {"Authorization": f"DPoP {token}", "DPoP": made}
    assert client.get("/x", headers=headers).status_code == 200
    again = client.get("/x", headers=headers)
    assert (again.status_code, json.loads(again.data)["error"]) == (401, "invalid_dpop_proof")


def test_proof_refuses_a_secret_and_a_missing_key(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    secret = tmp_path / "secret.jwk"
    assert main(["keygen", "--alg", "HS256", "--out", str(secret)]) == OK
    code, _, err = cli(capsys, "proof", "GET", "https://a/x", "--key", str(secret))
    assert code == USAGE and "not an HMAC secret" in err
    code, _, err = cli(capsys, "proof", "GET", "https://a/x", "--key", str(tmp_path / "none"))
    assert code == USAGE and "cannot read" in err
