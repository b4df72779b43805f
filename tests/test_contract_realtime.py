"""Contract: the Realtime websocket (Phoenix channel frames) delivers prescription changes, own rows only."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import websockets

from tests.app_harness import ApiUser, login, request_renewal

FRAME_WAIT_S = 10.0


@pytest.fixture
def client(sandbox: Any) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.edge_url, timeout=10.0) as http:
        yield http


def _socket_url(sandbox: Any, api_key: str | None = None) -> str:
    base = sandbox.edge_url.replace("http://", "ws://", 1)
    return f"{base}/realtime/v1/websocket?apikey={api_key or sandbox.anon_key}&vsn=1.0.0"


def _join(topic: str, patient: ApiUser, filtered: bool = True) -> str:
    binding: dict[str, str] = {"event": "*", "schema": "public", "table": "prescriptions"}
    if filtered:
        binding["filter"] = f"patient_id=eq.{patient.id}"
    payload = {"config": {"postgres_changes": [binding]}, "access_token": patient.token}
    return json.dumps({"topic": topic, "event": "phx_join", "payload": payload, "ref": "1"})


async def _next_event(socket: Any, event: str) -> dict[str, Any]:
    async with asyncio.timeout(FRAME_WAIT_S):
        while True:
            frame = json.loads(await socket.recv())
            if frame["event"] == event:
                return frame


def test_join_is_acknowledged_with_the_binding(sandbox: Any, client: httpx.Client) -> None:
    patient = login(client, sandbox, "patient", 40)

    async def scenario() -> dict[str, Any]:
        async with websockets.connect(_socket_url(sandbox)) as socket:
            await socket.send(_join("realtime:contract-join", patient))
            return await _next_event(socket, "phx_reply")

    reply = asyncio.run(scenario())
    assert reply["ref"] == "1"
    assert reply["payload"]["status"] == "ok"
    assert reply["payload"]["response"]["postgres_changes"][0]["table"] == "prescriptions"


def test_heartbeat_is_answered(sandbox: Any) -> None:
    async def scenario() -> dict[str, Any]:
        async with websockets.connect(_socket_url(sandbox)) as socket:
            await socket.send(json.dumps({"topic": "phoenix", "event": "heartbeat", "payload": {}, "ref": "hb-7"}))
            return await _next_event(socket, "phx_reply")

    reply = asyncio.run(scenario())
    assert (reply["topic"], reply["ref"], reply["payload"]["status"]) == ("phoenix", "hb-7", "ok")


def test_status_change_arrives_as_postgres_changes_frame(sandbox: Any, client: httpx.Client) -> None:
    patient = login(client, sandbox, "patient", 41)
    doctor = login(client, sandbox, "doctor", 0)
    row = request_renewal(patient, doctor)

    async def scenario() -> tuple[dict[str, Any], datetime]:
        async with websockets.connect(_socket_url(sandbox)) as socket:
            await socket.send(_join("realtime:contract-change", patient))
            await _next_event(socket, "phx_reply")
            changed_at = datetime.now(UTC)
            response = await asyncio.to_thread(
                doctor.patch, "/rest/v1/prescriptions", {"status": "approved"}, id=f"eq.{row['id']}"
            )
            assert response.status_code == 200, response.text
            return await _next_event(socket, "postgres_changes"), changed_at

    frame, changed_at = asyncio.run(scenario())
    data = frame["payload"]["data"]
    assert (data["schema"], data["table"], data["eventType"]) == ("public", "prescriptions", "UPDATE")
    assert data["new"]["id"] == row["id"] and data["new"]["status"] == "approved"
    assert data["old"]["status"] == "requested"
    assert frame["payload"]["ids"]
    committed = datetime.fromisoformat(data["commit_timestamp"].replace("Z", "+00:00"))
    assert committed.tzinfo is not None
    assert abs((committed - changed_at).total_seconds()) < 30


def test_patient_receives_only_own_rows(sandbox: Any, client: httpx.Client) -> None:
    watcher = login(client, sandbox, "patient", 42)
    other = login(client, sandbox, "patient", 43)
    doctor = login(client, sandbox, "doctor", 1)
    others_row = request_renewal(other, doctor)
    own_row = request_renewal(watcher, doctor)

    async def scenario() -> dict[str, Any]:
        async with websockets.connect(_socket_url(sandbox)) as socket:
            await socket.send(_join("realtime:contract-rls", watcher, filtered=False))
            await _next_event(socket, "phx_reply")
            for target in (others_row, own_row):
                response = await asyncio.to_thread(
                    doctor.patch, "/rest/v1/prescriptions", {"status": "approved"}, id=f"eq.{target['id']}"
                )
                assert response.status_code == 200
            return await _next_event(socket, "postgres_changes")

    frame = asyncio.run(scenario())
    assert frame["payload"]["data"]["new"]["id"] == own_row["id"]


def test_join_with_tampered_token_is_refused(sandbox: Any, client: httpx.Client) -> None:
    patient = login(client, sandbox, "patient", 44)
    patient.session["access_token"] = patient.token[:-4] + ("AAAA" if not patient.token.endswith("AAAA") else "BBBB")

    async def scenario() -> dict[str, Any]:
        async with websockets.connect(_socket_url(sandbox)) as socket:
            await socket.send(_join("realtime:contract-bad", patient))
            return await _next_event(socket, "phx_reply")

    assert asyncio.run(scenario())["payload"]["status"] == "error"


def test_socket_without_valid_apikey_is_refused(sandbox: Any) -> None:
    async def scenario() -> None:
        async with websockets.connect(_socket_url(sandbox, api_key="wrong-key")):
            pass

    with pytest.raises(websockets.InvalidStatus) as refused:
        asyncio.run(scenario())
    assert refused.value.response.status_code == 401
