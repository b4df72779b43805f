"""User models that follow the platform API contract (docs/load.md lists each flow and its request names).

Every request goes through `PlatformUser.call`. Its session's CheckedRequestEvent (locustfiles.checked_event)
checks status *and* body before Locust's listeners hear of it, and the call names the request by its route template
(ids and search terms become `[id]`, `[term]`), so statistics stay one row per route. Locust gets the method as request
type and the template as name; the recorder stores "METHOD template".
"""

from __future__ import annotations

import json
import random
import time
from datetime import datetime
from functools import partial
from typing import Any, ClassVar
from urllib.parse import quote

import gevent
import websocket
from locust import FastHttpUser, tag
from locust.exception import StopUser

from locustfiles import runtime
from locustfiles.checked_event import CheckedRequestEvent
from locustfiles.checks import Check, fields, non_empty_str, positive_int, rows
from locustfiles.credentials import Credential, PoolExhausted
from locustfiles.pacing import TAKE_AHEAD_S

SEARCH_TERMS = ("amo", "met", "lis", "ator", "sim", "ome", "lev", "pre", "gab", "hyd", "ser", "tra", "xr", "er")
GOOD_CARD = "4242424242424242"
DECLINED_CARD = "4000000000000002"
TOKEN_REFRESH_SHARE = 0.8  # refresh when this share of the token's lifetime has passed
NOTIFICATION_TIMEOUT_S = 10.0
_TOKEN_NAME = "/auth/v1/token?grant_type="
_SLOT_POLL_S = TAKE_AHEAD_S / 2  # a user asking this often takes its slot before it is due


