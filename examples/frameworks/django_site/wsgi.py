"""The WSGI entry point: jwt_wsgi wraps Django here, not in MIDDLEWARE.

Serve with ``gunicorn django_site.wsgi:application`` from examples/frameworks.
The middleware must decide before Django routes a request, so it wraps the
application object Django builds; ``MIDDLEWARE`` only gets
``jwt_wsgi.django.JWTUserMiddleware``, which sets ``request.user``.
"""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

from jwt_wsgi import JWTMiddleware, Rule

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "django_site.settings")

application = JWTMiddleware(
    get_wsgi_application(),
    key=os.environ["JWT_SECRET"],
    algorithms=["HS256"],
    rules=[
        Rule("/health", auth="public"),
        Rule("/login", ["POST"], auth="public"),
        Rule("/admin", claims={"roles": "admin"}),
    ],
)
