"""Settings of the Django example: no database, ``request.user`` from the token."""

from __future__ import annotations

import os

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-only-not-secret")
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "django_site.urls"
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth"]
# JWTUserMiddleware instead of AuthenticationMiddleware: request.user comes
# from the verified claims, no session and no database row.
MIDDLEWARE = [
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "jwt_wsgi.django.JWTUserMiddleware",
]
DATABASES: dict[str, dict[str, str]] = {}
USE_TZ = True
# Refusals are INFO records of the "jwt_wsgi" logger: show them on stderr.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "loggers": {"jwt_wsgi": {"handlers": ["stderr"], "level": "INFO"}},
}
