"""Arrival-rate mode: task iterations start on a fixed schedule, whatever the platform's speed.

One schedule per process hands out start times ("slots") at the process's share of the target rate. A user takes
the next slot when it is ready for its next iteration and sleeps until then; when every user is busy (the
platform stalls) slots pile up, and each late iteration carries its lag, the time between its intended and its
actual start. The recorder adds that lag to the latency of every request in the iteration, so a stall shows in the
percentiles instead of being hidden by the users waiting (coordinated omission).
"""

from __future__ import annotations

import time

LATE_S = 0.01  # an iteration starting later than this counts as late (the lag is added to latencies either way)


class ArrivalSchedule:
    def __init__(self, clock=time.time) -> None:  # type: ignore[no-untyped-def]
        self._clock = clock
        self._rate = 0.0
        self._next: float | None = None
        self.slots_taken = 0
        self.late_slots = 0
        self.max_lag_s = 0.0

    @property
    def rate(self) -> float:
        return self._rate

    def set_rate(self, rate: float) -> None:
        """Change this process's rate (iterations/s); 0 pauses the schedule."""
        now = self._clock()
        if rate <= 0:
            self._rate, self._next = 0.0, None
            return
        if self._next is None or self._rate <= 0:
            self._next = now
        self._rate = rate

    def take(self) -> float | None:
        """The intended start of the next iteration, or None while the rate is 0."""
        if self._next is None:
            return None
        slot = self._next
        self._next = slot + 1.0 / self._rate
        self.slots_taken += 1
        return slot

    def note_start(self, slot: float, started: float) -> float:
        """Record an iteration's actual start; returns its lag in seconds (0 when on time)."""
        lag = max(0.0, started - slot)
        if lag > LATE_S:
            self.late_slots += 1
        self.max_lag_s = max(self.max_lag_s, lag)
        return lag


SCHEDULE = ArrivalSchedule()
