"""``GET /health`` and ``GET /_sandbox/stats``.

/health answers 200 whenever the process serves, so the edge's check tests the region; the database part is
information. It comes from one probe on its own connection, shared by concurrent callers and waited for at
most PROBE_WAIT_S: a hung database makes the answer ``reachable: false`` quickly instead of a slow check.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import psycopg
from starlette.requests import Request
from starlette.responses import JSONResponse

from sandbox.app.context import caller, services
from sandbox.app.db import SESSION_OPTIONS
from sandbox.app.errors import unauthorized
from sandbox.app.routing import Routes

router = Routes()

PROBE_WAIT_S = 0.3
RESULT_FRESH_S = 0.25
PROBE_DEADLINE_S = 2.5
_PROBE_SQL = (
    "SELECT pg_is_in_recovery() AS standby, inet_server_port() AS server_port, CASE WHEN pg_is_in_recovery()"
    " THEN pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::bigint"
    " ELSE (SELECT max(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn))::bigint FROM pg_stat_replication)"
    " END AS lag"
)
_UNREACHABLE: dict[str, Any] = {
    "reachable": False,
    "role": None,
    "host": None,
    "port": None,
    "replication_lag_bytes": None,
}


class HealthProbe:
    def __init__(self, conninfo: str) -> None:
        self._conninfo = conninfo
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._inflight: asyncio.Task[dict[str, Any]] | None = None
        self._last: tuple[float, dict[str, Any]] | None = None

    async def database_state(self) -> dict[str, Any]:
        if self._last is not None and time.monotonic() - self._last[0] < RESULT_FRESH_S:
            return self._last[1]
        if self._inflight is None or self._inflight.done():
            self._inflight = asyncio.create_task(self._probe())
        done, _ = await asyncio.wait({self._inflight}, timeout=PROBE_WAIT_S)
        return self._inflight.result() if done else dict(_UNREACHABLE)

    async def _probe(self) -> dict[str, Any]:
        try:
            async with asyncio.timeout(PROBE_DEADLINE_S):
                if self._conn is None or self._conn.closed:
                    self._conn = await psycopg.AsyncConnection.connect(
                        self._conninfo, autocommit=True, options=SESSION_OPTIONS
                    )
                cursor = await self._conn.execute(_PROBE_SQL)
                standby, server_port, lag = await cursor.fetchone() or (None, None, None)
            state = {
                "reachable": True,
                "role": "standby" if standby else "primary",
                "host": self._conn.info.host,
                "port": self._conn.info.port,
                "server_port": server_port,
                "replication_lag_bytes": int(lag) if lag is not None else None,
            }
        except (psycopg.Error, TimeoutError):
            await self.close()
            state = dict(_UNREACHABLE)
        self._last = (time.monotonic(), state)
        return state

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()


@router.get("/health")
async def health(request: Request) -> JSONResponse:
    svc = services(request)
    return JSONResponse(
        {
            "status": "ok",
            "region": svc.settings.region,
            "version": svc.settings.version,
            "database": await svc.health.database_state(),
        }
    )


@router.get("/_sandbox/stats")
async def stats(request: Request) -> JSONResponse:
    if caller(request).kind != "service":
        raise unauthorized("the stats need the service key", code="no_service_key")
    svc = services(request)
    return JSONResponse({"region": svc.settings.region, **svc.stats.snapshot()})
