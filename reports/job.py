"""The report job's lifecycle: `plan` finds the sources (a run folder, or a period: its run folders and, with `env`,
the environment's Prometheus and its synthetic monitor's record over it) and the baseline, refusing before anything
is written; `execute` evaluates, builds and writes the report files."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from reports.builder import generate
from reports.sources import SourceError, Sources, for_period, for_run, parse_period
from rxcore import validation
from rxcore.errors import ConfigError, RxError
from rxcore.exitcodes import ExitCode
from rxcore.jobs import DEFAULT_RUNS_DIR, Progress, QuietProgress, Result, StopToken
from slo.artifacts import ArtifactError
from slo.evaluate import EvaluationError
from slo.monitorsource import monitor_source
from slo.prometheus import PrometheusError
from slo.promtarget import prometheus_source, window_of
from slo.records import RecordError
from slo.sli import MonitorSli, PrometheusSli, SliSource
from slo.spec import SpecError
from slo.windows import calendar_period

__all__ = ["ReportPlan", "ReportRequest", "execute", "plan"]

_INPUT_ERRORS = (SourceError, SpecError, EvaluationError, ArtifactError, RecordError, PrometheusError)


@dataclass(frozen=True)
class ReportRequest:
    run: Path | None = None
    period: str | None = None
    since: str | None = None
    baseline: Path | None = None
    spec: Path | None = None
    runs_dir: Path = DEFAULT_RUNS_DIR
    output: Path | None = None
    pdf: bool = True
    title: str | None = None  # None: environment, jobs and date
    env: str | None = None  # a period's SLIs from this environment's Prometheus too (before its run folders)
    known_secrets: Sequence[str] = ()  # values to mask wherever they hide (a sandbox's keys and passwords)


@dataclass(frozen=True)
class ReportPlan:
    request: ReportRequest
    sources: Sources
    baseline: Sources | None
    runs_root: Path


def plan(request: ReportRequest) -> ReportPlan:
    if (request.run is None) == (request.period is None and request.since is None):
        raise RxError("name a run folder, or --period/--since (not both): e.g. `rxsuite report runs/<folder>` or "
                      "`rxsuite report --period 2026-Q4`")
    if request.env is not None and request.run is not None:
        raise RxError("--env reads a period from Prometheus: give --period or --since instead of a run folder")
    try:
        if request.run is not None:
            sources = for_run(request.run)
            if request.output is not None:
                sources.output_dir = request.output
            runs_root = request.run.resolve().parent
        else:
            if request.period is not None and validation.option("--period", calendar_period,
                                                                 request.period) is not None:
                validation.option("--period", validation.period, request.period)
            start, end, label = parse_period(request.period, request.since)
            output = request.output or request.runs_dir / f"report-{label.replace(' ', '-')}"
            sli = _environment_sli(request.env, request.period, request.since, request.runs_dir) \
                if request.env is not None else []
            sources = for_period(request.runs_dir, start, end, label, output, sli)
            runs_root = request.runs_dir
        baseline = for_run(request.baseline) if request.baseline is not None else None
    except _INPUT_ERRORS as exc:
        raise RxError(str(exc)) from None
    return ReportPlan(request, sources, baseline, runs_root)


def _environment_sli(env: str, period: str | None, since: str | None, runs_dir: Path) -> list[SliSource]:
    """The environment's Prometheus (named in its file or offered by its plug-in), then its synthetic monitor's
    record, whichever it has; an error naming both fixes when it has neither."""
    sli: list[SliSource] = []
    try:
        found = prometheus_source(env, period, since, None, command="rxsuite report")
        sli.append(PrometheusSli(found.client, found.window, environment=found.environment))
        window = found.window
    except ConfigError as no_prometheus:
        if no_prometheus.field != "prometheus":
            raise
        missing: ConfigError | None = no_prometheus
        window = window_of(period, since, None, command="rxsuite report")
    else:
        missing = None
    try:
        record = monitor_source(env, window, runs_dir)
        sli.append(MonitorSli(record, environment=record.folder.name))
    except ConfigError:
        if missing is not None:
            raise RxError(f"{missing}; or run `rxsuite monitor --env {env}` first, so its record can be "
                          "reported") from None
    return sli


def execute(report_plan: ReportPlan, progress: Progress | None = None, stop: StopToken | None = None) -> Result:
    progress = progress or QuietProgress()
    request = report_plan.request
    try:
        built = generate(report_plan.sources, request.spec, baseline=report_plan.baseline,
                         runs_root=report_plan.runs_root, pdf=request.pdf, known_secrets=request.known_secrets,
                         title=request.title)
    except _INPUT_ERRORS as exc:
        raise RxError(str(exc)) from None
    for note in built.notes:
        progress.note("note", note)
    return Result(ExitCode(built.exit_code), "completed", built.html.parent, built.verdict,
                  details={"files": built.files, "regressions": built.regressions, "notes": built.notes})
