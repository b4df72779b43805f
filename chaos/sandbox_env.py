"""An environment file for a sandbox on other ports (tests, benchmarks): `rxsuite drill --env FILE` then drills
that sandbox, started by the caller or by the drill."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import yaml

from rxcore.environment import PROJECT_ROOT

__all__ = ["write_sandbox_environment"]


class _SandboxSettings(Protocol):
    """What is read of the sandbox plug-in's SandboxConfig (chaos does not import the sandbox)."""

    @property
    def ports(self) -> dict[str, int]: ...
    @property
    def state_dir(self) -> Path: ...
    @property
    def replication(self) -> str: ...

    def url(self, port_name: str) -> str: ...


def write_sandbox_environment(config: _SandboxSettings, path: Path, name: str = "sandbox-test") -> Path:
    raw = yaml.safe_load((PROJECT_ROOT / "environments" / "sandbox.yaml").read_text())
    raw.update(name=name, base_url=config.url("edge"))
    raw["sandbox"].update(ports=dict(config.ports), state_dir=str(config.state_dir), replication=config.replication)
    if "alerting" in raw:  # the drill's alert checks read this sandbox's Alertmanager and pager, not the default's
        raw["alerting"].update(alertmanager_url=config.url("alertmanager"), pager_url=config.url("pager"))
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path
