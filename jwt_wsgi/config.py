"""Configuration from text: a PasteDeploy filter section, a mapping, environment variables.

:func:`from_config` builds a :class:`~jwt_wsgi.JWTMiddleware` around an app
from string settings (an ``.ini`` section, say), :func:`from_env` from
``JWT_WSGI_*`` variables, and :func:`filter_app_factory` is the PasteDeploy
entry point (``use = egg:jwt_wsgi``). The settings themselves, every name and
how its text is read, are described in :mod:`jwt_wsgi.settings`; this module
sits above the middleware and only puts the two together.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import TYPE_CHECKING

from .middleware import JWTMiddleware
from .settings import (
    SETTINGS,
    configured,
    configured_from_env,
    import_object,
    parse_duration,
    parse_rules,
)

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

__all__ = [
    "SETTINGS",
    "filter_app_factory",
    "from_config",
    "from_env",
    "import_object",
    "parse_duration",
    "parse_rules",
]


def from_config(
    app: WSGIApplication,
    settings: Mapping[str, str],
    *,
    source: str = "configuration",
    labels: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> JWTMiddleware:
    """A :class:`~jwt_wsgi.JWTMiddleware` around ``app`` from string settings.

    :param settings: option name to text, e.g. a PasteDeploy section.
    :param source: where the settings came from, for error messages.
    :param labels: per setting, how to name it in errors (an environment
        variable's name, say); ``"<name> in <source>"`` by default.
    :param environ: where ``key_env`` looks (``os.environ``).
    """
    return configured(
        functools.partial(JWTMiddleware, app),
        settings,
        source=source,
        labels=labels,
        environ=environ,
    )


def from_env(
    app: WSGIApplication, prefix: str = "JWT_WSGI_", environ: Mapping[str, str] | None = None
) -> JWTMiddleware:
    """A :class:`~jwt_wsgi.JWTMiddleware` from ``JWT_WSGI_*`` variables (see :func:`from_config`).

    ``JWT_WSGI_ALGORITHMS`` is ``algorithms``, ``JWT_WSGI_COOKIE_SECURE`` is
    ``cookie_secure``, ``JWT_WSGI_PROVIDER__A__ISSUER`` is ``provider.a.issuer``.
    """
    return configured_from_env(functools.partial(JWTMiddleware, app), prefix, environ)


def filter_app_factory(
    app: WSGIApplication, global_conf: Mapping[str, str], **local_conf: str
) -> JWTMiddleware:
    """PasteDeploy's ``paste.filter_app_factory``: ``[filter:jwt]`` with ``use = egg:jwt_wsgi``."""
    return from_config(app, local_conf, source="the PasteDeploy filter section")
