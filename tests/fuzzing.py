"""Hostile inputs for the property tests of tests/test_fuzz_inputs.py, and the one rule they check.

Documents start from the shipped files and are mutated the way issue 19's cases were: a field set to a value of
the wrong type or an absurd one (NaN, infinities, huge integers, lists for one value, hundreds of digits), a field
dropped or added, the text cut, bytes that are not UTF-8, anchors and aliases, deep nesting. `outcome` runs one
case and says what it was: ok, a clear error, or a traceback (anything else escaping).
"""

from __future__ import annotations

import json
import traceback
from collections import Counter
from collections.abc import Callable
from typing import Any

import yaml
from hypothesis import strategies as st

from rxcore.errors import RxError
from slo.evaluate import EvaluationError
from slo.records import RecordError
from slo.spec import SpecError

__all__ = ["CLEAR", "TALLY", "TRACEBACKS", "documents", "hostile_values", "latency_lines", "outcome", "texts"]

CLEAR: tuple[type[BaseException], ...] = (RxError, SpecError, RecordError, EvaluationError)
TALLY: Counter[tuple[str, str]] = Counter()
TRACEBACKS: list[str] = []

hostile_values = st.one_of(
    st.none(), st.booleans(), st.integers(-(10 ** 6), 10 ** 6), st.just(10 ** 400), st.just(-(10 ** 30)),
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([float("nan"), float("inf"), float("-inf")]),
    st.text(max_size=12), st.sampled_from(["9" * 400 + "s", "0s", "-1s", "1e400", "nan", "inf", "", "p95", "99.9%"]),
    st.lists(st.one_of(st.integers(-5, 5), st.text(max_size=4)), max_size=3),
    st.dictionaries(st.text(max_size=6), st.integers(-5, 5), max_size=2),
)


def _paths(data: Any, where: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a document a mutation can hit (the root excluded)."""
    found = [where] if where else []
    if isinstance(data, dict):
        for key, value in data.items():
            found += _paths(value, (*where, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            found += _paths(value, (*where, i))
    return found


def _set(data: Any, where: tuple[Any, ...], value: Any, drop: bool) -> Any:
    copy = json.loads(json.dumps(data))
    parent = copy
    for part in where[:-1]:
        parent = parent[part]
    if drop:
        del parent[where[-1]]
    else:
        parent[where[-1]] = value
    return copy


@st.composite
def documents(draw: st.DrawFn, base: Any) -> Any:
    """`base` with one to three fields replaced by hostile values, dropped, or joined by an unknown field."""
    data = base
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(data)
        if not paths:
            break
        where = draw(st.sampled_from(paths))
        how = draw(st.sampled_from(["replace", "replace", "drop", "add"]))
        if how == "add" and isinstance(data, dict):
            data = {**data, draw(st.text(min_size=1, max_size=8)): draw(hostile_values)}
        else:
            data = _set(data, where, draw(hostile_values), drop=how == "drop")
    return data


def _dump(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


@st.composite
def texts(draw: st.DrawFn, base: Any) -> bytes:
    """A file's bytes: a mutated document, or the base's text cut, salted with bytes, aliased or nested deep."""
    kind = draw(st.sampled_from(["document", "document", "document", "cut", "bytes", "alias", "nest", "bomb"]))
    text = _dump(base)
    if kind == "document":
        return _dump(draw(documents(base))).encode()
    if kind == "cut":
        return text[: draw(st.integers(0, len(text)))].encode()
    if kind == "bytes":
        at = draw(st.integers(0, len(text)))
        return text[:at].encode() + draw(st.binary(min_size=1, max_size=4)) + text[at:].encode()
    if kind == "alias":
        return (text + "x-anchor: &a {k: [1, 2]}\nx-alias: *a\nx-self: &s [*s]\n").encode()
    if kind == "nest":
        depth = draw(st.integers(50, 3000))
        return (text + "x-deep: " + "[" * depth + "]" * depth + "\n").encode()
    lines = ["b0: &b0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"b{i}: &b{i} [*b{i - 1}, *b{i - 1}, *b{i - 1}, *b{i - 1}, *b{i - 1}]" for i in range(1, 25)]
    return (text + "\n".join(lines) + "\n").encode()


@st.composite
def latency_lines(draw: st.DrawFn, valid: list[dict[str, Any]]) -> str:
    """A record body (after the header): valid window lines with one mutated, or one raw line of junk."""
    rows = [json.loads(json.dumps(row)) for row in valid]
    at = draw(st.integers(0, len(rows) - 1))
    kind = draw(st.sampled_from(["field", "field", "field", "raw"]))
    lines = [json.dumps(row) for row in rows]
    if kind == "field":
        lines[at] = json.dumps(draw(documents(rows[at])), allow_nan=True)
    else:
        lines[at] = draw(st.one_of(st.text(max_size=30), st.just("[" * 5000 + "]" * 5000),
                                   st.just('{"t": 1e999, "d": 1, "name": "x"}'), st.just("\udcff")))
    return "\n".join(lines) + "\n"


def outcome(kind: str, case: Callable[[], Any]) -> str:
    """Run one case: 'ok', 'clear' (a documented error: one line, no traceback) or 'traceback'; tallied."""
    try:
        result = case()
    except CLEAR as exc:
        text = str(exc)
        seen = "clear" if text and "\n" not in text.strip() and "Traceback" not in text else "traceback"
        if seen == "traceback":
            TRACEBACKS.append(f"not one clear line: {text!r}")
    except SystemExit as exc:
        seen = "clear" if exc.code == 2 else "traceback"
    except Exception:  # the property under test: nothing else escapes
        seen = "traceback"
        TRACEBACKS.append(traceback.format_exc())
    else:
        seen = "clear" if result == 2 else "ok"
    TALLY[(kind, seen)] += 1
    return seen
