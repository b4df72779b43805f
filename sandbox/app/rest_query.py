"""PostgREST-style query strings turned into safe SQL: identifiers come only from the table whitelist,
values are typed in Python and always sent as parameters.

Supported: ``select=a,b`` or ``*``; filters ``col=op.value`` with eq, neq, gt, gte, lt, lte, in.(a,b),
like/ilike (``*`` is the wildcard) and is.null / not_null; ``order=col.asc|desc[.nullsfirst|nullslast]``;
``limit`` (capped at MAX_LIMIT) and ``offset``. Anything else is a 400 naming the parameter.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from psycopg import sql

from sandbox.app.errors import ApiError, bad_request
from sandbox.app.tables import Table

MAX_LIMIT = 1000
RESERVED = {"select", "order", "limit", "offset", "apikey", "vsn"}
_COMPARISONS = {"eq": "=", "neq": "<>", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
_PATTERNS = {"like": "LIKE", "ilike": "ILIKE"}


@dataclass(frozen=True)
class Filter:
    column: str
    operator: str
    value: Any


@dataclass(frozen=True)
class Query:
    columns: tuple[str, ...]
    filters: tuple[Filter, ...] = ()
    order: tuple[tuple[str, bool, str | None], ...] = ()
    limit: int = MAX_LIMIT
    offset: int = 0


def unknown_column(table: Table, column: str) -> ApiError:
    return bad_request(
        f"column '{column}' does not exist in '{table.name}'",
        code="42703",
        hint=f"known columns: {', '.join(table.columns)}",
    )


def parse_select(table: Table, raw: str | None) -> tuple[str, ...]:
    if raw is None or raw.strip() in ("", "*"):
        return tuple(table.columns)
    columns = []
    for part in raw.split(","):
        name = part.strip()
        if "(" in name or ":" in name:
            raise bad_request(f"select item '{name}' is not supported", hint="list plain column names or '*'")
        if name not in table.columns:
            raise unknown_column(table, name)
        if name not in columns:
            columns.append(name)
    return tuple(columns)


def parse_filter(table: Table, column: str, raw: str) -> Filter:
    if column not in table.columns:
        raise unknown_column(table, column)
    operator, dot, operand = raw.partition(".")
    if not dot:
        raise bad_request(
            f"filter '{column}={raw}' has no operator", hint="write it as column=operator.value, e.g. status=eq.paid"
        )
    kind = table.columns[column]
    try:
        if operator in _COMPARISONS:
            return Filter(column, operator, kind.parse(operand))
        if operator == "in":
            return Filter(column, operator, [kind.parse(item) for item in _split_list(operand)])
        if operator in _PATTERNS:
            if not kind.textual:
                raise bad_request(f"'{operator}' needs a text column; '{column}' is {kind.name}")
            return Filter(column, operator, kind.parse(operand).replace("*", "%"))
        if operator == "is":
            if operand not in ("null", "not_null"):
                raise bad_request(f"'is.{operand}' is not supported", hint="use is.null or is.not_null")
            return Filter(column, operator, operand)
    except ValueError as exc:
        raise bad_request(
            f"invalid value for '{column}' ({kind.name}): {operand!r}", code="22P02", details=str(exc)
        ) from None
    raise bad_request(
        f"unknown operator '{operator}' in filter on '{column}'",
        hint="use one of eq, neq, gt, gte, lt, lte, in, like, ilike, is",
    )


def _split_list(operand: str) -> list[str]:
    if not (operand.startswith("(") and operand.endswith(")")):
        raise ValueError("a list must be written in parentheses, e.g. in.(a,b)")
    inner = operand[1:-1]
    if not inner:
        return []
    return [item.strip().strip('"') for item in inner.split(",")]


def _parse_order(table: Table, raw: str) -> tuple[tuple[str, bool, str | None], ...]:
    terms = []
    for term in raw.split(","):
        column, *modifiers = term.strip().split(".")
        if column not in table.columns:
            raise unknown_column(table, column)
        descending, nulls = False, None
        for modifier in modifiers:
            if modifier in ("asc", "desc"):
                descending = modifier == "desc"
            elif modifier in ("nullsfirst", "nullslast"):
                nulls = modifier
            else:
                raise bad_request(f"unknown order modifier '{modifier}'", hint="use asc, desc, nullsfirst, nullslast")
        terms.append((column, descending, nulls))
    return tuple(terms)


def _non_negative(name: str, raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        raise bad_request(f"'{name}' must be a non-negative integer, got {raw!r}")
    return value


def parse_query(table: Table, params: Iterable[tuple[str, str]], *, allow_filters_only: bool = False) -> Query:
    """Parse a request's query parameters; ``allow_filters_only`` rejects select/order/limit/offset misuse."""
    select_raw = None
    filters: list[Filter] = []
    order: tuple[tuple[str, bool, str | None], ...] = ()
    limit, offset = MAX_LIMIT, 0
    for name, value in params:
        if name == "select":
            select_raw = value
        elif name == "order":
            order = _parse_order(table, value)
        elif name == "limit":
            limit = min(_non_negative(name, value), MAX_LIMIT)
        elif name == "offset":
            offset = _non_negative(name, value)
        elif name in RESERVED:
            continue
        else:
            filters.append(parse_filter(table, name, value))
    if allow_filters_only and (order or offset):
        raise bad_request("order and offset apply to reads only")
    return Query(parse_select(table, select_raw), tuple(filters), order, limit, offset)


def where_clause(filters: Iterable[Filter]) -> tuple[list[sql.Composable], list[Any]]:
    """SQL conditions and their parameters for the filters (to be AND-ed with the row-level rule)."""
    conditions: list[sql.Composable] = []
    params: list[Any] = []
    for item in filters:
        column = sql.Identifier(item.column)
        if item.operator in _COMPARISONS:
            conditions.append(sql.SQL("{} {} %s").format(column, sql.SQL(_COMPARISONS[item.operator])))
            params.append(item.value)
        elif item.operator == "in":
            conditions.append(sql.SQL("{} = ANY(%s)").format(column))
            params.append(item.value)
        elif item.operator in _PATTERNS:
            conditions.append(sql.SQL("{}::text {} %s").format(column, sql.SQL(_PATTERNS[item.operator])))
            params.append(item.value)
        else:
            suffix = "IS NULL" if item.value == "null" else "IS NOT NULL"
            conditions.append(sql.SQL("{} {}").format(column, sql.SQL(suffix)))
    return conditions, params


def column_list(columns: Iterable[str]) -> sql.Composable:
    return sql.SQL(", ").join(sql.Identifier(c) for c in columns)


def order_clause(table: Table, order: tuple[tuple[str, bool, str | None], ...]) -> sql.Composable:
    if not order:
        return sql.SQL("ORDER BY {}").format(sql.Identifier(table.default_order))
    terms = []
    for column, descending, nulls in order:
        text = " DESC" if descending else " ASC"
        if nulls:
            text += " NULLS FIRST" if nulls == "nullsfirst" else " NULLS LAST"
        terms.append(sql.SQL("{}" + text).format(sql.Identifier(column)))
    return sql.SQL("ORDER BY ") + sql.SQL(", ").join(terms)
