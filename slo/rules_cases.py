"""`promtool test rules` cases for generated rules: synthetic series, and which alerts must fire when.

Per objective, four scenarios: a clean period (errors at half the budget), a fast burn, a slow burn and low
traffic (every request failing, too few to pass the guard). The series are built from the spec's selectors, not
from the rule file, so a rule file that reads the wrong metric fails its test. The expected alerts come from a
model of what Prometheus computes (rate() with its extrapolation, over closed and half-open ranges alike); a case
checks only the times where every condition is at least 5 % away from its threshold, so the checks hold on any
Prometheus version, and brackets each change of state by the checked times on both sides of it.
"""

from __future__ import annotations

import itertools
import math
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from slo.promconfig import Selector
from slo.rules import (
    RuledObjective,
    RulesError,
    RuleSet,
    alert_annotations,
    alert_labels,
    promql_duration,
    promtool,
    sli_parts,
)

__all__ = ["CaseRun", "build_cases", "run_cases"]

MARGIN = 0.05
EVERY = 5  # samples per rule evaluation
_CANDIDATES = ("500", "503", "200", "204", "429", "404", "x", "0", "1", "true", "false", "error", "ok", "GET")


@dataclass(frozen=True, slots=True)
class Phase:
    steps: int
    events_per_step: float
    bad_ratio: float


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    phases: tuple[Phase, ...]


@dataclass(frozen=True, slots=True)
class _Series:
    """A synthetic counter: `good` and `bad` say how many of the scenario's good and bad events it counts."""

    metric: str
    labels: dict[str, str]
    good: float
    bad: float

    def text(self) -> str:
        body = ",".join(f'{k}="{v}"' for k, v in self.labels.items())
        return f"{self.metric}{{{body}}}" if body else self.metric


@dataclass
class CaseRun:
    test_file: Path
    passed: bool
    output: str
    checks: list[tuple[str, int]]  # (case name, alert checks)
    timeline: list[str]  # per case, which alert the checks expect firing from when


def build_cases(rules: RuleSet, rule_file: Path) -> dict[str, Any]:
    """The promtool test document for `rule_file` (generated from `rules`)."""
    tests = []
    intervals = set()
    for ruled in rules.objectives:
        step_ms = _step_ms(ruled)
        intervals.add(step_ms)
        series = _series(ruled)
        for scenario in _scenarios(ruled, step_ms):
            tests.append(_case(ruled, scenario, series, step_ms, rules.time_scale))
    if len(intervals) != 1:
        raise RulesError("objectives with different shortest windows need separate rule files for their tests")
    return {"rule_files": [str(rule_file)], "evaluation_interval": promql_duration(intervals.pop() * EVERY / 1000),
            "tests": tests}


def run_cases(rules: RuleSet, rule_file: Path, out_dir: Path) -> CaseRun:
    """Write `<rules>.test.yml` next to the rules and run `promtool test rules` on it."""
    document = build_cases(rules, rule_file.resolve())
    test_file = out_dir / rule_file.name.replace(".rules.yml", ".rules.test.yml")
    test_file.write_text(yaml.safe_dump(document, sort_keys=False, width=200), encoding="utf-8")
    done = subprocess.run([promtool(), "test", "rules", str(test_file)], capture_output=True, text=True,
                          timeout=600)
    checks = [(t["name"], len(t["alert_rule_test"])) for t in document["tests"]]
    timeline = [f"{t['name']}: {_timeline(t)}" for t in document["tests"]]
    return CaseRun(test_file, done.returncode == 0, (done.stdout + done.stderr).strip(), checks, timeline)


def _timeline(test: dict[str, Any]) -> str:
    """'RxAvailabilityPage 1h/5m silent at 385m, firing at 395m; ...' or 'no alert at any of N checks'."""
    def firing(check: dict[str, Any]) -> set[str]:
        return {f"{check['alertname']} {a['exp_labels']['long']}/{a['exp_labels']['short']}"
                for a in check["exp_alerts"]}

    checks = test["alert_rule_test"]
    parts = []
    for pair in dict.fromkeys(p for check in checks for p in sorted(firing(check))):
        own = [c for c in checks if c["alertname"] == pair.split(" ")[0]]
        first = next(i for i, c in enumerate(own) if pair in firing(c))
        before = f"silent at {own[first - 1]['eval_time']}, " if first else ""
        parts.append(f"{pair} {before}firing at {own[first]['eval_time']}")
    return "; ".join(parts) or f"no alert at any of {len(checks)} checks"


# --- scenarios ------------------------------------------------------------------------------------------------

def _step_ms(ruled: RuledObjective) -> int:
    """Samples five times per shortest window (at least a millisecond apart); rules run once per EVERY samples."""
    return max(1, round(min(a.short_s for a in ruled.alerts) * 1000 / EVERY))


