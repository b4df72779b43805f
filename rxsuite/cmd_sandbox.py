"""`rxsuite sandbox up|down|status|logs|reset`: the embedded reference platform.

The sandbox is a plug-in (the `sandbox` extra): it is imported only when one of these commands runs, so the CLI
works without it and says how to install it when it is asked for.
"""

from __future__ import annotations

import argparse
import sys
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from rich.table import Table

from rxcore.environment import load_environment
from rxcore.errors import RxError
from rxcore.exitcodes import ExitCode
from rxcore.jobs import Stopped, StopToken, stop_on_signals
from rxsuite.console import console, fail, interactive
from rxsuite.display import Display

if TYPE_CHECKING:
    from sandbox.stack import Sandbox


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("sandbox", help="start, stop and inspect the embedded sandbox platform")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    for name, func, help_text in (
        ("up", _up, "start every part that is not running and wait until healthy; keeps the data (idempotent)"),
        ("down", _down, "stop every part the sandbox started (the data stays for the next up)"),
        ("status", _status, "each part, its pid, role and replication lag"),
    ):
        sub = actions.add_parser(name, help=help_text)
        sub.add_argument("--env", default="sandbox", help="environment file name or path (default: sandbox)")
        sub.set_defaults(func=func)
    reset = actions.add_parser("reset", help="stop every part and DELETE the sandbox's data, keys and logs")
    reset.add_argument("--env", default="sandbox", help="environment file name or path (default: sandbox)")
    reset.add_argument("--yes", action="store_true", help="do not ask for confirmation (scripts, CI)")
    reset.set_defaults(func=_reset)
    logs = actions.add_parser("logs", help="print a part's log")
    logs.add_argument("part", nargs="?", help="a part, e.g. region-a or pg-b (default: list the logs)")
    logs.add_argument("-n", "--lines", type=int, default=50, help="last N lines (default 50)")
    logs.add_argument("--env", default="sandbox")
    logs.set_defaults(func=_logs)


def sandbox_for(env_name: str) -> Sandbox:
    env = load_environment(env_name)
    if env.sandbox is None:
        raise RxError(f"{env.file}: kind is {env.kind!r}, not sandbox (use --env sandbox)")
    try:
        from sandbox.stack import Sandbox
    except ImportError as exc:
        raise RxError(str(exc)) from exc
    return Sandbox(env.sandbox)


def _guard(func: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
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
def _reset(args: argparse.Namespace) -> int:
    """Wiping is never implicit: it needs --yes, or the state folder's name typed at a terminal."""
    sandbox = sandbox_for(args.env)
    if not args.yes:
        if not sys.stdin.isatty():
            raise RxError(f"refusing to delete {sandbox.state_dir} (every row, key and log of the sandbox) without "
                          "confirmation: run `rxsuite sandbox reset --yes`")
        answer = input(f"This deletes {sandbox.state_dir}: every row, key and log of the sandbox. "
                       f"Type {sandbox.state_dir.name!r} to confirm: ")
        if answer.strip() != sandbox.state_dir.name:
            raise RxError("not confirmed: nothing was deleted")
    stopped = sandbox.reset()
    print(f"stopped: {', '.join(stopped) if stopped else 'nothing was running'}; deleted {sandbox.state_dir}")
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
