"""Keeps ``make bench-http``'s apps honest: both answer the same 200 in-process."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
import redis
from werkzeug.test import Client

from jwt_wsgi import RedisRevocationStore
from jwt_wsgi.jose.compact import token_id

sys.path.insert(0, str(Path(__file__).resolve().parent / "benchmarks"))

import http_apps  # noqa: E402


def test_both_variants_serve_the_admin_view() -> None:
    auth = {"Authorization": f"Bearer {http_apps.admin_token()}"}
    for app in (http_apps.protected, http_apps.unprotected):
        response = Client(app).get("/protected", headers=auth)
        assert response.status_code == 200
        assert response.get_json() == {"msg": "Do not forget to drink your ovaltine"}
    assert Client(http_apps.protected).get("/protected").status_code == 401


def test_the_revocation_variants_check_redis(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REDIS_URL", redis_url)
    token = http_apps.admin_token()
    auth = {"Authorization": f"Bearer {token}"}
    apps = [http_apps.with_revocation(mirror=True), http_apps.with_revocation(mirror=False)]
    for app in apps:
        assert Client(app).get("/protected", headers=auth).status_code == 200
    writer = RedisRevocationStore.from_url(redis_url, prefix="bench-http:", mirror=False)
    writer.revoke_token(token)
    deadline = time.monotonic() + 5
    for app in apps:
        while (response := Client(app).get("/protected", headers=auth)).status_code == 200:
            assert time.monotonic() < deadline, "the revocation never reached the mirror"
            time.sleep(0.01)
        assert response.status_code == 401
        assert response.get_json()["error_description"] == "the token has been revoked"
    redis.Redis.from_url(redis_url).delete("bench-http:id:" + token_id(token))
