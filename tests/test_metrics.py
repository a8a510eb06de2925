"""Counts of what the middleware decided, and their Prometheus exposition."""

from __future__ import annotations

import http.client
import logging
import re
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from jwt_wsgi import ConfigurationError, JWTMiddleware, RemoteKeySet, Rule
from jwt_wsgi.metrics import PrometheusCollector, start_multiprocess_export

from .fixtures.keyserver import KeyServer
from .helpers import SECRET, Clock, ValidatingClient, bearer, echo_app, make_token, protect


def build(clock: Clock, **options: Any) -> JWTMiddleware:
    rules = [Rule("/health", auth="public"), Rule("/admin", claims={"roles": "admin"})]
    return protect(clock=clock, rules=rules, **options)  # type: ignore[no-any-return]


def test_requests_are_counted_by_outcome(clock: Clock) -> None:
    mw = build(clock)
    client = ValidatingClient(mw)
    token = make_token()
    for _ in range(3):
        assert client.get("/", headers=bearer(token)).status_code == 200
    assert client.get("/health").status_code == 200
    assert client.get("/").status_code == 401
    assert client.get("/admin", headers=bearer(token)).status_code == 403
    assert client.get("/", headers=bearer("x.y.z")).status_code == 401
    metrics = mw.metrics()
    assert (metrics["accepted"], metrics["anonymous"]) == (3, 1)
    assert metrics["refused"] == {"token_missing": 1, "claim_mismatch": 1, "token_malformed": 1}
    assert (metrics["cache_hits"], metrics["cache_misses"], metrics["cache_entries"]) == (3, 2, 1)
    assert metrics["key_fetches"] == {"default": 0}
    assert metrics["revocation_unavailable"] == 0


class BrokenStore:
    """A revocation store whose backend is down."""

    def is_revoked(self, claims: Mapping[str, Any]) -> bool:
        raise ConnectionError("store down")


def test_unanswered_revocation_checks_are_counted(clock: Clock) -> None:
    mw = build(clock, revocation=BrokenStore(), revocation_unavailable="open")
    assert ValidatingClient(mw).get("/", headers=bearer(make_token())).status_code == 200
    assert mw.metrics()["revocation_unavailable"] == 1


def test_key_fetches_are_counted_per_provider(clock: Clock) -> None:
    server = KeyServer()
    try:
        server.keys = [{"kty": "oct", "kid": "k", "k": "YWJj" * 11, "alg": "HS256"}]
        keys = RemoteKeySet(server.jwks_url, algorithms=["HS256"], allow_http=True)
        mw = build(clock, key=keys)
        ValidatingClient(mw).get("/", headers=bearer(make_token()))
        assert mw.metrics()["key_fetches"] == {"default": 1}
        assert mw.metrics()["key_fetch_failures"] == {"default": 0}
    finally:
        server.close()


def test_refusal_logs_carry_structured_fields_and_never_the_token(
    clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    mw = build(clock)
    token = make_token()
    with caplog.at_level(logging.INFO, logger="jwt_wsgi"):
        ValidatingClient(mw).get("/admin", headers=bearer(token))
    (record,) = [r for r in caplog.records if r.getMessage().startswith("refused")]
    assert record.__dict__["jwt_reason"] == "claim_mismatch"
    assert record.__dict__["jwt_status"] == 403
    assert (record.__dict__["jwt_method"], record.__dict__["jwt_path"]) == ("GET", "/admin")
    assert (record.__dict__["jwt_rule"], record.__dict__["jwt_detail"]) == (
        "/admin",
        "claim 'roles'",
    )
    assert record.getMessage().endswith("(rule /admin) [claim 'roles']")
    assert token not in caplog.text and token.split(".")[2] not in caplog.text
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="jwt_wsgi"):
        ValidatingClient(mw).get("/elsewhere")
        ValidatingClient(mw).get("/a\\b")
    default, unsafe = caplog.records
    assert (default.__dict__["jwt_rule"], default.__dict__["jwt_detail"]) == ("(default)", None)
    assert unsafe.__dict__["jwt_reason"] == "path_unsafe" and unsafe.__dict__["jwt_rule"] is None


