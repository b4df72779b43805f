"""`python -m sandbox.pager --port P --log FILE`: the on-call pager, as an Alertmanager webhook receiver.

Every notification Alertmanager sends is appended to a JSON-lines file, one line per alert in it (received time,
alert name, status, labels), so a drill or a test can prove that a page reached on-call and when.
`GET /health` answers 200; `GET /notifications` returns the lines so far.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from sandbox.jsonhttp import JsonHandler

__all__ = ["entries_of", "main"]


def entries_of(notification: dict[str, Any], received: float) -> list[dict[str, Any]]:
    """One record per alert of an Alertmanager webhook payload (version 4)."""
    stamp = datetime.fromtimestamp(received, UTC).isoformat(timespec="milliseconds")
    return [{"received": stamp, "unix": received, "alert": (alert.get("labels") or {}).get("alertname", ""),
             "status": alert.get("status", notification.get("status", "")), "labels": alert.get("labels") or {},
             "starts_at": alert.get("startsAt"), "ends_at": alert.get("endsAt"),
             "receiver": notification.get("receiver", "")}
            for alert in notification.get("alerts") or []]


def _handler(log: Path, lock: threading.Lock) -> type[BaseHTTPRequestHandler]:
    class Handler(JsonHandler):
        def do_GET(self) -> None:
            if self.path == "/health":
                self._reply(200, {"status": "ok"})
            elif self.path == "/notifications":
                with lock:
                    text = log.read_text() if log.exists() else ""
                self._reply(200, [json.loads(line) for line in text.splitlines() if line.strip()])
            else:
                self._reply(404, {"error": "not found"})

        def do_POST(self) -> None:
            received = time.time()
            length = int(self.headers.get("Content-Length") or 0)
            try:
                notification = json.loads(self.rfile.read(length) or b"{}")
            except json.JSONDecodeError:
                self._reply(400, {"error": "body is not JSON"})
                return
            if not isinstance(notification, dict):
                self._reply(400, {"error": "expected an Alertmanager webhook object"})
                return
            lines = "".join(json.dumps(e, separators=(",", ":")) + "\n" for e in entries_of(notification, received))
            with lock, log.open("a", encoding="utf-8") as out:
                out.write(lines)
            self._reply(200, {"recorded": lines.count("\n")})

    return Handler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.pager", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log", type=Path, required=True)
    args = parser.parse_args(argv)
    args.log.parent.mkdir(parents=True, exist_ok=True)
    server = ThreadingHTTPServer((args.host, args.port), _handler(args.log, threading.Lock()))
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
