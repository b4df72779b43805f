"""Drill suites (chaos/suites/*.yaml): an ordered list of scenarios with weights. The suite's score is the
weighted mean of the scenario scores; its verdict passes when every scenario ended as its file expects."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from chaos.scenario import Scenario, load_scenario
from rxcore.errors import ConfigError

SUITE_DIR = Path(__file__).resolve().parent / "suites"


@dataclass(frozen=True)
class Suite:
    name: str
    file: Path
    description: str
    scenarios: tuple[tuple[Scenario, float], ...]


def known_suites() -> list[str]:
    return sorted(p.stem for p in SUITE_DIR.glob("*.yaml"))


def load_suite(name_or_path: str) -> Suite:
    """The suite and every scenario in it, all validated before the first one runs."""
    path = Path(name_or_path) if name_or_path.endswith((".yaml", ".yml")) else SUITE_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        raise ConfigError(str(path), "--suite", "no such suite file", f"known suites: {', '.join(known_suites())}")
    raw = yaml.safe_load(path.read_text()) or {}
    if not isinstance(raw, dict) or not isinstance(raw.get("scenarios"), list) or not raw["scenarios"]:
        raise ConfigError(str(path), "scenarios", "missing or empty", "list scenarios: [{scenario: NAME, weight: 1}]")
    entries = []
    for i, entry in enumerate(raw["scenarios"]):
        if not isinstance(entry, dict) or not isinstance(entry.get("scenario"), str):
            raise ConfigError(str(path), f"scenarios[{i}].scenario", "missing", "name a file in chaos/scenarios")
        weight = entry.get("weight", 1)
        if isinstance(weight, bool) or not isinstance(weight, int | float) or weight < 0:
            raise ConfigError(str(path), f"scenarios[{i}].weight", f"{weight!r} is not a weight", "use a number >= 0")
        entries.append((load_scenario(entry["scenario"]), float(weight)))
    return Suite(str(raw.get("name", path.stem)), path, str(raw.get("description", "")), tuple(entries))


def summarise(results: list[tuple[dict[str, Any], float]]) -> dict[str, Any]:
    total = sum(weight for _, weight in results)
    score = round(sum(r.get("score", 0.0) * w for r, w in results) / total, 1) if total else 0.0
    as_expected = all(r.get("as_expected") for r, _ in results)
    return {"score": score, "verdict": "pass" if as_expected else "fail", "as_expected": as_expected}
