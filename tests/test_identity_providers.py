"""The identity-provider guide, run as written, against each provider's shape.

For each provider in ``docs/identity-providers.rst`` a loopback HTTPS server
(a test CA's certificate, as a public CA would be to the real host) serves a
discovery document and a key set in that provider's shape, at that
provider's paths; tokens are made in its shape (header and claims). The
guide's snippet is executed as written, with only the provider's origin
swapped for the loopback one, and the middleware it configures must accept
the good token and refuse each bad one for the reason the guide gives.
"""

from __future__ import annotations

import base64
import datetime
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from jwt_wsgi import AuthError, JWTMiddleware, Policy, Provider, Rule
from jwt_wsgi.errors import (
    ClaimMismatch,
    InvalidAudience,
    InvalidIssuer,
    MissingClaim,
    ScopeMissing,
)

from .fixtures.tlsproxy import Authority
from .helpers import Refusals, ValidatingClient, echo_app

GUIDE = Path(__file__).resolve().parent.parent / "docs" / "identity-providers.rst"
KUBERNETES_CA = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"


def snippet(name: str) -> str:
    """The code of the guide's block named ``name``, as written."""
    text = GUIDE.read_text()
    match = re.search(rf"\.\. code-block:: python\n   :name: {name}\n\n((?:    .*\n|\n)+)", text)
    assert match is not None, name
    return "\n".join(line[4:] for line in match[1].splitlines())


@dataclass
class Shape:
    """One identity provider as the tests imitate it."""

    name: str
    origins: dict[str, str]  # the real origin -> its path prefix on the loopback server
    documents: Callable[[str, dict[str, Any]], dict[str, Any]]  # base URL, JWK -> path: doc
    header: dict[str, Any]
    claims: Callable[[str], dict[str, Any]]  # base URL -> a good token's claims
    path: str = "/orders"
    method: str = "GET"
    bad: list[tuple[str, dict[str, Any], type[AuthError]]] = field(default_factory=list)
    extra: list[tuple[str, str, dict[str, Any], int]] = field(default_factory=list)


