"""The checked request event: the verdict it writes into Locust's request event, for every kind of answer.

Driven with stand-in responses (status and body) and a stand-in request event; no Locust import here. The users'
Locust side (a real session firing through the checked event into Locust's statistics) runs in a child process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from locustfiles.checked_event import CheckedRequestEvent, WrongAnswer
from locustfiles.checks import fields, non_empty_str, rows
from rxcore.envvars import ANON_KEY

ROOT = Path(__file__).resolve().parent.parent


class _Response:
    def __init__(self, status: int, content: bytes | None = b"", broken: bool = False) -> None:
        self.status_code = status
        self._content = content
        self._broken = broken

    @property
    def content(self) -> bytes | None:
        if self._broken:
            raise ConnectionResetError(104, "Connection reset by peer")
        return self._content


@pytest.fixture
def fired() -> list[dict[str, Any]]:
    return []


class _RequestEvent:
    """Stands in for Locust's `events.request`: what the checked event fires through it."""

    def __init__(self, fired: list[dict[str, Any]]) -> None:
        self.fired = fired

    def fire(self, **meta: Any) -> None:
        self.fired.append(meta)


@pytest.fixture
def checked(fired: list[dict[str, Any]]) -> CheckedRequestEvent:
    return CheckedRequestEvent(_RequestEvent(fired))


def _fire(checked: CheckedRequestEvent, response: _Response, exception: Exception | None = None) -> None:
    """As FastHttpSession fires: Locust has set `exception` for an error status or a failed transfer."""
    checked.fire(request_type="GET", name="/x", response_time=1.0, response_length=0, response=response,
               exception=exception, context={}, start_time=1.0, url="http://127.0.0.1/x")


_ROWS = rows(required=("id",))


def test_a_right_answer_passes_on_without_exception_and_hands_back_the_body(checked: CheckedRequestEvent,
                                                                           fired: list[dict[str, Any]]) -> None:
    checked.expecting = (_ROWS, (200,), None)
    _fire(checked, _Response(200, b'[{"id": "a"}]'))
    assert fired[0]["exception"] is None
    assert checked.body == [{"id": "a"}]
    assert set(fired[0]) == {"request_type", "name", "response_time", "response_length", "response", "exception",
                             "context", "start_time", "url"}


@pytest.mark.parametrize(("response", "message"), [
    (_Response(200, b'[{"name": "a"}]'), "a row lacks one of id"),
    (_Response(200, b"<html>"), "body is not JSON"),
    (_Response(200, b'{"id": "a"}'), "body is not a JSON array"),
    (_Response(201, b'[{"id": "a"}]'), "unexpected HTTP 201"),
])
def test_a_wrong_answer_fails_with_what_is_wrong(checked: CheckedRequestEvent, fired: list[dict[str, Any]],
                                                 response: _Response, message: str) -> None:
    checked.expecting = (_ROWS, (200,), None)
    _fire(checked, response)
    assert isinstance(fired[0]["exception"], WrongAnswer)
    assert str(fired[0]["exception"]) == message
    assert checked.body is None


def test_an_accepted_error_status_is_a_right_answer_when_its_own_check_passes(
        checked: CheckedRequestEvent, fired: list[dict[str, Any]]) -> None:
    declined = fields(code=non_empty_str)
    checked.expecting = (_ROWS, (200,), {402: declined})
    _fire(checked, _Response(402, b'{"code": "card_declined"}'), exception=RuntimeError("HTTP 402"))
    _fire(checked, _Response(402, b'{"message": "no code"}'), exception=RuntimeError("HTTP 402"))
    assert fired[0]["exception"] is None and checked.body is None  # the body of the second, wrong, answer
    assert str(fired[1]["exception"]) == "field code is missing or wrong"


def test_an_unexpected_error_status_is_named(checked: CheckedRequestEvent, fired: list[dict[str, Any]]) -> None:
    checked.expecting = (_ROWS, (200,), {402: _ROWS})
    _fire(checked, _Response(503, b"down"), exception=RuntimeError("HTTP 503"))
    assert str(fired[0]["exception"]) == "unexpected HTTP 503"


def test_no_answer_or_a_broken_body_keeps_locusts_own_error(checked: CheckedRequestEvent,
                                                            fired: list[dict[str, Any]]) -> None:
    refused = ConnectionRefusedError(111, "Connection refused")
    reset = ConnectionResetError(104, "Connection reset by peer")
    checked.expecting = (_ROWS, (200,), {402: _ROWS})
    _fire(checked, _Response(0, None), exception=refused)
    _fire(checked, _Response(200, broken=True), exception=reset)
    _fire(checked, _Response(402, broken=True), exception=reset)
    assert [meta["exception"] for meta in fired] == [refused, reset, reset]


_THROUGH_LOCUST = """
import json, os, sys
import gevent
from gevent.pywsgi import WSGIServer
from locust.env import Environment
from locustfiles import runtime
from locustfiles.checks import rows
from locustfiles.config import LoadConfig
from locustfiles.users import PlatformUser

BODIES = {"/right": (b"200 OK", b'[{"id": "a"}]'), "/wrong": (b"200 OK", b'{"id": "a"}'),
          "/down": (b"503 Service Unavailable", b"down")}

def app(environ, start_response):
    status, body = BODIES[environ["PATH_INFO"]]
    start_response(status.decode(), [("Content-Type", "application/json")])
    return [body]

server = WSGIServer(("127.0.0.1", 0), app, log=None)
server.start()
url = f"http://127.0.0.1:{server.server_port}"

class ReaderUser(PlatformUser):
    host = url

environment = Environment(user_classes=[ReaderUser], host=url)
environment.create_local_runner()  # it connects Locust's statistics to the request event
runtime.init(environment, LoadConfig(base_url=url))
user = ReaderUser(environment)
late = []
environment.events.request.add_listener(lambda **meta: late.append(meta["name"]))  # after the user was built
bodies = [user.call("GET", path, path.strip("/"), check=rows(required=("id",)), authorized=False)
          for path in ("/right", "/wrong", "/down")]
errors = {e.name: e.error for e in environment.stats.errors.values()}
print(json.dumps({"bodies": bodies, "late": late,
                  "counts": {n: [environment.stats.get(n, "GET").num_requests,
                                 environment.stats.get(n, "GET").num_failures] for n in ("right", "wrong", "down")},
                  "errors": {n: repr(e) for n, e in sorted(errors.items())}}))
server.stop()
"""


def test_locusts_statistics_and_every_listener_hear_the_judged_request() -> None:
    # in a child: importing Locust monkey-patches the process; the key is what the session sends as `apikey`
    done = subprocess.run([sys.executable, "-c", _THROUGH_LOCUST], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, env={**os.environ, ANON_KEY: "test-key", "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["bodies"] == [[{"id": "a"}], None, None]
    assert seen["late"] == ["right", "wrong", "down"]
    assert seen["counts"] == {"right": [1, 0], "wrong": [1, 1], "down": [1, 1]}
    assert seen["errors"] == {"down": "WrongAnswer('unexpected HTTP 503')",
                              "wrong": "WrongAnswer('body is not a JSON array')"}
