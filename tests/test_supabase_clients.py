"""The official Supabase clients, unchanged, against the sandbox: supabase-py here, supabase-js through the Node
script tests/js/supabase_js_check.mjs (its JSON report asserted below).

Ground truth is what each test creates: prescriptions whose notes carry a fresh tag (so the counts are known),
ledger rows under a fresh run id. Accounts are seeded ones no other test uses (patients 60-69, doctors 7-8).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from postgrest.exceptions import APIError
from postgrest.types import CountMethod
from realtime import RealtimePostgresChangesListenEvent
from supabase import Client, acreate_client, create_client
from supabase_auth.errors import AuthApiError

from tests.app_harness import users_by_role

JS_DIR = Path(__file__).resolve().parent / "js"
EVENT_WAIT_S = 15.0


def _rows(response: Any) -> list[dict[str, Any]]:
    """A response's rows (the clients type ``data`` as any JSON)."""
    return cast(list[dict[str, Any]], response.data)


def _one(response: Any) -> dict[str, Any]:
    """A ``.single()`` response's object (the clients type ``data`` as any JSON)."""
    return cast(dict[str, Any], response.data)


def _account(sandbox: Any, role: str, index: int) -> dict[str, str]:
    return users_by_role(sandbox.credentials, role)[index]


def _signed_in(sandbox: Any, role: str, index: int) -> Client:
    client = create_client(sandbox.edge_url, sandbox.anon_key)
    user = _account(sandbox, role, index)
    client.auth.sign_in_with_password({"email": user["email"], "password": user["password"]})
    return client


@pytest.fixture
def patient(sandbox: Any) -> Iterator[Client]:
    client = _signed_in(sandbox, "patient", 60)
    yield client
    client.auth.sign_out()


@pytest.fixture
def doctor(sandbox: Any) -> Iterator[Client]:
    client = _signed_in(sandbox, "doctor", 7)
    yield client
    client.auth.sign_out()


@pytest.fixture
def service(sandbox: Any) -> Client:
    return create_client(sandbox.edge_url, sandbox.service_key)


@pytest.fixture
def tagged(sandbox: Any, patient: Client) -> dict[str, Any]:
    """Three prescriptions of the patient (quantities 1, 2, 3) for doctor 7, their notes starting with a fresh tag."""
    tag = f"compat-{uuid.uuid4().hex[:12]}"
    doctor_id = _account(sandbox, "doctor", 7)["user_id"]
    medication = patient.table("medications").select("id,price_cents").order("name").limit(1).single().execute()
    rows = [
        {"medication_id": _one(medication)["id"], "doctor_id": doctor_id, "quantity": q, "notes": f"{tag}-{q}"}
        for q in (1, 2, 3)
    ]
    created = patient.table("prescriptions").insert(rows).execute()
    return {"tag": tag, "rows": created.data, "price_cents": _one(medication)["price_cents"]}


def test_password_sign_in_refresh_and_sign_out(sandbox: Any) -> None:
    client = create_client(sandbox.edge_url, sandbox.anon_key)
    user = _account(sandbox, "patient", 61)
    signed_in = client.auth.sign_in_with_password({"email": user["email"], "password": user["password"]})
    assert signed_in.user is not None and signed_in.session is not None
    assert signed_in.user.id == user["user_id"] and signed_in.user.email == user["email"]
    current = client.auth.get_user()
    assert current is not None and current.user.id == user["user_id"]
    refreshed = client.auth.refresh_session()
    assert refreshed.session is not None
    assert refreshed.session.refresh_token != signed_in.session.refresh_token
    client.auth.sign_out()
    with pytest.raises(AuthApiError) as revoked:
        client.auth.refresh_session(refreshed.session.refresh_token)
    assert (revoked.value.status, revoked.value.code) == (400, "refresh_token_already_used")


def test_wrong_password_is_gotrues_invalid_credentials(sandbox: Any) -> None:
    client = create_client(sandbox.edge_url, sandbox.anon_key)
    user = _account(sandbox, "patient", 62)
    with pytest.raises(AuthApiError) as refused:
        client.auth.sign_in_with_password({"email": user["email"], "password": "not-the-password"})
    assert (refused.value.status, refused.value.code, refused.value.message) == (
        400, "invalid_credentials", "Invalid login credentials"
    )


