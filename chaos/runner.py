"""The drill runner: steady state -> background load -> timed method under safeguards -> rollbacks (always) ->
wait for recovery -> steady state after -> ledger verification -> RTO, RPO, objectives, verdict, score.

The method's steps hold the fault for their `duration_s`; the rollbacks then undo it (a fault the platform must
survive on its own, such as a lost primary, is held long enough in the method for the failover to happen).

Nothing touches the target before the scenario, the drivers and the steady state have all been accepted. Ctrl-C
and SIGTERM only set the `stop` event (the CLI's handlers): the method ends at its next wait and the rollbacks run.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from chaos import measure
from chaos.alerts import AlertWatcher, alert_source
from chaos.context import DrillContext
from chaos.drivers import BUILTIN_DRIVER
from chaos.drivers.select import build_drivers
from chaos.journal import DRILL_FILE, Journal, iso
from chaos.load import BackgroundLoad
from chaos.objectives import left_as_found, verdict_and_score
from chaos.probes import Prober, ProbeTarget, fetch_ledger, retry
from chaos.scenario import Action, Scenario
from chaos.steady import run_checks, until_steady
from rxcore.environment import Environment
from rxcore.plugins import Platform

Progress = Callable[[str, str], None]
PROBE_FILE = "probes.jsonl"
_POLL_S = 0.05
_QUIET_BEFORE_S = 90.0  # longest wait for an earlier fault's alerts to resolve before the method


def _quiet(kind: str, message: str) -> None:
    return


class _Halt:
    """Ends the method early: the caller's `stop` (Ctrl-C, SIGTERM: it also ends a suite) or this drill's own
    reasons (a safeguard, a failed step: only this drill). The first reason wins."""

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop
        self.event = threading.Event()
        self.reason: str | None = None
        self.kind: str | None = None
        self._lock = threading.Lock()

    def set(self, kind: str, reason: str) -> None:
        with self._lock:
            if self.reason is None:
                self.kind, self.reason = kind, reason
        self.event.set()

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`; True (at once) when halted or interrupted."""
        deadline = time.monotonic() + seconds
        while True:
            if self.stop.is_set():
                self.event.set()
            remaining = deadline - time.monotonic()
            if self.event.is_set() or remaining <= 0:
                return self.event.is_set()
            self.event.wait(min(_POLL_S, remaining))

    @property
    def halted(self) -> bool:
        return self.wait(0)

    @property
    def interrupted(self) -> bool:
        return self.stop.is_set() and self.kind is None


