"""The SLO evaluation job's lifecycle: `plan` reads the spec (a bad one is refused before anything is read or
written) and picks the source; `execute` evaluates the run folders, the environment's Prometheus or its monitor
record, and writes slo.json where asked."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rxcore.errors import ConfigError, RxError
from rxcore.exitcodes import slo_exit_code
from rxcore.jobs import DEFAULT_RUNS_DIR, Progress, Result, StopToken
from slo.artifacts import ArtifactError
from slo.evaluate import Evaluation, EvaluationError, evaluate_runs, write_slo_json
from slo.monitorsource import MonitorSource, evaluate_monitor, monitor_source
from slo.prometheus import PrometheusError
from slo.promsource import evaluate_prometheus
from slo.promtarget import PrometheusSource, prometheus_source, spec_window, window_of
from slo.records import RecordError
from slo.spec import Spec, SpecError, load_spec

__all__ = ["SOURCES", "SloPlan", "SloRequest", "evaluation_of", "execute", "plan"]

# auto: the environment's Prometheus when it has one, else its monitor record (a team without Prometheus)
SOURCES = ("auto", "prometheus", "monitor")


@dataclass(frozen=True)
class SloRequest:
    runs: tuple[Path, ...]
    spec: Path | None = None
    output: Path | None = None  # default: RUN/slo.json for one run, nothing for several
    write: bool = True
    strict: bool = True  # `rxsuite slo evaluate` gates on insufficient data (exit 3); a job's own verdict may not
    env: str | None = None  # evaluate from the environment's Prometheus or monitor record instead of run folders
    window: str | None = None  # 28d, 2026-11, 2026-Q4 (slo.windows)
    since: str | None = None
    until: str | None = None
    source: str = "auto"  # with env: one of SOURCES
    runs_dir: Path = DEFAULT_RUNS_DIR  # where the monitor's record is (runs/monitor/<env>)


@dataclass(frozen=True)
class SloPlan:
    request: SloRequest
    spec: Spec
    source: PrometheusSource | None = None
    monitor: MonitorSource | None = None


def plan(request: SloRequest) -> SloPlan:
    if request.env is None and (request.window or request.since or request.until or request.source != "auto"):
        raise RxError("--window, --since, --until and --source choose a period of an environment's history "
                      "(Prometheus or the monitor's record): add --env NAME")
    if request.env is not None and request.runs:
        raise RxError("give run folders or --env NAME (Prometheus or the monitor's record), not both")
    if not request.runs and request.env is None:
        raise RxError("name at least one run folder, or --env NAME to evaluate from its Prometheus or monitor record")
    if request.source not in SOURCES:
        raise RxError(f"--source {request.source!r}: use one of {', '.join(SOURCES)}")
    try:
        spec = load_spec(request.spec)
    except SpecError as exc:
        raise RxError(str(exc)) from None
    if request.env is None:
        return SloPlan(request, spec)
    default = spec_window(spec)
    if request.source == "monitor":
        window = window_of(request.window, request.since, request.until, default=default)
        return SloPlan(request, spec, monitor=monitor_source(request.env, window, request.runs_dir))
    try:
        return SloPlan(request, spec, prometheus_source(request.env, request.window, request.since, request.until,
                                                        default=default))
    except ConfigError as no_prometheus:
        if request.source == "prometheus" or no_prometheus.field != "prometheus":
            raise
        window = window_of(request.window, request.since, request.until, default=default)
        try:
            return SloPlan(request, spec, monitor=monitor_source(request.env, window, request.runs_dir))
        except ConfigError:
            raise RxError(f"{no_prometheus}; or run `rxsuite monitor --env {request.env}` first and evaluate "
                          "its record (--source monitor)") from None


def execute(slo_plan: SloPlan, progress: Progress | None = None, stop: StopToken | None = None) -> Result:
    request = slo_plan.request
    try:
        if slo_plan.monitor is not None:
            evaluation = evaluate_monitor(slo_plan.spec, slo_plan.monitor)
        elif slo_plan.source is not None:
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
