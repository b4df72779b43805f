"""Errors a user can act on: each names where the problem is and how to fix it."""

from __future__ import annotations

import re


def one_line(text: str) -> str:
    """`text` with control characters (a newline inside a field name, say) written as escapes: one line always."""
    return re.sub(r"[\x00-\x1f\x7f]", lambda m: repr(m.group())[1:-1], text)


class RxError(Exception):
    """A problem the user can fix; printed as one line without a traceback."""


class ConfigError(RxError):
    """A bad value in a file the user wrote: names the file, the field and what is allowed."""

    def __init__(self, file: str, field: str, problem: str, fix: str, line: int | None = None) -> None:
        where = f"{file}:{line}" if line is not None else file
        super().__init__(one_line(f"{where}: {field}: {' '.join(problem.split())} ({fix})"))
        self.file = file
        self.field = field
        self.line = line
        self.problem = problem
        self.fix = fix
