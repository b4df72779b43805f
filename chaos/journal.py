"""drill.json, the journal: rewritten atomically after every step, so a crash or Ctrl-C leaves a readable record
of how far the drill got. See docs/drills.md for its fields."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rxcore.files import write_json_atomic
from rxcore.redact import redact

DRILL_FILE = "drill.json"
SCHEMA_VERSION = 1


def iso(unix: float | None) -> str | None:
    return None if unix is None else datetime.fromtimestamp(unix, UTC).isoformat(timespec="milliseconds")


class Journal:
    def __init__(self, path: Path, data: dict[str, Any]) -> None:
        self.path = path
        self._data = {"schema": SCHEMA_VERSION, **data}
        self._lock = threading.Lock()
        self._save()

    @property
    def data(self) -> dict[str, Any]:
        with self._lock:
            return dict(self._data)

    def update(self, **fields: Any) -> None:
        with self._lock:
            self._data.update(redact(fields))
            self._save()

    def append(self, key: str, entry: dict[str, Any]) -> None:
        with self._lock:
            self._data.setdefault(key, []).append(redact(entry))
            self._save()

    def timeline(self, event: str, unix: float | None = None, **detail: Any) -> None:
        unix = time.time() if unix is None else unix
        self.append("timeline", {"event": event, "at": iso(unix), "unix": round(unix, 3), **detail})

    def _save(self) -> None:
        write_json_atomic(self.path, self._data)
