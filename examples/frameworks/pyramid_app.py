"""A Pyramid app; the middleware comes from pyramid.ini's ``[filter:jwt]``.

``config.include("jwt_wsgi.pyramid")`` makes the token the security policy:
``request.authenticated_userid`` is its ``sub``, and ``permission=`` on a view
is granted by the token's scopes.
"""

from __future__ import annotations

from typing import Any

from pyramid.config import Configurator


def main(global_config: Any, **settings: Any) -> Any:
    """The PasteDeploy app factory (``use = call:pyramid_app:main``)."""
    with Configurator(settings=settings) as config:
        config.include("jwt_wsgi.pyramid")
        config.add_route("health", "/health")
        config.add_route("me", "/me")
        config.add_route("admin", "/admin")
        config.add_route("notes", "/notes")
        config.add_view(lambda request: {"ok": True}, route_name="health", renderer="json")
        config.add_view(
            lambda request: {"user": request.authenticated_userid},
            route_name="me",
            renderer="json",
        )
        config.add_view(
            lambda request: {"admin": request.authenticated_userid},
            route_name="admin",
            renderer="json",
        )
        config.add_view(
            lambda request: {"saved": True, "by": request.authenticated_userid},
            route_name="notes",
            request_method="POST",
            permission="notes:write",
            renderer="json",
        )
        return config.make_wsgi_app()
