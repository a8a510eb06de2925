"""What the middleware decided, for monitoring: counts, and a Prometheus collector.

:meth:`JWTMiddleware.metrics() <jwt_wsgi.JWTMiddleware.metrics>` returns a
:class:`Metrics` snapshot. The counts are plain attributes incremented on the
request path (no lock, no label look-up), so reading them costs nothing until
someone asks.

:class:`PrometheusCollector` exposes them with ``prometheus_client`` (the
``prometheus`` extra). Register it once per process; under a multi-process
server (gunicorn with several workers) each worker counts its own requests,
so use :func:`start_multiprocess_export`, which copies each worker's counts
into ``prometheus_client``'s multi-process files once a second, where the
scrape sums them.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Iterator
from typing import Any, Protocol, TypedDict

from .errors import ConfigurationError


class Metrics(TypedDict):
    """A snapshot of :meth:`~jwt_wsgi.JWTMiddleware.metrics`."""

    #: Requests whose token passed every check.
    accepted: int
    #: Requests let through without a token (public or optional path, preflight).
    anonymous: int
    #: Refused requests, by reason code (``token_expired``, ``scope_missing``...).
    refused: dict[str, int]
    #: Requests a shadow rule would have refused, by reason code (they passed).
    shadow_refused: dict[str, int]
    cache_hits: int
    cache_misses: int
    cache_entries: int
    #: Per provider: key set fetches that succeeded, and that failed.
    key_fetches: dict[str, int]
    key_fetch_failures: dict[str, int]
    #: Revocation checks the store could not answer (refused, or let through
    #: with ``revocation_unavailable="open"``).
    revocation_unavailable: int


#: (metric name, help, how to read it from a snapshot) for the plain counters.
_COUNTERS = (
    ("jwt_wsgi_requests_accepted", "Requests whose token passed every check", "accepted"),
    ("jwt_wsgi_requests_anonymous", "Requests let through without a token", "anonymous"),
    ("jwt_wsgi_cache_hits", "Verified-token cache hits", "cache_hits"),
    ("jwt_wsgi_cache_misses", "Verified-token cache misses", "cache_misses"),
    ("jwt_wsgi_revocation_unavailable", "Revocation checks not answered", "revocation_unavailable"),
)


def samples(metrics: Metrics) -> Iterator[tuple[str, str, dict[str, str], float]]:
    """Every counter as ``(name, help, labels, value)``, the names Prometheus sees."""
    for name, help_text, field in _COUNTERS:
        yield name, help_text, {}, float(metrics[field])  # type: ignore[literal-required]
    for reason, count in sorted(metrics["refused"].items()):
        yield "jwt_wsgi_requests_refused", "Refused requests", {"reason": reason}, float(count)
    for reason, count in sorted(metrics["shadow_refused"].items()):
        help_text = "Requests a shadow rule would have refused"
        yield "jwt_wsgi_requests_shadow_refused", help_text, {"reason": reason}, float(count)
    for provider, count in sorted(metrics["key_fetches"].items()):
        yield "jwt_wsgi_key_fetches", "Key set fetches", {"provider": provider}, float(count)
    for provider, count in sorted(metrics["key_fetch_failures"].items()):
        labels = {"provider": provider}
        yield "jwt_wsgi_key_fetch_failures", "Failed key set fetches", labels, float(count)


class Counted(Protocol):
    """What keeps counts: a :class:`~jwt_wsgi.JWTMiddleware`."""

    def metrics(self) -> Metrics: ...


class PrometheusCollector:
    """A ``prometheus_client`` collector reading ``middleware``'s counts at each scrape.

    ``prometheus_client.REGISTRY.register(PrometheusCollector(middleware))``;
    one process only (see :func:`start_multiprocess_export` for several).
    """

    def __init__(self, middleware: Counted) -> None:
        self.middleware = middleware

    def collect(self) -> Iterator[Any]:
        """The counter families, as a scrape asks for them."""
        # prometheus_client is optional (the prometheus extra): imported when used.
        from prometheus_client.core import CounterMetricFamily

        families: dict[str, Any] = {}
        for name, help_text, labels, value in samples(self.middleware.metrics()):
            family = families.get(name)
            if family is None:
                family = families[name] = CounterMetricFamily(
                    name, help_text, labels=sorted(labels)
                )
            family.add_metric([labels[k] for k in sorted(labels)], value)
        yield from families.values()

    def describe(self) -> list[Any]:
        """Nothing up front: the families depend on what happened."""
        return []


def start_multiprocess_export(middleware: Counted, interval: float = 1.0) -> None:
    """Copy ``middleware``'s counts into ``prometheus_client``'s multi-process files.

    For gunicorn with several workers: set ``PROMETHEUS_MULTIPROC_DIR`` (a
    directory emptied before the server starts), call this where the app is
    built, and answer scrapes with
    ``prometheus_client.multiprocess.MultiProcessCollector``, which sums the
    workers' files. A daemon thread per process adds what changed every
    ``interval`` seconds, so a scrape lags by at most that; a worker forked
    from a process that called this (``--preload``) starts its own.
    """
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        raise ConfigurationError("start_multiprocess_export needs PROMETHEUS_MULTIPROC_DIR set")
    exporter = _Exporter(middleware, interval)
    exporter.start()
    # Fork only between two exports: a child that inherits prometheus_client's
    # lock held by this process's exporter thread would never export.
    os.register_at_fork(
        before=exporter.lock.acquire,
        after_in_parent=exporter.lock.release,
        after_in_child=exporter.restart_in_child,
    )


class _Exporter:
    """The thread behind :func:`start_multiprocess_export` (one per process)."""

    def __init__(self, middleware: Counted, interval: float) -> None:
        self._target = weakref.ref(middleware)
        self._interval = interval
        self._counters: dict[tuple[str, tuple[str, ...]], Any] = {}
        self._exported: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
        #: Held for each export, and by a fork (see start_multiprocess_export).
        self.lock = threading.Lock()

    def start(self) -> None:
        threading.Thread(target=self._loop, name="jwt_wsgi-metrics", daemon=True).start()

    def restart_in_child(self) -> None:
        # The parent exported what it had counted; the child starts from there.
        self.lock = threading.Lock()
        self._counters = {}
        self.start()

    def export_once(self) -> bool:
        """Add each counter's growth since the last export; ``False`` once the app is gone."""

        middleware = self._target()
        if middleware is None:
            return False
        with self.lock:
            self._export(middleware.metrics())
        return True

    def _export(self, metrics: Metrics) -> None:
        # prometheus_client is optional (the prometheus extra): imported when used.
        from prometheus_client import Counter

        for name, help_text, labels, value in samples(metrics):
            names = tuple(sorted(labels))
            counter = self._counters.get((name, names))
            if counter is None:
                counter = Counter(name, help_text, list(names), registry=None)
                self._counters[(name, names)] = counter
            key = (name, tuple(sorted(labels.items())))
            delta = value - self._exported.get(key, 0.0)
            if delta > 0:
                (counter.labels(**labels) if labels else counter).inc(delta)
                self._exported[key] = value

    def _loop(self) -> None:
        wait = threading.Event().wait
        while self.export_once():
            wait(self._interval)
