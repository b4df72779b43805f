"""The capacity profile's finder: after each step, did the platform hold the SLO at that load?

It is fed the merged record's windows (all request names together) as they are written, and evaluates a
step once the record is complete past the step's end. Each step's first `warmup_s` are left out, so the
ramp to the new level does not count. The answer is the highest achieved request rate of the steps that held,
up to the first step that broke the SLO.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from locustfiles.config import SloTarget
from locustfiles.recorder import CONNECTION_ERROR, HTTP_4XX, HTTP_5XX, HTTP_429, OK, TIMEOUT
from slo.histogram import Histogram


@dataclass
class _Step:
    index: int
    level: float
    outcomes: list[int] = field(default_factory=lambda: [0] * 6)
    histogram: Histogram = field(default_factory=Histogram)
    seconds: float = 0.0


class CapacityFinder:
    def __init__(self, started_at: float, step_s: float, slo: SloTarget, warmup_s: float | None = None) -> None:
        self.started_at = started_at
        self.step_s = step_s
        self.warmup_s = min(step_s / 3, 10.0) if warmup_s is None else warmup_s
        self.slo = slo
        self._steps: dict[int, _Step] = {}
        self.results: list[dict[str, Any]] = []
        self.broken = False

    def start_step(self, index: int, level: float) -> None:
        self._steps.setdefault(index, _Step(index, level))

    def on_window(self, start: float, duration: float, outcomes: list[int], histogram: Histogram) -> None:
        index = int((start - self.started_at) // self.step_s)
        step = self._steps.get(index)
        step_begin = self.started_at + index * self.step_s
        if step is None or start < step_begin + self.warmup_s or start + duration > step_begin + self.step_s + 1e-9:
            return
        for i, count in enumerate(outcomes):
            step.outcomes[i] += count
        step.histogram.add(histogram)
        step.seconds += duration

    def evaluate_complete(self, complete_until: float) -> list[dict[str, Any]]:
        """Judge every started step whose end the record has passed; returns the new verdicts."""
        new = []
        for index in sorted(self._steps):
            if self.started_at + (index + 1) * self.step_s > complete_until:
                break
            step = self._steps.pop(index)
            verdict = self._step_verdict(step)
            self.results.append(verdict)
            new.append(verdict)
            if not verdict["held"]:
                self.broken = True
        return new

    def _step_verdict(self, step: _Step) -> dict[str, Any]:
        o = step.outcomes
        bad = o[HTTP_5XX] + o[TIMEOUT] + o[CONNECTION_ERROR] + (o[HTTP_429] if self.slo.count_429_as_bad else 0)
        valid = sum(o) - o[HTTP_4XX] - (0 if self.slo.count_429_as_bad else o[HTTP_429])
        p95 = step.histogram.value_at_percentile(95)
        p95_ms = None if p95 is None else p95 / 1000.0
        bad_ratio = bad / valid if valid else None
        held = (valid > 0 and bad_ratio is not None and bad_ratio <= self.slo.max_bad_ratio
                and p95_ms is not None and p95_ms <= self.slo.p95_ms)
        return {"step": step.index, "level": step.level, "measured_s": step.seconds,
                "achieved_rps": round(sum(o) / step.seconds, 2) if step.seconds else 0.0,
                "ok": o[OK], "bad": bad, "valid": valid, "bad_ratio": bad_ratio, "p95_ms": p95_ms, "held": held,
                "why_not": None if held else _why(valid, bad_ratio, p95_ms, self.slo)}

    def summary(self) -> dict[str, Any]:
        held: list[dict[str, Any]] = []
        for result in self.results:
            if not result["held"]:
                break
            held.append(result)
        best = max(held, key=lambda r: r["achieved_rps"], default=None)
        first_broken = next((r for r in self.results if not r["held"]), None)
        return {"slo": {"p95_ms": self.slo.p95_ms, "max_bad_ratio": self.slo.max_bad_ratio,
                        "count_429_as_bad": self.slo.count_429_as_bad},
                "highest_sustainable_rps": best["achieved_rps"] if best else None,
                "at_level": best["level"] if best else None,
                "broke_at_level": first_broken["level"] if first_broken else None,
                "broke_because": first_broken["why_not"] if first_broken else None,
                "steps": self.results}


def _why(valid: int, bad_ratio: float | None, p95_ms: float | None, slo: SloTarget) -> str:
    if not valid:
        return "no valid requests in the step"
    reasons = []
    if bad_ratio is not None and bad_ratio > slo.max_bad_ratio:
        reasons.append(f"bad ratio {bad_ratio:.4%} > {slo.max_bad_ratio:.4%}")
    if p95_ms is None or p95_ms > slo.p95_ms:
        reasons.append(f"p95 {p95_ms} ms > {slo.p95_ms:g} ms")
    return "; ".join(reasons)
