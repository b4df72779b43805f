"""How every command runs its job: plan (a refusal is one line and exit 2, nothing touched), then execute under
the one display with SIGINT, SIGTERM and SIGHUP requesting the stop, and the Result's exit code returned."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from rxcore.errors import RxError
from rxcore.exitcodes import ExitCode
from rxcore.jobs import Result, Stopped, StopToken, stop_on_signals
from rxsuite.console import fail
from rxsuite.display import Display

__all__ = ["run_job"]

P = TypeVar("P")
R = TypeVar("R")


def run_job(plan: Callable[[R], P], execute: Callable[[P, Display, StopToken], Result], request: R, title: str,
            *, raise_first: bool = False, show: Callable[[Result], Any] | None = None) -> int:
    """`raise_first` for a job that blocks without polling its stop token (the first signal raises `Stopped`)."""
    try:
        job_plan = plan(request)
    except RxError as exc:
        fail(str(exc))
        return ExitCode.ERROR
    stop = StopToken()
    with Display(title) as display, stop_on_signals(stop, raise_first, lambda text: display.note("signal", text)):
        try:
            result = execute(job_plan, display, stop)
        except Stopped:
            return stop.exit_code
        except RxError as exc:
            fail(str(exc))
            return ExitCode.ERROR
    if show is not None:
        show(result)
    return int(result.exit_code)

