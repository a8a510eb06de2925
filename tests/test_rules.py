"""Rules: Werkzeug-style matching, specificity, claim and scope checks."""

from __future__ import annotations

from typing import Any, cast

import pytest

from jwt_wsgi import Authenticated, ConfigurationError, InsufficientScope, Rule
from jwt_wsgi.errors import (
    ClaimMismatch,
    ConditionFailed,
    ProviderNotAccepted,
    ScopeMissing,
    UnsafePath,
)
from jwt_wsgi.rules import RuleMap

RULES = [
    Rule("/static/<path:rest>", auth="public"),
    Rule("/users/<int:id>", auth="optional"),
    Rule("/users/me", auth="required"),
    Rule("/admin", claims={"roles": "admin"}),
    Rule("/admin/<path:rest>", claims={"roles": "admin"}),
    Rule("/reports", ["POST"], scopes=["reports:write"]),
]


@pytest.mark.parametrize(
    ("path", "method", "expected"),
    [
        pytest.param("/static/css/site.css", "GET", RULES[0], id="path-converter"),
        pytest.param("/users/12", "GET", RULES[1], id="int-converter"),
        pytest.param("/users/me", "GET", RULES[2], id="static-beats-converter"),
        pytest.param("/users/abc", "GET", None, id="converter-mismatch-default"),
        pytest.param("/admin", "GET", RULES[3], id="exact"),
        pytest.param("/admin/", "GET", RULES[3], id="trailing-slash"),
        pytest.param("/admin/x/y", "DELETE", RULES[4], id="nested"),
        pytest.param("/reports", "POST", RULES[5], id="method"),
        pytest.param("/reports", "GET", None, id="other-method-default"),
        pytest.param("/ADMIN", "GET", None, id="case-sensitive"),
    ],
)
def test_matching(path: str, method: str, expected: Rule | None) -> None:
    rules = RuleMap(RULES)
    assert rules.match(path, method) is (expected or rules.default)
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path}
    assert rules.route(environ) == (path, expected or rules.default)
    assert rules.route(environ) == (path, expected or rules.default)  # from the memo


def test_case_insensitive_matching() -> None:
    rules = RuleMap(RULES, case_sensitive=False)
    assert rules.match("/ADMIN", "GET") is RULES[3]
    assert rules.match("/Admin/X", "GET") is RULES[4]


def test_memo_is_bounded_and_skips_long_paths() -> None:
    rules = RuleMap(RULES, memo_size=4)
    for i in range(20):
        rules.route({"REQUEST_METHOD": "GET", "PATH_INFO": f"/users/{i}"})
    assert 0 < len(rules._memo) <= 4
    rules._memo.clear()
    long_path = "/static/" + "x" * RuleMap.MEMO_MAX_CHARS
    assert rules.route({"PATH_INFO": long_path}) == (long_path, RULES[0])
    assert rules._memo == {}


def test_route_memo_keys_on_every_input_of_the_decision() -> None:
    """The same PATH_INFO under another raw target or mount is routed afresh."""
    rules = RuleMap(RULES)
    assert rules.route({"PATH_INFO": "/admin", "REQUEST_URI": "/admin?x=1"})[1] is RULES[3]
    with pytest.raises(UnsafePath):
        rules.route({"PATH_INFO": "/admin", "REQUEST_URI": "/public"})
    with pytest.raises(UnsafePath):  # refusals are never remembered
        rules.route({"PATH_INFO": "/admin", "REQUEST_URI": "/public"})
    assert rules.route({"PATH_INFO": "/./admin"}) == ("/admin", RULES[3])
    assert rules.route({"PATH_INFO": "/admin", "REQUEST_METHOD": "POST"})[1] is RULES[3]


def result(claims: dict[str, Any], provider: str = "p") -> Authenticated:
    return Authenticated(token="t", claims=claims, header={}, provider=provider)


@pytest.mark.parametrize(
    ("rule", "claims", "refusal"),
    [
        pytest.param(Rule("/", claims={"roles": "admin"}), {"roles": "admin"}, None, id="eq"),
        pytest.param(
            Rule("/", claims={"roles": "admin"}), {"roles": "user"}, ClaimMismatch, id="ne"
        ),
        pytest.param(
            Rule("/", claims={"roles": "admin"}), {"roles": ["a", "admin"]}, None, id="in"
        ),
        pytest.param(Rule("/", claims={"roles": "admin"}), {}, ClaimMismatch, id="absent"),
        pytest.param(
            Rule("/", claims={"roles": ["a", "b"]}), {"roles": ["b", "a", "c"]}, None, id="all"
        ),
        pytest.param(
            Rule("/", claims={"roles": ["a", "b"]}), {"roles": ["a"]}, ClaimMismatch, id="some"
        ),
        pytest.param(
            Rule("/", claims={"admin": True}), {"admin": 1}, ClaimMismatch, id="no-bool-int"
        ),
        pytest.param(Rule("/", scopes=["r", "w"]), {"scope": "r w x"}, None, id="scope-str"),
        pytest.param(
            Rule("/", scopes=["r", "w"]), {"scope": "r"}, ScopeMissing, id="scope-missing"
        ),
        pytest.param(Rule("/", scopes=["r"]), {"scp": ["r"]}, None, id="scp-list"),
        pytest.param(Rule("/", scopes=["r"]), {"scp": "r s"}, None, id="scp-str"),
        pytest.param(Rule("/", scopes=["r"]), {"scope": ["r"]}, ScopeMissing, id="scope-not-str"),
        pytest.param(
            Rule("/", when=lambda c, e: c.get("age", 0) >= 18), {"age": 20}, None, id="when"
        ),
        pytest.param(
            Rule("/", when=lambda c, e: cast(bool, "yes")),  # truthy is not True
            {},
            ConditionFailed,
            id="when-needs-true",
        ),
        pytest.param(Rule("/", providers=["q"]), {}, ProviderNotAccepted, id="provider"),
        pytest.param(Rule("/", providers=["p"]), {}, None, id="provider-ok"),
    ],
)
def test_authorize(
    rule: Rule, claims: dict[str, Any], refusal: type[InsufficientScope] | None
) -> None:
    if refusal is None:
        rule.authorize(result(claims), {}, lambda: 0.0)
    else:
        with pytest.raises(Exception) as refused:
            rule.authorize(result(claims), {}, lambda: 0.0)
        assert type(refused.value) is refusal