class PlatformUser(FastHttpUser):
    """Signs in once with a pooled login, keeps its token fresh, and calls the API with content checks."""

    abstract = True
    role = ""
    default_task_weights: ClassVar[dict[str, int]] = {}

    def __init__(self, environment: Any) -> None:
        # every call carries the anon key: as a session default it is built once, not per request
        self.default_headers = {"apikey": runtime.state().anon_key}
        super().__init__(environment)
        # the session reports each request through a CheckedRequestEvent, which checks status and body first, then
        # fires the environment's request event (locustfiles.checked_event)
        self._checked = self.client.request_event = CheckedRequestEvent(self.environment.events.request)
        self.credential: Credential | None = None
        self.user_id = ""
        self._access_token = ""
        self._refresh_token = ""
        self._refresh_at = 0.0
        self._slot: float | None = None
        self._lag_s: float | None = None

    # ----- life cycle ------------------------------------------------------------------------------------------
    def on_start(self) -> None:
        try:
            self.credential = runtime.state().pool.acquire(self.pool_role)
        except PoolExhausted as exc:
            runtime.state().note_problem(str(exc))
            raise StopUser() from exc
        self._sign_in()  # a failure is recorded; the user's next authorized call tries again

    def on_stop(self) -> None:
        if self.credential is not None:
            runtime.state().pool.release(self.credential)
            self.credential = None

    @property
    def pool_role(self) -> str:
        return self.role

    def context(self) -> dict[str, Any]:
        """Arrival mode: the lag of the current iteration, which the recorder adds to each latency."""
        if self._slot is None:
            return {}
        if self._lag_s is None:
            self._lag_s = runtime.state().schedule.note_start(self._slot, time.time())
        return {"rx_lag_s": self._lag_s}

    def paced_wait(self) -> float:
        """Arrival mode's wait_time: sleep until this user's next slot (0 when behind schedule). While the schedule
        is paused or its next slot is far off, ask again every _SLOT_POLL_S and run no iteration meanwhile."""
        schedule = runtime.state().schedule
        while (slot := schedule.take()) is None:
            gevent.sleep(_SLOT_POLL_S)
        self._slot, self._lag_s = slot, None
        return max(0.0, slot - time.time())

    # ----- auth ------------------------------------------------------------------------------------------------
    def _sign_in(self) -> bool:
        assert self.credential is not None
        body = self.call("POST", "/auth/v1/token?grant_type=password", f"{_TOKEN_NAME}password",
                         json={"email": self.credential.email, "password": self.credential.password},
                         check=_session_check(self.credential.role), authorized=False)
        return self._take_session(body)

    def _refresh(self) -> None:
        body = self.call("POST", "/auth/v1/token?grant_type=refresh_token", f"{_TOKEN_NAME}refresh_token",
                         json={"refresh_token": self._refresh_token}, check=_session_check(self.pool_role),
                         authorized=False)
        if not self._take_session(body):
            self._sign_in()

    def _take_session(self, body: Any) -> bool:
        if body is None:
            return False
        self._access_token = body["access_token"]
        self._refresh_token = body["refresh_token"]
        self.user_id = body["user"]["id"]
        lifetime = float(body["expires_in"])
        every = runtime.state().config.user_models.get(self.model_name(), {}).get("refresh_every_s")
        self._refresh_at = time.time() + (float(every) if every else lifetime * TOKEN_REFRESH_SHARE)
        return True

    @classmethod
    def model_name(cls) -> str:
        return cls.__name__.removesuffix("User").lower()

    # ----- requests --------------------------------------------------------------------------------------------
    def _auth_headers(self, prefer: str | None) -> dict[str, str]:
        """Headers of a signed-in call beyond the session's `apikey` (which every request carries)."""
        out = {"Authorization": f"Bearer {self._access_token}"}
        if prefer:
            out["Prefer"] = prefer
        return out

    def call(self, method: str, path: str, name: str, *, check: Check | None = None, expect: tuple[int, ...] = (200,),
             json: Any = None, authorized: bool = True, prefer: str | None = None,
             accept: dict[int, Check] | None = None) -> Any:
        """One request; returns the parsed body when status and content are right, else None (a failure).

        `accept` maps other statuses that are a correct answer here (a declined card, a lost race) to their check.
        """
        if authorized:
            if not self._access_token and not self._sign_in():
                return None
            if time.time() >= self._refresh_at and self._refresh_token:
                self._refresh_at = float("inf")
                self._refresh()
            headers: dict[str, str] | None = self._auth_headers(prefer)
        else:
            headers = {"Prefer": prefer} if prefer else None
        return self._send(method, path, name, (check, expect, accept), json, headers)

    def _send(self, method: str, path: str, name: str, expecting: tuple[Check | None, tuple[int, ...],
              dict[int, Check] | None], json: Any, headers: dict[str, str] | None) -> Any:
        """The request itself, positional only: no keywords to pack on the way (ProbeUser calls it directly)."""
        self._checked.expecting = expecting
        self.client.request(method, path, name=name, json=json, headers=headers)
        return self._checked.body


def _session_check(role: str) -> Check:
    return fields(access_token=non_empty_str, refresh_token=non_empty_str, expires_in=positive_int,
                  user=lambda u: isinstance(u, dict) and non_empty_str(u.get("id"))
                  and (u.get("app_metadata") or {}).get("rx_role") == role)


_ERROR_BODY = fields(code=non_empty_str, message=non_empty_str)


