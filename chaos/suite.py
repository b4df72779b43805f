"""Drill suites (chaos/suites/*.yaml): an ordered list of scenarios with weights. The suite's score is the
weighted mean of the scenario scores; its verdict passes when every scenario ended as its file expects."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chaos.scenario import Scenario, load_scenario
from rxcore import validation
from rxcore.errors import ConfigError
from rxcore.yamlfile import read_yaml

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
    doc = read_yaml(path)
    raw = doc.data or {}
    if not isinstance(raw, dict) or not isinstance(raw.get("scenarios"), list) or not raw["scenarios"]:
        raise doc.error(("scenarios",), "missing or empty", "list scenarios: [{scenario: NAME, weight: 1}]")
    for key in raw:
        if key not in ("name", "description", "scenarios"):
            raise doc.error((key,), "unknown field", "allowed: name, description, scenarios")
    entries = []
    for i, entry in enumerate(raw["scenarios"]):
        if not isinstance(entry, dict) or not isinstance(entry.get("scenario"), str):
            raise doc.error(("scenarios", i, "scenario"), "missing or not one name", "name a file in chaos/scenarios")
        unknown = set(entry) - {"scenario", "weight"}
        if unknown:
            raise doc.error(("scenarios", i, str(sorted(map(str, unknown))[0])), "unknown field",
                            "allowed: scenario, weight")
        try:
            weight = validation.finite(entry.get("weight", 1), 0, 1000, what="weight")
        except ValueError as exc:
            raise doc.error(("scenarios", i, "weight"), str(exc), "use a number from 0 to 1000") from None
        entries.append((load_scenario(entry["scenario"]), weight))
    name, description = raw.get("name", path.stem), raw.get("description", "")
    if not isinstance(name, str) or not isinstance(description, str):
        raise doc.error(("name",), "name and description must be text", "write a string")
    return Suite(name, path, description, tuple(entries))


def summarise(results: list[tuple[dict[str, Any], float]]) -> dict[str, Any]:
    total = sum(weight for _, weight in results)
    score = round(sum(r.get("score", 0.0) * w for r, w in results) / total, 1) if total else 0.0
    as_expected = all(r.get("as_expected") for r, _ in results)
    return {"score": score, "verdict": "pass" if as_expected else "fail", "as_expected": as_expected}