def test_a_missing_scope_names_the_scopes_needed() -> None:
    with pytest.raises(ScopeMissing) as refused:
        Rule("/", scopes=["r", "w"]).authorize(result({"scope": "r"}), {}, lambda: 0.0)
    assert refused.value.scope == ("r", "w")


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        pytest.param(("admin",), {}, "starting with '/'", id="no-leading-slash"),
        pytest.param(("/a", "GET"), {}, "methods must be a list", id="methods-string"),
        pytest.param(("/a", []), {}, "can never match", id="methods-empty"),
        pytest.param(("/a",), {"auth": "maybe"}, "auth must be one of", id="bad-auth"),
        pytest.param(
            ("/a",), {"auth": "public", "claims": {"a": 1}}, "public rule", id="public-claims"
        ),
        pytest.param(
            ("/a",), {"auth": "public", "providers": ["p"]}, "public rule", id="public-providers"
        ),
        pytest.param(("/a",), {"scopes": "read write"}, "scopes must be a list", id="scopes-str"),
        pytest.param(("/a",), {"claims": "admin"}, "claims must be a mapping", id="claims-str"),
        pytest.param(("/a",), {"claims": {1: "x"}}, "claim names", id="claim-name-int"),
        pytest.param(("/a",), {"when": "admin"}, "when must be a callable", id="when"),
        pytest.param(("/a",), {"providers": "idp"}, "providers must be a list", id="providers"),
        pytest.param(("/static/*",), {}, "glob", id="glob"),
        pytest.param(("/users/{id}",), {}, "placeholder", id="braces"),
        pytest.param(("/users/:id",), {}, "placeholder", id="colon"),
        pytest.param(("/users/<int:>",), {}, "not a Werkzeug pattern", id="malformed"),
    ],
)
def test_bad_rules(args: tuple[Any, ...], kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Rule(*args, **kwargs)


def test_bad_default() -> None:
    with pytest.raises(ConfigurationError, match="default"):
        RuleMap([], default="open")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "rules",
    [
        pytest.param([Rule("/a"), Rule("/a", auth="public")], id="same"),
        pytest.param([Rule("/a"), Rule("/a/")], id="trailing-slash"),
        pytest.param([Rule("/a", ["GET"]), Rule("/a", ["GET", "POST"])], id="overlapping-methods"),
        pytest.param([Rule("/a", ["GET"]), Rule("/a", ["HEAD"])], id="head-follows-get"),
        pytest.param([Rule("/a"), Rule("/a", ["PUT"])], id="all-and-some"),
    ],
)
def test_duplicate_rules_are_refused(rules: list[Rule]) -> None:
    with pytest.raises(ConfigurationError, match="cover the same paths"):
        RuleMap(rules)


def test_rules_for_different_methods_of_one_path_are_fine() -> None:
    get, post = Rule("/a", ["GET"], auth="public"), Rule("/a", ["POST"])
    rules = RuleMap([get, post])
    assert rules.match("/a", "GET") is get and rules.match("/a", "POST") is post


def test_a_case_insensitive_map_sees_case_duplicates() -> None:
    RuleMap([Rule("/a"), Rule("/A")])
    with pytest.raises(ConfigurationError):
        RuleMap([Rule("/a"), Rule("/A")], case_sensitive=False)


def test_a_subtree_rule_covers_its_base() -> None:
    """``/api/<path:rest>`` protects ``/api`` and ``/api/`` too, not only what is below."""
    subtree = Rule("/api/<path:rest>", claims={"roles": "api"})
    rules = RuleMap([subtree], default="public")
    for path in ("/api", "/api/", "/api/x", "/api/x/y"):
        assert rules.match(path, "GET") is subtree, path
    assert rules.match("/apix", "GET") is rules.default
    # A rule of its own for the base wins over the subtree's cover.
    base = Rule("/api", auth="public")
    rules = RuleMap([subtree, base], default="public")
    assert rules.match("/api", "GET") is base and rules.match("/api/", "GET") is base
    assert rules.match("/api/x", "GET") is subtree
    root = Rule("/<path:rest>", auth="optional")
    assert RuleMap([root]).match("/", "GET") is root


def test_rules_must_be_a_list_of_rules() -> None:
    with pytest.raises(ConfigurationError, match="list of Rule"):
        RuleMap(Rule("/a"))  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="Rule objects"):
        RuleMap(["/a"])  # type: ignore[list-item]
