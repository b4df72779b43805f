"""The one live display of every command: a rich panel on a terminal, plain tab-separated lines otherwise.

It is the `Progress` the jobs report to: `note(kind, message)` for events (one line each when plain: kind,
message, seconds since start) and `live(figures)` for a load run's counters (a plain line every few seconds).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from rich.console import Group
from rich.live import Live
from rich.table import Table

from rxsuite.console import console, fail, interactive

__all__ = ["Display"]

_PLAIN_EVERY_S = 5.0
_EVENTS_SHOWN = 14
_COLOURS = {"error": "red", "abort": "red", "failed": "red", "signal": "yellow", "rollback": "cyan",
            "recovery": "green", "up": "green", "down": "red"}


class Display:
    """Progress for one command; use as a context manager (the rich panel lives inside it)."""

    def __init__(self, title: str, rich: bool | None = None) -> None:
        self.title = title
        self.rich = interactive() if rich is None else rich
        self.started = time.monotonic()
        self.events: list[tuple[str, str, str]] = []
        self.figures: dict[str, Any] = {}
        self._last_plain = float("-inf")
        self._live: Live | None = None

    def __enter__(self) -> Display:
        if self.rich:
            self._live = Live(self._render(), console=console, refresh_per_second=4)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(None, None, None)
            self._live = None

    def note(self, kind: str, message: str) -> None:
        """One event; an `error` also goes to stderr as one line, where scripts and CI look for why a job failed."""
        elapsed = f"{time.monotonic() - self.started:.1f}"
        if kind == "error":
            fail(message)
        if self._live is None:
            print(f"{kind}\t{message}\t{elapsed}s", flush=True)
            return
        self.events = [*self.events, (elapsed, kind, message)][-_EVENTS_SHOWN:]
        self._live.update(self._render())

    def live(self, figures: Mapping[str, Any]) -> None:
        self.figures = dict(figures)
        if self._live is not None:
            self._live.update(self._render())
            return
        now = time.monotonic()
        if now - self._last_plain < _PLAIN_EVERY_S:
            return
        self._last_plain = now
        print(f"elapsed {figures.get('elapsed_s', 0):.0f}s\tusers {figures.get('users', 0)}\t"
              f"req/s {figures.get('rps', 0):.1f}\tp95 {_ms(figures.get('p95_ms'))}\terrors "
              f"{figures.get('failures', 0)}\tstate {figures.get('state')}", flush=True)

    def _render(self) -> Group:
        parts: list[Table] = []
        if self.figures:
            table = Table(title=self.title, title_justify="left")
            for column in ("elapsed", "users", "req/s", "p95", "requests", "errors", "state"):
                table.add_column(column, justify="right")
            failures = self.figures.get("failures", 0)
            table.add_row(f"{self.figures.get('elapsed_s', 0):.0f} s", str(self.figures.get("users", 0)),
                          f"{self.figures.get('rps', 0):.1f}", _ms(self.figures.get("p95_ms")),
                          str(self.figures.get("requests", 0)), f"[red]{failures}[/]" if failures else "0",
                          str(self.figures.get("state", "starting")))
            parts.append(table)
        events = Table(title=None if self.figures else self.title, title_justify="left")
        for column in ("t (s)", "what", "event"):
            events.add_column(column)
        for elapsed, kind, message in self.events:
            events.add_row(elapsed, f"[{_COLOURS.get(kind, 'white')}]{kind}[/]", message)
        parts.append(events)
        return Group(*parts)


def _ms(value: Any) -> str:
    return "-" if value is None else f"{value:.0f} ms"
