"""Evidence of failed checks: `evidence/<UTC time>-<check>/` in the record's folder, redacted, newest kept.

An API check keeps `response.json` (status, URL without its query, content type, a body excerpt); a journey keeps
its screenshots, Playwright trace and console errors. Only the newest `monitor.evidence_keep` folders are kept:
removing the oldest beyond that count is the monitor's only deletion, and the user sets the count (0 keeps none).
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from rxcore.files import write_json_atomic
from rxcore.redact import Scrubber

__all__ = ["EVIDENCE_DIR", "EvidenceKeeper"]

EVIDENCE_DIR = "evidence"


class EvidenceKeeper:
    def __init__(self, store_folder: Path, keep: int, scrubber: Scrubber) -> None:
        self.root = store_folder / EVIDENCE_DIR
        self.store_folder = store_folder
        self.keep = keep
        self.scrubber = scrubber

    def keep_response(self, check: str, started_at: float, detail: str,
                      response: dict[str, Any] | None) -> str | None:
        """The failed API check's answer, redacted; the folder's path relative to the record's folder."""
        folder = self._new_folder(check, started_at)
        if folder is None:
            return None
        write_json_atomic(folder / "response.json", self.scrubber.tree({"check": check, "detail": detail,
                                                                        "response": response}))
        return self._finish(folder)

    def keep_files(self, check: str, started_at: float, sources: list[Path]) -> str | None:
        """A failed journey's artifacts (already redacted by the journeys runner), copied into the evidence."""
        folder = self._new_folder(check, started_at)
        if folder is None:
            return None
        for source in sources:
            target = folder / source.name
            if source.is_dir():
                shutil.copytree(source, target, dirs_exist_ok=True)
            elif source.is_file():
                shutil.copy2(source, target)
        return self._finish(folder)

    def folders(self) -> list[Path]:
        """The kept evidence, oldest first (the names start with the UTC time)."""
        return sorted(p for p in self.root.iterdir() if p.is_dir()) if self.root.is_dir() else []

    def _new_folder(self, check: str, started_at: float) -> Path | None:
        if self.keep == 0:
            return None
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(started_at)) + f"{started_at % 1:.6f}"[1:] + "Z"
        folder = self.root / f"{stamp}-{check}"
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def _finish(self, folder: Path) -> str:
        for old in self.folders()[:-self.keep]:
            shutil.rmtree(old, ignore_errors=True)
        return str(folder.relative_to(self.store_folder))
