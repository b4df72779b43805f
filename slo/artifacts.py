"""Inputs the journeys and drill jobs leave in a run folder (`journeys.json`, `drill.json`), read for SLOs.

Only the fields the evaluator needs are read; the files are owned by those jobs (formats: docs/run-folder.md).
A missing file means "not applicable" for its objectives, never a failure.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

JOURNEYS_FILE = "journeys.json"
DRILL_FILE = "drill.json"
JOURNEYS_FORMAT = "rxsuite-journeys/1"
DRILL_FORMAT = "rxsuite-drill/1"
VITAL_FIELDS = {"lcp": "lcp_s", "inp": "inp_s", "cls": "cls", "ttfb": "ttfb_s", "fcp": "fcp_s"}


class ArtifactError(ValueError):
    """A journeys/drill file that cannot be used; names the file and field."""


@dataclass
class JourneySamples:
    steps: list[float] = field(default_factory=list)
    page_loads: list[float] = field(default_factory=list)
    vitals: dict[str, list[float]] = field(default_factory=lambda: {v: [] for v in VITAL_FIELDS})


@dataclass(frozen=True, slots=True)
class DrillScenario:
    """Figures of one drill scenario; `measured` names those it set out to measure (None then means unknown)."""

    name: str
    rto_s: float | None  # None: never recovered (when measured)
    rpo_s: float | None
    rpo_count: int | None
    measured: tuple[str, ...] = ("rto_s", "rpo_s", "rpo_count")


def load_journeys(run_dirs: list[Path]) -> JourneySamples | None:
    """Samples from every run's journeys.json; None when no run has one."""
    samples = JourneySamples()
    found = False
    for run_dir in run_dirs:
        path = run_dir / JOURNEYS_FILE
        if not path.is_file():
            continue
        found = True
        data = _read(path, JOURNEYS_FORMAT)
        for i, step in enumerate(_list(path, data, "steps")):
            samples.steps.append(_seconds(path, f"steps[{i}].duration_s", step.get("duration_s")))
        for i, page in enumerate(_list(path, data, "page_loads")):
            samples.page_loads.append(_seconds(path, f"page_loads[{i}].load_s", page.get("load_s")))
            vitals = page.get("vitals") or {}
            if not isinstance(vitals, dict):
                raise ArtifactError(f"{path}: field page_loads[{i}].vitals must be a mapping")
            for vital, key in VITAL_FIELDS.items():
                if vitals.get(key) is not None:
                    samples.vitals[vital].append(_seconds(path, f"page_loads[{i}].vitals.{key}", vitals[key]))
    return samples if found else None


def load_drills(run_dirs: list[Path]) -> list[DrillScenario] | None:
    """Scenarios from every run's drill.json; None when no run has one."""
    scenarios: list[DrillScenario] = []
    found = False
    for run_dir in run_dirs:
        path = run_dir / DRILL_FILE
        if not path.is_file():
            continue
        found = True
        data = _read_json(path)
        journal_kind = data.get("kind") if isinstance(data, dict) and "schema" in data else None
        if journal_kind == "drill":
            scenarios.append(_journal_scenario(path, data))
            continue
        if journal_kind != "suite":  # a suite journal lists its scenarios as the documented format does
            _check_format(path, data, DRILL_FORMAT)
        for i, item in enumerate(_list(path, data, "scenarios")):
            scenarios.append(_scenario(path, f"scenarios[{i}]", str(item.get("name", f"scenarios[{i}]")), item))
    return scenarios if found else None


def _journal_scenario(path: Path, data: dict[str, Any]) -> DrillScenario:
    """The drill runner's journal (chaos/journal.py): one scenario; `metrics` holds what it measured."""
    metrics = data.get("metrics") or {}
    if not isinstance(metrics, dict):
        raise ArtifactError(f"{path}: field metrics must be a mapping")
    return _scenario(path, "metrics", str(data.get("scenario", path.parent.name)), metrics)


def _scenario(path: Path, at: str, name: str, item: dict[str, Any]) -> DrillScenario:
    count = item.get("rpo_count")
    if count is not None and (not isinstance(count, int) or isinstance(count, bool) or count < 0):
        raise ArtifactError(f"{path}: field {at}.rpo_count: {count!r} must be a whole number >= 0 or null")
    return DrillScenario(
        name=name,
        rto_s=_optional_seconds(path, f"{at}.rto_s", item.get("rto_s")),
        rpo_s=_optional_seconds(path, f"{at}.rpo_s", item.get("rpo_s")),
        rpo_count=count,
        measured=tuple(k for k in ("rto_s", "rpo_s", "rpo_count") if k in item),
    )


def _read(path: Path, fmt: str) -> dict[str, Any]:
    data = _read_json(path)
    _check_format(path, data, fmt)
    return dict(data)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ArtifactError(f"{path}: not valid JSON ({exc})") from None


def _check_format(path: Path, data: Any, fmt: str) -> None:
    if not isinstance(data, dict) or data.get("format") != fmt:
        got = data.get("format") if isinstance(data, dict) else None
        raise ArtifactError(f"{path}: field format: {got!r} is not supported; expected {fmt!r}")


def _list(path: Path, data: dict[str, Any], key: str) -> list[dict[str, Any]]:
    items = data.get(key, [])
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise ArtifactError(f"{path}: field {key} must be a list of objects")
    return items


def _seconds(path: Path, where: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise ArtifactError(f"{path}: field {where}: {value!r} must be a number >= 0")
    return float(value)


def _optional_seconds(path: Path, where: str, value: Any) -> float | None:
    return None if value is None else _seconds(path, where, value)
