"""The PostgREST-shaped REST subset: ``/rest/v1/{table}`` reads, renewal inserts, status changes, ledger writes.

Every statement runs as the caller (``db.as_caller``: role and JWT claims set per transaction, as PostgREST does),
so PostgreSQL's row-level security and the status-flow trigger of the platform kit (supabase/migrations) decide:
a row that is not yours (even ``id=eq.<its id>``) is absent, a write the policies refuse is 403 (42501), an
invalid status transition 409 (PT409). A PATCH that matches no row you may change is a 404. The trigger writes a
``prescription_events`` row for every new prescription and status change, in the same transaction.
Headers and response shapes are PostgREST's (sandbox.app.pgrst):
``.single()`` objects, counts with ``Content-Range`` (also on HEAD), ``Range``, ``return=representation`` and
upserts (``resolution=merge-duplicates|ignore-duplicates`` with ``on_conflict``).
"""

from __future__ import annotations

import uuid
from typing import Any, NoReturn

from psycopg import sql
from starlette.requests import Request
from starlette.responses import Response

from sandbox.app import pgrst
from sandbox.app.context import Services, caller, json_body, json_object, services
from sandbox.app.db import Conn, as_caller
from sandbox.app.errors import ApiError, bad_request, forbidden, not_found, unauthorized
from sandbox.app.identity import Caller
from sandbox.app.rest_query import MAX_LIMIT, Query, column_list, order_clause, parse_query, where_clause
from sandbox.app.routing import Routes
from sandbox.app.tables import TABLES, Table

router = Routes("/rest/v1")

MAX_INSERT_ROWS = 100
# The columns the kit grants UPDATE on; which role may change which is the status-flow trigger's rule.
PATCHABLE = {"status", "notes"}
# The unique keys an upsert's ``on_conflict`` may name (the primary keys).
CONFLICT_KEYS = {"prescriptions": {"id"}, "probe_writes": {"run_id", "seq"}}


def _table(name: str) -> Table:
    table = TABLES.get(name)
    if table is None:
        raise not_found(
            f"Could not find the table 'public.{name}' in the schema cache",
            code="PGRST205",
            hint=f"available tables: {', '.join(TABLES)}",
        )
    return table


def _data_caller(request: Request) -> Caller:
    """A caller with a valid key; a token that does not verify is PostgREST's 401 (PGRST303 expired, else PGRST301)."""
    who = caller(request).require_api_key()
    if who.error:
        raise unauthorized(who.error, code="PGRST303" if who.error == "JWT expired" else "PGRST301")
    return who


def _reader(request: Request, table: Table) -> Caller:
    who = _data_caller(request)
    if table.name != "medications" and who.kind not in ("user", "service"):
        raise unauthorized("reading this table needs a signed-in user", code="no_jwt")
    return who


def _json_rows(strip_nulls: bool) -> sql.SQL:
    """The aggregate turning the rows of ``_r`` into a JSON array (text), without null-valued keys if asked."""
    if strip_nulls:
        return sql.SQL("coalesce(json_agg(json_strip_nulls(to_json(_r))), '[]')::text")
    return sql.SQL("coalesce(json_agg(_r), '[]')::text")


async def _count(conn: Conn, source: sql.Composable, params: list[Any], method: str) -> int:
    """``Prefer: count=`` as PostgREST computes it: exact; planned (the planner's estimate); estimated (exact up
    to the maximum rows a response may hold, the estimate beyond)."""
    if method != "exact":
        cursor = await conn.execute(sql.SQL("EXPLAIN (FORMAT JSON) SELECT 1 FROM {}").format(source), params)
        row = await cursor.fetchone()
        planned = int(row["QUERY PLAN"][0]["Plan"]["Plan Rows"]) if row else 0
        if method == "planned" or planned > MAX_LIMIT:
            return planned
    cursor = await conn.execute(sql.SQL("SELECT count(*) AS n FROM {}").format(source), params)
    row = await cursor.fetchone()
    return int(row["n"]) if row else 0


