"""Objectives -> verdict and score. The verdict passes only if every critical objective holds; the score is the
weighted share of objectives met (0-100), comparable across quarters. An objective whose metric could not be
measured counts as not met. Every scenario carries the after-steady-state as a critical objective (chaos.scenario),
so a drill that leaves the environment broken fails whatever else it met."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chaos.metrics import OPERATORS
from chaos.scenario import STEADY_AFTER, DrillObjective


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


def left_as_found(metrics: dict[str, Any]) -> bool:
    """Whether the steady state held after the rollbacks: without it no drill ends as expected, not even one
    designed to fail (its failure must not leave the environment broken)."""
    return metrics.get(STEADY_AFTER) == 1


def score(results: Sequence[dict[str, Any]]) -> float:
    total = sum(r["weight"] for r in results)
    if total == 0:
        return 100.0 if all(r["met"] for r in results) else 0.0
    return round(100 * sum(r["weight"] for r in results if r["met"]) / total, 1)
