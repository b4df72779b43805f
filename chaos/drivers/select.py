"""Which drivers a drill may use: those the environment file lists under chaos.drivers, built for its targets.

The generic drivers (`toxiproxy`, `http`, `command`) are built from the environment file's `chaos` section. On an
environment whose kind is a plug-in platform (the sandbox), listing the kind's own driver also allows the generic
drivers the platform serves, with the platform's defaults (its fault proxy speaks the Toxiproxy API; `http` may
reach its own URLs).
"""

from __future__ import annotations

from typing import Any

from chaos.drivers.command import CommandDriver
from chaos.drivers.http import HttpDriver
from chaos.drivers.toxiproxy import ToxiproxyDriver
from rxcore import plugins
from rxcore.environment import Environment
from rxcore.errors import ConfigError

__all__ = ["allowed_drivers", "build_drivers"]


def allowed_drivers(env: Environment) -> set[str]:
    listed = set(env.chaos.get("drivers") or ())
    platform = env.platform() if env.kind in listed else None
    if platform is not None:
        listed |= set(platform.driver_defaults())
    return listed


def build_drivers(env: Environment, needed: set[str], platform: plugins.Platform | None) -> dict[str, Any]:
    """One driver per name in `needed`; refuses (ConfigError on the environment file) any the file does not allow."""
    allowed = allowed_drivers(env)
    missing = sorted(needed - allowed)
    if missing:
        raise ConfigError(str(env.file), "chaos.drivers", f"the scenario needs driver(s) {', '.join(missing)}, "
                          f"which this environment does not allow ({', '.join(sorted(allowed)) or 'none'})",
                          "add them to chaos.drivers in the environment file, or pick another scenario")
    chaos = env.chaos
    defaults = platform.driver_defaults() if platform is not None else {}
    drivers: dict[str, Any] = {}
    for name in sorted(needed):
        if name == "toxiproxy":
            url = (chaos.get("toxiproxy") or {}).get("url") or defaults.get("toxiproxy", {}).get("url")
            if not url:
                raise ConfigError(str(env.file), "chaos.toxiproxy.url", "missing", "set the Toxiproxy API URL")
            drivers[name] = ToxiproxyDriver(url, (chaos.get("toxiproxy") or {}).get("proxies"))
        elif name == "http":
            http = chaos.get("http") or {}
            targets = {**(http.get("targets") or {}), **defaults.get("http", {}).get("targets", {})}
            drivers[name] = HttpDriver(targets, tuple(http.get("allow") or ()))
        elif name == "command":
            command = chaos.get("command") or {}
            drivers[name] = CommandDriver(tuple(command.get("allow") or ()), command.get("templates"))
        else:
            drivers[name] = _plugin_driver(env, name, platform)
    return drivers


def _plugin_driver(env: Environment, name: str, platform: plugins.Platform | None) -> Any:
    plugin = plugins.chaos_driver(name)
    if plugin is None:
        raise ConfigError(str(env.file), "chaos.drivers", f"no driver named {name!r} is installed",
                          "install the plug-in that provides it (the sandbox's: pip install -e '.[sandbox]')")
    return plugin.build(platform)
