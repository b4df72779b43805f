"""A sandbox beside the one someone is using: for tests and benchmarks."""

from __future__ import annotations

import dataclasses
from typing import Any

from rxcore.environment import PROJECT_ROOT, load_environment
from rxcore.errors import ConfigError
from sandbox.config import SandboxConfig

__all__ = ["sandbox_variant"]


def sandbox_variant(port_offset: int, state_name: str, env_name: str = "sandbox", **changes: Any) -> SandboxConfig:
    """An environment's sandbox moved to other ports and state folder, so tests and benchmarks can run beside a
    sandbox someone is using."""
    base: SandboxConfig | None = load_environment(env_name).sandbox
    if base is None:
        raise ConfigError(env_name, "kind", "not a sandbox environment", "use kind: sandbox")
    config = base.with_port_offset(port_offset, PROJECT_ROOT / ".rxsuite" / state_name)
    return dataclasses.replace(config, **changes) if changes else config
