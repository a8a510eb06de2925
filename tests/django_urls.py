"""A Django URLconf with an include, a class-based view and a regex route (test_audit)."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.urls import include, path, re_path
from django.views import View


def page(request: Any, **_: Any) -> HttpResponse:
    return HttpResponse("ok")


class Items(View):  # type: ignore[misc]
    http_method_names = ["get", "post"]

    def get(self, request: Any) -> HttpResponse:
        return HttpResponse("ok")


api = [path("items/", Items.as_view()), path("items/<int:pk>", page)]
urlpatterns = [
    path("api/", include(api)),
    re_path(r"^legacy/(?P<year>[0-9]{4})/$", page),
    path("about", page),
]
