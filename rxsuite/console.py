"""Terminal output: rich displays on a terminal, plain parseable lines otherwise."""

from __future__ import annotations

import sys

from rich.console import Console

console = Console(stderr=False, highlight=False)
err_console = Console(stderr=True, highlight=False)


def interactive() -> bool:
    return sys.stdout.isatty()


def fail(message: str) -> None:
    """One line, no traceback: what failed, why, and the fix."""
    err_console.print(f"[bold red]error:[/] {message}", soft_wrap=True) if sys.stderr.isatty() else print(
        f"error: {message}", file=sys.stderr)
