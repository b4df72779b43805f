"""Content checks: a response is good only when its body is what the platform contract promises.

Each check returns None when the body is right, or a short message saying what is wrong. Messages never carry
ids or values, so Locust's error table stays small however long the run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

Check = Callable[[Any], str | None]


def rows(*, required: Iterable[str] = ("id",), where: Callable[[dict[str, Any]], bool] | None = None,
         rule: str = "", exactly: int | None = None, at_most: int | None = None) -> Check:
    """A JSON array of objects with the `required` keys, each satisfying `where` (the row-level rule)."""
    keys = frozenset(required)
    keys_text = ", ".join(sorted(keys))
    if not keys and where is None and exactly is None and at_most is None:
        return _array_of_objects

    def check(body: Any) -> str | None:
        if not isinstance(body, list):
            return "body is not a JSON array"
        if exactly is not None and len(body) != exactly:
            return f"expected exactly {exactly} row(s)"
        if at_most is not None and len(body) > at_most:
            return f"more than {at_most} rows"
        for row in body:
            if not isinstance(row, dict):
                return "a row is not a JSON object"
            if not row.keys() >= keys:
                return f"a row lacks one of {keys_text}"
            if where is not None and not where(row):
                return f"a row breaks the rule: {rule}"
        return None

    return check


def _array_of_objects(body: Any) -> str | None:
    """rows() with nothing more to ask of a row (the probe's check, run on every request of the benchmarks)."""
    if not isinstance(body, list):
        return "body is not a JSON array"
    for row in body:
        if not isinstance(row, dict):
            return "a row is not a JSON object"
    return None


def fields(**expected: Callable[[Any], bool]) -> Check:
    """A JSON object whose named fields each pass their predicate."""

    def check(body: Any) -> str | None:
        if not isinstance(body, dict):
            return "body is not a JSON object"
        for key, ok in expected.items():
            if key not in body or not ok(body[key]):
                return f"field {key} is missing or wrong"
        return None

    return check


def non_empty_str(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


def positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0