def self_signed(key: rsa.RSAPrivateKey) -> str:
    """A certificate of ``key`` in ``x5c`` form, as Entra and GitHub publish beside n and e."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "signing")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(1)
        .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()


def discovery(issuer: str, jwks_uri: str, **more: Any) -> dict[str, Any]:
    return {"issuer": issuer, "jwks_uri": jwks_uri, "id_token_signing_alg_values_supported":
            ["RS256"], "response_types_supported": ["code"], **more}  # fmt: skip


NOW = int(time.time())
TENANT = "9188040d-6c67-4c5b-b112-36a304b66dad"
POOL = "eu-west-1_AbCdEf123"


def keycloak_documents(base: str, jwk: dict[str, Any]) -> dict[str, Any]:
    issuer = f"{base}/realms/acme"
    enc = {**jwk, "kid": "enc-key", "use": "enc", "alg": "RSA-OAEP"}
    return {
        "/realms/acme/.well-known/openid-configuration":
            discovery(issuer, f"{issuer}/protocol/openid-connect/certs"),
        "/realms/acme/protocol/openid-connect/certs":
            {"keys": [{**jwk, "use": "sig", "alg": "RS256"}, enc]},
    }  # fmt: skip


def auth0_documents(base: str, jwk: dict[str, Any]) -> dict[str, Any]:
    return {
        "/.well-known/openid-configuration":
            discovery(f"{base}/", f"{base}/.well-known/jwks.json"),
        "/.well-known/jwks.json": {"keys": [{**jwk, "use": "sig", "alg": "RS256"}]},
    }  # fmt: skip


def entra_documents(base: str, jwk: dict[str, Any]) -> dict[str, Any]:
    issuer = f"{base}/{TENANT}/v2.0"
    member = {**jwk, "use": "sig", "issuer": issuer}
    return {
        f"/{TENANT}/v2.0/.well-known/openid-configuration":
            discovery(issuer, f"{base}/{TENANT}/discovery/v2.0/keys"),
        f"/{TENANT}/discovery/v2.0/keys": {"keys": [member]},
    }  # fmt: skip


def okta_documents(base: str, jwk: dict[str, Any]) -> dict[str, Any]:
    issuer = f"{base}/oauth2/default"
    return {
        "/oauth2/default/.well-known/openid-configuration":
            discovery(issuer, f"{issuer}/v1/keys"),
        "/oauth2/default/v1/keys": {"keys": [{**jwk, "use": "sig", "alg": "RS256"}]},
    }  # fmt: skip


def cognito_documents(base: str, jwk: dict[str, Any]) -> dict[str, Any]:
    issuer = f"{base}/{POOL}"
    return {
        f"/{POOL}/.well-known/openid-configuration":
            discovery(issuer, f"{issuer}/.well-known/jwks.json"),
        f"/{POOL}/.well-known/jwks.json": {"keys": [{**jwk, "use": "sig", "alg": "RS256"}]},
    }  # fmt: skip


def google_documents(base: str, jwk: dict[str, Any]) -> dict[str, Any]:
    return {"/oauth2/v3/certs": {"keys": [{**jwk, "use": "sig", "alg": "RS256"}]}}


def github_documents(base: str, jwk: dict[str, Any]) -> dict[str, Any]:
    return {
        "/.well-known/openid-configuration": discovery(base, f"{base}/.well-known/jwks"),
        "/.well-known/jwks": {"keys": [{**jwk, "use": "sig", "alg": "RS256"}]},
    }


def kubernetes_documents(base: str, jwk: dict[str, Any]) -> dict[str, Any]:
    # The document names the API server's own address for the keys, not the issuer's host.
    return {
        "/.well-known/openid-configuration":
            discovery(base, f"{base}/openid/v1/jwks", subject_types_supported=["public"]),
        "/openid/v1/jwks": {"keys": [{**jwk, "use": "sig", "alg": "RS256"}]},
    }  # fmt: skip


def times(lifetime: int = 300) -> dict[str, Any]:
    return {"iat": NOW, "nbf": NOW, "exp": NOW + lifetime}


SHAPES = [
    Shape(
        "keycloak",
        {"https://sso.example.com": ""},
        keycloak_documents,
        {"typ": "JWT"},
        lambda base: {
            "iss": f"{base}/realms/acme",
            "aud": ["orders-api", "account"],
            "sub": "f1d2",
            "typ": "Bearer",
            "azp": "web",
            "scope": "openid profile",
            "realm_access": {"roles": ["offline_access", "admin"]},
            "jti": "k1",
            **times(),
        },
        bad=[
            ("an ID token", {"typ": "ID", "aud": "orders-api"}, ClaimMismatch),
            ("no audience mapper", {"aud": "account"}, InvalidAudience),
        ],
        extra=[
            ("admin", "/admin/users", {}, 200),
            ("not admin", "/admin/users", {"realm_access": {"roles": []}}, 403),
        ],
    ),  # fmt: skip
    Shape(
        "auth0",
        {"https://acme.eu.auth0.com": ""},
        auth0_documents,
        {"typ": "at+jwt"},
        lambda base: {
            "iss": f"{base}/",
            "sub": "auth0|5f7c",
            "client_id": "Z3abc",
            "aud": ["https://orders.example.com", f"{base}/userinfo"],
            "jti": "a1",
            "scope": "openid read:orders",
            "permissions": ["read:orders", "create:orders"],
            **times(),
        },
        method="POST",
        bad=[
            ("another API", {"aud": "https://billing.example.com"}, InvalidAudience),
            ("no trailing slash", {"iss": "{base}"}, InvalidIssuer),
            ("no permission", {"permissions": ["read:orders"]}, ClaimMismatch),
        ],
    ),  # fmt: skip
    Shape(
        "entra",
        {"https://login.microsoftonline.com": ""},
        entra_documents,
        {"typ": "JWT", "x5t": "Mg2mqvA"},
        lambda base: {
            "iss": f"{base}/{TENANT}/v2.0",
            "aud": "api://orders",
            "tid": TENANT,
            "sub": "AAAAAAAA",
            "oid": "1c2d",
            "azp": "b2c3",
            "ver": "2.0",
            "scp": "Orders.Read User.Read",
            "roles": ["Jobs.Run"],
            **times(3600),
        },
        bad=[
            (
                "a v1 token",
                {"iss": f"https://sts.windows.net/{TENANT}/", "ver": "1.0"},
                InvalidIssuer,
            ),
            ("a Graph token", {"aud": "00000003-0000-0000-c000-000000000000"}, InvalidAudience),
            ("no scope", {"scp": "User.Read"}, ScopeMissing),
        ],
        extra=[
            ("app role", "/jobs/nightly", {}, 200),
            ("no app role", "/jobs/nightly", {"roles": []}, 403),
        ],
    ),  # fmt: skip
    Shape(
        "okta",
        {"https://acme.okta.com": ""},
        okta_documents,
        {},
        lambda base: {
            "iss": f"{base}/oauth2/default",
            "aud": "api://default",
            "cid": "0oa1",
            "uid": "00u1",
            "sub": "alice@example.com",
            "scp": ["orders", "openid"],
            "groups": ["Everyone", "Admins"],
            "jti": "AT.1",
            "ver": 1,
            **times(),
        },
        bad=[
            ("the org server", {"iss": "{base}"}, InvalidIssuer),
            ("no orders scope", {"scp": ["openid"]}, ScopeMissing),
        ],
        extra=[
            ("admin group", "/admin/x", {}, 200),
            ("not in the group", "/admin/x", {"groups": ["Everyone"]}, 403),
        ],
    ),  # fmt: skip
    Shape(
        "cognito",
        {"https://cognito-idp.eu-west-1.amazonaws.com": ""},
        cognito_documents,
        {},
        lambda base: {
            "iss": f"{base}/{POOL}",
            "sub": "aaaa-bbbb",
            "token_use": "access",
            "client_id": "1example23456789",
            "scope": "orders/read",
            "username": "alice",
            "cognito:groups": ["staff"],
            "auth_time": NOW,
            "jti": "c1",
            **times(),
        },
        bad=[
            ("an ID token", {"token_use": "id", "aud": "1example23456789"}, InvalidAudience),
            ("another app client", {"client_id": "9other"}, ClaimMismatch),
        ],
        extra=[
            ("staff", "/staff/x", {}, 200),
            ("not staff", "/staff/x", {"cognito:groups": []}, 403),
        ],
    ),  # fmt: skip
    Shape(
        "google",
        {"https://www.googleapis.com": ""},
        google_documents,
        {"typ": "JWT"},
        lambda base: {
            "iss": "https://accounts.google.com",
            "azp": "1234567890-abc.apps.googleusercontent.com",
            "aud": "1234567890-abc.apps.googleusercontent.com",
            "sub": "1098",
            "hd": "example.com",
            "email": "alice@example.com",
            "email_verified": True,
            **times(3600),
        },
        bad=[
            ("another domain", {"hd": "other.example"}, ClaimMismatch),
            ("a personal account", {"hd": None}, ClaimMismatch),
            ("another client", {"aud": "999-xyz.apps.googleusercontent.com"}, InvalidAudience),
        ],
        extra=[("the legacy issuer spelling", "/orders", {"iss": "accounts.google.com"}, 200)],
    ),  # fmt: skip
    Shape(
        "github-actions",
        {"https://token.actions.githubusercontent.com": ""},
        github_documents,
        {"typ": "JWT", "x5t": "Yp1"},
        lambda base: {
            "iss": base,
            "aud": "https://deploy.example.com",
            "sub": "repo:octo-org/octo-repo:ref:refs/heads/main",
            "repository": "octo-org/octo-repo",
            "repository_owner": "octo-org",
            "ref": "refs/heads/main",
            "workflow": "deploy",
            "run_id": "1",
            "job_workflow_ref": "octo-org/octo-repo/.github/workflows/deploy.yml@refs/heads/main",
            **times(),
        },
        bad=[
            (
                "a fork",
                {
                    "repository": "mallory/octo-repo",
                    "sub": "repo:mallory/octo-repo:ref:refs/heads/main",
                },
                ClaimMismatch,
            ),
            ("another branch", {"ref": "refs/heads/feature"}, ClaimMismatch),
            ("the default audience", {"aud": "https://github.com/octo-org"}, InvalidAudience),
        ],
    ),  # fmt: skip
    Shape(
        "kubernetes",
        {"https://kubernetes.default.svc.cluster.local": ""},
        kubernetes_documents,
        {},
        lambda base: {
            "iss": base,
            "aud": ["orders-api"],
            "sub": "system:serviceaccount:payments:billing",
            "kubernetes.io": {
                "namespace": "payments",
                "serviceaccount": {"name": "billing", "uid": "u1"},
                "pod": {"name": "billing-7d", "uid": "p1"},
            },
            **times(3600),
        },
        bad=[
            (
                "another service account",
                {"sub": "system:serviceaccount:payments:other"},
                ClaimMismatch,
            ),
            (
                "a legacy secret token",
                {"iss": "kubernetes/serviceaccount", "exp": None},
                MissingClaim,
            ),
            ("another audience", {"aud": ["https://kubernetes.default.svc"]}, InvalidAudience),
        ],
    ),  # fmt: skip
]


class DocumentServer:
    """HTTPS on loopback serving JSON documents by path, with a test CA's certificate."""

    def __init__(self, authority: Authority) -> None:
        cert, key, _ = authority.issue("idp-documents", server=True)
        self.documents: dict[str, Any] = {}

        @Request.application
        def app(request: Request) -> Response:
            document = self.documents.get(request.path)
            if document is None:
                return Response("not found", 404)
            import json

            return Response(json.dumps(document), mimetype="application/json")

        self.server = make_server("127.0.0.1", 0, app, ssl_context=(str(cert), str(key)))
        self.base = f"https://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def authority() -> Authority:
    return Authority()


