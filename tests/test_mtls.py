"""Certificate-bound tokens (RFC 8705), in-process and through a real mutual-TLS proxy."""

from __future__ import annotations

import http.client
import json
import ssl
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from jwt_wsgi import ConfigurationError, JWTMiddleware, Provider
from jwt_wsgi.certificates import ClientCertificates
from jwt_wsgi.errors import (
    CertificateMismatch,
    CertificateRequired,
    InvalidClaim,
    TokenNotBound,
    UnsupportedToken,
)

from .fixtures.tlsproxy import Authority, TlsProxy, thumbprint
from .helpers import NOW, SECRET, Clock, Refusals, ValidatingClient, echo_app


@pytest.fixture(scope="module")
def authority() -> Authority:
    return Authority()


def token(claims: dict[str, Any] | None = None, now: float = NOW) -> str:
    payload = {"sub": "svc", "iat": int(now), "exp": int(now) + 600, **(claims or {})}
    return jwt.encode(payload, SECRET, "HS256")


def bound_to(cert: Any, now: float = NOW) -> str:
    return token({"cnf": {"x5t#S256": thumbprint(cert)}}, now)


def pem(cert: Any) -> str:
    return str(cert.public_bytes(serialization.Encoding.PEM).decode())


def test_a_bound_token_needs_its_certificate(clock: Clock, authority: Authority) -> None:
    _, _, mine = authority.issue("mine")
    _, _, other = authority.issue("other")
    refusals = Refusals()
    mw = JWTMiddleware(echo_app, key=SECRET, algorithms=["HS256"], clock=clock,
                       on_error=refusals, certificate_environ="SSL_CLIENT_CERT")  # fmt: skip
    client = ValidatingClient(mw)

    def get(sent: str, cert: Any = None) -> int:
        if isinstance(cert, str):
            environ = {"SSL_CLIENT_CERT": cert}
        else:
            environ = {"SSL_CLIENT_CERT": pem(cert)} if cert is not None else {}
        headers = {"Authorization": f"Bearer {sent}"}
        return client.get("/", headers=headers, environ_overrides=environ).status_code

    assert get(bound_to(mine), mine) == 200
    assert get(bound_to(mine), mine) == 200  # a cache hit checks it too
    assert get(bound_to(mine), other) == 401 and refusals.last() is CertificateMismatch
    assert get(bound_to(mine)) == 401 and refusals.last() is CertificateRequired
    assert get(token(), mine) == 200  # "allowed": unbound tokens pass
    assert get(bound_to(mine), "not a certificate") == 401
    assert refusals.last() is CertificateRequired


def test_required_binding(clock: Clock, authority: Authority) -> None:
    _, _, mine = authority.issue("req")
    provider = Provider("default", ["HS256"], key=SECRET, mtls="required")
    refusals = Refusals()
    mw = JWTMiddleware(echo_app, providers=[provider], clock=clock, on_error=refusals,
                       certificate_environ="SSL_CLIENT_CERT")  # fmt: skip
    environ = {"SSL_CLIENT_CERT": pem(mine)}
    client = ValidatingClient(mw)
    answer = client.get("/", headers={"Authorization": f"Bearer {token()}"},
                        environ_overrides=environ)  # fmt: skip
    assert answer.status_code == 401 and refusals.last() is TokenNotBound
    answer = client.get("/", headers={"Authorization": f"Bearer {bound_to(mine)}"},
                        environ_overrides=environ)  # fmt: skip
    assert answer.status_code == 200


def test_without_a_certificate_source_bound_tokens_are_refused(
    clock: Clock, authority: Authority
) -> None:
    _, _, mine = authority.issue("nosource")
    refusals = Refusals()
    mw = JWTMiddleware(echo_app, key=SECRET, algorithms=["HS256"], clock=clock, on_error=refusals)
    # A client-sent header is not trusted unless configured.
    headers = {"Authorization": f"Bearer {bound_to(mine)}",
               "X-Client-Cert": quote(pem(mine), safe="")}  # fmt: skip
    assert ValidatingClient(mw).get("/", headers=headers).status_code == 401
    assert refusals.last() is CertificateRequired
    with pytest.raises(CertificateRequired):
        mw.authenticator.authenticate(bound_to(mine))