@router.get("/{table}")
async def read_rows(request: Request) -> Response:
    """GET (and HEAD, which Starlette routes here too: headers and counts without a body)."""
    table = request.path_params["table"]
    spec = _table(table)
    who = _reader(request, spec)
    pgrst.check_profile(request.headers, request.method)
    shape = pgrst.negotiate(request.headers)
    prefs = pgrst.preferences(request.headers)
    query = parse_query(spec, request.query_params.multi_items())
    offset, limit = pgrst.requested_range(request.headers, query.offset, query.limit)
    conditions, filter_params = where_clause(query.filters)
    source = sql.SQL("{table} WHERE {where}").format(
        table=sql.Identifier(spec.name), where=sql.SQL(" AND ").join([sql.SQL("TRUE"), *conditions])
    )
    statement = sql.SQL(
        "SELECT {rows} AS body, count(*) AS n FROM (SELECT {columns} FROM {source} {order} LIMIT %s OFFSET %s) _r"
    ).format(
        rows=_json_rows(shape.strip_nulls),
        columns=column_list(query.columns),
        source=source,
        order=order_clause(spec, query.order),
    )

    async def run(conn: Conn) -> tuple[str, int, int | None]:
        total = await _count(conn, source, filter_params, prefs.count) if prefs.count else None
        cursor = await conn.execute(statement, [*filter_params, limit, offset])
        row = await cursor.fetchone()
        return (row["body"], int(row["n"]), total) if row else ("[]", 0, total)

    body, returned, total = await services(request).db.read(as_caller(who, run))
    status = pgrst.range_status(offset, returned, total)
    headers = {"content-range": pgrst.content_range(offset, returned, total)}
    if request.method == "HEAD":
        return Response(status_code=status, headers=headers, media_type="application/json; charset=utf-8")
    return pgrst.respond(body, rows=returned, shape=shape, status=status, headers=headers, prefs=prefs)


@router.post("/{table}")
async def insert_rows(request: Request) -> Response:
    table = request.path_params["table"]
    spec = _table(table)
    who = _data_caller(request)
    pgrst.check_profile(request.headers, request.method)
    shape = pgrst.negotiate(request.headers)
    prefs = pgrst.preferences(request.headers)
    query = parse_query(spec, request.query_params.multi_items(), allow_filters_only=True)
    if query.filters:
        raise bad_request("filters are not allowed on insert")
    body = await json_body(request)
    rows = body if isinstance(body, list) else [body]
    if not rows or len(rows) > MAX_INSERT_ROWS or not all(isinstance(r, dict) for r in rows):
        raise bad_request(f"send a JSON object or an array of 1 to {MAX_INSERT_ROWS} objects", code="PGRST102")
    rows = _only_columns(spec, rows, request.query_params.get("columns"))
    _check_conflict_target(spec, request.query_params.get("on_conflict"))
    if shape.single and len(rows) != 1:
        raise pgrst.singular_error(len(rows))
    if spec.name == "prescriptions":
        inserted = await _insert_prescriptions(services(request), who, rows, query)
    elif spec.name == "probe_writes":
        inserted = await _insert_probe_writes(services(request), who, rows, query, prefs.resolution)
    else:
        raise forbidden(f"permission denied for table {spec.name}: it is read-only through this API")
    result, written = inserted
    headers = {"content-range": pgrst.content_range(0, 0, written if prefs.count else None)}
    if not prefs.representation:
        return pgrst.respond(None, rows=written, shape=pgrst.Shape(), status=201, headers=headers, prefs=prefs)
    return pgrst.respond(result, rows=written, shape=shape, status=201, headers=headers, prefs=prefs)


def _only_columns(table: Table, rows: list[dict[str, Any]], raw: str | None) -> list[dict[str, Any]]:
    """PostgREST's ``columns=`` (supabase-js sends it with an array): only these keys of each object are used."""
    if raw is None:
        return rows
    names = {name.strip().strip('"') for name in raw.split(",") if name.strip()}
    for name in names:
        if name not in table.columns:
            raise _missing_column(table, name)
    return [{key: value for key, value in row.items() if key in names} for row in rows]


def _check_conflict_target(table: Table, raw: str | None) -> None:
    if raw is None:
        return
    names = {name.strip() for name in raw.split(",") if name.strip()}
    if names != CONFLICT_KEYS.get(table.name):
        raise bad_request(
            "there is no unique or exclusion constraint matching the ON CONFLICT specification",
            code="42P10",
            hint=f"on_conflict must name {','.join(sorted(CONFLICT_KEYS.get(table.name, ())))}",
        )


def _missing_column(table: Table, name: str) -> ApiError:
    return bad_request(f"Could not find the '{name}' column of '{table.name}' in the schema cache", code="PGRST204")


def _check_keys(table: Table, row: dict[str, Any], writable: set[str]) -> None:
    for key in row:
        if key not in table.columns:
            raise _missing_column(table, key)
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


async def _insert_prescriptions(
    svc: Services, who: Caller, rows: list[dict[str, Any]], query: Query
) -> tuple[str, int]:
    """Renewal requests; an upsert is the same insert (``id`` is not writable, so no row can conflict). Who may
    insert which row is the kit's policy (a patient, for themselves, as 'requested')."""
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

    async def insert(conn: Conn) -> tuple[str, int]:
        bodies = []
        for params in values:
            cursor = await conn.execute(statement, params)
            row = await cursor.fetchone()
            if row is None:
                raise bad_request(f"doctor_id {params['doctor']} is not a doctor", code="23503")
            bodies.append(row["body"])
        return "[" + ",".join(bodies) + "]", len(bodies)

    return await svc.db.write(as_caller(who, insert))


