"""The sandbox's entry points: the `sandbox` environment kind and the `sandbox` chaos driver (pyproject.toml,
groups `rxsuite.environment_kinds` and `rxsuite.chaos_drivers`). Jobs reach the sandbox only through these."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rxcore.errors import RxError
from rxcore.plugins import Arg, DriverPlugin, Endpoint, StepCallback
from sandbox.chaos_driver import SandboxDriver
from sandbox.config import SandboxConfig, parse_sandbox_config
from sandbox.stack import REGIONS, Sandbox

__all__ = ["DRIVER", "KIND", "SandboxKind", "SandboxPlatform"]


class SandboxPlatform:
    """rxcore.plugins.Platform for one sandbox (identified by its state folder)."""

    def __init__(self, config: SandboxConfig) -> None:
        self.sandbox = Sandbox(config)

    def running(self) -> bool:
        parts = self.sandbox.status()
        return bool(parts) and all(p.running for p in parts)

    def up(self, on_step: StepCallback) -> bool:
        return self.sandbox.up(on_step)

    def down(self) -> list[str]:
        return self.sandbox.down()

    def endpoint(self) -> Endpoint:
        if not self.running():
            raise RxError(f"no running sandbox in {self.sandbox.state_dir}: start it with `rxsuite sandbox up` "
                          "(and stop it with `rxsuite sandbox down` after)")
        return Endpoint(self.sandbox.edge_url, self.sandbox.anon_key, self.sandbox.service_key,
                        self.sandbox.credentials_file)

    def driver_defaults(self) -> dict[str, dict[str, Any]]:
        """The fault proxy speaks the Toxiproxy API; `http` may reach the sandbox's own URLs."""
        sandbox = self.sandbox
        return {"toxiproxy": {"url": sandbox.fault_proxy_url},
                "http": {"targets": {"edge": sandbox.edge_url, "payments": sandbox.payments_url,
                                     "failover": sandbox.failover_url, "fault_proxy": sandbox.fault_proxy_url}}}

    def describe(self) -> dict[str, Any]:
        config = self.sandbox.config
        return {"state_dir": str(self.sandbox.state_dir), "replication": config.replication,
                "monitoring": {"prometheus": config.url("prometheus"), "alertmanager": config.url("alertmanager"),
                               "pager": config.url("pager")}}

    def events(self, since: float) -> list[dict[str, Any]]:
        """The failover manager's detections and promotions (not its auto-failover switches)."""
        try:
            events = self.sandbox.topology().get("events", [])
        except (OSError, ValueError):
            return []
        return [e for e in events if e.get("unix", 0) >= since and e.get("event") != "auto_failover_set"]


class SandboxKind:
    """rxcore.plugins.EnvironmentKind: the `sandbox:` section of an environment file."""

    def parse(self, section: Any, file: str, root: Path) -> SandboxConfig:
        return parse_sandbox_config(section, file, root)

    def platform(self, config: SandboxConfig) -> SandboxPlatform:
        return SandboxPlatform(config)


def _build_driver(platform: Any) -> SandboxDriver:
    if not isinstance(platform, SandboxPlatform):
        raise RxError("the sandbox driver needs a sandbox environment (kind: sandbox): use --env sandbox or drop the "
                      "sandbox steps")
    return SandboxDriver(platform.sandbox)


_TEXT, _NUM, _BOOL = (str,), (int, float), (bool,)
_REGION = Arg(_TEXT, True, REGIONS)
_NODE_NAMES = ("primary", "standby", "lost", "pg-a", "pg-b")

KIND = SandboxKind()
DRIVER = DriverPlugin(actions={
    "kill_region": {"region": _REGION},
    "freeze_region": {"region": _REGION},
    "thaw_region": {"region": _REGION},
    "start_region": {"region": _REGION, "version": Arg(_TEXT)},
    "ensure_region": {"region": _REGION},
    "wait_region_ready": {"region": _REGION, "timeout_s": Arg(_NUM)},
    "set_edge_server": {"region": _REGION, "enabled": Arg(_BOOL, True)},
    "stop_node": {"node": Arg(_TEXT, True, _NODE_NAMES), "mode": Arg(_TEXT, False, ("immediate", "fast"))},
    "set_auto_failover": {"enabled": Arg(_BOOL, True)},
    "ensure_standby": {"timeout_s": Arg(_NUM)},
    "set_synchronous": {"enabled": Arg(_BOOL, True)},
    "payments_control": {"outage": Arg(_BOOL), "latency_ms": Arg((int,))},
    "restore_to_mark": {"mark": Arg(_TEXT, True), "timeout_s": Arg(_NUM)},
}, build=_build_driver)