def _scenarios(ruled: RuledObjective, step_ms: int) -> list[Scenario]:
    """Clean, fast burn (twice the fastest factor), slow burn (between ticket and page factors), low traffic."""
    step_s = step_ms / 1000
    b = ruled.budget
    pages = [a for a in ruled.alerts if a.severity == "page"]
    tickets = [a for a in ruled.alerts if a.severity == "ticket"]
    fastest = pages or tickets
    prefix = math.ceil(max(a.long_s for a in fastest) / step_s)
    min_events = ruled.config.min_events
    rate = max(10, math.ceil(2 * min_events * step_s / min(a.long_s for a in ruled.alerts)))
    clean = Phase(prefix, rate, b / 2)
    fast = min(1.0, 2 * max(a.factor for a in fastest) * b)
    out = [Scenario("clean", (Phase(prefix * 3 // 2, rate, b / 2),)),
           Scenario("fast burn", (clean, Phase(prefix, rate, fast)))]
    if pages and tickets:
        slow = min(1.0, b * math.sqrt(min(a.factor for a in pages) * max(a.factor for a in tickets)))
        longest = math.ceil(max(a.long_s for a in tickets) / step_s)
        out.append(Scenario("slow burn", (clean, Phase(_until_fired(ruled, clean, slow, rate, longest, step_ms),
                                                               rate, slow))))
    longest_all = max(a.long_s for a in ruled.alerts) / step_s
    low_rate = 0.4 * min_events / longest_all if min_events > 0 else 0.1
    out.append(Scenario("low traffic", (Phase(prefix * 3 // 2, low_rate, 1.0),)))
    return out


def _until_fired(ruled: RuledObjective, clean: Phase, ratio: float, rate: float, cap: int, step_ms: int) -> int:
    """Steps of a burn at `ratio` after which every ticket alert fires (a third more, for the bracket), at most cap."""
    counts_good = sli_parts(ruled)[2]
    series = [_Series("m", {}, 1, 1), _Series("n", {}, float(counts_good), float(not counts_good))]
    good, bad = _counts((clean, Phase(cap, rate, ratio)))
    values = [[s.good * g + s.bad * x for g, x in zip(good, bad, strict=True)] for s in series]
    model = _Model(ruled, step_ms, values, lambda i: i == 1, lambda i: i == 0)
    tickets = [a for a in ruled.alerts if a.severity == "ticket"]
    for k in range(clean.steps, clean.steps + cap + 1, EVERY):
        if all(model.fires(a, k) is True for a in tickets):
            return min(cap, (k - clean.steps) * 4 // 3 + 5)
    return cap


def _counts(phases: tuple[Phase, ...]) -> tuple[list[float], list[float]]:
    """Cumulative good and bad events at each sample (one sample per step, starting at 0)."""
    good, bad = [0.0], [0.0]
    for phase in phases:
        for _ in range(phase.steps):
            good.append(good[-1] + phase.events_per_step * (1 - phase.bad_ratio))
            bad.append(bad[-1] + phase.events_per_step * phase.bad_ratio)
    return good, bad


# --- the model of Prometheus's arithmetic ---------------------------------------------------------------------

class _Model:
    """Error ratios and event counts the rules compute at each sample time, and whether an alert fires."""

    def __init__(self, ruled: RuledObjective, step_ms: int, values: list[list[float]],
                 in_numerator: Callable[[int], bool], in_total: Callable[[int], bool]) -> None:
        self.ruled, self.step_ms, self.values = ruled, step_ms, values
        self.num = [i for i in range(len(values)) if in_numerator(i)]
        self.total = [i for i in range(len(values)) if in_total(i)]
        self.counts_good = sli_parts(ruled)[2]

    def _increase(self, index: int, k: int, window_ms: int, closed: bool) -> float | None:
        """Prometheus's extrapolated increase of one series over the window ending at sample k."""
        t = k * self.step_ms
        start = t - window_ms
        first = -(-start // self.step_ms) if closed else start // self.step_ms + 1
        first = max(first, 0)
        if k - first < 1:
            return None
        v = self.values[index]
        result = v[k] - v[first]
        to_start = (first * self.step_ms - start) / 1000
        to_end = 0.0
        sampled = (k - first) * self.step_ms / 1000
        average = sampled / (k - first)
        if result > 0 and v[first] >= 0:
            to_start = min(to_start, sampled * v[first] / result)
        extrapolated = sampled
        extrapolated += to_start if to_start < average * 1.1 else average / 2
        extrapolated += to_end if to_end < average * 1.1 else average / 2
        return result * extrapolated / sampled

    def _sum(self, indexes: list[int], k: int, window_ms: int, closed: bool) -> float | None:
        parts = [x for x in (self._increase(i, k, window_ms, closed) for i in indexes) if x is not None]
        return sum(parts) if parts else None

    def ratio(self, window_s: float, k: int, closed: bool) -> float | None:
        window_ms = round(window_s * 1000)
        num, total = self._sum(self.num, k, window_ms, closed), self._sum(self.total, k, window_ms, closed)
        if num is None or total is None:
            return None
        if total == 0:
            return math.nan
        return 1 - num / total if self.counts_good else num / total

    def condition(self, alert: Any, k: int) -> bool | None:
        """True / False when the alert's expression holds (or not) with margin on both range conventions."""
        threshold = alert.factor * self.ruled.budget
        terms = []
        for closed in (True, False):
            parts = [_above(self.ratio(alert.long_s, k, closed), threshold),
                     _above(self.ratio(alert.short_s, k, closed), threshold)]
            if self.ruled.config.min_events > 0:
                events = self._sum(self.total, k, round(alert.long_s * 1000), closed)
                parts.append(_above(events, self.ruled.config.min_events, strict=False))
            terms.append(_all(parts))
        return terms[0] if terms[0] == terms[1] else None

    def fires(self, alert: Any, k: int) -> bool | None:
        """Whether the alert is firing at sample k (a multiple of EVERY): true at every evaluation of its `for`."""
        active = k - round(alert.for_s * 1000 / self.step_ms)  # it must have been active since then
        active -= active % EVERY
        if active <= 0:
            return False
        return _all([self.condition(alert, j) for j in range(k, active - 1, -EVERY)])


def _above(value: float | None, threshold: float, strict: bool = True) -> bool | None:
    if value is None or math.isnan(value):
        return False
    if abs(value - threshold) <= MARGIN * threshold:
        return None if threshold > 0 else (value > 0 if strict else True)
    return value > threshold


def _all(parts: list[bool | None]) -> bool | None:
    if any(p is False for p in parts):
        return False
    return True if all(p is True for p in parts) else None


# --- synthetic series from the spec's selectors ---------------------------------------------------------------

def _series(ruled: RuledObjective) -> list[_Series]:
    config = ruled.config
    by = {label: "synthetic" for label in config.by}
    where = f"{ruled.objective.name}: {config.where}"
    if config.histogram is not None:
        threshold = ruled.objective.threshold
        assert threshold is not None
        base = {**_labels(config.histogram.matchers, where), **by}
        out = []
        for bound in (*config.buckets, math.inf):
            le = "+Inf" if bound == math.inf else repr(float(bound))
            fast = 1.0 if bound >= threshold or math.isclose(bound, threshold) else 0.0
            out.append(_Series(config.histogram.metric + "_bucket", {**base, "le": le}, fast,
                               1.0 if bound == math.inf else 0.0))
        out.append(_Series(config.histogram.metric + "_count", base, 1.0, 1.0))
        return out
    total = config.total
    part = config.bad or config.good
    assert total is not None and part is not None
    counted_good = config.good is not None
    if part.metric != total.metric:
        labels = {**_labels(part.matchers, where), **by}
        return [_Series(part.metric, labels, float(counted_good), float(not counted_good)),
                _Series(total.metric, {**_labels(total.matchers, where), **by}, 1.0, 1.0)]
    inside = {**_labels((*total.matchers, *part.matchers), where), **by}
    outside = _violating(total, part, inside, f"{where}.{'good' if counted_good else 'bad'}")
    return [_Series(total.metric, inside, float(counted_good), float(not counted_good)),
            _Series(total.metric, outside, float(not counted_good), float(counted_good))]


def _labels(matchers: Any, where: str) -> dict[str, str]:
    """Label values that satisfy every matcher (an absent label counts as "", as in Prometheus)."""
    out: dict[str, str] = {}
    for label in dict.fromkeys(m[0] for m in matchers):
        on_label = [m for m in matchers if m[0] == label]
        value = _satisfying(on_label)
        if value is None:
            raise RulesError(f"{where}: cannot build a test series matching {_show(on_label)}; simplify the "
                             "regular expression (e.g. 5.. or 5xx|503)")
        if value:
            out[label] = value
    return out


def _violating(total: Selector, part: Selector, inside: dict[str, str], where: str) -> dict[str, str]:
    """Labels inside `total` but outside `part`: one of part's labels changed to a value part refuses."""
    for label, op, value in part.matchers:
        wanted = [m for m in total.matchers if m[0] == label]
        for candidate in _candidates([(label, op, value), *wanted]):
            if _ok(wanted, candidate) and not _ok([(label, op, value)], candidate):
                changed = {**inside, label: candidate}
                return {k: v for k, v in changed.items() if v}
    raise RulesError(f"{where}: selects every series `total` does; it needs a label matcher of its own "
                     '(e.g. code=~"5..")')


def _satisfying(matchers: list[tuple[str, str, str]]) -> str | None:
    return next((c for c in _candidates(matchers) if _ok(matchers, c)), None)


def _candidates(matchers: list[tuple[str, str, str]]) -> list[str]:
    out = [v for _, op, v in matchers if op in ("=", "!=")]
    for _, op, value in matchers:
        if op in ("=~", "!~"):
            out.extend(_regex_examples(_unescape(value)))
    out.extend(_CANDIDATES)
    out.extend(v + "x" for v in list(out))
    return list(dict.fromkeys([*out, ""]))  # "" last: the label left out


def _regex_examples(regex: str) -> list[str]:
    """Strings likely to match a simple regular expression (5.., (5..|429), 5xx|503, [45]..)."""
    out = []
    for alternative in regex.strip("^$()").split("|"):
        text = re.sub(r"\[(.)[^\]]*\]", r"\1", alternative.strip("()"))
        text = re.sub(r"\\d", "0", text).replace(".", "0").replace("\\", "")
        out.append(re.sub(r"[?*+()^$]", "", text))
    return out


def _ok(matchers: list[tuple[str, str, str]], value: str) -> bool:
    for _, op, expected in matchers:
        if (op == "=" and value != expected) or (op == "!=" and value == expected):
            return False
        if op in ("=~", "!~"):
            try:
                hit = re.fullmatch(_unescape(expected), value) is not None
            except re.error:
                return False
            if hit != (op == "=~"):
                return False
    return True


def _unescape(text: str) -> str:
    return text.replace("\\\\", "\\").replace('\\"', '"')


def _show(matchers: list[tuple[str, str, str]]) -> str:
    return ",".join(f'{label}{op}"{value}"' for label, op, value in matchers)


# --- the promtool case ----------------------------------------------------------------------------------------

def _case(ruled: RuledObjective, scenario: Scenario, series: list[_Series], step_ms: int,
          scale: float) -> dict[str, Any]:
    good, bad = _counts(scenario.phases)
    values = [[s.good * g + s.bad * x for g, x in zip(good, bad, strict=True)] for s in series]
    numerator, total, _ = sli_parts(ruled)
    model = _Model(ruled, step_ms, values, lambda i: _matches(numerator, series[i]),
                   lambda i: _matches(total, series[i]))
    if not model.total or not model.num:
        raise RulesError(f"{ruled.objective.name}: the synthetic series do not match the spec's selectors")
    last = len(good) - 1
    states: dict[int, tuple[bool, ...]] = {}
    for k in range(EVERY, last + 1, EVERY):
        fired = [model.fires(a, k) for a in ruled.alerts]
        if all(f is not None for f in fired):
            states[k] = tuple(bool(f) for f in fired)
    checks = _checkpoints(states)
    names = list(dict.fromkeys(ruled.alert_name(a.severity) for a in ruled.alerts))
    by = {label: "synthetic" for label in ruled.config.by}
    tests = []
    for k in checks:
        for name in names:
            expected = [{"exp_labels": {**ruled.labels, **by, **alert_labels(ruled, a)},
                         "exp_annotations": alert_annotations(ruled, a, scale)}
                        for a, on in zip(ruled.alerts, states[k], strict=True)
                        if on and ruled.alert_name(a.severity) == name]
            tests.append({"eval_time": promql_duration(k * step_ms / 1000), "alertname": name,
                          "exp_alerts": expected})
    return {"name": f"{ruled.objective.name}: {scenario.name}", "interval": promql_duration(step_ms / 1000),
            "input_series": [{"series": s.text(), "values": _values(v)} for s, v in zip(series, values, strict=True)],
            "alert_rule_test": tests}


def _checkpoints(states: dict[int, tuple[bool, ...]]) -> list[int]:
    """The first and last robust times, and the robust times on both sides of every change of state."""
    times = sorted(states)
    if not times:
        return []
    chosen = {times[0], times[-1], times[len(times) // 2]}
    for before, after in itertools.pairwise(times):
        if states[before] != states[after]:
            chosen.update((before, after))
    return sorted(chosen)


def _matches(selector: Selector, series: _Series) -> bool:
    if selector.metric != series.metric:
        return False
    return all(_ok([(label, op, value)], series.labels.get(label, "")) for label, op, value in selector.matchers)


def _values(values: list[float]) -> str:
    """promtool's expanding notation: runs of equal increments as `start+stepxN`."""
    parts = []
    i = 0
    while i < len(values):
        j = i + 1
        step = values[j] - values[i] if j < len(values) else 0.0
        while j + 1 < len(values) and math.isclose(values[j + 1] - values[j], step, rel_tol=1e-9, abs_tol=1e-9):
            j += 1
        if j >= len(values):
            parts.append(_number(values[i]))
            break
        parts.append(f"{_number(values[i])}+{_number(step)}x{j - i}")
        i = j + 1
    return " ".join(parts)


def _number(value: float) -> str:
    text = f"{value:.9f}".rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"
