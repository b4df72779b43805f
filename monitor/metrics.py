"""`/metrics` while the monitor runs (127.0.0.1 only), for a team's Prometheus or the sandbox's to scrape.

Names follow the blackbox exporter's `probe_success` (1 the last check passed, 0 it failed), plus a latency
histogram whose buckets include the 3 s the platform's latency objective uses, and checks counted by outcome.
"""

from __future__ import annotations

import threading
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

__all__ = ["BUCKETS_S", "MonitorMetrics"]

BUCKETS_S = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0)


class MonitorMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.success = Gauge("probe_success", "1 when the check's last run passed, 0 when it failed",
                             ["check"], registry=self.registry)
        self.duration = Histogram("monitor_check_duration_seconds", "How long each check took",
                                  ["check"], buckets=BUCKETS_S, registry=self.registry)
        self.checks = Counter("monitor_checks", "Checks run, by outcome (ok, failed)", ["check", "outcome"],
                              registry=self.registry)
        self.down = Gauge("monitor_check_down", "1 while the check is called down (x failures of the last y)",
                          ["check"], registry=self.registry)
        self.maintenance = Gauge("monitor_maintenance", "1 during a maintenance window of the environment file",
                                 registry=self.registry)
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    def observe(self, check: str, ok: bool, duration_s: float, down: bool) -> None:
        self.success.labels(check).set(1 if ok else 0)
        self.duration.labels(check).observe(duration_s)
        self.checks.labels(check, "ok" if ok else "failed").inc()
        self.down.labels(check).set(1 if down else 0)

    def serve(self, port: int) -> None:
        self._server, self._thread = start_http_server(port, addr="127.0.0.1", registry=self.registry)

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
