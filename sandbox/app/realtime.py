"""Realtime: Phoenix-channel websocket delivering ``postgres_changes`` for prescriptions.

One LISTEN connection per process (reconnecting, so it follows a failover) receives the trigger's
notifications and fans them out to the subscribed channels whose filter matches and whose caller may see
the row before or after the change (the REST rules; so a pharmacist also hears a prescription leave the
queue). Changes committed while the listener is reconnecting are not replayed, as with a real Realtime server.

Both Phoenix serializers are spoken, chosen by the socket's ``vsn`` query parameter as Phoenix does: ``1.0.0``
(JSON objects ``{topic, event, payload, ref}``; supabase-py) and ``2.0.0`` (JSON arrays ``[join_ref, ref, topic,
event, payload]``; supabase-js's default). A change's ``data`` carries Realtime's wire fields (``type``, ``record``,
``old_record``, ``columns`` with PostgreSQL type names, ``commit_timestamp``, ``errors``), from which both clients
build what they hand to callbacks, plus the older ``eventType``/``new``/``old`` spellings the sandbox sent first.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import operator
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg
from starlette.responses import JSONResponse
from starlette.websockets import WebSocket, WebSocketDisconnect

from sandbox.app.body import JsonRefused, parse_json
from sandbox.app.context import caller, services
from sandbox.app.errors import ApiError
from sandbox.app.identity import Caller, caller_from_token
from sandbox.app.policies import row_visible
from sandbox.app.rest_query import Filter, parse_filter
from sandbox.app.routing import Routes
from sandbox.app.settings import Settings
from sandbox.app.tables import TABLES

router = Routes()
_log = logging.getLogger("sandbox.app.realtime")

CHANNEL = "rx_changes"
QUEUE_LIMIT = 1000
IDLE_CHECK_S = 5.0
SERIALIZERS = ("1.0.0", "2.0.0")
_EVENTS = ("*", "INSERT", "UPDATE", "DELETE")
_binding_ids = itertools.count(10_000_001)
# The filters Supabase Realtime accepts on postgres_changes (besides in), compared on the column's typed value.
_FILTER_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq, "neq": operator.ne, "lt": operator.lt, "lte": operator.le, "gt": operator.gt, "gte": operator.ge,
}
# PostgreSQL's names for the column types (Realtime's ``columns``; supabase-js converts values by them).
_PG_TYPES = {"uuid": "uuid", "integer": "int4", "timestamptz": "timestamptz"}


@dataclass(frozen=True)
class Binding:
    id: int
    event: str
    table: str
    filter: Filter | None
    raw_filter: str | None

    def matches(self, change_type: str, row: dict[str, Any]) -> bool:
        if self.event not in ("*", change_type):
            return False
        if self.filter is None:
            return True
        raw = row.get(self.filter.column)
        if raw is None:
            return False
        try:
            value = TABLES[self.table].columns[self.filter.column].parse(str(raw))
        except ValueError:
            return False
        if self.filter.operator == "in":
            return bool(value in self.filter.value)
        return bool(_FILTER_OPERATORS[self.filter.operator](value, self.filter.value))


@dataclass
class Channel:
    topic: str
    caller: Caller
    bindings: list[Binding]
    join_ref: Any = None


def encode(vsn: str, frame: dict[str, Any]) -> str:
    """One outgoing frame in the socket's serializer (1.0.0 has no ``join_ref``, as Phoenix's V1 serializer)."""
    if vsn == "2.0.0":
        message: Any = [frame.get("join_ref"), frame["ref"], frame["topic"], frame["event"], frame["payload"]]
    else:
        message = {key: frame[key] for key in ("topic", "event", "payload", "ref")}
    return json.dumps(message, separators=(",", ":"))


def decode(vsn: str, text: str) -> dict[str, Any]:
    """One incoming frame as a dict with ``join_ref``; ValueError names what is wrong with it."""
    try:
        message = parse_json(text)
    except JsonRefused as exc:
        raise ValueError(f"frame refused: {exc}") from None
    if vsn == "2.0.0":
        if not isinstance(message, list) or len(message) != 5:
            raise ValueError("frame must be a JSON array [join_ref, ref, topic, event, payload] (vsn 2.0.0)")
        join_ref, ref, topic, event, payload = message
        return {"join_ref": join_ref, "ref": ref, "topic": topic, "event": event, "payload": payload}
    if not isinstance(message, dict):
        raise ValueError("frame must be a JSON object")
    return {**message, "join_ref": message.get("join_ref")}


@dataclass(eq=False)
class Client:
    vsn: str = "1.0.0"
    queue: asyncio.Queue[str] = field(default_factory=lambda: asyncio.Queue(QUEUE_LIMIT))
    channels: dict[str, Channel] = field(default_factory=dict)
    overflowed: bool = False

    def push(self, frame: dict[str, Any]) -> None:
        try:
            self.queue.put_nowait(encode(self.vsn, frame))
        except asyncio.QueueFull:
            self.overflowed = True

    async def flushed(self, timeout_s: float = 2.0) -> None:
        """Wait (bounded) until the writer has sent every queued frame."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.queue.join(), timeout_s)


