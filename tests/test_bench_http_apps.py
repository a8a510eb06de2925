"""Keeps ``make bench-http``'s apps honest: both answer the same 200 in-process."""

from __future__ import annotations

import sys
from pathlib import Path

from werkzeug.test import Client

sys.path.insert(0, str(Path(__file__).resolve().parent / "benchmarks"))

import http_apps  # noqa: E402


def test_both_variants_serve_the_admin_view() -> None:
    auth = {"Authorization": f"Bearer {http_apps.admin_token()}"}
    for app in (http_apps.protected, http_apps.unprotected):
        response = Client(app).get("/protected", headers=auth)
        assert response.status_code == 200
        assert response.get_json() == {"msg": "Do not forget to drink your ovaltine"}
    assert Client(http_apps.protected).get("/protected").status_code == 401
