"""Configuration from text: mappings, environment variables and a real PasteDeploy .ini."""

from __future__ import annotations

import inspect
import json
import re
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from jwt_wsgi import (
    ConfigurationError,
    JWTMiddleware,
    Policy,
    RedisRevocationStore,
    Rule,
)
from jwt_wsgi.config import SETTINGS, from_config, parse_rules
from jwt_wsgi.rules import FRESH_FOR

from .helpers import SECRET, ValidatingClient, echo_app

BASE = {"algorithms": "HS256", "key_env": "TEST_SECRET"}
ENVIRON = {"TEST_SECRET": SECRET}


def on_error(environ: Any, start_response: Any, error: Any) -> Any:
    return error(environ, start_response)


class Admins(Policy):
    pass


ADMINS = Admins(claims={"roles": "admin"})


def live_token(claims: dict[str, Any] | None = None) -> str:
    """A token valid now, by the real clock (configured middleware reads ``time.time``)."""
    now = int(time.time())
    return jwt.encode({"sub": "alice", "iat": now, "exp": now + 600, **(claims or {})}, SECRET)


def provider(mw: JWTMiddleware) -> Any:
    return mw.authenticator.providers["default"]


def sources(mw: JWTMiddleware) -> Any:
    return mw.authenticator.sources


def cookies(mw: JWTMiddleware) -> Any:
    return mw.authenticator.sources.cookies


#: Every setting, a value in text, and what it must become.
CASES: list[tuple[str, str, Callable[[JWTMiddleware], Any], Any]] = [
    ("algorithms", "HS256, HS384", lambda m: provider(m).algorithms, ("HS256", "HS384")),
    ("issuer", "https://issuer.example", lambda m: provider(m).issuer, "https://issuer.example"),
    ("audience", "api web", lambda m: provider(m).audience, frozenset({"api", "web"})),
    ("leeway", "2m", lambda m: provider(m).leeway, 120.0),
    ("require", "exp,jti", lambda m: provider(m).require, ("exp", "jti")),
    ("typ", "at+jwt", lambda m: provider(m).typ, frozenset({"at+jwt"})),
    ("profile", "none", lambda m: provider(m).profile, None),
    ("mtls", "required", lambda m: provider(m).mtls, "required"),
    ("certificate_environ", "SSL_CLIENT_CERT", lambda m: m.authenticator.certificates.key,
     "SSL_CLIENT_CERT"),
    ("certificate_header", "X-Client-Cert", lambda m: m.authenticator.certificates.key,
     "HTTP_X_CLIENT_CERT"),
    ("allow_numeric_sub", "yes", lambda m: provider(m).allow_numeric_sub, True),
    ("allow_weak_hmac_keys", "on", lambda m: provider(m).allow_weak_hmac_keys, True),
    ("allow_http", "1", lambda m: provider(m).allow_http, True),
    ("cache_size", "42", lambda m: m.authenticator.cache.size, 42),
    ("max_token_bytes", "9000", lambda m: m.authenticator.max_token_bytes, 9000),
    ("revocation_unavailable", "open", lambda m: m.authenticator._fail_open, True),
    ("locations", "header cookie", lambda m: sources(m).locations, ("header", "cookie")),
    ("header", "X-Token", lambda m: sources(m).bearer.header, "X-Token"),
    ("scheme", "JWT", lambda m: sources(m).bearer.scheme, "jwt"),
    ("query", "t", lambda m: sources(m).query, "t"),
    ("csrf", "false", lambda m: sources(m).csrf, False),
    ("default", "optional", lambda m: m.rules.default.auth, "optional"),
    ("realm", "billing", lambda m: m.realm, "billing"),
    ("cors_preflight", "true", lambda m: m.cors_preflight, True),
    ("remote_user", "none", lambda m: m.remote_user, None),
    ("case_sensitive", "false", lambda m: m.rules.case_sensitive, False),
    ("check_request_target", "off", lambda m: m.rules.check_request_target, False),
    ("on_error", "tests.test_config:on_error", lambda m: m.on_error, on_error),
    ("policy", "tests.test_config:ADMINS", lambda m: m.policy, ADMINS),
    ("principal", "tests.test_config:on_error", lambda m: m.principal, on_error),
    ("resource_metadata", "https://a.example/.well-known/oauth-protected-resource",
     lambda m: m.resource_metadata, "https://a.example/.well-known/oauth-protected-resource"),
    ("rules", "POST /login public", lambda m: m.rules.rules[0].methods, frozenset({"POST"})),
    ("cookie_access", "at", lambda m: cookies(m).access, "at"),
    ("cookie_refresh", "rt", lambda m: cookies(m).refresh, "rt"),
    ("cookie_access_csrf", "ac", lambda m: cookies(m).access_csrf, "ac"),
    ("cookie_refresh_csrf", "rc", lambda m: cookies(m).refresh_csrf, "rc"),
    ("cookie_csrf_header", "X-XSRF", lambda m: cookies(m).csrf_header, "X-XSRF"),
    ("cookie_path", "/api", lambda m: cookies(m).path, "/api"),
    ("cookie_refresh_path", "/auth", lambda m: cookies(m).refresh_path, "/auth"),
    ("cookie_domain", "example.com", lambda m: cookies(m).domain, "example.com"),
    ("cookie_secure", "no", lambda m: cookies(m).secure, False),
    ("cookie_samesite", "Strict", lambda m: cookies(m).samesite, "Strict"),
    ("cookie_persistent", "false", lambda m: cookies(m).persistent, False),
]  # fmt: skip
#: Settings tested elsewhere in this file, each by its own test.
OWN_TESTS = {"key", "key_file", "key_env", "jwks_url", "providers", "revocation_url",
             "revocation_prefix", "revocation_mirror", "revocation_timeout",
             "revocation_min_replicas", "revocation_replica_timeout", "revocation_stale_for",
             "revocation_max_token_lifetime", "revocation_default_ttl", "dpop", "dpop_base_url",
             # with keys fetched by URL: test_jwks.py, from every entry point
             "ca_file", "timeout", "cooldown", "lifetime", "min_lifetime", "max_lifetime",
             "stale_for", "retry_after",
             "dpop_algorithms", "dpop_max_age", "dpop_leeway", "dpop_nonce_secret_env",
             "dpop_nonce_lifetime"}  # fmt: skip


