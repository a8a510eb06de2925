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
also covers ``/admin/``. A pattern ending in ``/<path:name>`` covers its base
too: ``Rule("/api/<path:rest>")`` also protects ``/api`` and ``/api/``, unless
another rule is written for that base.

Rules are checked when they are built: a string where a list belongs
(``scopes="read write"``), glob or framework syntax that Werkzeug would take
literally (``/static/*``, ``/users/{id}``, ``/users/:id``), an empty
``methods``, a malformed pattern, two rules for the same pattern and method,
or a public rule with checks all raise :class:`~jwt_wsgi.errors.ConfigurationError`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypedDict, Unpack

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, RoutingException
from werkzeug.routing import Rule as _WerkzeugRule

from . import _checks
from ._checks import Duration
from ._memo import BoundedMemo
from .binding import DPOP_MODES, DPoPMode
from .errors import (
    AuthError,
    ClaimMismatch,
    ConditionFailed,
    ConfigurationError,
    ProviderNotAccepted,
    ScopeMissing,
    StepUpRequired,
    WrongTokenKind,
)
from .paths import canonical_path
from .sources import Location, check_locations

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

    from .authenticator import Authenticated

Auth = Literal["required", "optional", "public"]
_AUTH_MODES: tuple[Auth, ...] = ("required", "optional", "public")
logger = logging.getLogger("jwt_wsgi")

#: ``when=`` callables receive the claims and the WSGI environ.
Condition = Callable[[Mapping[str, Any], "WSGIEnvironment"], bool]

# Pattern syntax of other tools that Werkzeug would match literally.
_FOREIGN_SYNTAX = (
    (re.compile(r"\*"), "a glob '*'", "/static/<path:rest>"),
    (re.compile(r"\{[^}]*\}"), "a '{name}' placeholder", "/users/<id>"),
    (re.compile(r"/:[A-Za-z_]"), "a ':name' placeholder", "/users/<id>"),
)
_SUBTREE = re.compile(r"/<path(?:\([^)]*\))?:[A-Za-z_][A-Za-z0-9_]*>\Z")


#: The kinds of token (see :func:`~jwt_wsgi.jose.compact.token_kind`).
Kind = Literal["access", "refresh"]
_KINDS: tuple[Kind, ...] = ("access", "refresh")

#: How long a token counts as fresh for ``fresh=True``: 15 minutes since login.
FRESH_FOR = 900


class Policy:
    """Checks a verified token must pass, on every path (the middleware's ``policy=``)
    or on the paths of a :class:`Rule`.

    :param claims: each claim must equal the value, or contain it when the
        claim is a list. A list of values requires all of them. A name with
        dots that is not itself a claim is a path into nested objects:
        ``{"realm_access.roles": "admin"}`` reads Keycloak's
        ``{"realm_access": {"roles": [...]}}`` (a claim literally named
        ``https://example.com/roles`` is still read as one name, and a member
        whose own name has dots is found: ``kubernetes.io.namespace`` reads
        Kubernetes's ``{"kubernetes.io": {"namespace": ...}}``).
    :param scopes: all must be in the space-delimited ``scope`` claim (or the
        ``scp`` list), e.g. ``["read", "write"]``.
    :param any_scopes: sets of scopes, any one of which is enough, each
        written space-separated: ``["read write", "admin"]`` accepts a token
        with both ``read`` and ``write``, or with ``admin``.
    :param any_of: policies of which at least one must pass, e.g. different
        checks per provider: ``[Policy(providers=["staff"], claims=...),
        Policy(providers=["partners"], scopes=...)]``. When none passes, the
        refusal raised is the first from a policy for the token's provider
        and kind (else the first).
    :param all_of: policies that must all pass, besides this one's checks.
    :param when: ``fn(claims, environ) -> bool`` for anything else; only
        ``True`` allows. An exception counts as a refusal and is logged.
    :param providers: names of the providers whose tokens are accepted (all,
        by default); another provider's token is 401 ``invalid_token``.
    :param kinds: the kinds of token accepted, ``"access"`` and/or
        ``"refresh"`` (any, for a policy; access only, for a rule).
    :param fresh: require a recent login: ``True`` for one within 15 minutes,
        or the seconds (or ``timedelta``) allowed since ``auth_time``.
    :param max_age: the same, by its RFC 9470 name; give one of the two.
    :param acr: accepted authentication context classes (``acr`` claim), e.g.
        ``["urn:example:mfa"]``.

    Refusals: a failed ``claims``, ``scopes`` or ``when`` check is 403
    ``insufficient_scope``; a wrong provider or kind is 401 ``invalid_token``;
    a login too old or too weak is 401 ``insufficient_user_authentication``
    with ``max_age``/``acr_values`` in the challenge (RFC 9470), so the
    client can send the user to sign in again.
    """

    def __init__(
        self,
        *,
        claims: Mapping[str, Any] | None = None,
        scopes: Iterable[str] | None = None,
        any_scopes: Iterable[str] | None = None,
        when: Condition | None = None,
        providers: Iterable[str] | None = None,
        kinds: Iterable[Kind] | None = None,
        fresh: bool | Duration = False,
        max_age: Duration | None = None,
        acr: Iterable[str] | None = None,
        any_of: Iterable[Policy] | None = None,
        all_of: Iterable[Policy] | None = None,
    ) -> None:
        where = getattr(self, "_where", "policy: ")
        if claims is not None and not isinstance(claims, Mapping):
            raise ConfigurationError(
                f"{where}claims must be a mapping such as {{'roles': 'admin'}}; "
                f"got {type(claims).__name__}"
            )
        self.claims: Mapping[str, Any] = dict(claims or {})
        if not all(isinstance(name, str) for name in self.claims):
            raise ConfigurationError(f"{where}claim names must be strings")
        self.scopes = _checks.strings(scopes, where + "scopes", example="['read', 'write']")
        if any(" " in scope for scope in self.scopes):
            raise ConfigurationError(
                f"{where}a scope name has no spaces (RFC 6749 section 3.3); for any one of "
                "several sets of scopes, write any_scopes=['read write', 'admin']"
            )
        sets = _checks.strings(any_scopes, where + "any_scopes", example="['read write', 'admin']")
        self.any_scopes = tuple(frozenset(s.split()) for s in sets)
        if any(not scope_set for scope_set in self.any_scopes):
            raise ConfigurationError(f"{where}any_scopes holds an empty set of scopes")
        self.any_of = _policies(any_of, where + "any_of")
        self.all_of = _policies(all_of, where + "all_of")
        # A name with dots that the token may hold nested: read either way.
        self._paths = {name: tuple(name.split(".")) for name in self.claims if "." in name}
        _checks.callable_or_none(when, where + "when", "(claims, environ) -> bool")
        self.when = when
        self.providers = (
            frozenset(_checks.strings(providers, where + "providers", example="['idp']"))
            if providers is not None
            else None
        )
        self.kinds: frozenset[str] | None = None
        if kinds is not None:
            names = _checks.strings(kinds, where + "kinds", example="['refresh']")
            if not names or any(k not in _KINDS for k in names):
                raise ConfigurationError(f"{where}kinds must name some of {list(_KINDS)}")
            self.kinds = frozenset(names)
        if fresh is not False and max_age is not None:
            raise ConfigurationError(f"{where}give fresh= or max_age=, not both")
        if fresh is True:
            max_age = FRESH_FOR
        elif fresh is not False:
            max_age = fresh
        self.max_age = (
            None if max_age is None else _checks.seconds(max_age, where + "max_age", positive=True)
        )
        self.acr = _checks.strings(acr, where + "acr", example="['urn:example:mfa']")
        #: Whether :meth:`authorize` has anything to check.
        self.checks = bool(
            self.claims
            or self.scopes
            or when
            or self.providers is not None
            or self.kinds is not None
            or self.max_age is not None
            or self.acr
            or self.any_scopes
            or self.any_of
            or self.all_of
        )

    def authorize(
        self, result: Authenticated, environ: WSGIEnvironment, clock: Callable[[], float]
    ) -> None:
        """Raise an :class:`~jwt_wsgi.errors.AuthError` unless ``result`` passes every check."""
        if self.providers is not None and result.provider not in self.providers:
            raise ProviderNotAccepted(detail=f"provider {result.provider!r}")
        if self.kinds is not None and result.kind not in self.kinds:
            raise WrongTokenKind(detail=f"a {result.kind} token")
        claims = result.claims
        for name, expected in self.claims.items():
            if not _claim_matches(self._claim(claims, name), expected):
                raise ClaimMismatch(detail=f"claim {name!r}")
        if self.scopes or self.any_scopes:
            granted = granted_scopes(claims)
            if self.scopes and not granted.issuperset(self.scopes):
                raise ScopeMissing(scope=self.scopes)
            if self.any_scopes and not any(granted >= wanted for wanted in self.any_scopes):
                raise ScopeMissing(scope=sorted(self.any_scopes[0]), detail="any_scopes")
        for policy in self.all_of:
            policy.authorize(result, environ, clock)
        if self.any_of:
            self._authorize_any(result, environ, clock)
        if self.max_age is not None or self.acr:
            self._check_authentication(claims, clock)
        if self.when is not None and not self._call_when(claims, environ):
            raise ConditionFailed(detail=f"when={getattr(self.when, '__name__', 'callable')}")

    def _claim(self, claims: Mapping[str, Any], name: str) -> Any:
        """A claim by name, or by its dotted path into nested objects.

        Each step takes the longest run of parts that names a member, so a
        member whose own name has dots is found too: Kubernetes's
        ``kubernetes.io.namespace`` is ``{"kubernetes.io": {"namespace": ...}}``.
        """
        if name in claims or name not in self._paths:
            return claims.get(name)
        return _at_path(claims, self._paths[name])

    def _authorize_any(
        self, result: Authenticated, environ: WSGIEnvironment, clock: Callable[[], float]
    ) -> None:
        errors: list[AuthError] = []
        for policy in self.any_of:
            try:
                policy.authorize(result, environ, clock)
                return
            except AuthError as error:
                errors.append(error)
        # The most telling refusal: from a policy meant for this token's
        # provider and kind, when there is one.
        fitting = [e for e in errors if not isinstance(e, ProviderNotAccepted | WrongTokenKind)]
        raise (fitting or errors)[0]

    def _check_authentication(self, claims: Mapping[str, Any], clock: Callable[[], float]) -> None:
        """RFC 9470: the login behind the token is recent enough and strong enough."""
        max_age = None if self.max_age is None else int(self.max_age)
        if self.max_age is not None:
            auth_time = claims.get("auth_time")
            if (
                not isinstance(auth_time, int | float)
                or isinstance(auth_time, bool)
                or clock() - auth_time > self.max_age
            ):
                raise StepUpRequired(max_age=max_age, acr_values=self.acr)
        if self.acr and claims.get("acr") not in self.acr:
            raise StepUpRequired(max_age=max_age, acr_values=self.acr)

    def _call_when(self, claims: Mapping[str, Any], environ: WSGIEnvironment) -> bool:
        assert self.when is not None
        try:
            return self.when(claims, environ) is True
        except Exception:
            # Deny, and leave the bug in the log rather than answering 500.
            logger.exception("the 'when' check of %r raised; denying the request", self)
            return False


class PolicyOptions(TypedDict, total=False):
    """The keywords of :class:`Policy`, which :class:`Rule` takes too."""

    claims: Mapping[str, Any] | None
    scopes: Iterable[str] | None
    any_scopes: Iterable[str] | None
    any_of: Iterable[Policy] | None
    all_of: Iterable[Policy] | None
    when: Condition | None
    providers: Iterable[str] | None
    kinds: Iterable[Kind] | None
    fresh: bool | Duration
    max_age: Duration | None
    acr: Iterable[str] | None


class Rule(Policy):
    """Protection for the paths matching ``pattern``: how to authenticate, and a :class:`Policy`.

    :param pattern: a Werkzeug rule string, e.g. ``/admin/<path:rest>``.
    :param methods: limit the rule to these methods (``HEAD`` follows ``GET``);
        other methods fall through to the next most specific rule, then to
        the default.
    :param auth: ``"required"`` (a valid token), ``"optional"`` (no token is
        fine, an invalid one is not) or ``"public"`` (no authentication; the
        app sees ``jwt.claims`` as ``None``).
    :param locations: where the token is read on these paths (the
        authenticator's locations by default), e.g. ``["query"]`` for a
        download link only.
    :param dpop: the DPoP mode on these paths (``"disabled"``, ``"allowed"``
        or ``"required"``, see :class:`~jwt_wsgi.providers.Provider`), instead
        of the token's provider's (``None``): ``"required"`` makes a path take
        DPoP-bound tokens only, even from a provider that allows bearer tokens.
    :param shadow: decide, log and count as usual, but let the request
        through whatever the decision (``False``): to roll protection out on a
        live service and see what it would refuse first. The app sees the
        claims when the token itself was valid. Unsafe paths are still refused.
    :param checks: the keywords of :class:`Policy` (``claims``, ``scopes``,
        ``when``, ``providers``, ``kinds``, ``fresh``, ``max_age``, ``acr``).
        ``kinds`` is ``["access"]`` unless given: a refresh token is refused
        on every path not written for it.

    A rule's checks add to the middleware's ``policy``, never replace it. With
    ``auth="optional"`` they apply only when a token came.
    """

    def __init__(
        self,
        pattern: str,
        methods: Iterable[str] | None = None,
        *,
        auth: Auth = "required",
        locations: Sequence[Location] | None = None,
        dpop: DPoPMode | None = None,
        shadow: bool = False,
        **checks: Unpack[PolicyOptions],
    ) -> None:
        if not isinstance(pattern, str) or not pattern.startswith("/"):
            raise ConfigurationError(
                f"a rule pattern must be a string starting with '/': {pattern!r}"
            )
        for syntax, what, instead in _FOREIGN_SYNTAX:
            if syntax.search(pattern):
                raise ConfigurationError(
                    f"rule {pattern!r} has {what}, which Werkzeug patterns take literally; "
                    f"write e.g. {instead!r}"
                )
        try:
            Map([_WerkzeugRule(pattern, endpoint=0)])
        except ValueError as exc:
            raise ConfigurationError(f"rule {pattern!r} is not a Werkzeug pattern: {exc}") from None
        self.pattern = pattern
        self._where = where = f"rule {pattern!r}: "
        unknown = set(checks) - set(PolicyOptions.__optional_keys__)
        if unknown:
            raise ConfigurationError(f"{where}unknown option {sorted(unknown)[0]!r}")
        if methods is not None:
            names = _checks.strings(methods, where + "methods", example="['GET', 'POST']")
            if not names:
                raise ConfigurationError(
                    f"{where}methods=[] can never match; leave methods out for every method"
                )
            self.methods: frozenset[str] | None = frozenset(m.upper() for m in names)
        else:
            self.methods = None
        self.auth: Auth = _checks.choice(auth, where + "auth", _AUTH_MODES)
        self.locations = (
            None if locations is None else check_locations(locations, where + "locations")
        )
        self.shadow = _checks.flag(shadow, where + "shadow")
        self.dpop: DPoPMode | None = (
            None if dpop is None else _checks.choice(dpop, where + "dpop", DPOP_MODES)
        )
        if self.auth == "public" and (
            checks or locations is not None or shadow or dpop is not None
        ):
            raise ConfigurationError(
                f"{where}a public rule cannot check tokens, name where they are read, or shadow"
            )
        super().__init__(**checks)
        if "kinds" not in checks and self.auth != "public":
            # Access tokens only, unless the rule says otherwise. Not counted
            # in self.checks: while a rule has nothing else to check, the
            # middleware compares the kind inline.
            self.kinds = frozenset(("access",))

    def __repr__(self) -> str:
        methods = sorted(self.methods) if self.methods else None
        shadow = ", shadow=True" if self.shadow else ""
        return f"Rule({self.pattern!r}, {methods!r}, auth={self.auth!r}{shadow})"


def _claim_matches(actual: Any, expected: Any) -> bool:
    wanted = (
        tuple(expected) if isinstance(expected, list | tuple | set | frozenset) else (expected,)
    )
    if isinstance(actual, list):
        return all(w in actual for w in wanted)
    return len(wanted) == 1 and type(actual) is type(wanted[0]) and actual == wanted[0]


def _policies(value: Iterable[Policy] | None, option: str) -> tuple[Policy, ...]:
    if value is None:
        return ()
    if isinstance(value, Policy) or not isinstance(value, Iterable):
        raise ConfigurationError(f"{option} must be a list of Policy objects")
    policies = tuple(value)
    if not policies or not all(isinstance(p, Policy) and not isinstance(p, Rule) for p in policies):
        raise ConfigurationError(f"{option} must hold at least one Policy, and only Policy objects")
    return policies


def _at_path(value: Any, parts: tuple[str, ...]) -> Any:
    """The member at ``parts`` (see :meth:`Policy._claim`), or ``None``."""
    if not parts:
        return value
    if not isinstance(value, Mapping):
        return None
    for end in range(len(parts), 0, -1):
        key = ".".join(parts[:end])
        if key in value:
            found = _at_path(value[key], parts[end:])
            if found is not None:
                return found
    return None


def granted_scopes(claims: Mapping[str, Any]) -> set[str]:
    """The scopes a token grants: its space-delimited ``scope`` and its ``scp`` (list or string)."""
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
        if isinstance(rules, Rule) or not isinstance(rules, Sequence):
            raise ConfigurationError("rules must be a list of Rule objects")
        if not all(isinstance(rule, Rule) for rule in rules):
            raise ConfigurationError("rules must hold Rule objects only")
        self.rules = tuple(rules)
        self.default = Rule("/", auth=_checks.choice(default, "default", _AUTH_MODES))
        self.case_sensitive = _checks.flag(case_sensitive, "case_sensitive")
        self.check_request_target = _checks.flag(check_request_target, "check_request_target")
        _refuse_duplicates(self.rules, case_sensitive)
        patterns = {_normal(rule.pattern, case_sensitive) for rule in self.rules}
        compiled = []
        for index, rule in enumerate(self.rules):
            pattern = rule.pattern if case_sensitive else rule.pattern.lower()
            compiled.append(_WerkzeugRule(pattern, endpoint=index, methods=rule.methods))
            subtree = _SUBTREE.search(pattern)
            if subtree is not None:
                base = pattern[: subtree.start()] or "/"
                if _normal(base, True) not in patterns:
                    compiled.append(_WerkzeugRule(base, endpoint=index, methods=rule.methods))
        url_map = Map(compiled, strict_slashes=False, merge_slashes=False, redirect_defaults=False)
        self._adapter = url_map.bind("localhost")
        self._memo: BoundedMemo[tuple[str, str, str, str], tuple[str, Rule]] = BoundedMemo(
            _checks.count(memo_size, "memo_size", minimum=1), self.MEMO_MAX_CHARS
        )

    def route(self, environ: WSGIEnvironment) -> tuple[str, Rule]:
        """The canonical ``PATH_INFO`` (WSGI form) and the rule for this request.

        Raises :class:`~jwt_wsgi.errors.UnsafePath` for a path that cannot be
        made safe; such requests are never remembered.
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
        wsgi_path, path = canonical_path(path_info, script_name, target, self.check_request_target)
        return self._memo.remember(key, (wsgi_path, self.match(path, method)))

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


def _normal(pattern: str, case_sensitive: bool) -> str:
    """A pattern as routing sees it: no trailing slash, case folded if routing folds it."""
    pattern = pattern.rstrip("/") or "/"
    return pattern if case_sensitive else pattern.lower()


def _methods_overlap(a: frozenset[str] | None, b: frozenset[str] | None) -> bool:
    if a is None or b is None:
        return True
    # HEAD follows GET, so a GET rule also answers HEAD.
    a = a | {"HEAD"} if "GET" in a else a
    b = b | {"HEAD"} if "GET" in b else b
    return bool(a & b)


def _refuse_duplicates(rules: Sequence[Rule], case_sensitive: bool) -> None:
    """Two rules for the same pattern and method: one would silently lose."""
    seen: dict[str, list[Rule]] = {}
    for rule in rules:
        same = seen.setdefault(_normal(rule.pattern, case_sensitive), [])
        for other in same:
            if _methods_overlap(rule.methods, other.methods):
                raise ConfigurationError(
                    f"{other!r} and {rule!r} cover the same paths and methods; "
                    "merge them or split their methods"
                )
        same.append(rule)
