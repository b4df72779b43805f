"""Load profiles, the capacity finder and the arrival schedule, on synthetic time (no Locust, no sleeping)."""

from __future__ import annotations

import pytest

from locustfiles.capacity import CapacityFinder
from locustfiles.config import SloTarget
from locustfiles.pacing import ArrivalSchedule
from locustfiles.profiles import PROFILES, level_at, stages_for
from locustfiles.recorder import HTTP_5XX, OK, OUTCOMES
from slo.histogram import Histogram


def test_peak_ramps_up_holds_and_ramps_down() -> None:
    stages = stages_for("peak", 5)
    levels = [level_at(stages, 100, t) for t in (0, 10, 20, 50, 79, 90, 99.9)]
    assert levels[0] == 0.0 and levels[1] == pytest.approx(0.5) and levels[2] == pytest.approx(1.0)
    assert levels[3] == 1.0 and levels[4] == 1.0
    assert levels[5] == pytest.approx(0.5) and levels[6] is not None and levels[6] < 0.01


def test_a_profile_ends_at_its_duration() -> None:
    assert level_at(stages_for("smoke", 5), 20, 20.0) is None


def test_spike_jumps_from_a_fifth_to_the_peak_and_back() -> None:
    stages = stages_for("spike", 5)
    assert [level_at(stages, 100, t) for t in (10, 45, 70)] == [0.2, 1.0, 0.2]


@pytest.mark.parametrize("profile", ["step", "capacity"])
def test_stepped_profiles_climb_in_equal_steps(profile: str) -> None:
    stages = stages_for(profile, 4)
    assert [level_at(stages, 40, t) for t in (1, 11, 21, 31)] == [0.25, 0.5, 0.75, 1.0]


def test_unknown_profile_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="known: smoke"):
        stages_for("nope", 5)


def test_every_profile_has_a_shape() -> None:
    for name in PROFILES:
        assert stages_for(name, 3)


def _window(ok: int, bad: int, latency_us: int) -> tuple[list[int], Histogram]:
    outcomes = [0] * len(OUTCOMES)
    outcomes[OK], outcomes[HTTP_5XX] = ok, bad
    hist = Histogram()
    hist.record_many([latency_us] * ok)
    return outcomes, hist


def test_capacity_reports_the_highest_step_that_held_and_why_the_next_broke() -> None:
    finder = CapacityFinder(started_at=1000.0, step_s=10.0, slo=SloTarget(p95_ms=100, max_bad_ratio=0.001),
                          warmup_s=2.0)
    for step, (ok, latency_us) in enumerate([(50, 20_000), (100, 40_000), (150, 400_000)]):
        finder.start_step(step, (step + 1) / 3)
        for second in range(10):
            outcomes, hist = _window(ok, 0, latency_us)
            finder.on_window(1000.0 + step * 10 + second, 1.0, outcomes, hist)
    verdicts = finder.evaluate_complete(complete_until=1030.0)
    assert [v["held"] for v in verdicts] == [True, True, False]
    assert [v["achieved_rps"] for v in verdicts] == [50.0, 100.0, 150.0]
    summary = finder.summary()
    assert summary["highest_sustainable_rps"] == 100.0
    assert summary["broke_at_level"] == 1.0 and "p95" in summary["broke_because"]
    assert finder.broken


def test_capacity_leaves_out_each_steps_warmup_and_waits_for_complete_steps() -> None:
    finder = CapacityFinder(started_at=0.0, step_s=10.0, slo=SloTarget(p95_ms=100, max_bad_ratio=0.001), warmup_s=3.0)
    finder.start_step(0, 0.5)
    for second in range(10):
        outcomes, hist = _window(10, 10 if second < 3 else 0, 1000)  # errors only in the warm-up
        finder.on_window(float(second), 1.0, outcomes, hist)
    assert finder.evaluate_complete(complete_until=9.0) == []
    (verdict,) = finder.evaluate_complete(complete_until=10.0)
    assert verdict["held"] and verdict["measured_s"] == 7.0 and verdict["bad"] == 0


def test_capacity_counts_errors_against_the_budget() -> None:
    finder = CapacityFinder(started_at=0.0, step_s=5.0, slo=SloTarget(p95_ms=1000, max_bad_ratio=0.001), warmup_s=0.0)
    finder.start_step(0, 1.0)
    outcomes, hist = _window(998, 2, 1000)
    finder.on_window(0.0, 1.0, outcomes, hist)
    (verdict,) = finder.evaluate_complete(complete_until=5.0)
    assert not verdict["held"] and "bad ratio" in verdict["why_not"]


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_schedule_hands_out_slots_at_the_rate() -> None:
    clock = _Clock()
    schedule = ArrivalSchedule(clock)
    assert schedule.take() is None
    schedule.set_rate(4.0)
    assert [schedule.take() for _ in range(3)] == [100.0, 100.25, 100.5]


def test_a_late_start_carries_its_lag() -> None:
    clock = _Clock()
    schedule = ArrivalSchedule(clock)
    schedule.set_rate(10.0)
    slot = schedule.take()
    assert slot is not None
    assert schedule.note_start(slot, slot + 2.5) == pytest.approx(2.5)
    assert schedule.note_start(slot, slot - 0.1) == 0.0
    assert schedule.note_start(slot, slot + 0.005) == pytest.approx(0.005)  # jitter: counted, not "late"
    assert schedule.late_slots == 1 and schedule.max_lag_s == pytest.approx(2.5)


def test_a_ramp_from_near_zero_reaches_its_rate_at_once() -> None:
    """A ramp's first period is long (1/0.01 s): its slot is not handed out until it is near, and when the rate
    rises a second later the next slot is one new period after the last, not that long period."""
    clock = _Clock()
    schedule = ArrivalSchedule(clock)
    schedule.set_rate(0.01)
    assert schedule.take() == 100.0
    assert schedule.take() is None  # 200.0 is too far ahead: no user sleeps on it
    clock.now = 101.0
    schedule.set_rate(8.0)
    assert [schedule.take() for _ in range(3)] == [101.0, 101.125, 101.25]
    schedule.set_rate(4.0)  # slowing down: one new period after the last slot
    assert schedule.take() == 101.5


def test_a_change_of_rate_keeps_the_backlog() -> None:
    clock = _Clock()
    schedule = ArrivalSchedule(clock)
    schedule.set_rate(10.0)
    assert [schedule.take() for _ in range(2)] == [100.0, 100.1]
    clock.now = 105.0  # every user was busy: the slots since 100.2 are due
    schedule.set_rate(20.0)
    assert schedule.take() == pytest.approx(100.2)


def test_rate_zero_pauses_and_a_new_rate_restarts_from_now() -> None:
    clock = _Clock()
    schedule = ArrivalSchedule(clock)
    schedule.set_rate(1.0)
    schedule.take()
    schedule.set_rate(0.0)
    assert schedule.take() is None
    clock.now = 200.0
    schedule.set_rate(2.0)
    assert schedule.take() == 200.0
