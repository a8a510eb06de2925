"""Every example runs: in-process on a real server, and as a program (the demo)."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import jwt
import pytest

from jwt_wsgi.errors import ClaimMismatch, RevokedToken, UnknownKey

from .helpers import bearer, http_request

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def login(url: str, username: str, password: str) -> tuple[int, dict[str, Any]]:
    status, _, body = http_request(
        url,
        "/login",
        method="POST",
        headers={"Content-Type": "application/json"},
        body=json.dumps({"username": username, "password": password}).encode(),
    )
    return status, json.loads(body)


def check_seed_story(url: str) -> None:
    """The seed's behaviour: admin 200, others 403, no token 401, bad login 401."""
    status, body = login(url, "admin", "admin")
    assert status == 200
    admin = {"Authorization": f"Bearer {body['jwt']}"}
    status, _, data = http_request(url, "/protected", headers=admin)
    assert (status, json.loads(data)) == (200, {"msg": "Do not forget to drink your ovaltine"})

    status, body = login(url, "test", "test")
    assert status == 200
    peasant = {"Authorization": f"Bearer {body['jwt']}"}
    status, _, data = http_request(url, "/protected", headers=peasant)
    assert (status, json.loads(data)) == (403, {"msg": "Permission denied"})

    status, headers, data = http_request(url, "/protected")
    assert status == 401 and headers["WWW-Authenticate"].startswith("Bearer")

    assert login(url, "test", "wrong") == (401, {"msg": "Bad username or password"})


@pytest.mark.parametrize("name", ["flask_claims", "bare_wsgi_claims"])
def test_seed_port(serve: Any, name: str) -> None:
    module = load(name)
    check_seed_story(serve(module.app))


def test_seed_port_claims_are_what_the_loader_returned(serve: Any) -> None:
    import jwt

    module = load("flask_claims")
    _, body = login(serve(module.app), "admin", "admin")
    claims = jwt.decode(body["jwt"], module.JWT_SECRET_KEY, algorithms=["HS256"])
    assert set(claims) == {"exp", "iat", "nbf", "sub", "roles"}
    assert claims["roles"] == "admin" and claims["exp"] - claims["iat"] == 900


def test_webob_example(serve: Any) -> None:
    import jwt

    module = load("webob_app")
    url = serve(module.app)
    assert http_request(url, "/health")[0] == 200
    reader = jwt.encode(
        {"sub": "r", "exp": 4_000_000_000, "scope": "notes:read"}, module.SECRET, "HS256"
    )
    auth = {"Authorization": f"Bearer {reader}"}
    status, _, body = http_request(url, "/notes/1", headers=auth)
    assert (status, json.loads(body)) == (200, {"method": "GET", "user": "r"})
    status, headers, _ = http_request(url, "/notes/1", method="POST", headers=auth)
    assert status == 403 and 'scope="notes:write"' in headers["WWW-Authenticate"]


@pytest.mark.server
@pytest.mark.parametrize("name", ["flask_claims", "bare_wsgi_claims"])
def test_example_runs_as_a_program_and_prints_working_curl_lines(name: str) -> None:
    env = {**os.environ, "PORT": "0", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, str(EXAMPLES / f"{name}.py")],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if "No token at all" in line:
                break
        output = "".join(lines)
        match = re.search(r"Serving on (http://127\.0\.0\.1:\d+)", output)
        assert match, output
        assert "/login" in output and "/protected" in output
        check_seed_story(match.group(1))
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def post(url: str, path: str, body: dict[str, Any], token: str | None = None) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    status, _, data = http_request(
        url, path, method="POST", headers=headers, body=json.dumps(body).encode()
    )
    return status, json.loads(data) if data else None


