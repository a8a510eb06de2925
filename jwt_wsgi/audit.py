"""Check protection against the app's real routes, and replay one request's decision.

Rules are Werkzeug patterns, so they can be tested against the routes the
application actually serves. :func:`audit_routes` takes the routes (read from
a Flask or Bottle app, a Werkzeug ``Map``, Django's URLconf or Pyramid's
route mapper by :func:`find_routes`), builds a sample path for each, and
reports every route and method with its effective protection, flagging:

* ``default``: no rule matches, the ``default`` mode applies;
* ``public-by-default``: that default lets requests through without a token;
* ``shadowed``: a public rule wins over another rule that would protect it;
* ``unused-rule``: a rule matching none of the routes (a typo, a moved route).

:func:`explain` runs the real middleware for one token, method and path
with a stand-in for the app, and reports the decision and its reason code.
"""

from __future__ import annotations

import copy
import inspect
import re
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from werkzeug.routing import Map
from werkzeug.test import EnvironBuilder

from .errors import AuthError, ConfigurationError
from .middleware import JWTMiddleware
from .rules import RuleMap

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

    from .rules import Rule

__all__ = ["Decision", "Route", "RouteReport", "audit_routes", "explain", "find_routes"]

#: Methods a route without its own list answers (``HEAD`` follows ``GET``).
ALL_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


@dataclass(frozen=True)
class Route:
    """One route of the application: a sample path it answers, and its methods."""

    #: The route as the framework writes it (``/items/<int:id>``, ``/items/{id}``).
    pattern: str
    #: A concrete path the route answers, used to ask the rules.
    sample: str
    methods: tuple[str, ...]


@dataclass
class RouteReport:
    """One route and method, and how the middleware protects it."""

    route: Route
    method: str
    #: ``"required"``, ``"optional"`` or ``"public"``.
    mode: str
    #: The winning rule's pattern, or ``None`` when the default applies.
    rule: str | None
    #: What the rule checks beyond a valid token (``scopes=...``, ``claims=...``).
    checks: list[str] = field(default_factory=list)
    #: ``default``, ``public-by-default``, ``shadowed``.
    flags: list[str] = field(default_factory=list)


def audit_routes(
    middleware: JWTMiddleware, routes: Iterable[Route]
) -> tuple[list[RouteReport], list[str]]:
    """Every route and method with its protection, and the patterns of unused rules."""
    rule_map = middleware.rules
    # Each rule alone, compiled as the middleware compiles it (subtrees, case,
    # HEAD following GET): which rules match a route, beside the one that wins.
    singles = [
        (rule, RuleMap([rule], case_sensitive=rule_map.case_sensitive)) for rule in rule_map.rules
    ]
    used: set[int] = set()
    reports = []
    for route in routes:
        for method in route.methods:
            rule = rule_map.match(route.sample, method)
            report = RouteReport(route, method, rule.auth, None, _describe(rule))
            if rule is rule_map.default:
                report.flags.append("default")
                if rule.auth != "required":
                    report.flags.append("public-by-default")
            else:
                report.rule = rule.pattern
            matching = [r for r, m in singles if m.match(route.sample, method) is r]
            used.update(id(r) for r in matching)
            if rule.auth == "public" and any(r.auth != "public" for r in matching):
                report.flags.append("shadowed")
            reports.append(report)
    unused = [rule.pattern for rule in rule_map.rules if id(rule) not in used]
    return reports, unused


