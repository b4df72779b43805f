"""When a check is called down: "x failures of the last y" (`monitor.down_after` of `monitor.down_of`), and which
results fall in a maintenance window of the environment file.

A single failed check (a blip) is recorded but does not make the check down; it is down while at least x of its
last y results failed, and up again when fewer than x of its last y did. Results in a maintenance window are
recorded and marked, but do not count toward down: planned work is not an outage.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

__all__ = ["Maintenance", "StateChange", "Tracker"]


@dataclass(frozen=True)
class Maintenance:
    start: float
    end: float
    reason: str

    def covers(self, at: float) -> bool:
        return self.start <= at < self.end


def window_at(windows: tuple[Maintenance, ...], at: float) -> Maintenance | None:
    return next((w for w in windows if w.covers(at)), None)


@dataclass(frozen=True)
class StateChange:
    """A check going down or coming back up. `since`: when its failures began (the first failed check's start);
    for an `up` change `at` is the first good check's start, so `at - since` is the outage as the checks saw it."""

    check: str
    state: str  # down | up
    at: float
    since: float
    failed: int
    of: int

    def to_json(self) -> dict[str, Any]:
        return {"check": self.check, "state": self.state, "at": self.at, "since": self.since,
                "failed": self.failed, "of": self.of}


class Tracker:
    """The x-of-y state of every check, fed one result at a time in the order they ran."""

    def __init__(self, down_after: int, down_of: int) -> None:
        self.down_after = down_after
        self.down_of = down_of
        self._recent: dict[str, deque[tuple[float, bool]]] = {}
        self._down_since: dict[str, float] = {}
        self._first_good: dict[str, float | None] = {}  # the first good start since the latest failure

    def is_down(self, check: str) -> bool:
        return check in self._down_since

    def down_checks(self) -> dict[str, float]:
        """Every check that is down now, with when its failures began."""
        return dict(self._down_since)

    def feed(self, check: str, started_at: float, ok: bool) -> StateChange | None:
        recent = self._recent.setdefault(check, deque(maxlen=self.down_of))
        recent.append((started_at, ok))
        if not ok:
            self._first_good[check] = None
        elif self._first_good.get(check) is None:
            self._first_good[check] = started_at
        failed = sum(not good for _, good in recent)
        if failed >= self.down_after and check not in self._down_since:
            since = min(at for at, good in recent if not good)
            self._down_since[check] = since
            return StateChange(check, "down", started_at, since, failed, len(recent))
        if failed < self.down_after and check in self._down_since:
            since = self._down_since.pop(check)
            return StateChange(check, "up", self._first_good[check] or started_at, since, failed, len(recent))
        return None
