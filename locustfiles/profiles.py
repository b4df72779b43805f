"""Load profiles: how the load level moves over a run, as a share (0..1) of the peak users or rate.

A profile is a list of stages, each a share of the run's duration with a start and end level; the level is
interpolated within a stage, so a ramp is a stage from 0 to 1. Step and capacity profiles are built from
`step_count` equal steps. The peak is `--users` (closed loop) or `--rate` (arrival rate).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LoadStage:
    share: float  # of the run's duration
    start: float
    end: float


@dataclass(frozen=True)
class ProfileDefaults:
    description: str
    duration_s: float
    users: int
    rate: float
    stages: tuple[LoadStage, ...] = ()


PROFILES: dict[str, ProfileDefaults] = {
    "smoke": ProfileDefaults("a few users, every flow once or more: does it work at all", 20, 5, 5,
                             (LoadStage(1.0, 1.0, 1.0),)),
    "baseline": ProfileDefaults("steady ordinary traffic", 300, 50, 50,
                                (LoadStage(0.1, 0.0, 1.0), LoadStage(0.9, 1.0, 1.0))),
    "peak": ProfileDefaults("ramp up, hold the release's expected peak, ramp down", 600, 200, 200,
                            (LoadStage(0.2, 0.0, 1.0), LoadStage(0.6, 1.0, 1.0), LoadStage(0.2, 1.0, 0.0))),
    "spike": ProfileDefaults("a sudden burst on top of a fifth of the peak", 300, 200, 200,
                             (LoadStage(0.4, 0.2, 0.2), LoadStage(0.2, 1.0, 1.0), LoadStage(0.4, 0.2, 0.2))),
    "soak": ProfileDefaults("ordinary traffic for a long time: leaks and slow drift", 3600, 50, 50,
                            (LoadStage(0.05, 0.0, 1.0), LoadStage(0.95, 1.0, 1.0))),
    "step": ProfileDefaults("equal steps up to the peak", 600, 200, 200),
    "capacity": ProfileDefaults("steps up until the SLO breaks; reports the highest sustainable rate", 600, 200, 200),
}
STEPPED = ("step", "capacity")


def stages_for(profile: str, step_count: int) -> tuple[LoadStage, ...]:
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; known: {', '.join(PROFILES)}")
    if profile in STEPPED:
        share = 1.0 / step_count
        return tuple(LoadStage(share, (i + 1) / step_count, (i + 1) / step_count) for i in range(step_count))
    return PROFILES[profile].stages


def level_at(stages: tuple[LoadStage, ...], duration_s: float, t: float) -> float | None:
    """The level at `t` seconds into the run, or None once the run is over."""
    if t >= duration_s:
        return None
    begin = 0.0
    for stage in stages:
        length = stage.share * duration_s
        if t < begin + length or stage is stages[-1]:
            fraction = 0.0 if length <= 0 else min(1.0, (t - begin) / length)
            return stage.start + (stage.end - stage.start) * fraction
        begin += length
    return None