def test_the_prometheus_collector_exposes_every_count(clock: Clock) -> None:
    mw = build(clock)
    client = ValidatingClient(mw)
    client.get("/", headers=bearer(make_token()))
    client.get("/")
    registry = CollectorRegistry()
    registry.register(PrometheusCollector(mw))
    text = generate_latest(registry).decode()
    assert "jwt_wsgi_requests_accepted_total 1.0" in text
    assert 'jwt_wsgi_requests_refused_total{reason="token_missing"} 1.0' in text
    assert "jwt_wsgi_cache_misses_total 1.0" in text
    assert 'jwt_wsgi_key_fetches_total{provider="default"} 0.0' in text
    assert "# HELP jwt_wsgi_requests_anonymous_total Requests let through without a token" in text


def test_multiprocess_export_needs_its_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    with pytest.raises(ConfigurationError, match="PROMETHEUS_MULTIPROC_DIR"):
        start_multiprocess_export(JWTMiddleware(echo_app, key=SECRET, algorithms=["HS256"]))


def get(port: int, path: str, token: str | None = None) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers=bearer(token) if token else {})
        answer = conn.getresponse()
        return answer.status, answer.read().decode()
    finally:
        conn.close()


def counter(text: str, name: str) -> float:
    match = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    return float(match[1]) if match else 0.0


@pytest.mark.parametrize("preload", [False, True], ids=["app-per-worker", "preload"])
def test_four_gunicorn_workers_are_summed(gunicorn: Any, tmp_path: Path, preload: bool) -> None:
    """Counts made in every worker reach the scrape, whichever worker answers it.

    With ``--preload`` the app is built once in the arbiter and forked: each
    worker must start its own exporter.
    """
    directory = tmp_path / "prometheus"
    directory.mkdir()
    options = {"--preload"} if preload else set()
    server = gunicorn("tests.fixtures.metrics_app:create()", workers=4, args=sorted(options),
                      env={"PROMETHEUS_MULTIPROC_DIR": str(directory)})  # fmt: skip
    server.wait_for_workers(4, path="/x")
    token = jwt_token()
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: get(server.port, "/y", token)[0], range(40)))
    assert answers == [200] * 40
    assert len(server.workers_seen("GET /y")) >= 2  # the 40 were spread over workers
    deadline = time.monotonic() + 10
    while True:
        status, text = get(server.port, "/metrics")
        accepted = counter(text, "jwt_wsgi_requests_accepted_total")
        if accepted >= 40 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert status == 200 and accepted == 40
    refused = counter(text, 'jwt_wsgi_requests_refused_total{reason="token_missing"}')
    assert refused >= 16  # wait_for_workers' requests, from every worker


def jwt_token() -> str:
    import jwt

    now = int(time.time())
    return jwt.encode({"sub": "w", "iat": now, "exp": now + 600}, SECRET, "HS256")


def test_the_exporter_adds_only_what_changed(clock: Clock) -> None:
    """In-process: each export adds the growth since the last one, per label set."""
    import gc

    from jwt_wsgi.metrics import _Exporter

    mw = build(clock)
    client = ValidatingClient(mw)
    exporter = _Exporter(mw, interval=0.01)

    def value(name: str, **labels: str) -> float:
        for (metric, _), counter in exporter._counters.items():
            if metric == name:
                for family in counter.collect():
                    for sample in family.samples:
                        if sample.name.endswith("_total") and sample.labels == labels:
                            return float(sample.value)
        return 0.0

    client.get("/", headers=bearer(make_token()))
    client.get("/")
    assert exporter.export_once()
    assert value("jwt_wsgi_requests_accepted") == 1
    assert value("jwt_wsgi_requests_refused", reason="token_missing") == 1
    client.get("/", headers=bearer(make_token()))
    assert exporter.export_once() and exporter.export_once()  # the second adds nothing
    assert value("jwt_wsgi_requests_accepted") == 2
    exporter.restart_in_child()  # a fresh thread; the totals carry on from the parent's
    del client, mw
    gc.collect()
    assert exporter.export_once() is False  # the middleware is gone: the thread ends
