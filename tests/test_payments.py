"""The Stripe-shaped payment stub, as a subprocess, with a webhook receiver in the test."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from sandbox.payments.webhooks import sign, verify
from tests.children import stop_child

ROOT = Path(__file__).resolve().parent.parent
SECRET_KEY = "sk_test_sandbox_0123456789"
WEBHOOK_SECRET = "whsec_test_secret_for_signatures"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Receiver:
    """Records webhook deliveries; answers 500 to the first `fail_first` of them, after `delay_s`."""

    url: str = ""
    fail_first: int = 0
    delay_s: float = 0.0
    requests: list[tuple[dict[str, str], bytes, int]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[tuple[dict[str, str], bytes, int]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.requests) >= count:
                    return list(self.requests)
            time.sleep(0.02)
        raise AssertionError(f"expected {count} webhook deliveries, got {len(self.requests)}")


@pytest.fixture(scope="module")
def _receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            time.sleep(state.delay_s)
            with state.lock:
                status = 500 if len(state.requests) < state.fail_first else 200
                state.requests.append(({k.lower(): v for k, v in self.headers.items()}, body, status))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/functions/v1/payment-webhook"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def receiver(_receiver: Receiver) -> Receiver:
    with _receiver.lock:
        _receiver.requests.clear()
        _receiver.fail_first = 0
        _receiver.delay_s = 0.0
    return _receiver


@dataclass
class Stub:
    url: str
    http: httpx.Client
    history_offset: int = 0

    def control(self, **switches: Any) -> dict[str, Any]:
        response = httpx.post(f"{self.url}/_control", json=switches)
        assert response.status_code == 200, response.text
        return response.json()

    def deliveries(self) -> list[dict[str, Any]]:
        """Webhook deliveries of the current test."""
        return httpx.get(f"{self.url}/_control/webhooks").json()["deliveries"][self.history_offset :]


def _start(
    receiver_url: str | None, *extra: str, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    environment = {**os.environ, "RXSUITE_PAYMENT_SECRET_KEY": SECRET_KEY, "RXSUITE_WEBHOOK_SECRET": WEBHOOK_SECRET}
    if receiver_url:
        environment["RXSUITE_WEBHOOK_URL"] = receiver_url
    environment.update(env or {})
    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox.payments", "--host", "127.0.0.1", "--port", str(port), *extra],
        cwd=ROOT,
        env=environment,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"payment stub exited with {process.returncode}")
        try:
            httpx.get(f"{url}/health", timeout=1)
            return process, url
        except httpx.HTTPError:
            time.sleep(0.05)
    stop_child(process)
    raise AssertionError("payment stub did not answer within 15 s")


@pytest.fixture(scope="module")
def _stub_url(_receiver: Receiver) -> Iterator[str]:
    """One stub process for the module; `stub` resets its switches around each test."""
    process, url = _start(_receiver.url, "--webhook-backoff", "0.05")
    try:
        yield url
    finally:
        stop_child(process)


@pytest.fixture
def stub(_stub_url: str, receiver: Receiver) -> Iterator[Stub]:
    httpx.post(f"{_stub_url}/_control/reset").raise_for_status()
    offset = len(httpx.get(f"{_stub_url}/_control/webhooks").json()["deliveries"])
    http = httpx.Client(base_url=_stub_url, headers={"Authorization": f"Bearer {SECRET_KEY}"}, timeout=10)
    try:
        yield Stub(_stub_url, http, offset)
    finally:
        http.close()
        httpx.post(f"{_stub_url}/_control/reset").raise_for_status()


def _create(stub: Stub, **params: str) -> dict[str, Any]:
    response = stub.http.post("/v1/payment_intents", data={"amount": "2500", "currency": "usd", **params})
    assert response.status_code == 200, response.text
    return response.json()


def _confirm_card(stub: Stub, intent_id: str, number: str) -> httpx.Response:
    data = {"payment_method_data[type]": "card", "payment_method_data[card][number]": number}
    return stub.http.post(f"/v1/payment_intents/{intent_id}/confirm", data=data)


# --- intents -----------------------------------------------------------------------------------------------
def test_create_returns_a_payment_intent(stub: Stub) -> None:
    intent = _create(stub, **{"metadata[prescription_id]": "rx-1", "description": "renewal"})
    assert intent["id"].startswith("pi_") and intent["object"] == "payment_intent"
    assert (intent["amount"], intent["currency"], intent["status"]) == (2500, "usd", "requires_payment_method")
    assert intent["client_secret"].startswith(f"{intent['id']}_secret_")
    assert intent["metadata"] == {"prescription_id": "rx-1"}
    assert intent["description"] == "renewal"
    assert abs(intent["created"] - time.time()) < 60


def test_retrieve_returns_the_same_intent(stub: Stub) -> None:
    intent = _create(stub)
    assert stub.http.get(f"/v1/payment_intents/{intent['id']}").json() == intent


def test_unknown_intent_is_404_resource_missing(stub: Stub) -> None:
    response = stub.http.get("/v1/payment_intents/pi_nope")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "resource_missing"


def test_missing_amount_is_400_naming_the_param(stub: Stub) -> None:
    response = stub.http.post("/v1/payment_intents", data={"currency": "usd"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["type"], error["code"], error["param"]) == ("invalid_request_error", "parameter_missing", "amount")


def test_unknown_parameter_is_400(stub: Stub) -> None:
    response = stub.http.post("/v1/payment_intents", data={"amount": "100", "currency": "usd", "colour": "red"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parameter_unknown"


def test_success_card_confirms_to_succeeded(stub: Stub) -> None:
    intent = _create(stub)
    response = _confirm_card(stub, intent["id"], "4242424242424242")
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["amount_received"]) == ("succeeded", 2500)
    assert body["payment_method"].startswith("pm_")


def test_test_payment_method_confirms_to_succeeded(stub: Stub) -> None:
    intent = _create(stub)
    response = stub.http.post(f"/v1/payment_intents/{intent['id']}/confirm", data={"payment_method": "pm_card_visa"})
    assert (response.status_code, response.json()["status"]) == (200, "succeeded")


def test_create_with_confirm_true_confirms_at_once(stub: Stub) -> None:
    intent = _create(stub, confirm="true", payment_method="pm_card_visa")
    assert intent["status"] == "succeeded"


def test_decline_card_answers_402_with_stripe_error(stub: Stub) -> None:
    intent = _create(stub)
    response = _confirm_card(stub, intent["id"], "4000000000000002")
    assert response.status_code == 402
    error = response.json()["error"]
    assert (error["type"], error["code"], error["decline_code"], error["message"]) == (
        "card_error",
        "card_declined",
        "generic_decline",
        "Your card was declined.",
    )
    assert error["payment_intent"]["id"] == intent["id"]
    assert error["payment_intent"]["status"] == "requires_payment_method"


def test_declined_intent_keeps_last_payment_error_and_can_be_retried(stub: Stub) -> None:
    intent = _create(stub)
    declined = stub.http.post(
        f"/v1/payment_intents/{intent['id']}/confirm", data={"payment_method": "pm_card_chargeDeclined"}
    )
    assert declined.status_code == 402
    stored = stub.http.get(f"/v1/payment_intents/{intent['id']}").json()
    assert stored["status"] == "requires_payment_method"
    assert stored["last_payment_error"]["decline_code"] == "generic_decline"
    assert _confirm_card(stub, intent["id"], "4242424242424242").json()["status"] == "succeeded"


def test_unknown_card_number_is_invalid_request(stub: Stub) -> None:
    intent = _create(stub)
    response = _confirm_card(stub, intent["id"], "1234123412341234")
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["type"], error["param"]) == ("invalid_request_error", "payment_method_data[card][number]")


def test_confirming_a_succeeded_intent_is_unexpected_state(stub: Stub) -> None:
    intent = _create(stub, confirm="true", payment_method="pm_card_visa")
    response = stub.http.post(f"/v1/payment_intents/{intent['id']}/confirm", data={"payment_method": "pm_card_visa"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "payment_intent_unexpected_state"


def test_cancel_moves_the_intent_to_canceled(stub: Stub) -> None:
    intent = _create(stub)
    response = stub.http.post(f"/v1/payment_intents/{intent['id']}/cancel")
    assert (response.status_code, response.json()["status"]) == (200, "canceled")


# --- authentication ----------------------------------------------------------------------------------------
def test_missing_api_key_is_401(stub: Stub) -> None:
    response = httpx.post(f"{stub.url}/v1/payment_intents", data={"amount": "100", "currency": "usd"})
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert "API key" in response.json()["error"]["message"]


def test_wrong_api_key_is_401_without_echoing_the_key(stub: Stub) -> None:
    wrong = "sk_test_not_the_right_key_9999"
    response = httpx.get(f"{stub.url}/v1/payment_intents/pi_x", headers={"Authorization": f"Bearer {wrong}"})
    assert response.status_code == 401
    assert response.json()["error"]["message"].startswith("Invalid API Key provided")
    assert wrong not in response.text


# --- idempotency -------------------------------------------------------------------------------------------
def test_idempotency_key_replays_the_first_response(stub: Stub) -> None:
    data = {"amount": "900", "currency": "eur"}
    headers = {"Idempotency-Key": "order-42"}
    first = stub.http.post("/v1/payment_intents", data=data, headers=headers)
    second = stub.http.post("/v1/payment_intents", data=data, headers=headers)
    assert second.json() == first.json()
    assert second.headers["Idempotent-Replayed"] == "true"


def test_idempotency_key_replays_a_decline_without_charging_again(stub: Stub, receiver: Receiver) -> None:
    intent = _create(stub)
    path = f"/v1/payment_intents/{intent['id']}/confirm"
    headers = {"Idempotency-Key": "confirm-1"}
    first = stub.http.post(path, data={"payment_method": "pm_card_chargeDeclined"}, headers=headers)
    second = stub.http.post(path, data={"payment_method": "pm_card_chargeDeclined"}, headers=headers)
    assert (first.status_code, second.status_code) == (402, 402)
    assert second.json() == first.json()
    receiver.wait_for(1)
    time.sleep(0.3)
    assert len(receiver.requests) == 1  # one event: the replay did not confirm again


def test_idempotency_key_reused_with_other_params_is_400(stub: Stub) -> None:
    headers = {"Idempotency-Key": "order-43"}
    stub.http.post("/v1/payment_intents", data={"amount": "900", "currency": "eur"}, headers=headers)
    response = stub.http.post("/v1/payment_intents", data={"amount": "901", "currency": "eur"}, headers=headers)
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "idempotency_error"


# --- chaos switches ----------------------------------------------------------------------------------------
def test_outage_answers_503_api_error(stub: Stub) -> None:
    stub.control(outage=True)
    response = stub.http.post("/v1/payment_intents", data={"amount": "100", "currency": "usd"})
    assert (response.status_code, response.json()["error"]["type"]) == (503, "api_error")


def test_outage_refuse_mode_cuts_the_connection(stub: Stub) -> None:
    stub.control(outage=True, outage_mode="refuse")
    with pytest.raises(httpx.TransportError):
        stub.http.get("/v1/payment_intents/pi_x")


def test_control_reset_ends_the_outage(stub: Stub) -> None:
    stub.control(outage=True, latency_ms=50, webhooks=False)
    reset = httpx.post(f"{stub.url}/_control/reset").json()
    assert reset == {"outage": False, "outage_mode": "error", "latency_ms": 0, "webhooks": True}
    assert stub.http.post("/v1/payment_intents", data={"amount": "100", "currency": "usd"}).status_code == 200


def test_latency_switch_delays_responses(stub: Stub) -> None:
    stub.control(latency_ms=300)
    started = time.perf_counter()
    _create(stub)
    assert 0.3 <= time.perf_counter() - started < 0.3 + 1.0


def test_bad_control_body_is_400_naming_the_switch(stub: Stub) -> None:
    response = httpx.post(f"{stub.url}/_control", json={"latency_ms": "slow"})
    assert response.status_code == 400
    assert "latency_ms" in response.json()["error"]


# --- webhooks ----------------------------------------------------------------------------------------------
def test_confirm_sends_a_signed_succeeded_event(stub: Stub, receiver: Receiver) -> None:
    intent = _create(stub, **{"metadata[prescription_id]": "rx-7"})
    _confirm_card(stub, intent["id"], "4242424242424242")
    headers, body, _ = receiver.wait_for(1)[0]
    timestamp, signature = (part.split("=", 1)[1] for part in headers["stripe-signature"].split(","))
    expected = hmac.new(WEBHOOK_SECRET.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(signature, expected)
    assert abs(int(timestamp) - time.time()) < 60
    event = json.loads(body)
    assert event["id"].startswith("evt_") and event["object"] == "event"
    assert event["type"] == "payment_intent.succeeded"
    assert event["data"]["object"]["id"] == intent["id"]
    assert event["data"]["object"]["metadata"] == {"prescription_id": "rx-7"}


def test_decline_sends_a_payment_failed_event(stub: Stub, receiver: Receiver) -> None:
    intent = _create(stub)
    _confirm_card(stub, intent["id"], "4000000000000002")
    event = json.loads(receiver.wait_for(1)[0][1])
    assert event["type"] == "payment_intent.payment_failed"
    assert event["data"]["object"]["last_payment_error"]["code"] == "card_declined"


def test_webhook_is_retried_until_the_receiver_accepts(stub: Stub, receiver: Receiver) -> None:
    receiver.fail_first = 2
    intent = _create(stub, confirm="true", payment_method="pm_card_visa")
    requests = receiver.wait_for(3)
    assert [status for _, _, status in requests] == [500, 500, 200]
    assert {json.loads(body)["data"]["object"]["id"] for _, body, _ in requests} == {intent["id"]}
    time.sleep(0.2)
    assert [(d["status"], d["attempts"]) for d in stub.deliveries()] == [("delivered", 3)]


def test_webhook_retries_are_bounded(stub: Stub, receiver: Receiver) -> None:
    receiver.fail_first = 100
    _create(stub, confirm="true", payment_method="pm_card_visa")
    receiver.wait_for(4)
    deadline = time.monotonic() + 10
    while stub.deliveries()[0]["status"] == "pending" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (stub.deliveries()[0]["status"], stub.deliveries()[0]["attempts"]) == ("failed", 4)
    assert len(receiver.requests) == 4


def test_slow_receiver_does_not_block_confirm(stub: Stub, receiver: Receiver) -> None:
    receiver.delay_s = 2.0
    intent = _create(stub)
    started = time.perf_counter()
    assert _confirm_card(stub, intent["id"], "4242424242424242").status_code == 200
    assert time.perf_counter() - started < 1.5
    receiver.wait_for(1)


def test_webhooks_switch_off_suppresses_delivery(stub: Stub, receiver: Receiver) -> None:
    stub.control(webhooks=False)
    _create(stub, confirm="true", payment_method="pm_card_visa")
    time.sleep(0.3)
    assert receiver.requests == []
    assert stub.deliveries()[0]["status"] == "suppressed"


# --- bounds and command line -------------------------------------------------------------------------------
def test_oldest_intents_are_dropped_beyond_the_cap() -> None:
    process, url = _start(None, "--max-intents", "2")
    try:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {SECRET_KEY}"}) as http:
            ids = [
                http.post("/v1/payment_intents", data={"amount": "100", "currency": "usd"}).json()["id"]
                for _ in range(3)
            ]
            assert [http.get(f"/v1/payment_intents/{i}").status_code for i in ids] == [404, 200, 200]
    finally:
        stop_child(process)


def test_missing_secret_key_exits_2_naming_the_variable() -> None:
    env = {k: v for k, v in os.environ.items() if k != "RXSUITE_PAYMENT_SECRET_KEY"}
    result = subprocess.run(
        [sys.executable, "-m", "sandbox.payments", "--port", str(_free_port())],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "RXSUITE_PAYMENT_SECRET_KEY" in result.stderr


# --- signature helpers (used by webhook receivers) ---------------------------------------------------------
def test_verify_accepts_a_fresh_valid_signature() -> None:
    payload = b'{"id": "evt_1"}'
    assert verify(payload, sign(payload, WEBHOOK_SECRET, int(time.time())), WEBHOOK_SECRET)


def test_verify_rejects_a_tampered_payload() -> None:
    header = sign(b'{"amount": 100}', WEBHOOK_SECRET, int(time.time()))
    assert not verify(b'{"amount": 999}', header, WEBHOOK_SECRET)


def test_verify_rejects_an_old_timestamp() -> None:
    payload = b"{}"
    assert not verify(payload, sign(payload, WEBHOOK_SECRET, int(time.time()) - 3600), WEBHOOK_SECRET)
