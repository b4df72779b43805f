"""PostgREST-style query strings turned into safe SQL: identifiers come only from the table whitelist,
values are typed in Python and always sent as parameters.

Supported, as PostgREST spells them (what supabase-js and supabase-py send): ``select=a,b`` or ``*``; filters
``col=op.value`` with eq, neq, gt, gte, lt, lte, in.(a,"b,c"), like/ilike (``*`` is the wildcard), match/imatch,
isdistinct and is.null|true|false|unknown (plus the sandbox's own is.not_null), each negatable with ``not.``;
logic trees ``or=(a.eq.1,b.is.null)``, ``and=(...)``, ``not.or=(...)``, nested ``or=(a.eq.1,and(b.gt.2,c.lt.3))``;
``order=col.asc|desc[.nullsfirst|nullslast]``; ``limit`` (capped at MAX_LIMIT) and ``offset``. ``columns`` and
``on_conflict`` are read by the insert handler. Anything else is a 400 naming the parameter.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from psycopg import sql

from sandbox.app.errors import ApiError, bad_request
from sandbox.app.tables import Table

MAX_LIMIT = 1000
RESERVED = {"select", "order", "limit", "offset", "apikey", "vsn", "columns", "on_conflict"}
LOGIC = {"or", "and", "not.or", "not.and"}
_COMPARISONS = {"eq": "=", "neq": "<>", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
_PATTERNS = {"like": "LIKE", "ilike": "ILIKE", "match": "~", "imatch": "~*"}
_IS_VALUES = {"null": "NULL", "not_null": "NOT NULL", "true": "TRUE", "false": "FALSE", "unknown": "UNKNOWN"}
_OPERATORS = "eq, neq, gt, gte, lt, lte, in, like, ilike, match, imatch, is, isdistinct (each may follow not.)"


@dataclass(frozen=True)
class Filter:
    column: str
    operator: str
    value: Any
    negated: bool = False


@dataclass(frozen=True)
class Logic:
    """An ``and``/``or`` tree of filters, as PostgREST's ``or=(...)`` parameter writes it."""

    operator: str
    items: tuple[Filter | Logic, ...]
    negated: bool = False


Condition = Filter | Logic


@dataclass(frozen=True)
class Query:
    columns: tuple[str, ...]
    filters: tuple[Condition, ...] = ()
    order: tuple[tuple[str, bool, str | None], ...] = ()
    limit: int = MAX_LIMIT
    offset: int = 0


def unknown_column(table: Table, column: str) -> ApiError:
    return bad_request(
        f"column {table.name}.{column} does not exist",
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


def parse_filter(table: Table, column: str, raw: str, *, in_tree: bool = False) -> Filter:
    """``column=raw`` as PostgREST reads it; ``in_tree`` (inside ``or=(...)``) also unquotes ``"values"``."""
    if column not in table.columns:
        raise unknown_column(table, column)
    negated = raw.startswith("not.")
    expression = raw[4:] if negated else raw
    operator, dot, operand = expression.partition(".")
    if not dot:
        raise bad_request(
            f"filter '{column}={raw}' has no operator", hint="write it as column=operator.value, e.g. status=eq.paid"
        )
    if in_tree and len(operand) >= 2 and operand[0] == operand[-1] == '"':
        operand = operand[1:-1].replace('\\"', '"')
    kind = table.columns[column]
    try:
        if operator in _COMPARISONS or operator == "isdistinct":
            return Filter(column, operator, kind.parse(operand), negated)
        if operator == "in":
            return Filter(column, operator, [kind.parse(item) for item in _split_list(operand)], negated)
        if operator in _PATTERNS:
            if not kind.textual:
                raise bad_request(f"'{operator}' needs a text column; '{column}' is {kind.name}")
            pattern = kind.parse(operand) if operator in ("match", "imatch") else operand.replace("*", "%")
            return Filter(column, operator, pattern, negated)
        if operator == "is":
            if operand not in _IS_VALUES:
                raise bad_request(f"'is.{operand}' is not supported", hint="use is.null, is.true, is.false, is.unknown")
            if operand in ("true", "false", "unknown"):
                message = f"argument of IS {operand.upper()} must be type boolean, not type {kind.name}"
                raise ApiError(400, "42804", message)
            return Filter(column, operator, operand, negated)
    except ValueError as exc:
        raise bad_request(
            f"invalid value for '{column}' ({kind.name}): {operand!r}", code="22P02", details=str(exc)
        ) from None
    raise bad_request(f"unknown operator '{operator}' in filter on '{column}'", hint=f"use one of {_OPERATORS}")


def _split_top_level(text: str) -> list[str]:
    """Split on commas outside parentheses and double quotes (PostgREST's list and logic-tree syntax)."""
    items: list[str] = []
    current: list[str] = []
    depth, quoted, escaped = 0, False, False
    for char in text:
        if escaped:
            escaped = False
        elif char == "\\" and quoted:
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
            if depth < 0:
                raise ValueError("unbalanced parentheses")
        elif not quoted and depth == 0 and char == ",":
            items.append("".join(current))
            current = []
            continue
        current.append(char)
    if quoted or depth:
        raise ValueError("unbalanced quotes or parentheses")
    items.append("".join(current))
    return items


def _split_list(operand: str) -> list[str]:
    if not (operand.startswith("(") and operand.endswith(")")):
        raise ValueError("a list must be written in parentheses, e.g. in.(a,b)")
    inner = operand[1:-1]
    if not inner:
        return []
    values = []
    for item in _split_top_level(inner):
        value = item.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1].replace('\\"', '"')
        values.append(value)
    return values