class RealtimeHub:
    def __init__(self, conninfo: str) -> None:
        self._conninfo = conninfo
        self._clients: set[Client] = set()
        self._task: asyncio.Task[None] | None = None
        self.listening = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._listen_forever())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def add(self, client: Client) -> None:
        self._clients.add(client)

    def remove(self, client: Client) -> None:
        self._clients.discard(client)

    async def _listen_forever(self) -> None:
        delay = 0.2
        while True:
            try:
                await self._listen()
            except (psycopg.Error, OSError, TimeoutError) as exc:
                if self.listening:
                    _log.warning("realtime listener lost its connection (%s); reconnecting", type(exc).__name__)
            self.listening = False
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)

    async def _listen(self) -> None:
        async with asyncio.timeout(5.0):
            conn = await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True)
        async with conn:
            await conn.execute(f"LISTEN {CHANNEL}")
            self.listening = True
            _log.info("realtime listener connected to %s:%s", conn.info.host, conn.info.port)
            while True:
                async for notify in conn.notifies(timeout=IDLE_CHECK_S):
                    self.dispatch(notify.payload)
                async with asyncio.timeout(3.0):
                    await conn.execute("SELECT 1")

    def dispatch(self, payload: str) -> None:
        try:
            change = json.loads(payload)
            change_type, table = change["type"], change["table"]
        except (ValueError, KeyError, TypeError):
            _log.warning("ignoring malformed change notification")
            return
        new, old = change.get("new") or {}, change.get("old") or {}
        row = new or old
        now = time.time()
        data = {
            "schema": change.get("schema", "public"),
            "table": table,
            "commit_timestamp": change.get("commit_timestamp"),
            "type": change_type,
            "columns": [{"name": name, "type": _PG_TYPES.get(kind.name, "text")} for name, kind in
                        TABLES[table].columns.items()] if table in TABLES else [],
            "errors": None,
            "eventType": change_type,
            "new": new,
            "old": old,
        }
        if change_type in ("INSERT", "UPDATE"):
            data["record"] = new
        if change_type in ("UPDATE", "DELETE"):
            data["old_record"] = old
        for client in list(self._clients):
            for channel in list(client.channels.values()):
                if channel.caller.expires_at is not None and channel.caller.expires_at < now:
                    client.channels.pop(channel.topic, None)
                    client.push(_system(channel, "error", "access token has expired; rejoin with a new one"))
                    continue
                if not (row_visible(channel.caller, new) or (old and row_visible(channel.caller, old))):
                    continue
                ids = [b.id for b in channel.bindings if b.table == table and b.matches(change_type, row)]
                if ids:
                    frame = {
                        "join_ref": channel.join_ref,
                        "topic": channel.topic,
                        "event": "postgres_changes",
                        "payload": {"data": data, "ids": ids},
                        "ref": None,
                    }
                    client.push(frame)


def _reply(topic: str, ref: Any, status: str, response: dict[str, Any], join_ref: Any = None) -> dict[str, Any]:
    payload = {"status": status, "response": response}
    return {"join_ref": join_ref, "topic": topic, "event": "phx_reply", "payload": payload, "ref": ref}


def _system(channel: Channel, status: str, message: str) -> dict[str, Any]:
    """Realtime's ``system`` message; its ``channel`` is the topic without the ``realtime:`` prefix."""
    name = channel.topic.removeprefix("realtime:")
    return {
        "join_ref": channel.join_ref,
        "topic": channel.topic,
        "event": "system",
        "payload": {"status": status, "message": message, "extension": "postgres_changes", "channel": name},
        "ref": None,
    }


def parse_bindings(config: Any) -> list[Binding]:
    if not isinstance(config, dict):
        raise ValueError("payload.config must be an object")
    bindings = []
    for item in config.get("postgres_changes") or []:
        if not isinstance(item, dict):
            raise ValueError("each postgres_changes entry must be an object")
        event, schema, table = item.get("event", "*"), item.get("schema", "public"), item.get("table")
        if event not in _EVENTS:
            raise ValueError(f"event must be one of {', '.join(_EVENTS)}")
        if schema != "public" or table != "prescriptions":
            raise ValueError("only schema 'public', table 'prescriptions' has change notifications")
        raw_filter = item.get("filter")
        parsed = None
        if raw_filter:
            column, _, expression = str(raw_filter).partition("=")
            try:
                parsed = parse_filter(TABLES[table], column, expression)
            except ApiError as exc:
                raise ValueError(exc.message) from None
            if parsed.operator not in (*_FILTER_OPERATORS, "in") or parsed.negated:
                raise ValueError("realtime filters support eq, neq, lt, lte, gt, gte and in")
        bindings.append(Binding(next(_binding_ids), event, table, parsed, raw_filter))
    return bindings


