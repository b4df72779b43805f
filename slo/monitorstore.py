"""The monitor's long-lived record of one environment (minimal version: the monstore track's file replaces it).

Append-only JSON lines, fsync'd per append, so a crash loses at most the check in progress.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO

__all__ = ["CheckResult", "MonitorStore", "store_folder"]

_RECORD = "checks.jsonl"


@dataclass(frozen=True)
class CheckResult:
    check: str
    started_at: float
    duration_s: float
    ok: bool
    detail: str = ""
    evidence: str | None = None


def store_folder(runs_dir: Path, environment: str) -> Path:
    return runs_dir / "monitor" / environment


class MonitorStore:
    """The append-only record of one environment's checks."""

    def __init__(self, folder: Path, environment: str) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.environment = environment
        self._out: IO[str] = open(folder / _RECORD, "a", encoding="utf-8")  # noqa: SIM115 - closed by close()

    def append(self, result: CheckResult) -> None:
        self._write({"type": "check", **asdict(result)})

    def record_gap(self, start: float, end: float, reason: str) -> None:
        self._write({"type": "gap", "start": start, "end": end, "reason": reason})

    def last_started_at(self) -> float | None:
        path = self.folder / _RECORD
        last: float | None = None
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
            except ValueError:
                continue
            if isinstance(row, dict) and row.get("type") == "check":
                last = max(last or 0.0, float(row["started_at"]))
        return last

    def close(self) -> None:
        self._out.close()

    def _write(self, row: dict[str, object]) -> None:
        self._out.write(json.dumps(row) + "\n")
        self._out.flush()
        os.fsync(self._out.fileno())
