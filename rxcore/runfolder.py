"""Run folders: `runs/<UTC time>-<job>-<env>/` with a `run.json` that every job keeps current while it runs.

`run.json` is rewritten atomically (write a temporary file, then rename) on every update, so a crash or Ctrl-C
always leaves a readable file that says how far the run got. Secrets never reach it: any field whose name looks
like a credential is replaced by "[redacted]" before writing.
"""

from __future__ import annotations

import json
import re
import subprocess
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from rxcore.files import write_json_atomic
from rxcore.redact import redact

RUN_FILE = "run.json"


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def suite_version() -> str:
    try:
        return metadata.version("rxsuite")
    except metadata.PackageNotFoundError:
        return "unknown"


def git_commit(root: Path) -> str | None:
    """The checked-out commit, with "+dirty" when the tree has changes; None outside git or before a commit."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


class RunFolder:
    """One run's folder and its `run.json`; `update` merges fields and rewrites the file at once."""

    def __init__(self, path: Path, data: dict[str, Any]) -> None:
        self.path = path
        self._data = data

    @classmethod
    def create(cls, root: Path, job: str, env_name: str, environment: dict[str, Any] | None = None,
               parameters: dict[str, Any] | None = None, project_root: Path | None = None) -> RunFolder:
        """Make a fresh folder (a suffix keeps two runs in the same second apart) and write the first run.json."""
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        base = f"{stamp}-{_slug(job)}-{_slug(env_name)}"
        root.mkdir(parents=True, exist_ok=True)
        for attempt in range(1000):
            path = root / (base if attempt == 0 else f"{base}.{attempt}")
            try:
                path.mkdir()
                break
            except FileExistsError:
                continue
        else:
            raise FileExistsError(f"{root}: could not create a run folder named {base}*")
        data: dict[str, Any] = {
            "job": job,
            "environment": redact(environment or {"name": env_name}),
            "suite_version": suite_version(),
            "git_commit": git_commit(project_root or root.parent),
            "parameters": redact(parameters or {}),
            "started_at": utc_now(),
            "ended_at": None,
            "status": "running",
            "exit_code": None,
            "events": [],
        }
        folder = cls(path, data)
        folder._save()
        return folder

    @classmethod
    def open(cls, path: Path) -> RunFolder:
        with open(path / RUN_FILE, encoding="utf-8") as src:
            return cls(path, json.load(src))

    @property
    def data(self) -> dict[str, Any]:
        copy: dict[str, Any] = json.loads(json.dumps(self._data, default=str))
        return copy

    def update(self, **fields: Any) -> None:
        self._data.update(redact(fields))
        self._save()

    def event(self, kind: str, detail: str = "", **extra: Any) -> None:
        """Append a timestamped event (worker died, target unreachable, interrupted...)."""
        self._data["events"].append({"at": utc_now(), "kind": kind, "detail": detail, **redact(extra)})
        self._save()

    def finish(self, status: str, exit_code: int, reason: str = "", **fields: Any) -> None:
        """Close the run: status is e.g. completed, failed, interrupted, aborted."""
        self._data.update(redact(fields))
        self._data.update(status=status, exit_code=exit_code, ended_at=utc_now())
        if reason:
            self._data["reason"] = reason
        self._save()

    def _save(self) -> None:
        write_json_atomic(self.path / RUN_FILE, self._data)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "x"
