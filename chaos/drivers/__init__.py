"""Fault drivers: what each can do (checked when a scenario is loaded) and which the environment allows.

A driver is an object with `run(action, args, ctx) -> dict` (a detail for the journal). Arguments are declared
here, once, so scenario files are refused with a precise field before any driver is built. The generic drivers
live here; a plug-in adds its own (rxcore.plugins, group `rxsuite.chaos_drivers`: the sandbox's), loaded only when
a scenario names it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rxcore import plugins
from rxcore.plugins import Arg

__all__ = ["ACTIONS", "BUILTIN_DRIVER", "check_action_args", "driver_actions", "driver_names"]

BUILTIN_DRIVER = "drill"
_TEXT, _NUM, _BOOL, _MAP, _LIST = (str,), (int, float), (bool,), (dict,), (list,)
_PROXY = Arg(_TEXT, True)

ACTIONS: dict[str, dict[str, dict[str, Arg]]] = {  # the generic drivers
    BUILTIN_DRIVER: {
        "wait": {"seconds": Arg(_NUM, True)},
        "mark": {"name": Arg(_TEXT, True)},
        "wait_for_recovery": {"timeout_s": Arg(_NUM)},
    },
    "toxiproxy": {
        "disable_proxy": {"proxy": _PROXY},
        "enable_proxy": {"proxy": _PROXY},
        "add_toxic": {"proxy": _PROXY, "type": Arg(_TEXT, True, ("latency", "timeout", "reset_peer", "bandwidth")),
                      "attributes": Arg(_MAP), "name": Arg(_TEXT), "stream": Arg(_TEXT, False, ("upstream",
                                                                                                "downstream")),
                      "toxicity": Arg(_NUM)},
        "remove_toxic": {"proxy": _PROXY, "name": Arg(_TEXT, True), "missing_ok": Arg(_BOOL)},
        "reset": {},
    },
    "command": {  # argv, or a template the environment file names (chaos.command.templates) + its params
        "run": {"argv": Arg(_LIST), "template": Arg(_TEXT), "params": Arg(_MAP), "timeout_s": Arg(_NUM),
                "expect_exit": Arg((int,))},
        "restore": {"template": Arg(_TEXT, True), "mark": Arg(_TEXT, True), "params": Arg(_MAP),
                    "timeout_s": Arg(_NUM)},
    },
    "http": {
        "request": {"target": Arg(_TEXT), "url": Arg(_TEXT), "path": Arg(_TEXT), "method": Arg(_TEXT, False, (
            "GET", "POST", "PUT", "PATCH", "DELETE")), "json": Arg((dict, list)), "headers_env": Arg(_MAP),
                    "expect_status": Arg((int, list)), "timeout_s": Arg(_NUM)},
    },
}


def driver_names() -> list[str]:
    """Every driver a scenario may name: the generic ones and those of installed plug-ins (not loaded here)."""
    return sorted({*ACTIONS, *plugins.chaos_drivers()})


def driver_actions(driver: str) -> Mapping[str, Mapping[str, Arg]] | None:
    """The actions of a driver and their arguments; None for no such driver. Loads a plug-in driver."""
    if driver in ACTIONS:
        return ACTIONS[driver]
    plugin = plugins.chaos_driver(driver)
    return plugin.actions if plugin else None


def check_action_args(driver: str, action: str, args: dict[str, Any]) -> tuple[str, str, str] | None:
    """The first problem with `args` as (field, problem, fix), or None."""
    spec = (driver_actions(driver) or {})[action]
    for name in args:
        if name not in spec:
            return name, "unknown argument", f"{driver}.{action} takes: {', '.join(spec) or 'no arguments'}"
    for name, arg in spec.items():
        if name not in args:
            if arg.required:
                return name, "missing", f"{driver}.{action} needs {name}"
            continue
        value = args[name]
        if isinstance(value, bool) and bool not in arg.kinds:
            return name, f"{value!r} has the wrong type", f"write a {_kind_names(arg.kinds)}"
        if not isinstance(value, arg.kinds):
            return name, f"{value!r} has the wrong type", f"write a {_kind_names(arg.kinds)}"
        if isinstance(value, int | float) and not isinstance(value, bool) and not 0 <= value <= 1e9:
            return name, f"{value!r} is out of range", "write a finite number from 0 (seconds, milliseconds, shares)"
        if arg.choices is not None and value not in arg.choices:
            return name, f"{value!r} is not allowed", f"use one of {', '.join(map(str, arg.choices))}"
    if driver == "http" and ("url" in args) == ("target" in args):
        return "url", "give exactly one of url and target", "url: https://... or target: NAME (+ path)"
    if driver == "command":
        return _command_problem(action, args)
    return None


def _command_problem(action: str, args: dict[str, Any]) -> tuple[str, str, str] | None:
    if action == "run" and ("argv" in args) == ("template" in args):
        return "argv", "give exactly one of argv and template", \
            "template: NAME (of the environment's chaos.command.templates) or argv: [program, arg, ...]"
    if "argv" in args and not (args["argv"] and all(isinstance(a, str) for a in args["argv"])):
        return "argv", "must be a non-empty list of strings", "e.g. argv: [/usr/local/bin/failover, --region, a]"
    for key, value in (args.get("params") or {}).items():
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            return f"params.{key}", f"{value!r} is not text or a number", "write a placeholder value such as eu-west"
    return None


def _kind_names(kinds: tuple[type, ...]) -> str:
    names = {str: "text", int: "number", float: "number", bool: "true/false", dict: "mapping", list: "list"}
    return " or ".join(dict.fromkeys(names[k] for k in kinds))
