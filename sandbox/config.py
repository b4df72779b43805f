"""The sandbox's settings: ports, state folder, replication mode, failover and seed size.

Read from the `sandbox:` section of an environment file; every field has a default so an empty section works.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rxcore import validation
from rxcore.errors import ConfigError

PORT_NAMES = (
    "edge",
    "edge_stats",
    "region_a",
    "region_b",
    "payments",
    "failover",
    "pg_a",
    "pg_b",
    "fault_api",
    "proxy_pg_a",
    "proxy_pg_b",
    "proxy_replication",
    "prometheus",
    "alertmanager",
    "pager",
    "pg_exporter",
)

_DEFAULT_PORTS = {
    "edge": 18080,
    "edge_stats": 18081,
    "region_a": 18101,
    "region_b": 18102,
    "payments": 18200,
    "failover": 18300,
    "pg_a": 18432,
    "pg_b": 18433,
    "fault_api": 18474,
    "proxy_pg_a": 18532,
    "proxy_pg_b": 18533,
    "proxy_replication": 18534,
    "prometheus": 18600,
    "alertmanager": 18601,
    "pager": 18602,
    "pg_exporter": 18620,
}


@dataclass(frozen=True)
class FailoverSettings:
    auto: bool = True
    check_interval_s: float = 1.0
    failure_threshold: int = 3


@dataclass(frozen=True)
class EdgeSettings:
    check_interval_ms: int = 500
    fall: int = 2
    rise: int = 2


@dataclass(frozen=True)
class SeedSettings:
    patients: int = 300
    doctors: int = 30
    pharmacists: int = 20
    medications: int = 200


@dataclass(frozen=True)
class RateLimitSettings:
    per_user_rps: float = 50.0
    per_user_burst: int = 100
    per_address_rps: float = 5000.0
    per_address_burst: int = 10000
    sign_in_account_burst: int = 10  # failed password sign-ins (GoTrue-like throttle; successes are free)
    sign_in_account_per_minute: float = 2.0
    sign_in_address_burst: int = 60
    sign_in_address_per_minute: float = 30.0


@dataclass(frozen=True)
class MonitoringSettings:
    scrape_interval_s: float = 1.0  # also Prometheus's rule evaluation interval
    rules_time_scale: float = 60.0  # `rxsuite slo rules --time-scale`: a 1 h alert window becomes 1 min


@dataclass(frozen=True)
class SandboxConfig:
    state_dir: Path = Path(".rxsuite/sandbox")
    ports: dict[str, int] = field(default_factory=lambda: dict(_DEFAULT_PORTS))
    replication: str = "async"
    failover: FailoverSettings = FailoverSettings()
    edge: EdgeSettings = EdgeSettings()
    seed: SeedSettings = SeedSettings()
    rate_limit: RateLimitSettings = RateLimitSettings()
    monitoring: MonitoringSettings = MonitoringSettings()
    access_token_ttl_s: int = 3600
    version: str = "1.0.0"

    def with_port_offset(self, offset: int, state_dir: Path) -> SandboxConfig:
        """A copy on other ports and another folder, so a second sandbox can run beside the first."""
        ports = {name: port + offset for name, port in self.ports.items()}
        return dataclasses.replace(self, ports=ports, state_dir=state_dir)

    def url(self, port_name: str) -> str:
        return f"http://127.0.0.1:{self.ports[port_name]}"


def parse_sandbox_config(raw: Any, file: str, base_dir: Path) -> SandboxConfig:
    """Build a SandboxConfig from the `sandbox:` mapping of an environment file, rejecting unknown fields."""
    if raw is None:
        raw = {}
    _require_mapping(raw, file, "sandbox")
    known = {"state_dir", "ports", "replication", "failover", "edge", "seed", "rate_limit", "access_token_ttl_s",
             "version", "monitoring"}
    _reject_unknown(raw, known, file, "sandbox")
    ports = dict(_DEFAULT_PORTS)
    raw_ports = raw.get("ports") or {}
    _require_mapping(raw_ports, file, "sandbox.ports")
    _reject_unknown(raw_ports, set(PORT_NAMES), file, "sandbox.ports")
    for name, value in raw_ports.items():
        if not isinstance(value, int) or isinstance(value, bool) or not 1024 <= value <= 65535:
            raise ConfigError(file, f"sandbox.ports.{name}", f"{value!r} is not a port",
                              "use an integer between 1024 and 65535")
        ports[name] = value
    clashes = sorted({p for p in ports.values() if list(ports.values()).count(p) > 1})
    if clashes:
        raise ConfigError(file, "sandbox.ports", f"port(s) {clashes} used twice", "give every part its own port")
    replication = raw.get("replication", "async")
    if replication not in ("async", "sync"):
        raise ConfigError(file, "sandbox.replication", f"{replication!r} is not a replication mode",
                          "use async or sync")
    state_raw = raw.get("state_dir", ".rxsuite/sandbox")
    if not isinstance(state_raw, str) or not state_raw.strip() or "\0" in state_raw:
        raise ConfigError(file, "sandbox.state_dir", f"{state_raw!r} is not a folder path",
                          "write a path, e.g. .rxsuite/sandbox (relative to the project)")
    state_dir = Path(state_raw)
    if not state_dir.is_absolute():
        state_dir = base_dir / state_dir
    return SandboxConfig(
        state_dir=state_dir,
        ports=ports,
        replication=replication,
        failover=_section(FailoverSettings, raw.get("failover"), file, "sandbox.failover"),
        edge=_section(EdgeSettings, raw.get("edge"), file, "sandbox.edge"),
        seed=_section(SeedSettings, raw.get("seed"), file, "sandbox.seed"),
        rate_limit=_section(RateLimitSettings, raw.get("rate_limit"), file, "sandbox.rate_limit"),
        monitoring=_section(MonitoringSettings, raw.get("monitoring"), file, "sandbox.monitoring"),
        access_token_ttl_s=_number(raw.get("access_token_ttl_s", 3600), int, file, "sandbox.access_token_ttl_s"),
        version=str(raw.get("version", "1.0.0")),
    )


def _section(cls: type, raw: Any, file: str, where: str) -> Any:
    if raw is None:
        return cls()
    _require_mapping(raw, file, where)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    _reject_unknown(raw, set(fields), file, where)
    values = {}
    for name, value in raw.items():
        kind = type(getattr(cls(), name))
        values[name] = _number(value, kind, file, f"{where}.{name}")
    return cls(**values)


def _number(value: Any, kind: type, file: str, where: str) -> Any:
    if kind is bool:
        if not isinstance(value, bool):
            raise ConfigError(file, where, f"{value!r} is not true/false", "use true or false")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float) or (kind is int and not isinstance(value, int)):
        raise ConfigError(file, where, f"{value!r} is not a{'n integer' if kind is int else ' number'}",
                          "use a positive number")
    if value <= 0:
        raise ConfigError(file, where, f"{value!r} must be positive", "use a number above 0")
    try:
        number = validation.finite(value)  # NaN, infinities and huge integers used to pass `value <= 0`
    except ValueError as exc:
        raise ConfigError(file, where, str(exc), "use a finite number above 0") from None
    return value if kind is int else number


def _require_mapping(raw: Any, file: str, where: str) -> None:
    if not isinstance(raw, dict):
        raise ConfigError(file, where, f"expected a mapping, found {type(raw).__name__}", "write key: value pairs")


def _reject_unknown(raw: dict, known: set[str], file: str, where: str) -> None:
    for key in raw:
        if key not in known:
            raise ConfigError(file, f"{where}.{key}", "unknown field", f"allowed: {', '.join(sorted(known))}")
