"""The failover manager: watches the primary, promotes the standby when it stops answering, fences the old one.

Runs as its own process (`python -m sandbox.failover --state-dir DIR`), like a Patroni or repmgr agent. It owns the
topology file (which node is primary) and serves a small HTTP API:
`GET /status`, `POST /auto {"enabled": bool}`, `POST /promote`, `POST /rebuild` (make the lost node a standby of
the current primary again).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import psycopg

from rxcore.files import write_json_atomic
from sandbox import postgres
from sandbox.jsonhttp import JsonHandler
from sandbox.postgres import PgLayout

CONFIG_FILE = "failover.json"
TOPOLOGY_FILE = "topology.json"
_MAX_EVENTS = 200


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


@dataclass
class Manager:
    layout: PgLayout
    state_dir: Path
    fault_api_url: str
    auto: bool
    check_interval_s: float
    failure_threshold: int
    primary: str
    standby: str | None
    lost: str | None = None
    failures: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def record(self, event: str, **detail: Any) -> None:
        entry = {"ts": _now_iso(), "unix": time.time(), "event": event, **detail}
        print(json.dumps(entry), flush=True)
        self.events = [*self.events, entry][-_MAX_EVENTS:]
        self.save()

    def save(self) -> None:
        write_json_atomic(self.state_dir / TOPOLOGY_FILE, self.snapshot())

    def snapshot(self) -> dict[str, Any]:
        return {"primary": self.primary, "standby": self.standby, "lost": self.lost, "auto": self.auto,
                "failures": self.failures, "check_interval_s": self.check_interval_s,
                "failure_threshold": self.failure_threshold, "events": self.events}

    def primary_answers(self) -> bool:
        try:
            with psycopg.connect(self.layout.superuser_conninfo(self.primary, timeout_s=1), autocommit=True) as conn:
                conn.execute("SET statement_timeout = '1s'")
                in_recovery = postgres.scalar(conn, "SELECT pg_is_in_recovery()")
            return not in_recovery
        except psycopg.Error:
            return False

    def tick(self) -> None:
        with self.lock:
            if self.primary_answers():
                if self.failures:
                    self.record("primary_answering_again", node=self.primary, after_failures=self.failures)
                self.failures = 0
            else:
                self.failures += 1
                if self.failures == 1:
                    self.record("primary_check_failed", node=self.primary)
                if self.failures >= self.failure_threshold and self.auto and self.standby:
                    self.promote()
            self.fence()

    def promote(self) -> None:
        """Promote the standby and point the replication proxy at it."""
        with self.lock:
            if self.standby is None:
                raise RuntimeError("no standby to promote")
            candidate, former = self.standby, self.primary
            self.record("promoting", node=candidate, former=former, failures=self.failures)
            postgres.promote(self.layout, candidate)
            self.primary, self.standby, self.lost, self.failures = candidate, None, former, 0
            self.record("promoted", node=candidate, former=former)
            if self.layout.synchronous:
                # With no standby left, synchronous commit would stall every write: degrade, as Patroni does.
                postgres.set_synchronous(self.layout, candidate, enabled=False)
                self.record("synchronous_commit_off", node=candidate)
            self._point_replication_at(candidate)

    def fence(self) -> None:
        """A lost primary that comes back writable would split the brain: stop it at once."""
        if self.lost is None or postgres.postmaster_pid(self.layout, self.lost) is None:
            return
        status = postgres.node_status(self.layout, self.lost)
        if status.role == "primary":
            postgres.stop(self.layout, self.lost, mode="immediate")
            self.record("fenced", node=self.lost)

    def rebuild(self) -> None:
        """Turn the lost node into a streaming standby of the current primary."""
        with self.lock:
            node = self.lost
            if node is None:
                raise RuntimeError("nothing to rebuild: both nodes are in place")
            self.record("rebuilding", node=node, source=self.primary)
            postgres.stop(self.layout, node, mode="immediate")
            postgres.clone_standby(self.layout, self.primary, node)
            postgres.start(self.layout, node)
            self._wait_streaming(node)
            if self.layout.synchronous:
                postgres.set_synchronous(self.layout, self.primary, enabled=True)
            self.standby, self.lost = node, None
            self.record("rebuilt", node=node, source=self.primary)

    def _wait_streaming(self, node: str, timeout_s: float = 30.0, nudge_after_s: float = 3.0) -> None:
        """Return once `node` streams from the primary.

        Seen here: a rebuilt standby's first connection through the replication proxy sometimes hangs until the
        walreceiver times out; closing the proxy's connections makes it reconnect at once, so do that once.
        """
        started = time.monotonic()
        nudged = False
        while time.monotonic() - started < timeout_s:
            if node in postgres.node_status(self.layout, self.primary).streaming_to:
                return
            if not nudged and time.monotonic() - started > nudge_after_s:
                self._bounce_replication_proxy()
                nudged = True
            time.sleep(0.1)
        raise RuntimeError(f"{node} is not streaming from {self.primary} after {timeout_s:g} s")

    def _bounce_replication_proxy(self) -> None:
        self.record("replication_proxy_bounced")
        for enabled in (False, True):
            try:
                httpx.post(f"{self.fault_api_url}/proxies/replication", json={"enabled": enabled}, timeout=2)
            except httpx.HTTPError as exc:
                self.record("replication_proxy_update_failed", error=str(exc))

    def _point_replication_at(self, node: str) -> None:
        upstream = f"127.0.0.1:{self.layout.ports[node]}"
        try:
            httpx.post(f"{self.fault_api_url}/proxies/replication", json={"upstream": upstream}, timeout=2)
        except httpx.HTTPError as exc:
            self.record("replication_proxy_update_failed", error=str(exc))

    def run(self, stop: threading.Event) -> None:
        self.record("started", primary=self.primary, standby=self.standby, auto=self.auto)
        while not stop.is_set():
            started = time.monotonic()
            try:
                self.tick()
            except Exception as exc:  # keep watching: one failed action must not end the manager
                self.record("error", error=f"{type(exc).__name__}: {exc}")
            stop.wait(max(0.0, self.check_interval_s - (time.monotonic() - started)))
        self.record("stopped")


def _handler_for(manager: Manager) -> type[BaseHTTPRequestHandler]:
    class Handler(JsonHandler):
        def do_GET(self) -> None:
            if self.path == "/status":
                self._reply(200, manager.snapshot())
            elif self.path == "/metrics":
                payload = _exposition(manager.snapshot()).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            else:
                self._reply(404, {"error": "not found"})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
            except json.JSONDecodeError:
                self._reply(400, {"error": "body is not JSON"})
                return
            try:
                if self.path == "/auto":
                    if not isinstance(body.get("enabled"), bool):
                        self._reply(400, {"error": "send {\"enabled\": true|false}"})
                        return
                    with manager.lock:
                        manager.auto = body["enabled"]
                        manager.record("auto_failover_set", enabled=manager.auto)
                elif self.path == "/promote":
                    manager.promote()
                elif self.path == "/rebuild":
                    manager.rebuild()
                else:
                    self._reply(404, {"error": "not found"})
                    return
            except RuntimeError as exc:
                self._reply(409, {"error": str(exc)})
                return
            except Exception as exc:
                self._reply(500, {"error": f"{type(exc).__name__}: {exc}"})
                return
            self._reply(200, manager.snapshot())

    return Handler


def _exposition(snapshot: dict[str, Any]) -> str:
    """The manager's state for Prometheus: which node is primary, the failed checks in a row, promotions so far."""
    promotions = sum(1 for e in snapshot["events"] if e.get("event") == "promoted")
    lines = ["# HELP rx_failover_primary 1 for the node that is primary now.", "# TYPE rx_failover_primary gauge"]
    lines += [f'rx_failover_primary{{node="{node}"}} {int(node == snapshot["primary"])}' for node in ("pg-a", "pg-b")]
    lines += ["# HELP rx_failover_failures Failed primary checks in a row.", "# TYPE rx_failover_failures gauge",
              f"rx_failover_failures {snapshot['failures']}",
              "# HELP rx_failover_auto 1 while automatic failover is on.", "# TYPE rx_failover_auto gauge",
              f"rx_failover_auto {int(bool(snapshot['auto']))}",
              "# HELP rx_failover_promotions Promotions among the recent events.",
              "# TYPE rx_failover_promotions gauge", f"rx_failover_promotions {promotions}"]
    return "\n".join(lines) + "\n"


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text())


def load_manager(state_dir: Path) -> tuple[Manager, int]:
    config = _read_json(state_dir / CONFIG_FILE)
    layout = PgLayout(
        state_dir=state_dir, bin_dir=Path(config["bin_dir"]), ports=config["pg_ports"],
        passwords=config["passwords"], replication_proxy_port=config["replication_proxy_port"],
        synchronous=config["synchronous"],
    )
    topology = _read_json(state_dir / TOPOLOGY_FILE)
    manager = Manager(
        layout=layout, state_dir=state_dir, fault_api_url=config["fault_api_url"], auto=config["auto"],
        check_interval_s=config["check_interval_s"], failure_threshold=config["failure_threshold"],
        primary=topology["primary"], standby=topology.get("standby"), lost=topology.get("lost"),
        events=topology.get("events", []),
    )
    return manager, int(config["http_port"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.failover")
    parser.add_argument("--state-dir", type=Path, required=True)
    args = parser.parse_args(argv)
    manager, port = load_manager(args.state_dir)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    server = ThreadingHTTPServer(("127.0.0.1", port), _handler_for(manager))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        manager.run(stop)
    finally:
        server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
