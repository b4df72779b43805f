"""The one table from a job's outcome to the process's exit code; every command and job uses these names."""

from __future__ import annotations

from enum import IntEnum

__all__ = ["ExitCode", "slo_exit_code"]


class ExitCode(IntEnum):
    """What a CI pipeline branches on; docs/README's job table lists the same values."""

    OK = 0  # the job ran and nothing it judged failed (insufficient data too, unless --strict)
    FAIL = 1  # an objective failed, a journey failed, a drill deviated from its hypothesis
    ERROR = 2  # refused or could not run: bad input, a guard, a missing target; nothing was judged
    NO_VERDICT = 3  # ran, but gave no verdict: aborted mid-run, or insufficient data under --strict
    INVALID = 4  # ran, but its own measurement cannot be trusted (the generator or a probe could not keep up)
    INTERRUPTED = 130  # SIGINT (Ctrl-C)
    TERMINATED = 143  # SIGTERM or SIGHUP


def slo_exit_code(verdict: str | None, strict: bool) -> ExitCode:
    """An SLO verdict as an exit code: insufficient data fails only a strict caller (a short run cannot show a
    99.9 % objective either way); no verdict at all (nothing judged) is OK for the same reason. An invalid
measurement (slo.validity) is neither pass nor fail."""
    if verdict == "invalid":
        return ExitCode.INVALID
    if verdict == "fail":
        return ExitCode.FAIL
    if verdict == "insufficient-data" and strict:
        return ExitCode.NO_VERDICT
    return ExitCode.OK
