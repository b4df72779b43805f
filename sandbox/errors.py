"""The sandbox's one error type: which part failed, why, and what to do about it."""

from __future__ import annotations

from rxcore.errors import RxError


class SandboxError(RxError):
    def __init__(self, part: str, cause: str, fix: str) -> None:
        super().__init__(f"sandbox {part}: {cause} ({fix})")
        self.part = part
        self.cause = cause
        self.fix = fix
