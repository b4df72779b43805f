"""The PostgREST-shaped REST subset: ``/rest/v1/{table}`` reads, renewal inserts, status changes, ledger writes.

Every statement runs as the caller (``db.as_caller``: role and JWT claims set per transaction, as PostgREST does),
so PostgreSQL's row-level security and the status-flow trigger of the platform kit (supabase/migrations) decide:
a row that is not yours (even ``id=eq.<its id>``) is absent, a write the policies refuse is 403 (42501), an
invalid status transition 409 (PT409). A PATCH that matches no row you may change is a 404. The trigger writes a
``prescription_events`` row for every new prescription and status change, in the same transaction.
"""

from __future__ import annotations

import uuid
from typing import Any, NoReturn

from psycopg import sql
from starlette.requests import Request
from starlette.responses import Response

from sandbox.app.context import Services, caller, json_body, json_object, services
from sandbox.app.db import Conn, as_caller
from sandbox.app.errors import ApiError, bad_request, forbidden, not_found, unauthorized
from sandbox.app.identity import Caller
from sandbox.app.rest_query import Query, column_list, order_clause, parse_query, where_clause
from sandbox.app.routing import Routes
from sandbox.app.tables import TABLES, Table

router = Routes("/rest/v1")

MAX_INSERT_ROWS = 100
# The columns the kit grants UPDATE on; which role may change which is the status-flow trigger's rule.
PATCHABLE = {"status", "notes"}
_JSON = "application/json"


def _table(name: str) -> Table:
    table = TABLES.get(name)
    if table is None:
        raise not_found(
            f"relation '{name}' does not exist",
            code="42P01",
            hint=f"available tables: {', '.join(TABLES)}",
        )
    return table


def _reader(request: Request, table: Table) -> Caller:
    who = caller(request).require_data_access()
    if table.name != "medications" and who.kind not in ("user", "service"):
        raise unauthorized("reading this table needs a signed-in user", code="no_jwt")
    return who


def _wants_representation(request: Request) -> bool:
    prefer = request.headers.get("prefer", "")
    return any(part.strip() == "return=representation" for part in prefer.split(","))


@router.get("/{table}")
async def read_rows(request: Request) -> Response:
    table = request.path_params["table"]
    spec = _table(table)
    who = _reader(request, spec)
    query = parse_query(spec, request.query_params.multi_items())
    conditions, filter_params = where_clause(query.filters)
    statement = sql.SQL(
        "SELECT coalesce(json_agg(_r), '[]')::text AS body FROM "
        "(SELECT {columns} FROM {table} WHERE {where} {order} LIMIT %s OFFSET %s) _r"
    ).format(
        columns=column_list(query.columns),
        table=sql.Identifier(spec.name),
        where=sql.SQL(" AND ").join([sql.SQL("TRUE"), *conditions]),
        order=order_clause(spec, query.order),
    )
    args = [*filter_params, query.limit, query.offset]
    async def fetch(conn: Conn) -> str:
        cursor = await conn.execute(statement, args)
        row = await cursor.fetchone()
        return row["body"] if row else "[]"

    return Response(await services(request).db.read(as_caller(who, fetch)), media_type=_JSON)


@router.post("/{table}")
async def insert_rows(request: Request) -> Response:
    table = request.path_params["table"]
    spec = _table(table)
    who = caller(request).require_data_access()
    query = parse_query(spec, request.query_params.multi_items(), allow_filters_only=True)
    if query.filters:
        raise bad_request("filters are not allowed on insert")
    body = await json_body(request)
    rows = body if isinstance(body, list) else [body]
    if not rows or len(rows) > MAX_INSERT_ROWS or not all(isinstance(r, dict) for r in rows):
        raise bad_request(f"send a JSON object or an array of 1 to {MAX_INSERT_ROWS} objects", code="PGRST102")
    if spec.name == "prescriptions":
        result = await _insert_prescriptions(services(request), who, rows, query)
    elif spec.name == "probe_writes":
        result = await _insert_probe_writes(services(request), who, rows, query)
    else:
        raise forbidden(f"permission denied for table {spec.name}: it is read-only through this API")
    if _wants_representation(request):
        return Response(result, status_code=201, media_type=_JSON)
    return Response(status_code=201)


def _check_keys(table: Table, row: dict[str, Any], writable: set[str]) -> None:
    for key in row:
        if key not in table.columns:
            raise bad_request(f"could not find the '{key}' column of '{table.name}'", code="PGRST204")
        if key not in writable:
            raise bad_request(f"column '{key}' of '{table.name}' cannot be set", hint=f"writable: {sorted(writable)}")


def _uuid_field(row: dict[str, Any], key: str, *, required: bool) -> uuid.UUID | None:
    value = row.get(key)
    if value is None:
        if required:
            raise bad_request(f"'{key}' is required")
        return None
    try:
        return uuid.UUID(str(value)) if isinstance(value, str) else _type_error(key, "a UUID string")
    except ValueError:
        raise bad_request(f"'{key}' must be a UUID, got {value!r}", code="22P02") from None


def _int_field(row: dict[str, Any], key: str, *, default: int | None, low: int, high: int) -> int:
    value = row.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        _type_error(key, "an integer")
    if not low <= value <= high:
        raise bad_request(f"'{key}' must be between {low} and {high}, got {value}")
    return value


def _text_field(row: dict[str, Any], key: str, *, max_length: int, required: bool = False) -> str | None:
    value = row.get(key)
    if value is None:
        if required:
            raise bad_request(f"'{key}' is required")
        return None
    if not isinstance(value, str):
        _type_error(key, "a string")
    if len(value) > max_length:
        raise bad_request(f"'{key}' must be text of at most {max_length} characters")
    if "\x00" in value:
        raise bad_request(f"'{key}' must not contain NUL characters", code="22P05")
    return value


