"""A protected app whose counts reach Prometheus from every gunicorn worker (test_metrics)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from jwt_wsgi import JWTMiddleware, Rule
from jwt_wsgi.metrics import start_multiprocess_export

from .helpers import SECRET

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment


def hello(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    if environ["PATH_INFO"] == "/metrics":
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        body = generate_latest(registry)
    else:
        body = b"hello"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def create() -> JWTMiddleware:
    """The app factory gunicorn calls (``tests.metrics_app:create()``)."""
    app = JWTMiddleware(
        hello,
        key=SECRET,
        algorithms=["HS256"],
        rules=[Rule("/metrics", auth="public"), Rule("/", auth="public")],
    )
    start_multiprocess_export(app, interval=0.2)
    return app
