"""Which drivers a drill may use: those the environment file lists under chaos.drivers, built for its targets.

On a sandbox environment the `sandbox` driver also provides `toxiproxy` (the sandbox's fault proxy speaks the
Toxiproxy API) and `http` (to the sandbox's own URLs only), since both are parts of the embedded platform.
"""

from __future__ import annotations

from typing import Any

from chaos.drivers.command import CommandDriver
from chaos.drivers.http import HttpDriver
from chaos.drivers.sandbox import SandboxDriver
from chaos.drivers.toxiproxy import ToxiproxyDriver
from rxcore.environment import Environment
from rxcore.errors import ConfigError
from sandbox.stack import Sandbox


def allowed_drivers(env: Environment) -> set[str]:
    listed = set(env.chaos.get("drivers") or ())
    if env.is_sandbox and "sandbox" in listed:
        listed |= {"toxiproxy", "http"}
    return listed


def build_drivers(env: Environment, needed: set[str], sandbox: Sandbox | None) -> dict[str, Any]:
    """One driver per name in `needed`; refuses (ConfigError on the environment file) any the file does not allow."""
    allowed = allowed_drivers(env)
    missing = sorted(needed - allowed)
    if missing:
        raise ConfigError(str(env.file), "chaos.drivers", f"the scenario needs driver(s) {', '.join(missing)}, "
                          f"which this environment does not allow ({', '.join(sorted(allowed)) or 'none'})",
                          "add them to chaos.drivers in the environment file, or pick another scenario")
    chaos = env.chaos
    drivers: dict[str, Any] = {}
    for name in sorted(needed):
        if name == "sandbox":
            if sandbox is None:
                raise ConfigError(str(env.file), "kind", "the sandbox driver needs a sandbox environment",
                                  "use --env sandbox or drop the sandbox steps")
            drivers[name] = SandboxDriver(sandbox)
        elif name == "toxiproxy":
            url = (chaos.get("toxiproxy") or {}).get("url") or (sandbox.fault_proxy_url if sandbox else None)
            if not url:
                raise ConfigError(str(env.file), "chaos.toxiproxy.url", "missing", "set the Toxiproxy API URL")
            drivers[name] = ToxiproxyDriver(url)
        elif name == "http":
            http = chaos.get("http") or {}
            targets = dict(http.get("targets") or {})
            if sandbox is not None:
                targets.update(edge=sandbox.edge_url, payments=sandbox.payments_url, failover=sandbox.failover_url,
                               fault_proxy=sandbox.fault_proxy_url)
            drivers[name] = HttpDriver(targets, tuple(http.get("allow") or ()))
        elif name == "command":
            drivers[name] = CommandDriver(tuple((chaos.get("command") or {}).get("allow") or ()))
    return drivers
