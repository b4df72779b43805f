"""Plug-ins found through entry points, so jobs can drive a platform they never import (the embedded sandbox).

Two groups, each mapping a name to an object:
- `rxsuite.environment_kinds`: an `EnvironmentKind`, which parses the environment file's section named after the
  kind and hands back a `Platform`: the target's URLs and keys once it runs, and how to start and stop it.
- `rxsuite.chaos_drivers`: a `DriverPlugin`, which declares its actions (so scenario files are checked before
  anything runs) and builds the driver for a platform.

A project installed without a plug-in simply has no such kind or driver; the messages say which extra adds it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Protocol

from rxcore.errors import RxError

__all__ = [
    "CHAOS_DRIVERS",
    "ENVIRONMENT_KINDS",
    "Arg",
    "DriverContext",
    "DriverPlugin",
    "Endpoint",
    "EnvironmentKind",
    "Platform",
    "StepCallback",
    "chaos_driver",
    "chaos_drivers",
    "environment_kind",
    "environment_kinds",
]

ENVIRONMENT_KINDS = "rxsuite.environment_kinds"
CHAOS_DRIVERS = "rxsuite.chaos_drivers"
StepCallback = Callable[[str, str, str], None]
EntryPointLoad = Callable[[], Any]  # loads (imports) a plug-in's object on first call


@dataclass(frozen=True)
class Endpoint:
    """Where a running platform answers and the keys and users a job needs there (secrets stay in memory)."""

    base_url: str
    anon_key: str
    service_key: str | None
    credentials_csv: Path


class Platform(Protocol):
    """A platform an environment kind manages itself (started, stopped, faulted by its own driver)."""

    def running(self) -> bool: ...

    def up(self, on_step: StepCallback) -> bool:
        """Start what is not running; True when this call started it (so the caller stops it after)."""
        ...

    def down(self) -> list[str]: ...

    def endpoint(self) -> Endpoint:
        """URL, keys and users of the running platform; RxError (saying how to start it) when it is not up."""
        ...

    def driver_defaults(self) -> dict[str, dict[str, Any]]:
        """Settings for the generic drivers this platform also serves (e.g. `toxiproxy: {url}`, `http: {targets}`)."""
        ...

    def describe(self) -> dict[str, Any]:
        """A note for run folders: where its state lives, its mode; no secrets."""
        ...

    def events(self, since: float) -> list[dict[str, Any]]:
        """The platform's own events (detection, promotion) since a Unix time, for a drill's timeline."""
        ...


class DriverContext(Protocol):
    """What a driver action may read or record while a drill runs (chaos.context.DrillContext)."""

    run_id: str
    prober: Any  # the drill's prober: `samples(kind)` of the probes sent so far
    abort: threading.Event
    marks: dict[str, float]
    metrics: dict[str, Any]


class EnvironmentKind(Protocol):
    def parse(self, section: Any, file: str, root: Path) -> Any:
        """The validated section of the environment file named after the kind (ConfigError naming the field)."""
        ...

    def platform(self, config: Any) -> Platform: ...


@dataclass(frozen=True)
class Arg:
    """One argument of a driver action: accepted types, whether required, allowed values."""

    kinds: tuple[type, ...]
    required: bool = False
    choices: tuple[Any, ...] | None = None


@dataclass(frozen=True)
class DriverPlugin:
    """A chaos driver supplied by a plug-in: its actions' arguments and a builder taking the environment's
    platform (None on a kind without one)."""

    actions: Mapping[str, Mapping[str, Arg]]
    build: Callable[[Platform | None], Any]


@cache
def environment_kinds() -> dict[str, EntryPointLoad]:
    """Installed kinds by name; nothing is imported until a kind is used."""
    return _group(ENVIRONMENT_KINDS)


@cache
def chaos_drivers() -> dict[str, EntryPointLoad]:
    """Installed plug-in drivers by name; nothing is imported until a scenario names one."""
    return _group(CHAOS_DRIVERS)


def environment_kind(name: str) -> EnvironmentKind | None:
    loader = environment_kinds().get(name)
    return loader() if loader else None


def chaos_driver(name: str) -> DriverPlugin | None:
    loader = chaos_drivers().get(name)
    return loader() if loader else None


def _group(group: str) -> dict[str, EntryPointLoad]:
    found: dict[str, EntryPointLoad] = {}
    for point in entry_points(group=group):
        found.setdefault(point.name, _loader(point.name, point.load, group))
    return found


def _loader(name: str, load: Callable[[], Any], group: str) -> EntryPointLoad:
    @cache
    def loaded() -> Any:
        try:
            return load()
        except ImportError as exc:  # registered by the installed project, but its extra is not installed
            raise RxError(f"the {name} plug-in ({group}) cannot be loaded: {exc}") from exc

    return loaded
