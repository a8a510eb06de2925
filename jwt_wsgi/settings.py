"""Settings as text, read into keywords: the parsing under :mod:`jwt_wsgi.config`.

Deployments configure WSGI middleware in ``.ini`` files and environment
variables, where every value is a string. :func:`configured` reads such a
mapping into exactly the :class:`~jwt_wsgi.JWTMiddleware` keywords (each
option under its own name, lists comma- or space-separated, durations as
``30``, ``30s``, ``15m``, ``2h`` or ``1d``, booleans as true/false/yes/no/on/off/1/0)
and builds what it is given; :func:`configured_from_env` does the same from ``JWT_WSGI_*``
variables. It sits below the middleware, which builds
itself with it (:meth:`~jwt_wsgi.JWTMiddleware.from_config`); the entry
points users call are in :mod:`jwt_wsgi.config`.

Beyond the keyword names:

* ``key_file`` reads a key from a file (PEM, a JWK, a JWK Set, or a raw
  secret); ``key_env`` from a named environment variable. A secret written
  inline (``key = ...`` with an ``HS*`` algorithm) works but warns: config
  files get copied, committed and printed.
* ``rules`` holds one rule per line (``;`` also separates), in the form
  ``[METHODS] PATTERN [public|optional|required] [option=value ...]``,
  e.g. ``POST /login public`` or ``/admin/<path:rest> scopes=admin
  claims.roles=admin,ops fresh=5m``.
* ``revocation_url`` (``redis://``, ``redis+sentinel://host:port,.../service``
  or ``redis+cluster://host:port,...``) builds a
  :class:`~jwt_wsgi.RedisRevocationStore`, with ``revocation_prefix``,
  ``revocation_mirror``, ``revocation_timeout``, ``revocation_min_replicas``,
  ``revocation_replica_timeout``, ``revocation_stale_for``,
  ``revocation_max_token_lifetime`` and ``revocation_default_ttl``;
  ``cookie_<name>`` sets :class:`~jwt_wsgi.Cookies`
  options; ``on_error``, ``policy`` and ``principal`` name an object as
  ``module:attribute``.
* Several issuers: ``providers = a b`` and then ``provider.a.issuer = ...``
  per provider (in the environment: ``JWT_WSGI_PROVIDER__A__ISSUER``).

Every error names the setting and where it came from.
"""

from __future__ import annotations

import difflib
import importlib
import json
import os
import re
import shlex
import warnings
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, cast

from .cookies import Cookies
from .dpop import DPoP, DPoPNonces
from .errors import ConfigurationError
from .jose.keys import key_from_file
from .providers import Provider
from .revocation import RedisRevocationStore
from .rules import Auth, Rule

T = TypeVar("T")

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_SPLIT = re.compile(r"[,\s]+")


def _text(value: str, what: str) -> str:
    return value


def _optional_text(value: str, what: str) -> str | None:
    return None if value.strip().lower() in ("", "none") else value.strip()


def _list(value: str, what: str) -> list[str]:
    return [item for item in _SPLIT.split(value.strip()) if item]


def _bool(value: str, what: str) -> bool:
    word = value.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise ConfigurationError(f"{what}: expected true or false, got {value!r}")


def _int(value: str, what: str) -> int:
    try:
        return int(value.strip())
    except ValueError:
        raise ConfigurationError(f"{what}: expected a whole number, got {value!r}") from None


def parse_duration(value: str, what: str) -> float:
    """Seconds from ``30``, ``30s``, ``15m``, ``2h`` or ``1d``; errors start with ``what``."""
    match = _DURATION.match(value)
    if match is None:
        raise ConfigurationError(
            f"{what}: expected seconds like 30, 30s, 15m, 2h or 1d, got {value!r}"
        )
    return float(match[1]) * _UNITS[match[2]]


def import_object(value: str, what: str) -> Any:
    """The object ``module:attribute`` names; errors start with ``what``."""
    module, _, attribute = value.strip().partition(":")
    if not module or not attribute:
        raise ConfigurationError(f"{what}: expected module:attribute, got {value!r}")
    try:
        found: Any = importlib.import_module(module)
        for part in attribute.split("."):
            found = getattr(found, part)
    except (ImportError, AttributeError) as exc:
        raise ConfigurationError(f"{what}: cannot import {value!r}: {exc}") from None
    return found