def test_auth_and_api_services_rotate_and_revoke(
    serve: Any, redis_url: str, tmp_path: Path
) -> None:
    import jwt

    auth_module, api_module = load("auth_service"), load("api_service")
    auth_url = serve(auth_module.create_app(redis_url, str(tmp_path / "keys")))
    api_url = serve(api_module.create_app(auth_url, redis_url, max_key_age=0.5, cooldown=0))

    def api(token: str) -> tuple[int, Any]:
        status, _, data = http_request(api_url, "/", headers={"Authorization": f"Bearer {token}"})
        return status, json.loads(data) if data else None

    # 1. A user logs in at the auth service; the API verifies by its JWKS.
    _, body = post(auth_url, "/login", {"username": "alice", "password": "alice"})
    first = body["jwt"]
    assert api(first) == (200, {"hello": "alice", "roles": "user"})
    first_kid = jwt.get_unverified_header(first)["kid"]

    # 2. The auth service rotates: new tokens carry a new kid the API fetches.
    _, body = post(auth_url, "/login", {"username": "root", "password": "root"})
    admin = body["jwt"]
    status, body = post(auth_url, "/admin/rotate", {}, admin)
    assert status == 200 and body["kid"] != first_kid
    _, body = post(auth_url, "/login", {"username": "alice", "password": "alice"})
    second = body["jwt"]
    assert jwt.get_unverified_header(second)["kid"] == body_kid(second) != first_kid
    assert api(second)[0] == 200
    assert api(first)[0] == 200  # the old key is still published

    # 3. The old key is retired: once the API's copy of the set is stale,
    #    tokens signed with it stop passing, cached or not. (The admin logs in
    #    again: their token was signed with the old key too.)
    _, body = post(auth_url, "/login", {"username": "root", "password": "root"})
    admin = body["jwt"]
    assert post(auth_url, "/admin/retire", {"kid": first_kid}, admin)[0] == 200
    import time

    time.sleep(0.6)
    status, body = api(first)
    assert (status, body["error_description"]) == (401, UnknownKey.default_description)
    assert api(second)[0] == 200

    # 4. A token is revoked at the auth service; the API sees it through Redis.
    claims = jwt.decode(second, options={"verify_signature": False})
    assert (
        post(auth_url, "/admin/revoke", {"jti": claims["jti"], "exp": claims["exp"]}, admin)[0]
        == 200
    )
    status, body = api(second)
    assert (status, body["error_description"]) == (401, RevokedToken.default_description)

    # Non-admins cannot use the admin endpoints: a valid token without the role.
    _, body = post(auth_url, "/login", {"username": "alice", "password": "alice"})
    status, body = post(auth_url, "/admin/rotate", {}, body["jwt"])
    assert (status, body["error"]) == (403, ClaimMismatch.body_error)


def test_the_auth_service_under_gunicorn_with_two_workers(
    gunicorn: Any, serve: Any, redis_url: str, tmp_path: Path
) -> None:
    """Every worker signs with the shared current key; a rotation reaches all of them."""
    import jwt

    auth = gunicorn(
        "examples.auth_service:app",
        workers=2,
        env={"REDIS_URL": redis_url, "KEY_DIR": str(tmp_path / "keys"), "REFRESH_GRACE": "0.5"},
    )
    auth.wait_for_workers(2)
    # cooldown=0: the API refetches at once for the new kid of a rotation.
    api_url = serve(load("api_service").create_app(auth.url, redis_url, cooldown=0))

    def login(user: str) -> dict[str, str]:
        status, body = post(auth.url, "/login", {"username": user, "password": user})
        assert status == 200
        return dict(body)

    def api(token: str) -> int:
        status, _, body = http_request(api_url, "/", headers={"Authorization": f"Bearer {token}"})
        assert status in (200, 401), body
        return status

    def logins(count: int) -> list[str]:
        """Concurrent logins, so that both sync workers take some."""
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(4) as pool:
            return list(pool.map(lambda _: login("alice")["jwt"], range(count)))

    tokens = logins(20)
    assert len({jwt.get_unverified_header(t)["kid"] for t in tokens}) == 1
    assert [api(t) for t in tokens] == [200] * 20
    jwks = {http_request(auth.url, "/.well-known/jwks.json")[2] for _ in range(10)}
    assert len(jwks) == 1  # both workers publish the same set

    # A rotation through whichever worker answers reaches every worker.
    status, body = post(auth.url, "/admin/rotate", {}, login("root")["jwt"])
    assert status == 200
    new_kid = body["kid"]
    tokens = logins(20)
    assert {jwt.get_unverified_header(t)["kid"] for t in tokens} == {new_kid}
    assert [api(t) for t in tokens] == [200] * 20

    # Refresh, reuse detection and logout hold across workers through Redis.
    pair = login("alice")
    status, rotated = post(auth.url, "/auth/refresh", {"refresh_token": pair["refresh_token"]})
    assert status == 200 and api(rotated["access_token"]) == 200
    time.sleep(0.6)  # past the grace (0.5 s here): a replay is a theft
    status, _ = post(auth.url, "/auth/refresh", {"refresh_token": pair["refresh_token"]})
    assert status == 401
    assert api(rotated["access_token"]) == 401 and api(pair["jwt"]) == 401
    other = login("alice")
    assert post(auth.url, "/auth/logout", {}, other["jwt"])[0] == 204
    assert api(other["jwt"]) == 401


def body_kid(token: str) -> str:
    import jwt

    return str(jwt.get_unverified_header(token)["kid"])


def test_flask_jwt_extended_refresh_tokens_example(serve: Any) -> None:
    url = serve(load("fje_refresh_tokens").app)
    status, tokens = post(url, "/login", {})
    assert status == 200 and set(tokens) == {"access_token", "refresh_token"}
    protected = http_request(url, "/protected", headers=bearer(tokens["access_token"]))
    assert (protected[0], json.loads(protected[2])) == (200, {"foo": "bar"})
    # A refresh token is refused where an access token belongs, and the reverse.
    assert http_request(url, "/protected", headers=bearer(tokens["refresh_token"]))[0] == 401
    assert post(url, "/refresh", {}, tokens["access_token"])[0] == 401
    status, body = post(url, "/refresh", {}, tokens["refresh_token"])
    assert status == 200 and set(body) == {"access_token"}
    assert http_request(url, "/protected", headers=bearer(body["access_token"]))[0] == 200