def parse_logic(table: Table, key: str, raw: str) -> Logic:
    """``or=(a.eq.1,and(b.gt.2,c.is.null))`` and its ``and`` / ``not.`` forms, to any depth."""
    negated = key.startswith("not.")
    operator = key[4:] if negated else key
    if not (raw.startswith("(") and raw.endswith(")")):
        raise bad_request(f"'{key}={raw}' must be a parenthesised list", hint=f"e.g. {key}=(status.eq.paid,id.eq.1)")
    try:
        parts = _split_top_level(raw[1:-1])
    except ValueError as exc:
        raise bad_request(f"failed to parse logic tree ({raw}): {exc}", code="PGRST100") from None
    items: list[Condition] = []
    for part in parts:
        item = part.strip()
        head, paren, rest = item.partition("(")
        if paren and head in LOGIC:
            items.append(parse_logic(table, head, "(" + rest))
            continue
        column, dot, expression = item.partition(".")
        if not dot:
            raise bad_request(f"failed to parse logic tree ({raw}): '{item}' is not column.operator.value")
        items.append(parse_filter(table, column, expression, in_tree=True))
    return Logic(operator, tuple(items), negated)


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
    filters: list[Condition] = []
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
        elif name in LOGIC:
            filters.append(parse_logic(table, name, value))
        else:
            filters.append(parse_filter(table, name, value))
    if allow_filters_only and (order or offset):
        raise bad_request("order and offset apply to reads only")
    return Query(parse_select(table, select_raw), tuple(filters), order, limit, offset)


def _condition(item: Condition, params: list[Any]) -> sql.Composable:
    if isinstance(item, Logic):
        joiner = sql.SQL(" OR ") if item.operator == "or" else sql.SQL(" AND ")
        parts = [_condition(child, params) for child in item.items]
        inner = joiner.join(parts) if parts else sql.SQL("TRUE" if item.operator == "and" else "FALSE")
        tree = sql.SQL("({})").format(inner)
        return sql.SQL("NOT {}").format(tree) if item.negated else tree
    column = sql.Identifier(item.column)
    if item.operator in _COMPARISONS:
        condition = sql.SQL("{} {} %s").format(column, sql.SQL(_COMPARISONS[item.operator]))
        params.append(item.value)
    elif item.operator == "isdistinct":
        condition = sql.SQL("{} IS DISTINCT FROM %s").format(column)
        params.append(item.value)
    elif item.operator == "in":
        condition = sql.SQL("{} = ANY(%s)").format(column)
        params.append(item.value)
    elif item.operator in _PATTERNS:
        condition = sql.SQL("{}::text {} %s").format(column, sql.SQL(_PATTERNS[item.operator]))
        params.append(item.value)
    else:
        condition = sql.SQL("{} IS {}").format(column, sql.SQL(_IS_VALUES[item.value]))
    return sql.SQL("NOT ({})").format(condition) if item.negated else condition


def where_clause(filters: Iterable[Condition]) -> tuple[list[sql.Composable], list[Any]]:
    """SQL conditions and their parameters for the filters (to be AND-ed with the row-level rule)."""
    params: list[Any] = []
    conditions = [_condition(item, params) for item in filters]
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
