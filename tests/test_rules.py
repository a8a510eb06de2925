"""Rules: Werkzeug-style matching, specificity, claim and scope checks."""

from __future__ import annotations

from typing import Any, cast

import pytest

from jwt_wsgi import InsufficientScope, Rule
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
    from jwt_wsgi import InvalidRequest

    rules = RuleMap(RULES)
    assert rules.route({"PATH_INFO": "/admin", "REQUEST_URI": "/admin?x=1"})[1] is RULES[3]
    with pytest.raises(InvalidRequest):
        rules.route({"PATH_INFO": "/admin", "REQUEST_URI": "/public"})
    with pytest.raises(InvalidRequest):  # refusals are never remembered
        rules.route({"PATH_INFO": "/admin", "REQUEST_URI": "/public"})
    assert rules.route({"PATH_INFO": "/./admin"}) == ("/admin", RULES[3])
    assert rules.route({"PATH_INFO": "/admin", "REQUEST_METHOD": "POST"})[1] is RULES[3]


@pytest.mark.parametrize(
    ("rule", "claims", "allowed"),
    [
        pytest.param(Rule("/", claims={"roles": "admin"}), {"roles": "admin"}, True, id="eq"),
        pytest.param(Rule("/", claims={"roles": "admin"}), {"roles": "user"}, False, id="ne"),
        pytest.param(
            Rule("/", claims={"roles": "admin"}), {"roles": ["a", "admin"]}, True, id="in"
        ),
        pytest.param(Rule("/", claims={"roles": "admin"}), {}, False, id="absent"),
        pytest.param(
            Rule("/", claims={"roles": ["a", "b"]}), {"roles": ["b", "a", "c"]}, True, id="all"
        ),
        pytest.param(Rule("/", claims={"roles": ["a", "b"]}), {"roles": ["a"]}, False, id="some"),
        pytest.param(Rule("/", claims={"admin": True}), {"admin": 1}, False, id="no-bool-int"),
        pytest.param(Rule("/", scopes=["r", "w"]), {"scope": "r w x"}, True, id="scope-str"),
        pytest.param(Rule("/", scopes=["r", "w"]), {"scope": "r"}, False, id="scope-missing"),
        pytest.param(Rule("/", scopes=["r"]), {"scp": ["r"]}, True, id="scp-list"),
        pytest.param(Rule("/", scopes=["r"]), {"scope": ["r"]}, False, id="scope-not-str"),
        pytest.param(
            Rule("/", when=lambda c, e: c.get("age", 0) >= 18), {"age": 20}, True, id="when"
        ),
        pytest.param(
            Rule("/", when=lambda c, e: cast(bool, "yes")),  # truthy is not True
            {},
            False,
            id="when-needs-true",
        ),
    ],
)
def test_authorize(rule: Rule, claims: dict[str, Any], allowed: bool) -> None:
    if allowed:
        rule.authorize(claims, {})
    else:
        with pytest.raises(InsufficientScope):
            rule.authorize(claims, {})


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        pytest.param(("admin",), {}, id="no-leading-slash"),
        pytest.param(("/a", "GET"), {}, id="methods-string"),
        pytest.param(("/a",), {"auth": "maybe"}, id="bad-auth"),
        pytest.param(("/a",), {"auth": "public", "claims": {"a": 1}}, id="public-with-claims"),
    ],
)
def test_bad_rules(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        Rule(*args, **kwargs)


def test_bad_default() -> None:
    with pytest.raises(ValueError):
        RuleMap([], default="open")  # type: ignore[arg-type]
