"""Rules that express real policies: any-of scope sets, nested claims, any/all, shadow mode."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from jwt_wsgi import ConfigurationError, JWTMiddleware, Policy, Provider, Rule
from jwt_wsgi.config import parse_rules
from jwt_wsgi.errors import ClaimMismatch, ProviderNotAccepted, ScopeMissing

from .helpers import NOW, SECRET, Clock, Refusals, ValidatingClient, echo_app, make_token, protect

PARTNER_KEY = "p" * 64


def build(clock: Clock, refusals: Refusals, *rules: Rule, **options: Any) -> ValidatingClient:
    return ValidatingClient(protect(rules=list(rules), clock=clock, on_error=refusals, **options))


def bearer(claims: dict[str, Any], key: str = SECRET) -> dict[str, str]:
    import jwt

    payload = {"sub": "alice", "iat": int(NOW), "exp": int(NOW) + 600, **claims}
    return {"Authorization": f"Bearer {jwt.encode(payload, key, 'HS256')}"}


def test_any_of_several_scope_sets(clock: Clock) -> None:
    refusals = Refusals()
    client = build(clock, refusals, Rule("/r", any_scopes=["read write", "admin"]))
    assert client.get("/r", headers=bearer({"scope": "write read"})).status_code == 200
    assert client.get("/r", headers=bearer({"scp": ["admin"]})).status_code == 200
    answer = client.get("/r", headers=bearer({"scope": "read"}))
    assert answer.status_code == 403 and refusals.last() is ScopeMissing
    assert 'scope="read write"' in answer.headers["WWW-Authenticate"]


def test_all_scopes_and_any_scopes_together(clock: Clock) -> None:
    refusals = Refusals()
    rule = Rule("/r", scopes=["api"], any_scopes=["read", "admin"])
    client = build(clock, refusals, rule)
    assert client.get("/r", headers=bearer({"scope": "api read"})).status_code == 200
    assert client.get("/r", headers=bearer({"scope": "read"})).status_code == 403


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"scopes": ["read write"]}, "a scope name has no spaces"),
        ({"any_scopes": ["read", " "]}, "any_scopes holds an empty set"),
        ({"any_scopes": "read write"}, "any_scopes"),
        ({"any_of": Policy(scopes=["x"])}, "any_of must be a list of Policy objects"),
        ({"all_of": []}, "all_of must hold at least one Policy"),
        ({"any_of": [Rule("/x")]}, "only Policy objects"),
    ],
)
def test_policy_mistakes_are_named(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Rule("/r", **options)


def test_claims_inside_nested_objects(clock: Clock) -> None:
    refusals = Refusals()
    client = build(clock, refusals, Rule("/admin", claims={"realm_access.roles": "admin"}))
    keycloak = {"realm_access": {"roles": ["user", "admin"]}}
    assert client.get("/admin", headers=bearer(keycloak)).status_code == 200
    for claims in ({"realm_access": {"roles": ["user"]}}, {"realm_access": ["admin"]}, {}):
        assert client.get("/admin", headers=bearer(claims)).status_code == 403
        assert refusals.last() is ClaimMismatch


def test_a_claim_named_with_dots_is_still_one_name(clock: Clock) -> None:
    refusals = Refusals()
    rule = Rule("/admin", claims={"https://example.com/roles": "admin"})
    client = build(clock, refusals, rule)
    assert (
        client.get("/admin", headers=bearer({"https://example.com/roles": ["admin"]})).status_code
        == 200
    )


@pytest.mark.parametrize(
    ("claims", "status"),
    [
        pytest.param({"kubernetes.io": {"namespace": "payments"}}, 200, id="member-with-dots"),
        pytest.param({"kubernetes": {"io": {"namespace": "payments"}}}, 200, id="plain-nesting"),
        pytest.param({"kubernetes.io": {"namespace": "other"}}, 403, id="other-value"),
        pytest.param({"kubernetes.io": "payments"}, 403, id="not-an-object"),
    ],
)
def test_a_path_through_members_whose_names_have_dots(
    clock: Clock, claims: dict[str, Any], status: int
) -> None:
    """Kubernetes service-account tokens nest under ``kubernetes.io``."""
    rule = Rule("/jobs", claims={"kubernetes.io.namespace": "payments"})
    client = build(clock, Refusals(), rule)
    assert client.get("/jobs", headers=bearer(claims)).status_code == status


def test_different_checks_per_provider(clock: Clock) -> None:
    providers = [
        Provider("staff", ["HS256"], issuer="https://staff.example", key=SECRET),
        Provider("partners", ["HS256"], issuer="https://partners.example", key=PARTNER_KEY),
    ]
    rule = Rule("/reports", any_of=[
        Policy(providers=["staff"], claims={"roles": "analyst"}),
        Policy(providers=["partners"], scopes=["reports:read"]),
    ])  # fmt: skip
    refusals = Refusals()
    client = build(clock, refusals, rule, providers=providers)
    staff, partner = {"iss": "https://staff.example"}, {"iss": "https://partners.example"}
    assert client.get("/reports", headers=bearer({**staff, "roles": "analyst"})).status_code == 200
    granted = {**partner, "scope": "reports:read"}
    assert client.get("/reports", headers=bearer(granted, PARTNER_KEY)).status_code == 200
    # A partner token with a staff role is not a staff token.
    crossed = {**partner, "roles": "analyst"}
    assert client.get("/reports", headers=bearer(crossed, PARTNER_KEY)).status_code == 403
    assert refusals.last() is ScopeMissing  # the partners' policy speaks, not "wrong provider"
    assert client.get("/reports", headers=bearer(staff)).status_code == 403
    assert refusals.last() is ClaimMismatch


def test_all_of(clock: Clock) -> None:
    refusals = Refusals()
    rule = Rule("/r", all_of=[Policy(claims={"team": "blue"}), Policy(scopes=["x"])])
    client = build(clock, refusals, rule)
    assert client.get("/r", headers=bearer({"team": "blue", "scope": "x"})).status_code == 200
    assert client.get("/r", headers=bearer({"team": "blue"})).status_code == 403
    assert client.get("/r", headers=bearer({"scope": "x"})).status_code == 403
    assert client.get("/r", headers=bearer({})).status_code == 403


def test_a_provider_policy_alone_refuses_other_providers(clock: Clock) -> None:
    from jwt_wsgi import Authenticated

    with pytest.raises(ProviderNotAccepted):
        Policy(providers=["q"]).authorize(Authenticated("t", {}, {}, "p"), {}, clock)


def test_a_shadow_rule_decides_logs_counts_and_lets_through(
    clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    refusals = Refusals()
    rule = Rule("/new/<path:rest>", scopes=["beta"], shadow=True)
    mw = JWTMiddleware(echo_app, key=SECRET, algorithms=["HS256"], rules=[rule], clock=clock,
                       on_error=refusals)  # fmt: skip
    client = ValidatingClient(mw)
    with caplog.at_level(logging.INFO, logger="jwt_wsgi"):
        lacking = client.get("/new/x", headers={"Authorization": f"Bearer {make_token()}"})
        anonymous = client.get("/new/x")
        forged = client.get("/new/x", headers={"Authorization": f"Bearer {make_token()}x"})
        granted = client.get("/new/x", headers=bearer({"scope": "beta"}))
    assert [r.status_code for r in (lacking, anonymous, forged, granted)] == [200] * 4
    assert lacking.get_json()["claims"]["sub"] == "alice"  # the token itself was valid
    assert anonymous.get_json()["claims"] is None and forged.get_json()["claims"] is None
    assert refusals.errors == []
    metrics = mw.metrics()
    assert metrics["shadow_refused"] == {
        "scope_missing": 1, "token_missing": 1, "signature_invalid": 1
    }  # fmt: skip
    assert metrics["refused"] == {}
    lines = [r for r in caplog.records if r.getMessage().startswith("shadow rule")]
    assert len(lines) == 3 and lines[0].__dict__["jwt_shadow"] is True
    assert "would refuse GET /new/x with 403 scope_missing" in lines[0].getMessage()
    assert client.get("/new/a\\b").status_code == 400  # an unsafe path is never shadowed


def test_shadow_rules_in_text_and_refused_on_public_paths() -> None:
    (rule,) = parse_rules("/new/<path:rest> any_scopes=read+write,admin shadow=true")
    assert rule.shadow and rule.any_scopes == (frozenset({"read", "write"}), frozenset({"admin"}))
    assert repr(rule) == "Rule('/new/<path:rest>', None, auth='required', shadow=True)"
    with pytest.raises(ConfigurationError, match="cannot check tokens, name where they are read"):
        Rule("/x", auth="public", shadow=True)
