"""The schema of an environment file (`environments/<name>.yaml`), checked whole before any job reads it.

Types, ranges and finiteness of every field the suite reads, with the file's line in each refusal. `kind` is
required: a missing kind used to default to staging, which dodged the production guard. A plug-in's kind (the
embedded sandbox) brings a section named after it, which the plug-in checks itself; here it only has to be a mapping.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, Field, field_validator, model_validator

from rxcore.schema import Strict, validate_document
from rxcore.yamlfile import YamlDocument

__all__ = ["REMOTE_KINDS", "Alerting", "EnvironmentFile", "MaintenanceWindow", "Monitor", "validate_environment"]

# Kinds of remote platforms; a plug-in kind (the embedded sandbox) adds its own, with a section named after it.
REMOTE_KINDS = ("staging", "production", "preview")
_JOBS = ("load", "journeys", "drill", "report", "run", "monitor")

# A DNS name of at least two labels: the only e-mail domain `rxsuite accounts` creates users under.
_DOMAIN = r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"
_NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]
_Name = Annotated[str, Field(min_length=1, max_length=200)]


class Caps(Strict):
    """Load caps: a run above any of them is refused before it starts."""

    max_users: Annotated[int, Field(ge=1)] | None = None
    max_rate: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = None
    max_workers: Annotated[int, Field(ge=0)] | None = None
    max_duration_s: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = None


class UserModel(Strict):
    """One load user model's share and pacing (locustfiles.config checks the model names and task names)."""

    weight: _NonNegative = 1.0
    wait: Annotated[list[_NonNegative], Field(min_length=2, max_length=2)] | None = None
    tasks: dict[_Name, _NonNegative] | None = None
    decline_share: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)] | None = None
    refresh_every_s: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = None
    path: _Name | None = None

    @field_validator("wait")
    @classmethod
    def _ordered(cls, wait: list[float] | None) -> list[float] | None:
        if wait is not None and wait[0] > wait[1]:
            raise ValueError("min must not be above max: write [min, max] seconds")
        return wait


class _Toxiproxy(Strict):
    url: _Name | None = None
    # Portable scenarios name proxies by role (database-primary); this maps each role to the proxy's real name.
    proxies: dict[_Name, _Name] = Field(default_factory=dict)


class _Http(Strict):
    allow: list[_Name] = Field(default_factory=list)
    targets: dict[_Name, _Name] = Field(default_factory=dict)


class _Command(Strict):
    """The command driver: programs steps may run (argv[0]) and named argv templates with {placeholders}."""

    allow: list[_Name] = Field(default_factory=list)
    templates: dict[_Name, Annotated[list[_Name], Field(min_length=1)]] = Field(default_factory=dict)


class Chaos(Strict):
    drivers: list[_Name] = Field(default_factory=list)  # generic and plug-in ones; chaos.drivers.select checks
    allow_production: bool = False
    ledger_service_key_env: _Name | None = None
    toxiproxy: _Toxiproxy | None = None
    http: _Http | None = None
    command: _Command | None = None


class Checks(Strict):
    """Limits of `rxsuite env check` (preflight): what counts as too much clock skew, too little rate headroom."""

    max_clock_skew_s: Annotated[float, Field(gt=0, allow_inf_nan=False)] = 5.0
    rate_probe_requests: Annotated[int, Field(ge=0, le=200)] = 20


class _Prometheus(Strict):
    """Where `rxsuite slo evaluate --env` reads SLIs; header values from the named environment variables."""

    url: Annotated[str, Field(pattern=r"^https?://[^\s]+$", max_length=2000)]
    headers_env: dict[_Name, _Name] = Field(default_factory=dict)