@pytest.mark.parametrize(
    ("cnf", "refusal"),
    [("x", InvalidClaim), ({"x5t#S256": 3}, InvalidClaim), ({"jkt": "abc"}, UnsupportedToken)],
)
def test_malformed_and_dpop_confirmations(clock: Clock, cnf: Any, refusal: type) -> None:
    """A DPoP-bound token (cnf.jkt) sent as a bearer token is a downgrade: refused."""
    mw = JWTMiddleware(echo_app, key=SECRET, algorithms=["HS256"], clock=clock)
    with pytest.raises(refusal):
        mw.authenticator.authenticate(token({"cnf": cnf}))


def test_a_null_confirmation_binds_to_nothing(clock: Clock) -> None:
    """``"cnf": null`` is read as no ``cnf``: a bearer token, as it was before binding."""
    mw = JWTMiddleware(echo_app, key=SECRET, algorithms=["HS256"], clock=clock)
    result = mw.authenticator.authenticate(token({"cnf": None}))
    assert result.claims["cnf"] is None


def test_certificate_sources_are_checked() -> None:
    with pytest.raises(ConfigurationError, match="not both"):
        ClientCertificates(environ_key="A", header="B")
    with pytest.raises(ConfigurationError, match="certificate_header must be a non-empty string"):
        ClientCertificates(header=" ")
    with pytest.raises(ConfigurationError, match="mtls must be one of"):
        Provider("p", ["HS256"], key=SECRET, mtls="maybe")  # type: ignore[arg-type]
    assert ClientCertificates().thumbprint({"SSL_CLIENT_CERT": "x"}) is None


@pytest.fixture
def proxied(gunicorn: Any, authority: Authority) -> Iterator[TlsProxy]:
    server = gunicorn("tests.fixtures.mtls_app:app")
    proxy = TlsProxy(authority, server.port)
    yield proxy
    proxy.close()


def client_context(authority: Authority, name: str | None) -> tuple[ssl.SSLContext, Any]:
    """A TLS client trusting the CA, with a new client certificate ``name`` (or none)."""
    context = ssl.create_default_context(cafile=str(authority.ca_file))
    cert = None
    if name is not None:
        cert_file, key_file, cert = authority.issue(name)
        context.load_cert_chain(cert_file, key_file)
    return context, cert


def tls_get(
    proxy: TlsProxy, context: ssl.SSLContext, sent: str, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    conn = http.client.HTTPSConnection("127.0.0.1", proxy.port, context=context, timeout=10)
    try:
        conn.request("GET", "/", headers={"Authorization": f"Bearer {sent}", **(headers or {})})
        answer = conn.getresponse()
        return answer.status, json.loads(answer.read())
    finally:
        conn.close()


def test_through_a_real_mutual_tls_proxy(proxied: TlsProxy, authority: Authority) -> None:
    context, cert = client_context(authority, "client-a")
    sent = bound_to(cert, time.time())
    status, body = tls_get(proxied, context, sent)
    assert status == 200 and body["claims"]["sub"] == "svc"
    # Another client certificate from the same CA: the token is not theirs.
    status, body = tls_get(proxied, client_context(authority, "client-b")[0], sent)
    assert status == 401 and body["error"] == "invalid_token"
    # Claiming the right certificate in a header does not help: the proxy replaces it.
    forged = {"X-Client-Cert": quote(pem(cert), safe="")}
    status, _ = tls_get(proxied, client_context(authority, "client-c")[0], sent, forged)
    assert status == 401
    # Without a client certificate the TLS handshake itself fails.
    with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
        tls_get(proxied, client_context(authority, None)[0], sent)
