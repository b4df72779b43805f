"""The API checks, as a synthetic patient sees the platform: sign in, read their prescription list, a renewal
round trip (request one, read it back) and the Realtime notification of that renewal.

One write per round (the renewal, a `requested` prescription of the monitor's own synthetic patient); the rest
reads. Each check is timed on its own and a failure carries the response's status and a body excerpt, which the
caller keeps as evidence (redacted). A check that cannot run because an earlier one failed (no session, no
renewal to wait for) fails with that reason: the user could not do it either.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import websocket

from rxcore.credentials import Credential
from rxcore.supabase_api import api_headers

__all__ = ["API_CHECKS", "NOT_REACHED", "ApiTarget", "CheckOutcome", "run_api_checks"]

SIGN_IN, PATIENT_LIST, RENEWAL, REALTIME = "api.sign-in", "api.patient-list", "api.renewal", "api.realtime"
API_CHECKS = (SIGN_IN, PATIENT_LIST, RENEWAL, REALTIME)
EXCERPT_CHARS = 500
NOT_REACHED = "not reached"  # the detail of a check an earlier failure kept from running (no evidence of its own)


@dataclass(frozen=True)
class ApiTarget:
    base_url: str
    anon_key: str
    patient: Credential
    timeout_s: float


@dataclass(frozen=True)
class CheckOutcome:
    """One check's result before it is recorded; `response` (status, headers, body excerpt) when it failed."""

    check: str
    started_at: float
    duration_s: float
    ok: bool
    detail: str = ""
    response: dict[str, Any] | None = None


