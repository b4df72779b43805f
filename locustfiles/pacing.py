"""Arrival-rate mode: task iterations start on a fixed schedule, whatever the platform's speed.

One schedule per process hands out start times ("slots") at the process's share of the target rate. A user takes
the next slot when it is ready for its next iteration and sleeps until then; when every user is busy (the
platform stalls) slots pile up, and each late iteration carries its lag, the time between its intended and its
actual start. The recorder adds that lag to the latency of every request in the iteration, so a stall shows in the
percentiles instead of being hidden by the users waiting (coordinated omission).

Two kinds of lag are told apart, for the run's validity (slo.validity): a slot taken while still ahead (its user
was free and slept until it) but started late was held up by the generator's own loop, its CPU or a neighbour;
a slot taken when already past (every user was busy) is backlog: the platform was slow or the users too few.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from slo.validity import LAG_BOUND_S

LATE_S = 0.01  # an iteration starting later than this counts as late (the lag is added to latencies either way)
TAKE_AHEAD_S = 1.0  # a slot is handed out at most this long before it is due


class ArrivalSchedule:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._rate = 0.0
        self._next: float | None = None
        self.slots_taken = 0
        self.late_slots = 0
        self.max_lag_s = 0.0
        self.backlog_slots = 0  # taken when already past: every user was busy
        self.on_time_slots = 0  # taken ahead of time: a free user slept until the slot
        self.late_wakeups = 0  # of those, started more than LAG_BOUND_S late: the generator itself was slow
        self.max_wake_lag_s = 0.0
        self._ahead: set[float] = set()  # slots taken ahead, not yet started

    @property
    def rate(self) -> float:
        return self._rate

    def set_rate(self, rate: float) -> None:
        """Change this process's rate (iterations/s); 0 pauses the schedule.

        A pending slot still ahead is moved to one new period after the last slot (not before now): a ramp that
        starts near 0 sets its first period long, and keeping that slot would stall the run at every later rate.
        A slot already past stays where it is, so a backlog is never forgiven by a change of rate."""
        now = self._clock()
        if rate <= 0:
            self._rate, self._next = 0.0, None
            return
        if self._next is None or self._rate <= 0:
            self._next = now
        elif self._next > now:
            self._next = max(now, self._next - 1.0 / self._rate + 1.0 / rate)
        self._rate = rate

    def take(self) -> float | None:
        """The intended start of the next iteration; None while the rate is 0 or the next slot is more than
        TAKE_AHEAD_S away (the user asks again shortly: a user asleep on a far slot would not see the rate rise)."""
        if self._next is None or self._next > self._clock() + TAKE_AHEAD_S:
            return None
        slot = self._next
        self._next = slot + 1.0 / self._rate
        self.slots_taken += 1
        if slot < self._clock() - LATE_S:
            self.backlog_slots += 1
        else:
            self._ahead.add(slot)
        return slot

    def note_start(self, slot: float, started: float) -> float:
        """Record an iteration's actual start; returns its lag in seconds (0 when on time)."""
        lag = max(0.0, started - slot)
        if lag > LATE_S:
            self.late_slots += 1
        self.max_lag_s = max(self.max_lag_s, lag)
        if slot in self._ahead:
            self._ahead.discard(slot)
            self.on_time_slots += 1
            self.late_wakeups += lag > LAG_BOUND_S
            self.max_wake_lag_s = max(self.max_wake_lag_s, lag)
        return lag

    def figures(self) -> dict[str, float | int]:
        """The schedule's whole-run figures, as shipped to the master."""
        return {"slots": self.slots_taken, "late_slots": self.late_slots, "max_lag_s": round(self.max_lag_s, 3),
                "backlog_slots": self.backlog_slots, "on_time_slots": self.on_time_slots,
                "late_wakeups": self.late_wakeups, "max_wake_lag_s": round(self.max_wake_lag_s, 3)}


SCHEDULE = ArrivalSchedule()