def test_every_setting_has_a_case() -> None:
    assert {name for name, *_ in CASES} | OWN_TESTS == SETTINGS


@pytest.mark.parametrize(("name", "text", "read", "expected"), CASES, ids=[c[0] for c in CASES])
def test_every_setting_from_a_mapping_and_from_the_environment(
    name: str, text: str, read: Callable[[JWTMiddleware], Any], expected: Any
) -> None:
    settings = {**BASE, name: text}
    if name == "allow_weak_hmac_keys" or name == "algorithms":
        settings["algorithms"] = "HS256, HS384" if name == "algorithms" else "HS256"
    mw = from_config(echo_app, settings, environ=ENVIRON)
    assert read(mw) == expected
    environ = {f"JWT_WSGI_{k.upper()}": v for k, v in settings.items()} | ENVIRON
    assert read(JWTMiddleware.from_env(echo_app, environ=environ)) == expected


def test_the_configured_middleware_protects() -> None:
    rules = "GET /health public\n/admin/<path:rest> claims.roles=admin"
    mw = from_config(echo_app, {**BASE, "rules": rules}, environ=ENVIRON)
    client = ValidatingClient(mw)
    assert client.get("/health").status_code == 200
    assert client.get("/admin/x").status_code == 401
    assert client.get("/x", headers={"Authorization": f"Bearer {live_token()}"}).status_code == 200


