"""The Django example's views: ``request.user`` is a ClaimsUser made from the token."""

from __future__ import annotations

import json
import os
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from jwt_wsgi import Minter

minter = Minter(os.environ["JWT_SECRET"])
USERS = {"alice": "alice-password"}  # an example, not a user store


def health(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})


def login(request: HttpRequest) -> JsonResponse:
    body: dict[str, Any] = json.loads(request.body or b"{}")
    if USERS.get(body.get("username", "")) != body.get("password"):
        return JsonResponse({"error": "bad credentials"}, status=401)
    return JsonResponse({"token": minter.mint(body["username"])})


# A login has no token yet, so nothing for CSRF to protect.
login = csrf_exempt(login)


def me(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"user": request.user.get_username()})


def admin(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"admin": request.user.get_username()})


def notes(request: HttpRequest) -> JsonResponse:
    # A POST without Django's CSRF token: the bearer header exempts it.
    return JsonResponse({"saved": True, "by": request.user.get_username()})


urlpatterns = [
    path("health", health),
    path("login", login),
    path("me", me),
    path("admin", admin),
    path("notes", notes),
]
