"""Objectives -> verdict and score. The verdict passes only if every critical objective holds; the score is the
weighted share of objectives met (0-100), comparable across quarters. An objective whose metric could not be
measured counts as not met."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chaos.metrics import OPERATORS
from chaos.scenario import DrillObjective


def verdict_and_score(objectives: Sequence[DrillObjective],
                      metrics: dict[str, Any]) -> tuple[list[dict[str, Any]], str, float]:
    results = []
    for objective in objectives:
        measured = metrics.get(objective.metric)
        met = measured is not None and OPERATORS[objective.op](float(measured), objective.target)
        if isinstance(measured, float):
            measured = round(measured, 3)
        results.append({"name": objective.name, "metric": objective.metric, "op": objective.op,
                        "target": objective.target, "measured": measured, "met": met, "weight": objective.weight,
                        "critical": objective.critical})
    verdict = "pass" if all(r["met"] for r in results if r["critical"]) else "fail"
    return results, verdict, score(results)


def score(results: Sequence[dict[str, Any]]) -> float:
    total = sum(r["weight"] for r in results)
    if total == 0:
        return 100.0 if all(r["met"] for r in results) else 0.0
    return round(100 * sum(r["weight"] for r in results if r["met"]) / total, 1)