def _type_error(key: str, expected: str) -> NoReturn:
    raise bad_request(f"'{key}' must be {expected}", code="22P02")


_PRESCRIPTION_INSERT = sql.SQL(
    "WITH doctor AS ("
    " SELECT coalesce(%(doctor)s::uuid,"
    "  (SELECT doctor_id FROM prescriptions WHERE patient_id = %(patient)s ORDER BY created_at DESC LIMIT 1),"
    "  (SELECT id FROM profiles WHERE role = 'doctor' ORDER BY random() LIMIT 1)) AS id),"
    " ins AS (INSERT INTO prescriptions (patient_id, doctor_id, medication_id, status, quantity, notes)"
    "  SELECT %(patient)s, u.id, %(medication)s, %(status)s, %(quantity)s, %(notes)s"
    "  FROM doctor JOIN profiles u ON u.id = doctor.id AND u.role = 'doctor' RETURNING *)"
    " SELECT to_json(_r)::text AS body FROM (SELECT {columns} FROM ins) _r"
)


async def _insert_prescriptions(svc: Services, who: Caller, rows: list[dict[str, Any]], query: Query) -> str:
    writable = {"medication_id", "quantity", "notes", "doctor_id", "patient_id", "status"}
    values = []
    for row in rows:
        _check_keys(TABLES["prescriptions"], row, writable)
        values.append(
            {
                "patient": _uuid_field(row, "patient_id", required=False) or who.user_id,
                "status": _text_field(row, "status", max_length=20) or "requested",
                "doctor": _uuid_field(row, "doctor_id", required=False),
                "medication": _uuid_field(row, "medication_id", required=True),
                "quantity": _int_field(row, "quantity", default=1, low=1, high=1000),
                "notes": _text_field(row, "notes", max_length=1000),
            }
        )
    statement = _PRESCRIPTION_INSERT.format(columns=column_list(query.columns))

    async def insert(conn: Conn) -> str:
        bodies = []
        for params in values:
            cursor = await conn.execute(statement, params)
            row = await cursor.fetchone()
            if row is None:
                raise bad_request(f"doctor_id {params['doctor']} is not a doctor", code="23503")
            bodies.append(row["body"])
        return "[" + ",".join(bodies) + "]"

    return await svc.db.write(as_caller(who, insert))


async def _insert_probe_writes(svc: Services, who: Caller, rows: list[dict[str, Any]], query: Query) -> str:
    table = TABLES["probe_writes"]
    seqs, run_ids, payloads = [], [], []
    for row in rows:
        _check_keys(table, row, {"seq", "run_id", "payload"})
        seqs.append(_int_field(row, "seq", default=None, low=0, high=2**63 - 1))
        run_ids.append(_text_field(row, "run_id", max_length=200, required=True))
        payloads.append(_text_field(row, "payload", max_length=10_000))
    statement = sql.SQL(
        "WITH ins AS (INSERT INTO probe_writes (seq, run_id, payload)"
        " SELECT * FROM unnest(%s::bigint[], %s::text[], %s::text[]) RETURNING *)"
        " SELECT coalesce(json_agg(_r), '[]')::text AS body FROM (SELECT {columns} FROM ins) _r"
    ).format(columns=column_list(query.columns))

    async def insert(conn: Conn) -> str:
        cursor = await conn.execute(statement, [seqs, run_ids, payloads])
        row = await cursor.fetchone()
        return row["body"] if row else "[]"

    return await svc.db.write(as_caller(who, insert))


@router.patch("/{table}")
async def update_rows(request: Request) -> Response:
    table = request.path_params["table"]
    spec = _table(table)
    who = caller(request).require_data_access()
    if spec.name != "prescriptions":
        raise forbidden(f"permission denied for table {spec.name}: rows cannot be changed through this API")
    query = parse_query(spec, request.query_params.multi_items(), allow_filters_only=True)
    if not query.filters:
        raise bad_request("PATCH needs at least one filter", hint="e.g. ?id=eq.<prescription id>")
    changes = await json_object(request)
    if not changes:
        raise bad_request("the JSON body names no column to change")
    _check_keys(spec, changes, PATCHABLE)
    new_status = _text_field(changes, "status", max_length=20)
    notes = _text_field(changes, "notes", max_length=1000) if "notes" in changes else None
    body = await services(request).db.write(
        as_caller(who, lambda conn: _apply_update(conn, query, new_status, "notes" in changes, notes))
    )
    if _wants_representation(request):
        return Response(body, media_type=_JSON)
    return Response(status_code=204)


async def _apply_update(conn: Conn, query: Query, new_status: str | None, set_notes: bool, notes: str | None) -> str:
    conditions, filter_params = where_clause(query.filters)
    update = sql.SQL(
        "WITH upd AS (UPDATE prescriptions SET status = coalesce(%s, status),"
        " notes = CASE WHEN %s THEN %s ELSE notes END WHERE {} RETURNING *)"
        " SELECT count(*) AS n, coalesce(json_agg(_r), '[]')::text AS body"
        " FROM (SELECT {columns} FROM upd ORDER BY created_at) _r"
    ).format(sql.SQL(" AND ").join(conditions), columns=column_list(query.columns))
    cursor = await conn.execute(update, [new_status, set_notes, notes, *filter_params])
    row = await cursor.fetchone()
    if row is None or row["n"] == 0:
        raise not_found("no prescription you may change matches the filters")
    return row["body"]


@router.delete("/{table}")
async def delete_rows(_: Request) -> Response:
    raise ApiError(405, "PGRST105", "rows cannot be deleted through this API")