def test_rules_in_the_compact_form() -> None:
    rules = parse_rules(
        """
        # comments and blank lines are skipped

        GET,HEAD /health public
        /admin/<path:rest> scopes=admin,audit claims.roles=admin,ops claims.level=3 fresh=5m
        /me optional; /refresh kinds=refresh locations=cookie max_age=1h acr=mfa
        /step fresh=true providers=default
        """
    )
    health, admin, me, refresh, step = rules
    assert (health.methods, health.auth) == (frozenset({"GET", "HEAD"}), "public")
    assert set(admin.scopes) == {"admin", "audit"}
    assert admin.claims == {"roles": ["admin", "ops"], "level": 3}
    assert admin.max_age == 300
    assert me.auth == "optional"
    assert refresh.kinds == frozenset({"refresh"}) and refresh.locations == ("cookie",)
    assert refresh.max_age == 3600 and refresh.acr == ("mfa",)
    assert step.max_age == FRESH_FOR and step.providers == frozenset({"default"})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("admin", "rule 1 ('admin'): expected METHODS or a pattern starting with /"),
        ("GET", "rule 1 ('GET'): the pattern must start with /"),
        ("/a\n/b scopes", "rule 2 ('/b scopes'): expected option=value, got 'scopes'"),
        ("/a color=red", "unknown option 'color'"),
        ("/a public scopes=x", "a public rule cannot check tokens"),
        ("/a fresh=soon", "expected seconds like 30"),
        ('/a "unclosed', "No closing quotation"),
        ("/items/{id}", "Werkzeug patterns take literally"),
    ],
)
def test_bad_rules_name_the_line(text: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match="rules in ") as raised:
        from_config(echo_app, {**BASE, "rules": text}, environ=ENVIRON)
    assert message in str(raised.value)


def write_pem(path: Path) -> ec.EllipticCurvePrivateKey:
    key = ec.generate_private_key(ec.SECP256R1())
    path.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return key


def test_keys_from_files_of_every_form(tmp_path: Path) -> None:
    pem = tmp_path / "public.pem"
    private = write_pem(pem)
    token = jwt.encode({"sub": "a", "exp": 4_000_000_000}, private, "ES256")
    mw = from_config(echo_app, {"algorithms": "ES256", "key_file": str(pem)})
    assert mw.authenticator.authenticate(token).claims["sub"] == "a"

    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(private.public_key()))
    (tmp_path / "set.json").write_text(json.dumps({"keys": [{**jwk, "kid": "k1"}]}))
    mw = from_config(echo_app, {"algorithms": "ES256", "key_file": str(tmp_path / "set.json")})
    signed = jwt.encode({"sub": "b", "exp": 4_000_000_000}, private, "ES256", headers={"kid": "k1"})
    assert mw.authenticator.authenticate(signed).claims["sub"] == "b"

    (tmp_path / "secret").write_text(SECRET + "\n")  # an editor's newline is not the secret's
    mw = from_config(echo_app, {"algorithms": "HS256", "key_file": str(tmp_path / "secret")})
    assert mw.authenticator.authenticate(live_token()).claims["sub"]


def test_a_binary_key_file_keeps_a_last_byte_that_looks_like_a_newline(tmp_path: Path) -> None:
    """DER ends in arbitrary bytes: one ending in 0x0a is a key, not a text line."""
    while True:
        private = ec.generate_private_key(ec.SECP256R1())
        der = private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        if der.endswith(b"\n"):
            break
    (tmp_path / "public.der").write_bytes(der)
    mw = from_config(echo_app, {"algorithms": "ES256", "key_file": str(tmp_path / "public.der")})
    token = jwt.encode({"sub": "d", "exp": 4_000_000_000}, private, "ES256")
    assert mw.authenticator.authenticate(token).claims["sub"] == "d"


def test_an_inline_secret_works_but_warns() -> None:
    with pytest.warns(UserWarning, match="key in configuration: an HMAC secret written"):
        mw = from_config(echo_app, {"algorithms": "HS256", "key": SECRET})
    assert mw.authenticator.authenticate(live_token()).claims["sub"]


