"""Values a user writes or types, checked in one place: finite numbers in range, whole counts, bounded durations,
choices, and the command-line options built on them.

Each check returns the clean value or raises ValueError saying what is allowed; `option()` turns that into an
RxError naming the option, files turn it into a ConfigError naming file, line and field. NaN and infinities are
never values: JSON cannot carry them and every comparison with them is false, which is how a threshold of
`.inf` or a rate of `nan` used to slip through as "no limit".
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from rxcore.errors import RxError

__all__ = [
    "DURATION_ALLOWED",
    "DURATION_UNITS",
    "MAX_DURATION_S",
    "choice",
    "count",
    "duration",
    "finite",
    "option",
    "parse_duration",
    "period",
    "rate",
    "tags",
    "text",
]

T = TypeVar("T")

MAX_DURATION_S = 400 * 86400.0  # longer than any SLO window (a quarter, a year of reports) a file should name
DURATION_ALLOWED = 'a number with a unit (ms, s, m, h, d, w), e.g. "200ms", "30s", "5m", "1h", "3d", "1h30m"'
DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PART = re.compile(r"(\d{1,15}(?:\.\d{1,9})?)(ms|s|m|h|d|w)")


def finite(value: Any, low: float | None = None, high: float | None = None, *, above: float | None = None,
           what: str = "number") -> float:
    """A real number (not a bool, not NaN or infinite) with low <= value <= high and value > above."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{value!r} is not a {what}; write a plain number such as 5 or 0.5")
    try:
        number = float(value)
    except OverflowError:
        raise ValueError(f"{value!r} is too large; write a number of sane size") from None
    if not math.isfinite(number):
        raise ValueError(f"{value!r} is not a finite {what}; NaN and infinities are not allowed")
    if above is not None and not number > above:
        raise ValueError(f"{value!r} must be more than {above:g}")
    if (low is not None and number < low) or (high is not None and number > high):
        span = (f"between {low:g} and {high:g}" if low is not None and high is not None
                else f"at least {low:g}" if low is not None else f"at most {high:g}")
        raise ValueError(f"{value!r} is out of range; use a {what} {span}")
    return number


def count(value: Any, low: int = 0, high: int | None = None, what: str = "count") -> int:
    """A whole number (not a bool, not 2.0) with low <= value <= high."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{value!r} is not a whole number; write e.g. 10")
    if value < low or (high is not None and value > high):
        span = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise ValueError(f"{value!r} is out of range; use a {what} {span}")
    return value


def text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{value!r} is not text; write a non-empty string (one value, not a list)")
    return value


def choice(value: Any, allowed: Iterable[str]) -> str:
    allowed = tuple(allowed)
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{value!r} is not allowed; use one of {', '.join(allowed)}")
    return value


def parse_duration(value: Any) -> float:
    """Seconds in "30s", "5m", "1h30m", "200ms"; a bare number has no unit and is refused, as is anything longer
    than MAX_DURATION_S (hundreds of digits used to parse as an infinite duration)."""
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a duration; write {DURATION_ALLOWED}")
    s = value.strip()
    pos = 0
    total = 0.0
    for match in _PART.finditer(s):
        if match.start() != pos:
            break
        total += float(match.group(1)) * DURATION_UNITS[match.group(2)]
        pos = match.end()
    if pos == 0 or pos != len(s):
        raise ValueError(f"{value!r} is not a duration; write {DURATION_ALLOWED}")
    if total > MAX_DURATION_S:
        raise ValueError(f"{value!r} is longer than {MAX_DURATION_S / 86400:g} days; write a realistic duration")
    return total


def duration(value: Any, minimum: float = 0.0, maximum: float = MAX_DURATION_S) -> float:
    """A duration strictly longer than `minimum` seconds and at most `maximum`."""
    seconds = parse_duration(value)
    if not seconds > minimum:
        raise ValueError(f"{value!r} must be longer than {minimum:g} s; write {DURATION_ALLOWED}")
    if seconds > maximum:
        raise ValueError(f"{value!r} is longer than the {maximum:g} s allowed here")
    return seconds


def rate(value: Any) -> float:
    """A request rate in requests per second, from the command line (text) or a file (a number)."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a rate; write requests per second, e.g. 50 or 12.5") from None
    return finite(value, high=1e7, above=0, what="rate")


def tags(value: str, known: Iterable[str]) -> list[str]:
    """Comma-separated tags, each one that some task carries (an unknown tag used to select nothing silently)."""
    known = sorted(set(known))
    chosen = [t.strip() for t in value.split(",") if t.strip()]
    if not chosen:
        raise ValueError(f"{value!r} names no tag; use one or more of {', '.join(known)}, comma-separated")
    unknown = [t for t in chosen if t not in known]
    if unknown:
        raise ValueError(f"{', '.join(unknown)}: no task has this tag; use one or more of {', '.join(known)}")
    return chosen


def period(value: str) -> str:
    """A report period: a quarter (2026-Q4), a month (2026-11) or a year (2026), with a year from 1970 to 9998."""
    found = re.fullmatch(r"(\d{4})(-(Q[1-4]|\d{2}))?", value.strip().upper())
    if not found:
        raise ValueError(f"{value!r} is not a period; write a quarter (2026-Q4), a month (2026-11) or a year (2026)")
    if not 1970 <= int(found[1]) <= 9998:
        raise ValueError(f"{value!r}: year {found[1]} is out of range; use a year from 1970 to 9998")
    return value


def option(name: str, check: Callable[..., T], value: Any, *args: Any) -> T:
    """`check(value, *args)` for the command-line option `name`; its ValueError becomes one RxError line (exit 2)."""
    try:
        return check(value, *args)
    except ValueError as exc:
        raise RxError(f"{name}: {exc}") from None
