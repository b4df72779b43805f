"""`rxsuite drill --env NAME --scenario NAME | --suite NAME`: a measured DR drill (RTO, RPO, verdict, score).

Exit code: 0 when every scenario ended as its file expects (pass, or fail as designed), 1 otherwise, 2 when the
drill was refused (bad scenario, environment, production guard), 130 when interrupted (rollbacks ran).
"""

from __future__ import annotations

import argparse
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.live import Live
from rich.table import Table

from chaos.drill import EXIT_REFUSED, DrillRequest, execute
from chaos.scenario import known_scenarios
from chaos.suite import known_suites
from rxcore.errors import RxError
from rxsuite.console import console, fail, interactive


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("drill", help="run a DR drill: measured RTO/RPO, verdict and score")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--scenario", help=f"one of {', '.join(known_scenarios())}, or a .yaml path")
    which.add_argument("--suite", help=f"one of {', '.join(known_suites())}, or a .yaml path")
    parser.add_argument("--env", default="sandbox", help="environment file name or path (default: sandbox)")
    parser.add_argument("--runs-dir", type=Path, default=Path("runs"), help="where run folders go (default: runs)")
    parser.add_argument("--confirm-production", metavar="ENV",
                        help="required (with the environment's name) to drill a production environment")
    parser.add_argument("--no-load", action="store_true",
                        help="skip the scenarios' background load (probes only; quicker, less realistic)")
    parser.add_argument("--keep-sandbox", action="store_true",
                        help="leave a sandbox this drill started running afterwards")
    parser.set_defaults(func=_drill)


def _drill(args: argparse.Namespace) -> int:
    request = DrillRequest(env=args.env, scenario=args.scenario, suite=args.suite, runs_dir=args.runs_dir,
                           confirm_production=args.confirm_production, keep_sandbox=args.keep_sandbox,
                           background_load=not args.no_load)
    stop = threading.Event()
    display = _Display()
    try:
        with _stop_on_signals(stop, display), display:
            code, result, folder = execute(request, stop, display.progress)
    except RxError as exc:
        fail(str(exc))
        return EXIT_REFUSED
    _print_result(result, folder)
    return code


@contextmanager
def _stop_on_signals(stop: threading.Event, display: _Display) -> Iterator[None]:
    """Ctrl-C / SIGTERM end the method, never the rollbacks: the handler only sets `stop`."""

    def handler(signum: int, _frame: Any) -> None:
        if stop.is_set():
            display.progress("signal", "rollbacks are running; the drill ends when they are done")
            return
        stop.set()
        display.progress("signal", f"{signal.Signals(signum).name}: ending the method, running the rollbacks")

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


class _Display:
    """A live panel on a terminal; one tab-separated line per event otherwise."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.rich = interactive()
        self.lines: list[tuple[str, str, str]] = []
        self.scenario = ""
        self._live: Live | None = None

    def __enter__(self) -> _Display:
        if self.rich:
            self._live = Live(self._render(), console=console, refresh_per_second=4)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._live is not None:
            self._live.__exit__(*exc)

    def progress(self, kind: str, message: str) -> None:
        elapsed = f"{time.monotonic() - self.started:7.1f}"
        if kind == "scenario":
            self.scenario = message
        if not self.rich:
            print(f"{elapsed}\t{kind}\t{message}", flush=True)
            return
        self.lines = [*self.lines, (elapsed, kind, message)][-14:]
        if self._live is not None:
            self._live.update(self._render())

    def _render(self) -> Table:
        table = Table(title=f"drill {self.scenario}", title_justify="left")
        for column in ("t (s)", "phase", "event"):
            table.add_column(column)
        colour = {"error": "red", "abort": "red", "signal": "yellow", "rollback": "cyan", "recovery": "green"}
        for elapsed, kind, message in self.lines:
            table.add_row(elapsed, f"[{colour.get(kind, 'white')}]{kind}[/]", message)
        return table


def _print_result(result: dict[str, Any], folder: Path) -> None:
    rows = result.get("scenarios") if result.get("kind") == "suite" else [result]
    for row in rows or []:
        name = row.get("scenario")
        verdict = row.get("verdict") or row.get("status")
        expected = " (as designed)" if row.get("expect") == "fail" and row.get("as_expected") else ""
        print(f"{name:32} {str(verdict).upper():5}{expected:15} score {_fmt(row.get('score'))}  "
              f"RTO {_fmt(row.get('rto_s'), 's')}  RPO {_fmt(row.get('rpo_count'))} writes / "
              f"{_fmt(row.get('rpo_s'), 's')}  status {row.get('status')}")
        if row.get("reason"):
            print(f"{'':32} reason: {row['reason']}")
    if result.get("kind") == "suite":
        verdict = result.get("verdict") or result.get("status")  # an interrupted suite has no verdict
        print(f"suite {result.get('suite')}: {str(verdict).upper()} score {_fmt(result.get('score'))} "
              f"in {_fmt(result.get('duration_s'), 's')}")
    delta = (result.get("trend") or {}).get("score_delta")
    if delta is not None:
        print(f"trend: score {delta:+.1f} against the previous drill")
    print(f"journal   {folder / 'drill.json'}")


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "-"
    return f"{value:.2f}{unit}" if isinstance(value, float) else f"{value}{unit}"