def test_flask_jwt_extended_cookies_example(serve: Any) -> None:
    url = serve(load("fje_cookies").app)
    jar = cookies_set(url, "/login_with_cookies")
    assert set(jar) == {"access_token", "csrf_access_token"}
    cookie = {"Cookie": f"access_token={jar['access_token']}"}
    assert http_request(url, "/protected", headers=cookie)[0] == 200
    assert http_request(url, "/protected", method="POST", headers=cookie)[0] == 403  # no CSRF
    with_csrf = {**cookie, "X-CSRF-Token": jar["csrf_access_token"]}
    assert http_request(url, "/protected", method="POST", headers=with_csrf)[0] == 200
    assert http_request(url, "/only_headers", headers=cookie)[0] == 401  # headers only there
    _, token = post(url, "/login_without_cookies", {})
    assert http_request(url, f"/protected?access_token={token['access_token']}")[0] == 200
    assert http_request(url, "/only_headers", headers=bearer(token["access_token"]))[0] == 200
    cleared = cookies_set(url, "/logout_with_cookies")
    assert cleared["access_token"] == "" and cleared["csrf_access_token"] == ""


def cookies_set(url: str, path: str) -> dict[str, str]:
    """The cookies a POST to ``path`` sets, every Set-Cookie header read."""
    import http.client
    from http.cookies import SimpleCookie
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
    try:
        conn.request("POST", path)
        response = conn.getresponse()
        response.read()
        jar: dict[str, str] = {}
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                parsed: SimpleCookie = SimpleCookie()
                parsed.load(value)
                jar.update({k: m.value for k, m in parsed.items()})
        return jar
    finally:
        conn.close()


@pytest.mark.server
def test_the_example_tests_of_a_users_app_pass() -> None:
    """examples/test_flask_claims.py, run as its user runs it, with jwt_wsgi.testing."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
         "test_flask_claims.py"],
        cwd=EXAMPLES, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "7 passed" in done.stdout


def test_the_dpop_example_token_endpoint_binds_to_the_proof_key(serve: Any) -> None:
    """The token endpoint over HTTP: a nonce first, then a bound token; bad proofs refused."""
    from jwt_wsgi.testing import DPoPKey

    from .helpers import Clock

    example = load("dpop_app")
    clock = Clock(time.time())
    built: list[Any] = []
    url = serve(lambda environ, start_response: built[0](environ, start_response))
    built.append(example.create_app(url, clock=clock))
    key = DPoPKey(clock=clock)
    login = json.dumps({"username": "alice", "password": "wonderland"}).encode()

    def token_request(proof: str, body: bytes = login) -> tuple[int, dict[str, str], Any]:
        headers = {"DPoP": proof, "Content-Type": "application/json"}
        status, got, data = http_request(url, "/token", method="POST", headers=headers, body=body)
        return status, got, json.loads(data)

    status, headers, body = token_request(key.proof("POST", url + "/token"))
    assert (status, body["error"]) == (400, "use_dpop_nonce")
    nonce = headers["DPoP-Nonce"]
    status, _, body = token_request(key.proof("GET", url + "/token", nonce=nonce))
    assert (status, body["error"]) == (400, "invalid_dpop_proof")
    wrong = json.dumps({"username": "alice", "password": "nope"}).encode()
    status, _, body = token_request(key.proof("POST", url + "/token", nonce=nonce), wrong)
    assert (status, body["error"]) == (400, "invalid_grant")
    status, _, body = token_request(key.proof("POST", url + "/token", nonce=nonce))
    assert status == 200 and body["token_type"] == "DPoP"
    token = body["access_token"]
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["cnf"] == {"jkt": key.jkt}
    headers = key.headers(token, "GET", url + "/api/me", nonce=nonce)
    status, _, data = http_request(url, "/api/me", headers=headers)
    assert (status, json.loads(data)) == (200, {"sub": "alice", "jkt": key.jkt})
    clock.now += 300  # the nonce's period is over: still accepted, and a new one comes back
    status, headers, body = token_request(key.proof("POST", url + "/token", nonce=nonce))
    assert status == 200 and headers["DPoP-Nonce"] != nonce


@pytest.mark.server
def test_the_dpop_example_runs_as_a_program() -> None:
    """``python examples/dpop_app.py``: served at the printed URL, which its proofs must name."""
    from jwt_wsgi.testing import DPoPKey

    env = {**os.environ, "PORT": "0", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, str(EXAMPLES / "dpop_app.py")],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env=env)  # fmt: skip
    try:
        assert proc.stdout is not None
        match = re.search(r"Serving on (http://127\.0\.0\.1:\d+)", proc.stdout.readline() +
                          proc.stdout.readline())  # fmt: skip
        assert match
        url = match.group(1)
        status, _, page = http_request(url, "/")
        assert status == 200 and b"dpopDemo" in page
        proof = DPoPKey().proof("POST", url + "/token")
        status, headers, _ = http_request(url, "/token", method="POST", headers={"DPoP": proof})
        assert status == 400 and headers["DPoP-Nonce"]  # the URL it printed is the one it checks
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()
