"""SLI sources behind one interface: each evaluates a spec over its own data, and `evaluate_sources` combines them
into one evaluation in which every result names the source it came from.

A source is anything with a `kind` (a short label: "prometheus", "run folders") and `evaluate(spec) ->
Evaluation` that marks the objectives it has no data for as not applicable. The sources are asked in order and,
per spec objective, the first one with an applicable result answers it: a period report asks Prometheus first,
then the synthetic monitor's record, then the run folders of the period (journeys, drills, objectives without a
`prometheus:` block).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from slo.evaluate import Evaluation, ObjectiveResult, evaluate_runs
from slo.monitorsource import MonitorSource, evaluate_monitor
from slo.prometheus import PrometheusClient
from slo.promsource import evaluate_prometheus
from slo.spec import Objective, Spec
from slo.validity import Validity
from slo.windows import Window

__all__ = ["MonitorSli", "PrometheusSli", "RunFolderSli", "SliSource", "evaluate_sources", "source_of"]


class SliSource(Protocol):
    """One place SLIs are read from. `evaluate` returns every objective of the spec, those it has no data for as
    `not-applicable`; each applicable result's `details["source"]` says where its numbers come from: a dict with
    `type` (the kind) and, for a kind source_of does not know, `text` (one line for the report)."""

    @property
    def kind(self) -> str: ...

    def evaluate(self, spec: Spec) -> Evaluation: ...


@dataclass(frozen=True)
class PrometheusSli:
    """Objectives with a `prometheus:` block (or an OpenSLO Prometheus source), over a window of its history."""

    client: PrometheusClient
    window: Window
    kind: str = "prometheus"
    environment: str = ""  # whose Prometheus (an environment's name), for titles

    def evaluate(self, spec: Spec) -> Evaluation:
        return evaluate_prometheus(spec, self.client, self.window)


@dataclass(frozen=True)
class MonitorSli:
    """The synthetic monitor's record of an environment over a window, its maintenance windows left out."""

    source: MonitorSource
    kind: str = "monitor"
    environment: str = ""  # whose record (an environment's name), for titles

    def evaluate(self, spec: Spec) -> Evaluation:
        return evaluate_monitor(spec, self.source)


@dataclass(frozen=True)
class RunFolderSli:
    """Run folders (latency.jsonl, journeys.json, drill.json), merged as one period."""

    folders: tuple[Path, ...]
    kind: str = "run folders"

    def evaluate(self, spec: Spec) -> Evaluation:
        evaluation = evaluate_runs(self.folders, spec)
        source = {"type": "run folders", "folders": [folder.name for folder in self.folders]}
        for result in evaluation.objectives:
            if result.verdict != "not-applicable":
                result.details.setdefault("source", source)
        return evaluation


def evaluate_sources(spec: Spec, sources: Sequence[SliSource]) -> Evaluation:
    """One evaluation from several sources: per spec objective, the results of the first source that could judge
    it (else the last source's not-applicable reasons). The span covers every source that answered something; the
    notes are each source's, prefixed by its kind; the validity is the run folders' (a source without one is
    valid)."""
    if not sources:
        raise ValueError("no SLI source to evaluate from")
    evaluations = [(source, source.evaluate(spec)) for source in sources]
    if len(evaluations) == 1:
        return evaluations[0][1]
    chosen: list[ObjectiveResult] = []
    answered: list[Evaluation] = []
    for objective in spec.objectives:
        fallback: list[ObjectiveResult] = []
        for _, evaluation in evaluations:
            mine = [r for r in evaluation.objectives if _belongs(r, objective)]
            if any(r.verdict != "not-applicable" for r in mine):
                chosen.extend(mine)
                if evaluation not in answered:
                    answered.append(evaluation)
                break
            fallback = mine
        else:
            chosen.extend(fallback)
    validity = Validity()
    for _, evaluation in evaluations:
        validity.merge(evaluation.validity)
    starts = [e.start for e in answered if e.start is not None]
    ends = [e.end for e in answered if e.end is not None]
    first = evaluations[0][1]
    return Evaluation(spec_name=first.spec_name, spec_path=first.spec_path,
                      runs=[run for _, e in evaluations for run in e.runs], confidence=spec.confidence,
                      rate_limited=spec.rate_limited, start=min(starts) if starts else None,
                      end=max(ends) if ends else None, objectives=chosen,
                      notes=[f"{source.kind}: {note}" for source, e in evaluations for note in e.notes],
                      validity=validity, headline=spec.headline_names)


def source_of(result: dict[str, Any]) -> str | None:
    """One line saying where a result's numbers come from (for reports): the Prometheus, window and selectors, or
    the run folders; None for a result without a source (not applicable)."""
    source = (result.get("details") or {}).get("source")
    if not isinstance(source, dict):
        return None
    if source.get("type") == "prometheus":
        details = result.get("details") or {}
        if "total_selector" in details:
            side = "bad" if details.get("bad_is") == "bad" else "good"
            what = f"{side} {details.get('bad_selector')} of total {details['total_selector']}"
        else:
            what = f"the buckets of {details.get('histogram')}"
        if details.get("by"):
            what += f" by {', '.join(details['by'])}"
        return (f"Prometheus {source.get('url')}, {source.get('window')}: {what} "
                f"({source.get('queries')} queries, exact counts per {source.get('step_s'):g} s step)")
    if source.get("type") == "monitor":
        excluded = (result.get("details") or {}).get("excluded_maintenance_checks")
        left_out = f", {excluded} checks in maintenance left out" if excluded else ""
        return f"synthetic monitor record {source.get('folder')}, {source.get('window')}: every check{left_out}"
    if source.get("type") == "run folders":
        folders = source.get("folders") or []
        shown = ", ".join(folders[:3]) + (f" and {len(folders) - 3} more" if len(folders) > 3 else "")
        return f"run folders: {shown}"
    return str(source.get("text") or source.get("type"))  # another source says it in its own words


def _belongs(result: ObjectiveResult, objective: Objective) -> bool:
    return result.name == objective.name or result.name.startswith(objective.name + "[")
