"""Whether a run's own measurements can be trusted: `valid`, `degraded` or `invalid`, with the reasons.

A load generator that ran out of CPU, or a schedule that could not start iterations on time, measures itself,
not the platform: such a run is `invalid`, and its SLO verdict is `invalid` (exit code 4), never pass or fail.
`degraded` runs keep their verdict, with the reason beside it: what was measured is sound, but less of it, or
less precisely placed in time, than asked for. The bounds (docs/load.md):
- generator CPU: a window is saturated when the process used, or waited on a run queue for, at least 90 % of it
  (one core: a gevent process cannot use more); more than 10 % of the windows saturated -> invalid;
- schedule lag: an arrival-mode iteration whose user was free (it slept until its slot) but started more than
  250 ms late was held up by the generator itself; more than 1 % of them -> invalid. Iterations that started late
  because every user was busy (a slow platform, or too few users) are counted from their intended start anyway,
  so their latencies stay true: more than 10 % of them -> degraded;
- a worker lost mid-run -> degraded (the run stops; the record holds what every worker sent until then);
- clock skew between a worker and the master, measured on the worker's first report, above 0.5 s -> degraded
  (windows of different workers are placed up to that far apart);
- drill probes: a probe sent more than 250 ms after its tick, for more than 1 % of the probes -> invalid (the
  probe clock, not the platform, would decide RTO and downtime).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

VALID, DEGRADED, INVALID = "valid", "degraded", "invalid"
_RANK = {VALID: 0, DEGRADED: 1, INVALID: 2}

CPU_SATURATED = 0.90
CPU_SATURATED_SHARE = 0.10
LAG_BOUND_S = 0.25
LAG_LATE_SHARE = 0.01
BACKLOG_SHARE = 0.10
CLOCK_SKEW_BOUND_S = 0.5
PROBE_LATE_SHARE = 0.01
_VALIDITY_FIELDS = {"load.json": "validity", "drill.json": "probe_validity",  # file in a run folder -> its field
                    "scenarios/*/drill.json": "probe_validity"}  # a drill suite's scenarios


@dataclass
class Validity:
    status: str = VALID
    reasons: list[str] = field(default_factory=list)

    def add(self, status: str, reason: str) -> None:
        """Note a finding; the run's status is its worst finding."""
        self.reasons.append(f"{status}: {reason}")
        if _RANK[status] > _RANK[self.status]:
            self.status = status

    def merge(self, other: Validity) -> None:
        for reason in other.reasons:
            self.reasons.append(reason)
        if _RANK[other.status] > _RANK[self.status]:
            self.status = other.status

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "reasons": list(self.reasons)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Validity:
        if not data:
            return cls()
        status = data.get("status", VALID)
        return cls(status if status in _RANK else INVALID, [str(r) for r in data.get("reasons", [])])


def judge_load(generators: Mapping[str, Mapping[str, Any]], lost_workers: Iterable[str] = ()) -> Validity:
    """A load run's validity from each process's generator figures (`generator_figures` shapes them)."""
    verdict = Validity()
    for source, figures in sorted(generators.items()):
        windows, saturated = int(figures.get("windows", 0)), int(figures.get("saturated_windows", 0))
        if windows and saturated / windows > CPU_SATURATED_SHARE:
            verdict.add(INVALID, f"{source}: generator CPU at or above {CPU_SATURATED:.0%} in {saturated} of "
                                 f"{windows} windows (limit {CPU_SATURATED_SHARE:.0%}): it measured itself")
        on_time, late = int(figures.get("on_time_slots", 0)), int(figures.get("late_wakeups", 0))
        if on_time and late / on_time > LAG_LATE_SHARE:
            verdict.add(INVALID, f"{source}: {late} of {on_time} iterations started more than {LAG_BOUND_S * 1000:g}"
                                 f" ms after their slot although a user was free (limit {LAG_LATE_SHARE:.0%}); "
                                 f"worst {figures.get('max_wake_lag_s', 0):.3f} s")
        slots, backlog = int(figures.get("slots", 0)), int(figures.get("backlog_slots", 0))
        if slots and backlog / slots > BACKLOG_SHARE:
            verdict.add(DEGRADED, f"{source}: {backlog} of {slots} iterations waited for a free user (limit "
                                  f"{BACKLOG_SHARE:.0%}): the platform was slow or --users too low; their latencies "
                                  "count from the intended start")
        skew = figures.get("clock_skew_s")
        if skew is not None and abs(float(skew)) > CLOCK_SKEW_BOUND_S:
            verdict.add(DEGRADED, f"{source}: clock {float(skew):+.3f} s from the master's at start (limit "
                                  f"{CLOCK_SKEW_BOUND_S:g} s): its windows are misplaced by that much")
    for worker in lost_workers:
        verdict.add(DEGRADED, f"{worker} lost mid-run: the run stopped; the record holds what was measured until then")
    return verdict


def judge_probes(probes: int, late: int, max_lag_s: float) -> Validity:
    """A drill's probe clock: were probes sent on their ticks?"""
    verdict = Validity()
    if probes and late / probes > PROBE_LATE_SHARE:
        verdict.add(INVALID, f"{late} of {probes} probes were sent more than {LAG_BOUND_S * 1000:g} ms after their "
                             f"tick (limit {PROBE_LATE_SHARE:.0%}; worst {max_lag_s:.3f} s): the probe loop, not "
                             "the platform, set the timings")
    return verdict


def read_validity(run_dir: Path) -> Validity:
    """A run folder's validity: its load summary's and its drills' probes' (valid when none says otherwise)."""
    verdict = Validity()
    for pattern, key in _VALIDITY_FIELDS.items():
        for path in sorted(run_dir.glob(pattern)):
            verdict.merge(_validity_in(path, key))
    return verdict


def _validity_in(path: Path, key: str) -> Validity:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return Validity()  # a torn or unreadable file is the artifact readers' to report
    found = data.get(key) if isinstance(data, dict) else None
    return Validity.from_dict(found) if isinstance(found, dict) else Validity()


__all__ = ["CPU_SATURATED", "DEGRADED", "INVALID", "LAG_BOUND_S", "VALID", "Validity", "judge_load", "judge_probes",
           "read_validity"]