#: The options of one provider, and how each is read from text.
_PROVIDER: dict[str, Callable[[str, str], Any]] = {
    "algorithms": _list,
    "issuer": _optional_text,
    "jwks_url": _optional_text,
    "audience": _list,
    "leeway": parse_duration,
    "require": _list,
    "typ": _list,
    "profile": _optional_text,
    "mtls": _text,
    "dpop": _text,
    "allow_numeric_sub": _bool,
    "allow_weak_hmac_keys": _bool,
    "allow_http": _bool,
    "ca_file": _optional_text,
    "timeout": parse_duration,
    "cooldown": parse_duration,
    "lifetime": parse_duration,
    "min_lifetime": parse_duration,
    "max_lifetime": parse_duration,
    "stale_for": parse_duration,
    "retry_after": parse_duration,
}
#: Everything else: the authenticator's, the token sources' and the middleware's.
_OTHER: dict[str, Callable[[str, str], Any]] = {
    "cache_size": _int,
    "max_token_bytes": _int,
    "certificate_environ": _optional_text,
    "certificate_header": _optional_text,
    "revocation_unavailable": _text,
    "locations": _list,
    "header": _text,
    "scheme": _text,
    "query": _text,
    "csrf": _bool,
    "default": _text,
    "realm": _text,
    "cors_preflight": _bool,
    "remote_user": _optional_text,
    "case_sensitive": _bool,
    "check_request_target": _bool,
    "on_error": import_object,
    "policy": import_object,
    "principal": import_object,
    "resource_metadata": _optional_text,
}
_COOKIE: dict[str, Callable[[str, str], Any]] = {
    "access": _text,
    "refresh": _text,
    "access_csrf": _text,
    "refresh_csrf": _text,
    "csrf_header": _text,
    "path": _text,
    "refresh_path": _text,
    "domain": _optional_text,
    "secure": _bool,
    "samesite": _text,
    "persistent": _bool,
}
#: How DPoP proofs are checked (:class:`~jwt_wsgi.dpop.DPoP`), with ``dpop_base_url``.
_DPOP: dict[str, Callable[[str, str], Any]] = {
    "base_url": _list,
    "algorithms": _list,
    "max_age": parse_duration,
    "leeway": parse_duration,
    "nonce_secret_env": _text,
    "nonce_lifetime": parse_duration,
}
_KEYS = ("key", "key_file", "key_env")
#: The Redis revocation store's options beside ``revocation_url``, and how each is read.
_REVOCATION: dict[str, Callable[[str, str], Any]] = {
    "prefix": _text,
    "mirror": _bool,
    "timeout": parse_duration,
    "min_replicas": _int,
    "replica_timeout": parse_duration,
    "stale_for": parse_duration,
    "max_token_lifetime": parse_duration,
    "default_ttl": parse_duration,
}
_SPECIAL = {
    "rules",
    "providers",
    "revocation_url",
    *_KEYS,
    *(f"revocation_{n}" for n in _REVOCATION),
}
#: Every setting name a mapping may hold (provider.NAME.* aside).
SETTINGS = (
    frozenset(_PROVIDER)
    | frozenset(_OTHER)
    | {f"cookie_{n}" for n in _COOKIE}
    | {f"dpop_{n}" for n in _DPOP}
    | _SPECIAL
)


