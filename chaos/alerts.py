"""Does the drill's fault page? A watcher polls Alertmanager's API (`/api/v2/alerts`) and the pager's received
notifications while the drill runs, and turns what it saw into figures beside RTO and RPO: time to alert (fault ->
the alert firing, Prometheus's own `startsAt`), time to notify (fault -> the pager received it), time to resolve
(recovery -> the resolved notification), and every alert that fired although the scenario did not declare it.

Only alerts that started firing after the watch began belong to the drill; ones already firing are listed apart
(an earlier drill's page still resolving must not count as this one's). Clocks: `startsAt` is the Prometheus
server's, the fault time this machine's; against a remote Alertmanager keep the skew small (`rxsuite env check`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from chaos.scenario import AlertChecks, ExpectedAlert
from rxcore.environment import Environment, secret_headers
from rxcore.plugins import Platform

__all__ = ["ALERT_METRICS", "AlertSource", "AlertWatcher", "alert_source", "parse_time"]

ALERT_METRICS = ("time_to_alert_s", "time_to_notify_s", "time_to_resolve_s", "alerts_missed", "alerts_unresolved",
                 "unexpected_alerts")
_SLACK_S = 1.0  # an alert whose startsAt is this much before the watch began still counts (clock rounding)


@dataclass(frozen=True)
class AlertSource:
    alertmanager_url: str
    pager_url: str | None
    headers: dict[str, str] = field(default_factory=dict)


def alert_source(env: Environment, platform: Platform | None) -> AlertSource | None:
    """The environment file's `alerting:` section, else the Alertmanager and pager its platform offers (the
    sandbox's), else None (the drill then skips its alert checks and says so)."""
    section = env.raw.get("alerting")
    if section:
        return AlertSource(section["alertmanager_url"].rstrip("/"),
                           section["pager_url"].rstrip("/") if section.get("pager_url") else None,
                           secret_headers(env, "alerting"))
    offered = (platform.describe().get("monitoring") or {}) if platform is not None else {}
    if offered.get("alertmanager"):
        return AlertSource(offered["alertmanager"], offered.get("pager"))
    return None


def parse_time(text: str | None) -> float | None:
    """Unix seconds of an RFC 3339 time as Alertmanager writes it (nanoseconds, `Z`); None for none or zero."""
    if not text or text.startswith("0001-"):
        return None
    head, _, rest = text.replace("Z", "+00:00").partition(".")
    if rest:  # at most microseconds for fromisoformat
        digits = len(rest) - len(rest.lstrip("0123456789"))
        rest = rest[:min(digits, 6)] + rest[digits:]
        head = f"{head}.{rest}"
    return datetime.fromisoformat(head).timestamp()


@dataclass
class _Seen:
    """One alert instance (labels + startsAt) as Alertmanager listed it."""

    name: str
    labels: dict[str, str]
    starts_at: float
    first_seen: float
    last_seen: float
    state: str
    gone_at: float | None = None


def _key(labels: dict[str, str], starts_at: float) -> tuple[str, float]:
    return (",".join(f"{k}={v}" for k, v in sorted(labels.items())), round(starts_at, 3))