def test_insert_returns_the_rows_and_select_filters_them(patient: Client, tagged: dict[str, Any]) -> None:
    assert sorted(row["quantity"] for row in tagged["rows"]) == [1, 2, 3]
    assert {row["status"] for row in tagged["rows"]} == {"requested"}
    found = (
        patient.table("prescriptions").select("id,quantity,notes").like("notes", f"{tagged['tag']}-*")
        .gte("quantity", 2).order("quantity", desc=True).execute()
    )
    assert [row["quantity"] for row in _rows(found)] == [3, 2]
    chosen = patient.table("prescriptions").select("id").in_("id", [tagged["rows"][0]["id"]]).execute()
    assert chosen.data == [{"id": tagged["rows"][0]["id"]}]


def test_single_and_maybe_single(patient: Client, tagged: dict[str, Any]) -> None:
    tag = tagged["tag"]
    one = patient.table("prescriptions").select("quantity").eq("notes", f"{tag}-2").single().execute()
    assert one.data == {"quantity": 2}
    with pytest.raises(APIError) as many:
        patient.table("prescriptions").select("id").like("notes", f"{tag}-*").single().execute()
    assert (many.value.code, many.value.message, many.value.details) == (
        "PGRST116", "JSON object requested, multiple (or no) rows returned", "The result contains 3 rows"
    )
    assert patient.table("prescriptions").select("id").eq("notes", f"{tag}-9").maybe_single().execute() is None
    maybe = patient.table("prescriptions").select("quantity").eq("notes", f"{tag}-3").maybe_single().execute()
    assert maybe is not None and _one(maybe) == {"quantity": 3}


def test_exact_count_on_select_head_and_range(patient: Client, tagged: dict[str, Any]) -> None:
    mine = patient.table("prescriptions").select("id", count=CountMethod.exact).like("notes", f"{tagged['tag']}-*")
    counted = mine.execute()
    assert (counted.count, len(counted.data)) == (3, 3)
    head = patient.table("prescriptions").select("id", count=CountMethod.exact, head=True)
    assert head.like("notes", f"{tagged['tag']}-*").execute().count == 3
    page = (
        patient.table("prescriptions").select("quantity", count=CountMethod.exact).like("notes", f"{tagged['tag']}-*")
        .order("quantity").range(1, 2).execute()
    )
    assert (page.count, page.data) == (3, [{"quantity": 2}, {"quantity": 3}])


def test_planned_and_estimated_counts_are_numbers(patient: Client, tagged: dict[str, Any]) -> None:
    for method in (CountMethod.planned, CountMethod.estimated):
        result = patient.table("prescriptions").select("id", count=method).like("notes", f"{tagged['tag']}-*").execute()
        assert isinstance(result.count, int) and result.count >= 0, method


def test_or_not_and_is_filters(patient: Client, tagged: dict[str, Any]) -> None:
    def quantities(query: Any) -> list[int]:
        return sorted(row["quantity"] for row in query.like("notes", f"{tagged['tag']}-*").execute().data)

    table = patient.table("prescriptions")
    assert quantities(table.select("quantity").or_("quantity.eq.1,quantity.eq.3")) == [1, 3]
    assert quantities(table.select("quantity").or_("and(quantity.gte.2,quantity.lte.2),notes.is.null")) == [2]
    assert quantities(table.select("quantity").not_.eq("quantity", 2)) == [1, 3]
    assert quantities(table.select("quantity").not_.in_("quantity", [1, 2])) == [3]
    assert quantities(table.select("quantity").is_("doctor_id", "null")) == []
    assert quantities(table.select("quantity").not_.is_("notes", "null")) == [1, 2, 3]


def test_update_with_select_returns_the_changed_row(
    patient: Client, doctor: Client, tagged: dict[str, Any]
) -> None:
    target = tagged["rows"][0]["id"]
    update = doctor.table("prescriptions").update({"status": "approved"}, count=CountMethod.exact)
    changed = update.eq("id", target).execute()
    assert changed.count == 1
    assert [(row["id"], row["status"]) for row in _rows(changed)] == [(target, "approved")]
    seen = patient.table("prescriptions").select("status").eq("id", target).single().execute()
    assert seen.data == {"status": "approved"}