def configured(
    factory: Callable[..., T],
    settings: Mapping[str, str],
    *,
    source: str = "configuration",
    labels: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> T:
    """``factory(**keywords)`` with the keywords ``settings`` spell, errors naming ``source``.

    :param factory: what to build, e.g. ``functools.partial(JWTMiddleware, app)``.
    :param settings: option name to text, e.g. a PasteDeploy section.
    :param source: where the settings came from, for error messages.
    :param labels: per setting, how to name it in errors (an environment
        variable's name, say); ``"<name> in <source>"`` by default.
    :param environ: where ``key_env`` looks (``os.environ``).
    """
    reader = _Reader(settings, source, labels, os.environ if environ is None else environ)
    options = reader.options()
    if not options:
        raise ConfigurationError(
            f"{source}: no settings; give algorithms and one of key_file, key_env, jwks_url, issuer"
        )
    try:
        return factory(**options)
    except ConfigurationError as exc:
        raise ConfigurationError(f"{source}: {exc}") from None


def configured_from_env(
    factory: Callable[..., T], prefix: str = "JWT_WSGI_", environ: Mapping[str, str] | None = None
) -> T:
    """:func:`configured` with the settings ``prefix*`` variables spell, named in errors.

    ``JWT_WSGI_ALGORITHMS`` is ``algorithms``, ``JWT_WSGI_COOKIE_SECURE`` is
    ``cookie_secure``, ``JWT_WSGI_PROVIDER__A__ISSUER`` is ``provider.a.issuer``.
    """
    environ = os.environ if environ is None else environ
    settings: dict[str, str] = {}
    labels: dict[str, str] = {}
    for variable, value in environ.items():
        if variable.startswith(prefix) and len(variable) > len(prefix):
            name = variable[len(prefix) :].lower()
            if name.startswith("provider__"):
                name = "provider." + name[len("provider__") :].replace("__", ".", 1)
            settings[name] = value
            labels[name] = f"environment variable {variable}"
    return configured(
        factory, settings, source=f"{prefix}* environment variables", labels=labels, environ=environ
    )


class _Reader:
    """Turns one mapping of strings into middleware keywords, naming each bad setting."""

    def __init__(
        self,
        settings: Mapping[str, str],
        source: str,
        labels: Mapping[str, str] | None,
        environ: Mapping[str, str],
    ) -> None:
        self.settings = {name.strip().lower(): value for name, value in settings.items()}
        self.source = source
        self.labels = dict(labels or {})
        self.environ = environ

    def label(self, name: str) -> str:
        return self.labels.get(name) or f"{name} in {self.source}"

    def options(self) -> dict[str, Any]:
        settings = self.settings
        per_provider: dict[str, dict[str, str]] = {}
        for name in settings:
            if name.startswith("provider."):
                provider, _, option = name[len("provider.") :].partition(".")
                per_provider.setdefault(provider, {})[option] = name
            elif name not in SETTINGS:
                close = difflib.get_close_matches(name, SETTINGS, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise ConfigurationError(f"{self.label(name)}: unknown setting{hint}")
        options: dict[str, Any] = {}
        for name, parse in _OTHER.items():
            if name in settings:
                options[name] = parse(settings[name], self.label(name))
        cookies = {
            name: parse(settings[f"cookie_{name}"], self.label(f"cookie_{name}"))
            for name, parse in _COOKIE.items()
            if f"cookie_{name}" in settings
        }
        if cookies:
            try:
                options["cookies"] = Cookies(**cookies)
            except ConfigurationError as exc:
                raise ConfigurationError(f"cookie settings in {self.source}: {exc}") from None
        dpop = self.dpop_proofs()
        if dpop is not None:
            options["dpop_proofs"] = dpop
        if "rules" in settings:
            options["rules"] = parse_rules(settings["rules"], self.label("rules"))
        if "revocation_url" in settings:
            options["revocation"] = self.revocation()
        else:
            stray = sorted(n for n in settings if n[len("revocation_") :] in _REVOCATION
                           and n.startswith("revocation_"))  # fmt: skip
            if stray:
                raise ConfigurationError(f"{self.label(stray[0])}: needs revocation_url")
        if "providers" in settings:
            names = _list(settings["providers"], self.label("providers"))
            stray = sorted((set(_PROVIDER) | set(_KEYS)) & set(settings))
            if stray:
                raise ConfigurationError(
                    f"{self.label(stray[0])}: with providers, set provider.NAME.{stray[0]}"
                )
            unknown = sorted(set(per_provider) - set(names))
            if unknown:
                raise ConfigurationError(
                    f"provider.{unknown[0]}.* in {self.source}: {unknown[0]!r} is not in providers"
                )
            options["providers"] = [
                self.provider(name, per_provider.get(name, {})) for name in names
            ]
        else:
            if per_provider:
                first = sorted(per_provider)[0]
                raise ConfigurationError(
                    f"provider.{first}.* in {self.source}: list the names in providers first"
                )
            options.update(self.provider_options({n: n for n in settings}))
        return options

    def provider(self, name: str, names: Mapping[str, str]) -> Provider:
        unknown = sorted(set(names) - set(_PROVIDER) - set(_KEYS))
        if unknown:
            raise ConfigurationError(f"{self.label(names[unknown[0]])}: unknown provider setting")
        options = self.provider_options(names)
        algorithms = options.pop("algorithms", None)
        try:
            return Provider(name, algorithms, **options)
        except ConfigurationError as exc:
            raise ConfigurationError(f"provider {name!r} in {self.source}: {exc}") from None

    def provider_options(self, names: Mapping[str, str]) -> dict[str, Any]:
        """The provider keywords among ``names`` (option -> setting name)."""
        options: dict[str, Any] = {}
        for option, parse in _PROVIDER.items():
            if option in names:
                setting = names[option]
                options[option] = parse(self.settings[setting], self.label(setting))
        given = [option for option in _KEYS if option in names]
        if len(given) > 1:
            raise ConfigurationError(
                f"{self.label(names[given[1]])}: give one of key, key_file and key_env"
            )
        if given:
            setting = names[given[0]]
            options["key"] = self.key(given[0], setting, options.get("algorithms") or [])
        return options

    def key(self, option: str, setting: str, algorithms: list[str]) -> Any:
        value = self.settings[setting].strip()
        what = self.label(setting)
        if option == "key":
            if any(a.upper().startswith("HS") for a in algorithms):
                warnings.warn(
                    f"{what}: an HMAC secret written in the configuration; "
                    "use key_file or key_env, which keep it out of files that get shared",
                    UserWarning,
                    stacklevel=5,
                )
            return value  # a PEM on one line with literal \n loads as it is
        if option == "key_env":
            secret = self.environ.get(value)
            if not secret:
                raise ConfigurationError(f"{what}: the environment variable {value} is not set")
            return secret
        try:
            with open(value, "rb") as file:
                data = file.read()
        except OSError as exc:
            raise ConfigurationError(f"{what}: cannot read {value}: {exc.strerror}") from None
        try:
            return key_from_file(data, value)
        except ConfigurationError as exc:
            raise ConfigurationError(f"{what}: {exc}") from None

    def dpop_proofs(self) -> Any:
        """The :class:`~jwt_wsgi.dpop.DPoP` of the ``dpop_*`` settings, or ``None``."""
        given = {
            name: parse(self.settings[f"dpop_{name}"], self.label(f"dpop_{name}"))
            for name, parse in _DPOP.items()
            if f"dpop_{name}" in self.settings
        }
        if not given:
            return None
        if "base_url" not in given:
            raise ConfigurationError(
                f"{self.label('dpop_' + sorted(given)[0])}: DPoP settings need dpop_base_url"
            )
        secret_env = given.pop("nonce_secret_env", None)
        lifetime = given.pop("nonce_lifetime", None)
        if secret_env is not None:
            secret = self.environ.get(secret_env)
            if not secret:
                raise ConfigurationError(
                    f"{self.label('dpop_nonce_secret_env')}: the environment variable "
                    f"{secret_env} is not set"
                )
            nonce_options = {} if lifetime is None else {"lifetime": lifetime}
            try:
                given["nonces"] = DPoPNonces(secret.encode(), **nonce_options)
            except ConfigurationError as exc:
                raise ConfigurationError(f"{self.label('dpop_nonce_secret_env')}: {exc}") from None
        elif lifetime is not None:
            raise ConfigurationError(
                f"{self.label('dpop_nonce_lifetime')}: nonces need dpop_nonce_secret_env"
            )
        try:
            return DPoP(**given)
        except ConfigurationError as exc:
            raise ConfigurationError(f"DPoP settings in {self.source}: {exc}") from None

    def revocation(self) -> Any:
        """The :class:`~jwt_wsgi.RedisRevocationStore` of ``revocation_url`` and the
        ``revocation_*`` settings (a ``redis://``, ``redis+sentinel://`` or
        ``redis+cluster://`` URL)."""
        settings = self.settings
        options = {
            name: parse(settings[f"revocation_{name}"], self.label(f"revocation_{name}"))
            for name, parse in _REVOCATION.items()
            if f"revocation_{name}" in settings
        }
        try:
            return RedisRevocationStore(settings["revocation_url"].strip(), **options)
        except (ValueError, ImportError) as exc:
            raise ConfigurationError(f"{self.label('revocation_url')}: {exc}") from None


def _comma_list(value: str, what: str) -> list[str]:
    return [item for item in value.split(",") if item]


#: A rule option's parser; lists come comma-separated.
_RULE_OPTIONS: dict[str, Callable[[str, str], Any]] = {
    "scopes": _comma_list,
    "any_scopes": lambda v, w: [s.replace("+", " ") for s in _comma_list(v, w)],
    "providers": _comma_list,
    "kinds": _comma_list,
    "acr": _comma_list,
    "locations": _comma_list,
    "max_age": parse_duration,
    "dpop": lambda value, what: value,
}
_MODES = ("public", "optional", "required")


def parse_rules(text: str, what: str = "rules") -> list[Any]:
    """:class:`~jwt_wsgi.Rule` objects from the compact text form, one per line (or ``;``).

    ``[METHODS] PATTERN [public|optional|required] [option=value ...]``:
    ``METHODS`` is ``GET`` or ``GET,POST``; options are ``scopes=a,b``,
    ``claims.NAME=value`` (``a,b`` for any of several; JSON values such as
    ``true`` or ``3`` are read as JSON), ``providers=``, ``kinds=``,
    ``fresh=`` (``true`` or a duration), ``max_age=``, ``acr=``,
    ``locations=``, ``any_scopes=read+write,admin`` (``+`` joins a set),
    ``dpop=required`` and ``shadow=true``. Blank lines and lines starting with ``#`` are skipped.
    """
    rules = []
    lines = [line for chunk in text.splitlines() for line in chunk.split(";")]
    for number, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        where = f"{what}, rule {number} ({line!r})"
        try:
            words = shlex.split(line)
        except ValueError as exc:
            raise ConfigurationError(f"{where}: {exc}") from None
        methods = None
        if words and not words[0].startswith("/"):
            if not re.fullmatch(r"[A-Z]+(,[A-Z]+)*", words[0]):
                raise ConfigurationError(f"{where}: expected METHODS or a pattern starting with /")
            methods = words.pop(0).split(",")
        if not words or not words[0].startswith("/"):
            raise ConfigurationError(f"{where}: the pattern must start with /")
        pattern = words.pop(0)
        auth: Auth = "required"
        if words and words[0] in _MODES:
            auth = cast("Auth", words.pop(0))
        checks: dict[str, Any] = {}
        claims: dict[str, Any] = {}
        shadow = False
        for word in words:
            name, sep, value = word.partition("=")
            if not sep:
                raise ConfigurationError(f"{where}: expected option=value, got {word!r}")
            if name.startswith("claims.") and len(name) > len("claims."):
                claims[name[len("claims.") :]] = _claim_value(value)
            elif name == "shadow":
                shadow = _bool(value, where)
            elif name == "fresh":
                lowered = value.lower()
                checks["fresh"] = (
                    _bool(value, where)
                    if lowered in _TRUE | _FALSE
                    else parse_duration(value, where)
                )
            elif name in _RULE_OPTIONS:
                checks[name] = _RULE_OPTIONS[name](value, where)
            else:
                known = ["claims.NAME", "fresh", "shadow", *_RULE_OPTIONS]
                raise ConfigurationError(f"{where}: unknown option {name!r} (one of {known})")
        if claims:
            checks["claims"] = claims
        dpop = checks.pop("dpop", None)
        try:
            rules.append(Rule(pattern, methods, auth=auth, dpop=dpop, shadow=shadow, **checks))
        except ConfigurationError as exc:
            raise ConfigurationError(f"{where}: {exc}") from None
    return rules


def _claim_value(text: str) -> Any:
    """``a,b`` is any of two strings; JSON (``true``, ``3``) is read as JSON; else the text."""
    if "," in text and not text.startswith(("[", "{", '"')):
        return [_claim_value(part) for part in text.split(",")]
    try:
        return json.loads(text)
    except ValueError:
        return text