def _describe(rule: Rule) -> list[str]:
    checks = []
    if rule.scopes:
        checks.append("scopes=" + ",".join(rule.scopes))
    for name, value in rule.claims.items():
        checks.append(f"claims.{name}={value}")
    if rule.providers is not None:
        checks.append("providers=" + ",".join(sorted(rule.providers)))
    if rule.kinds is not None and rule.kinds != frozenset({"access"}):
        checks.append("kinds=" + ",".join(sorted(rule.kinds)))
    if rule.max_age is not None:
        checks.append(f"max_age={rule.max_age:g}s")
    if rule.acr:
        checks.append("acr=" + ",".join(rule.acr))
    if rule.any_scopes:
        checks.append("any_scopes=" + ",".join("+".join(sorted(s)) for s in rule.any_scopes))
    if rule.any_of or rule.all_of:
        checks.append(f"any_of={len(rule.any_of)},all_of={len(rule.all_of)}")
    if rule.when is not None:
        checks.append("when=" + getattr(rule.when, "__name__", "callable"))
    if rule.dpop is not None:
        checks.append(f"dpop={rule.dpop}")
    if rule.shadow:
        checks.append("shadow")
    return checks


# -- routes from frameworks ----------------------------------------------------------

_WERKZEUG_SAMPLES = {
    "int": "1",
    "float": "1.5",
    "path": "x/y",
    "uuid": str(uuid.UUID(int=1)),
    "default": "x",
    "string": "x",
}
_ANGLE = re.compile(
    r"<(?:(?P<conv>[a-zA-Z_][a-zA-Z0-9_]*)(?:\((?P<args>[^)]*)\))?:)?(?P<name>[^>:]+)>"
)
_BRACE = re.compile(r"\{(?P<name>[^}:]+)(?::(?P<regex>[^}]*))?\}")
_BOTTLE = re.compile(r"<(?P<name>[^>:]+)(?::(?P<conv>[a-z]+)(?::[^>]*)?)?>")


def sample_path(pattern: str) -> str:
    """A concrete path for a Werkzeug/Flask/Django (``<int:id>``), Bottle (``<id:int>``)
    or Pyramid (``{id}``) pattern."""

    def angle(match: re.Match[str]) -> str:
        converter = match["conv"] or "default"
        if converter == "any":
            return (match["args"] or "x").split(",")[0].strip().strip("'\"")
        if converter == "slug":
            return "a-slug"
        if converter in _WERKZEUG_SAMPLES:
            return _WERKZEUG_SAMPLES[converter]
        # Bottle writes <name:filter>: int, float, path, re.
        bottle = _BOTTLE.fullmatch(match[0])
        if bottle is not None and bottle["conv"] in _WERKZEUG_SAMPLES:
            return _WERKZEUG_SAMPLES[bottle["conv"]]
        return "x"

    def brace(match: re.Match[str]) -> str:
        return "x/y" if match["regex"] and ".*" in match["regex"] else "x"

    path = _BRACE.sub(brace, _ANGLE.sub(angle, pattern))
    return path if path.startswith("/") else "/" + path


def find_routes(app: Any) -> list[Route]:
    """The routes of ``app``: a Flask or Bottle app, a Werkzeug ``Map``, Django's
    ``WSGIHandler`` (its URLconf), a Pyramid ``Router``, or a
    :class:`~jwt_wsgi.JWTMiddleware` in front of one of them."""
    if isinstance(app, JWTMiddleware):
        return find_routes(app.app)
    if inspect.ismethod(app):  # Flask's own wsgi_app, wrapped by the middleware
        return find_routes(app.__self__)
    url_map = getattr(app, "url_map", None)
    if isinstance(url_map, Map):
        return list(_werkzeug_routes(url_map))
    if isinstance(app, Map):
        return list(_werkzeug_routes(app))
    module = type(app).__module__
    if module.startswith("django."):
        return list(_django_routes())
    if module.startswith("pyramid."):
        return list(_pyramid_routes(app))
    if module.startswith("bottle"):
        return [Route(r.rule, sample_path(r.rule), _methods([r.method])) for r in app.routes]
    raise ConfigurationError(
        f"cannot read the routes of a {type(app).__name__}; pass a Flask, Bottle, Django or "
        "Pyramid app, or a werkzeug.routing.Map"
    )


def _methods(methods: Iterable[str] | None) -> tuple[str, ...]:
    if not methods or "ANY" in methods or "*" in methods:
        return ALL_METHODS
    names = {m.upper() for m in methods} - {"HEAD", "OPTIONS"}
    return tuple(sorted(names)) or ("GET",)


