"""Scenario files: a drill described as data, checked whole before anything touches the target.

Every problem is a ConfigError naming the file, the field (a dotted path such as `method[2].args.node`) and the
fix, so a broken scenario is refused before the first fault. See docs/drills.md for the schema.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from chaos.drivers import BUILTIN_DRIVER, check_action_args, driver_actions, driver_names
from chaos.metrics import METRICS, OPERATORS
from rxcore import validation
from rxcore.errors import ConfigError
from rxcore.yamlfile import YamlDocument, read_yaml

SCENARIO_DIR = Path(__file__).resolve().parent / "scenarios"
CHECK_KINDS = ("http", "availability", "sandbox_healthy")
_TOP_FIELDS = {"name", "description", "expect", "designed_to_show", "steady_state", "load", "probes", "method",
               "rollbacks", "safeguards", "objectives", "recovery_timeout_s", "self_healing", "self_healing_reason",
               "alerts", "alerts_quiet_s"}
STEADY_AFTER = "steady_state_after"
_STEADY_AFTER_OBJECTIVE = {"name": "steady state after", "metric": STEADY_AFTER, "op": "==", "target": 1,
                           "weight": 2, "critical": True}


@dataclass(frozen=True)
class Check:
    kind: str
    params: dict[str, Any]
    where: str


@dataclass(frozen=True)
class Action:
    """One timed step: `at_s` from the method start or `after_s` after the previous step started + its duration."""

    name: str
    driver: str
    action: str
    args: dict[str, Any]
    at_s: float | None
    after_s: float
    duration_s: float
    fault: bool
    where: str


@dataclass(frozen=True)
class Safeguard:
    """Abort the method when the probes' availability over the last `window_s` falls below `below`,
    or when the method runs longer than `max_duration_s`."""

    window_s: float | None
    below: float | None
    max_duration_s: float | None
    where: str


@dataclass(frozen=True)
class DrillObjective:
    name: str
    metric: str
    op: str
    target: float
    weight: float
    critical: bool


@dataclass(frozen=True)
class ExpectedAlert:
    """An alert the fault must raise: firing in Alertmanager within `within_s` of the fault, resolved (its resolved
    notification received) within `resolves_within_s` of recovery. `required: false` lets it fire without
    having to (not counted as unexpected)."""

    name: str
    within_s: float
    resolves_within_s: float | None
    required: bool
    where: str


@dataclass(frozen=True)
class AlertChecks:
    """`alerts:` of a scenario: what its fault must raise; an empty list says it must raise nothing (the silence
    test). `quiet_s` is how long after recovery the drill keeps watching for alerts it did not expect."""

    expected: tuple[ExpectedAlert, ...]
    quiet_s: float


@dataclass(frozen=True)
class LoadSpec:
    profile: str
    users: int
    duration_s: float


@dataclass(frozen=True)
class ProbeSpec:
    rate_hz: float = 10.0
    timeout_s: float = 2.0
    stability_s: float = 5.0
    read: bool = True
    write: bool = True


@dataclass(frozen=True)
class Scenario:
    name: str
    file: Path
    description: str
    expect: str
    designed_to_show: str
    checks: tuple[Check, ...]
    after_timeout_s: float
    load: LoadSpec | None
    probes: ProbeSpec
    method: tuple[Action, ...]
    rollbacks: tuple[Action, ...]
    safeguards: tuple[Safeguard, ...]
    objectives: tuple[DrillObjective, ...]
    recovery_timeout_s: float
    drivers: frozenset[str] = field(default_factory=frozenset)
    alerts: AlertChecks | None = None  # None: the drill does not check alerting


def scenario_path(name_or_path: str) -> Path:
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml"):
        return candidate
    return SCENARIO_DIR / f"{name_or_path}.yaml"


def known_scenarios() -> list[str]:
    """Scenario names, those in sub-folders as `folder/name` (the portable ones: `staging/region-outage`)."""
    return sorted(p.relative_to(SCENARIO_DIR).with_suffix("").as_posix() for p in SCENARIO_DIR.rglob("*.yaml"))


def load_scenario(name_or_path: str) -> Scenario:
    path = scenario_path(name_or_path)
    if not path.is_file():
        raise ConfigError(str(path), "--scenario", "no such scenario file",
                          f"known scenarios: {', '.join(known_scenarios()) or 'none'}")
    doc = read_yaml(path)
    return parse_scenario(doc.data, path, doc)


def parse_scenario(raw: Any, path: Path, doc: YamlDocument | None = None) -> Scenario:
    """The scenario in `raw`; `doc` (the file as read) lets every refusal name its line."""
    p = _Parser(str(path), doc)
    p.mapping(raw, "(top level)")
    p.known(raw, _TOP_FIELDS, "")
    name = p.text(raw.get("name", path.stem), "name")
    expect = raw.get("expect", "pass")
    if expect not in ("pass", "fail"):
        p.fail("expect", f"{expect!r} is not a verdict", "use pass (default) or fail (and say why in designed_to_show)")
    designed = p.text(raw.get("designed_to_show", ""), "designed_to_show")
    if expect == "fail" and not designed:
        p.fail("designed_to_show", "missing for a scenario expected to fail", "say what the failure demonstrates")
    steady = raw.get("steady_state") or {}
    p.mapping(steady, "steady_state")
    p.known(steady, {"checks", "after_timeout_s"}, "steady_state")
    checks = tuple(p.check(c, f"steady_state.checks[{i}]") for i, c in enumerate(p.seq(steady.get("checks") or [],
                                                                                        "steady_state.checks")))
    method_raw = p.seq(raw.get("method"), "method")
    if not method_raw:
        p.fail("method", "empty or missing", "list at least one timed action")
    method = tuple(p.action(a, f"method[{i}]") for i, a in enumerate(method_raw))
    faults = [a for a in method if a.fault]
    if len(faults) > 1:
        p.fail(faults[1].where + ".fault", "a second step is marked as the fault",
               "mark exactly one step `fault: true` (RTO and RPO are measured from it)")
    rollbacks = tuple(p.action(a, f"rollbacks[{i}]", timed=False)
                      for i, a in enumerate(p.seq(raw.get("rollbacks") or [], "rollbacks")))
    safeguards = tuple(p.safeguard(s, f"safeguards[{i}]")
                       for i, s in enumerate(p.seq(raw.get("safeguards") or [], "safeguards")))
    objectives = tuple(p.objective(o, f"objectives[{i}]")
                       for i, o in enumerate(p.seq(raw.get("objectives"), "objectives")))
    if not objectives:
        p.fail("objectives", "empty or missing", "list at least one objective, e.g. {metric: rto_s, op: '<=', "
               "target: 30, weight: 1, critical: true}")
    objectives = _with_steady_after(p, objectives)
    alerts = p.alerts(raw)
    if alerts is not None:
        objectives = _with_alert_objectives(p, objectives, alerts)
    _check_rollbacks(p, raw, method, rollbacks)
    if any(o.metric in ("rto_s", "time_to_detect_s", "rpo_count", "rpo_s") for o in objectives) and not faults:
        p.fail("method", "objectives measure RTO/RPO but no step is marked `fault: true`",
               "mark the step that injects the fault with fault: true")
    drivers = frozenset(a.driver for a in (*method, *rollbacks) if a.driver != BUILTIN_DRIVER)
    if any(c.kind == "sandbox_healthy" for c in checks):
        drivers = drivers | {"sandbox"}
    return Scenario(
        name=name, file=path, description=p.text(raw.get("description", ""), "description"), expect=expect,
        designed_to_show=designed, checks=checks,
        after_timeout_s=p.number(steady.get("after_timeout_s", 60), "steady_state.after_timeout_s", low=1),
        load=p.load(raw.get("load")), probes=p.probes(raw.get("probes")), method=method, rollbacks=rollbacks,
        safeguards=safeguards, objectives=objectives,
        recovery_timeout_s=p.number(raw.get("recovery_timeout_s", 60), "recovery_timeout_s", low=1),
        drivers=drivers, alerts=alerts,
    )


class _Parser:
    """Field readers that raise ConfigError with the file, the line and the dotted field path."""

    def __init__(self, file: str, doc: YamlDocument | None = None) -> None:
        self.file = file
        self.doc = doc

    def fail(self, where: str, problem: str, fix: str) -> NoReturn:
        raise ConfigError(self.file, where, problem, fix, line=self.line(where))

    def line(self, where: str) -> int | None:
        """The line of a dotted path such as `method[2].args.node` (of its nearest parent the file has)."""
        if self.doc is None:
            return None
        parts = tuple(int(p) if p.isdigit() else p for p in re.findall(r"[^.\[\]]+", where))
        return self.doc.line(parts)

    def mapping(self, value: Any, where: str) -> None:
        if not isinstance(value, dict):
            self.fail(where, f"expected a mapping, found {type(value).__name__}", "write key: value pairs")

    def seq(self, value: Any, where: str) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(where, f"expected a list, found {type(value).__name__}", "write a YAML list (- item)")
        return value

    def known(self, value: dict[str, Any], allowed: set[str], where: str) -> None:
        for key in value:
            if key not in allowed:
                prefix = f"{where}." if where else ""
                self.fail(f"{prefix}{key}", "unknown field", f"allowed: {', '.join(sorted(allowed))}")

    def text(self, value: Any, where: str) -> str:
        if not isinstance(value, str):
            self.fail(where, f"{value!r} is not text", "write a string")
        return value

    def number(self, value: Any, where: str, low: float = 0.0, high: float | None = None) -> float:
        try:
            return validation.finite(value, low, high)
        except ValueError as exc:
            raise ConfigError(self.file, where, str(exc), "write a finite number such as 5 or 0.5",
                              line=self.line(where)) from None

    def flag(self, value: Any, where: str) -> bool:
        if not isinstance(value, bool):
            self.fail(where, f"{value!r} is not true/false", "write true or false")
        return value

    def check(self, raw: Any, where: str) -> Check:
        self.mapping(raw, where)
        kind = raw.get("check")
        if kind not in CHECK_KINDS:
            self.fail(f"{where}.check", f"{kind!r} is not a steady-state check", f"use one of {', '.join(CHECK_KINDS)}")
        params = {k: v for k, v in raw.items() if k != "check"}
        if kind == "http":
            self.known(params, {"path", "status", "json"}, where)
            path = self.text(params.get("path", "/health"), f"{where}.path")
            if not path.startswith("/"):
                self.fail(f"{where}.path", f"{path!r} is not a path", "start it with / (it is joined to the edge URL)")
            self.number(params.get("status", 200), f"{where}.status", 100, 599)
            if "json" in params:
                self.mapping(params["json"], f"{where}.json")
        elif kind == "availability":
            self.known(params, {"window_s", "min"}, where)
            self.number(params.get("window_s", 2), f"{where}.window_s", low=0.5)
            self.number(params.get("min", 1.0), f"{where}.min", 0, 1)
        else:
            self.known(params, set(), where)
        return Check(kind, params, where)

    def action(self, raw: Any, where: str, timed: bool = True) -> Action:
        self.mapping(raw, where)
        timing = {"at_s", "after_s", "duration_s", "fault"} if timed else set()
        allowed = {"name", "driver", "action", "args"} | timing
        self.known(raw, allowed, where)
        driver = raw.get("driver", BUILTIN_DRIVER)
        actions = driver_actions(driver) if isinstance(driver, str) else None
        if actions is None:
            self.fail(f"{where}.driver", f"{driver!r} is not a driver", f"use one of {', '.join(driver_names())}")
        action = raw.get("action")
        if not isinstance(action, str) or action not in actions:
            self.fail(f"{where}.action", f"{action!r} is not an action of driver {driver}",
                      f"use one of {', '.join(sorted(actions))}")
        args = raw.get("args") or {}
        self.mapping(args, f"{where}.args")
        problem = check_action_args(driver, action, args)
        if problem is not None:
            field_name, issue, fix = problem
            self.fail(f"{where}.args.{field_name}" if field_name else f"{where}.args", issue, fix)
        if "at_s" in raw and "after_s" in raw:
            self.fail(f"{where}.after_s", "both at_s and after_s are set", "keep one: at_s (from the method start) "
                      "or after_s (after the previous step)")
        return Action(
            name=self.text(raw.get("name", f"{driver}.{action}"), f"{where}.name"), driver=driver, action=action,
            args=dict(args), at_s=self.number(raw["at_s"], f"{where}.at_s") if "at_s" in raw else None,
            after_s=self.number(raw.get("after_s", 0), f"{where}.after_s"),
            duration_s=self.number(raw.get("duration_s", 0), f"{where}.duration_s"),
            fault=self.flag(raw.get("fault", False), f"{where}.fault"), where=where,
        )

    def safeguard(self, raw: Any, where: str) -> Safeguard:
        self.mapping(raw, where)
        self.known(raw, {"availability_below", "window_s", "max_duration_s"}, where)
        below = raw.get("availability_below")
        window = raw.get("window_s")
        if (below is None) != (window is None):
            self.fail(where, "availability_below and window_s go together",
                      "set both (e.g. availability_below: 0.5, window_s: 10) or neither")
        if below is None and "max_duration_s" not in raw:
            self.fail(where, "names no bound", "set availability_below + window_s, or max_duration_s")
        return Safeguard(
            window_s=self.number(window, f"{where}.window_s", low=0.5) if window is not None else None,
            below=self.number(below, f"{where}.availability_below", 0, 1) if below is not None else None,
            max_duration_s=(self.number(raw["max_duration_s"], f"{where}.max_duration_s", low=1)
                            if "max_duration_s" in raw else None),
            where=where,
        )

    def objective(self, raw: Any, where: str) -> DrillObjective:
        self.mapping(raw, where)
        self.known(raw, {"name", "metric", "op", "target", "weight", "critical"}, where)
        metric = raw.get("metric")
        if not isinstance(metric, str) or metric not in METRICS:
            self.fail(f"{where}.metric", f"{metric!r} is not a drill metric",
                      f"use one of {', '.join(sorted(METRICS))}")
        op = raw.get("op", "<=")
        if not isinstance(op, str) or op not in OPERATORS:
            self.fail(f"{where}.op", f"{op!r} is not a comparison", f"use one of {', '.join(OPERATORS)}")
        if "target" not in raw:
            self.fail(f"{where}.target", "missing", f"the value {metric} is compared with, e.g. target: 30")
        target = raw["target"]
        if isinstance(target, bool):
            target = float(target)
        return DrillObjective(
            name=self.text(raw.get("name", f"{metric} {op} {target}"), f"{where}.name"), metric=metric, op=op,
            target=self.number(target, f"{where}.target", low=-1e12), weight=self.number(raw.get("weight", 1),
                                                                                         f"{where}.weight"),
            critical=self.flag(raw.get("critical", False), f"{where}.critical"),
        )

    def alerts(self, raw: dict[str, Any]) -> AlertChecks | None:
        if "alerts" not in raw:
            if "alerts_quiet_s" in raw:
                self.fail("alerts_quiet_s", "given without alerts", "declare alerts: [...] (or alerts: [] for a "
                          "fault that must not page), or remove it")
            return None
        if raw["alerts"] is None:
            self.fail("alerts", "empty", "list the alerts the fault must raise, e.g. [{name: RxAvailabilityPage, "
                      "within: 60s}], or write alerts: [] for a fault that must raise none")
        items = self.seq(raw["alerts"], "alerts")
        expected = tuple(self.expected_alert(item, f"alerts[{i}]") for i, item in enumerate(items))
        for i, a in enumerate(expected):
            if a.name in {b.name for b in expected[:i]}:
                self.fail(f"{a.where}.name", f"{a.name} is listed twice", "list each alert once")
        return AlertChecks(expected, self.number(raw.get("alerts_quiet_s", 15), "alerts_quiet_s", 0, 600))

    def expected_alert(self, raw: Any, where: str) -> ExpectedAlert:
        self.mapping(raw, where)
        self.known(raw, {"name", "within", "resolves_within", "required"}, where)
        name = raw.get("name")
        if not isinstance(name, str) or not re.fullmatch(r"[a-zA-Z_][a-zA-Z0-9_]*", name):
            self.fail(f"{where}.name", f"{name!r} is not an alert name", "write the alertname label, e.g. "
                      "RxAvailabilityPage")
        resolves = raw.get("resolves_within")
        return ExpectedAlert(
            name=name, within_s=self.duration(raw.get("within", "60s"), f"{where}.within"),
            resolves_within_s=None if resolves is None else self.duration(resolves, f"{where}.resolves_within"),
            required=self.flag(raw.get("required", True), f"{where}.required"), where=where)

    def duration(self, value: Any, where: str) -> float:
        """Seconds from `90`, `60s`, `5m`: alert timings are written as rule files write them."""
        if isinstance(value, int | float) and not isinstance(value, bool):
            return self.number(value, where, low=0.001, high=86_400)
        try:
            seconds = validation.parse_duration(value)
        except (TypeError, ValueError) as exc:
            raise ConfigError(self.file, where, str(exc), "write a duration such as 60s or 5m",
                              line=self.line(where)) from None
        return self.number(seconds, where, low=0.001, high=86_400)

    def load(self, raw: Any) -> LoadSpec | None:
        if raw is None:
            return None
        self.mapping(raw, "load")
        self.known(raw, {"profile", "users", "duration_s"}, "load")
        users = raw.get("users", 10)
        if isinstance(users, bool) or not isinstance(users, int) or users < 1:
            self.fail("load.users", f"{users!r} is not a user count", "write a whole number of at least 1")
        profile = self.text(raw.get("profile", "baseline"), "load.profile")
        from locustfiles.profiles import PROFILES

        if profile not in PROFILES:
            self.fail("load.profile", f"{profile!r} is not a load profile", f"use one of {', '.join(PROFILES)}")
        return LoadSpec(profile=profile, users=users,
                        duration_s=self.number(raw.get("duration_s", 60), "load.duration_s", low=1))

    def probes(self, raw: Any) -> ProbeSpec:
        if raw is None:
            return ProbeSpec()
        self.mapping(raw, "probes")
        self.known(raw, {"rate_hz", "timeout_s", "stability_s", "read", "write"}, "probes")
        spec = ProbeSpec(
            rate_hz=self.number(raw.get("rate_hz", 10), "probes.rate_hz", 1, 50),
            timeout_s=self.number(raw.get("timeout_s", 2), "probes.timeout_s", 0.2, 30),
            stability_s=self.number(raw.get("stability_s", 5), "probes.stability_s", 0.5, 120),
            read=self.flag(raw.get("read", True), "probes.read"),
            write=self.flag(raw.get("write", True), "probes.write"),
        )
        if not (spec.read or spec.write):
            self.fail("probes", "both read and write probes are off", "keep at least one on")
        return spec


def _with_steady_after(p: _Parser, objectives: tuple[DrillObjective, ...]) -> tuple[DrillObjective, ...]:
    """A drill must leave the environment as it found it: the after-steady-state is always a critical objective,
    added when the file does not list it; a file that lists it as not critical is refused."""
    listed = [o for o in objectives if o.metric == STEADY_AFTER]
    for i, objective in enumerate(objectives):
        if objective.metric == STEADY_AFTER and not (objective.critical and objective.op == "==" and
                                                     objective.target == 1):
            p.fail(f"objectives[{i}]", "the steady state after the drill must be a critical objective == 1",
                   "write {metric: steady_state_after, op: '==', target: 1, critical: true}, or leave it out "
                   "(it is added)")
    return objectives if listed else (*objectives, p.objective(_STEADY_AFTER_OBJECTIVE, "(implicit)"))


def _with_alert_objectives(p: _Parser, objectives: tuple[DrillObjective, ...],
                           alerts: AlertChecks) -> tuple[DrillObjective, ...]:
    """A scenario that declares alerts is judged on them: every required alert fired (critical: an outage nobody
    is paged for is a safety problem), each resolved in time, and nothing else fired (critical for `alerts: []`,
    a drill that exists to show silence). Each is added unless the file lists its metric itself."""
    listed = {o.metric for o in objectives}
    added: list[dict[str, Any]] = []
    if any(a.required for a in alerts.expected):
        added.append({"name": "declared alerts fired in time", "metric": "alerts_missed", "op": "==", "target": 0,
                      "weight": 2, "critical": True})
    if any(a.resolves_within_s is not None for a in alerts.expected):
        added.append({"name": "alerts resolved in time", "metric": "alerts_unresolved", "op": "==", "target": 0,
                      "weight": 1, "critical": False})
    added.append({"name": "no unexpected alert", "metric": "unexpected_alerts", "op": "==", "target": 0,
                  "weight": 1, "critical": not alerts.expected})
    return (*objectives, *(p.objective(o, "(implicit)") for o in added if o["metric"] not in listed))


def _check_rollbacks(p: _Parser, raw: dict[str, Any], method: tuple[Action, ...],
                     rollbacks: tuple[Action, ...]) -> None:
    """A method that acts on the target needs rollbacks, unless the file declares the fault self-healing with a
    reason (a fault that undoes itself, e.g. a restore into a scratch copy it discards)."""
    self_healing = p.flag(raw.get("self_healing", False), "self_healing")
    reason = raw.get("self_healing_reason")
    if self_healing and not (isinstance(reason, str) and reason.strip()):
        p.fail("self_healing_reason", "missing", "say why the environment heals without a rollback")
    if reason is not None and not self_healing:
        p.fail("self_healing_reason", "given without self_healing: true", "set self_healing: true or remove it")
    acting = [a for a in method if a.driver != BUILTIN_DRIVER]
    if acting and not rollbacks and not self_healing:
        p.fail("rollbacks", f"none, but {acting[0].where} ({acting[0].name}) acts on the target",
               "add rollbacks that undo the fault (they run on every way out, Ctrl-C too), or declare "
               "self_healing: true with self_healing_reason if the fault undoes itself")
