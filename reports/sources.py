"""Which run folders a report reads: one run (a job's folder, or an `rxsuite run` folder and its stages), or every
run of a period in the runs folder.

An `rxsuite run` folder (`run.json` job "run") holds its stages as child run folders. A drill's background load
(`<drill>/load/...`) belongs to the drill: it never counts as a load run of the period, since it ran under a fault.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from slo.artifacts import DRILL_FILE, JOURNEYS_FILE
from slo.durations import parse_duration
from slo.records import RECORD_FILE
from slo.sli import SliSource
from slo.windows import calendar_period

RUN_FILE = "run.json"
COMPOSITE_JOB = "run"


class SourceError(ValueError):
    """A run folder or period that cannot be reported; the message names it and the fix."""


@dataclass
class Sources:
    """The folders one report reads, by what they hold."""

    label: str
    output_dir: Path
    load_dirs: list[Path] = field(default_factory=list)
    journeys_dirs: list[Path] = field(default_factory=list)
    drill_dirs: list[Path] = field(default_factory=list)  # one scenario journal each (a suite's are its scenarios)
    drill_suites: list[Path] = field(default_factory=list)  # suite folders: their summary (score, verdict)
    runs: list[dict[str, Any]] = field(default_factory=list)  # run.json of every folder read
    period: dict[str, str] | None = None
    sli: list[SliSource] = field(default_factory=list)  # asked before the folders (slo.sli): Prometheus, ...

    @property
    def all_dirs(self) -> list[Path]:
        return sorted({*self.load_dirs, *self.journeys_dirs, *self.drill_dirs})

    @property
    def empty(self) -> bool:
        return not (self.load_dirs or self.journeys_dirs or self.drill_dirs)


def read_run_json(folder: Path) -> dict[str, Any]:
    """The folder's run.json, or {} when it has none or it is unreadable (a crash can leave only the data)."""
    try:
        data = json.loads((folder / RUN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def for_run(run_dir: Path) -> Sources:
    """One run folder: its own inputs, plus its stages' when it is an `rxsuite run` folder."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise SourceError(f"{run_dir}: no such run folder (give a folder under runs/, e.g. runs/<time>-load-sandbox)")
    sources = Sources(label=run_dir.name, output_dir=run_dir)
    _add(sources, run_dir)
    if read_run_json(run_dir).get("job") == COMPOSITE_JOB:
        for child in sorted(p for p in run_dir.iterdir() if p.is_dir() and (p / RUN_FILE).is_file()):
            _add(sources, child)
    if sources.empty:
        raise SourceError(f"{run_dir}: nothing to report: none of {RECORD_FILE}, {JOURNEYS_FILE}, {DRILL_FILE} is "
                          "there (or in its stage folders); point at a folder a load, journeys, drill or run job wrote")
    return sources


def parse_period(period: str | None, since: str | None, now: datetime | None = None) -> tuple[datetime, datetime, str]:
    """(start, end, label) of `--period 2026-Q4 | 2026-11 | 2026` or `--since 2026-10-01`; end is exclusive."""
    now = now or datetime.now(UTC)
    if since is not None:
        try:
            start_day = date.fromisoformat(since)
        except ValueError:
            raise SourceError(f"--since {since!r}: not a date; write it as YYYY-MM-DD") from None
        start = datetime(start_day.year, start_day.month, start_day.day, tzinfo=UTC)
        return start, now, f"since {start_day.isoformat()}"
    text = (period or "").strip().upper()
    try:
        found = calendar_period(text)
    except ValueError as exc:
        raise SourceError(f"--period {period!r}: {exc}") from None
    if found is None:
        try:
            seconds = parse_duration((period or "").strip())
        except ValueError:
            seconds = 0.0
        if seconds <= 0:
            raise SourceError(f"--period {period!r}: write a quarter (2026-Q4), a month (2026-11), a year (2026) "
                              "or a rolling window ending now (28d)")
        return datetime.fromtimestamp(now.timestamp() - seconds, UTC), now, f"last {(period or '').strip()}"
    start, end = found
    return start, end, text


def for_period(runs_dir: Path, start: datetime, end: datetime, label: str, output_dir: Path,
               sli: list[SliSource] | None = None) -> Sources:
    """Every run folder in `runs_dir` (and every stage of an `rxsuite run` folder) started in [start, end), after
    the `sli` sources (a Prometheus over the period): with one, the period may hold no run folder at all."""
    sources = Sources(label=label, output_dir=output_dir, sli=list(sli or []),
                      period={"start": start.isoformat(), "end": end.isoformat(), "label": label})
    if not runs_dir.is_dir():
        if sources.sli:
            return sources
        raise SourceError(f"{runs_dir}: no runs folder (pass --runs-dir, or run a job first)")
    for folder in period_folders(runs_dir):
        started = run_started(folder)
        if started is not None and start <= started < end:
            _add(sources, folder)
    if sources.empty and not sources.sli:
        raise SourceError(f"{runs_dir}: no run folder started in {label} ({start:%Y-%m-%d} to {end:%Y-%m-%d}); "
                          "check --runs-dir and the period")
    return sources


def period_folders(runs_dir: Path) -> list[Path]:
    """Leaf run folders of a runs folder: top-level runs and the stages of `rxsuite run` folders."""
    found: list[Path] = []
    for folder in sorted(p for p in runs_dir.iterdir() if p.is_dir()):
        if read_run_json(folder).get("job") == COMPOSITE_JOB:
            found.extend(sorted(c for c in folder.iterdir() if c.is_dir() and (c / RUN_FILE).is_file()))
        else:
            found.append(folder)
    return found


def run_started(folder: Path) -> datetime | None:
    """Start time from run.json, else from the folder name (`20261125T183255Z-...`)."""
    text = read_run_json(folder).get("started_at")
    if isinstance(text, str):
        try:
            parsed = datetime.fromisoformat(text)
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        except ValueError:
            pass
    m = re.match(r"(\d{8}T\d{6}Z)", folder.name)
    return datetime.strptime(m[1], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC) if m else None


def _add(sources: Sources, folder: Path) -> None:
    holds = False
    if (folder / RECORD_FILE).is_file():
        sources.load_dirs.append(folder)
        holds = True
    if (folder / JOURNEYS_FILE).is_file():
        sources.journeys_dirs.append(folder)
        holds = True
    if (folder / DRILL_FILE).is_file():
        scenarios = _suite_scenarios(folder)
        if scenarios is None:
            sources.drill_dirs.append(folder)
        else:
            sources.drill_suites.append(folder)
            sources.drill_dirs.extend(scenarios)
        holds = True
    info = read_run_json(folder)
    if holds or info:
        sources.runs.append({"folder": folder.name, "job": info.get("job"), "status": info.get("status"),
                             "started_at": info.get("started_at"), "ended_at": info.get("ended_at"),
                             "environment": (info.get("environment") or {}).get("name"),
                             "git_commit": info.get("git_commit"), "suite_version": info.get("suite_version")})


def _suite_scenarios(folder: Path) -> list[Path] | None:
    """The scenario folders of a drill suite's journal (each holds its own drill.json); None for a single drill."""
    try:
        data = json.loads((folder / DRILL_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("kind") != "suite":
        return None
    paths = [folder / str(item["journal"]) for item in data.get("scenarios") or []
             if isinstance(item, dict) and item.get("journal")]
    return [p.parent for p in paths if p.is_file()]