def test_upsert_on_conflict_merges_or_ignores(service: Client) -> None:
    run_id = f"compat-{uuid.uuid4().hex[:12]}"
    ledger = service.table("probe_writes")
    first = ledger.upsert({"run_id": run_id, "seq": 1, "payload": "a"}, on_conflict="run_id,seq").execute()
    assert [(row["seq"], row["payload"]) for row in _rows(first)] == [(1, "a")]
    merged = ledger.upsert({"run_id": run_id, "seq": 1, "payload": "b"}, on_conflict="run_id,seq").execute()
    assert [row["payload"] for row in _rows(merged)] == ["b"]
    ignored = ledger.upsert(
        [{"run_id": run_id, "seq": 1, "payload": "c"}, {"run_id": run_id, "seq": 2, "payload": "d"}],
        on_conflict="run_id,seq", ignore_duplicates=True,
    ).execute()
    assert [(row["seq"], row["payload"]) for row in _rows(ignored)] == [(2, "d")]
    stored = ledger.select("seq,payload", count=CountMethod.exact).eq("run_id", run_id).order("seq").execute()
    assert (stored.count, stored.data) == (2, [{"seq": 1, "payload": "b"}, {"seq": 2, "payload": "d"}])


def test_postgrest_error_shape(patient: Client) -> None:
    with pytest.raises(APIError) as unknown:
        patient.table("prescriptions").select("no_such_column").execute()
    assert unknown.value.code == "42703" and "no_such_column" in (unknown.value.message or "")


def test_functions_invoke_creates_a_payment_intent(
    patient: Client, doctor: Client, tagged: dict[str, Any]
) -> None:
    row = tagged["rows"][2]
    doctor.table("prescriptions").update({"status": "approved"}).eq("id", row["id"]).execute()
    reply = patient.functions.invoke("create-payment-intent", {"body": {"prescription_id": row["id"]}})
    intent = json.loads(cast(bytes, reply))
    assert intent["amount"] == 3 * tagged["price_cents"]
    assert intent["payment_intent_id"]


def test_realtime_delivers_an_insert_by_another_account(sandbox: Any, patient: Client) -> None:
    doctor_user = _account(sandbox, "doctor", 8)
    medication_id = _one(patient.table("medications").select("id").limit(1).single().execute())["id"]
    note = f"compat-rt-{uuid.uuid4().hex[:12]}"

    async def scenario() -> dict[str, Any]:
        watcher = await acreate_client(sandbox.edge_url, sandbox.anon_key)
        await watcher.auth.sign_in_with_password({"email": doctor_user["email"], "password": doctor_user["password"]})
        received: asyncio.Queue[Any] = asyncio.Queue()
        subscribed = asyncio.Event()
        channel = watcher.channel("compat-doctor")
        channel.on_postgres_changes(
            RealtimePostgresChangesListenEvent.Insert, schema="public", table="prescriptions",
            filter=f"doctor_id=eq.{doctor_user['user_id']}", callback=lambda payload: received.put_nowait(payload),
        )
        await channel.subscribe(lambda state, _error: subscribed.set() if state.value == "SUBSCRIBED" else None)
        try:
            await asyncio.wait_for(subscribed.wait(), EVENT_WAIT_S)
            await asyncio.to_thread(
                lambda: patient.table("prescriptions").insert(
                    {"medication_id": medication_id, "doctor_id": doctor_user["user_id"], "notes": note}
                ).execute()
            )
            while True:
                payload = await asyncio.wait_for(received.get(), EVENT_WAIT_S)
                if payload["data"]["record"]["notes"] == note:
                    return payload
        finally:
            await watcher.remove_all_channels()
            await watcher.auth.sign_out()

    payload = asyncio.run(scenario())
    data = payload["data"]
    assert (data["schema"], data["table"], data["type"]) == ("public", "prescriptions", "INSERT")
    assert data["record"]["doctor_id"] == doctor_user["user_id"] and data["record"]["status"] == "requested"
    assert data["commit_timestamp"] and payload["ids"]


