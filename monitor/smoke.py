"""The smoke journeys as monitor checks: one round runs every `smoke`-tagged journey once (no retry: a failure is
what the user met), each journey one check `journey.<name>`.

The journeys runner writes into a scratch folder of the round; a failed journey's screenshot, trace and console
errors are copied into the evidence before the scratch folder goes.
"""

from __future__ import annotations

import tempfile
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

from journeys.runner import JourneyOptions, JourneysError, run_journeys

__all__ = ["JourneyCheck", "smoke_round"]


@dataclass(frozen=True)
class JourneyCheck:
    check: str
    started_at: float
    duration_s: float
    ok: bool
    detail: str
    artifacts: tuple[Path, ...]  # in `scratch`, valid until the round's callback returns


def smoke_round(options: JourneyOptions, scratch_parent: Path, stop: threading.Event) -> _Round:
    """`with smoke_round(...) as checks:` the round's journey checks; their artifacts go with the block."""
    return _Round(replace(options, tag="smoke", retries=0), scratch_parent, stop)


class _Round:
    """A context manager: the journeys' checks, and their scratch folder removed on exit."""

    def __init__(self, options: JourneyOptions, scratch_parent: Path, stop: threading.Event) -> None:
        self.options = options
        self.stop = stop
        scratch_parent.mkdir(parents=True, exist_ok=True)
        self._scratch = tempfile.TemporaryDirectory(prefix=".journeys-", dir=scratch_parent)

    def __enter__(self) -> list[JourneyCheck]:
        started = time.time()
        try:
            outcome = run_journeys(self.options, Path(self._scratch.name), self.stop)
        except JourneysError as exc:
            if self.stop.is_set():
                return []  # abandoned by a stop: nothing to record
            return [JourneyCheck("journey.smoke", started, time.time() - started, False, str(exc)[:300], ())]
        if self.stop.is_set():
            return []
        checks = []
        for result in outcome.results:
            last = result.attempts[-1]
            ok = result.outcome in ("passed", "flaky", "skipped")
            detail = "" if ok else (str(last.get("error") or "failed").splitlines()[0][:300])
            checks.append(JourneyCheck(f"journey.{result.name}", float(last.get("started_at") or started),
                                       float(last.get("duration_s") or 0.0), ok, detail,
                                       tuple(Path(p) for p in last.get("artifacts", []))))
        return checks

    def __exit__(self, *exc: object) -> None:
        self._scratch.cleanup()