@pytest.fixture
def server(authority: Authority) -> Iterator[DocumentServer]:
    documents = DocumentServer(authority)
    yield documents
    documents.close()


@pytest.fixture(scope="module")
def signing() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def configured(shape: Shape, base: str, ca_file: str) -> tuple[JWTMiddleware, Refusals]:
    """The guide's snippet, run as written but for the origin, and the middleware it sets up."""
    code = snippet(f"idp-{shape.name}")
    for origin, prefix in shape.origins.items():
        code = code.replace(origin, base + prefix)
    code = code.replace(KUBERNETES_CA, ca_file)

    def trusted(*args: Any, **options: Any) -> Provider:
        options.setdefault("ca_file", ca_file)  # the test CA stands for a public one
        return Provider(*args, **options)

    names: dict[str, Any] = {"Provider": trusted, "Policy": Policy, "Rule": Rule}
    exec(code, names)  # noqa: S102 - the guide's own code, as a reader would run it
    providers = [v for v in names.values() if isinstance(v, Provider)]
    rules = [v for v in names.values() if isinstance(v, Rule)]
    refusals = Refusals()
    middleware = JWTMiddleware(echo_app, providers=providers, policy=names.get("policy"),
                               rules=rules, on_error=refusals)  # fmt: skip
    return middleware, refusals