class PatientUser(PlatformUser):
    role = "patient"
    default_task_weights: ClassVar[dict[str, int]] = {"dashboard": 5, "search_medications": 4, "read_prescription": 2,
                            "request_renewal": 1, "pay_for_approved": 1}

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        self._seen_ids: list[str] = []
        self._medication_ids: list[str] = []

    def _mine(self, row: dict[str, Any]) -> bool:
        return row.get("patient_id") == self.user_id

    @tag("read")
    def dashboard(self) -> None:
        body = self.call("GET", "/rest/v1/prescriptions?select=*&order=created_at.desc&limit=20",
                         "/rest/v1/prescriptions?select=*&order=created_at.desc&limit=[n]",
                         check=rows(required=("id", "status", "patient_id"), where=self._mine,
                                    rule="patient sees own prescriptions only", at_most=20))
        if body:
            self._seen_ids = [row["id"] for row in body]

    @tag("read")
    def search_medications(self) -> None:
        term = random.choice(SEARCH_TERMS)
        body = self.call("GET", f"/rest/v1/medications?select=id,name,price_cents&name=ilike.*{quote(term)}*&limit=20",
                         "/rest/v1/medications?select=id,name,price_cents&name=ilike.[term]&limit=[n]",
                         check=rows(required=("id", "name", "price_cents"),
                                    where=lambda row: term in str(row["name"]).lower(),
                                    rule="name matches the search", at_most=20))
        if body:
            self._medication_ids = [row["id"] for row in body][:20]

    @tag("read")
    def read_prescription(self) -> None:
        if not self._seen_ids:
            self.dashboard()
            return
        rx_id = random.choice(self._seen_ids)
        self.call("GET", f"/rest/v1/prescriptions?id=eq.{rx_id}&select=*", "/rest/v1/prescriptions?id=eq.[id]&select=*",
                  check=rows(required=("id", "status"), where=lambda r: r["id"] == rx_id and self._mine(r),
                             rule="the requested prescription, owned by the patient", exactly=1))

    @tag("write")
    def request_renewal(self) -> None:
        if not self._medication_ids:
            self.search_medications()
            return
        self.renew(random.choice(self._medication_ids))

    def renew(self, medication_id: str) -> dict[str, Any] | None:
        body = self.call("POST", "/rest/v1/prescriptions", "/rest/v1/prescriptions", expect=(201,),
                         prefer="return=representation", json={"medication_id": medication_id, "quantity": 1},
                         check=rows(required=("id", "status", "patient_id"),
                                    where=lambda r: r["status"] == "requested" and self._mine(r),
                                    rule="a new requested prescription of the patient", exactly=1))
        return body[0] if body else None

    @tag("write", "payment")
    def pay_for_approved(self) -> None:
        approved = self.call("GET", "/rest/v1/prescriptions?status=eq.approved&select=id,status,patient_id&limit=5",
                             "/rest/v1/prescriptions?status=eq.[status]&select=id,status,patient_id&limit=[n]",
                             check=rows(required=("id", "status"),
                                        where=lambda r: r["status"] == "approved" and self._mine(r),
                                        rule="approved prescriptions of the patient", at_most=5))
        if not approved:
            return
        rx_id = random.choice(approved)["id"]
        intent = self.call("POST", "/functions/v1/create-payment-intent", "/functions/v1/create-payment-intent",
                           json={"prescription_id": rx_id},
                           check=fields(payment_intent_id=non_empty_str, amount=positive_int),
                           accept={409: _ERROR_BODY})  # paid meanwhile (a webhook won the race)
        if not intent or "payment_intent_id" not in intent:
            return
        declined = random.random() < runtime.state().config.user_models.get("patient", {}).get("decline_share", 0.1)
        self.call("POST", "/functions/v1/confirm-payment", "/functions/v1/confirm-payment",
                  json={"payment_intent_id": intent["payment_intent_id"],
                        "card_number": DECLINED_CARD if declined else GOOD_CARD},
                  check=fields(payment_intent_id=lambda v: v == intent["payment_intent_id"],
                               status=lambda s: s in ("succeeded", "processing")),
                  accept={402: fields(decline_code=non_empty_str)} if declined else None)


class DoctorUser(PlatformUser):
    role = "doctor"
    default_task_weights: ClassVar[dict[str, int]] = {"review_queue": 1}
    approve_share = 0.85

    def _assigned(self, row: dict[str, Any]) -> bool:
        return row.get("doctor_id") == self.user_id

    @tag("write")
    def review_queue(self) -> None:
        queue = self.call("GET", "/rest/v1/prescriptions?status=eq.requested&order=created_at.asc&limit=20",
                          "/rest/v1/prescriptions?status=eq.[status]&order=created_at.asc&limit=[n]",
                          check=rows(required=("id", "status", "doctor_id"),
                                     where=lambda r: r["status"] == "requested" and self._assigned(r),
                                     rule="requested prescriptions assigned to the doctor", at_most=20))
        if not queue:
            return
        rx_id = random.choice(queue)["id"]
        detail = self.call("GET", f"/rest/v1/prescriptions?id=eq.{rx_id}&select=*",
                           "/rest/v1/prescriptions?id=eq.[id]&select=*",
                           check=rows(required=("id", "status"), where=lambda r: r["id"] == rx_id and self._assigned(r),
                                      rule="the requested prescription, assigned to the doctor", exactly=1))
        if not detail:
            return
        decision = "approved" if random.random() < self.approve_share else "rejected"
        self.call("PATCH", f"/rest/v1/prescriptions?id=eq.{rx_id}", "/rest/v1/prescriptions?id=eq.[id]",
                  prefer="return=representation", json={"status": decision},
                  check=rows(required=("id", "status"), where=lambda r: r["id"] == rx_id and r["status"] == decision,
                             rule="the prescription now carries the decision", exactly=1))