class _Failed(Exception):
    def __init__(self, detail: str, response: httpx.Response | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.response = response


def run_api_checks(target: ApiTarget, stop: threading.Event,
                   before_check: Callable[[], None] = lambda: None) -> list[CheckOutcome]:
    """One round of the API checks in order; stops between checks once `stop` is set (the check in progress
    finishes, bounded by the target's timeout). `before_check` runs before each check (the rate cap)."""
    outcomes: list[CheckOutcome] = []
    with httpx.Client(base_url=target.base_url, timeout=target.timeout_s) as client:
        round_ = _Round(target, client)
        try:
            for name, step in ((SIGN_IN, round_.sign_in), (PATIENT_LIST, round_.patient_list),
                               (RENEWAL, round_.renewal), (REALTIME, round_.realtime)):
                if stop.is_set():
                    break
                before_check()
                outcomes.append(_timed(name, step))
        finally:
            round_.close()
    return outcomes


def _timed(name: str, step: Callable[[], None]) -> CheckOutcome:
    started_at, clock = time.time(), time.perf_counter()
    try:
        step()
    except _Failed as exc:
        return CheckOutcome(name, started_at, time.perf_counter() - clock, False, exc.detail,
                            _response_excerpt(exc.response))
    except httpx.TimeoutException:
        return CheckOutcome(name, started_at, time.perf_counter() - clock, False, "timeout")
    except (httpx.HTTPError, OSError, websocket.WebSocketException) as exc:
        return CheckOutcome(name, started_at, time.perf_counter() - clock, False,
                            f"connection error: {type(exc).__name__}")
    except (KeyError, IndexError, TypeError, AttributeError, ValueError) as exc:  # JSON of an unexpected shape
        return CheckOutcome(name, started_at, time.perf_counter() - clock, False,
                            f"unexpected answer: {type(exc).__name__}: {exc}"[:300])
    return CheckOutcome(name, started_at, time.perf_counter() - clock, True)


def _response_excerpt(response: httpx.Response | None) -> dict[str, Any] | None:
    if response is None:
        return None
    return {"status": response.status_code, "url": str(response.request.url.copy_with(query=None)),
            "content_type": response.headers.get("content-type", ""), "body": response.text[:EXCERPT_CHARS]}


class _Round:
    """The state one round carries from check to check: the session, a medication to renew, the socket."""

    def __init__(self, target: ApiTarget, client: httpx.Client) -> None:
        self.target = target
        self.client = client
        self.token: str | None = None
        self.user_id = target.patient.user_id
        self.medication_id: str | None = None
        self.renewed: tuple[str, float] | None = None  # the new prescription's id, when it was sent
        self.socket: websocket.WebSocket | None = None

    def close(self) -> None:
        if self.socket is not None:
            self.socket.close()

    def _headers(self, **extra: str) -> dict[str, str]:
        if self.token is None:
            raise _Failed(f"{NOT_REACHED}: no session (sign-in failed)")
        return {**api_headers(self.target.anon_key, self.token), **extra}

    def sign_in(self) -> None:
        patient = self.target.patient
        response = self.client.post("/auth/v1/token", params={"grant_type": "password"},
                                    headers={"apikey": self.target.anon_key},
                                    json={"email": patient.email, "password": patient.password})
        body = _json(response, 200, "sign-in")
        if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
            raise _Failed("sign-in answered without an access_token", response)
        self.token = body["access_token"]
        self.user_id = self.user_id or str((body.get("user") or {}).get("id") or "")

    def patient_list(self) -> None:
        response = self.client.get("/rest/v1/prescriptions", headers=self._headers(), params={
            "select": "id,status,patient_id,medication_id", "order": "created_at.desc", "limit": "20"})
        rows = _json(response, 200, "patient list")
        if not isinstance(rows, list) or any(row.get("patient_id") != self.user_id for row in rows):
            raise _Failed("the list holds rows that are not the patient's own", response)
        if rows:
            self.medication_id = str(rows[0]["medication_id"])

    def renewal(self) -> None:
        headers = self._headers()
        if self.medication_id is None:
            found = _json(self.client.get("/rest/v1/medications", headers=headers,
                                          params={"select": "id", "limit": "1"}), 200, "medication lookup")
            if not found:
                raise _Failed("no medication to renew")
            self.medication_id = str(found[0]["id"])
        self._listen()
        sent = time.time()
        response = self.client.post("/rest/v1/prescriptions", headers={**headers, "Prefer": "return=representation"},
                                    json={"medication_id": self.medication_id, "quantity": 1})
        created = _json(response, 201, "renewal request")
        if not (isinstance(created, list) and len(created) == 1 and created[0].get("status") == "requested"):
            raise _Failed("the renewal was not created as a requested prescription", response)
        rx_id = str(created[0]["id"])
        self.renewed = (rx_id, sent)
        back = self.client.get("/rest/v1/prescriptions", headers=headers,
                               params={"id": f"eq.{rx_id}", "select": "id,status"})
        rows = _json(back, 200, "renewal read-back")
        if not (isinstance(rows, list) and len(rows) == 1 and rows[0].get("status") == "requested"):
            raise _Failed("the new renewal does not read back", back)

    def _listen(self) -> None:
        """Join the patient's Realtime channel before the renewal, so its notification cannot be missed; a socket
        that cannot be opened is the Realtime check's failure, not the renewal's."""
        url = self.target.base_url.replace("http", "ws", 1) + \
            f"/realtime/v1/websocket?apikey={self.target.anon_key}&vsn=1.0.0"
        try:
            sock = websocket.create_connection(url, timeout=self.target.timeout_s)
            sock.send(json.dumps({"topic": f"realtime:rx-{self.user_id}", "event": "phx_join", "ref": "1", "payload": {
                "config": {"postgres_changes": [{"event": "INSERT", "schema": "public", "table": "prescriptions",
                                                 "filter": f"patient_id=eq.{self.user_id}"}]},
                "access_token": self.token}}))
            reply = json.loads(sock.recv())
        except (OSError, websocket.WebSocketException, ValueError):
            return
        if reply.get("event") == "phx_reply" and reply.get("payload", {}).get("status") == "ok":
            self.socket = sock
        else:
            sock.close()

    def realtime(self) -> None:
        if self.renewed is None:
            raise _Failed(f"{NOT_REACHED}: no renewal to be notified of")
        if self.socket is None:
            raise _Failed("the Realtime channel could not be joined")
        rx_id, sent = self.renewed
        deadline = sent + self.target.timeout_s
        while (left := deadline - time.time()) > 0:
            self.socket.settimeout(left)
            try:
                frame = json.loads(self.socket.recv())
            except websocket.WebSocketTimeoutException:
                break
            data = frame.get("payload", {}).get("data", {}) if frame.get("event") == "postgres_changes" else {}
            if str((data.get("record") or data.get("new") or {}).get("id")) == rx_id:
                return
        raise _Failed(f"no notification of the renewal within {self.target.timeout_s:g} s")


def _json(response: httpx.Response, expected: int, what: str) -> Any:
    if response.status_code != expected:
        raise _Failed(f"{what}: HTTP {response.status_code}", response)
    try:
        return response.json()
    except ValueError:
        raise _Failed(f"{what}: the answer is not JSON", response) from None
