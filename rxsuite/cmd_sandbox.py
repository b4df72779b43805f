"""`rxsuite sandbox up|down|status|logs`: the embedded reference platform."""

from __future__ import annotations

import argparse
from collections import deque

from rich.table import Table

from rxcore.environment import load_environment
from rxcore.errors import RxError
from rxcore.exitcodes import ExitCode
from rxcore.jobs import Stopped, StopToken, stop_on_signals
from rxsuite.console import console, fail, interactive
from rxsuite.display import Display
from sandbox.stack import PART_ORDER, Sandbox


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("sandbox", help="start, stop and inspect the embedded sandbox platform")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    for name, func, help_text in (
        ("up", _up, "start every part and wait until healthy (idempotent)"),
        ("down", _down, "stop every part the sandbox started"),
        ("status", _status, "each part, its pid, role and replication lag"),
    ):
        sub = actions.add_parser(name, help=help_text)
        sub.add_argument("--env", default="sandbox", help="environment file name or path (default: sandbox)")
        sub.set_defaults(func=func)
    logs = actions.add_parser("logs", help="print a part's log")
    logs.add_argument("part", nargs="?", help=f"one of {', '.join(PART_ORDER)} (default: list the logs)")
    logs.add_argument("-n", "--lines", type=int, default=50, help="last N lines (default 50)")
    logs.add_argument("--env", default="sandbox")
    logs.set_defaults(func=_logs)


def sandbox_for(env_name: str) -> Sandbox:
    env = load_environment(env_name)
    if env.sandbox is None:
        raise RxError(f"{env.file}: kind is {env.kind!r}, not sandbox (use --env sandbox)")
    return Sandbox(env.sandbox)


def _guard(func):  # type: ignore[no-untyped-def]
    def wrapped(args: argparse.Namespace) -> int:
        try:
            return func(args)
        except RxError as exc:
            fail(str(exc))
            return ExitCode.ERROR

    return wrapped


@_guard
def _up(args: argparse.Namespace) -> int:
    """SIGINT, SIGTERM and SIGHUP stop a start half-way: every part already started is stopped by pid."""
    sandbox = sandbox_for(args.env)
    stop = StopToken()
    with Display("sandbox up") as display, stop_on_signals(stop, True, lambda text: display.note("signal", text)):
        try:
            sandbox.up(lambda part, state, detail: display.note(part, f"{state}\t{detail}"))
        except Stopped:
            return int(stop.exit_code)
    _print_where(sandbox)
    return 0


def _print_where(sandbox: Sandbox) -> None:
    print(f"edge      {sandbox.edge_url}")
    print(f"state     {sandbox.state_dir}")
    print(f"users     {sandbox.credentials_file}")


@_guard
def _down(args: argparse.Namespace) -> int:
    sandbox = sandbox_for(args.env)
    stopped = sandbox.down()
    print(f"stopped: {', '.join(stopped) if stopped else 'nothing was running'}")
    return 0


@_guard
def _status(args: argparse.Namespace) -> int:
    sandbox = sandbox_for(args.env)
    parts = sandbox.status()
    if not parts:
        print(f"no sandbox state in {sandbox.state_dir} (run `rxsuite sandbox up`)")
        return 1
    if interactive():
        table = Table(title=f"sandbox {sandbox.state_dir}", title_justify="left")
        for column in ("part", "pid", "state", "role", "url", "detail"):
            table.add_column(column)
        for part in parts:
            state = "[green]running[/]" if part.running else "[red]stopped[/]"
            table.add_row(part.name, str(part.pid or "-"), state, part.role or "", part.url, part.detail)
        console.print(table)
    else:
        for part in parts:
            print("\t".join((part.name, str(part.pid or "-"), "running" if part.running else "stopped",
                             part.role or "-", part.url, part.detail or "-")))
    return 0 if all(p.running for p in parts) else 1


@_guard
def _logs(args: argparse.Namespace) -> int:
    sandbox = sandbox_for(args.env)
    if args.part is None:
        for name, path in sandbox.log_files().items():
            print(f"{name}\t{path}")
        return 0
    for line in deque(sandbox.iter_log(args.part), maxlen=args.lines):
        print(line, end="")
    return 0