# ---- supabase-js ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def js_report(sandbox: Any) -> dict[str, Any]:
    """Run the supabase-js script once; each test below asserts one part of its JSON report."""
    node = shutil.which("node")
    if node is None or not (JS_DIR / "node_modules" / "@supabase" / "supabase-js").is_dir():
        pytest.fail("node and tests/js/node_modules are needed: run `make test` (it runs `npm ci --prefix tests/js`)")
    patient, other, doctor = (_account(sandbox, "patient", 63), _account(sandbox, "patient", 64),
                              _account(sandbox, "doctor", 8))
    env = {
        **os.environ,
        "SUPABASE_URL": sandbox.edge_url,
        "SUPABASE_ANON_KEY": sandbox.anon_key,
        "SUPABASE_SERVICE_KEY": sandbox.service_key,
        "PATIENT": json.dumps(patient),
        "DOCTOR": json.dumps(doctor),
        "OTHER_PATIENT": json.dumps(other),
    }
    done = subprocess.run([node, str(JS_DIR / "supabase_js_check.mjs")], env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-4000:]
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def test_js_auth(js_report: dict[str, Any], sandbox: Any) -> None:
    auth = js_report["auth"]
    assert auth["user_id"] == _account(sandbox, "patient", 63)["user_id"]
    assert auth["get_user_id"] == auth["user_id"]
    assert auth["refreshed_token_changed"] is True
    assert auth["sign_out_error"] is None
    assert auth["reuse_after_sign_out"] == {"status": 400, "code": "refresh_token_already_used"}
    assert auth["wrong_password"] == {"status": 400, "code": "invalid_credentials",
                                      "message": "Invalid login credentials"}


def test_js_select_filters_and_modifiers(js_report: dict[str, Any]) -> None:
    rest = js_report["rest"]
    assert rest["inserted_quantities"] == [1, 2, 3]
    assert rest["filtered_desc"] == [3, 2]
    assert rest["or_"] == [1, 3]
    assert rest["nested_or_and"] == [2]
    assert rest["not_eq"] == [1, 3]
    assert rest["is_null"] == []


def test_js_single_and_maybe_single(js_report: dict[str, Any]) -> None:
    rest = js_report["rest"]
    assert rest["single"] == {"quantity": 2}
    assert rest["single_many"] == {
        "status": 406, "code": "PGRST116", "message": "JSON object requested, multiple (or no) rows returned",
        "details": "The result contains 3 rows",
    }
    assert rest["maybe_single_none"] == {"data": None, "error": None}
    assert rest["maybe_single_one"] == {"quantity": 3}


def test_js_counts_head_and_range(js_report: dict[str, Any]) -> None:
    rest = js_report["rest"]
    assert rest["count_exact"] == {"count": 3, "rows": 3}
    assert rest["count_head"] == {"count": 3, "data": None, "status": 200}
    assert rest["range"] == {"count": 3, "quantities": [2, 3], "status": 206}


def test_js_update_upsert_and_errors(js_report: dict[str, Any]) -> None:
    rest = js_report["rest"]
    assert rest["update_select"] == {"status": "approved", "count": 1}
    assert rest["upsert_merge"] == ["b"]
    assert rest["upsert_ignore"] == [[2, "d"]]
    assert rest["ledger_after"] == [[1, "b"], [2, "d"]]
    assert rest["unknown_column"]["code"] == "42703"


def test_js_functions_invoke(js_report: dict[str, Any]) -> None:
    functions = js_report["functions"]
    assert functions["error"] is None
    assert functions["amount"] == 3 * functions["price_cents"]


def test_js_realtime_vsn2_delivers_an_insert_by_another_account(js_report: dict[str, Any], sandbox: Any) -> None:
    realtime = js_report["realtime"]
    assert realtime["vsn"] == "2.0.0"
    assert realtime["status"] == "SUBSCRIBED"
    assert realtime["eventType"] == "INSERT"
    assert realtime["new_doctor_id"] == _account(sandbox, "doctor", 8)["user_id"]
    assert realtime["new_notes_matches"] is True
