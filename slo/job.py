"""The SLO evaluation job's lifecycle: `plan` reads the spec (a bad one is refused before anything is read or
written); `execute` evaluates the run folders and writes slo.json where asked."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rxcore.errors import RxError
from rxcore.exitcodes import slo_exit_code
from rxcore.jobs import Progress, Result, StopToken
from slo.artifacts import ArtifactError
from slo.evaluate import Evaluation, EvaluationError, evaluate_runs, write_slo_json
from slo.prometheus import PrometheusError
from slo.promsource import evaluate_prometheus
from slo.promtarget import PrometheusSource, prometheus_source, spec_window
from slo.records import RecordError
from slo.spec import Spec, SpecError, load_spec

__all__ = ["SloPlan", "SloRequest", "evaluation_of", "execute", "plan"]


@dataclass(frozen=True)
class SloRequest:
    runs: tuple[Path, ...]
    spec: Path | None = None
    output: Path | None = None  # default: RUN/slo.json for one run, nothing for several
    write: bool = True
    strict: bool = True  # `rxsuite slo evaluate` gates on insufficient data (exit 3); a job's own verdict may not
    env: str | None = None  # evaluate from the environment's Prometheus instead of run folders
    window: str | None = None  # 28d, 2026-11, 2026-Q4 (slo.windows)
    since: str | None = None
    until: str | None = None


@dataclass(frozen=True)
class SloPlan:
    request: SloRequest
    spec: Spec
    source: PrometheusSource | None = None


def plan(request: SloRequest) -> SloPlan:
    if request.env is None and (request.window or request.since or request.until):
        raise RxError("--window, --since and --until choose a period of Prometheus history: add --env NAME")
    if request.env is not None and request.runs:
        raise RxError("give run folders or --env NAME (Prometheus), not both")
    if not request.runs and request.env is None:
        raise RxError("name at least one run folder, or --env NAME to evaluate from its Prometheus")
    try:
        spec = load_spec(request.spec)
    except SpecError as exc:
        raise RxError(str(exc)) from None
    if request.env is None:
        return SloPlan(request, spec)
    return SloPlan(request, spec, prometheus_source(request.env, request.window, request.since, request.until,
                                                    default=spec_window(spec)))


def execute(slo_plan: SloPlan, progress: Progress | None = None, stop: StopToken | None = None) -> Result:
    request = slo_plan.request
    try:
        if slo_plan.source is not None:
            evaluation = evaluate_prometheus(slo_plan.spec, slo_plan.source.client, slo_plan.source.window)
        else:
            evaluation = evaluate_runs(request.runs, slo_plan.spec)
    except (EvaluationError, SpecError, ArtifactError, RecordError, PrometheusError) as exc:
        raise RxError(str(exc)) from None
    written = None
    target = request.output or (request.runs[0] if len(request.runs) == 1 else None)
    if request.write and target is not None:
        written = write_slo_json(evaluation, target)
    code = slo_exit_code(evaluation.verdict, request.strict)
    return Result(code, "completed", written.parent if written else None, evaluation.verdict,
                  details={"evaluation": evaluation})


def evaluation_of(result: Result) -> Evaluation:
    """The evaluation a result of this job carries (for the CLI's table and `rxsuite run`'s banner)."""
    evaluation: Evaluation = result.details["evaluation"]
    return evaluation
