"""Database access: the request-time async pool with bounded waits, and statements run as the request's caller.

Every request-time operation runs under a deadline, so a hung or vanished database turns into a quick 503
instead of a stuck request. A connection idle for a while (or any, after a connection error) is pinged when
borrowed, and a dead one is dropped and the next tried at once, so after a failover the pool refills through
the multi-host DSN (``target_session_attrs=read-write``), which leads new connections to the promoted node.

``as_caller`` runs an operation the way PostgREST runs a request: in one transaction whose role (``anon``,
``authenticated``, ``service_role``) and ``request.jwt.claims`` are set locally, so PostgreSQL's row-level
security (the policies of supabase/migrations) decides what the caller reads and writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from sandbox.app.errors import ApiError, bad_request, conflict, database_unavailable, forbidden
from sandbox.app.identity import AUDIENCE, Caller

T = TypeVar("T")
Conn = psycopg.AsyncConnection[Any]

_log = logging.getLogger("sandbox.app.db")

POOL_SIZE = 10
BORROW_TIMEOUT_S = 2.0
STATEMENT_TIMEOUT_MS = 3000
OPERATION_DEADLINE_S = 4.0
PING_AFTER_IDLE_S = 1.0
SESSION_OPTIONS = f"-c statement_timeout={STATEMENT_TIMEOUT_MS} -c TimeZone=UTC"


# PostgREST's own statement: both settings local to the transaction, in one round trip.
_SET_REQUEST = "SELECT set_config('role', %s, true), set_config('request.jwt.claims', %s, true)"


def request_role(caller: Caller) -> tuple[str, str]:
    """The database role and JWT claims (JSON) PostgREST would use for this caller."""
    if caller.kind == "service":
        return "service_role", '{"role":"service_role"}'
    if caller.kind != "user":
        return "anon", '{"role":"anon"}'
    claims = {
        "aud": AUDIENCE,
        "sub": str(caller.user_id),
        "role": "authenticated",
        "email": caller.email,
        "exp": caller.expires_at,
        "app_metadata": {"provider": "email", "rx_role": caller.rx_role},
    }
    return "authenticated", json.dumps(claims, separators=(",", ":"))


def as_caller(caller: Caller, operation: Callable[[Conn], Awaitable[T]]) -> Callable[[Conn], Awaitable[T]]:
    """``operation`` inside one transaction under the caller's role and claims: BEGIN and the settings go as one
    simple query, then the operation's statements (extended protocol, so psycopg prepares the frequent ones:
    planning a query under row-level security costs more than a round trip), then COMMIT. Measured on the
    throughput mix, this beat psycopg's pipeline mode and a transaction with the settings sent separately."""
    role, claims = request_role(caller)
    begin = sql.SQL("BEGIN; " + _SET_REQUEST.replace("%s", "{}")).format(sql.Literal(role), sql.Literal(claims))

    async def run(conn: Conn) -> T:
        await conn.execute(begin)  # one simple query: the transaction and its settings in one round trip
        try:
            result = await operation(conn)
        except BaseException:
            with contextlib.suppress(psycopg.Error):
                await conn.execute("ROLLBACK")
            raise
        await conn.execute("COMMIT")
        return result

    return run