class DrillRunner:
    def __init__(self, scenario: Scenario, env: Environment, folder: Path, target: ProbeTarget,
                 platform: Platform | None, stop: threading.Event, progress: Progress = _quiet,
                 background_load: bool = True) -> None:
        self.scenario = scenario
        self.env = env
        self.folder = folder
        self.target = target
        self.platform = platform
        self.progress = progress
        self.background_load = background_load
        self.abort = _Halt(stop)
        self.run_id = f"drill-{scenario.name}-{uuid.uuid4().hex[:12]}"
        self.drivers = build_drivers(env, set(scenario.drivers), platform)
        self.journal = Journal(folder / DRILL_FILE, {
            "kind": "drill", "scenario": scenario.name, "scenario_file": str(scenario.file),
            "description": scenario.description, "expect": scenario.expect,
            "designed_to_show": scenario.designed_to_show, "environment": env.name, "run_id": self.run_id,
            "status": "running", "started_at": iso(time.time()), "ended_at": None,
            "probes": {"rate_hz": scenario.probes.rate_hz, "timeout_s": scenario.probes.timeout_s,
                       "stability_s": scenario.probes.stability_s, "file": PROBE_FILE},
            "timeline": [], "actions": [],
        })
        self.prober = Prober(target, self.run_id, scenario.probes, folder / PROBE_FILE)
        self.ctx = DrillContext(self.run_id, self.prober, self.abort.event)
        self.fault_at: float | None = None
        self.fault_done_at: float | None = None
        self.method_start: float | None = None
        self.method_end: float | None = None
        self.rollback_failures: list[str] = []
        self.alerts = self._alert_watcher()

    # ----- the whole drill ----------------------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        load = BackgroundLoad(self.scenario.load, self.env.file, self.folder, enabled=self.background_load)
        self.prober.start()
        self.journal.timeline("probes_started")
        try:
            if self._steady_before():
                if self.alerts is not None:
                    self._alerts_quiet(self.alerts)
                    self.alerts.start()
                self.journal.update(load=load.start())
                self.progress("load", self.journal.data["load"]["detail"])
                self._method()
        except Exception as exc:
            self.abort.set("error", f"{type(exc).__name__}: {exc}")
            self.progress("error", self.abort.reason or "")
        finally:
            ledger, steady_after = self._restore(load)
        return self._conclude(ledger, steady_after)

    def _restore(self, load: BackgroundLoad) -> tuple[measure.LedgerResult | None, bool | None]:
        """Rollbacks, then the after checks and the ledger: run on every way out of the method."""
        try:
            self._rollbacks()
            self.journal.update(load_stopped=load.stop())
            if self.fault_at is not None and not self.abort.interrupted:
                self._wait_for_recovery()
            steady_after = self._steady_after() if self.method_start is not None else None
            self._await_alerts()
        finally:
            if self.alerts is not None and self.alerts.since is not None:
                self.alerts.stop()
            self.prober.stop()
            self.journal.timeline("probes_stopped")
        return self._verify_ledger(), steady_after

    def _steady_before(self) -> bool:
        self.progress("steady", "checking the steady state before the method")
        results = run_checks(self.scenario.checks, self.target, self.prober, self.drivers.get("sandbox"),
                             self.abort.event)
        held = all(r["ok"] for r in results)
        self.journal.update(steady_state_before={"held": held, "checks": results})
        self.journal.timeline("steady_state_before", held=held)
        if not held:
            failed = "; ".join(r["detail"] for r in results if not r["ok"])
            self.abort.set("steady_state", f"steady state before the method does not hold: {failed}")
            self.progress("abort", self.abort.reason or "")
        return held and not self.abort.halted

    # ----- method -----------------------------------------------------------------------------------------------
    def _method(self) -> None:
        self.method_start = time.time()
        self.journal.timeline("method_started")
        guard = threading.Thread(target=self._safeguards, name="safeguards", daemon=True)
        guard.start()
        start_mono = time.monotonic()
        next_at = start_mono
        try:
            for step in self.scenario.method:
                planned = start_mono + step.at_s if step.at_s is not None else next_at + step.after_s
                if self.abort.wait(max(0.0, planned - time.monotonic())):
                    self._record(step, "method", None, None, "skipped", {"reason": self.abort.reason or "stopped"})
                    continue
                ok = self._execute(step, "method", planned_s=planned - start_mono)
                if not ok:
                    self.abort.set("step_failed", f"{step.where} ({step.name}) failed")
                    continue
                next_at = time.monotonic() + step.duration_s
            self.abort.wait(max(0.0, next_at - time.monotonic()))
        finally:
            self.method_end = time.time()
            self.journal.timeline("method_ended", aborted=self.abort.reason)

    def _execute(self, step: Action, phase: str, planned_s: float | None = None) -> bool:
        self.progress(phase, f"{step.name} ({step.driver}.{step.action})")
        if step.fault:
            self.prober.align()
        started = time.time()
        try:
            detail = self._dispatch(step)
            outcome, ok = "ok", True
        except Exception as exc:
            detail, outcome, ok = {"error": f"{type(exc).__name__}: {exc}"}, "error", False
            self.progress("error", f"{step.name}: {detail['error']}")
        ended = time.time()
        if step.fault and ok:
            self.fault_at, self.fault_done_at = started, ended
            self.journal.timeline("fault_injected", started, step=step.name)
        self._record(step, phase, started, ended, outcome, detail, planned_s)
        return ok

    def _dispatch(self, step: Action) -> dict[str, Any]:
        if step.driver != BUILTIN_DRIVER:
            return self.drivers[step.driver].run(step.action, step.args, self.ctx)
        if step.action == "wait":
            self.abort.wait(float(step.args["seconds"]))
            return {}
        if step.action == "mark":
            self.ctx.marks[step.args["name"]] = time.time()
            return {"at": iso(self.ctx.marks[step.args["name"]])}
        recovered = self._wait_for_recovery(float(step.args.get("timeout_s", self.scenario.recovery_timeout_s)))
        return {"recovered": recovered}

    def _record(self, step: Action, phase: str, started: float | None, ended: float | None, outcome: str,
                detail: dict[str, Any], planned_s: float | None = None) -> None:
        self.journal.append("actions", {
            "phase": phase, "name": step.name, "driver": step.driver, "action": step.action, "args": step.args,
            "fault": step.fault, "planned_s": None if planned_s is None else round(planned_s, 3),
            "started_at": iso(started), "ended_at": iso(ended), "started_unix": started, "ended_unix": ended,
            "duration_s": None if started is None or ended is None else round(ended - started, 3),
            "outcome": outcome, "detail": detail})

    def _safeguards(self) -> None:
        started = time.monotonic()
        while not self.abort.halted and self.method_end is None:
            for guard in self.scenario.safeguards:
                elapsed = time.monotonic() - started
                if guard.max_duration_s is not None and elapsed > guard.max_duration_s:
                    self.abort.set("safeguard", f"{guard.where}: method ran past {guard.max_duration_s:g} s")
                if guard.window_s is not None and guard.below is not None and elapsed >= guard.window_s:
                    measured = self.prober.availability(guard.window_s)
                    if measured is not None and measured < guard.below:
                        self.abort.set("safeguard", f"{guard.where}: availability {measured:.2f} over the last "
                                       f"{guard.window_s:g} s fell below {guard.below:g}")
            if self.abort.kind == "safeguard":
                self.progress("abort", self.abort.reason or "")
                self.journal.timeline("safeguard_tripped", reason=self.abort.reason)
                return
            self.abort.wait(0.25)

    def _wait_for_recovery(self, timeout_s: float | None = None) -> bool:
        if self.fault_at is None:
            return False
        timeout_s = self.scenario.recovery_timeout_s if timeout_s is None else timeout_s
        deadline = time.monotonic() + timeout_s
        self.progress("recovery", f"waiting up to {timeout_s:g} s for {self.scenario.probes.stability_s:g} s of "
                      "continuous probe success")
        while not self.abort.halted and time.monotonic() < deadline:
            if measure.rto_s(self.prober.samples(), self.fault_at, self.scenario.probes.stability_s,
                             time.time() - self.scenario.probes.timeout_s) is not None:
                return True
            self.abort.wait(0.25)
        return False

    # ----- alerting -------------------------------------------------------------------------------------------------
    def _alert_watcher(self) -> AlertWatcher | None:
        """A watcher when the scenario declares `alerts:` and the environment names an Alertmanager; a scenario
        that declares alerts where none is named is run without the alert checks, and drill.json says so."""
        checks = self.scenario.alerts
        if checks is None:
            return None
        source = alert_source(self.env, self.platform)
        if source is None:
            self.journal.update(alerting={"checked": False, "findings": [
                "alert checks skipped: the environment names no Alertmanager (add alerting: {alertmanager_url: "
                "...} to its file)"]})
            return None
        return AlertWatcher(source, checks)

    def _alerts_quiet(self, watcher: AlertWatcher) -> None:
        if watcher.wait_quiet(self.abort.stop, _QUIET_BEFORE_S) >= 1:
            self.progress("alerts", f"waited {watcher.waited_before_s:g} s for the required alerts of an earlier "
                          "fault to resolve")

    def _alert_times(self) -> tuple[float, float]:
        """(origin, recovery) of the alert timings: the fault's start (else the method's), and the probes'
        recovery; when the probes saw no failure (a region failover users never noticed), the method's end, when
        the fault the method held was undone."""
        origin = self.fault_at if self.fault_at is not None else (self.method_start or time.time())
        method_end = self.method_end or time.time()
        rto = None
        if self.fault_at is not None:
            rto = measure.rto_s(self.prober.samples(), self.fault_at, self.scenario.probes.stability_s,
                                time.time() - self.scenario.probes.timeout_s)
        return origin, origin + rto if rto else method_end

    def _await_alerts(self) -> None:
        """Keep watching after recovery until the declared alerts fired and resolved, or their time ran out."""
        if self.alerts is None or self.alerts.since is None or self.method_start is None or self.abort.interrupted:
            return
        origin, recovered = self._alert_times()
        deadline = self.alerts.deadline(origin, recovered)
        left = deadline - time.time()
        if left > 0:
            self.progress("alerts", f"watching Alertmanager up to {left:.0f} s more for the declared alerts")
        while time.time() < deadline and not self.alerts.settled(origin, recovered):
            if self.abort.stop.wait(0.25):  # Ctrl-C ends the watch; a safeguard's halt does not
                return

    def _alert_figures(self, figures: dict[str, Any]) -> dict[str, Any] | None:
        if self.alerts is None or self.alerts.since is None or self.method_start is None:
            return None
        origin, recovered = self._alert_times()
        section, found = self.alerts.report(origin, recovered, figures.get("downtime_s"))
        figures.update(found)
        for finding in section.get("findings", []):
            self.progress("alerts", finding)
        return section

    # ----- always: rollbacks, steady state after, ledger ------------------------------------------------------------
    def _rollbacks(self) -> None:
        if self.method_start is None:
            return
        self.progress("rollback", f"{len(self.scenario.rollbacks)} rollback step(s)")
        self.rollback_failures = [step.name for step in self.scenario.rollbacks if not self._execute(step, "rollback")]
        self.journal.timeline("rollback_done", all_ok=not self.rollback_failures)

    def _steady_after(self) -> bool:
        self.progress("steady", f"waiting up to {self.scenario.after_timeout_s:g} s for the steady state after")
        held, results, waited = until_steady(self.scenario.checks, self.target, self.prober,
                                             self.drivers.get("sandbox"), self.scenario.after_timeout_s)
        self.journal.update(steady_state_after={"held": held, "waited_s": round(waited, 2), "checks": results})
        self.journal.timeline("steady_state_after", held=held)
        return held

    def _verify_ledger(self) -> measure.LedgerResult | None:
        """Read back every ledger write once the probes have stopped (none in flight: each has its outcome)."""
        if "write" not in self.prober.kinds or self.method_start is None:
            return None
        try:
            present = retry(lambda: fetch_ledger(self.target, self.run_id))
        except Exception as exc:
            self.journal.update(ledger={"error": f"ledger could not be read: {type(exc).__name__}: {exc}"})
            return None
        return measure.classify_ledger(self.prober.samples("write"), present)

    # ----- figures -------------------------------------------------------------------------------------------------
    def _conclude(self, ledger: measure.LedgerResult | None, steady_after: bool | None) -> dict[str, Any]:
        figures = self._figures(ledger, steady_after)
        alerting = self._alert_figures(figures)
        ran = self.method_start is not None
        verdict: str | None
        objectives, verdict, score = verdict_and_score(self.scenario.objectives, figures) if ran else ([], "fail", 0.0)
        if alerting is not None:
            _explain_alert_objectives(objectives, alerting)
        reason = self.abort.reason
        if self.rollback_failures:
            reason = "; ".join(x for x in (reason, f"rollback failed: {', '.join(self.rollback_failures)}") if x)
        if self.abort.kind in ("safeguard", "step_failed", "error", "steady_state") or self.rollback_failures:
            verdict = "fail"
        status = "interrupted" if self.abort.interrupted else "completed" if self.abort.kind is None else "aborted"
        if status == "interrupted":
            verdict = None  # objectives met up to Ctrl-C are not a pass; reports show the status instead
        self.journal.update(
            status=status, reason=reason, ended_at=iso(time.time()), rollbacks_ok=not self.rollback_failures,
            rto_s=_r(figures.get("rto_s")), rpo_count=figures.get("rpo_count"), rpo_s=_r(figures.get("rpo_s")),
            time_to_detect_s=_r(figures.get("time_to_detect_s")), downtime_s=_r(figures.get("downtime_s")),
            errors_during_fault=figures.get("errors_during_fault"),
            ledger=ledger.to_json() if ledger else self.journal.data.get("ledger"),
            metrics={k: _r(v) for k, v in figures.items()}, objectives=objectives, verdict=verdict, score=score,
            as_expected=verdict == self.scenario.expect and status == "completed" and left_as_found(figures),
            series=self._series(), platform_events=self._platform_events(),
            probe_validity=self.prober.validity().to_dict(),
            **({} if alerting is None else {
                "alerting": alerting, "time_to_alert_s": _r(figures.get("time_to_alert_s")),
                "time_to_notify_s": _r(figures.get("time_to_notify_s")),
                "time_to_resolve_s": _r(figures.get("time_to_resolve_s"))}),
        )
        self._timeline_marks(figures)
        if alerting is not None:
            self._alert_marks(alerting)
        return self.journal.data

    def _figures(self, ledger: measure.LedgerResult | None, steady_after: bool | None) -> dict[str, Any]:
        samples = self.prober.samples()
        figures: dict[str, Any] = dict(self.ctx.metrics)
        if self.method_start is None:
            return figures
        method_end = self.method_end or time.time()
        start = self.fault_at if self.fault_at is not None else self.method_start
        observed_until = max((s.sent for s in samples), default=method_end)
        if self.fault_at is not None:
            rto = measure.rto_s(samples, self.fault_at, self.scenario.probes.stability_s, observed_until)
            figures.update(rto_s=rto, time_to_detect_s=measure.time_to_detect_s(samples, self.fault_at))
            window_end = max(method_end, self.fault_at + rto) if rto is not None else method_end
        else:
            window_end = method_end
        during = measure.window(samples, start, window_end)
        reads = [s for s in during if s.kind == "read"]
        writes = [s for s in during if s.kind == "write"]
        figures.update(
            downtime_s=measure.downtime_s(measure.window(samples, start, observed_until), start),
            errors_during_fault=sum(not s.ok for s in during),
            availability_during_fault=measure.availability(during),
            read_availability_during_fault=measure.availability(reads),
            write_availability_during_fault=measure.availability(writes),
            p95_during_fault_ms=measure.p95_ms(during),
            write_stall_s=measure.longest_failure_run_s([s for s in samples if s.kind == "write"], self.method_start,
                                                        window_end) if writes else None,
            failed_requests=sum(not s.ok for s in measure.window(samples, self.method_start, method_end)),
            steady_state_after=None if steady_after is None else int(steady_after),
        )
        if ledger is not None:
            figures["in_doubt"] = ledger.in_doubt
            cutoff = self.fault_done_at if self.fault_done_at is not None else method_end
            count, span = measure.rpo(ledger, cutoff)
            figures["lost_after_fault"] = len(ledger.lost) - count
            if self.fault_at is not None:
                figures.update(rpo_count=count, rpo_s=span)
        return figures

    def _timeline_marks(self, figures: dict[str, Any]) -> None:
        if self.fault_at is None:
            return
        if figures.get("time_to_detect_s") is not None:
            self.journal.timeline("first_failure_seen", self.fault_at + figures["time_to_detect_s"])
        if figures.get("rto_s") is not None:
            self.journal.timeline("recovered", self.fault_at + figures["rto_s"])

    def _alert_marks(self, alerting: dict[str, Any]) -> None:
        for row in alerting.get("alerts", []):
            if row.get("fired_at") is not None:
                self.journal.timeline("alert_firing", row["fired_at"], alert=row["name"])
            if row.get("notified_at") is not None:
                self.journal.timeline("alert_notified", row["notified_at"], alert=row["name"])
            if row.get("resolved_at") is not None:
                self.journal.timeline("alert_resolved", row["resolved_at"], alert=row["name"])
        for row in alerting.get("unexpected", []):
            self.journal.timeline("unexpected_alert", row["starts_at"], alert=row["name"])

    def _series(self) -> list[dict[str, Any]]:
        """Per-second counts relative to the method start (the raw samples are in probes.jsonl)."""
        origin = self.method_start or self.prober.started_at or time.time()
        buckets: dict[int, dict[str, int]] = {}
        for s in self.prober.samples():
            bucket = buckets.setdefault(int((s.sent - origin) // 1), {})
            key = f"{s.kind}_{'ok' if s.ok else 'failed'}"
            bucket[key] = bucket.get(key, 0) + 1
        return [{"t_s": t, **counts} for t, counts in sorted(buckets.items())]

    def _platform_events(self) -> list[dict[str, Any]]:
        """The platform's own events in the drill's time span (a plug-in platform's, e.g. the sandbox's failover
        manager: its detection and promotion)."""
        if self.platform is None or self.method_start is None:
            return []
        return self.platform.events(self.method_start)


def _explain_alert_objectives(objectives: list[dict[str, Any]], alerting: dict[str, Any]) -> None:
    """An unmet alert objective carries the plain finding ("no RxAvailabilityPage within 60 s: the platform was
    down for 2.4 s and nobody would have known"), not just a number."""
    findings = alerting.get("findings", [])
    words = {"alerts_missed": ("no ", "later than", "did not answer"), "alerts_unresolved": ("did not resolve",),
             "unexpected_alerts": ("unexpected alert", "did not answer")}
    for result in objectives:
        if result["metric"] in words and not result["met"]:
            detail = [f for f in findings if any(w in f for w in words[result["metric"]])]
            if detail:
                result["detail"] = "; ".join(detail)


def _r(value: Any) -> Any:
    return round(value, 3) if isinstance(value, float) else value