class PharmacistUser(PlatformUser):
    role = "pharmacist"
    default_task_weights: ClassVar[dict[str, int]] = {"dispense": 1}

    @tag("write")
    def dispense(self) -> None:
        queue = self.call("GET", "/rest/v1/prescriptions?status=eq.paid&order=updated_at.asc&limit=20",
                          "/rest/v1/prescriptions?status=eq.[status]&order=updated_at.asc&limit=[n]",
                          check=rows(required=("id", "status"), where=lambda r: r["status"] == "paid",
                                     rule="paid prescriptions only", at_most=20))
        if not queue:
            return
        rx_id = random.choice(queue)["id"]
        # another pharmacist dispensed it first, a correct answer under concurrency: 409 or 404 from the sandbox, no
        # row (200 []) from PostgREST, where the row has left this pharmacist's view
        self.call("PATCH", f"/rest/v1/prescriptions?id=eq.{rx_id}", "/rest/v1/prescriptions?id=eq.[id]",
                  prefer="return=representation", json={"status": "dispensed"},
                  check=rows(required=("id", "status"), where=lambda r: r["id"] == rx_id and r["status"] == "dispensed",
                             rule="the prescription is now dispensed", at_most=1),
                  accept={409: _ERROR_BODY, 404: _ERROR_BODY})