def _werkzeug_routes(url_map: Map) -> Iterator[Route]:
    for rule in url_map.iter_rules():
        yield Route(rule.rule, sample_path(rule.rule), _methods(rule.methods))


def _django_routes(urlconf: str | None = None) -> Iterator[Route]:
    # Django is optional: imported only for a Django app.
    from django.urls import URLPattern, URLResolver, get_resolver

    def walk(patterns: Sequence[Any], prefix: str) -> Iterator[Route]:
        for entry in patterns:
            text = str(entry.pattern)
            if text.startswith("^"):  # re_path: a sample cannot be made reliably
                text = text.lstrip("^").rstrip("$")
            if isinstance(entry, URLResolver):
                yield from walk(entry.url_patterns, prefix + text)
            elif isinstance(entry, URLPattern):
                pattern = "/" + prefix + text
                view = entry.callback
                allowed = getattr(getattr(view, "view_class", None), "http_method_names", None)
                methods = [m for m in allowed] if allowed else None
                yield Route(pattern, sample_path(pattern), _methods(methods))

    return walk(get_resolver(urlconf).url_patterns, "")


def _pyramid_routes(router: Any) -> Iterator[Route]:
    # Pyramid is optional: imported only for a Pyramid app.
    from pyramid.interfaces import IRoutesMapper

    mapper = router.registry.queryUtility(IRoutesMapper)
    for route in mapper.get_routes() if mapper is not None else ():
        methods = None
        for predicate in route.predicates:
            values = getattr(predicate, "val", None)
            if type(predicate).__name__ == "RequestMethodPredicate" and values:
                methods = list(values)
        pattern = route.pattern if route.pattern.startswith("/") else "/" + route.pattern
        yield Route(pattern, sample_path(pattern), _methods(methods))


# -- one decision --------------------------------------------------------------------


@dataclass
class Decision:
    """What the middleware decided for one request."""

    #: The HTTP status it would answer (200: the app would be called).
    status: int
    #: The refusal's reason code, or ``None`` when the app would be called.
    reason: str | None
    #: The refusal's description, or ``None``.
    description: str | None
    #: The winning rule's pattern, or ``None`` for the default.
    rule: str | None
    #: The mode that applied.
    mode: str
    #: The verified claims the app would see, or ``None``.
    claims: dict[str, Any] | None


def explain(middleware: JWTMiddleware, token: str | None, method: str, path: str) -> Decision:
    """Replay the middleware's decision for ``token`` on ``method path``, without the app.

    The real middleware runs (a shallow copy whose app only records that it
    was reached), so the answer is the one a request would get, reason code
    included. The token goes in the ``Authorization`` header (``None``: no
    token).
    """
    headers = [("Authorization", f"Bearer {token}")] if token else []
    environ = EnvironBuilder(path=path, method=method.upper(), headers=headers).get_environ()
    reached: dict[str, Any] = {}
    refused: list[AuthError] = []

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        reached["claims"] = environ.get("jwt.claims")
        start_response("200 OK", [])
        return []

    def on_error(
        environ: WSGIEnvironment, start_response: StartResponse, error: AuthError
    ) -> Iterable[bytes]:
        refused.append(error)
        return error(environ, start_response)

    replay: WSGIApplication = _replica(middleware, app, on_error)
    list(replay(environ, lambda status, headers, exc_info=None: lambda data: None))
    try:
        _, rule = middleware.rules.route(environ)
    except AuthError:
        rule = middleware.rules.default
    pattern = None if rule is middleware.rules.default else rule.pattern
    if refused:
        error = refused[0]
        return Decision(error.status, error.reason, error.description, pattern, rule.auth, None)
    return Decision(200, None, None, pattern, rule.auth, reached.get("claims"))


def _replica(middleware: JWTMiddleware, app: Any, on_error: Any) -> Any:
    replica = copy.copy(middleware)
    replica.app = app
    replica.on_error = on_error
    return replica
