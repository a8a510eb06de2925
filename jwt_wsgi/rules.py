"""Path rules: which requests need a token, and what its claims must say.

A :class:`Rule` pairs a Werkzeug URL pattern (``/users/<int:id>``,
``/static/<path:rest>``) and optional methods with an authentication mode and
an authorisation check. :class:`RuleMap` compiles the rules once into a
``werkzeug.routing.Map``, so the most specific rule wins exactly as it would
in Werkzeug (and so in Flask). A path no rule matches gets the default mode,
``required`` unless configured otherwise: default deny.

Matching is on the canonical ``PATH_INFO`` (see :mod:`jwt_wsgi.paths`), so a
middleware mounted under a ``SCRIPT_NAME`` writes its rules relative to the
mount point, as the app does. Trailing slashes are not significant: ``/admin``
also covers ``/admin/``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, RoutingException
from werkzeug.routing import Rule as _WerkzeugRule

from .errors import InsufficientScope
from .paths import canonical_path

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

Auth = Literal["required", "optional", "public"]
_AUTH_MODES = ("required", "optional", "public")
logger = logging.getLogger("jwt_wsgi")

#: ``when=`` callables receive the claims and the WSGI environ.
Condition = Callable[[Mapping[str, Any], "WSGIEnvironment"], bool]


class Rule:
    """Protection for the paths matching ``pattern``.

    :param pattern: a Werkzeug rule string, e.g. ``/admin/<path:rest>``.
    :param methods: limit the rule to these methods (``HEAD`` follows ``GET``);
        other methods fall through to the next most specific rule, then to
        the default.
    :param auth: ``"required"`` (a valid token), ``"optional"`` (no token is
        fine, an invalid one is not) or ``"public"`` (no authentication; the
        app sees ``jwt.claims`` as ``None``).
    :param claims: each claim must equal the value, or contain it when the
        claim is a list. A list of values requires all of them.
    :param scopes: all must be in the space-delimited ``scope`` claim (or the
        ``scp`` list).
    :param when: ``fn(claims, environ) -> bool`` for anything else. An
        exception counts as ``False`` and is logged.
    :param providers: names of the providers whose tokens this path accepts
        (all, by default); another provider's token is 401 ``invalid_token``.

    A failed ``claims``, ``scopes`` or ``when`` check answers 403
    ``insufficient_scope``. With ``auth="optional"`` the checks apply only when
    a token came.
    """

    def __init__(
        self,
        pattern: str,
        methods: Iterable[str] | None = None,
        *,
        auth: Auth = "required",
        claims: Mapping[str, Any] | None = None,
        scopes: Iterable[str] | None = None,
        when: Condition | None = None,
        providers: Iterable[str] | None = None,
    ) -> None:
        if auth not in _AUTH_MODES:
            raise ValueError(f"auth must be one of {_AUTH_MODES}, not {auth!r}")
        if not isinstance(pattern, str) or not pattern.startswith("/"):
            raise ValueError(f"a rule pattern must start with '/': {pattern!r}")
        if isinstance(methods, str):
            raise ValueError("methods must be a list, e.g. ['GET', 'POST']")
        self.pattern = pattern
        self.methods = frozenset(m.upper() for m in methods) if methods else None
        self.auth: Auth = auth
        self.claims: Mapping[str, Any] = dict(claims or {})
        self.scopes: tuple[str, ...] = tuple(scopes or ())
        if auth == "public" and (self.claims or self.scopes or when):
            raise ValueError("a public rule cannot check claims, scopes or conditions")
        self.when = when
        self.checks = bool(self.claims or self.scopes or when)
        if isinstance(providers, str):
            raise ValueError("providers must be a list of provider names")
        self.providers = frozenset(providers) if providers is not None else None
        if auth == "public" and self.providers is not None:
            raise ValueError("a public rule cannot limit providers")

    def __repr__(self) -> str:
        methods = sorted(self.methods) if self.methods else None
        return f"Rule({self.pattern!r}, {methods!r}, auth={self.auth!r})"

    def authorize(self, claims: Mapping[str, Any], environ: WSGIEnvironment) -> None:
        """Raise :class:`InsufficientScope` unless ``claims`` satisfy this rule."""
        for name, expected in self.claims.items():
            if not _claim_matches(claims.get(name), expected):
                raise InsufficientScope("the token's claims do not permit this request")
        if self.scopes:
            granted = _granted_scopes(claims)
            if not granted.issuperset(self.scopes):
                raise InsufficientScope(
                    "the token lacks a scope this request needs", scope=self.scopes
                )
        if self.when is not None and not self._call_when(claims, environ):
            raise InsufficientScope("the token's claims do not permit this request")

    def _call_when(self, claims: Mapping[str, Any], environ: WSGIEnvironment) -> bool:
        assert self.when is not None
        try:
            return self.when(claims, environ) is True
        except Exception:
            # Deny, and leave the bug in the log rather than answering 500.
            logger.exception("the 'when' check of %r raised; denying the request", self)
            return False


def _claim_matches(actual: Any, expected: Any) -> bool:
    wanted = tuple(expected) if isinstance(expected, (list, tuple, set, frozenset)) else (expected,)
    if isinstance(actual, list):
        return all(w in actual for w in wanted)
    return len(wanted) == 1 and type(actual) is type(wanted[0]) and actual == wanted[0]


def _granted_scopes(claims: Mapping[str, Any]) -> set[str]:
    scope = claims.get("scope")
    granted: set[str] = set(scope.split(" ")) if isinstance(scope, str) else set()
    scp = claims.get("scp")
    if isinstance(scp, list):
        granted.update(s for s in scp if isinstance(s, str))
    elif isinstance(scp, str):
        granted.update(scp.split(" "))
    return granted


class RuleMap:
    """The compiled rules, and the one place a request is routed to a rule.

    :meth:`route` canonicalises the request path (:mod:`jwt_wsgi.paths`) and
    finds its rule. Both depend only on the request's method, ``PATH_INFO``,
    ``SCRIPT_NAME`` and raw target, so the answer is remembered per those
    inputs in a bounded memo: Werkzeug's matcher costs several microseconds,
    and most services see a small set of paths again and again.

    :param rules: the rules, in any order; specificity decides.
    :param default: the mode for paths no rule matches.
    :param case_sensitive: match case-sensitively, as Werkzeug routes. Pass
        ``False`` when the app's router folds case, so ``/ADMIN`` cannot dodge
        a rule written for ``/admin``.
    :param check_request_target: see :func:`~jwt_wsgi.paths.canonical_path`.
    :param memo_size: how many routed requests to remember.
    """

    #: Requests whose path and target are longer than this are routed afresh
    #: each time rather than remembered, so the memo's memory stays small.
    MEMO_MAX_CHARS = 512

    def __init__(
        self,
        rules: Sequence[Rule],
        default: Auth = "required",
        *,
        case_sensitive: bool = True,
        check_request_target: bool = True,
        memo_size: int = 4096,
    ) -> None:
        if default not in _AUTH_MODES:
            raise ValueError(f"default must be one of {_AUTH_MODES}, not {default!r}")
        self.rules = tuple(rules)
        self.default = Rule("/", auth=default)
        self.case_sensitive = case_sensitive
        self.check_request_target = check_request_target
        url_map = Map(
            [
                _WerkzeugRule(
                    rule.pattern if case_sensitive else rule.pattern.lower(),
                    endpoint=index,
                    methods=rule.methods,
                )
                for index, rule in enumerate(self.rules)
            ],
            strict_slashes=False,
            merge_slashes=False,
            redirect_defaults=False,
        )
        self._adapter = url_map.bind("localhost")
        self._memo: dict[tuple[str, str, str, str], tuple[str, Rule]] = {}
        self._memo_size = memo_size
        self._memo_lock = threading.Lock()

    def route(self, environ: WSGIEnvironment) -> tuple[str, Rule]:
        """The canonical ``PATH_INFO`` (WSGI form) and the rule for this request.

        Raises :class:`~jwt_wsgi.errors.InvalidRequest` for a path that
        cannot be made safe; such requests are never remembered.
        """
        method = environ.get("REQUEST_METHOD", "GET")
        path_info = environ.get("PATH_INFO", "")
        script_name = environ.get("SCRIPT_NAME", "")
        target = environ.get("RAW_URI") or environ.get("REQUEST_URI") or ""
        if "?" in target:
            target = target[: target.index("?")]
        key = (method, path_info, script_name, target)
        found = self._memo.get(key)
        if found is not None:
            return found
        wsgi_path, path = canonical_path(environ, self.check_request_target)
        found = (wsgi_path, self.match(path, method))
        if len(path_info) + len(target) <= self.MEMO_MAX_CHARS:
            with self._memo_lock:
                if len(self._memo) >= self._memo_size:
                    self._memo.clear()
                self._memo[key] = found
        return found

    def match(self, path: str, method: str) -> Rule:
        """The rule for a canonical Unicode ``path`` and ``method``."""
        if not self.rules:
            return self.default
        if not self.case_sensitive:
            path = path.lower()
        try:
            index: int = self._adapter.match(path, method)[0]
        except (HTTPException, RoutingException):
            # NotFound, MethodNotAllowed, or a redirect Werkzeug would issue:
            # none of them names a rule, so the default applies.
            return self.default
        return self.rules[index]
