"""The `command` driver: an operator-supplied program (a cloud CLI's failover call, say), run without a shell,
only when the environment file lists the program under chaos.command.allow."""

from __future__ import annotations

import subprocess
from typing import Any

from chaos.context import DrillContext
from rxcore.errors import RxError

_TAIL = 400


class CommandDriver:
    name = "command"

    def __init__(self, allowed: tuple[str, ...]) -> None:
        self.allowed = allowed

    def run(self, action: str, args: dict[str, Any], ctx: DrillContext) -> dict[str, Any]:
        argv = [str(a) for a in args["argv"]]
        if argv[0] not in self.allowed:
            raise RxError(f"command {argv[0]!r} is not in the environment's chaos.command.allow list "
                          f"({', '.join(self.allowed) or 'empty'})")
        expect = args.get("expect_exit", 0)
        done = subprocess.run(argv, capture_output=True, text=True, timeout=args.get("timeout_s", 120))
        if done.returncode != expect:
            raise RxError(f"{argv[0]} exited {done.returncode} (expected {expect}): {done.stderr.strip()[-_TAIL:]}")
        return {"exit": done.returncode, "stdout_tail": done.stdout.strip()[-_TAIL:]}
