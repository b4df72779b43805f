"""Request accounting: counts by route template and status (``/_sandbox/stats``) and the JSON-lines access log.

A load run's own counts can be compared with these, so every request the app answers is counted once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

FLUSH_INTERVAL_S = 1.0


class RequestStats:
    def __init__(self) -> None:
        self.started_at = datetime.now(UTC)
        self._counts: Counter[tuple[str, str, int]] = Counter()

    def record(self, method: str, route: str, status: int) -> None:
        self._counts[(method, route, status)] += 1

    def snapshot(self) -> dict[str, Any]:
        by_route: dict[str, dict[str, int]] = {}
        for (method, route, status), count in sorted(self._counts.items()):
            statuses = by_route.setdefault(f"{method} {route}", {})
            statuses[str(status)] = statuses.get(str(status), 0) + count
        return {
            "since": self.started_at.isoformat(),
            "total": sum(self._counts.values()),
            "by_route": by_route,
        }


class AccessLog:
    """Buffers lines in memory and appends them to ``path`` at least every second and at shutdown."""

    def __init__(self, path: Path, region: str) -> None:
        self.path = path
        self.region = region
        self._lines: list[str] = []
        self._task: asyncio.Task[None] | None = None

    def record(self, *, method: str, route: str, path: str, status: int, duration_ms: float) -> None:
        entry = {
            "ts": datetime.now(UTC).isoformat(timespec="microseconds"),
            "region": self.region,
            "method": method,
            "route": route,
            "path": path,
            "status": status,
            "duration_ms": round(duration_ms, 3),
        }
        self._lines.append(json.dumps(entry, separators=(",", ":")))

    def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._task = asyncio.create_task(self._flush_periodically())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.flush()

    def flush(self) -> None:
        if not self._lines:
            return
        lines, self._lines = self._lines, []
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")

    async def _flush_periodically(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_INTERVAL_S)
            self.flush()


def monotonic_ms() -> float:
    return time.perf_counter() * 1000.0
