"""The region app's Prometheus metrics: requests by route template, status code and method, and their latency.

Labels carry route templates (`/rest/v1/{table}`), never raw paths, so the number of series stays bounded by the
routes the app has. The histogram's buckets include the SLO threshold (3 s) so a latency objective is read exactly
from a bucket instead of interpolated. `/metrics` itself is served before accounting: a scrape is not traffic.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["BUCKETS_S", "CONTENT_TYPE", "METRICS_PATH", "AppMetrics"]

METRICS_PATH = "/metrics"
CONTENT_TYPE = CONTENT_TYPE_LATEST
BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 3.0, 5.0, 10.0)


class AppMetrics:
    """One registry per app, so two apps in one process (tests) never share counts."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._requests = Counter("http_requests", "HTTP requests answered, by route template, status and method.",
                                 ("route", "code", "method"), registry=self.registry)
        self._duration = Histogram("http_request_duration_seconds", "Time from request to response, seconds.",
                                   ("route", "code", "method"), buckets=BUCKETS_S, registry=self.registry)

    def record(self, method: str, route: str, status: int, duration_s: float) -> None:
        code = str(status)
        self._requests.labels(route, code, method).inc()
        self._duration.labels(route, code, method).observe(duration_s)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