def _handle(client: Client, message: dict[str, Any], socket_caller: Caller, jwt_settings: Settings) -> None:
    topic, event, ref = message.get("topic"), message.get("event"), message.get("ref")
    join_ref = message.get("join_ref")
    payload = message["payload"] if isinstance(message.get("payload"), dict) else {}
    if topic == "phoenix" and event == "heartbeat":
        client.push(_reply("phoenix", ref, "ok", {}))
        return
    if not isinstance(topic, str) or not topic.startswith("realtime:"):
        client.push(_reply(str(topic), ref, "error", {"reason": "topic must start with 'realtime:'"}, join_ref))
        return
    if event == "phx_join":
        token = payload.get("access_token")
        who = caller_from_token(jwt_settings, token, api_key_ok=True) if isinstance(token, str) else socket_caller
        if who.error:
            client.push(_reply(topic, ref, "error", {"reason": who.error}, join_ref))
            return
        try:
            bindings = parse_bindings(payload.get("config", {}))
        except ValueError as exc:
            client.push(_reply(topic, ref, "error", {"reason": str(exc)}, join_ref))
            return
        channel = Channel(topic, who, bindings, join_ref)
        client.channels[topic] = channel
        described = [
            {"id": b.id, "event": b.event, "schema": "public", "table": b.table}
            | ({"filter": b.raw_filter} if b.raw_filter else {})
            for b in bindings
        ]
        client.push(_reply(topic, ref, "ok", {"postgres_changes": described}, join_ref))
        if bindings:
            client.push(_system(channel, "ok", "Subscribed to PostgreSQL"))
    elif event == "access_token":
        joined = client.channels.get(topic)
        token = payload.get("access_token")
        if joined is not None and isinstance(token, str):
            who = caller_from_token(jwt_settings, token, api_key_ok=True)
            if who.error:
                client.push(_system(joined, "error", who.error))
            else:
                joined.caller = who
    elif event == "phx_leave":
        client.channels.pop(topic, None)
        client.push(_reply(topic, ref, "ok", {}, join_ref))
        client.push({"join_ref": join_ref, "topic": topic, "event": "phx_close", "payload": {}, "ref": ref})
    else:
        client.push(_reply(topic, ref, "error", {"reason": f"unknown event {event!r}"}, join_ref))


@router.websocket("/realtime/v1/websocket")
async def realtime_socket(websocket: WebSocket) -> None:
    who = caller(websocket)
    if not who.api_key_ok:
        body = {"code": "no_api_key", "message": "missing or invalid apikey query parameter", "details": None,
                "hint": "connect to /realtime/v1/websocket?apikey=<anon key>&vsn=1.0.0"}
        try:
            await websocket.send_denial_response(JSONResponse(body, status_code=401))
        except RuntimeError:
            await websocket.close(code=1008)
        return
    vsn = websocket.query_params.get("vsn", "1.0.0")
    if vsn not in SERIALIZERS:
        body = {"code": "unsupported_vsn", "message": f"unsupported serializer vsn={vsn}", "details": None,
                "hint": f"use one of {', '.join(SERIALIZERS)}"}
        try:
            await websocket.send_denial_response(JSONResponse(body, status_code=400))
        except RuntimeError:
            await websocket.close(code=1008)
        return
    svc = services(websocket)
    await websocket.accept()
    client = Client(vsn)
    svc.realtime.add(client)
    writer = asyncio.create_task(_write(websocket, client))
    try:
        while not await _receive(websocket, client, who, svc.settings):
            pass
    except WebSocketDisconnect:
        pass
    finally:
        svc.realtime.remove(client)
        writer.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await writer


async def _receive(websocket: WebSocket, client: Client, who: Caller, settings: Settings) -> bool:
    """Handle one incoming frame; True once the socket is closed. A bad frame gets an error reply, never a crash:
    text that is not a JSON object stays answerable, a binary frame (not part of the protocol) ends the socket
    with close code 1003 after the reply."""
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        return True
    text = message.get("text")
    if text is None:
        client.push(_reply("phoenix", None, "error", {"reason": "binary frames are not supported; send JSON text"}))
        await client.flushed()
        await websocket.close(code=1003, reason="binary frames are not supported")
        return True
    try:
        frame = decode(client.vsn, text)
    except ValueError as exc:
        client.push(_reply("phoenix", None, "error", {"reason": str(exc)}))
        return False
    try:
        _handle(client, frame, who, settings)
    except Exception:
        _log.exception("realtime frame handling failed")
        client.push(_reply("phoenix", frame.get("ref"), "error", {"reason": "internal error handling the frame"}))
    return False


async def _write(websocket: WebSocket, client: Client) -> None:
    while True:
        frame = await client.queue.get()
        if client.overflowed:
            await websocket.close(code=1011, reason="client too slow: change queue overflowed")
            return
        await websocket.send_text(frame)
        client.queue.task_done()
