"""A real OpenID Provider on loopback: panva's node-oidc-provider, over HTTPS.

It is OpenID Certified and maintained, and it is not ours: the tests ask it
for tokens the way any client would (client credentials, RFC 9068 JWT access
tokens, DPoP with server nonces) and check that jwt_wsgi verifies them by
discovery alone. ``tests/oidc/package.json`` pins it; ``make test`` installs
it with ``npm ci``. Its certificate comes from a test CA (:mod:`tests.tlsproxy`)
that only the tests trust, as an internal CA would be.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import ssl
import subprocess
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from .redis_servers import free_port
from .tlsproxy import Authority

HERE = Path(__file__).resolve().parent / "oidc"
#: Resource indicators, and the algorithm the provider signs each one's tokens with.
RESOURCES = {
    "https://api.example/rs256": "RS256",
    "https://api.example/es256": "ES256",
    "https://api.example/ed25519": "Ed25519",
}
AUDIENCE = "https://api.example"
SECRET = "a-client-secret-of-the-tests"


def node() -> str:
    binary = shutil.which("node")
    if binary is None or not (HERE / "node_modules" / "oidc-provider").is_dir():
        if os.environ.get("JWT_WSGI_REQUIRE_OIDC"):
            pytest.fail("node and tests/oidc/node_modules are required (make test installs them)")
        pytest.skip("no node, or oidc-provider not installed (npm ci --prefix tests/oidc)")
    return binary


def signing_keys(generation: int) -> dict[str, Any]:
    """Private JWKs for each algorithm, with kids that say which generation they are."""
    made = {
        "RS256": rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "ES256": ec.generate_private_key(ec.SECP256R1()),
        "Ed25519": ed25519.Ed25519PrivateKey.generate(),
    }
    loaders = {"RS256": "RS256", "ES256": "ES256", "Ed25519": "EdDSA"}
    keys = []
    for alg, key in made.items():
        jwk: dict[str, Any] = jwt.get_algorithm_by_name(loaders[alg]).to_jwk(key, as_dict=True)
        jwk.pop("key_ops", None)
        keys.append({**jwk, "kid": f"{alg.lower()}-{generation}", "use": "sig", "alg": alg})
    return {"keys": keys}


class OpenIDProvider:
    """node-oidc-provider on a free port of 127.0.0.1, restartable with new keys."""

    def __init__(self, authority: Authority) -> None:
        self.binary = node()
        self.authority = authority
        self.port = free_port()
        self.issuer = f"https://127.0.0.1:{self.port}"
        self.dir = Path(tempfile.mkdtemp(prefix="jwt_wsgi-op-"))
        self.cert, self.key, _ = authority.issue(f"op-{self.port}", server=True)
        self.context = ssl.create_default_context(cafile=str(authority.ca_file))
        self.generation = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self, *, new_keys: bool = True) -> None:
        """Start (again); with ``new_keys``, under a key set it never used before."""
        if new_keys:
            self.generation += 1
            (self.dir / "jwks.json").write_text(json.dumps(signing_keys(self.generation)))
        env = {
            **os.environ,
            "OP_PORT": str(self.port),
            "OP_JWKS": str(self.dir / "jwks.json"),
            "OP_CERT": str(self.cert),
            "OP_KEY": str(self.key),
            "OP_CLIENT_SECRET": SECRET,
            "OP_RESOURCES": json.dumps(RESOURCES),
        }
        self.log = open(self.dir / "op.log", "ab")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(
            [self.binary, str(HERE / "server.mjs")], env=env, stdout=self.log, stderr=self.log
        )
        from .redis_servers import wait_for

        wait_for(self._discovers, 30, "the OpenID Provider")

    def _discovers(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError((self.dir / "op.log").read_text())
        status, _, body = self.request("GET", "/.well-known/openid-configuration")
        return status == 200 and json.loads(body)["issuer"] == self.issuer

    def request(
        self, method: str, path: str, *, body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:  # fmt: skip
        """One request; the answer's header names in lower case."""
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.context,
                                           timeout=10)  # fmt: skip
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            headers_seen = {name.lower(): value for name, value in response.getheaders()}
            return response.status, headers_seen, response.read()
        finally:
            conn.close()

    def token(self, resource: str, *, proof: Any = None, nonce: str | None = None) -> Any:
        """A client-credentials answer for ``resource``: (status, headers, JSON body).

        ``proof(url, nonce)`` makes a DPoP proof for the token endpoint.
        """
        form = urlencode({"grant_type": "client_credentials", "client_id": "api-client",
                          "client_secret": SECRET, "resource": resource,
                          "scope": "orders:read"})  # fmt: skip
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if proof is not None:
            headers["DPoP"] = proof(f"{self.issuer}/token", nonce)
        status, answer_headers, body = self.request("POST", "/token", body=form.encode(),
                                                    headers=headers)  # fmt: skip
        return status, answer_headers, json.loads(body)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.log.close()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
