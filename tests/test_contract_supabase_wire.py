"""Contract: what Supabase's clients see on the wire, byte for byte where they parse it: PostgREST's
``Content-Range``/status for counts and ranges, schema profiles, GoTrue's versioned error bodies, and Realtime's
Phoenix frames over the ``vsn=2.0.0`` array serializer (the one supabase-js uses)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest
import websockets

from tests.app_harness import api_headers, login, users_by_role

FRAME_WAIT_S = 10.0


@pytest.fixture
def client(sandbox: Any) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.edge_url, timeout=10.0) as http:
        yield http


def _medications(client: httpx.Client, sandbox: Any, **extra: str) -> httpx.Response:
    return client.get("/rest/v1/medications", params={"select": "id"},
                      headers=api_headers(sandbox.anon_key, Prefer="count=exact", **extra))


def test_count_without_rows_is_star_slash_zero(client: httpx.Client, sandbox: Any) -> None:
    response = client.get("/rest/v1/medications", params={"select": "id", "name": "eq.no-such-medication"},
                          headers=api_headers(sandbox.anon_key, Prefer="count=exact"))
    assert (response.status_code, response.headers["content-range"], response.json()) == (200, "*/0", [])


def test_range_header_gives_206_with_the_total(client: httpx.Client, sandbox: Any) -> None:
    total = len(client.get("/rest/v1/medications", params={"select": "id"}, headers=api_headers(sandbox.anon_key))
                .json())
    response = _medications(client, sandbox, Range="0-1")
    assert (response.status_code, response.headers["content-range"]) == (206, f"0-1/{total}")
    assert len(response.json()) == 2


def test_head_carries_the_count_and_no_body(client: httpx.Client, sandbox: Any) -> None:
    total = len(client.get("/rest/v1/medications", params={"select": "id"}, headers=api_headers(sandbox.anon_key))
                .json())
    response = client.head("/rest/v1/medications", params={"select": "id"},
                           headers=api_headers(sandbox.anon_key, Prefer="count=exact"))
    assert (response.status_code, response.headers["content-range"], response.content) == (
        200, f"0-{total - 1}/{total}", b""
    )


def test_offset_past_the_end_is_416(client: httpx.Client, sandbox: Any) -> None:
    response = client.get("/rest/v1/medications", params={"select": "id", "offset": "100000"},
                          headers=api_headers(sandbox.anon_key, Prefer="count=exact"))
    assert response.status_code == 416
    assert response.json()["code"] == "PGRST103"


def test_single_object_media_type_and_its_406(client: httpx.Client, sandbox: Any) -> None:
    one = client.get("/rest/v1/medications", params={"select": "id", "limit": "1"},
                     headers=api_headers(sandbox.anon_key, Accept="application/vnd.pgrst.object+json"))
    assert one.headers["content-type"].startswith("application/vnd.pgrst.object+json")
    assert set(one.json()) == {"id"}
    many = client.get("/rest/v1/medications", params={"select": "id", "limit": "2"},
                      headers=api_headers(sandbox.anon_key, Accept="application/vnd.pgrst.object+json"))
    assert (many.status_code, many.json()) == (406, {
        "code": "PGRST116", "message": "JSON object requested, multiple (or no) rows returned",
        "details": "The result contains 2 rows", "hint": None,
    })


def test_unknown_schema_profile_is_pgrst106(client: httpx.Client, sandbox: Any) -> None:
    response = client.get("/rest/v1/medications", headers=api_headers(sandbox.anon_key, **{"Accept-Profile": "auth"}))
    assert (response.status_code, response.json()["code"]) == (406, "PGRST106")
    public = client.get("/rest/v1/medications", headers=api_headers(sandbox.anon_key, **{"Accept-Profile": "public"}))
    assert public.status_code == 200


def test_unknown_table_and_column_errors_are_postgrests(client: httpx.Client, sandbox: Any) -> None:
    table = client.get("/rest/v1/users", headers=api_headers(sandbox.anon_key))
    assert (table.status_code, table.json()["code"], table.json()["message"]) == (
        404, "PGRST205", "Could not find the table 'public.users' in the schema cache"
    )
    column = client.get("/rest/v1/medications", params={"select": "nope"}, headers=api_headers(sandbox.anon_key))
    assert (column.status_code, column.json()["code"], column.json()["message"]) == (
        400, "42703", "column medications.nope does not exist"
    )


def test_rest_token_errors_are_postgrests(client: httpx.Client, sandbox: Any) -> None:
    user = users_by_role(sandbox.credentials, "patient")[68]
    now = int(time.time())
    claims = {"sub": user["user_id"], "email": user["email"], "role": "authenticated", "aud": "authenticated",
              "app_metadata": {"rx_role": "patient"}, "iat": now - 7200}
    expired = jwt.encode({**claims, "exp": now - 3600}, sandbox.jwt_secret, algorithm="HS256")
    forged = jwt.encode({**claims, "exp": now + 3600}, "not-the-secret-" + "x" * 32, algorithm="HS256")
    answers = [client.get("/rest/v1/prescriptions", headers=api_headers(sandbox.anon_key, token))
               for token in (expired, forged)]
    assert [(a.status_code, a.json()["code"]) for a in answers] == [(401, "PGRST303"), (401, "PGRST301")]
    assert answers[0].json()["message"] == "JWT expired"


def test_gotrue_error_body_follows_the_api_version_header(client: httpx.Client, sandbox: Any) -> None:
    user = users_by_role(sandbox.credentials, "patient")[65]
    body = {"email": user["email"], "password": "not-the-password"}
    legacy = client.post("/auth/v1/token", params={"grant_type": "password"}, json=body,
                         headers=api_headers(sandbox.anon_key))
    assert legacy.json() == {"code": 400, "error_code": "invalid_credentials", "msg": "Invalid login credentials"}
    versioned = client.post("/auth/v1/token", params={"grant_type": "password"}, json=body,
                            headers=api_headers(sandbox.anon_key, **{"X-Supabase-Api-Version": "2024-01-01"}))
    assert versioned.json() == {"code": "invalid_credentials", "message": "Invalid login credentials"}
    assert versioned.headers["x-supabase-api-version"] == "2024-01-01"


def _socket_url(sandbox: Any, vsn: str) -> str:
    base = sandbox.edge_url.replace("http://", "ws://", 1)
    return f"{base}/realtime/v1/websocket?apikey={sandbox.anon_key}&vsn={vsn}"


async def _next(socket: Any, event: str) -> list[Any]:
    async with asyncio.timeout(FRAME_WAIT_S):
        while True:
            frame = json.loads(await socket.recv())
            if frame[3] == event:
                return list(frame)


def test_vsn2_join_heartbeat_and_change_are_arrays(client: httpx.Client, sandbox: Any) -> None:
    doctor = login(client, sandbox, "doctor", 9)
    patient = login(client, sandbox, "patient", 66)
    medication_id = patient.get("/rest/v1/medications", select="id", limit=1).json()[0]["id"]
    topic = "realtime:compat-wire"
    config = {"postgres_changes": [{"event": "INSERT", "schema": "public", "table": "prescriptions",
                                    "filter": f"doctor_id=eq.{doctor.id}"}]}

    async def scenario() -> tuple[list[Any], list[Any], list[Any], list[Any]]:
        async with websockets.connect(_socket_url(sandbox, "2.0.0")) as socket:
            await socket.send(json.dumps([None, "hb", "phoenix", "heartbeat", {}]))
            heartbeat = await _next(socket, "phx_reply")
            await socket.send(json.dumps(["7", "8", topic, "phx_join", {"config": config,
                                                                         "access_token": doctor.token}]))
            joined = await _next(socket, "phx_reply")
            system = await _next(socket, "system")
            created = await asyncio.to_thread(patient.post, "/rest/v1/prescriptions",
                                              {"medication_id": medication_id, "doctor_id": doctor.id})
            assert created.status_code == 201, created.text
            change = await _next(socket, "postgres_changes")
            return heartbeat, joined, system, change

    heartbeat, joined, system, change = asyncio.run(scenario())
    assert heartbeat == [None, "hb", "phoenix", "phx_reply", {"status": "ok", "response": {}}]
    assert joined[:4] == ["7", "8", topic, "phx_reply"] and joined[4]["status"] == "ok"
    binding_id = joined[4]["response"]["postgres_changes"][0]["id"]
    assert system[4] == {"status": "ok", "message": "Subscribed to PostgreSQL", "extension": "postgres_changes",
                         "channel": "compat-wire"}
    assert change[:4] == ["7", None, topic, "postgres_changes"]
    data = change[4]["data"]
    assert change[4]["ids"] == [binding_id]
    record = data["record"]
    assert (data["type"], record["doctor_id"], record["patient_id"]) == ("INSERT", doctor.id, patient.id)
    assert {"name": "quantity", "type": "int4"} in data["columns"]


def test_unknown_serializer_version_is_refused(sandbox: Any) -> None:
    async def scenario() -> int:
        try:
            async with websockets.connect(_socket_url(sandbox, "3.0.0")):
                return 101
        except websockets.InvalidStatus as refused:
            return refused.response.status_code

    assert asyncio.run(scenario()) == 400


def test_access_token_message_upgrades_an_anonymous_join(client: httpx.Client, sandbox: Any) -> None:
    """supabase-js joins with whatever token it has and sends ``access_token`` once signed in (setAuth)."""
    doctor = login(client, sandbox, "doctor", 10)
    patient = login(client, sandbox, "patient", 67)
    medication_id = patient.get("/rest/v1/medications", select="id", limit=1).json()[0]["id"]
    topic = "realtime:compat-upgrade"
    config = {"postgres_changes": [{"event": "INSERT", "schema": "public", "table": "prescriptions"}]}

    async def scenario() -> list[Any]:
        async with websockets.connect(_socket_url(sandbox, "2.0.0")) as socket:
            await socket.send(json.dumps(["1", "1", topic, "phx_join", {"config": config}]))
            await _next(socket, "phx_reply")
            await socket.send(json.dumps(["1", "2", topic, "access_token", {"access_token": doctor.token}]))
            await socket.send(json.dumps([None, "3", "phoenix", "heartbeat", {}]))
            await _next(socket, "phx_reply")  # frames are handled in order: the token is in place
            created = await asyncio.to_thread(patient.post, "/rest/v1/prescriptions",
                                              {"medication_id": medication_id, "doctor_id": doctor.id})
            assert created.status_code == 201, created.text
            while True:
                change = await _next(socket, "postgres_changes")
                if change[4]["data"]["record"]["id"] == created.json()[0]["id"]:
                    return change

    change = asyncio.run(scenario())
    assert change[4]["data"]["record"]["doctor_id"] == doctor.id


def test_browser_preflight_and_answers_carry_cors(client: httpx.Client, sandbox: Any) -> None:
    """supabase-js in a browser on the platform's own origin: the preflight passes, Content-Range is readable."""
    preflight = client.options("/rest/v1/medications", headers={
        "Origin": "https://app.example.test", "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "apikey, authorization, x-client-info, prefer, range, accept-profile"})
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "*"
    allowed = {h.strip() for h in preflight.headers["access-control-allow-headers"].split(",")}
    assert {"apikey", "authorization", "x-client-info", "prefer", "range", "accept-profile"} <= allowed
    answer = _medications(client, sandbox, Origin="https://app.example.test")
    assert answer.headers["access-control-allow-origin"] == "*"
    assert "content-range" in answer.headers["access-control-expose-headers"]
    page = client.get("/sign-in", headers={"Origin": "https://app.example.test"})
    assert "access-control-allow-origin" not in page.headers
