"""The `command` driver: an operator-supplied program (a cloud CLI's failover call, say), run without a shell.

A step gives either its own `argv`, whose program the environment file must list under chaos.command.allow, or the
name of a template the environment file defines (chaos.command.templates: {name: [argv...]}), so a portable
scenario carries names, never commands. A template's `{placeholders}` are filled from the step's `params` and from
what the drill knows: `{run_id}`, and for `restore` the restore target (`{target_time}` ISO 8601 UTC,
`{target_unix}`).

`restore` runs a point-in-time restore the operator's tool performs to the time of a drill mark, into a copy that
leaves the live platform alone (a Supabase branch or a restored project); the tool's last line of output is JSON,
`{"ledger_seqs": [...]}`: the write-ledger sequence numbers of `{run_id}` the restored copy holds. The drill then
checks every write acknowledged before the target is there and none sent after it is (chaos.measure.restore_check).
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from chaos import measure
from chaos.context import DrillContext
from rxcore.errors import RxError

__all__ = ["CommandDriver", "fill_template"]

_TAIL = 400
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def fill_template(name: str, template: list[str], values: Mapping[str, Any]) -> list[str]:
    """The template's argv with every `{placeholder}` replaced; an RxError naming a placeholder with no value."""
    def one(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in values:
            raise RxError(f"command template {name!r} needs {{{key}}}: add {key} to the step's params")
        return str(values[key])

    return [_PLACEHOLDER.sub(one, part) for part in template]


class CommandDriver:
    name = "command"

    def __init__(self, allowed: tuple[str, ...], templates: Mapping[str, list[str]] | None = None) -> None:
        self.allowed = allowed
        self.templates = dict(templates or {})

    def argv_for(self, args: Mapping[str, Any], known: Mapping[str, Any]) -> list[str]:
        """The argv a step runs: its own (argv[0] allowed) or its template's, filled from params and `known`."""
        if "template" not in args:
            argv = [str(a) for a in args["argv"]]
            if argv[0] not in self.allowed:
                raise RxError(f"command {argv[0]!r} is not in the environment's chaos.command.allow list "
                              f"({', '.join(self.allowed) or 'empty'})")
            return argv
        name = args["template"]
        if name not in self.templates:
            raise RxError(f"command template {name!r} is not defined in the environment's chaos.command.templates "
                          f"(known: {', '.join(sorted(self.templates)) or 'none'})")
        return fill_template(name, self.templates[name], {**known, **(args.get("params") or {})})

    def run(self, action: str, args: dict[str, Any], ctx: DrillContext) -> dict[str, Any]:
        if action == "restore":
            return self._restore(args, ctx)
        argv = self.argv_for(args, {"run_id": ctx.run_id})
        done = self._call(argv, args, args.get("expect_exit", 0))
        return {"argv": argv, "exit": done.returncode, "stdout_tail": done.stdout.strip()[-_TAIL:]}

    def _call(self, argv: list[str], args: Mapping[str, Any], expect: int) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=args.get("timeout_s", 120))
        if done.returncode != expect:
            raise RxError(f"{argv[0]} exited {done.returncode} (expected {expect}): {done.stderr.strip()[-_TAIL:]}")
        return done

    def _restore(self, args: dict[str, Any], ctx: DrillContext) -> dict[str, Any]:
        mark = args["mark"]
        if mark not in ctx.marks:
            raise RxError(f"no mark named {mark!r} was set before the restore: add a drill.mark step before it")
        target = ctx.marks[mark]
        argv = self.argv_for(args, {"run_id": ctx.run_id, "target_unix": f"{target:.6f}",
                                    "target_time": datetime.fromtimestamp(target, UTC).isoformat()})
        started = time.monotonic()
        done = self._call(argv, args, 0)
        duration = time.monotonic() - started
        present = _ledger_seqs(argv[0], done.stdout)
        check = measure.restore_check(ctx.prober.samples("write") if ctx.prober else [], target, present)
        ctx.metrics.update(restore_duration_s=round(duration, 3),
                           restore_missing_before_target=len(check.missing_before),
                           restore_present_after_target=len(check.present_after))
        return {"argv": argv, "target": datetime.fromtimestamp(target, UTC).isoformat(),
                "restore_duration_s": round(duration, 3), **check.to_json(), "present_in_restore": len(present)}


def _ledger_seqs(program: str, stdout: str) -> set[int]:
    lines = [line for line in stdout.splitlines() if line.strip()]
    try:
        answer = json.loads(lines[-1]) if lines else None
        seqs = answer["ledger_seqs"] if isinstance(answer, dict) else None
        if not isinstance(seqs, list):
            raise ValueError("no ledger_seqs list")
        return {int(seq) for seq in seqs}
    except (ValueError, TypeError, KeyError) as exc:
        raise RxError(f"{program}: the last line of its output is not {{\"ledger_seqs\": [...]}} ({exc})") from None