class Alerting(Strict):
    """Where a drill checks that its fault paged (`alerts:` in a scenario): the team's Alertmanager (its API v2)
    and optionally a webhook receiver that lists what it received (`GET <pager_url>/notifications`, the sandbox
    pager's format). Header values (credentials) come from the named environment variables."""

    alertmanager_url: Annotated[str, Field(pattern=r"^https?://[^\s]+$", max_length=2000)]
    pager_url: Annotated[str, Field(pattern=r"^https?://[^\s]+$", max_length=2000)] | None = None
    headers_env: dict[_Name, _Name] = Field(default_factory=dict)


class MaintenanceWindow(Strict):
    """Planned work: the monitor's checks in it are kept, left out of the SLI, and shown in reports."""

    start: AwareDatetime
    end: AwareDatetime
    reason: _Name

    @model_validator(mode="after")
    def _ordered(self) -> MaintenanceWindow:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class Monitor(Strict):
    """`rxsuite monitor`: how often, which checks, when a check is called down, what evidence is kept."""

    every_s: Annotated[float, Field(gt=0, allow_inf_nan=False)] = 300.0
    checks: Literal["smoke", "api", "all"] = "all"
    down_after: Annotated[int, Field(ge=1)] = 2          # a check is down after this many failures...
    down_of: Annotated[int, Field(ge=1)] = 3             # ...among its last this many runs ("x of y")
    max_checks_per_minute: Annotated[float, Field(gt=0, allow_inf_nan=False)] = 60.0  # the rate cap
    evidence_keep: Annotated[int, Field(ge=0)] = 50      # failures whose screenshot/trace are kept, newest first
    metrics_port: Annotated[int, Field(ge=1, le=65535)] | None = None  # /metrics on 127.0.0.1 while running
    maintenance: list[MaintenanceWindow] = Field(default_factory=list)

    @model_validator(mode="after")
    def _x_of_y(self) -> Monitor:
        if self.down_after > self.down_of:
            raise ValueError("down_after must not exceed down_of")
        return self


class EnvironmentFile(Strict):
    name: _Name | None = None
    kind: _Name
    base_url: Annotated[str, Field(pattern=r"^https?://[^\s]+$", max_length=2000)]
    anon_key_env: _Name | None = None
    service_key_env: _Name | None = None
    credentials_csv_env: _Name | None = None
    synthetic_domain: Annotated[str, Field(pattern=_DOMAIN, max_length=253)] | None = None
    checks: Checks = Checks()
    allowed_jobs: list[Literal[_JOBS]] = Field(default_factory=list)  # type: ignore[valid-type]
    caps: Caps = Caps()
    chaos: Chaos = Chaos()
    users: dict[_Name, UserModel] | None = None
    journeys: dict[_Name, Any] | None = None
    prometheus: _Prometheus | None = None
    monitor: Monitor = Monitor()
    alerting: Alerting | None = None


def validate_environment(doc: YamlDocument, plugin_kinds: Collection[str] = ()) -> EnvironmentFile:
    """The file's content as an EnvironmentFile; a ConfigError naming the first bad field, its line and the fix.

    `plugin_kinds` are the kinds installed plug-ins add; each may bring a mapping named after it, left to the
    plug-in to check."""
    kinds = (*REMOTE_KINDS, *plugin_kinds)
    if isinstance(doc.data, dict):
        for section in plugin_kinds:
            if doc.data.get(section) is not None and not isinstance(doc.data[section], dict):
                raise doc.error((section,), "must be a mapping", f"write the {section} settings as key: value pairs")
        doc = dataclasses.replace(doc, data={k: v for k, v in doc.data.items() if k not in plugin_kinds})
    checked = validate_document(EnvironmentFile, doc, "see environments/sandbox.yaml for a complete file", {
        ("kind",): f"say what this environment is: kind: one of {', '.join(kinds)} (there is no default)"})
    if checked.kind not in kinds:
        missing = " (the sandbox kind comes with the [sandbox] extra: pip install -e '.[sandbox]')" \
            if checked.kind == "sandbox" else ""
        raise doc.error(("kind",), f"{checked.kind!r} is not an environment kind{missing}",
                        f"use one of {', '.join(kinds)}")
    return checked
