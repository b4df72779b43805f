"""PostgREST's conventions in the sandbox without a database: Prefer/Accept/Range parsing, Content-Range and
status arithmetic (PostgREST 12's rules), and the query-string grammar (logic trees, not., quoted lists)."""

from __future__ import annotations

import pytest

from sandbox.app.errors import ApiError
from sandbox.app.pgrst import Preferences, Shape, content_range, negotiate, preferences, range_status, requested_range
from sandbox.app.realtime import parse_bindings
from sandbox.app.rest_query import Filter, Logic, parse_query, where_clause
from sandbox.app.tables import TABLES

PRESCRIPTIONS = TABLES["prescriptions"]


@pytest.mark.parametrize(
    ("lower", "returned", "total", "expected"),
    [(0, 10, 123, "0-9/123"), (0, 0, 0, "*/0"), (0, 3, None, "0-2/*"), (0, 0, None, "*/*"), (5, 0, 5, "*/5")],
)
def test_content_range_matches_postgrest(lower: int, returned: int, total: int | None, expected: str) -> None:
    assert content_range(lower, returned, total) == expected


def test_partial_range_of_a_known_total_is_206_and_the_whole_is_200() -> None:
    assert (range_status(0, 2, 3), range_status(0, 3, 3), range_status(0, 3, None)) == (206, 200, 200)


def test_offset_past_the_total_is_416_pgrst103() -> None:
    with pytest.raises(ApiError) as refused:
        range_status(20, 0, 5)
    assert (refused.value.status, refused.value.code) == (416, "PGRST103")
    assert refused.value.details == "An offset of 20 was requested, but there are only 5 rows."


def test_prefer_parts_appended_by_the_clients_are_all_read() -> None:
    prefer = "return=representation, count=exact, resolution=ignore-duplicates, missing=default"
    parsed = preferences({"prefer": prefer})
    assert parsed == Preferences(representation=True, count="exact", resolution="ignore-duplicates")


@pytest.mark.parametrize(
    ("accept", "shape"),
    [
        ("application/vnd.pgrst.object+json", Shape(single=True)),
        ("application/vnd.pgrst.object+json;nulls=stripped", Shape(single=True, strip_nulls=True)),
        ("application/vnd.pgrst.array+json;nulls=stripped", Shape(strip_nulls=True)),
        ("text/html, */*;q=0.8", Shape()),
        ("", Shape()),
    ],
)
def test_accept_negotiation(accept: str, shape: Shape) -> None:
    assert negotiate({"accept": accept}) == shape


def test_unavailable_media_type_is_406_pgrst107() -> None:
    with pytest.raises(ApiError) as refused:
        negotiate({"accept": "text/csv"})
    assert (refused.value.status, refused.value.code) == (406, "PGRST107")


def test_range_header_narrows_offset_and_limit() -> None:
    assert requested_range({"range": "2-4"}, 0, 1000) == (2, 3)
    assert requested_range({"range": "0-9", "range-unit": "items"}, 0, 5) == (0, 5)
    assert requested_range({"range": "3-"}, 0, 10) == (3, 7)


def test_logic_tree_with_nested_and_and_negation() -> None:
    query = parse_query(PRESCRIPTIONS, [("or", "(quantity.eq.1,and(quantity.gte.2,notes.not.is.null))")])
    assert query.filters == (
        Logic("or", (Filter("quantity", "eq", 1),
                     Logic("and", (Filter("quantity", "gte", 2), Filter("notes", "is", "null", negated=True))))),
    )
    conditions, params = where_clause(query.filters)
    assert params == [1, 2]
    assert len(conditions) == 1


def test_quoted_values_keep_their_commas_and_parentheses() -> None:
    query = parse_query(PRESCRIPTIONS, [("notes", 'in.("a,b","c)",d)'), ("or", '(notes.eq."x,y",notes.like.*z*)')])
    assert query.filters[0] == Filter("notes", "in", ["a,b", "c)", "d"])
    assert query.filters[1] == Logic("or", (Filter("notes", "eq", "x,y"), Filter("notes", "like", "%z%")))


def test_not_prefix_negates_any_operator() -> None:
    query = parse_query(PRESCRIPTIONS, [("quantity", "not.in.(1,2)"), ("not.or", "(quantity.eq.3)")])
    assert query.filters == (Filter("quantity", "in", [1, 2], negated=True),
                             Logic("or", (Filter("quantity", "eq", 3),), negated=True))


def test_is_true_on_a_non_boolean_column_is_postgres_42804() -> None:
    with pytest.raises(ApiError) as refused:
        parse_query(PRESCRIPTIONS, [("notes", "is.true")])
    assert (refused.value.status, refused.value.code) == (400, "42804")


def test_unbalanced_logic_tree_is_a_400() -> None:
    with pytest.raises(ApiError) as refused:
        parse_query(PRESCRIPTIONS, [("or", "(quantity.eq.1,and(quantity.eq.2)")])
    assert refused.value.status == 400


def test_realtime_filters_compare_typed_values() -> None:
    """Realtime's postgres_changes filters (eq, neq, lt, lte, gt, gte, in) on the row of a change."""
    config = {"postgres_changes": [{"event": "*", "schema": "public", "table": "prescriptions", "filter": f}
                                   for f in ("quantity=gt.9", "quantity=neq.10", "status=in.(paid,approved)")]}
    above_nine, not_ten, payable = parse_bindings(config)
    assert [above_nine.matches("INSERT", {"quantity": q}) for q in (9, 10, 100)] == [False, True, True]
    assert [not_ten.matches("UPDATE", {"quantity": q}) for q in (10, 11)] == [False, True]
    assert [payable.matches("UPDATE", {"status": s}) for s in ("paid", "requested")] == [True, False]


def test_realtime_refuses_filters_it_cannot_apply() -> None:
    for expression in ("quantity=not.eq.1", "notes=like.*x*"):
        with pytest.raises(ValueError, match="realtime filters support"):
            parse_bindings({"postgres_changes": [{"event": "*", "schema": "public", "table": "prescriptions",
                                                   "filter": expression}]})