def test_an_inline_pem_with_escaped_newlines_loads(tmp_path: Path) -> None:
    private = write_pem(tmp_path / "k.pem")
    inline = (tmp_path / "k.pem").read_text().replace("\n", "\\n")
    mw = from_config(echo_app, {"algorithms": "ES256", "key": inline})
    token = jwt.encode({"sub": "c", "exp": 4_000_000_000}, private, "ES256")
    assert mw.authenticator.authenticate(token).claims["sub"] == "c"


def test_a_jwks_url_is_taken_as_is() -> None:
    mw = from_config(echo_app, {"algorithms": "RS256", "jwks_url": "https://idp.example/jwks"})
    assert provider(mw).keys.url == "https://idp.example/jwks"


def test_several_providers(tmp_path: Path) -> None:
    settings = {
        "providers": "staff partners",
        "provider.staff.algorithms": "HS256",
        "provider.staff.issuer": "https://staff.example",
        "provider.staff.key_env": "TEST_SECRET",
        "provider.partners.algorithms": "HS256",
        "provider.partners.issuer": "https://partners.example",
        "provider.partners.key_env": "OTHER_SECRET",
        "provider.partners.audience": "api",
    }
    environ = {"TEST_SECRET": SECRET, "OTHER_SECRET": "o" * 64}
    mw = from_config(echo_app, settings, environ=environ)
    token = live_token({"iss": "https://staff.example"})
    assert mw.authenticator.authenticate(token).provider == "staff"
    from_env = {
        "JWT_WSGI_PROVIDERS": "staff",
        "JWT_WSGI_PROVIDER__STAFF__ALGORITHMS": "HS256",
        "JWT_WSGI_PROVIDER__STAFF__KEY_ENV": "TEST_SECRET",
        **environ,
    }
    mw = JWTMiddleware.from_env(echo_app, environ=from_env)
    assert mw.authenticator.authenticate(live_token()).provider == "staff"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"leewy": "3"}, "leewy in configuration: unknown setting; did you mean 'leeway'?"),
        ({"leeway": "soon"}, "leeway in configuration: expected seconds like 30"),
        ({"cache_size": "lots"}, "cache_size in configuration: expected a whole number"),
        ({"csrf": "maybe"}, "csrf in configuration: expected true or false, got 'maybe'"),
        ({"on_error": "nowhere"}, "on_error in configuration: expected module:attribute"),
        ({"policy": "tests.nope:X"}, "policy in configuration: cannot import 'tests.nope:X'"),
        ({"key_file": "/nonexistent"}, "key_env in configuration: give one of key, key_file"),
        ({"key_env": "UNSET_VARIABLE"}, "the environment variable UNSET_VARIABLE is not set"),
        ({"cookie_samesite": "Sometimes"}, "cookie settings in configuration: samesite"),
        ({"default": "maybe"}, "configuration: default must be one of"),
        ({"providers": "a"}, "algorithms in configuration: with providers"),
        ({"provider.a.issuer": "x"}, "provider.a.* in configuration: list the names in providers"),
    ],
)  # fmt: skip
def test_errors_name_the_setting_and_its_source(settings: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        from_config(echo_app, {**BASE, **settings}, environ=ENVIRON)
    assert message in str(raised.value)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"providers": "a", "provider.b.issuer": "x"}, "'b' is not in providers"),
        ({"providers": "a", "provider.a.color": "x"}, "provider.a.color in configuration: unknown"),
        ({"providers": "a", "provider.a.algorithms": "HS256"}, "provider 'a' in configuration"),
        ({"key_file": "/nonexistent"}, "key_file in configuration: cannot read /nonexistent"),
        ({"key_file": "{bad}"}, "key_file in configuration: {bad} is not valid JSON"),
        ({"revocation_url": "http://not-redis"}, "revocation_url in configuration"),
    ],
)
def test_more_errors_without_the_base(
    tmp_path: Path, settings: dict[str, str], message: str
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    settings = {k: v.replace("{bad}", str(bad)) for k, v in settings.items()}
    message = message.replace("{bad}", str(bad))
    if "providers" not in settings:
        settings = {"algorithms": "HS256", **settings}
    with pytest.raises(ConfigurationError) as raised:
        from_config(echo_app, settings)
    assert message in str(raised.value)


def test_environment_errors_name_the_variable() -> None:
    environ = {"JWT_WSGI_ALGORITHMS": "HS256", "JWT_WSGI_KEY_ENV": "S", "S": SECRET,
               "JWT_WSGI_LEEWAY": "later"}  # fmt: skip
    with pytest.raises(ConfigurationError, match="environment variable JWT_WSGI_LEEWAY: expected"):
        JWTMiddleware.from_env(echo_app, environ=environ)
    with pytest.raises(ConfigurationError, match="environment variables: no settings; give"):
        JWTMiddleware.from_env(echo_app, environ={})
    with pytest.raises(ConfigurationError, match="algorithms is required"):
        JWTMiddleware.from_env(echo_app, environ={"JWT_WSGI_KEY_ENV": "S", "S": SECRET})


def test_keys_jwks_and_revocation_from_the_environment(tmp_path: Path, redis_url: str) -> None:
    (tmp_path / "secret").write_text(SECRET)
    environ = {"JWT_WSGI_ALGORITHMS": "HS256", "JWT_WSGI_KEY_FILE": str(tmp_path / "secret"),
               "JWT_WSGI_REVOCATION_URL": redis_url, "JWT_WSGI_REVOCATION_PREFIX": "env:",
               "JWT_WSGI_REVOCATION_MIRROR": "no"}  # fmt: skip
    mw = JWTMiddleware.from_env(echo_app, environ=environ)
    store = mw.authenticator._denylist
    assert isinstance(store, RedisRevocationStore) and store.prefix == "env:"
    assert not store.wait_in_sync(0)
    assert mw.authenticator.authenticate(live_token()).claims["sub"] == "alice"
    store.close()
    jwks = {"JWT_WSGI_ALGORITHMS": "RS256", "JWT_WSGI_JWKS_URL": "https://idp.example/jwks"}
    remote = JWTMiddleware.from_env(echo_app, environ=jwks)
    assert provider(remote).keys.url == "https://idp.example/jwks"
    with pytest.warns(UserWarning, match="environment variable JWT_WSGI_KEY: an HMAC secret"):
        JWTMiddleware.from_env(echo_app, environ={"JWT_WSGI_ALGORITHMS": "HS256",
                                                  "JWT_WSGI_KEY": SECRET})  # fmt: skip


REVOCATION_SETTINGS = {
    "revocation_prefix": ("{jwt}:", "prefix", "{jwt}:"),
    "revocation_mirror": ("off", "_mirrored", False),
    "revocation_timeout": ("2s", "_conn.timeout", 2.0),
    "revocation_min_replicas": ("2", "min_replicas", 2),
    "revocation_replica_timeout": ("0.1", "replica_timeout", 0.1),
    "revocation_stale_for": ("1m", "stale_for", 60.0),
    "revocation_max_token_lifetime": ("90d", "max_token_lifetime", 90 * 86400.0),
    "revocation_default_ttl": ("2h", "default_ttl", 7200.0),
}


@pytest.mark.parametrize("source", ["mapping", "environment"])
def test_every_revocation_setting_reaches_the_store(source: str, redis_url: str) -> None:
    settings = {**BASE, "revocation_url": redis_url}
    settings |= {name: text for name, (text, _, _) in REVOCATION_SETTINGS.items()}
    if source == "mapping":
        mw = from_config(echo_app, settings, environ=ENVIRON)
    else:
        environ = {f"JWT_WSGI_{k.upper()}": v for k, v in settings.items()} | ENVIRON
        mw = JWTMiddleware.from_env(echo_app, environ=environ)
    store = mw.authenticator._denylist
    assert isinstance(store, RedisRevocationStore)
    for name, (_, attribute, expected) in REVOCATION_SETTINGS.items():
        value: Any = store
        for part in attribute.split("."):
            value = getattr(value, part)
        assert value == expected, name
    store.close()


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"revocation_stale_for": "5s"},
         "revocation_stale_for in configuration: needs revocation_url"),
        ({"revocation_url": "redis://h", "revocation_min_replicas": "one"},
         "revocation_min_replicas in configuration: expected a whole number"),
        ({"revocation_url": "redis://h", "revocation_replica_timeout": "1s"},
         "replica_timeout (1 s) must be less than timeout (0.5 s)"),
        ({"revocation_url": "redis+sentinel://h:26379"}, "names no service"),
        ({"revocation_url": "redis+sentinel://a:1,b:x/svc"}, "expected host:port, got 'b:x'"),
        ({"revocation_url": "redis+cluster://a:1/3"}, "a Redis Cluster has database 0 only"),
        ({"revocation_url": "redis://a:1,b:2"}, "use redis+sentinel:// or redis+cluster://"),
        ({"revocation_url": "redis://:hunter2@a:1/x"}, "redis://:***@a:1/x"),
        ({"revocation_url": "redis+cluster://a:1", "revocation_prefix": "plain:"},
         "give a prefix with a hash tag, such as '{plain}:'"),
        ({"revocation_url": "redis+sentinel://a:1/svc?color=red"}, "unknown URL option 'color'"),
    ],
)  # fmt: skip
def test_bad_revocation_settings_are_named(settings: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        from_config(echo_app, {**BASE, **settings}, environ=ENVIRON)
    assert message in str(raised.value)
    assert "hunter2" not in str(raised.value)


def test_revocation_through_redis(redis_url: str) -> None:
    settings = {**BASE, "revocation_url": redis_url, "revocation_prefix": "cfg:",
                "revocation_mirror": "false"}  # fmt: skip
    mw = from_config(echo_app, settings, environ=ENVIRON)
    store = mw.authenticator._denylist
    assert isinstance(store, RedisRevocationStore) and not store.wait_in_sync(0)
    token = live_token({"jti": "cfg-1"})
    client = ValidatingClient(mw)
    assert client.get("/", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    store.revoke_token(token)
    assert client.get("/", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    store.close()


def test_a_pastedeploy_ini_loads_the_filter(tmp_path: Path) -> None:
    from paste.deploy import loadapp  # type: ignore[import-untyped]

    (tmp_path / "secret").write_text(SECRET)
    ini = tmp_path / "app.ini"
    ini.write_text(
        textwrap.dedent(
            f"""
            [app:api]
            use = call:tests.helpers:echo_app_factory

            [filter:jwt]
            use = egg:jwt_wsgi
            algorithms = HS256
            key_file = {tmp_path / "secret"}
            leeway = 30s
            rules =
                GET /health public
                /admin/<path:rest> claims.roles=admin

            [pipeline:main]
            pipeline = jwt api
            """
        )
    )
    app = loadapp(f"config:{ini}")
    assert isinstance(app, JWTMiddleware) and provider(app).leeway == 30
    client = ValidatingClient(app)
    assert client.get("/health").status_code == 200
    assert client.get("/admin/x").status_code == 401
    admin = live_token({"roles": "admin"})
    assert client.get("/admin/x", headers={"Authorization": f"Bearer {admin}"}).status_code == 200
    named = tmp_path / "named.ini"  # the entry point's name, as Pyramid users write it
    named.write_text(ini.read_text().replace("use = egg:jwt_wsgi", "use = egg:jwt_wsgi#jwt"))
    assert provider(loadapp(f"config:{named}")).leeway == 30
    bad = tmp_path / "bad.ini"
    bad.write_text(ini.read_text().replace("leeway = 30s", "leeway = whenever"))
    with pytest.raises(ConfigurationError, match="leeway in the PasteDeploy filter section"):
        loadapp(f"config:{bad}")


def test_rule_objects_equal_what_the_text_says() -> None:
    (rule,) = parse_rules("DELETE /items/<int:id> scopes=items:delete")
    same = Rule("/items/<int:id>", ["DELETE"], scopes=["items:delete"])
    assert (rule.pattern, rule.methods, rule.scopes) == (same.pattern, same.methods, same.scopes)


def test_dpop_settings_from_a_mapping_and_from_the_environment() -> None:
    """Every DPoP setting, read both ways, makes the DPoP object and modes it names."""
    from jwt_wsgi.testing import DPoPKey

    settings = {**BASE, "dpop": "allowed", "dpop_base_url": "https://a.example, https://b.example",
                "dpop_algorithms": "ES256", "dpop_max_age": "2m", "dpop_leeway": "3",
                "dpop_nonce_secret_env": "NONCE_SECRET", "dpop_nonce_lifetime": "10m",
                "rules": "/pay dpop=required"}  # fmt: skip
    environ = {**ENVIRON, "NONCE_SECRET": "n" * 32}
    from_env = {f"JWT_WSGI_{k.upper()}": v for k, v in settings.items()} | environ
    for mw in (from_config(echo_app, settings, environ=environ),
               JWTMiddleware.from_env(echo_app, environ=from_env)):  # fmt: skip
        proofs = mw.authenticator.dpop_proofs
        assert proofs is not None and provider(mw).dpop == "allowed"
        assert proofs.base_urls == ("https://a.example", "https://b.example")
        assert (proofs.algorithms, proofs.max_age, proofs.leeway) == (("ES256",), 120, 3)
        assert proofs.nonces is not None and proofs.nonces.lifetime == 600
        assert mw.rules.rules[0].dpop == "required"
        key = DPoPKey()
        now = int(time.time())
        token = jwt.encode({"sub": "a", "iat": now, "exp": now + 60, "cnf": {"jkt": key.jkt}},
                           SECRET)  # fmt: skip
        client = ValidatingClient(mw)
        url = "https://b.example/x"
        response = client.get("/x", headers=key.headers(token, "GET", url))
        assert json.loads(response.data)["error"] == "use_dpop_nonce"
        nonce = response.headers["DPoP-Nonce"]
        assert (
            client.get("/x", headers=key.headers(token, "GET", url, nonce=nonce)).status_code == 200
        )
        plain = {"Authorization": f"Bearer {live_token()}"}
        assert json.loads(client.get("/pay", headers=plain).data)["error"] == "invalid_token"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"dpop": "allowed"}, "dpop_proofs=DPoP"),
        ({"dpop_max_age": "1m"}, "dpop_max_age in t: DPoP settings need dpop_base_url"),
        ({"dpop_base_url": "ftp://x"}, "DPoP settings in t: base_url must be"),
        ({"dpop_base_url": "https://a", "dpop_nonce_lifetime": "1m"}, "need dpop_nonce_secret_env"),
        ({"dpop_base_url": "https://a", "dpop_nonce_secret_env": "NOPE"}, "NOPE is not set"),
        ({"dpop_base_url": "https://a", "dpop_nonce_secret_env": "TEST_SECRET",
          "dpop_algorithms": "HS256"}, "symmetric"),
        ({"rules": "/a dpop=maybe", "dpop_base_url": "https://a"}, "dpop must be one of"),
    ],
)  # fmt: skip
def test_dpop_setting_mistakes_name_the_setting(settings: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(message)):
        from_config(echo_app, {**BASE, **settings}, source="t", environ=ENVIRON)


def test_every_provider_option_can_be_set_from_ini_and_environment() -> None:
    """Each keyword of Provider has a setting of the same name (the key through key,
    key_file or key_env), so nothing needs Python that a file cannot say; each such
    setting is set from a mapping and from the environment by a test above (CASES) or
    by its own. Only a live object cannot: ssl_context (ca_file says the same)."""
    from jwt_wsgi import Provider

    keywords = set(inspect.signature(Provider).parameters) - {"name", "ssl_context"}
    assert {"key", "key_file", "key_env"} <= SETTINGS
    assert keywords <= SETTINGS  # and so each has its JWT_WSGI_* variable
    assert keywords <= {name for name, *_ in CASES} | OWN_TESTS
