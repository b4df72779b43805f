"""Errors a user can act on: each names where the problem is and how to fix it."""

from __future__ import annotations


class RxError(Exception):
    """A problem the user can fix; printed as one line without a traceback."""


class ConfigError(RxError):
    """A bad value in a file the user wrote: names the file, the field and what is allowed."""

    def __init__(self, file: str, field: str, problem: str, fix: str, line: int | None = None) -> None:
        where = f"{file}:{line}" if line is not None else file
        problem = " ".join(problem.split())  # one line, whatever a parser's message held
        super().__init__(f"{where}: {field}: {problem} ({fix})")
        self.file = file
        self.field = field
        self.line = line
        self.problem = problem
        self.fix = fix
