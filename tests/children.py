"""Stopping a child process a test started, whatever state it is in (by its Popen: its pid, never a name)."""

from __future__ import annotations

import signal
import subprocess


def stop_child(process: subprocess.Popen[bytes], timeout_s: float = 10.0) -> None:
    process.terminate()
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout_s)


def interruptible() -> None:
    """preexec_fn of a child a test will Ctrl-C: SIGINT at its default, as for a command typed at a terminal.

    A shell without job control starts background commands with SIGINT ignored, and Python then installs no
    KeyboardInterrupt handler: under such a runner the child would never see the test's Ctrl-C."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