class RealtimeUser(PatientUser):
    """Holds a Realtime websocket for its patient and times each change notification from its commit.

    Its task requests a renewal (a change it knows is coming) and expects the notification within
    NOTIFICATION_TIMEOUT_S; a missing one is recorded as a timeout of "WS realtime notification".
    """

    default_task_weights: ClassVar[dict[str, int]] = {"renew_and_listen": 1}
    notification_name = "realtime notification"

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        self._socket: websocket.WebSocket | None = None
        self._receiver: gevent.Greenlet | None = None
        self._expected: dict[str, float] = {}
        # A notification can arrive before the insert's HTTP response: remember it so it is not awaited again.
        self._arrived_early: set[str] = set()
        self._ref = 0

    @property
    def pool_role(self) -> str:
        return "patient"

    def on_start(self) -> None:
        super().on_start()
        if self._access_token:
            self._connect()

    def on_stop(self) -> None:
        self._disconnect()
        super().on_stop()

    def _disconnect(self) -> None:
        if self._receiver is not None:
            self._receiver.kill(block=False)
            self._receiver = None
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def _connect(self) -> bool:
        """Open the socket and join the patient's channel; a failure is recorded and retried next task."""
        base = self.host or runtime.state().config.base_url
        url = base.replace("http", "ws", 1) + f"/realtime/v1/websocket?apikey={runtime.state().anon_key}&vsn=1.0.0"
        started = time.perf_counter()
        try:
            self._socket = websocket.create_connection(url, timeout=runtime.state().config.request_timeout_s)
            self._socket.send(json.dumps(self._frame("phx_join", {
                "config": {"postgres_changes": [{"event": "*", "schema": "public", "table": "prescriptions",
                                                 "filter": f"patient_id=eq.{self.user_id}"}]},
                "access_token": self._access_token})))
            reply = json.loads(self._socket.recv())
            ok = reply.get("event") == "phx_reply" and reply.get("payload", {}).get("status") == "ok"
            error: Exception | None = None if ok else ValueError("join refused")
        except (OSError, websocket.WebSocketException, ValueError) as exc:
            error = exc
        self._fire("realtime join", (time.perf_counter() - started) * 1000, error)
        if error is not None:
            self._disconnect()
            return False
        self._receiver = gevent.spawn(self._receive)
        return True

    def _frame(self, event: str, payload: dict[str, Any]) -> dict[str, Any]:
        self._ref += 1
        return {"topic": f"realtime:rx-{self.user_id}", "event": event, "payload": payload, "ref": str(self._ref)}

    def _receive(self) -> None:
        sock = self._socket
        assert sock is not None
        sock.settimeout(None)
        while True:
            try:
                frame = json.loads(sock.recv())
            except (OSError, websocket.WebSocketException, ValueError):
                sock.close()
                if self._socket is sock:
                    self._socket = None  # lost: the next task reconnects
                return
            if frame.get("event") != "postgres_changes":
                continue
            received = time.time()
            data = frame.get("payload", {}).get("data", {})
            try:
                committed = datetime.fromisoformat(str(data.get("commit_timestamp"))).timestamp()
            except ValueError:
                self._fire(self.notification_name, 0.0, ValueError("notification without commit_timestamp"))
                continue
            # Realtime's wire fields (supabase-js derives eventType/new/old from them)
            row = data.get("record") or data.get("old_record") or {}
            row_id = str(row.get("id"))
            if self._expected.pop(row_id, None) is None and data.get("type") == "INSERT":
                self._arrived_early.add(row_id)
            self._fire(self.notification_name, max(0.0, received - committed) * 1000, None)

    def _fire(self, name: str, response_time_ms: float, exception: BaseException | None) -> None:
        # start_time as Locust means it: when the measured interval began (it ends now)
        self.environment.events.request.fire(request_type="WS", name=name, response_time=response_time_ms,
                                             response_length=0, exception=exception, context=self.context(),
                                             response=None, start_time=time.time() - response_time_ms / 1000)

    @tag("write", "realtime")
    def renew_and_listen(self) -> None:
        self._expire_overdue()
        if self._socket is None and not (self._access_token or self._sign_in()):
            return
        if self._socket is None and not self._connect():
            return
        if not self._medication_ids:
            self.search_medications()
            return
        created = self.renew(random.choice(self._medication_ids))
        if created and created["id"] not in self._arrived_early:
            self._expected[created["id"]] = time.time()
        self._arrived_early.clear()
        if self._ref % 5 == 0 and self._socket is not None:
            self._socket.send(json.dumps({"topic": "phoenix", "event": "heartbeat", "payload": {},
                                          "ref": str(self._ref)}))
        self._ref += 1

    def _expire_overdue(self) -> None:
        now = time.time()
        for rx_id, since in list(self._expected.items()):
            if now - since > NOTIFICATION_TIMEOUT_S:
                del self._expected[rx_id]
                self._fire(self.notification_name, (now - since) * 1000, TimeoutError("notification timed out"))


_ANY_ROWS = rows(required=())


class ProbeUser(PlatformUser):
    """One anonymous read per iteration (the public medication catalogue), no login: the simplest steady load.

    Used for arrival-rate measurements where one request per iteration keeps rate and requests/s equal, and for
    benchmarks; `users.probe.path` points it elsewhere (its body must still be a JSON array).
    """

    default_task_weights: ClassVar[dict[str, int]] = {"probe": 1}
    default_path = "/rest/v1/medications?select=id,name&limit=1"

    def on_start(self) -> None:
        path = runtime.state().config.user_models.get("probe", {}).get("path", self.default_path)
        name = path.split("?")[0] + ("?[probe]" if "?" in path else "")
        # bound once, positional only: the probe is the benchmarks' user, so its per-request path is the request
        self._probe = partial(self._send, "GET", path, name, (_ANY_ROWS, (200,), None), None, None)

    def on_stop(self) -> None:
        return

    @tag("read", "probe")
    def probe(self) -> None:
        self._probe()


USER_CLASSES: dict[str, type[PlatformUser]] = {
    "patient": PatientUser, "doctor": DoctorUser, "pharmacist": PharmacistUser, "realtime": RealtimeUser,
    "probe": ProbeUser,
}
