"""The `rxsuite` command: a thin dispatcher over one module per job."""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
from collections.abc import Sequence

from rxcore.exitcodes import ExitCode
from rxcore.jobs import Stopped, StopToken, stop_on_signals

# Each module exposes `register(subparsers)`, which adds its sub-command and sets `func(args) -> int`.
_COMMAND_MODULES = (
    "rxsuite.cmd_drill",
    "rxsuite.cmd_journeys",
    "rxsuite.cmd_sandbox",
    "rxsuite.cmd_load",
    "rxsuite.cmd_slo",
    "rxsuite.cmd_report",
    "rxsuite.cmd_run",
    "rxsuite.cmd_accounts",
    "rxsuite.cmd_env",
    "rxsuite.cmd_monitor",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rxsuite", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    stop = StopToken()
    try:  # SIGTERM and SIGHUP stop a command as Ctrl-C does; a job's own lifecycle installs finer handlers
        with stop_on_signals(stop, raise_first=True):
            return int(args.func(args))
    except KeyboardInterrupt as exc:  # a stop the command did not turn into its Result (its cleanup has run)
        code = ExitCode.TERMINATED if isinstance(exc, Stopped) and exc.signum != signal.SIGINT else ExitCode.INTERRUPTED
        print("terminated" if code == ExitCode.TERMINATED else "interrupted", file=sys.stderr)
        return int(code)


if __name__ == "__main__":
    sys.exit(main())