def make(key: Any, shape: Shape, claims: dict[str, Any]) -> str:
    sent = {name: value for name, value in claims.items() if value is not None}
    return jwt.encode(sent, key, algorithm="RS256",
                      headers={**shape.header, "kid": f"{shape.name}-1"})  # fmt: skip


@pytest.mark.parametrize("shape", SHAPES, ids=[s.name for s in SHAPES])
def test_the_guide_for_each_provider(
    shape: Shape, server: DocumentServer, authority: Authority, signing: rsa.RSAPrivateKey
) -> None:
    jwk: dict[str, Any] = jwt.get_algorithm_by_name("RS256").to_jwk(
        signing.public_key(), as_dict=True
    )
    jwk.pop("key_ops", None)
    jwk = {**jwk, "kid": f"{shape.name}-1", "x5c": [self_signed(signing)]}
    server.documents = shape.documents(server.base, jwk)
    middleware, refusals = configured(shape, server.base, str(authority.ca_file))
    client = ValidatingClient(middleware)
    good = shape.claims(server.base)

    def send(claims: dict[str, Any], path: str = shape.path) -> int:
        token = make(signing, shape, claims)
        return client.open(path, method=shape.method,
                           headers={"Authorization": f"Bearer {token}"}).status_code  # fmt: skip

    assert send(good) == 200, refusals.errors
    for what, change, refusal in shape.bad:
        changed = {k: (v.format(base=server.base) if isinstance(v, str) else v)
                   for k, v in change.items()}  # fmt: skip
        status = send({**good, **changed})
        assert status in (401, 403), what
        assert refusals.last() is refusal, (what, refusals.errors[-1])
    for what, path, change, expected in shape.extra:
        assert send({**good, **change}, path) == expected, what


def test_every_provider_of_the_guide_is_tested() -> None:
    named = set(re.findall(r":name: idp-([\w-]+)", GUIDE.read_text()))
    assert named == {shape.name for shape in SHAPES}


def test_the_guide_names_reasons_that_exist() -> None:
    """Each reason code the guide quotes is a real one."""
    from jwt_wsgi import errors

    reasons = {cls.reason for cls in vars(errors).values()
               if isinstance(cls, type) and issubclass(cls, errors.AuthError)}  # fmt: skip
    quoted = set(re.findall(r"``(\w+_\w+)``\)", GUIDE.read_text()))
    quoted |= set(re.findall(r"\(``(\w+)``", GUIDE.read_text()))
    for code in quoted:
        if "_" in code and code.islower():
            assert code in reasons, code
