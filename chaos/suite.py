"""Drill suites (chaos/suites/*.yaml): an ordered list of scenarios with weights. The suite's score is the
weighted mean of the scenario scores; its verdict passes when every scenario ended as its file expects."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field

from chaos.scenario import Scenario, load_scenario
from rxcore.errors import ConfigError
from rxcore.schema import Strict, validate_document
from rxcore.yamlfile import read_yaml

SUITE_DIR = Path(__file__).resolve().parent / "suites"


class SuiteEntry(Strict):
    scenario: Annotated[str, Field(min_length=1, max_length=300)]
    weight: Annotated[float, Field(ge=0, le=1000, allow_inf_nan=False)] = 1.0


class SuiteFile(Strict):
    """The schema of a suite file; each scenario file is then checked by chaos.scenario."""

    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    description: str = ""
    scenarios: Annotated[list[SuiteEntry], Field(min_length=1, max_length=100)]


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
    checked = validate_document(SuiteFile, read_yaml(path), "list scenarios: [{scenario: NAME, weight: 1}]")
    entries = tuple((load_scenario(entry.scenario), entry.weight) for entry in checked.scenarios)
    return Suite(checked.name or path.stem, path, checked.description, entries)


def summarise(results: list[tuple[dict[str, Any], float]]) -> dict[str, Any]:
    total = sum(weight for _, weight in results)
    score = round(sum(r.get("score", 0.0) * w for r, w in results) / total, 1) if total else 0.0
    as_expected = all(r.get("as_expected") for r, _ in results)
    return {"score": score, "verdict": "pass" if as_expected else "fail", "as_expected": as_expected}
