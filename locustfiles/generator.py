"""This process's own load, per window: CPU time used and time spent waiting for a CPU, as shares of the window.

A Locust process runs its users on one gevent loop, so it can use one core at most. Its demand in a window is the
CPU time it used plus the time it was runnable but waiting on a run queue (Linux schedstat: a neighbour hogging the
core starves the generator as surely as its own users do). A window with a demand of 90 % or more is saturated;
slo.validity judges the run from the share of saturated windows.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from slo.validity import CPU_SATURATED

_SCHEDSTAT = Path("/proc/thread-self/schedstat")  # the gevent loop's thread: "cpu_ns run_queue_wait_ns slices"


def run_queue_wait_s() -> float:
    """Seconds this thread spent runnable but not running so far (0 where the kernel does not say)."""
    try:
        return int(_SCHEDSTAT.read_text().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


class CpuMonitor:
    """Call `restart` when the users start and `sample` once a window after (a greenlet does, while the users run);
    `take_series` hands over the windows sampled since it last did."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, cpu: Callable[[], float] = time.process_time,
                 waited: Callable[[], float] = run_queue_wait_s, wall: Callable[[], float] = time.time) -> None:
        self._clock, self._cpu, self._waited, self._wall = clock, cpu, waited, wall
        self._last = (clock(), cpu(), waited(), wall())
        self._series: list[list[float]] = []
        self.windows = 0
        self.saturated_windows = 0
        self.max_demand = 0.0

    def restart(self) -> None:
        """Start a new window now (the users start): time before it is not the run's."""
        self._last = (self._clock(), self._cpu(), self._waited(), self._wall())

    def sample(self) -> None:
        now = (self._clock(), self._cpu(), self._waited(), self._wall())
        elapsed = now[0] - self._last[0]
        if elapsed <= 0:
            return
        used = max(0.0, now[1] - self._last[1]) / elapsed
        waited = max(0.0, now[2] - self._last[2]) / elapsed
        demand = used + waited
        self._series.append([round(self._last[3], 3), round(used, 3), round(waited, 3)])
        self.windows += 1
        self.saturated_windows += demand >= CPU_SATURATED
        self.max_demand = max(self.max_demand, demand)
        self._last = now

    def take_series(self) -> list[list[float]]:
        """[window start (unix s), CPU share, run-queue wait share] per window sampled since the last call."""
        series, self._series = self._series, []
        return series

    def figures(self) -> dict[str, Any]:
        return {"windows": self.windows, "saturated_windows": self.saturated_windows,
                "max_demand": round(self.max_demand, 3)}


__all__ = ["CpuMonitor", "run_queue_wait_s"]