class AlertWatcher:
    """Polls in a thread from `start()` until `stop()`; `report()` turns the observations into figures."""

    def __init__(self, source: AlertSource, checks: AlertChecks, poll_s: float = 0.5,
                 clock: Callable[[], float] = time.time) -> None:
        self.source = source
        self.checks = checks
        self.poll_s = poll_s
        self.clock = clock
        self.since: float | None = None
        self.seen: dict[tuple[str, float], _Seen] = {}
        self.already_firing: dict[str, _Seen] = {}
        self.notifications: list[dict[str, Any]] = []
        self.polls = 0
        self.waited_before_s = 0.0
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._client: httpx.Client | None = None

    def wait_quiet(self, stop: threading.Event, timeout_s: float) -> float:
        """Wait (up to `timeout_s`) until none of the required alerts is firing, so this fault's page can be told
        from an earlier fault's page still open (drills run back to back in a suite); the seconds waited. Optional
        ones are not waited for: a slow-burn ticket stays open for its long windows."""
        names = {e.name for e in self.checks.expected if e.required}
        started = self.clock()
        with httpx.Client(headers=self.source.headers, timeout=3.0) as client:
            while names and self.clock() - started < timeout_s:
                try:
                    listed = client.get(f"{self.source.alertmanager_url}/api/v2/alerts").json()
                except (httpx.HTTPError, ValueError):
                    break  # the watch itself records an Alertmanager that does not answer
                if not any((a.get("labels") or {}).get("alertname") in names for a in listed or []):
                    break
                if stop.wait(1.0):
                    break
        self.waited_before_s = round(self.clock() - started, 1)
        return self.waited_before_s

    def start(self) -> None:
        self.since = self.clock()
        self._client = httpx.Client(headers=self.source.headers, timeout=3.0)
        self._thread = threading.Thread(target=self._run, name="alert-watcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.poll()  # one last look, so what arrived while waiting is in
        if self._client is not None:
            self._client.close()
            self._client = None

    def _run(self) -> None:
        while not self._stop.is_set():
            self.poll()
            self._stop.wait(self.poll_s)

    def poll(self) -> None:
        now = self.clock()
        client = self._client or httpx.Client(headers=self.source.headers, timeout=3.0)
        try:
            response = client.get(f"{self.source.alertmanager_url}/api/v2/alerts")
            response.raise_for_status()
            listed = response.json()
            pager = self._pager(client)
        except (httpx.HTTPError, ValueError) as exc:
            with self._lock:
                self.errors.append(f"{type(exc).__name__}: {exc}")
                del self.errors[:-5]
            return
        finally:
            if client is not self._client:
                client.close()
        with self._lock:
            self.polls += 1
            self._note_alerts(listed, now)
            if pager is not None:
                self.notifications = pager

    def _pager(self, client: httpx.Client) -> list[dict[str, Any]] | None:
        if self.source.pager_url is None:
            return None
        response = client.get(f"{self.source.pager_url}/notifications")
        response.raise_for_status()
        since = (self.since or 0) - _SLACK_S
        return [n for n in response.json() if isinstance(n, dict) and float(n.get("unix") or 0) >= since]

    def _note_alerts(self, listed: Any, now: float) -> None:
        present = set()
        for alert in listed if isinstance(listed, list) else []:
            labels = {str(k): str(v) for k, v in (alert.get("labels") or {}).items()}
            starts = parse_time(alert.get("startsAt"))
            if starts is None:
                continue
            key = _key(labels, starts)
            present.add(key)
            state = str((alert.get("status") or {}).get("state", ""))
            if starts < (self.since or 0) - _SLACK_S:
                self.already_firing.setdefault(key[0], _Seen(labels.get("alertname", ""), labels, starts, now, now,
                                                             state))
                continue
            seen = self.seen.get(key)
            if seen is None:
                self.seen[key] = _Seen(labels.get("alertname", ""), labels, starts, now, now, state)
            else:
                seen.last_seen, seen.state, seen.gone_at = now, state, None
        for key, seen in self.seen.items():
            if key not in present and seen.gone_at is None:
                seen.gone_at = now

    # ----- figures ---------------------------------------------------------------------------------------------
    def fired(self, name: str) -> list[_Seen]:
        with self._lock:
            return sorted((s for s in self.seen.values() if s.name == name), key=lambda s: s.starts_at)

    def settled(self, origin: float, recovered: float) -> bool:
        """Whether waiting longer can change the figures: every required alert fired (or its time ran out), every
        fired alert with a resolution bound resolved (or its time ran out), and the quiet period is over."""
        now = self.clock()
        if now < recovered + self.checks.quiet_s:
            return False
        for expected in self.checks.expected:
            fired = self.fired(expected.name)
            if not fired:
                if expected.required and now < origin + expected.within_s:
                    return False
            elif (expected.resolves_within_s is not None and now < recovered + expected.resolves_within_s
                  and any(self._resolved_at(s) is None for s in fired)):
                return False
        return True

    def deadline(self, origin: float, recovered: float) -> float:
        bounds = [recovered + self.checks.quiet_s]
        for expected in self.checks.expected:
            bounds.append(origin + expected.within_s)
            if expected.resolves_within_s is not None:
                bounds.append(recovered + expected.resolves_within_s)
        return max(bounds)

    def _notified_at(self, seen: _Seen, status: str) -> float | None:
        times = [float(n["unix"]) for n in self.notifications
                 if n.get("alert") == seen.name and n.get("status") == status
                 and _key({str(k): str(v) for k, v in (n.get("labels") or {}).items()},
                          parse_time(n.get("starts_at")) or 0.0) == _key(seen.labels, seen.starts_at)]
        return min(times) if times else None

    def _resolved_at(self, seen: _Seen) -> float | None:
        if self.source.pager_url is not None:
            return self._notified_at(seen, "resolved")
        return seen.gone_at

    def report(self, origin: float, recovered: float, downtime_s: float | None) -> tuple[dict[str, Any],
                                                                                         dict[str, Any]]:
        """(drill.json's `alerting` section, the figures for the objectives). `origin` is the fault's start,
        `recovered` the moment the probes saw recovery."""
        with self._lock:
            seen = sorted(self.seen.values(), key=lambda s: s.starts_at)
            already = list(self.already_firing.values())
            polls, errors, notifications = self.polls, list(self.errors), list(self.notifications)
        findings: list[str] = []
        if polls == 0:
            findings.append(f"Alertmanager at {self.source.alertmanager_url} did not answer: "
                            f"{errors[-1] if errors else 'no poll completed'}; alerting was not checked")
            return ({"checked": False, "alertmanager": self.source.alertmanager_url, "pager": self.source.pager_url,
                     "findings": findings, "errors": errors}, dict.fromkeys(ALERT_METRICS))
        rows = [self._expected_row(e, origin, recovered, downtime_s, findings) for e in self.checks.expected]
        declared = {e.name for e in self.checks.expected}
        unexpected = [s for s in seen if s.name not in declared]
        for s in unexpected:
            findings.append(f"unexpected alert {s.name} ({s.labels.get('severity', 'no severity')}) fired "
                            f"{s.starts_at - origin:.1f} s after the fault: the scenario does not say its fault "
                            "raises it")
        if not self.checks.expected and not unexpected:
            findings.append("no alert fired, as declared (alerts: [])")
        # the timings are the required alerts' (the page the fault must raise); optional ones only when none is
        leading = [r for r in rows if r["required"]] or rows
        fired_rows = [r for r in leading if r["time_to_alert_s"] is not None]
        notified = [r["time_to_notify_s"] for r in leading if r["time_to_notify_s"] is not None]
        resolving = [r for r in fired_rows if r["resolves_within_s"] is not None or r["required"]]
        resolved = [r["time_to_resolve_s"] for r in resolving if r["time_to_resolve_s"] is not None]
        figures = {
            "time_to_alert_s": min((r["time_to_alert_s"] for r in fired_rows), default=None),
            "time_to_notify_s": min(notified, default=None),
            "time_to_resolve_s": max(resolved) if resolved and len(resolved) == len(resolving) else None,
            "alerts_missed": sum(1 for r in rows if r["required"] and not r["fired_in_time"]),
            "alerts_unresolved": sum(1 for r in rows if r["resolves_within_s"] is not None and r["fired"]
                                     and not r["resolved_in_time"]),
            "unexpected_alerts": len(unexpected),
        }
        section = {
            "checked": True, "alertmanager": self.source.alertmanager_url, "pager": self.source.pager_url,
            "watched_from": self.since, "watched_until": self.clock(), "polls": polls, "errors": errors,
            "waited_before_s": self.waited_before_s,
            "alerts": rows, "unexpected": [_describe(s, origin) for s in unexpected],
            "already_firing": [_describe(s, origin) for s in already],
            "notifications": len(notifications), "findings": findings,
        }
        return section, figures

    def _expected_row(self, expected: ExpectedAlert, origin: float, recovered: float, downtime_s: float | None,
                      findings: list[str]) -> dict[str, Any]:
        fired = self.fired(expected.name)
        first = fired[0] if fired else None
        to_alert = None if first is None else round(first.starts_at - origin, 3)
        notified = [t for t in (self._notified_at(s, "firing") for s in fired) if t is not None]
        resolved = [self._resolved_at(s) for s in fired]
        all_resolved = bool(fired) and all(t is not None for t in resolved)
        to_resolve = round(max(t for t in resolved if t is not None) - recovered, 3) if all_resolved else None
        in_time = to_alert is not None and to_alert <= expected.within_s
        resolved_in_time = to_resolve is not None and (expected.resolves_within_s is None
                                                       or to_resolve <= expected.resolves_within_s)
        if to_alert is None:
            if expected.required and any(s.name == expected.name for s in self.already_firing.values()):
                findings.append(f"{expected.name} was already firing when the drill began (an earlier fault's "
                                "alert still open), so this fault's could not be told apart")
            if expected.required:
                down = (f"the platform was down for {downtime_s:.1f} s and nobody would have known"
                        if downtime_s else "the probes saw no downtime, so the fault may not have reached users")
                findings.append(f"no {expected.name} within {expected.within_s:g} s: {down}")
        elif not in_time:
            findings.append(f"{expected.name} fired {to_alert:.1f} s after the fault, later than the "
                            f"{expected.within_s:g} s allowed")
        if fired and self.source.pager_url is not None and not notified:
            findings.append(f"{expected.name} fired in Alertmanager but no notification reached the pager "
                            f"({self.source.pager_url}): check its route and receiver")
        if fired and expected.resolves_within_s is not None and not resolved_in_time:
            findings.append(f"{expected.name} did not resolve within {expected.resolves_within_s:g} s of recovery"
                            + (f" (it took {to_resolve:.1f} s)" if to_resolve is not None else ""))
        return {"name": expected.name, "required": expected.required, "within_s": expected.within_s,
                "resolves_within_s": expected.resolves_within_s, "fired": bool(fired), "instances": len(fired),
                "fired_at": None if first is None else first.starts_at, "time_to_alert_s": to_alert,
                "fired_in_time": in_time,
                "notified_at": min(notified) if notified else None,
                "time_to_notify_s": round(min(notified) - origin, 3) if notified else None,
                "resolved_at": max(t for t in resolved if t is not None) if all_resolved else None,
                "time_to_resolve_s": to_resolve, "resolved_in_time": resolved_in_time,
                "severity": first.labels.get("severity") if first else None}


def _describe(seen: _Seen, origin: float) -> dict[str, Any]:
    return {"name": seen.name, "severity": seen.labels.get("severity"), "labels": seen.labels,
            "starts_at": seen.starts_at, "after_fault_s": round(seen.starts_at - origin, 3), "state": seen.state}
