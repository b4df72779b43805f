"""Stopping a child process a test started, whatever state it is in (by its Popen: its pid, never a name)."""

from __future__ import annotations

import subprocess


def stop_child(process: subprocess.Popen[bytes], timeout_s: float = 10.0) -> None:
    process.terminate()
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout_s)