async def _insert_probe_writes(
    svc: Services, who: Caller, rows: list[dict[str, Any]], query: Query, resolution: str | None
) -> tuple[str, int]:
    """Ledger rows (the service role only: the kit's grants); an upsert on (run_id, seq) keeps the first row
    (ignore-duplicates) or takes the new payload."""
    table = TABLES["probe_writes"]
    seqs, run_ids, payloads = [], [], []
    for row in rows:
        _check_keys(table, row, {"seq", "run_id", "payload"})
        seqs.append(_int_field(row, "seq", default=None, low=0, high=2**63 - 1))
        run_ids.append(_text_field(row, "run_id", max_length=200, required=True))
        payloads.append(_text_field(row, "payload", max_length=10_000))
    on_conflict = {
        None: sql.SQL(""),
        "ignore-duplicates": sql.SQL(" ON CONFLICT (run_id, seq) DO NOTHING"),
        "merge-duplicates": sql.SQL(" ON CONFLICT (run_id, seq) DO UPDATE SET payload = EXCLUDED.payload"),
    }[resolution]
    statement = sql.SQL(
        "WITH ins AS (INSERT INTO probe_writes (seq, run_id, payload)"
        " SELECT * FROM unnest(%s::bigint[], %s::text[], %s::text[]){on_conflict} RETURNING *)"
        " SELECT {rows} AS body, count(*) AS n FROM (SELECT {columns} FROM ins) _r"
    ).format(on_conflict=on_conflict, rows=_json_rows(False), columns=column_list(query.columns))

    async def insert(conn: Conn) -> tuple[str, int]:
        cursor = await conn.execute(statement, [seqs, run_ids, payloads])
        row = await cursor.fetchone()
        return (row["body"], int(row["n"])) if row else ("[]", 0)

    return await svc.db.write(as_caller(who, insert))


@router.patch("/{table}")
async def update_rows(request: Request) -> Response:
    table = request.path_params["table"]
    spec = _table(table)
    who = _data_caller(request)
    if spec.name != "prescriptions":
        raise forbidden(f"permission denied for table {spec.name}: rows cannot be changed through this API")
    pgrst.check_profile(request.headers, request.method)
    shape = pgrst.negotiate(request.headers)
    prefs = pgrst.preferences(request.headers)
    query = parse_query(spec, request.query_params.multi_items(), allow_filters_only=True)
    if not query.filters:
        raise bad_request("PATCH needs at least one filter", hint="e.g. ?id=eq.<prescription id>")
    changes = await json_object(request)
    if not changes:
        raise bad_request("the JSON body names no column to change")
    _check_keys(spec, changes, PATCHABLE)
    new_status = _text_field(changes, "status", max_length=20)
    notes = _text_field(changes, "notes", max_length=1000) if "notes" in changes else None
    body, changed = await services(request).db.write(
        as_caller(who, lambda conn: _apply_update(conn, query, new_status, "notes" in changes, notes, shape.single))
    )
    headers = {"content-range": pgrst.content_range(0, changed, changed if prefs.count else None)}
    if not prefs.representation:
        return pgrst.respond(None, rows=changed, shape=pgrst.Shape(), status=204, headers=headers, prefs=prefs)
    return pgrst.respond(body, rows=changed, shape=shape, status=200, headers=headers, prefs=prefs)


async def _apply_update(
    conn: Conn, query: Query, new_status: str | None, set_notes: bool, notes: str | None, single: bool
) -> tuple[str, int]:
    """Change the matching rows the policies let the caller change (the trigger checks each transition);
    ``single`` (``.single()``) fails, and so rolls back, unless exactly one row changed."""
    conditions, filter_params = where_clause(query.filters)
    update = sql.SQL(
        "WITH upd AS (UPDATE prescriptions SET status = coalesce(%s, status),"
        " notes = CASE WHEN %s THEN %s ELSE notes END WHERE {} RETURNING *)"
        " SELECT count(*) AS n, coalesce(json_agg(_r), '[]')::text AS body"
        " FROM (SELECT {columns} FROM upd ORDER BY created_at) _r"
    ).format(sql.SQL(" AND ").join(conditions), columns=column_list(query.columns))
    cursor = await conn.execute(update, [new_status, set_notes, notes, *filter_params])
    row = await cursor.fetchone()
    changed = int(row["n"]) if row else 0
    if single and changed != 1:
        raise pgrst.singular_error(changed)
    if changed == 0:
        raise not_found("no prescription you may change matches the filters")
    return (row["body"] if row else "[]"), changed


@router.delete("/{table}")
async def delete_rows(_: Request) -> Response:
    raise ApiError(405, "PGRST105", "rows cannot be deleted through this API")