class Database:
    """The app's async pool plus the deadline and error mapping every request goes through."""

    def __init__(self, conninfo: str, *, pool_size: int = POOL_SIZE) -> None:
        self.conninfo = conninfo
        self.pool = AsyncConnectionPool(
            conninfo,
            min_size=min(4, pool_size),
            max_size=pool_size,
            timeout=BORROW_TIMEOUT_S,
            kwargs={"autocommit": True, "options": SESSION_OPTIONS, "row_factory": dict_row},
            reconnect_timeout=1.0,
            open=False,
            name="rx",
        )
        self._sweep: asyncio.Future[None] | None = None
        self._last_ok: weakref.WeakKeyDictionary[Conn, float] = weakref.WeakKeyDictionary()

    async def open(self) -> None:
        await self.pool.open(wait=False)

    async def close(self) -> None:
        await self.pool.close(timeout=2.0)

    async def read(self, operation: Callable[[Conn], Awaitable[T]]) -> T:
        """Run an idempotent operation; a dropped connection (e.g. after a failover) is retried once."""
        try:
            return await self._bounded(operation)
        except psycopg.errors.QueryCanceled as exc:
            raise map_db_error(exc) from exc
        except psycopg.OperationalError as exc:
            _log.info("read failed (%s); retrying once on a fresh connection", type(exc).__name__)
            self._sweep_pool()
        except psycopg.Error as exc:
            raise map_db_error(exc) from exc
        try:
            return await self._bounded(operation)
        except psycopg.Error as exc:
            raise map_db_error(exc) from exc

    async def write(self, operation: Callable[[Conn], Awaitable[T]]) -> T:
        """Run a write exactly once: an unknown outcome is reported (503), never retried blindly."""
        try:
            return await self._bounded(operation)
        except psycopg.Error as exc:
            if isinstance(exc, psycopg.OperationalError):
                self._sweep_pool()
            raise map_db_error(exc) from exc

    def _sweep_pool(self) -> None:
        """After one dead connection, test the idle others in the background so requests skip them."""
        self._last_ok.clear()
        if self._sweep is None or self._sweep.done():
            self._sweep = asyncio.ensure_future(self.pool.check())
            self._sweep.add_done_callback(_consume_outcome)

    async def _bounded(self, operation: Callable[[Conn], Awaitable[T]]) -> T:
        task = asyncio.ensure_future(self._borrow_and_run(operation))
        try:
            done, _ = await asyncio.wait({task}, timeout=OPERATION_DEADLINE_S)
        except asyncio.CancelledError:
            task.cancel()
            raise
        if not done:
            # Abandon rather than await the cancellation: psycopg may need seconds to give up on a dead socket.
            task.cancel()
            task.add_done_callback(_consume_outcome)
            raise database_unavailable(f"no answer within {OPERATION_DEADLINE_S:g} s")
        return task.result()

    async def _borrow_and_run(self, operation: Callable[[Conn], Awaitable[T]]) -> T:
        deadline = time.monotonic() + BORROW_TIMEOUT_S
        for _ in range(POOL_SIZE + 1):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                async with self.pool.connection(timeout=remaining) as conn:
                    if not await self._alive(conn):
                        continue  # leaving the block hands the dead connection back, and the pool discards it
                    result = await operation(conn)
                    self._last_ok[conn] = time.monotonic()
                    return result
            except PoolTimeout:
                break
        raise database_unavailable(f"no database connection within {BORROW_TIMEOUT_S:g} s")

    async def _alive(self, conn: Conn) -> bool:
        """Ping a connection that has not proved itself recently (an empty query: one round trip)."""
        last_ok = self._last_ok.get(conn)
        if last_ok is not None and time.monotonic() - last_ok < PING_AFTER_IDLE_S:
            return True
        try:
            await conn.execute("")
        except psycopg.Error:
            self._sweep_pool()
            return False
        return True


def _consume_outcome(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()


def map_db_error(exc: psycopg.Error) -> ApiError:
    """Translate a database error into the API's error: bad input is 400/409, lost database is 503."""
    if isinstance(exc, psycopg.errors.InsufficientPrivilege):
        # PostgREST's answer to a denied privilege or a row the policies refuse (a signed-in caller: 403).
        return forbidden(exc.diag.message_primary or "permission denied")
    if exc.sqlstate and exc.sqlstate.startswith("PT") and exc.sqlstate[2:].isdigit():
        # A RAISE with SQLSTATE 'PTxyz' is PostgREST's way for SQL to choose the HTTP status xyz.
        return ApiError(int(exc.sqlstate[2:]), exc.sqlstate, exc.diag.message_primary or "refused",
                        details=exc.diag.message_detail, hint=exc.diag.message_hint)
    if isinstance(exc, psycopg.errors.UniqueViolation):
        return conflict(
            "duplicate key: a row with this key already exists", code="23505", details=exc.diag.message_detail
        )
    if isinstance(exc, psycopg.errors.ForeignKeyViolation):
        return conflict("a referenced row does not exist", code="23503", details=exc.diag.message_detail)
    if isinstance(exc, psycopg.errors.QueryCanceled):
        return database_unavailable("statement timeout")
    if isinstance(exc, psycopg.errors.SerializationFailure | psycopg.errors.DeadlockDetected):
        return database_unavailable("transaction conflict; retry")
    if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
        return database_unavailable(type(exc).__name__)
    if isinstance(exc, psycopg.DataError | psycopg.errors.CheckViolation | psycopg.errors.NotNullViolation):
        return bad_request(f"invalid value: {exc.diag.message_primary}", code=exc.sqlstate or "22000")
    _log.error("unexpected database error: %s", exc)
    return ApiError(500, exc.sqlstate or "XX000", "unexpected database error")
