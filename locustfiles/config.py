"""The settings every Locust process of a run reads: one JSON file named by `RXSUITE_LOAD_CONFIG`.

`rxsuite load` writes it (no secrets: the anon key travels in `RXSUITE_ANON_KEY`, the credentials file is named by
`RXSUITE_CREDENTIALS_CSV`; rxcore.envvars), so a master, local workers and workers on other machines all run the
same settings.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rxcore import envvars

CONFIG_ENV = envvars.LOAD_CONFIG
ANON_KEY_ENV = envvars.ANON_KEY
# Names a CSV of synthetic accounts (email,password,role,user_id): set by `rxsuite load` for its Locust processes,
# by the k8s manifests for theirs, and read by the CLI too (it overrides an environment file's credentials_csv_env).
CREDENTIALS_ENV = envvars.CREDENTIALS_CSV
MODES = ("closed", "arrival")

# Default user mix: weight (relative share of users) and think time between tasks, [min, max] seconds.
DEFAULT_USER_MODELS: dict[str, dict[str, Any]] = {
    "patient": {"weight": 6, "wait": [1.0, 3.0]},
    "doctor": {"weight": 2, "wait": [1.0, 3.0]},
    "pharmacist": {"weight": 1, "wait": [1.0, 3.0]},
    "realtime": {"weight": 1, "wait": [2.0, 5.0]},
    "probe": {"weight": 0, "wait": [0.0, 0.0]},
}


def only_models(**chosen: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The user models with only `chosen` running (their settings over the defaults), every other at weight 0.

    For benchmarks and tests that drive one model, the probe most often: `only_models(probe={"weight": 1})`."""
    models = {name: dict(settings, weight=0) for name, settings in DEFAULT_USER_MODELS.items()}
    for name, settings in chosen.items():
        models[name].update(settings)
    return models


@dataclass
class SloTarget:
    """What the capacity profile holds each step to (defaults: the suite's default SLO spec)."""

    p95_ms: float = 3000.0
    max_bad_ratio: float = 0.001
    count_429_as_bad: bool = True


@dataclass
class LoadConfig:
    base_url: str
    profile: str = "smoke"
    mode: str = "closed"
    users: int = 5
    rate: float | None = None  # arrival mode: task iterations per second, all processes together
    duration_s: float = 20.0
    processes: int = 1  # processes running users (1 alone, N workers): rate and credentials are split by it
    user_models: dict[str, dict[str, Any]] = field(default_factory=lambda: json.loads(json.dumps(DEFAULT_USER_MODELS)))
    tags: list[str] = field(default_factory=list)
    raw: bool = False
    run_dir: str | None = None
    window_s: float = 1.0
    request_timeout_s: float = 30.0
    abort_after_s: float = 30.0  # no successful response for this long: the target is gone, stop the run
    step_count: int = 5  # step and capacity profiles: the run is this many equal steps
    slo: SloTarget = field(default_factory=SloTarget)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> LoadConfig:
        raw = dict(raw)
        raw["slo"] = SloTarget(**raw.get("slo", {}))
        return cls(**raw)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json(), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> LoadConfig:
        return cls.from_json(json.loads(path.read_text(encoding="utf-8")))


def current() -> LoadConfig:
    """The run's settings in a Locust process; a clear error when the launcher did not provide them."""
    path = envvars.getenv(CONFIG_ENV)
    if not path:
        raise RuntimeError(f"{CONFIG_ENV} is not set: start load runs with `rxsuite load` (it writes the settings "
                           "file), or point the variable at a load-config.json")
    return LoadConfig.load(Path(path))


MODEL_TASKS = {
    "patient": ("dashboard", "search_medications", "read_prescription", "request_renewal", "pay_for_approved"),
    "doctor": ("review_queue",),
    "pharmacist": ("dispense",),
    "realtime": ("renew_and_listen",),
    "probe": ("probe",),
}
_MODEL_FIELDS = {"weight", "wait", "tasks", "decline_share", "refresh_every_s", "path"}


def parse_user_models(raw: Any, where: str) -> dict[str, dict[str, Any]]:
    """The environment file's `users:` section over the defaults; ValueError names the field and the fix.

        users:
          patient: {weight: 6, wait: [1, 3], tasks: {dashboard: 5, pay_for_approved: 1}, decline_share: 0.1}
          doctor: {weight: 2}
          realtime: {weight: 0}
    """
    models: dict[str, dict[str, Any]] = json.loads(json.dumps(DEFAULT_USER_MODELS))
    if raw is None:
        return models
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: users: expected a mapping of user model to settings ({', '.join(models)})")
    for model, settings in raw.items():
        field_name = f"users.{model}"
        if model not in models:
            raise ValueError(f"{where}: {field_name}: unknown user model (known: {', '.join(models)})")
        if not isinstance(settings, dict):
            raise ValueError(f"{where}: {field_name}: expected a mapping such as {{weight: 1, wait: [1, 3]}}")
        unknown = set(settings) - _MODEL_FIELDS
        if unknown:
            raise ValueError(f"{where}: {field_name}.{sorted(unknown)[0]}: unknown field "
                             f"(allowed: {', '.join(sorted(_MODEL_FIELDS))})")
        weight = settings.get("weight", models[model]["weight"])
        if not isinstance(weight, int) or isinstance(weight, bool) or weight < 0:
            raise ValueError(f"{where}: {field_name}.weight: {weight!r} is not a whole number >= 0")
        wait = settings.get("wait", models[model]["wait"])
        if (not isinstance(wait, list) or len(wait) != 2 or not all(isinstance(w, int | float) for w in wait)
                or not 0 <= wait[0] <= wait[1]):
            raise ValueError(f"{where}: {field_name}.wait: {wait!r} is not [min, max] seconds with 0 <= min <= max")
        tasks = settings.get("tasks", {})
        if not isinstance(tasks, dict) or not all(isinstance(v, int) and v >= 0 for v in tasks.values()):
            raise ValueError(f"{where}: {field_name}.tasks: expected task: weight pairs with whole weights >= 0")
        wrong = [t for t in tasks if t not in MODEL_TASKS[model]]
        if wrong:
            raise ValueError(f"{where}: {field_name}.tasks.{wrong[0]}: no such task (tasks of {model}: "
                             f"{', '.join(MODEL_TASKS[model])})")
        if weight and tasks and not any(tasks.get(t, 1) for t in MODEL_TASKS[model]):
            raise ValueError(f"{where}: {field_name}.tasks: every task weight is 0; give one task a weight or "
                             f"set {field_name}.weight: 0")
        models[model].update(settings)
    if not any(m["weight"] for m in models.values()):
        raise ValueError(f"{where}: users: every weight is 0; give at least one user model a weight")
    return models
